"""LightGBM on one fold: the fold's binned Datasets, the early-stopped fit, and the engine
``common.tabular.engine`` runs per fold (``fold<k>/model.txt``, the run's ``lgb_params.yaml``).

A fold's Datasets are subsets of the matrix binned once (:mod:`common.tabular.binned`), joined with the
columns its fold-local transform added; every fold of a run and every trial of a study reuse that one
binned matrix (read from its cache file when the matrix has a ``cache_key``). A fold that keeps only some
of the matrix features (a nested selection) is another feature set: it is binned on its own rows.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd

from common.tabular.binned import JOIN_WARNINGS, BinnedMatrix
from common.tabular.config import GBDTConfig, dataset_params, lgb_params
from common.tabular.engine import FittedModel
from common.tabular.matrix import FoldSplit
from common.tabular.timing import Timings


def own_datasets(split: FoldSplit, params: dict) -> tuple[lgb.Dataset, lgb.Dataset]:
    """The fold binned on its own rows: the training Dataset (weighted by ``split.w_train`` when given) and the
    validation Dataset with its bin edges."""
    train = lgb.Dataset(split.values("train"), split.y_train, weight=split.w_train, feature_name=split.features,
                        params=params)
    valid = lgb.Dataset(split.values("valid"), split.y_valid, reference=train, params=params)
    train.construct()
    valid.construct()
    return train, valid


@dataclass
class FoldBinner:
    """Each fold's binned (training, validation) Datasets for the Dataset ``params``: subsets of its matrix
    binned once (kept for the next fold of the same matrix), or the fold's own rows binned when it keeps
    only some of the matrix features."""
    params: dict
    binned: BinnedMatrix | None = None

    def __call__(self, split: FoldSplit) -> tuple[lgb.Dataset, lgb.Dataset]:
        if not split.keeps_all:
            return own_datasets(split, self.params)
        if self.binned is None or not self.binned.serves(split.matrix):
            self.binned = BinnedMatrix.of(split.matrix, self.params)
        return self.binned.fold(split)


def fit(params: dict, train: lgb.Dataset, valid: lgb.Dataset, num_boost_round: int,
        early_stopping_rounds: int, log_period: int = 0, callbacks: list | None = None) -> lgb.Booster:
    """A binary LightGBM model with early stopping on the validation AUC (``valid`` is named "valid")."""
    params = {"objective": "binary", "metric": "auc", "verbose": -1, **params}
    extra = [lgb.early_stopping(early_stopping_rounds, verbose=False)]
    if log_period:
        extra.append(lgb.log_evaluation(log_period))
    return lgb.train(params, train, num_boost_round=num_boost_round, valid_sets=[valid], valid_names=["valid"],
                     callbacks=extra + list(callbacks or []))


class LightGBMLog:
    """LightGBM's messages into ``log`` (a run's log.txt), less the warnings that joining a fold's Datasets
    always gives (:data:`common.tabular.binned.JOIN_WARNINGS`)."""

    def __init__(self, log):
        self.log = log

    def info(self, msg: str) -> None:
        self.log.info(msg)

    def warning(self, msg: str) -> None:
        if not msg.startswith(JOIN_WARNINGS):
            self.log.warning(msg)


@dataclass
class LightGBMFold:
    """One fold's LightGBM inputs: its binned Datasets and the float32 values of the rows it predicts."""
    train_set: lgb.Dataset
    valid_set: lgb.Dataset
    x_valid: np.ndarray
    x_test: np.ndarray | None  # None: the matrix has no test rows


@dataclass
class LightGBMEngine:
    """One LightGBM model per fold on Datasets binned with ``dataset_params``, the matrix binned once."""
    params: dict
    dataset_params: dict
    num_boost_round: int
    early_stopping_rounds: int
    log_period: int = 0
    binner: FoldBinner = field(init=False, repr=False)
    name = "lightgbm"
    model_file = "model.txt"
    params_file = "lgb_params.yaml"
    seed_param = "seed"

    def __post_init__(self):
        self.binner = FoldBinner(self.dataset_params)

    @classmethod
    def params_for(cls, cfg: GBDTConfig) -> dict:
        return lgb_params(cfg)

    @classmethod
    def from_config(cls, cfg: GBDTConfig, params: dict, categorical: list[str]) -> "LightGBMEngine":
        """LightGBM reads the category codes as numbers, as it was tuned: ``categorical`` is not used."""
        return cls(params, dataset_params(cfg.max_bin, cfg.seed, cfg.num_threads), cfg.num_boost_round,
                   cfg.early_stopping_rounds, cfg.log_period)

    def inputs(self, split: FoldSplit, timings: Timings) -> LightGBMFold:
        """The fold's Datasets (``binning_s``: the matrix binned or read once, then each fold's subsets and
        added columns) and the values it predicts (``fold_inputs_s``)."""
        with timings("binning_s"):
            train_set, valid_set = self.binner(split)
        with timings("fold_inputs_s"):
            return LightGBMFold(train_set, valid_set, split.values("valid"), split.values("test"))

    def fit(self, inputs: LightGBMFold) -> FittedModel:
        booster = fit(self.params, inputs.train_set, inputs.valid_set, self.num_boost_round,
                      self.early_stopping_rounds, self.log_period)
        best = booster.best_iteration
        importance = pd.DataFrame({"feature": booster.feature_name(), "importance": booster.feature_importance("gain")})
        # written through Python, which names a full disk, where LightGBM's own writer only says "Cannot write"
        test_pred = booster.predict(inputs.x_test, num_iteration=best) if inputs.x_test is not None else None
        return FittedModel(int(best), booster.predict(inputs.x_valid, num_iteration=best), test_pred, importance,
                           booster.model_to_string(num_iteration=best).encode())
