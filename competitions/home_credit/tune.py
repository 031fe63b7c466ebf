"""Tune LightGBM on the shared folds with Optuna (TPE sampler, median pruner).

    python competitions/home_credit/tune.py --n-trials 50                      # SQLite study in the run folder
    python competitions/home_credit/tune.py --storage postgresql://user@host/db   # several workers, one study
    python competitions/home_credit/train.py --params runs/home_credit/tune/best_params.yaml

The study lives in ``runs/home_credit/<name>/study.db`` unless ``--storage`` names another Optuna RDB URL;
rerunning the command resumes it: finished trials are kept, a trial left RUNNING by a killed worker is
marked failed by the heartbeat and retried, and ``--n-trials`` counts finished trials of the whole study.
The binned LightGBM Datasets are built once per fold and reused by every trial, so the Dataset parameters
(``max_bin``, ``min_data_in_bin``) are fixed for the study (``--max-bin``) and not tuned.
Pruning watches the first tuning fold's validation AUC round by round (LightGBMPruningCallback); the
objective is the mean best AUC over ``--tune-folds`` folds.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import optuna
import yaml
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.study import MaxTrialsCallback
from optuna.trial import TrialState
from optuna_integration import LightGBMPruningCallback
from tqdm import tqdm

from common.config import config_to_dict, parse_config
from common.io import atomic_write_text
from common.paths import default_data_dir
from common.run import Run
from common.seed import seed_everything
from competitions.home_credit.features.build import ALL_GROUPS
from competitions.home_credit.model import (
    COMPETITION, dataset_params, fit, fold_data, load_matrix, make_datasets, run_cli, shared_folds)
from competitions.home_credit.train import TE_COLUMNS

# Options that may change when a study is resumed or joined by another worker.
_SESSION_OPTIONS = ("n_trials", "timeout", "storage", "num_threads")


@dataclass
class TuneConfig:
    """Tune LightGBM hyper-parameters with Optuna on the shared Home Credit folds."""
    data: str | None = field(default=None, metadata={"help": "data folder (default: data/home_credit)"})
    name: str = field(default="tune", metadata={"help": "run name: runs/home_credit/<name>"})
    tables: list[str] = field(default_factory=lambda: list(ALL_GROUPS),
                              metadata={"help": "feature groups to use", "choices": ALL_GROUPS})
    folds_file: str | None = None
    n_splits: int = 5
    tune_folds: int = field(default=3, metadata={"help": "folds each trial trains on (the first k)"})
    seed: int = 42
    num_threads: int = 2
    n_trials: int = field(default=30, metadata={"help": "finished trials wanted in the whole study"})
    timeout: float | None = field(default=None, metadata={"help": "stop this worker after this many seconds"})
    storage: str | None = field(default=None, metadata={"help": "Optuna RDB URL (default: SQLite file "
                                                                "study.db in the run folder)"})
    study_name: str = "home_credit_lgb"
    learning_rate: float = 0.05
    num_boost_round: int = 3000
    early_stopping_rounds: int = 100
    max_bin: int = field(default=255, metadata={"help": "fixed: the Datasets are binned once for all trials"})
    n_startup_trials: int = field(default=5, metadata={"help": "trials before the pruner and TPE kick in"})
    n_warmup_steps: int = field(default=100, metadata={"help": "rounds before a trial may be pruned"})
    target_encoding: bool = True
    te_columns: list[str] = field(default_factory=lambda: list(TE_COLUMNS))


def suggest_params(trial: optuna.Trial) -> dict:
    """The search space (model parameters only: none of them changes the binned Dataset)."""
    return {
        "num_leaves": trial.suggest_int("num_leaves", 8, 256, log=True),
        "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 5, 400, log=True),
        "min_sum_hessian_in_leaf": trial.suggest_float("min_sum_hessian_in_leaf", 1e-3, 10.0, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.1, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
        "lambda_l1": trial.suggest_float("lambda_l1", 1e-8, 10.0, log=True),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-8, 10.0, log=True),
        "min_gain_to_split": trial.suggest_float("min_gain_to_split", 0.0, 1.0),
        "max_depth": trial.suggest_categorical("max_depth", [-1, 4, 6, 8, 12]),
    }


def fixed_params(cfg: TuneConfig) -> dict:
    return {"learning_rate": cfg.learning_rate, "bagging_freq": 1, "num_threads": cfg.num_threads,
            "seed": cfg.seed, "force_col_wise": True, "deterministic": True}


def make_objective(cfg: TuneConfig, datasets: list[tuple[lgb.Dataset, lgb.Dataset]]):
    """Objective: mean best validation AUC over the tuning folds; the first fold reports for pruning."""
    def objective(trial: optuna.Trial) -> float:
        params = {**fixed_params(cfg), **suggest_params(trial)}
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


def open_study(cfg: TuneConfig, run: Run) -> optuna.Study:
    """Create or load the study; a trial whose worker died is failed by the heartbeat and retried."""
    url = cfg.storage or f"sqlite:///{(run.root / 'study.db').resolve()}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = RDBStorage(url, heartbeat_interval=60, grace_period=180,
                             heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1))
    sampler = optuna.samplers.TPESampler(seed=cfg.seed, n_startup_trials=cfg.n_startup_trials)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=cfg.n_startup_trials, n_warmup_steps=cfg.n_warmup_steps)
    return optuna.create_study(study_name=cfg.study_name, storage=storage, sampler=sampler, pruner=pruner,
                               direction="maximize", load_if_exists=True)


def finished_trials(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def write_best(study: optuna.Study, cfg: TuneConfig, run: Run) -> dict:
    """``best_params.yaml``: the LightGBM parameters train.py reads with ``--params``, and the evidence."""
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        raise ValueError(f"study {cfg.study_name} has no completed trial yet: run more trials")
    best = study.best_trial
    params = {**suggest_params(optuna.trial.FixedTrial(best.params)), "learning_rate": cfg.learning_rate,
              "bagging_freq": 1}
    result = {"params": params, "cv_auc": float(best.value), "trial": best.number,
              "fold_aucs": best.user_attrs.get("fold_aucs"), "best_iterations": best.user_attrs.get("best_iterations"),
              "finished_trials": finished_trials(study), "max_bin": cfg.max_bin}
    atomic_write_text(run.root / "best_params.yaml", yaml.safe_dump(result, sort_keys=False))
    run.update_metrics({"tune": {k: v for k, v in result.items() if k != "params"}})
    return result


def main(argv: list[str] | None = None) -> dict:
    """Run (or resume) the study and write the best parameters; return them with their CV AUC."""
    cfg = parse_config(TuneConfig, argv)
    cfg.data = str(cfg.data or default_data_dir(COMPETITION))
    if not 1 <= cfg.tune_folds <= cfg.n_splits:
        raise ValueError(f"--tune-folds must be within 1..{cfg.n_splits}, got {cfg.tune_folds}")
    seed_everything(cfg.seed)
    run = Run.open(COMPETITION, cfg.name)
    run.save_config({k: v for k, v in config_to_dict(cfg).items() if k not in _SESSION_OPTIONS})
    study = open_study(cfg, run)
    done = finished_trials(study)
    if done < cfg.n_trials:
        matrix = load_matrix(cfg.data, cfg.tables)
        folds = shared_folds(matrix, cfg.folds_file, cfg.n_splits, cfg.seed)
        datasets = []
        for fold in tqdm(range(cfg.tune_folds), desc="binning folds"):
            data = fold_data(matrix, folds, fold, cfg.te_columns if cfg.target_encoding else [], cfg.seed)
            datasets.append(make_datasets(data, dataset_params(cfg.max_bin, cfg.seed, cfg.num_threads)))
        del matrix
        run.log.info("study %s: %d finished trials, running up to %d more", cfg.study_name, done,
                     cfg.n_trials - done)
        study.optimize(make_objective(cfg, datasets), n_trials=cfg.n_trials - done, timeout=cfg.timeout,
                       callbacks=[MaxTrialsCallback(cfg.n_trials, states=(TrialState.COMPLETE, TrialState.PRUNED))],
                       show_progress_bar=True)
    result = write_best(study, cfg, run)
    run.log.info("best CV AUC %.5f (trial %d of %d finished); parameters in %s", result["cv_auc"],
                 result["trial"], result["finished_trials"], run.root / "best_params.yaml")
    return result


if __name__ == "__main__":
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    run_cli(main)
