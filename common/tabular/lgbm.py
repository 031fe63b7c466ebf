"""LightGBM on one fold: binned Datasets, the early-stopped fit, and the engine ``common.tabular.engine``
runs per fold (``fold<k>/model.txt``, the run's ``lgb_params.yaml``)."""
from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import pandas as pd

from common.tabular.config import GBDTConfig, dataset_params, lgb_params
from common.tabular.engine import FittedModel
from common.tabular.matrix import FoldData


def make_datasets(data: FoldData, params: dict) -> tuple[lgb.Dataset, lgb.Dataset]:
    """Binned training and validation Datasets, constructed now so that every fit reuses the bins; the
    training rows carry ``data.w_train`` as sample weights when given (validation stays unweighted)."""
    train = lgb.Dataset(data.x_train, data.y_train, weight=data.w_train, params=params, free_raw_data=False)
    valid = lgb.Dataset(data.x_valid, data.y_valid, params=params, reference=train, free_raw_data=False)
    train.construct()
    valid.construct()
    return train, valid


def fit(params: dict, train: lgb.Dataset, valid: lgb.Dataset, num_boost_round: int,
        early_stopping_rounds: int, log_period: int = 0, callbacks: list | None = None) -> lgb.Booster:
    """A binary LightGBM model with early stopping on the validation AUC (``valid`` is named "valid")."""
    params = {"objective": "binary", "metric": "auc", "verbose": -1, **params}
    extra = [lgb.early_stopping(early_stopping_rounds, verbose=False)]
    if log_period:
        extra.append(lgb.log_evaluation(log_period))
    return lgb.train(params, train, num_boost_round=num_boost_round, valid_sets=[valid], valid_names=["valid"],
                     callbacks=extra + list(callbacks or []))


@dataclass
class LightGBMEngine:
    """One LightGBM model per fold on Datasets binned with ``dataset_params``."""
    params: dict
    dataset_params: dict
    num_boost_round: int
    early_stopping_rounds: int
    log_period: int = 0
    name = "lightgbm"
    model_file = "model.txt"
    params_file = "lgb_params.yaml"
    seed_param = "seed"

    @classmethod
    def params_for(cls, cfg: GBDTConfig) -> dict:
        return lgb_params(cfg)

    @classmethod
    def from_config(cls, cfg: GBDTConfig, params: dict, categorical: list[str]) -> "LightGBMEngine":
        """LightGBM reads the category codes as numbers, as it was tuned: ``categorical`` is not used."""
        return cls(params, dataset_params(cfg.max_bin, cfg.seed, cfg.num_threads), cfg.num_boost_round,
                   cfg.early_stopping_rounds, cfg.log_period)

    def fit(self, data: FoldData) -> FittedModel:
        train_set, valid_set = make_datasets(data, self.dataset_params)
        booster = fit(self.params, train_set, valid_set, self.num_boost_round, self.early_stopping_rounds,
                      self.log_period)
        best = booster.best_iteration
        importance = pd.DataFrame({"feature": booster.feature_name(), "importance": booster.feature_importance("gain")})
        # written through Python, which names a full disk, where LightGBM's own writer only says "Cannot write"
        test_pred = booster.predict(data.x_test, num_iteration=best) if data.x_test is not None else None
        return FittedModel(int(best), booster.predict(data.x_valid, num_iteration=best), test_pred, importance,
                           booster.model_to_string(num_iteration=best).encode())
