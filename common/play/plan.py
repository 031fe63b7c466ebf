"""A competition's play as its registry hook returns it (``Competition.play``), and where plays live."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from common.play.steps import Step


@dataclass
class Plan:
    """A competition's play: its steps in order of priority, the post-processing of its submissions, the folds,
    the seconds kept for the tail (blend, picks, report) and the blend methods the tail tries (the one with the best
    nested CV is compared with the best run)."""
    steps: list[Step]
    post: list[str] = field(default_factory=list)
    n_splits: int = 5
    tail_s: float = 30.0
    # Caruana's hill climbing, and the plain rank mean: learned weights lose 0.001-0.0015 nested-CV AUC to the mean
    # on Home Credit's plays (docs/results.md, "Blend methods"), where a run of wrong scores needs the hill's zero.
    blend_methods: tuple[str, ...] = ("hill", "rank")

    def __post_init__(self):
        from common.ensemble.methods import BLENDERS
        unknown = [m for m in self.blend_methods if m not in BLENDERS]
        if not self.blend_methods or unknown:
            raise ValueError(f"a plan's blend methods are some of {sorted(BLENDERS)}: {list(self.blend_methods)}")
        names = [s.name for s in self.steps]
        if len(set(names)) != len(names):
            raise ValueError(f"a plan's step names must differ: {names}")
        for i, step in enumerate(self.steps):
            later = [name for name in step.after if name not in names[:i]]
            if later:  # else lanes could wait on each other for ever
                raise ValueError(f"step {step.name!r} comes after {later[0]!r}, which is not an earlier step")
            if getattr(step, "other_than", "") and step.other_than not in names[:i]:
                raise ValueError(f"step {step.name!r} leaves out the base of {step.other_than!r}, which is not an "
                                 "earlier step")
            if step.then and step.then not in names[i + 1:]:
                raise ValueError(f"step {step.name!r} leaves time for {step.then!r}, which is not a later step")


def plays_root() -> Path:
    """Where plays live: ``$KIT_PLAYS_ROOT`` or ``plays/``."""
    return Path(os.environ.get("KIT_PLAYS_ROOT", "plays"))
