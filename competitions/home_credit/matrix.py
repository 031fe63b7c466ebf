"""Home Credit's inputs to the tabular engine: the feature matrix, the shared folds, the target encoding.

Training and tuning configs both take :class:`MatrixOptions`; :func:`load_inputs` turns them into the
engine's matrix, the fold of each training client and the fold-local target encoding.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from common.config import option
from common.folds import get_or_make_folds
from common.paths import runs_root
from common.tabular.matrix import FoldColumns, FoldTransform, TabularMatrix
from competitions.home_credit.features.aggregate import KEY
from competitions.home_credit.features.build import ALL_GROUPS, build_features, features_key
from competitions.home_credit.features.target_encoding import TE_COLUMNS, target_encodings
from competitions.home_credit.schema import TABLE_COLUMNS

COMPETITION = "home_credit"
TARGET = "TARGET"
# The application's text columns, which the features hold as integer codes (XGBoost and CatBoost take them
# as categories; LightGBM as numbers, as it was tuned).
CATEGORICAL = [name for name, dtype in TABLE_COLUMNS["application_train.csv"] if dtype == "category"]


@dataclass
class MatrixOptions:
    """The Home Credit data options shared by training and tuning."""
    tables: list[str] = option(default_factory=lambda: list(ALL_GROUPS), choices=ALL_GROUPS,
                               help="feature groups to use")
    folds_file: str | None = option(None, help="shared fold file (default runs/home_credit/folds.csv)")
    target_encoding: bool = option(True, help="add target encodings fitted inside each fold")
    te_columns: list[str] = option(default_factory=lambda: list(TE_COLUMNS), help="categories to encode")


def load_matrix(data_dir: str | Path, tables: list[str], rebuild: bool = False) -> TabularMatrix:
    """Build (or read from cache) the features of the chosen table groups; test clients have no TARGET. The
    matrix's ``cache_key`` is the features' (their code and input files), so LightGBM's binned Dataset of it is
    cached too."""
    matrix = TabularMatrix.from_frame(build_features(data_dir, tables, rebuild=rebuild), KEY, TARGET)
    matrix.categorical = [c for c in CATEGORICAL if c in set(matrix.features)]
    matrix.cache_key = features_key(data_dir, tables)
    return matrix


def default_folds_path(runs_dir: str | Path | None = None) -> Path:
    return Path(runs_dir or runs_root()) / COMPETITION / "folds.csv"


def shared_folds(matrix: TabularMatrix, path: str | Path | None, n_splits: int, seed: int,
                 runs_dir: str | Path | None = None) -> np.ndarray:
    """Fold of every training client from the competition's shared ``folds.csv`` (made on first use)."""
    folds = get_or_make_folds(path or default_folds_path(runs_dir), matrix.ids, matrix.y, n_splits=n_splits,
                              seed=seed, groups=None)  # one application row per client: grouping is trivial
    return folds["fold"].to_numpy()


def fold_transform(options: MatrixOptions, seed: int) -> FoldTransform | None:
    """The target encoding the options ask for, to be fitted on each fold's training rows: it reads the encoded
    categories only and gives their ``<column>_TE`` columns."""
    if not options.target_encoding or not options.te_columns:
        return None
    columns = list(options.te_columns)

    def fit(x_train: pd.DataFrame, y_train: np.ndarray, others: list[pd.DataFrame]) -> FoldColumns:
        return FoldColumns(*target_encodings(x_train, y_train, others, columns=columns, seed=seed))
    return FoldTransform(fit, reads=tuple(columns))
