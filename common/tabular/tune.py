"""Tune gradient-boosted trees with Optuna on the first folds of any tabular matrix (study driver:
common.tuning.study); the objective is the mean best validation AUC over ``tune_folds`` folds.

LightGBM: the matrix is binned once per study (or read from its cache file: common.tabular.binned) and
each tuning fold's Datasets, taken from it, are reused by every trial, so the Dataset parameters
(``max_bin``...) are fixed for a study and not tuned; pruning watches the first tuning fold's validation AUC
round by round (LightGBMPruningCallback). XGBoost and CatBoost (``--model``): each trial fits their engine
on the folds' inputs, prepared once, and reports each fold's AUC for pruning. The search space is the
recipe's ``search_space`` (:mod:`common.tuning.space`; options of :class:`~common.tabular.config.GBDTConfig`
the model reads), else the model's entry of :data:`DEFAULT_SPACES`. The best parameters (with ``model``) go
to ``best_params.yaml``, which ``--params`` of a GBDTConfig run reads.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import lightgbm as lgb
import numpy as np
import optuna
from optuna_integration import LightGBMPruningCallback

from common.config import RunConfig, option
from common.metrics import roc_auc
from common.progress import progress_bar
from common.run import Run
from common.tabular.config import DEVICES, FIXED_PARAMS, MODELS, OPTIONS_READ, GBDTConfig, check_device, dataset_params
from common.tabular.engine import make_engine, model_params
from common.tabular.lgbm import FoldBinner, fit
from common.tabular.matrix import FoldData, FoldTransform, TabularMatrix, fold_data, split_fold
from common.tuning import study as tuning
from common.tuning.space import SearchSpace, decode, parse_space, suggest

# The options each model's trials may change (LightGBM's max_bin is a Dataset parameter, fixed per study).
TUNABLE = {model: tuple(o for o in OPTIONS_READ[model] if o != "max_bin") for model in MODELS}
_SAMPLING = {"feature_fraction": {"type": "float", "low": 0.1, "high": 1.0},
             "bagging_fraction": {"type": "float", "low": 0.5, "high": 1.0}}
_PENALTIES = {"lambda_l1": {"type": "float", "low": 1e-8, "high": 10.0, "log": True},
              "lambda_l2": {"type": "float", "low": 1e-8, "high": 10.0, "log": True},
              "min_gain_to_split": {"type": "float", "low": 0.0, "high": 1.0}}
DEFAULT_SPACE = {
    "num_leaves": {"type": "int", "low": 8, "high": 256, "log": True},
    "min_data_in_leaf": {"type": "int", "low": 5, "high": 400, "log": True},
    "min_sum_hessian_in_leaf": {"type": "float", "low": 1e-3, "high": 10.0, "log": True},
    **_SAMPLING, **_PENALTIES,
    "max_depth": {"type": "categorical", "choices": [-1, 4, 6, 8, 12]},
}
DEFAULT_SPACES = {
    "lightgbm": DEFAULT_SPACE,
    "xgboost": {
        "max_depth": {"type": "int", "low": 3, "high": 10},
        "min_sum_hessian_in_leaf": {"type": "float", "low": 1e-3, "high": 50.0, "log": True},
        **_SAMPLING, **_PENALTIES,
    },
    "catboost": {
        "max_depth": {"type": "int", "low": 4, "high": 10},
        "lambda_l2": {"type": "float", "low": 0.1, "high": 30.0, "log": True},
        **_SAMPLING,
    },
}


@dataclass
class GBDTTuneConfig(tuning.TuneOptions, RunConfig):
    """Tune gradient-boosted trees' hyper-parameters with Optuna on the first folds of the shared folds."""
    name: str = option("tune", help="run name: runs/<competition>/<name>")
    model: str = option("lightgbm", choices=MODELS, help="the library whose parameters are tuned")
    device: str = option("cpu", choices=DEVICES, help="cuda: XGBoost's and CatBoost's GPU training")
    num_threads: int = option(2, min=0, volatile=True, help="threads of the library")
    study_name: str = option("lgb", help="study name inside the storage")
    learning_rate: float = option(0.05, min=0, min_exclusive=True, help="fixed for the study")
    num_boost_round: int = option(3000, min=1, help="most boosting rounds per trial and fold")
    early_stopping_rounds: int = option(100, min=1, help="stop after this many rounds without a better validation AUC")
    max_bin: int = option(255, min=2, help="fixed for the study (LightGBM: the Datasets are binned once for all "
                                           "trials)")
    n_warmup_steps: int = option(100, min=0, volatile=True, help="first round after which a trial may be pruned")

    def __post_init__(self):
        super().__post_init__()
        check_device(self.model, self.device)


def search_space(raw: dict | None = None, source: str | None = None, model: str = "lightgbm") -> SearchSpace:
    """The checked search space of ``model``: ``raw`` (the ``search_space`` of the file ``source``) or its
    entry of :data:`DEFAULT_SPACES`."""
    if raw is None:
        return parse_space(DEFAULT_SPACES[model], GBDTConfig(), f"common.tabular.tune.DEFAULT_SPACES[{model!r}]",
                           allowed=TUNABLE[model])
    return parse_space(raw, GBDTConfig(), source or "the search space", allowed=TUNABLE[model])


def fixed_params(cfg: GBDTTuneConfig) -> dict:
    """The parameters every trial shares."""
    return {"learning_rate": cfg.learning_rate, "bagging_freq": 1, "num_threads": cfg.num_threads,
            "seed": cfg.seed, **FIXED_PARAMS}


def bin_folds(matrix: TabularMatrix, folds: np.ndarray, cfg: GBDTTuneConfig,
              transform: FoldTransform | None = None) -> list[tuple[lgb.Dataset, lgb.Dataset]]:
    """Binned (training, validation) Datasets of the first ``cfg.tune_folds`` folds, built once per study:
    subsets of the matrix binned once, with the transform's columns binned per fold."""
    binner = FoldBinner(dataset_params(cfg.max_bin, cfg.seed, cfg.num_threads))
    return [binner(split_fold(matrix, folds, fold, transform))
            for fold in progress_bar(range(cfg.tune_folds), enabled=cfg.progress, desc="binning folds")]


def make_objective(cfg: GBDTTuneConfig, datasets: list[tuple[lgb.Dataset, lgb.Dataset]],
                   space: SearchSpace | None = None):
    """Objective: mean best validation AUC over the tuning folds; the first fold reports for pruning."""
    space = space or search_space()

    def objective(trial: optuna.Trial) -> float:
        params = {**fixed_params(cfg), **suggest(trial, space)}
        aucs, rounds = [], []
        for i, (train_set, valid_set) in enumerate(datasets):
            callbacks = [LightGBMPruningCallback(trial, "auc", valid_name="valid")] if i == 0 else []
            booster = fit(params, train_set, valid_set, cfg.num_boost_round, cfg.early_stopping_rounds,
                          callbacks=callbacks)
            aucs.append(float(booster.best_score["valid"]["auc"]))
            rounds.append(int(booster.best_iteration))
        trial.set_user_attr("fold_aucs", aucs)
        trial.set_user_attr("best_iterations", rounds)
        return float(np.mean(aucs))
    return objective


def trial_config(cfg: GBDTTuneConfig, options: dict) -> GBDTConfig:
    """The training config of one trial: the study's fixed values and the trial's ``options``."""
    return GBDTConfig(model=cfg.model, device=cfg.device, num_threads=cfg.num_threads, seed=cfg.seed,
                      learning_rate=cfg.learning_rate, num_boost_round=cfg.num_boost_round,
                      early_stopping_rounds=cfg.early_stopping_rounds, max_bin=cfg.max_bin, log_period=0,
                      **options)


def make_engine_objective(cfg: GBDTTuneConfig, folds: list[FoldData], categorical: list[str],
                          space: SearchSpace):
    """Objective of an XGBoost or CatBoost study: mean best validation AUC over the prepared ``folds``,
    each fold's AUC reported (step = fold) for pruning."""
    def objective(trial: optuna.Trial) -> float:
        trial_cfg = trial_config(cfg, suggest(trial, space))
        engine = make_engine(trial_cfg, model_params(trial_cfg), categorical)
        aucs, rounds = [], []
        for step, data in enumerate(folds):
            fitted = engine.fit(data)
            aucs.append(roc_auc(data.y_valid, fitted.valid_pred))
            rounds.append(fitted.best_iteration)
            trial.report(float(np.mean(aucs)), step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        trial.set_user_attr("fold_aucs", aucs)
        trial.set_user_attr("best_iterations", rounds)
        return float(np.mean(aucs))
    return objective


def run_study(run: Run, cfg: GBDTTuneConfig, load: Callable[[], tuple[TabularMatrix, np.ndarray]],
              transform: FoldTransform | None = None, space: SearchSpace | None = None,
              final_command: str | None = None) -> dict:
    """Run (or resume) the study up to ``cfg.n_trials`` finished trials and write the best parameters.

    ``load() -> (matrix, folds)`` is called only when trials are left to run.
    """
    space = space or search_space(model=cfg.model)

    def objective():
        matrix, folds = load()
        if cfg.model == "lightgbm":  # the Datasets hold the data
            return make_objective(cfg, bin_folds(matrix, folds, cfg, transform), space)
        inputs = [fold_data(matrix, folds, fold, transform) for fold in range(cfg.tune_folds)]
        return make_engine_objective(cfg, inputs, matrix.categorical_features, space)

    def params_of(trial: optuna.trial.FrozenTrial) -> dict:
        if cfg.model == "lightgbm":
            return {"learning_rate": cfg.learning_rate, "bagging_freq": 1, **decode(space, trial.params)}
        return {"model": cfg.model, "learning_rate": cfg.learning_rate, **decode(space, trial.params)}

    return tuning.run_study(run, cfg, objective, params_of, extra={"max_bin": cfg.max_bin},
                            final_command=final_command)
