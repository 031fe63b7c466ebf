"""A tabular training set: the feature matrix, its folds and one fold's model inputs.

The fold-local transform hook is how a competition adds features that must not see validation labels
(target encodings, ...): ``transform(x_train, y_train, [x_valid, x_test]) -> (x_train, [x_valid, x_test])``
is called inside each fold with that fold's training rows only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

FoldTransform = Callable[[pd.DataFrame, np.ndarray, list[pd.DataFrame]],
                         tuple[pd.DataFrame, list[pd.DataFrame]]]


@dataclass
class TabularMatrix:
    """Labelled training rows and unlabelled test rows sharing the ``features`` columns."""
    train: pd.DataFrame
    test: pd.DataFrame | None
    features: list[str]
    id_column: str = "id"
    target_column: str = "target"
    weights: np.ndarray | None = None  # optional weight per training row (the training Dataset's only)
    categorical: list[str] = field(default_factory=list)  # features holding category codes (0, 1, ...; NaN: none)

    def __post_init__(self):
        if self.weights is not None:
            self.weights = np.asarray(self.weights, dtype=np.float64)
            if self.weights.shape != (len(self.train),):
                raise ValueError(f"{self.weights.shape} weights for {len(self.train)} training rows")
        for name, frame in (("training", self.train), ("test", self.test)):
            if frame is None:
                continue
            wanted = [self.id_column, *self.features] + ([self.target_column] if name == "training" else [])
            missing = [c for c in wanted if c not in frame.columns]
            if missing:
                raise ValueError(f"{name} rows lack column(s) {missing[:10]}")

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, id_column: str, target_column: str,
                   features: list[str] | None = None) -> "TabularMatrix":
        """Split one frame into training rows (target given) and test rows (target NaN), the Kaggle way;
        the features default to every column but the id and the target."""
        is_train = frame[target_column].notna().to_numpy()
        features = features or [c for c in frame.columns if c not in (id_column, target_column)]
        test = frame[~is_train].drop(columns=target_column).reset_index(drop=True)
        return cls(frame[is_train].reset_index(drop=True), test if len(test) else None, features,
                   id_column, target_column)

    @property
    def y(self) -> np.ndarray:
        return self.train[self.target_column].to_numpy(np.int32)

    @property
    def ids(self) -> np.ndarray:
        return self.train[self.id_column].to_numpy()

    @property
    def categorical_features(self) -> list[str]:
        """The categorical columns among the features in use (``features`` may have been narrowed)."""
        return [c for c in self.categorical if c in set(self.features)]


@dataclass
class FoldData:
    """One fold's model inputs; ``x_test``/``ids_test`` are None when the matrix has no test rows."""
    fold: int
    x_train: pd.DataFrame
    y_train: np.ndarray
    x_valid: pd.DataFrame
    y_valid: np.ndarray
    ids_valid: np.ndarray
    x_test: pd.DataFrame | None
    ids_test: np.ndarray | None
    w_train: np.ndarray | None = None  # the training rows' weights (None: all 1)


def fold_data(matrix: TabularMatrix, folds: np.ndarray, fold: int,
              transform: FoldTransform | None = None) -> FoldData:
    """Training/validation/test inputs of ``fold`` (``folds``: the fold of each training row), with
    ``transform`` fitted on the fold's training rows only."""
    folds = np.asarray(folds)
    if len(folds) != len(matrix.train):
        raise ValueError(f"{len(folds)} fold numbers for {len(matrix.train)} training rows")
    if fold not in set(folds.tolist()):
        raise ValueError(f"fold {fold} not in the fold file (folds {sorted(set(folds.tolist()))})")
    valid = folds == fold
    x = matrix.train[matrix.features]
    x_train, x_valid, y_train = x[~valid], x[valid], matrix.y[~valid]
    x_test = matrix.test[matrix.features] if matrix.test is not None else None
    if transform is not None:
        x_train, others = transform(x_train, y_train, [x_valid] + ([x_test] if x_test is not None else []))
        x_valid, x_test = others[0], (others[1] if x_test is not None else None)
    ids_test = matrix.test[matrix.id_column].to_numpy() if matrix.test is not None else None
    w_train = matrix.weights[~valid] if matrix.weights is not None else None
    return FoldData(fold, x_train, y_train, x_valid, matrix.y[valid], matrix.ids[valid], x_test, ids_test, w_train)


def chain_transforms(*transforms: FoldTransform | None) -> FoldTransform | None:
    """One fold-local transform applying ``transforms`` in order (None ones skipped)."""
    steps = [t for t in transforms if t is not None]
    if not steps:
        return None

    def chained(x_train, y_train, others):
        for step in steps:
            x_train, others = step(x_train, y_train, others)
        return x_train, others
    return chained
