"""Pseudo-labelling, fold-safe: confident test predictions of a finished run join a second round's training.

Round-2 fold k learns from the test images that round-1 **fold k's** model labelled (``<source>/fold<k>/test.csv``,
a model trained without fold k's rows), never from the fold-averaged ``test.csv``, whose other folds' models
saw fold k's validation images: so a fold's validation rows never learn from predictions that saw them.
Test images with ``p >= threshold`` become defects (1), those with ``p <= 1 - threshold`` good (0): hard labels,
with sample weight ``weight``. Pseudo rows are training-only: their fold number is :data:`PSEUDO_FOLD` (-1,
never a validation fold), so OOF/test predictions and the run contract are unchanged. The source's files are
read by ``common.pseudo``, shared with the tabular engines.

    pseudo = read_pseudo_labels(source_run, fold, data.test_ids, threshold)
    fold_data, fold_of = with_pseudo_labels(data, fold_of_row, pseudo, weight)
    train_folds(cfg, fold_data, fold_of, [fold], run, d, ...)

The training images are not copied: :class:`StackedImages` serves the train rows, then the selected test rows.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from common.errors import BadInput
from common.pseudo import read_source_fold

DEFAULT_THRESHOLD = 0.95   # --pseudo-threshold
PSEUDO_FOLD = -1   # the fold number of pseudo-labelled rows: never validated


class StackedImages:
    """A read-only ``(N + M, H, W)`` array view: rows ``0..N-1`` are ``first``'s, rows ``N..`` are
    ``second[second_rows]``; neither array is copied (a memmap stays a memmap)."""

    def __init__(self, first: np.ndarray, second: np.ndarray, second_rows: np.ndarray):
        if tuple(first.shape[1:]) != tuple(second.shape[1:]):
            raise BadInput(f"image shapes differ: {tuple(first.shape[1:])} vs {tuple(second.shape[1:])}")
        self.first, self.second = first, second
        self.second_rows = np.asarray(second_rows, dtype=np.int64)
        self.n_first = len(first)
        self.shape = (self.n_first + len(self.second_rows), *first.shape[1:])
        self.dtype = first.dtype
        self.ndim = len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def _one(self, i: int) -> np.ndarray:
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"row {i} outside 0..{len(self) - 1}")
        return self.first[i] if i < self.n_first else self.second[self.second_rows[i - self.n_first]]

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)):
            return self._one(int(index))
        rows = np.arange(len(self))[index] if isinstance(index, slice) else np.asarray(index)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        return np.stack([np.asarray(self._one(int(i))) for i in rows.ravel()]).reshape(
            *rows.shape, *self.shape[1:]) if rows.size else np.empty((0, *self.shape[1:]), self.dtype)

    def __array__(self, dtype=None, copy=None):
        out = self[np.arange(len(self))]
        return out.astype(dtype) if dtype is not None else out


@dataclass
class PseudoLabels:
    """The test images one source fold labelled confidently."""
    fold: int
    source: Path            # the source fold's test.csv
    ids: np.ndarray         # test ids, in data.test_ids order
    rows: np.ndarray        # their rows in data.test_images
    labels: np.ndarray      # 0/1 (float32)
    probs: np.ndarray       # the source fold's probability
    n_test: int             # test images the source fold predicted

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({"id": self.ids, "label": self.labels.astype(int), "prob": self.probs})

    def summary(self) -> dict:
        return {"source": str(self.source), "rows": int(len(self.ids)), "defects": int(self.labels.sum()),
                "good": int(len(self.ids) - self.labels.sum()), "n_test": int(self.n_test)}


def select_confident(pred: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose probability is ``>= threshold`` (label 1) or ``<= 1 - threshold`` (label 0), and their labels."""
    if not 0.5 < threshold <= 1:
        raise BadInput(f"pseudo-label threshold must be in (0.5, 1], got {threshold}")
    pred = np.asarray(pred, np.float64)
    defect, good = pred >= threshold, pred <= 1 - threshold
    rows = np.flatnonzero(defect | good)
    return rows, defect[rows].astype(np.float32)


def read_pseudo_labels(source: str | Path, fold: int, test_ids: np.ndarray, threshold: float,
                       ignore_ids=()) -> PseudoLabels:
    """Fold ``fold``'s confident test predictions of the source run (``<source>/fold<k>/test.csv``), for the
    images ``test_ids`` (``ignore_ids``: ids the source may predict that are left out here, e.g. skipped)."""
    path, pred, n_test = read_source_fold(source, fold, test_ids, ignore_ids)
    known = np.flatnonzero(pred.notna().to_numpy())
    picked, labels = select_confident(pred.to_numpy()[known], threshold)
    rows = known[picked]
    return PseudoLabels(fold=fold, source=path, ids=pred.index.to_numpy()[rows], rows=rows, labels=labels,
                        probs=pred.to_numpy()[rows].astype(np.float64), n_test=n_test)


@dataclass
class PseudoLabelledData:
    """An image data object (``common.vision.trainer.ImageData``) whose training rows are the original ones
    followed by the pseudo-labelled test rows, with per-row sample weights (``train_weights``)."""
    train_ids: np.ndarray
    train_labels: np.ndarray
    train_images: StackedImages
    train_weights: np.ndarray
    test_ids: np.ndarray
    test_images: np.ndarray
    n_original: int

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.train_images.shape[1:])


def with_pseudo_labels(data, fold_of_row: np.ndarray, pseudo: PseudoLabels,
                       weight: float = 1.0) -> tuple[PseudoLabelledData, np.ndarray]:
    """``data`` plus ``pseudo``'s test rows as training rows (weight ``weight``, fold :data:`PSEUDO_FOLD`), and
    the matching fold numbers. The test set itself is unchanged."""
    if weight <= 0:
        raise BadInput(f"pseudo-label weight must be > 0, got {weight}")
    n = len(data.train_ids)
    base_weights = getattr(data, "train_weights", None)
    base_weights = np.ones(n, np.float32) if base_weights is None else np.asarray(base_weights, np.float32)
    out = PseudoLabelledData(
        train_ids=np.concatenate([np.asarray(data.train_ids).astype(str), pseudo.ids.astype(str)]),
        train_labels=np.concatenate([np.asarray(data.train_labels, np.float32), pseudo.labels.astype(np.float32)]),
        train_images=StackedImages(data.train_images, data.test_images, pseudo.rows),
        train_weights=np.concatenate([base_weights, np.full(len(pseudo.ids), weight, np.float32)]),
        test_ids=data.test_ids, test_images=data.test_images, n_original=n)
    folds = np.concatenate([np.asarray(fold_of_row), np.full(len(pseudo.ids), PSEUDO_FOLD)])
    return out, folds
