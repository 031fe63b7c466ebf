"""XGBoost on one fold: hist trees, early stopping on the validation AUC, native categoricals
(``enable_categorical``), ``device="cuda"`` with ``--device cuda``; ``fold<k>/model.json``."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xgboost as xgb

from common.tabular.config import GBDTConfig
from common.tabular.matrix import FoldData, FoldSplit
from common.tabular.protocol import FittedModel, OnRound
from common.tabular.timing import Timings

DEFAULT_DEPTH = 6  # XGBoost's own default, for --max-depth -1 (its depth-wise trees need a limit)


def xgb_params(cfg: GBDTConfig) -> dict:
    """XGBoost's parameters for ``cfg``'s options."""
    return {
        "objective": "binary:logistic", "eval_metric": "auc", "tree_method": "hist", "device": cfg.device,
        "eta": cfg.learning_rate, "max_depth": cfg.max_depth if cfg.max_depth > 0 else DEFAULT_DEPTH,
        "min_child_weight": cfg.min_sum_hessian_in_leaf, "subsample": cfg.bagging_fraction,
        "colsample_bytree": cfg.feature_fraction, "alpha": cfg.lambda_l1, "lambda": cfg.lambda_l2,
        "gamma": cfg.min_gain_to_split, "max_bin": cfg.max_bin, "nthread": cfg.num_threads, "seed": cfg.seed,
    }


def as_categories(frames: list[pd.DataFrame | None], columns: list[str]) -> list[pd.DataFrame | None]:
    """``frames`` with the code columns as pandas categories of one shared level list, as XGBoost's
    ``enable_categorical`` reads them (a code is the same category in training, validation and test rows)."""
    if not columns:
        return frames
    present = [f for f in frames if f is not None]
    out = [f.copy() if f is not None else None for f in frames]
    for col in columns:
        levels = np.unique(np.concatenate([f[col].dropna().to_numpy() for f in present])).astype(np.int64)
        for frame in out:
            if frame is not None:  # integer levels: XGBoost refuses floating-point categories
                frame[col] = pd.Categorical(frame[col].astype("Int64"), categories=levels)
    return out


@dataclass
class XGBoostEngine:
    """One XGBoost model per fold; ``categorical`` columns go in as XGBoost categories."""
    params: dict
    num_boost_round: int
    early_stopping_rounds: int
    log_period: int = 0
    categorical: list[str] | None = None
    name = "xgboost"
    model_file = "model.json"
    params_file = "xgb_params.yaml"
    seed_param = "seed"
    importance_type = "total_gain"
    reports_rounds = False  # a study's XGBoost trial reports per fold

    @classmethod
    def options_params(cls, cfg: GBDTConfig) -> dict:
        return xgb_params(cfg)

    @classmethod
    def from_config(cls, cfg: GBDTConfig, params: dict, categorical: list[str]) -> "XGBoostEngine":
        return cls(params, cfg.num_boost_round, cfg.early_stopping_rounds, cfg.log_period, categorical)

    def route_log(self, log) -> None:
        """XGBoost's evaluation log (``--log-period``) stays on the console."""

    def inputs(self, split: FoldSplit, timings: Timings) -> FoldData:
        """The fold's DataFrames (XGBoost builds its own matrices from them in ``fit``)."""
        with timings("fold_inputs_s"):
            return split.data()

    def fit(self, data: FoldData, on_round: OnRound | None = None) -> FittedModel:
        """The fold's model; ``on_round`` is not called (``reports_rounds`` is false)."""
        x_train, x_valid, x_test = as_categories([data.x_train, data.x_valid, data.x_test], self.categorical or [])
        threads = self.params.get("nthread") or None

        def matrix(x, y=None, weight=None):
            return xgb.DMatrix(x, y, weight=weight, enable_categorical=True, nthread=threads)

        booster = xgb.train(self.params, matrix(x_train, data.y_train, data.w_train), self.num_boost_round,
                            evals=[(matrix(x_valid, data.y_valid), "valid")],
                            early_stopping_rounds=self.early_stopping_rounds, verbose_eval=self.log_period or False)
        rounds = booster.best_iteration + 1
        booster = booster[:rounds]  # the rounds that predict, as the model file keeps them
        gain = booster.get_score(importance_type=self.importance_type)
        importance = pd.DataFrame({"feature": list(x_train.columns),
                                   "importance": [gain.get(c, 0.0) for c in x_train.columns]})
        test_pred = booster.predict(matrix(x_test)) if x_test is not None else None
        return FittedModel(rounds, booster.predict(matrix(x_valid)), test_pred, importance,
                           bytes(booster.save_raw("json")))
