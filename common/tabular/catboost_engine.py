"""CatBoost on one fold: symmetric trees, early stopping on the validation AUC, native categoricals
(``cat_features``), ``task_type="GPU"`` with ``--device cuda``; ``fold<k>/model.cbm``."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from catboost import CatBoost, Pool

from common.tabular.config import GBDTConfig
from common.tabular.matrix import FoldData, FoldSplit
from common.tabular.protocol import FittedModel, OnRound
from common.tabular.timing import Timings

DEFAULT_DEPTH = 6  # CatBoost's own default, for --max-depth -1 (symmetric trees need a depth)
MISSING_CODE = -1  # CatBoost's categories are integers or strings: no NaN


def catboost_params(cfg: GBDTConfig) -> dict:
    """CatBoost's parameters for ``cfg``'s options."""
    params = {
        "loss_function": "Logloss", "eval_metric": "AUC", "iterations": cfg.num_boost_round,
        "learning_rate": cfg.learning_rate, "depth": cfg.max_depth if cfg.max_depth > 0 else DEFAULT_DEPTH,
        "l2_leaf_reg": cfg.lambda_l2, "border_count": cfg.max_bin, "bootstrap_type": "Bernoulli",
        "subsample": cfg.bagging_fraction, "od_type": "Iter", "od_wait": cfg.early_stopping_rounds,
        "use_best_model": True, "random_seed": cfg.seed, "thread_count": cfg.num_threads or -1,
        "task_type": "GPU" if cfg.device == "cuda" else "CPU", "allow_writing_files": False,
        "verbose": cfg.log_period or False,
    }
    if cfg.device == "cpu":  # CatBoost's GPU mode samples features per tree only for pairwise losses
        params["rsm"] = cfg.feature_fraction
    return params


def with_integer_codes(x: pd.DataFrame | None, columns: list[str]) -> pd.DataFrame | None:
    """``x`` with the category-code columns as integers (missing: ``MISSING_CODE``), as ``cat_features``
    must be."""
    if x is None or not columns:
        return x
    x = x.copy()
    for col in columns:
        x[col] = x[col].fillna(MISSING_CODE).astype(np.int64)
    return x


@dataclass
class CatBoostEngine:
    """One CatBoost model per fold, shrunk to its best iteration (``use_best_model``)."""
    params: dict
    categorical: list[str] | None = None
    name = "catboost"
    model_file = "model.cbm"
    params_file = "catboost_params.yaml"
    seed_param = "random_seed"
    importance_type = "PredictionValuesChange"
    reports_rounds = False  # a study's CatBoost trial reports per fold

    @classmethod
    def options_params(cls, cfg: GBDTConfig) -> dict:
        return catboost_params(cfg)

    @classmethod
    def from_config(cls, cfg: GBDTConfig, params: dict, categorical: list[str]) -> "CatBoostEngine":
        return cls(params, categorical)  # rounds and early stopping are in params (iterations, od_wait)

    def route_log(self, log) -> None:
        """CatBoost's evaluation log (``--log-period``) stays on the console."""

    def inputs(self, split: FoldSplit, timings: Timings) -> FoldData:
        """The fold's DataFrames (CatBoost builds its own matrices from them in ``fit``)."""
        with timings("fold_inputs_s"):
            return split.data()

    def fit(self, data: FoldData, on_round: OnRound | None = None) -> FittedModel:
        """The fold's model; ``on_round`` is not called (``reports_rounds`` is false)."""
        cats = self.categorical or []
        x_train, x_valid, x_test = (with_integer_codes(x, cats) for x in (data.x_train, data.x_valid, data.x_test))
        train = Pool(x_train, data.y_train, weight=data.w_train, cat_features=cats)
        valid = Pool(x_valid, data.y_valid, cat_features=cats)
        model = CatBoost(self.params)
        model.fit(train, eval_set=valid)

        def predict(x: pd.DataFrame) -> np.ndarray:
            return model.predict(Pool(x, cat_features=cats), prediction_type="Probability")[:, 1]

        importance = pd.DataFrame({"feature": list(x_train.columns),
                                   "importance": model.get_feature_importance(type=self.importance_type)})
        with tempfile.TemporaryDirectory() as tmp:  # CatBoost writes its binary format to a path only
            path = Path(tmp) / self.model_file
            model.save_model(str(path), format="cbm")
            model_bytes = path.read_bytes()
        return FittedModel(model.get_best_iteration() + 1, predict(x_valid),
                           predict(x_test) if x_test is not None else None, importance, model_bytes)
