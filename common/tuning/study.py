"""The engine-free part of an Optuna study: storage, sampler, pruner, trial budget, best parameters.

    result = run_study(run, cfg, make_objective, params_of, final_command="python .../train.py --params ...")

``make_objective()`` (called only while trials are left, so data is read only then) returns
``objective(trial) -> score`` (maximised); it reports its first tuning fold's validation AUC per epoch or
boosting round and raises ``optuna.TrialPruned`` when told to. ``params_of(trial)`` turns a finished trial
into the options ``--params`` of the engine's training CLI takes.

The study lives in an Optuna storage: SQLite ``study.db`` in the run folder, or ``--storage`` (any Optuna
RDB URL, e.g. PostgreSQL for several machines; or ``journal:<file>``, a journal file without heartbeats). Running again
resumes it: finished trials are kept, a trial left RUNNING by a killed worker is failed by the heartbeat (no
heartbeat for ``grace_period`` seconds) and retried once with the same parameters, and ``n_trials`` counts
finished trials of the whole study, whichever worker ran them. Several workers may share one study: each
trial draws its parameters with a seed of its own trial number, so workers do not repeat each other, and a
worker starts a trial only while finished plus running trials stay under ``n_trials``.
The best parameters go to ``best_params.yaml``; plots of the study beside it (:mod:`common.tuning.plots`).
"""
from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import optuna
import yaml
from optuna.storages import JournalStorage, RDBStorage
from optuna.trial import FrozenTrial, TrialState

from common.errors import BadInput
from common.config import option
from common.io import atomic_write_text
from common.run import Run
from common.tuning.plots import save_plots

try:  # optuna >= 4.9 names the stale-trial callback for what it does
    from optuna.storages import RetryHeartbeatStaleTrialCallback as _RetryStale
    _STALE_CALLBACK_ARG = "heartbeat_stale_trial_callback"
except ImportError:  # optuna < 4.9: the same callback under its old name
    from optuna.storages import RetryFailedTrialCallback as _RetryStale
    _STALE_CALLBACK_ARG = "failed_trial_callback"

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
TAKEN = (*FINISHED, TrialState.RUNNING)  # what counts against n_trials when a worker starts a trial
JOURNAL = "journal:"
Objective = Callable[[optuna.Trial], float]


@dataclass
class TuneOptions:
    """The options of every study (a mixin in front of an engine's config)."""
    n_trials: int = option(30, min=1, volatile=True, help="finished trials wanted in the whole study")
    tune_folds: int = option(3, min=1, help="folds each trial trains on (the first k); the first reports "
                                            "for pruning")
    timeout: float | None = option(None, min=0, min_exclusive=True, volatile=True,
                                   help="stop this worker after this many seconds")
    storage: str | None = option(None, volatile=True, help="Optuna storage URL, e.g. postgresql://user@host/db "
                                                           "or journal:/path/study.log (default: SQLite file "
                                                           "study.db in the run folder)")
    study_name: str = option("study", help="study name inside the storage")
    n_startup_trials: int = option(5, min=0, volatile=True, help="trials before the pruner and TPE kick in")
    n_warmup_steps: int = option(2, min=0, volatile=True,
                                 help="first epoch (boosting round) after which a trial may be pruned")
    prune_below: float | None = option(None, volatile=True,
                                       help="prune a trial whose first-fold validation AUC is below this "
                                            "(instead of below the median of earlier trials)")
    heartbeat_interval: int = option(60, min=1, volatile=True, help="seconds between a running trial's heartbeats")
    grace_period: int = option(180, min=1, volatile=True, help="a running trial without a heartbeat for this many "
                                                               "seconds is failed (its worker died) and retried")

    def __post_init__(self):
        super().__post_init__()
        if self.grace_period <= self.heartbeat_interval:
            raise BadInput(f"--heartbeat-interval must be >= 1 and --grace-period above it, got "
                             f"{self.heartbeat_interval} and {self.grace_period}")
        if not 1 <= self.tune_folds <= self.n_splits:
            raise BadInput(f"--tune-folds must be within 1..{self.n_splits}, got {self.tune_folds}")
        if self.storage is not None:
            check_storage(self.storage)


STORAGE_EXAMPLES = "e.g. postgresql://user@host/db, sqlite:////abs/path/study.db or journal:/path/study.log"


def check_storage(url: str) -> None:
    """Refuse a ``--storage`` URL that cannot work, in one line, before any run folder is made: one that does
    not parse, an unknown database, a driver that is not installed, a file in a folder that does not exist, or
    a database server that does not answer. A password in the URL is shown as ``***``."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    if url.startswith(JOURNAL):
        path = Path(url[len(JOURNAL):]).expanduser()
        if not path.name:
            raise BadInput(f"--storage {url!r}: name the journal file ({STORAGE_EXAMPLES})")
        if not path.resolve().parent.is_dir():
            raise BadInput(f"--storage {url!r}: folder {path.resolve().parent} does not exist")
        return
    try:
        parsed = make_url(url)
        shown = repr(parsed.render_as_string(hide_password=True))
        dialect = parsed.get_dialect()
    except NoSuchModuleError:  # before its base class ArgumentError
        raise BadInput(f"--storage {shown}: unknown database {parsed.drivername.split('+')[0]!r} "
                         f"({STORAGE_EXAMPLES})") from None
    except ArgumentError:
        raise BadInput(f"--storage {url!r} is not a database URL ({STORAGE_EXAMPLES})") from None
    try:
        dialect.import_dbapi()
    except ImportError as err:
        raise BadInput(f"--storage {shown}: its driver {parsed.get_driver_name()} is not installed "
                         f"({err.name or err}): install it, or name an installed one as "
                         f"{parsed.get_backend_name()}+<driver>://") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database not in (None, "", ":memory:"):
            folder = Path(parsed.database).expanduser().resolve().parent
            if not folder.is_dir():
                raise BadInput(f"--storage {shown}: folder {folder} does not exist")
        return
    timeout = {"connect_args": {"connect_timeout": 10}} if parsed.get_backend_name() == "postgresql" else {}
    engine = create_engine(parsed, **timeout)
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as err:
        reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
        raise BadInput(f"--storage {shown}: cannot connect to the database ({reason})") from None
    finally:
        engine.dispose()


def engine_config(cls: type, cfg: Any, **changes: Any) -> Any:
    """An engine config ``cls`` with the values of ``cfg`` (a tuning config deriving from it) and ``changes``."""
    values = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cls) if hasattr(cfg, f.name)}
    return cls(**{**values, **changes})


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


def storage_url(cfg: TuneOptions, run: Run) -> str:
    return cfg.storage or f"sqlite:///{(run.root / 'study.db').resolve()}"


def make_storage(cfg: TuneOptions, run: Run) -> optuna.storages.BaseStorage:
    """The study's storage. An RDB one has heartbeats whose absence fails a dead worker's trial and retries
    it once; a journal file has none (a killed worker's trial stays RUNNING there)."""
    url = storage_url(cfg, run)
    if url.startswith(JOURNAL):
        from optuna.storages.journal import JournalFileBackend
        return JournalStorage(JournalFileBackend(url[len(JOURNAL):]))
    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return RDBStorage(url, engine_kwargs=engine_kwargs, heartbeat_interval=cfg.heartbeat_interval,
                          grace_period=cfg.grace_period, **{_STALE_CALLBACK_ARG: _RetryStale(max_retry=1)})


def make_pruner(cfg: TuneOptions) -> optuna.pruners.BasePruner:
    if cfg.prune_below is not None:
        return optuna.pruners.ThresholdPruner(lower=cfg.prune_below, n_warmup_steps=cfg.n_warmup_steps)
    return optuna.pruners.MedianPruner(n_startup_trials=cfg.n_startup_trials, n_warmup_steps=cfg.n_warmup_steps)


def open_study(cfg: TuneOptions, run: Run) -> optuna.Study:
    """Create or load the study (maximising the objective)."""
    return optuna.create_study(study_name=cfg.study_name, storage=make_storage(cfg, run),
                               sampler=TrialSeededTPESampler(cfg.seed, cfg.n_startup_trials),
                               pruner=make_pruner(cfg), direction="maximize", load_if_exists=True)


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


def finished_trials(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def within_budget(objective: Objective, n_trials: int) -> Objective:
    """``objective``, except that a trial numbered beyond ``n_trials`` finished or running trials fails at once:
    another worker took the last trial between our check and this one (a FAIL is not counted;
    :class:`StopWhenTaken` then stops this worker)."""
    def guarded(trial: optuna.Trial) -> float:
        if taken_trials(trial.study, before=trial.number) >= n_trials:
            trial.set_user_attr("surplus", True)
            raise SurplusTrial(f"study already has {n_trials} finished or running trials")
        return objective(trial)
    return guarded


class StopWhenTaken:
    """Stop this worker once the finished and running trials of the whole study reach ``n_trials``."""

    def __init__(self, n_trials: int):
        self.n_trials = n_trials

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        fail_stale(study)  # a dead worker's trial is no longer running: it is queued again instead
        waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        if taken_trials(study) >= self.n_trials and not waiting:
            study.stop()


def write_best(study: optuna.Study, cfg: TuneOptions, run: Run, params_of: Callable[[FrozenTrial], dict],
               extra: dict | None = None) -> dict:
    """``best_params.yaml``: the best trial's options (``params``, what ``--params`` reads) and the evidence."""
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        raise BadInput(f"study {cfg.study_name} has no completed trial yet (all pruned or failed): "
                         "run more trials")
    best = study.best_trial
    evidence = {k: v for k, v in best.user_attrs.items() if k != "surplus"}
    result = {"params": params_of(best), "tuned": sorted(best.params), "cv_auc": float(best.value),
              "trial": best.number, **evidence, "finished_trials": finished_trials(study),
              "seconds_per_fold": round(best.duration.total_seconds() / cfg.tune_folds, 2) if best.duration else None,
              "study": cfg.study_name, "tune_folds": list(range(cfg.tune_folds)), **(extra or {}),
              "note": f"optimistic: the parameters were picked on folds {list(range(cfg.tune_folds))}, which also "
                      "scored them; train on every fold for an honest CV"}
    atomic_write_text(run.root / "best_params.yaml", yaml.safe_dump(result, sort_keys=False))
    run.update_metrics({"tune": {k: v for k, v in result.items() if k != "params"}})
    return result


def run_study(run: Run, cfg: TuneOptions, make_objective: Callable[[], Objective],
              params_of: Callable[[FrozenTrial], dict], *, extra: dict | None = None,
              final_command: str | None = None) -> dict:
    """Run (or resume) the study up to ``cfg.n_trials`` finished trials, write ``best_params.yaml`` and the
    plots, and return the best parameters with their (optimistic) CV AUC."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = open_study(cfg, run)
    fail_stale(study)
    done = finished_trials(study)
    if taken_trials(study) < cfg.n_trials:
        objective = within_budget(make_objective(), cfg.n_trials)
        run.log.info("study %s: %d finished trials, running up to %d more", cfg.study_name, done,
                     cfg.n_trials - done)
        study.optimize(objective, n_trials=cfg.n_trials - done, timeout=cfg.timeout,
                       callbacks=[StopWhenTaken(cfg.n_trials)], catch=(SurplusTrial,),
                       show_progress_bar=cfg.progress)
    result = write_best(study, cfg, run, params_of, extra)
    result["plots"] = save_plots(study, run.root, run.log)
    pruned = len(study.get_trials(deepcopy=False, states=(TrialState.PRUNED,)))
    run.log.info("best CV AUC %.5f (trial %d; %d finished, %d pruned); parameters in %s", result["cv_auc"],
                 result["trial"], result["finished_trials"], pruned, run.root / "best_params.yaml")
    run.log.info("this CV AUC is optimistic: the parameters were picked on folds %s, which also scored them",
                 list(range(cfg.tune_folds)))
    if final_command:
        run.log.info("honest CV, every fold with the best parameters: %s", final_command)
    return result
