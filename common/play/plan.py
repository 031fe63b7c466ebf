"""A competition's play as its registry hook returns it (``Competition.play``), and where plays live."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from common.play.steps import Step


@dataclass
class Plan:
    """A competition's play: its steps in order of priority, the post-processing of its submissions, the folds,
    the seconds kept for the tail (blend, picks, report) and the smallest budget worth starting."""
    steps: list[Step]
    post: list[str] = field(default_factory=list)
    n_splits: int = 5
    tail_s: float = 30.0
    blend_method: str = "hill"


def plays_root() -> Path:
    """Where plays live: ``$KIT_PLAYS_ROOT`` or ``plays/``."""
    return Path(os.environ.get("KIT_PLAYS_ROOT", "plays"))
