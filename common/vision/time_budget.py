"""A session's time budget (``--time-limit MINUTES``): does the next epoch still end before the limit?

The limit counts from when the training starts (``train_folds``). Before each epoch the budget compares the
time left with the longest epoch seen so far in this process (training and validation), plus, before a fold's
last epoch, the fold's predictions (estimated from the validation time). The first epoch of a process always
runs: there is nothing to estimate it from.
"""
from __future__ import annotations

import time
from typing import Callable


class TimeLimitReached(Exception):
    """Training stopped before fold ``fold``'s epoch ``epoch``: it would have ended past ``--time-limit``."""

    def __init__(self, fold: int, epoch: int, seconds_left: float, epoch_seconds: float):
        super().__init__(f"fold {fold} epoch {epoch} would end past the time limit")
        self.fold, self.epoch, self.seconds_left, self.epoch_seconds = fold, epoch, seconds_left, epoch_seconds


class TimeBudget:
    def __init__(self, minutes: float | None, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.deadline = None if minutes is None else clock() + minutes * 60
        self.epoch_seconds = 0.0

    def record_epoch(self, seconds: float) -> None:
        self.epoch_seconds = max(self.epoch_seconds, seconds)

    def seconds_left(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - self.clock()

    def fits(self, extra_seconds: float = 0.0) -> bool:
        """Whether one more epoch (and ``extra_seconds`` after it) ends before the limit."""
        if self.deadline is None or not self.epoch_seconds:
            return True
        return self.epoch_seconds + extra_seconds <= self.seconds_left()
