"""Tune LightGBM with Optuna on the first folds of any tabular matrix (study driver: common.tuning.study).

The binned Datasets are built once per fold and reused by every trial, so the Dataset parameters
(``max_bin``...) are fixed for a study and not tuned. Pruning watches the first tuning fold's validation
AUC round by round (LightGBMPruningCallback); the objective is the mean best AUC over ``tune_folds`` folds.
The search space is the recipe's ``search_space`` (:mod:`common.tuning.space`; options of
:class:`~common.tabular.config.LGBMConfig` that are LightGBM model parameters), :data:`DEFAULT_SPACE`
without one. The best parameters go to ``best_params.yaml``, which ``--params`` of an LGBMConfig run reads.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import lightgbm as lgb
import numpy as np
import optuna
from optuna_integration import LightGBMPruningCallback

from common.config import RunConfig, option
from common.progress import progress_bar
from common.run import Run
from common.tabular.config import FIXED_PARAMS, LGBMConfig, dataset_params
from common.tabular.lgbm import fit, make_datasets
from common.tabular.matrix import FoldTransform, TabularMatrix, fold_data
from common.tuning import study as tuning
from common.tuning.space import SearchSpace, decode, parse_space, suggest

# LGBMConfig options that are LightGBM model parameters (a Dataset parameter cannot change between trials).
TUNABLE = ("learning_rate", "num_leaves", "max_depth", "min_data_in_leaf", "min_sum_hessian_in_leaf",
           "feature_fraction", "bagging_fraction", "bagging_freq", "lambda_l1", "lambda_l2", "min_gain_to_split")
DEFAULT_SPACE = {
    "num_leaves": {"type": "int", "low": 8, "high": 256, "log": True},
    "min_data_in_leaf": {"type": "int", "low": 5, "high": 400, "log": True},
    "min_sum_hessian_in_leaf": {"type": "float", "low": 1e-3, "high": 10.0, "log": True},
    "feature_fraction": {"type": "float", "low": 0.1, "high": 1.0},
    "bagging_fraction": {"type": "float", "low": 0.5, "high": 1.0},
    "lambda_l1": {"type": "float", "low": 1e-8, "high": 10.0, "log": True},
    "lambda_l2": {"type": "float", "low": 1e-8, "high": 10.0, "log": True},
    "min_gain_to_split": {"type": "float", "low": 0.0, "high": 1.0},
    "max_depth": {"type": "categorical", "choices": [-1, 4, 6, 8, 12]},
}


@dataclass
class LGBMTuneConfig(tuning.TuneOptions, RunConfig):
    """Tune LightGBM hyper-parameters with Optuna on the first folds of the shared folds."""
    name: str = option("tune", help="run name: runs/<competition>/<name>")
    num_threads: int = option(2, min=0, volatile=True, help="LightGBM threads")
    study_name: str = option("lgb", help="study name inside the storage")
    learning_rate: float = option(0.05, min=0, min_exclusive=True, help="fixed for the study")
    num_boost_round: int = option(3000, min=1, help="most boosting rounds per trial and fold")
    early_stopping_rounds: int = option(100, min=1, help="stop after this many rounds without a better validation AUC")
    max_bin: int = option(255, min=2, help="fixed: the Datasets are binned once for all trials")
    n_warmup_steps: int = option(100, min=0, volatile=True, help="first round after which a trial may be pruned")


def search_space(raw: dict | None = None, source: str | None = None) -> SearchSpace:
    """The checked search space: ``raw`` (the ``search_space`` of the file ``source``) or :data:`DEFAULT_SPACE`."""
    if raw is None:
        return parse_space(DEFAULT_SPACE, LGBMConfig(), "common.tabular.tune.DEFAULT_SPACE", allowed=TUNABLE)
    return parse_space(raw, LGBMConfig(), source or "the search space", allowed=TUNABLE)


def fixed_params(cfg: LGBMTuneConfig) -> dict:
    """The parameters every trial shares."""
    return {"learning_rate": cfg.learning_rate, "bagging_freq": 1, "num_threads": cfg.num_threads,
            "seed": cfg.seed, **FIXED_PARAMS}


def bin_folds(matrix: TabularMatrix, folds: np.ndarray, cfg: LGBMTuneConfig,
              transform: FoldTransform | None = None) -> list[tuple[lgb.Dataset, lgb.Dataset]]:
    """Binned (training, validation) Datasets of the first ``cfg.tune_folds`` folds, built once."""
    params = dataset_params(cfg.max_bin, cfg.seed, cfg.num_threads)
    return [make_datasets(fold_data(matrix, folds, fold, transform), params)
            for fold in progress_bar(range(cfg.tune_folds), enabled=cfg.progress, desc="binning folds")]


def make_objective(cfg: LGBMTuneConfig, datasets: list[tuple[lgb.Dataset, lgb.Dataset]],
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


def run_study(run: Run, cfg: LGBMTuneConfig, load: Callable[[], tuple[TabularMatrix, np.ndarray]],
              transform: FoldTransform | None = None, space: SearchSpace | None = None,
              final_command: str | None = None) -> dict:
    """Run (or resume) the study up to ``cfg.n_trials`` finished trials and write the best parameters.

    ``load() -> (matrix, folds)`` is called only when trials are left to run.
    """
    space = space or search_space()

    def objective():
        matrix, folds = load()
        return make_objective(cfg, bin_folds(matrix, folds, cfg, transform), space)  # the Datasets hold the data

    def params_of(trial: optuna.trial.FrozenTrial) -> dict:
        return {"learning_rate": cfg.learning_rate, "bagging_freq": 1, **decode(space, trial.params)}

    return tuning.run_study(run, cfg, objective, params_of, extra={"max_bin": cfg.max_bin},
                            final_command=final_command)
