"""Tune LightGBM with Optuna (TPE sampler, median pruner) on the first folds of any tabular matrix.

The binned Datasets are built once per fold and reused by every trial, so the Dataset parameters
(``max_bin``...) are fixed for a study and not tuned. Pruning watches the first tuning fold's validation
AUC round by round (LightGBMPruningCallback); the objective is the mean best AUC over ``tune_folds`` folds.
The study lives in an Optuna RDB storage (default: SQLite ``study.db`` in the run folder); running again
resumes it: finished trials are kept, a trial left RUNNING by a killed worker is failed by the heartbeat
(no heartbeat for ``grace_period`` seconds) and retried once with the same parameters, and ``n_trials``
counts finished trials of the whole study, whichever worker ran them. Several workers may share one study
(``--storage`` of a server database; SQLite works for a few workers on one machine): each trial draws
its parameters with a seed of its own trial number, so workers do not repeat each other, and a worker
starts a trial only while finished plus running trials stay under ``n_trials``.
The best parameters go to ``best_params.yaml``, which ``--params`` of an LGBMConfig run reads.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import lightgbm as lgb
import numpy as np
import optuna
import yaml
from optuna.storages import RDBStorage
from optuna.trial import TrialState
from optuna_integration import LightGBMPruningCallback

from common.config import RunConfig, option
from common.io import atomic_write_text
from common.progress import progress_bar
from common.run import Run
from common.tabular.config import FIXED_PARAMS, dataset_params
from common.tabular.lgbm import fit, make_datasets
from common.tabular.matrix import FoldTransform, TabularMatrix, fold_data

try:  # optuna >= 4.9 names the stale-trial callback for what it does
    from optuna.storages import RetryHeartbeatStaleTrialCallback as _RetryStale
    _STALE_CALLBACK_ARG = "heartbeat_stale_trial_callback"
except ImportError:  # optuna < 4.9: the same callback under its old name
    from optuna.storages import RetryFailedTrialCallback as _RetryStale
    _STALE_CALLBACK_ARG = "failed_trial_callback"

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
TAKEN = (*FINISHED, TrialState.RUNNING)  # what counts against n_trials when a worker starts a trial


@dataclass
class LGBMTuneConfig(RunConfig):
    """Tune LightGBM hyper-parameters with Optuna on the first folds of the shared folds."""
    name: str = option("tune", help="run name: runs/<competition>/<name>")
    tune_folds: int = option(3, min=1, help="folds each trial trains on (the first k)")
    num_threads: int = option(2, min=0, volatile=True, help="LightGBM threads")
    n_trials: int = option(30, min=1, volatile=True, help="finished trials wanted in the whole study")
    timeout: float | None = option(None, min=0, min_exclusive=True, volatile=True,
                                   help="stop this worker after this many seconds")
    storage: str | None = option(None, volatile=True, help="Optuna RDB URL, e.g. postgresql://user@host/db "
                                                           "(default: SQLite file study.db in the run folder)")
    study_name: str = option("lgb", help="study name inside the storage")
    learning_rate: float = option(0.05, min=0, min_exclusive=True, help="fixed for the study")
    num_boost_round: int = option(3000, min=1, help="most boosting rounds per trial and fold")
    early_stopping_rounds: int = option(100, min=1, help="stop after this many rounds without a better validation AUC")
    max_bin: int = option(255, min=2, help="fixed: the Datasets are binned once for all trials")
    n_startup_trials: int = option(5, min=0, help="trials before the pruner and TPE kick in")
    n_warmup_steps: int = option(100, min=0, help="rounds before a trial may be pruned")
    heartbeat_interval: int = option(60, min=1, volatile=True, help="seconds between a running trial's heartbeats")
    grace_period: int = option(180, min=1, volatile=True, help="a running trial without a heartbeat for this many "
                                                        "seconds is failed (its worker died) and retried")

    def __post_init__(self):
        super().__post_init__()
        if self.heartbeat_interval < 1 or self.grace_period <= self.heartbeat_interval:
            raise ValueError(f"--heartbeat-interval must be >= 1 and --grace-period above it, got "
                             f"{self.heartbeat_interval} and {self.grace_period}")
        if not 1 <= self.tune_folds <= self.n_splits:
            raise ValueError(f"--tune-folds must be within 1..{self.n_splits}, got {self.tune_folds}")


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


def make_objective(cfg: LGBMTuneConfig, datasets: list[tuple[lgb.Dataset, lgb.Dataset]]):
    """Objective: mean best validation AUC over the tuning folds; the first fold reports for pruning."""
    def objective(trial: optuna.Trial) -> float:
        if taken_trials(trial.study, before=trial.number) >= cfg.n_trials:
            # Another worker took the last trial between our check and this one: fail it unrun (a FAIL is
            # not counted); StopWhenTaken then stops this worker.
            trial.set_user_attr("surplus", True)
            raise SurplusTrial(f"study already has {cfg.n_trials} finished or running trials")
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


class TrialSeededTPESampler(optuna.samplers.BaseSampler):
    """TPE whose random draws are seeded by ``(seed, trial number)``: reproducible for one worker, and
    neither a resumed study nor a second worker on the same study repeats the parameters of earlier
    trials (one TPESampler per trial, built from public arguments only). ``constant_liar`` keeps
    concurrent workers from proposing the same region while trials run."""

    def __init__(self, seed: int, n_startup_trials: int):
        self._seed, self._n_startup_trials = seed, n_startup_trials
        self._tpe = self._make(seed)

    def _make(self, seed: int) -> optuna.samplers.TPESampler:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(seed=seed, n_startup_trials=self._n_startup_trials,
                                              constant_liar=True)

    def before_trial(self, study, trial):
        self._tpe = self._make(int(np.random.SeedSequence([self._seed, trial.number]).generate_state(1)[0]))
        self._tpe.before_trial(study, trial)

    def infer_relative_search_space(self, study, trial):
        return self._tpe.infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        return self._tpe.sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self._tpe.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study, trial, state, values):
        self._tpe.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._tpe.reseed_rng()


def storage_url(cfg: LGBMTuneConfig, run: Run) -> str:
    return cfg.storage or f"sqlite:///{(run.root / 'study.db').resolve()}"


def open_study(cfg: LGBMTuneConfig, run: Run) -> optuna.Study:
    """Create or load the study; a trial whose worker died is failed by the heartbeat and retried once."""
    url = storage_url(cfg, run)
    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.simplefilter("ignore", FutureWarning)
        storage = RDBStorage(url, engine_kwargs=engine_kwargs, heartbeat_interval=cfg.heartbeat_interval,
                             grace_period=cfg.grace_period, **{_STALE_CALLBACK_ARG: _RetryStale(max_retry=1)})
    sampler = TrialSeededTPESampler(cfg.seed, cfg.n_startup_trials)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=cfg.n_startup_trials, n_warmup_steps=cfg.n_warmup_steps)
    return optuna.create_study(study_name=cfg.study_name, storage=storage, sampler=sampler, pruner=pruner,
                               direction="maximize", load_if_exists=True)


class SurplusTrial(Exception):
    """A trial started by a worker that lost the race for the last of ``n_trials``: failed, not run."""


def fail_stale(study: optuna.Study) -> None:
    """Fail (and queue for retry) the running trials whose worker stopped beating."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def taken_trials(study: optuna.Study, before: int | None = None) -> int:
    """Finished plus running trials (of numbers below ``before``): the ones counted against n_trials."""
    trials = study.get_trials(deepcopy=False, states=TAKEN)
    return sum(1 for t in trials if before is None or t.number < before)


class StopWhenTaken:
    """Stop this worker once the finished and running trials of the whole study reach ``n_trials``."""

    def __init__(self, n_trials: int):
        self.n_trials = n_trials

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        fail_stale(study)  # a dead worker's trial is no longer running: it is queued again instead
        waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        if taken_trials(study) >= self.n_trials and not waiting:
            study.stop()


def finished_trials(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def write_best(study: optuna.Study, cfg: LGBMTuneConfig, run: Run) -> dict:
    """``best_params.yaml``: the LightGBM parameters ``--params`` reads, and the evidence for them."""
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


def run_study(run: Run, cfg: LGBMTuneConfig, load: Callable[[], tuple[TabularMatrix, np.ndarray]],
              transform: FoldTransform | None = None) -> dict:
    """Run (or resume) the study up to ``cfg.n_trials`` finished trials and write the best parameters.

    ``load() -> (matrix, folds)`` is called only when trials are left to run.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = open_study(cfg, run)
    fail_stale(study)
    done = finished_trials(study)
    if taken_trials(study) < cfg.n_trials:
        matrix, folds = load()
        datasets = bin_folds(matrix, folds, cfg, transform)
        del matrix  # the Datasets hold what the trials need
        run.log.info("study %s: %d finished trials, running up to %d more", cfg.study_name, done,
                     cfg.n_trials - done)
        study.optimize(make_objective(cfg, datasets), n_trials=cfg.n_trials - done, timeout=cfg.timeout,
                       callbacks=[StopWhenTaken(cfg.n_trials)], catch=(SurplusTrial,),
                       show_progress_bar=cfg.progress)
    result = write_best(study, cfg, run)
    run.log.info("best CV AUC %.5f (trial %d of %d finished); parameters in %s", result["cv_auc"],
                 result["trial"], result["finished_trials"], run.root / "best_params.yaml")
    return result
