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

    def __post_init__(self):
        names = [s.name for s in self.steps]
        if len(set(names)) != len(names):
            raise ValueError(f"a plan's step names must differ: {names}")
        for i, step in enumerate(self.steps):
            later = [name for name in step.after if name not in names[:i]]
            if later:  # else lanes could wait on each other for ever
                raise ValueError(f"step {step.name!r} comes after {later[0]!r}, which is not an earlier step")
            if step.then and step.then not in names[i + 1:]:
                raise ValueError(f"step {step.name!r} leaves time for {step.then!r}, which is not a later step")


def plays_root() -> Path:
    """Where plays live: ``$KIT_PLAYS_ROOT`` or ``plays/``."""
    return Path(os.environ.get("KIT_PLAYS_ROOT", "plays"))
