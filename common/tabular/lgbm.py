"""LightGBM per fold on a tabular matrix, through the kit's one fold driver (``common.cv.run_folds``).

A competition's training CLI is then a few lines (see ``competitions/home_credit/train.py``)::

    cfg = parse_config(MyConfig, argv)                 # MyConfig(LGBMConfig) adds the data options
    params = lgb_params(cfg)
    run = Run.open("my_competition", cfg.name, cfg.runs_dir); run.save_config(cfg)
    return train_cv(run, cfg, matrix, folds, params, transform=..., title="My competition")

Per fold it writes ``fold<k>/model.txt`` (the best iteration) and ``fold<k>/importance.csv`` (gain), besides
the driver's prediction files and ``done.json``; per run ``lgb_params.yaml``, ``importance.csv/png``,
``roc.png`` and ``metrics.json`` (the driver's schema plus ``timing`` and ``n_features``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd
import yaml

from common.config import parse_folds
from common.cv import FoldResult, Truth, run_folds
from common.io import atomic_write_csv, atomic_write_text
from common.run import Run
from common.tabular.config import LGBMConfig, dataset_params
from common.tabular.matrix import FoldData, FoldTransform, TabularMatrix, fold_data
from common.tabular.report import FOLD_IMPORTANCE, write_report
from common.tabular.timing import Timings


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
class LGBMFoldTrainer:
    """``fit_fold`` for :func:`common.cv.run_folds`: one LightGBM model per fold of ``matrix``.

    ``folds`` gives the fold of each training row; ``transform`` is fitted on each fold's training rows.
    Time goes to ``timings`` under ``fold_inputs_s``, ``lightgbm_s`` (Datasets, boosting, predicting) and
    ``writing_s`` (model and importance files).
    """
    run: Run
    matrix: TabularMatrix
    folds: np.ndarray
    params: dict
    dataset_params: dict
    num_boost_round: int
    early_stopping_rounds: int
    log_period: int = 0
    transform: FoldTransform | None = None
    timings: Timings = field(default_factory=Timings)
    trained: int = field(default=0, init=False)  # folds fitted by this trainer

    @classmethod
    def from_config(cls, run: Run, cfg: LGBMConfig, matrix: TabularMatrix, folds: np.ndarray, params: dict,
                    transform: FoldTransform | None = None, timings: Timings | None = None) -> "LGBMFoldTrainer":
        return cls(run, matrix, folds, params, dataset_params(cfg.max_bin, cfg.seed, cfg.num_threads),
                   cfg.num_boost_round, cfg.early_stopping_rounds, cfg.log_period, transform,
                   timings or Timings())

    def __call__(self, fold: int) -> FoldResult:
        with self.timings("fold_inputs_s"):
            data = fold_data(self.matrix, self.folds, fold, self.transform)
        with self.timings("lightgbm_s"):
            train_set, valid_set = make_datasets(data, self.dataset_params)
            booster = fit(self.params, train_set, valid_set, self.num_boost_round, self.early_stopping_rounds,
                          self.log_period)
            valid_pred = booster.predict(data.x_valid, num_iteration=booster.best_iteration)
            test_pred = (booster.predict(data.x_test, num_iteration=booster.best_iteration)
                         if data.x_test is not None else None)
        with self.timings("writing_s"):
            save_model(booster, self.run, fold)
        self.trained += 1
        return FoldResult(
            oof=pd.DataFrame({"id": data.ids_valid, "target": data.y_valid, "pred": valid_pred}),
            test=pd.DataFrame({"id": data.ids_test, "pred": test_pred}) if test_pred is not None else None,
            info={"best_iteration": int(booster.best_iteration), "n_features": int(data.x_train.shape[1])})


def save_model(booster: lgb.Booster, run: Run, fold: int) -> None:
    """``fold<k>/model.txt`` (up to the best iteration) and ``fold<k>/importance.csv`` (gain, descending)."""
    fold_dir = run.fold_dir(fold)
    # through Python's write, which names a full disk, where LightGBM's own writer only says "Cannot write"
    atomic_write_text(fold_dir / "model.txt", booster.model_to_string(num_iteration=booster.best_iteration))
    importance = pd.DataFrame({"feature": booster.feature_name(), "importance": booster.feature_importance("gain")})
    atomic_write_csv(fold_dir / FOLD_IMPORTANCE, importance.sort_values("importance", ascending=False))


def train_cv(run: Run, cfg: LGBMConfig, matrix: TabularMatrix, folds: np.ndarray, params: dict, *,
             transform: FoldTransform | None = None, truth: Truth | None = None, timings: Timings | None = None,
             title: str = "LightGBM") -> dict:
    """Train the folds ``cfg.fold`` asks for (finished ones skipped when ``cfg.resume``), write the run's
    report and return its ``metrics.json``; ``timings`` (started by the caller) covers the whole command."""
    timings = timings or Timings()
    lgb.register_logger(run.log)  # LightGBM's evaluation log goes to the run's log.txt too
    atomic_write_text(run.root / "lgb_params.yaml", yaml.safe_dump(params, sort_keys=True))
    todo = parse_folds(cfg.fold, cfg.n_splits)
    run.log.info("%d training / %d test rows, %d features; folds %s", len(matrix.train),
                 0 if matrix.test is None else len(matrix.test), len(matrix.features), todo)
    trainer = LGBMFoldTrainer.from_config(run, cfg, matrix, folds, params, transform, timings)
    metrics = run_folds(run, todo, trainer, n_splits=cfg.n_splits, resume=cfg.resume, truth=truth)
    with timings("summary_s"):
        write_report(run, title)
    done = metrics["completed_folds"]
    return run.update_metrics({"timing": {**timings.summary(), "folds_trained": trainer.trained},
                               "n_features": run.fold_metrics(done[-1]).get("n_features") if done else None})
