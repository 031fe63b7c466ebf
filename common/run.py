"""Experiment run folders and the prediction-file contract every model of the kit writes.

``runs/<competition>/<run-name>/`` holds:
- ``config.yaml``: the resolved config; ``log.txt``: the log;
- ``fold<k>/``: per-fold artifacts, including ``oof.csv`` and ``test.csv`` of that fold and, written last,
  ``done.json`` (the fold's metrics and, under ``made_from``, what the fold was made from: ``common.provenance``):
  a fold is finished only when its ``done.json`` exists; folds made from other data are never merged;
- ``oof.csv`` (``id,fold,target,pred``): out-of-fold predictions of every fold run so far;
- ``test.csv`` (``id,pred``): test predictions averaged over those folds;
- ``metrics.json``: numbers worth keeping (per-fold and overall AUC, ...).
Blending reads only ``oof.csv`` and ``test.csv``, so it needs no special case per model.

Every reader goes through :class:`RunFolder`: ``read_oof``/``read_test`` (ids as the text the file holds, so
they compare alike across runs and with a sample submission read the same way; checked columns, unique ids,
finite predictions) and ``status`` (complete, partial, empty or failed: decided here only; a run whose folds were
made from other data, or whose ``oof.csv`` holds an id twice, is failed).
"""
from __future__ import annotations

import logging
import os
import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

try:
    import fcntl
except ImportError:  # not POSIX: runs are not locked
    fcntl = None

import numpy as np
import pandas as pd
import yaml

from common.errors import BadInput, InputExists, MissingInput
from common.config import RunConfig, config_to_dict, load_yaml, volatile_options
from common.io import atomic_write_csv, atomic_write_json, atomic_write_text, clean_leftovers, read_json
from common.paths import runs_root
from common.provenance import MADE_FROM, describe, differences, mixed_folds

OOF_COLUMNS = ["id", "fold", "target", "pred"]
TEST_COLUMNS = ["id", "pred"]
DONE_FILE = "done.json"
DAMAGED_FOLD_HINT = "train fold {fold} again (--fold {fold} --no-resume) or put an intact copy back"
DAMAGED_METRICS_HINT = "delete it and run the run's command again: its finished folds are kept and the file rewritten"
SHARED_FOLDS = "folds.csv"  # the competition's fold file, beside its runs: <runs>/<competition>/folds.csv
SHOWN_IDS = 5  # ids shown in error messages
LOCK_FILE = ".lock"
_HELD: dict[str, list] = {}  # run folder -> [open lock file descriptor, depth] held by this process


class RunLockedError(InputExists):
    """Another process is writing the run folder (it holds the run's lock)."""


STOP_ENV = "KIT_STOP_AFTER_EPOCH"


def stop_if_asked(epoch: int, finished: bool) -> None:
    """Stop as if killed after epoch ``$KIT_STOP_AFTER_EPOCH`` (how the tests try resuming), unless the
    training is finished anyway."""
    stop_after = int(os.environ.get(STOP_ENV) or 0)
    if stop_after and epoch >= stop_after and not finished:
        raise SystemExit(f"stopped after epoch {epoch} ({STOP_ENV}={stop_after}); run the same command again "
                         "to continue")


URL_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@")


def hide_url_password(value: Any) -> Any:
    """A URL with a password (``scheme://user:password@host``) with the password shown as ``***``."""
    return URL_PASSWORD.sub(r"\1***@", value) if isinstance(value, str) else value


COMPLETE, PARTIAL, EMPTY, FAILED = "complete", "partial", "empty", "failed"


@dataclass(frozen=True)
class RunStatus:
    """How far a run got (:meth:`RunFolder.status`).

    ``state``: ``complete`` (every expected fold finished, ``oof.csv`` holds exactly those folds), ``partial``
    (folds missing, or files that disagree on which folds are finished: usable only knowingly), ``empty``
    (no finished fold, no ``oof.csv``) or ``failed`` (a file that cannot be read). ``problems`` says why a run
    is not complete, one short sentence each; ``n_splits`` is None where the run records none.
    """

    state: str
    completed_folds: tuple[int, ...]
    missing_folds: tuple[int, ...] = ()
    oof_folds: tuple[int, ...] = ()
    n_splits: int | None = None
    problems: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return self.state == COMPLETE


class RunFolder:
    """A run folder as another command reads it: its config, finished folds, metrics, prediction files and
    status. Reading creates, locks and logs nothing, so a source run is left as it was (:class:`Run` writes)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @property
    def config_path(self) -> Path:
        return self.root / "config.yaml"

    def config(self) -> dict:
        """The saved ``config.yaml`` as a dict ({} where there is none)."""
        return load_yaml(self.config_path) if self.config_path.is_file() else {}

    def fold_path(self, fold: int) -> Path:
        return self.root / f"fold{fold}"

    def folds_with(self, name: str) -> list[int]:
        """The folds whose folder holds the file ``name`` (e.g. a checkpoint), in order."""
        return sorted(int(p.parent.name[4:]) for p in self.root.glob(f"fold*/{name}")
                      if p.parent.name[4:].isdigit() and p.is_file())

    def completed_folds(self) -> list[int]:
        """Folds whose files are all written (their ``done.json`` exists)."""
        return self.folds_with(DONE_FILE)

    def is_finished(self, fold: int) -> bool:
        return (self.fold_path(fold) / DONE_FILE).is_file()

    def _done(self, fold: int) -> dict:
        path = self.fold_path(fold) / DONE_FILE
        return read_json(path, DAMAGED_FOLD_HINT.format(fold=fold)) if path.is_file() else {}

    def fold_metrics(self, fold: int) -> dict:
        """The metrics a finished fold recorded in its ``done.json`` (empty when it is not finished)."""
        return {key: value for key, value in self._done(fold).items() if key != MADE_FROM}

    def fold_made_from(self, fold: int) -> dict:
        """What a finished fold recorded it was made from (``common.provenance``; empty where it recorded nothing)."""
        return self._done(fold).get(MADE_FROM) or {}

    def mixed_folds_problem(self) -> str | None:
        """One sentence naming the finished folds made from other data than the first's; None when none are."""
        mixed = mixed_folds({k: self.fold_made_from(k) for k in self.completed_folds()})
        if mixed is None:
            return None
        same, other, keys = mixed
        return f"folds {other} were made from other data than folds {same} ({describe(keys)} differ)"

    def fold_oof_path(self, fold: int) -> Path:
        return self.fold_path(fold) / "oof.csv"

    def fold_test_path(self, fold: int) -> Path:
        return self.fold_path(fold) / "test.csv"

    @property
    def oof_path(self) -> Path:
        return self.root / "oof.csv"

    @property
    def test_path(self) -> Path:
        return self.root / "test.csv"

    @property
    def metrics_path(self) -> Path:
        return self.root / "metrics.json"

    def metrics(self) -> dict:
        return read_json(self.metrics_path, DAMAGED_METRICS_HINT) if self.metrics_path.exists() else {}

    # -- predictions ----------------------------------------------------------------------------
    def read_oof(self) -> pd.DataFrame:
        """``oof.csv`` as ``id,fold,target,pred`` (ids as text), checked by :func:`read_predictions`."""
        if not self.oof_path.is_file():
            raise MissingInput(f"no OOF predictions in run {self.root} (expected {self.oof_path})")
        return read_predictions(self.oof_path, OOF_COLUMNS)

    def read_test(self) -> pd.DataFrame | None:
        """``test.csv`` as ``id,pred`` (ids as text), checked by :func:`read_predictions`; None when the run has
        no test predictions."""
        return read_predictions(self.test_path, TEST_COLUMNS) if self.test_path.is_file() else None

    def read_fold_oof(self, fold: int) -> pd.DataFrame:
        """Fold ``fold``'s own ``oof.csv`` (``id,fold,target,pred``, ids as text), checked like the run's."""
        return read_predictions(self.fold_oof_path(fold), OOF_COLUMNS)

    def read_fold_test(self, fold: int) -> pd.DataFrame | None:
        """Fold ``fold``'s own ``test.csv`` (``id,pred``, ids as text); None when the fold has none."""
        path = self.fold_test_path(fold)
        return read_predictions(path, TEST_COLUMNS) if path.is_file() else None

    # -- status ---------------------------------------------------------------------------------
    def status(self, n_splits: int | None = None) -> RunStatus:
        """Whether the run is complete, partial (which folds are missing), empty or failed.

        The finished folds are those with a ``fold<k>/done.json`` (for a run without fold folders, those
        ``metrics.json`` records, else those in ``oof.csv``); ``oof.csv`` must hold exactly them. ``n_splits``:
        the caller's number of folds (the fold driver's, about to rewrite ``metrics.json``): folds
        ``0..n_splits-1`` are expected. Without it the expected folds are those of the run's recorded
        ``n_splits`` (``metrics.json``, else ``config.yaml``) and of the competition's shared ``folds.csv``
        beside the run, and ``metrics.json``'s finished folds must be the ``done.json`` ones (else its numbers
        describe other folds).
        """
        finished = self.completed_folds()
        recorded, expected = None, set()
        try:
            if n_splits is None:
                metrics = self.metrics()
                if metrics.get("completed_folds") is not None:
                    recorded = sorted(int(k) for k in metrics["completed_folds"])
                n_splits = metrics["n_splits"] if metrics.get("n_splits") is not None else self.config().get("n_splits")
                if (shared := self.root.parent / SHARED_FOLDS).is_file():
                    expected |= set(_folds_in(shared))
            have = _folds_in(self.oof_path, unique_ids=True) if self.oof_path.is_file() else None
        except BadInput as error:  # a file that does not parse (common.io.DamagedFile) included
            return RunStatus(FAILED, tuple(finished), problems=(str(error),))
        if n_splits is not None:
            n_splits = int(n_splits)
            expected |= set(range(n_splits))
        try:
            mixed = self.mixed_folds_problem()
        except BadInput as error:
            mixed = str(error)
        if mixed:
            return RunStatus(FAILED, tuple(finished), n_splits=n_splits, problems=(mixed,))
        if have is None:
            if finished:
                return RunStatus(FAILED, tuple(finished), n_splits=n_splits,
                                 problems=(f"folds {finished} are finished but {self.oof_path} is missing",))
            return RunStatus(EMPTY, (), tuple(sorted(expected)), n_splits=n_splits, problems=("no finished fold",))
        completed = finished or (recorded if recorded is not None else have)
        problems = []
        if have != completed:
            problems.append(f"oof.csv holds folds {have} but the finished folds are {completed}")
        if finished and recorded is not None and recorded != finished:
            problems.append(f"metrics.json records folds {recorded} but the finished folds are {finished}")
        missing = sorted(expected - set(completed))
        if missing:
            problems.append(f"missing folds {missing}")
        return RunStatus(PARTIAL if problems else COMPLETE, tuple(completed), tuple(missing), tuple(have), n_splits,
                         tuple(problems))

class Run(RunFolder):
    """A run folder written by its command: config, log, per-fold predictions merged into the run's
    ``oof.csv``/``test.csv``."""

    def __init__(self, root: str | Path):
        super().__init__(root)
        self.root.mkdir(parents=True, exist_ok=True)
        clean_leftovers(self.root, depth=1)  # temp files of killed writers, here and in fold<k>/
        self.log = _file_logger(self.root)

    @classmethod
    def open(cls, competition: str, name: str, runs_dir: str | Path | None = None) -> "Run":
        """Open (creating if needed) ``<runs_dir>/<competition>/<name>``."""
        if not re.fullmatch(r"[A-Za-z0-9._+-]+", name):
            raise BadInput(f"run name {name!r} may only hold letters, digits and . _ + -")
        return cls(Path(runs_dir or runs_root()) / competition / name)

    # -- lock -----------------------------------------------------------------------------------
    @contextmanager
    def lock(self) -> Iterator["Run"]:
        """Hold the run's exclusive writer lock (``<run>/.lock``, ``fcntl.flock``) for the ``with`` block.

        Non-blocking: while another process holds it, ``RunLockedError`` names the run and that
        process's pid. The lock goes with the process (a killed writer leaves no lock behind, only the
        file), and nesting it in one process is fine.
        """
        key = str(self.root.resolve())
        if fcntl is None or key in _HELD:
            if key in _HELD:
                _HELD[key][1] += 1
            try:
                yield self
            finally:
                if key in _HELD:
                    _HELD[key][1] -= 1
            return
        path = self.root / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunLockedError(
                f"run {self.root} is being written by another process (pid {holder}); wait for it to "
                "finish, or use another --name") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _HELD[key] = [fd, 1]
        try:
            yield self
        finally:
            _HELD[key][1] -= 1
            if _HELD[key][1] == 0:
                del _HELD[key]
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    # -- config ---------------------------------------------------------------------------------
    def save_config(self, cfg: Any, volatile: frozenset[str] | None = None) -> None:
        """Save the resolved config; refuse to mix runs whose configs differ beyond the volatile options
        (those a dataclass config declares ``volatile``; for a dict, ``volatile`` or RunConfig's).

        A ``config.yaml`` left by a start that failed before writing anything else (:meth:`has_work` is
        false) is replaced, with a log line, so it never locks the run name against the corrected command."""
        if isinstance(cfg, dict):
            new, volatile = dict(cfg), volatile if volatile is not None else volatile_options(RunConfig)
        else:
            new, volatile = config_to_dict(cfg), volatile_options(cfg) | (volatile or frozenset())
        new = {key: hide_url_password(value) for key, value in new.items()}  # e.g. --storage postgresql://u:pw@h
        if self.config_path.exists():
            old = load_yaml(self.config_path)
            changed = changed_options(old, new, volatile)
            if changed and self.has_work():
                raise BadInput(
                    f"run {self.root} was started with another config (differs in {changed}); "
                    "use another --name or delete the run folder")
            if changed:
                self.log.info("run %s holds only the config.yaml of a start that wrote nothing else: replacing "
                              "it with this command's config", self.root)
        atomic_write_text(self.config_path, yaml.safe_dump(new, sort_keys=False))

    def has_work(self) -> bool:
        """Whether the run holds anything a model wrote: a finished fold, a checkpoint or any other file under
        ``fold<k>/`` (or a seed's or tuning trial's folder), merged predictions, cached features or a tuning
        study (a failed first start leaves none of these)."""
        if any((self.root / name).exists() for name in ("oof.csv", "test.csv", "features.npz", "study.db")):
            return True
        folders = [*self.root.glob("fold*"), self.root / "seeds", self.root / "trials"]
        return any(path.is_file() for folder in folders if folder.is_dir() for path in folder.rglob("*"))

    # -- folds ----------------------------------------------------------------------------------
    def fold_dir(self, fold: int) -> Path:
        """Fold ``fold``'s folder, created if needed."""
        path = self.fold_path(fold)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def save_fold_predictions(self, fold: int, oof: pd.DataFrame, test: pd.DataFrame | None,
                              metrics: dict | None = None, made_from: dict | None = None) -> None:
        """Write fold ``fold``'s OOF (``id,target,pred``) and test (``id,pred``) files and, last, its
        ``done.json`` with ``metrics`` and ``made_from`` (what the fold was made from: ``common.provenance``);
        then merge the finished folds into the run's files. A fold made from other data than the run's other
        finished folds, or predicting ids they hold, is refused before anything is written."""
        _require_columns(oof, ["id", "target", "pred"], f"OOF predictions of fold {fold}")
        self._check_joins(fold, oof, made_from or {})
        oof = oof.assign(fold=fold)[OOF_COLUMNS]
        fold_dir = self.fold_dir(fold)
        self.unfinish(fold)
        atomic_write_csv(self.fold_oof_path(fold), oof)
        if test is not None:
            _require_columns(test, TEST_COLUMNS, f"test predictions of fold {fold}")
            atomic_write_csv(self.fold_test_path(fold), test[TEST_COLUMNS])
        else:
            self.fold_test_path(fold).unlink(missing_ok=True)
        atomic_write_json(fold_dir / DONE_FILE, {**(metrics or {}), **({MADE_FROM: made_from} if made_from else {})})
        self.merge_folds()

    def unfinish(self, fold: int) -> None:
        """Mark fold ``fold`` unfinished (its ``done.json`` removed, its other files kept): it is merged no more."""
        (self.fold_path(fold) / DONE_FILE).unlink(missing_ok=True)

    def _check_joins(self, fold: int, oof: pd.DataFrame, made_from: dict) -> None:
        others = [k for k in self.completed_folds() if k != fold]
        what_to_do = "give the new data another --name, or train every fold again with --no-resume"
        if differing := [k for k in others if differences(self.fold_made_from(k), made_from)]:
            keys = sorted({key for k in differing for key in differences(self.fold_made_from(k), made_from)})
            raise BadInput(f"run {self.root}: fold {fold} was made from other data than its finished folds "
                           f"{differing} ({describe(keys)} differ); {what_to_do}")
        ids = pd.Index(oof["id"].astype(str))
        for k in others:
            if len(shared := ids.intersection(pd.read_csv(self.fold_oof_path(k), usecols=["id"], dtype=str)["id"])):
                raise BadInput(f"run {self.root}: fold {fold} predicts {len(shared)} id(s) that finished fold {k} "
                               f"holds (e.g. {shared[:SHOWN_IDS].tolist()}): they were made from other folds; "
                               f"{what_to_do}")

    def merge_folds(self) -> None:
        """Rebuild the run's ``oof.csv`` and ``test.csv`` (mean over folds) from the finished folds' files (ids
        copied as text); folds made from other data are refused, naming them."""
        folds = self.completed_folds()
        if not folds:
            return
        if mixed := self.mixed_folds_problem():
            raise BadInput(f"run {self.root}: {mixed}: they cannot be merged; move the other folds' fold<k> "
                           "folders into a run of their own, or train them again with --no-resume")
        oof = pd.concat([pd.read_csv(self.fold_oof_path(k), dtype={"id": str}) for k in folds], ignore_index=True)
        if len(dup := oof["id"][oof["id"].duplicated()]):
            raise BadInput(f"run {self.root}: folds {folds} hold {len(dup)} id(s) twice (e.g. "
                           f"{dup.unique()[:SHOWN_IDS].tolist()}): they were made from other folds; train them "
                           "again with --no-resume, or move the other folds' fold<k> folders into a run of their own")
        atomic_write_csv(self.oof_path, oof[OOF_COLUMNS])
        tests = [pd.read_csv(p, dtype={"id": str}) for k in folds if (p := self.fold_test_path(k)).exists()]
        if tests:
            test = pd.concat(tests).groupby("id", sort=False, as_index=False)["pred"].mean()
            atomic_write_csv(self.test_path, test[TEST_COLUMNS])

    # -- metrics --------------------------------------------------------------------------------
    def update_metrics(self, values: dict) -> dict:
        """Merge ``values`` into ``metrics.json`` (nested dicts merged one level deep)."""
        merged = self.metrics()
        for key, value in values.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
        atomic_write_json(self.metrics_path, merged)
        return merged


def changed_options(old: dict, new: dict, volatile: frozenset[str] = frozenset()) -> list[str]:
    """The options, volatile ones aside, whose values differ between two saved configs (sorted). A key only the
    old config has is an option the kit no longer has: it cannot make the runs differ."""
    return sorted(k for k in new if k not in volatile and not _same_setting(old.get(k), new.get(k)))


def _same_setting(old: Any, new: Any) -> bool:
    """Equal config values; inside mappings (a derived run's source config) a key one side lacks counts as
    None, so an option added to the kit later, unset, does not make an old run's config "another config"."""
    if isinstance(old, dict) and isinstance(new, dict):
        return all(_same_setting(old.get(k), new.get(k)) for k in set(old) | set(new))
    return old == new


def read_predictions(path: str | Path, columns: list[str]) -> pd.DataFrame:
    """A prediction file (``oof.csv``: ``OOF_COLUMNS``, ``test.csv``: ``TEST_COLUMNS``) with its ids as the text
    the file holds, checked by :func:`check_predictions`; its other columns are kept. Ids are text because they
    are compared across runs and with a sample submission (read the same way) and written back as read: text
    keeps them exactly (no ``007`` -> ``7``) whatever the competition's ids look like."""
    path = Path(path)
    if not path.is_file():
        raise MissingInput(f"prediction file {path} not found")
    try:
        frame = pd.read_csv(path, dtype={"id": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise BadInput(f"{path} is not a readable CSV: {_one_line(error)}") from None
    return check_predictions(frame, columns, str(path))


def check_predictions(frame: pd.DataFrame, columns: list[str], what: str) -> pd.DataFrame:
    """``frame`` after checking that it has ``columns``, no duplicated id and only finite predictions;
    a one-line ``BadInput`` names ``what`` and shows a few ids otherwise."""
    _require_columns(frame, columns, what)
    dup = frame["id"][frame["id"].duplicated()]
    if len(dup):
        raise BadInput(f"{what} has {len(dup)} duplicated id(s), e.g. {dup.unique()[:SHOWN_IDS].tolist()}")
    bad = frame["id"][~np.isfinite(pd.to_numeric(frame["pred"], errors="coerce").to_numpy(dtype=np.float64))]
    if len(bad):
        raise BadInput(f"{what} has {len(bad)} NaN/inf prediction(s), e.g. ids {bad[:SHOWN_IDS].tolist()}")
    return frame


def _folds_in(path: Path, unique_ids: bool = False) -> list[int]:
    """The folds a file's ``fold`` column holds (sorted); ``unique_ids``: refuse a file holding an id twice."""
    try:
        folds = pd.read_csv(path, usecols=lambda c: c in ("fold", "id") if unique_ids else c == "fold",
                            dtype={"id": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise BadInput(f"{path} is not a readable CSV: {_one_line(error)}") from None
    _require_columns(folds, ["id", "fold"] if unique_ids else ["fold"], str(path))
    if not pd.api.types.is_integer_dtype(folds["fold"]):
        raise BadInput(f"{path} has fold values that are not integers (or are missing)")
    if unique_ids and (dup := folds["id"][folds["id"].duplicated()]).size:
        raise BadInput(f"{path} has {len(dup)} duplicated id(s), e.g. {dup.unique()[:SHOWN_IDS].tolist()}")
    return sorted(int(k) for k in pd.unique(folds["fold"]))


def _one_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _require_columns(df: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise BadInput(f"{what} lacks column(s) {missing}; has {list(df.columns)}")


def _file_logger(root: Path) -> logging.Logger:
    """A logger writing to the console and to ``<root>/log.txt``."""
    logger = logging.getLogger(f"kit.run.{root.resolve()}")
    if not logger.handlers:
        logger.setLevel(logging.INFO)
        logger.propagate = False
        fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
        for handler in (logging.StreamHandler(sys.stderr), logging.FileHandler(root / "log.txt")):
            handler.setFormatter(fmt)
            logger.addHandler(handler)
    return logger
