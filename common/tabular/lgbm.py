"""LightGBM on one fold: its parameters, the fold's binned Datasets, the early-stopped fit, and the engine
(``common.tabular.protocol``) that cross-validation and tuning run per fold (``fold<k>/model.txt``, the run's
``lgb_params.yaml``).

A fold's Datasets are subsets of the matrix binned once (:mod:`common.tabular.binned`), joined with the
columns its fold-local transform added; every fold of a run and every trial of a study reuse that one
binned matrix (read from its cache file when the matrix has a ``cache_key``). A fold that keeps only some
of the matrix features (a nested selection) is another feature set: it is binned on its own rows.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import lightgbm as lgb
import pandas as pd

from common.tabular.binned import JOIN_WARNINGS, BinnedMatrix
from common.tabular.config import GBDTConfig
from common.tabular.matrix import FoldSplit
from common.tabular.protocol import FittedModel, OnRound
from common.tabular.timing import Timings

# Reproducible results for a seed and thread count: no row-wise/col-wise auto choice, deterministic sums.
FIXED_PARAMS = {"force_col_wise": True, "deterministic": True}


def lgb_params(cfg: GBDTConfig) -> dict:
    """LightGBM's parameters for ``cfg``'s options (their names are LightGBM's)."""
    return {
        "learning_rate": cfg.learning_rate, "num_leaves": cfg.num_leaves, "max_depth": cfg.max_depth,
        "min_data_in_leaf": cfg.min_data_in_leaf, "min_sum_hessian_in_leaf": cfg.min_sum_hessian_in_leaf,
        "feature_fraction": cfg.feature_fraction, "bagging_fraction": cfg.bagging_fraction,
        "bagging_freq": cfg.bagging_freq, "lambda_l1": cfg.lambda_l1, "lambda_l2": cfg.lambda_l2,
        "min_gain_to_split": cfg.min_gain_to_split, "extra_trees": cfg.extra_trees, "num_threads": cfg.num_threads,
        "seed": cfg.seed,
        **FIXED_PARAMS,
    }


def dataset_params(max_bin: int, seed: int, num_threads: int) -> dict:
    """Parameters of the binned Dataset (fixed for every fit that reuses it)."""
    return {"max_bin": max_bin, "feature_pre_filter": False, "seed": seed, "num_threads": num_threads,
            "verbose": -1}


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
    only some of the matrix features or trains on pseudo-labelled test rows too."""
    params: dict
    binned: BinnedMatrix | None = None

    def __call__(self, split: FoldSplit) -> tuple[lgb.Dataset, lgb.Dataset]:
        if not split.keeps_all or split.pseudo is not None:  # rows or features the binned matrix does not hold
            return own_datasets(split, self.params)
        if self.binned is None or not self.binned.serves(split.matrix):
            self.binned = BinnedMatrix.of(split.matrix, self.params)
        return self.binned.fold(split)


def fit(params: dict, train: lgb.Dataset, valid: lgb.Dataset, num_boost_round: int,
        early_stopping_rounds: int, log_period: int = 0, on_round: OnRound | None = None) -> lgb.Booster:
    """A binary LightGBM model with early stopping on the validation AUC (``valid`` is named "valid");
    ``on_round(round, AUC)`` after every round, before early stopping looks at it."""
    params = {"objective": "binary", "metric": "auc", "verbose": -1, **params}
    callbacks = [lgb.early_stopping(early_stopping_rounds, verbose=False)]
    if log_period:
        callbacks.append(lgb.log_evaluation(log_period))
    if on_round is not None:
        callbacks.append(_reporter(on_round))
    return lgb.train(params, train, num_boost_round=num_boost_round, valid_sets=[valid], valid_names=["valid"],
                     callbacks=callbacks)


def _reporter(on_round: OnRound):
    """A LightGBM callback passing each round's validation AUC to ``on_round``."""
    def callback(env: lgb.callback.CallbackEnv) -> None:
        auc = next(value for data, metric, value, *_ in env.evaluation_result_list
                   if data == "valid" and metric == "auc")
        on_round(env.iteration, auc)
    return callback


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
    """One fold's LightGBM inputs: its binned Datasets, and the fold whose rows it predicts (their float32
    values made when predicting, not kept beside the Datasets of every tuning fold)."""
    train_set: lgb.Dataset
    valid_set: lgb.Dataset
    split: FoldSplit


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
    importance_type = "gain"  # total gain of the feature's splits
    reports_rounds = True

    def __post_init__(self):
        self.binner = FoldBinner(self.dataset_params)

    @classmethod
    def options_params(cls, cfg: GBDTConfig) -> dict:
        return lgb_params(cfg)

    @classmethod
    def from_config(cls, cfg: GBDTConfig, params: dict, categorical: list[str]) -> "LightGBMEngine":
        """LightGBM reads the category codes as numbers, as it was tuned: ``categorical`` is not used."""
        return cls(params, dataset_params(cfg.max_bin, cfg.seed, cfg.num_threads), cfg.num_boost_round,
                   cfg.early_stopping_rounds, cfg.log_period)

    def route_log(self, log) -> None:
        lgb.register_logger(LightGBMLog(log))  # LightGBM's evaluation log goes to the run's log.txt too

    def inputs(self, split: FoldSplit, timings: Timings) -> LightGBMFold:
        """The fold's Datasets (``binning_s``: the matrix binned or read once, then each fold's subsets and
        added columns)."""
        with timings("binning_s"):
            return LightGBMFold(*self.binner(split), split)

    def fit(self, inputs: LightGBMFold, on_round: OnRound | None = None) -> FittedModel:
        booster = fit(self.params, inputs.train_set, inputs.valid_set, self.num_boost_round,
                      self.early_stopping_rounds, self.log_period, on_round)
        best = booster.best_iteration
        importance = pd.DataFrame({"feature": booster.feature_name(),
                                   "importance": booster.feature_importance(self.importance_type)})

        def predict(part: str):
            values = inputs.split.values(part)
            return None if values is None else booster.predict(values, num_iteration=best)

        # written through Python, which names a full disk, where LightGBM's own writer only says "Cannot write"
        return FittedModel(int(best), predict("valid"), predict("test"), importance,
                           booster.model_to_string(num_iteration=best).encode())
