"""Experiment run folders and the prediction-file contract every model of the kit writes.

``runs/<competition>/<run-name>/`` holds:
- ``config.yaml``: the resolved config; ``log.txt``: the log;
- ``fold<k>/``: per-fold artifacts, including ``oof.csv`` and ``test.csv`` of that fold and, written last,
  ``done.json`` (the fold's metrics): a fold is finished only when its ``done.json`` exists;
- ``oof.csv`` (``id,fold,target,pred``): out-of-fold predictions of every fold run so far;
- ``test.csv`` (``id,pred``): test predictions averaged over those folds;
- ``metrics.json``: numbers worth keeping (per-fold and overall AUC, ...).
Blending reads only ``oof.csv`` and ``test.csv``, so it needs no special case per model.
"""
from __future__ import annotations

import json
import logging
import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

try:
    import fcntl
except ImportError:  # not POSIX: runs are not locked
    fcntl = None

import pandas as pd
import yaml

from common.errors import BadInput, InputExists, MissingInput
from common.config import RunConfig, config_to_dict, volatile_options
from common.io import atomic_write_csv, atomic_write_json, atomic_write_text, clean_leftovers
from common.paths import runs_root

OOF_COLUMNS = ["id", "fold", "target", "pred"]
TEST_COLUMNS = ["id", "pred"]
DONE_FILE = "done.json"
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


class RunFolder:
    """A run folder as another command reads it: its config, finished folds, metrics and prediction files.
    Reading creates, locks and logs nothing, so a source run is left as it was (:class:`Run` writes)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @property
    def config_path(self) -> Path:
        return self.root / "config.yaml"

    def config(self) -> dict:
        """The saved ``config.yaml`` as a dict ({} where there is none)."""
        return (yaml.safe_load(self.config_path.read_text()) or {}) if self.config_path.is_file() else {}

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

    def fold_metrics(self, fold: int) -> dict:
        """The metrics a finished fold recorded in its ``done.json`` (empty when it is not finished)."""
        path = self.fold_path(fold) / DONE_FILE
        return json.loads(path.read_text()) if path.is_file() else {}

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
        return json.loads(self.metrics_path.read_text()) if self.metrics_path.exists() else {}


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
            old = yaml.safe_load(self.config_path.read_text()) or {}
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
                              metrics: dict | None = None) -> None:
        """Write fold ``fold``'s OOF (``id,target,pred``) and test (``id,pred``) files and, last, its
        ``done.json`` with ``metrics``; then merge the finished folds into the run's files."""
        _require_columns(oof, ["id", "target", "pred"], f"OOF predictions of fold {fold}")
        oof = oof.assign(fold=fold)[OOF_COLUMNS]
        fold_dir = self.fold_dir(fold)
        (fold_dir / DONE_FILE).unlink(missing_ok=True)
        atomic_write_csv(self.fold_oof_path(fold), oof)
        if test is not None:
            _require_columns(test, TEST_COLUMNS, f"test predictions of fold {fold}")
            atomic_write_csv(self.fold_test_path(fold), test[TEST_COLUMNS])
        else:
            self.fold_test_path(fold).unlink(missing_ok=True)
        atomic_write_json(fold_dir / DONE_FILE, metrics or {})
        self.merge_folds()

    def merge_folds(self) -> None:
        """Rebuild the run's ``oof.csv`` and ``test.csv`` (mean over folds) from the finished folds' files."""
        folds = self.completed_folds()
        if not folds:
            return
        oof = pd.concat([pd.read_csv(self.fold_oof_path(k)) for k in folds], ignore_index=True)
        atomic_write_csv(self.oof_path, oof[OOF_COLUMNS])
        tests = [pd.read_csv(p) for k in folds if (p := self.fold_test_path(k)).exists()]
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


def load_predictions(run_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Read a run's ``oof.csv`` and ``test.csv``; clear errors name the missing file or column."""
    run_dir = Path(run_dir)
    oof_path, test_path = RunFolder(run_dir).oof_path, RunFolder(run_dir).test_path
    if not oof_path.is_file():
        raise MissingInput(f"no OOF predictions in run {run_dir} (expected {oof_path})")
    oof = pd.read_csv(oof_path)
    _require_columns(oof, OOF_COLUMNS, str(oof_path))
    test = None
    if test_path.is_file():
        test = pd.read_csv(test_path)
        _require_columns(test, TEST_COLUMNS, str(test_path))
    return oof, test


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
