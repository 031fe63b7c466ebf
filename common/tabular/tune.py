"""Tune gradient-boosted trees with Optuna on the first folds of any tabular matrix (study driver:
common.tuning.study); the objective is the mean best validation AUC over ``tune_folds`` folds.

A trial trains as a run does: its options (the study's, with the trial's suggestions) make a
:class:`~common.tabular.config.GBDTConfig`, whose library parameters (``common.tabular.protocol.model_params``)
fit the engine of ``--model`` on each tuning fold's inputs, prepared once per study (without the test rows, which
no trial predicts). LightGBM's are subsets of the matrix binned once (or read from its cache file:
common.tabular.binned), so the Dataset parameters (``max_bin``...) are fixed for a study and not tuned. Pruning
watches the validation AUC: LightGBM's first tuning fold round by round, XGBoost's and CatBoost's mean over the
folds so far, fold by fold (``Engine.reports_rounds``). The search space is the recipe's ``search_space``
(:mod:`common.tuning.space`; options the model reads), else the model's entry of :data:`DEFAULT_SPACES`; the
options not searched keep the study's values (its recipe's, else the training defaults). The best parameters go
to ``best_params.yaml`` with ``model`` and the study's values of the unsearched options the model tunes, which
``--params`` of a GBDTConfig run reads.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable

import numpy as np
import optuna

from common.config import option
from common.metrics import roc_auc
from common.progress import progress_bar
from common.run import Run
from common.tabular.config import MODELS, OPTIONS_READ, GBDTConfig
from common.tabular.matrix import FoldTransform, TabularMatrix, split_fold
from common.tabular.protocol import OnRound, make_engine, model_params
from common.tabular.timing import Timings
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


def _study_default(name: str, default: Any) -> Any:
    """``GBDTConfig``'s option ``name`` (its help and limits) with a study's own default."""
    training = next(f for f in fields(GBDTConfig) if f.name == name)
    return field(default=default, metadata=training.metadata)


@dataclass
class GBDTTuneConfig(tuning.TuneOptions, GBDTConfig):
    """Tune gradient-boosted trees' hyper-parameters with Optuna on the first folds of the shared folds; the
    training options not searched are fixed for the study."""
    name: str = option("tune", help="run name: runs/<competition>/<name>")
    study_name: str = option("lgb", help="study name inside the storage")
    # cheaper trials than a training run's 0.03 and 5000
    learning_rate: float = _study_default("learning_rate", 0.05)
    num_boost_round: int = _study_default("num_boost_round", 3000)
    n_warmup_steps: int = option(100, min=0, volatile=True, help="first step after which a trial may be pruned "
                                                                "(LightGBM: boosting round; XGBoost, CatBoost: fold)")


def search_space(raw: dict | None = None, source: str | None = None, model: str = "lightgbm") -> SearchSpace:
    """The checked search space of ``model``: ``raw`` (the ``search_space`` of the file ``source``) or its
    entry of :data:`DEFAULT_SPACES`."""
    if raw is None:
        return parse_space(DEFAULT_SPACES[model], GBDTConfig(), f"common.tabular.tune.DEFAULT_SPACES[{model!r}]",
                           allowed=TUNABLE[model])
    return parse_space(raw, GBDTConfig(), source or "the search space", allowed=TUNABLE[model])


def trial_config(cfg: GBDTTuneConfig, options: dict) -> GBDTConfig:
    """The training config of one trial: the study's options, the trial's ``options`` over them."""
    study = {f.name: getattr(cfg, f.name) for f in fields(GBDTConfig)}
    return GBDTConfig(**{**study, "log_period": 0, **options})


@dataclass
class TuningFold:
    """One tuning fold: the engine's inputs (built once per study) and the labels of its validation rows."""
    inputs: Any
    y_valid: np.ndarray


def tuning_folds(cfg: GBDTTuneConfig, matrix: TabularMatrix, folds: np.ndarray,
                 transform: FoldTransform | None = None) -> list[TuningFold]:
    """The first ``cfg.tune_folds`` folds' inputs for the ``--model`` engine, with the transform fitted on each
    fold's training rows; the test rows left out (no trial predicts them)."""
    study_cfg = trial_config(cfg, {})
    engine = make_engine(study_cfg, model_params(study_cfg), matrix.categorical_features)
    rows, timings, out = replace(matrix, test=None), Timings(), []
    for fold in progress_bar(range(cfg.tune_folds), enabled=cfg.progress, desc="tuning folds"):
        split = split_fold(rows, folds, fold, transform)
        out.append(TuningFold(engine.inputs(split, timings), split.y_valid))
    return out


def pruning_report(trial: optuna.Trial) -> OnRound:
    """``report(step, auc)``: the trial's intermediate value at ``step``, pruned when the pruner says so."""
    def report(step: int, auc: float) -> None:
        trial.report(auc, step)
        if trial.should_prune():
            raise optuna.TrialPruned(f"Trial was pruned at step {step}.")
    return report


def make_objective(cfg: GBDTTuneConfig, folds: list[TuningFold], categorical: list[str],
                   space: SearchSpace | None = None):
    """Objective: the mean best validation AUC over the tuning ``folds`` of the trial's model, fitted as in a
    run; an engine that reports rounds reports the first fold's for pruning, another each fold's mean so far."""
    space = space or search_space(model=cfg.model)

    def objective(trial: optuna.Trial) -> float:
        trial_cfg = trial_config(cfg, suggest(trial, space))
        engine = make_engine(trial_cfg, model_params(trial_cfg), categorical)
        report = pruning_report(trial)
        aucs, rounds = [], []
        for step, fold in enumerate(folds):
            fitted = engine.fit(fold.inputs, on_round=report if engine.reports_rounds and step == 0 else None)
            aucs.append(roc_auc(fold.y_valid, fitted.valid_pred))
            rounds.append(fitted.best_iteration)
            if not engine.reports_rounds:
                report(step, float(np.mean(aucs)))
        trial.set_user_attr("fold_aucs", aucs)
        trial.set_user_attr("best_iterations", rounds)
        return float(np.mean(aucs))
    return objective


def best_params(cfg: GBDTTuneConfig, space: SearchSpace, trial: optuna.trial.FrozenTrial) -> dict:
    """What ``--params`` trains a trial's model with: the model, the study's values of the options the model
    tunes that were not searched (the learning rate...), and the trial's searched ones."""
    fixed = {name: getattr(cfg, name) for name in TUNABLE[cfg.model] if name not in space}
    return {"model": cfg.model, **fixed, **decode(space, trial.params)}


def run_study(run: Run, cfg: GBDTTuneConfig, load: Callable[[], tuple[TabularMatrix, np.ndarray]],
              transform: FoldTransform | None = None, space: SearchSpace | None = None,
              final_command: str | None = None) -> dict:
    """Run (or resume) the study up to ``cfg.n_trials`` finished trials and write the best parameters.

    ``load() -> (matrix, folds)`` is called only when trials are left to run.
    """
    space = space or search_space(model=cfg.model)

    def objective():
        matrix, folds = load()
        return make_objective(cfg, tuning_folds(cfg, matrix, folds, transform), matrix.categorical_features, space)

    return tuning.run_study(run, cfg, objective, lambda trial: best_params(cfg, space, trial),
                            extra={"max_bin": cfg.max_bin}, final_command=final_command)
