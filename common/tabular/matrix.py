"""A tabular training set: the feature matrix, its folds and one fold's model inputs.

A fold-local transform (:class:`FoldTransform`) is how a competition adds features that must not see
validation labels (target encodings, ...) or picks features inside each fold (a nested selection): it is
fitted inside each fold on that fold's training rows only and returns :class:`FoldColumns`, the columns it
adds (for the training, validation and test rows) and the matrix features the fold keeps. It returns only
what it adds, and reads only the features it names, so no fold copies the whole matrix for it. A fold's
model sees the kept matrix features in matrix order, then the added columns (:attr:`FoldSplit.features`).

:func:`split_fold` gives one fold as row positions plus the transform's columns, copying nothing else;
each library takes what it needs from it: LightGBM subsets of one binned Dataset (common.tabular.binned)
and float32 values to predict, XGBoost and CatBoost the fold's DataFrames (:meth:`FoldSplit.data`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from common.errors import BadInput


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
    # What identifies the rows' content (code + inputs, e.g. a hash of the feature code and input files): caches
    # of what is derived from them (LightGBM's binned Dataset) are keyed on it. None: nothing is cached.
    cache_key: str | None = None

    def __post_init__(self):
        if self.weights is not None:
            self.weights = np.asarray(self.weights, dtype=np.float64)
            if self.weights.shape != (len(self.train),):
                raise BadInput(f"{self.weights.shape} weights for {len(self.train)} training rows")
        for name, frame in (("training", self.train), ("test", self.test)):
            if frame is None:
                continue
            wanted = [self.id_column, *self.features] + ([self.target_column] if name == "training" else [])
            missing = [c for c in wanted if c not in frame.columns]
            if missing:
                raise BadInput(f"{name} rows lack column(s) {missing[:10]}")

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
class FoldColumns:
    """What a fold-local transform gives one fold: ``train``, the columns it adds to the fold's training rows;
    ``others``, the same columns for each other frame it was given (validation rows, then test rows), row
    for row; ``keep``, the matrix features the fold keeps (None: all of them)."""
    train: pd.DataFrame
    others: list[pd.DataFrame]
    keep: list[str] | None = None


@dataclass(frozen=True)
class FoldTransform:
    """``fit(x_train, y_train, [x_valid, x_test]) -> FoldColumns``, called inside each fold (no ``x_test`` when
    the matrix has no test rows). The frames hold the ``reads`` features present in the matrix (every feature
    when None), indexed by row position (in ``matrix.train``; test rows in ``matrix.test``)."""
    fit: Callable[[pd.DataFrame, np.ndarray, list[pd.DataFrame]], FoldColumns]
    reads: tuple[str, ...] | None = None


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


@dataclass(frozen=True)
class PseudoRows:
    """Test rows that train a fold after its own (pseudo-labels, ``common.tabular.pseudo``): their positions in
    ``matrix.test``, hard labels and one weight."""
    rows: np.ndarray
    labels: np.ndarray
    weight: float = 1.0

    @property
    def weights(self) -> np.ndarray:
        return np.full(len(self.rows), self.weight, np.float64)


@dataclass
class FoldSplit:
    """One fold of ``matrix``, no feature value copied: the positions of its training and validation rows and
    what the fold-local transform fitted on the training rows gave (``added``; None without a transform)."""
    matrix: TabularMatrix
    fold: int
    train_rows: np.ndarray
    valid_rows: np.ndarray
    added: FoldColumns | None = None
    pseudo: PseudoRows | None = None

    @property
    def kept(self) -> list[str]:
        """The matrix features the fold keeps, in matrix order."""
        if self.added is None or self.added.keep is None:
            return list(self.matrix.features)
        keep = set(self.added.keep)
        return [c for c in self.matrix.features if c in keep]

    @property
    def keeps_all(self) -> bool:
        """Whether the fold keeps every matrix feature (its feature set is the matrix's, plus added columns)."""
        return len(self.kept) == len(self.matrix.features)

    @property
    def added_names(self) -> list[str]:
        return [] if self.added is None else [str(c) for c in self.added.train.columns]

    @property
    def features(self) -> list[str]:
        """The model's columns: the kept matrix features, then the added columns."""
        return self.kept + self.added_names

    @property
    def y_train(self) -> np.ndarray:
        y = self.matrix.y[self.train_rows]
        return y if self.pseudo is None else np.concatenate([y, self.pseudo.labels.astype(y.dtype)])

    @property
    def y_valid(self) -> np.ndarray:
        return self.matrix.y[self.valid_rows]

    @property
    def ids_valid(self) -> np.ndarray:
        return self.matrix.ids[self.valid_rows]

    @property
    def ids_test(self) -> np.ndarray | None:
        return None if self.matrix.test is None else self.matrix.test[self.matrix.id_column].to_numpy()

    @property
    def w_train(self) -> np.ndarray | None:
        """The training rows' weights, pseudo-labelled rows last (None: all 1)."""
        own = None if self.matrix.weights is None else self.matrix.weights[self.train_rows]
        if self.pseudo is None:
            return own
        return np.concatenate([np.ones(len(self.train_rows)) if own is None else own, self.pseudo.weights])

    def _part(self, part: str) -> tuple[pd.DataFrame | None, np.ndarray | None, pd.DataFrame | None]:
        """(matrix frame, row positions in it or None for all, added columns) of "train", "valid", "test", "own"
        (the training rows without the pseudo-labelled ones) or "pseudo" (those, in ``matrix.test``)."""
        added = self.added
        if part in ("train", "own"):
            return self.matrix.train, self.train_rows, added.train if added else None
        if part == "valid":
            return self.matrix.train, self.valid_rows, added.others[0] if added else None
        if part == "test":
            return self.matrix.test, None, added.others[1] if added and self.matrix.test is not None else None
        if part == "pseudo":
            rows = self.pseudo.rows
            return self.matrix.test, rows, added.others[1].iloc[rows] if added else None
        raise ValueError(f"no part {part!r} of a fold (train, valid, test, own or pseudo)")

    def values(self, part: str) -> np.ndarray | None:
        """The model's columns of the ``part`` rows ("train", "valid", "test") as one float32 array (None: the
        matrix has no test rows)."""
        if part == "train" and self.pseudo is not None:
            own, pseudo = self.values("own"), self.values("pseudo")
            out = np.empty((len(own) + len(pseudo), own.shape[1]), np.float32, order="F")
            out[:len(own)], out[len(own):] = own, pseudo
            return out
        frame, rows, added = self._part(part)
        return None if frame is None else float32_values(frame, self.kept, rows, added)

    def frame(self, part: str) -> pd.DataFrame | None:
        """The model's columns of the ``part`` rows as a DataFrame (matrix dtypes; index: the matrix's, but for
        training rows with pseudo-labelled test rows after them: 0, 1, ...)."""
        if part == "train" and self.pseudo is not None:
            return pd.concat([self.frame("own"), self.frame("pseudo")], ignore_index=True)
        frame, rows, added = self._part(part)
        if frame is None:
            return None
        x = frame[self.kept] if rows is None else _take(frame, rows, self.kept)
        if added is None or not len(added.columns):
            return x
        return pd.concat([x, added.set_axis(x.index)], axis=1)

    def data(self) -> FoldData:
        """The fold's DataFrames (what XGBoost and CatBoost read)."""
        return FoldData(self.fold, self.frame("train"), self.y_train, self.frame("valid"), self.y_valid,
                        self.ids_valid, self.frame("test"), self.ids_test, self.w_train)


def float32_values(frame: pd.DataFrame, columns: list[str], rows: np.ndarray | None = None,
                   added: pd.DataFrame | None = None) -> np.ndarray:
    """``frame``'s ``columns`` at row positions ``rows`` (all rows when None), then every column of ``added``
    (row for row), as one column-major float32 array (LightGBM reads that layout as it is), filled column by
    column: no float64 or whole-frame copy on the way."""
    extra = [] if added is None else list(added.columns)
    out = np.empty((len(frame) if rows is None else len(rows), len(columns) + len(extra)), np.float32, order="F")
    for j, column in enumerate(columns):
        values = frame[column].to_numpy()
        out[:, j] = values if rows is None else values[rows]
    for j, column in enumerate(extra, start=len(columns)):
        out[:, j] = added[column].to_numpy()
    return out


def split_fold(matrix: TabularMatrix, folds: np.ndarray, fold: int,
               transform: FoldTransform | None = None) -> FoldSplit:
    """``fold`` of ``matrix`` (``folds``: the fold of each training row), with ``transform`` fitted on the
    fold's training rows only."""
    folds = np.asarray(folds)
    if len(folds) != len(matrix.train):
        raise ValueError(f"{len(folds)} fold numbers for {len(matrix.train)} training rows")
    if fold not in set(folds.tolist()):
        raise BadInput(f"fold {fold} not in the fold file (folds {sorted(set(folds.tolist()))})")
    valid = folds == fold
    split = FoldSplit(matrix, fold, np.flatnonzero(~valid), np.flatnonzero(valid))
    if transform is not None:
        split.added = _fit(transform, split)
    return split


def fold_data(matrix: TabularMatrix, folds: np.ndarray, fold: int,
              transform: FoldTransform | None = None) -> FoldData:
    """Training/validation/test DataFrames of ``fold``, with ``transform`` fitted on its training rows only."""
    return split_fold(matrix, folds, fold, transform).data()


def _fit(transform: FoldTransform, split: FoldSplit) -> FoldColumns:
    """``transform`` fitted on the fold's training rows, its output checked against the rows it was given."""
    matrix = split.matrix
    present = set(matrix.features)
    reads = list(matrix.features) if transform.reads is None else [c for c in transform.reads if c in present]
    frames = [_take(matrix.train, rows, reads).set_axis(rows) for rows in (split.train_rows, split.valid_rows)]
    if matrix.test is not None:
        frames.append(matrix.test[reads].reset_index(drop=True))
    out = transform.fit(frames[0], split.y_train, frames[1:])
    names = list(out.train.columns)
    for given, got in zip(frames, [out.train, *out.others]):
        if len(got) != len(given) or list(got.columns) != names:
            raise BadInput(f"fold-local transform: {len(got)} rows x {list(got.columns)[:5]} returned for "
                           f"{len(given)} rows (expected the columns {names[:5]} for every frame)")
    clash = sorted(set(names) & present)
    if clash:
        raise BadInput(f"fold-local transform: added column(s) {clash[:5]} already are matrix features")
    if out.keep is not None and set(out.keep) - present:
        raise BadInput(f"fold-local transform keeps unknown feature(s) {sorted(set(out.keep) - present)[:5]}")
    return out


def _take(frame: pd.DataFrame, rows: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """``frame``'s ``columns`` at row positions ``rows``, in one copy."""
    return frame.iloc[rows, frame.columns.get_indexer(columns)]


def chain_transforms(*transforms: FoldTransform | None) -> FoldTransform | None:
    """One fold-local transform applying ``transforms`` (None ones skipped) to the same fold: each sees the
    fold's matrix features it reads (not what an earlier one added); the fold keeps the features every one of
    them keeps, and gets the columns they add, in order."""
    steps = [t for t in transforms if t is not None]
    if not steps:
        return None
    if len(steps) == 1:
        return steps[0]
    reads = None if any(s.reads is None for s in steps) else tuple(dict.fromkeys(c for s in steps for c in s.reads))

    def fit(x_train: pd.DataFrame, y_train: np.ndarray, others: list[pd.DataFrame]) -> FoldColumns:
        keep, train, other = None, [], [[] for _ in others]
        for step in steps:
            columns = list(x_train.columns) if step.reads is None else [c for c in step.reads if c in x_train]
            out = step.fit(x_train[columns], y_train, [o[columns] for o in others])
            if out.keep is not None:
                keep = list(out.keep) if keep is None else [c for c in keep if c in set(out.keep)]
            train.append(out.train.set_axis(x_train.index))
            for mine, theirs, given in zip(other, out.others, others):
                mine.append(theirs.set_axis(given.index))
        return FoldColumns(pd.concat(train, axis=1), [pd.concat(o, axis=1) for o in other], keep)
    return FoldTransform(fit, reads)
