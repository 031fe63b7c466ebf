"""What training and tuning share: the feature matrix split by the shared folds, target encoding fitted
inside each fold, LightGBM parameters and one fold's fit."""
from __future__ import annotations

import contextlib
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import lightgbm as lgb
import numpy as np
import pandas as pd

from common.config import load_yaml
from common.folds import get_or_make_folds
from common.paths import runs_root
from competitions.home_credit.features.aggregate import KEY
from competitions.home_credit.features.build import build_features, feature_columns
from competitions.home_credit.features.target_encoding import add_target_encoding

COMPETITION = "home_credit"
# Parameters fixed when the binned Dataset is built; they cannot change between trials of one Dataset.
DATASET_PARAMS = ("max_bin", "min_data_in_bin", "bin_construct_sample_cnt", "feature_pre_filter")


@dataclass
class Matrix:
    """The feature matrix split into labelled training clients and test clients."""
    train: pd.DataFrame
    test: pd.DataFrame
    features: list[str]

    @property
    def y(self) -> np.ndarray:
        return self.train["TARGET"].to_numpy(np.int32)


@dataclass
class FoldData:
    """One fold's model inputs, with target encodings fitted on its training rows only."""
    fold: int
    x_train: pd.DataFrame
    y_train: np.ndarray
    x_valid: pd.DataFrame
    y_valid: np.ndarray
    ids_valid: np.ndarray
    x_test: pd.DataFrame
    ids_test: np.ndarray


def load_matrix(data_dir: str | Path, tables: list[str], rebuild: bool = False) -> Matrix:
    """Build (or read from cache) the features of the chosen table groups and split train/test."""
    matrix = build_features(data_dir, tables, rebuild=rebuild)
    is_train = matrix["TARGET"].notna().to_numpy()
    return Matrix(matrix[is_train].reset_index(drop=True), matrix[~is_train].reset_index(drop=True),
                  feature_columns(matrix))


def default_folds_path() -> Path:
    return runs_root() / COMPETITION / "folds.csv"


def shared_folds(matrix: Matrix, path: str | Path | None, n_splits: int, seed: int) -> np.ndarray:
    """Fold of every training client from the competition's shared ``folds.csv`` (made on first use)."""
    ids = matrix.train[KEY].to_numpy()
    folds = get_or_make_folds(path or default_folds_path(), ids, matrix.y, n_splits=n_splits, seed=seed,
                              groups=None)  # one application row per client: grouping is trivial
    return folds["fold"].to_numpy()


def fold_data(matrix: Matrix, folds: np.ndarray, fold: int, te_columns: list[str], seed: int) -> FoldData:
    """Training/validation/test inputs of ``fold``; target encodings are fitted on training rows only."""
    if fold not in set(folds.tolist()):
        raise ValueError(f"fold {fold} not in the fold file (folds {sorted(set(folds.tolist()))})")
    valid = folds == fold
    x = matrix.train[matrix.features]
    x_train, x_valid, x_test = x[~valid], x[valid], matrix.test[matrix.features]
    y_train = matrix.y[~valid]
    x_train, (x_valid, x_test) = add_target_encoding(x_train, y_train, [x_valid, x_test], te_columns, seed)
    return FoldData(fold, x_train, y_train, x_valid, matrix.y[valid], matrix.train[KEY].to_numpy()[valid],
                    x_test, matrix.test[KEY].to_numpy())


def read_params_file(path: str | Path | None) -> dict:
    """LightGBM parameters from a YAML file written by tune.py (``{}`` when no file is given)."""
    if not path:
        return {}
    values = load_yaml(path)
    return dict(values.get("params", values))


def dataset_params(max_bin: int, seed: int, num_threads: int) -> dict:
    """Parameters of the binned Dataset (fixed for all trials that reuse it)."""
    return {"max_bin": max_bin, "feature_pre_filter": False, "seed": seed, "num_threads": num_threads,
            "verbose": -1}


def make_datasets(data: FoldData, params: dict) -> tuple[lgb.Dataset, lgb.Dataset]:
    """Binned training and validation Datasets, constructed now and kept for reuse."""
    train = lgb.Dataset(data.x_train, data.y_train, params=params, free_raw_data=False)
    valid = lgb.Dataset(data.x_valid, data.y_valid, params=params, reference=train, free_raw_data=False)
    train.construct()
    valid.construct()
    return train, valid


def fit(params: dict, train: lgb.Dataset, valid: lgb.Dataset, num_boost_round: int,
        early_stopping_rounds: int, log_period: int = 0, callbacks: list | None = None) -> lgb.Booster:
    """LightGBM with early stopping on the validation AUC."""
    params = {"objective": "binary", "metric": "auc", "verbose": -1, **params}
    extra = [lgb.early_stopping(early_stopping_rounds, verbose=False)]
    if log_period:
        extra.append(lgb.log_evaluation(log_period))
    return lgb.train(params, train, num_boost_round=num_boost_round, valid_sets=[valid], valid_names=["valid"],
                     callbacks=extra + list(callbacks or []))


def run_cli(main: Callable[[], object]) -> None:
    """Run a script's ``main``; bad input ends with a one-line error naming the file, column or id."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        main()
    except (FileNotFoundError, ValueError, KeyError) as err:
        sys.exit(f"error: {err}")


@contextlib.contextmanager
def timed(timings: dict, key: str) -> Iterator[None]:
    """Add the block's wall time to ``timings[key]``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[key] = timings.get(key, 0.0) + time.perf_counter() - start
