"""Vectorised helpers to grow child rows (loans, months, instalments) from parent rows."""
from __future__ import annotations

import numpy as np


def expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For per-parent row counts, the parent index and the 0-based position of every child row."""
    counts = np.asarray(counts, dtype=np.int64)
    parent = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    position = np.arange(parent.size) - np.repeat(starts, counts)
    return parent, position


def logistic(x: np.ndarray) -> np.ndarray:
    """Logistic function, 1 / (1 + exp(-x))."""
    return 1.0 / (1.0 + np.exp(-x))
