"""What the report shows, read from disk: runs (through the kit's one run reader, ``common.run.RunFolder``), the
records ``submissions.blend`` wrote beside the submission files, and the ledger. What cannot be read is noted on
the run, not raised: the page shows every run, broken ones marked."""
from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from common.errors import KitError
from common.metrics import auc_summary
from common.run import COMPLETE, FAILED, PARTIAL, RunFolder, RunStatus
from submissions import quota
from submissions.leaderboard import standing_lines
from submissions.ledger import Ledger

logger = logging.getLogger(__name__)

RUN_MARKERS = ("oof.csv", "metrics.json")  # a folder with one of these is a run
POOLING_MARGIN = 0.01  # a pooled OOF AUC this far below the mean fold AUC is flagged


@dataclass
class RunInfo:
    name: str
    path: Path
    metrics: dict = field(default_factory=dict)
    oof: pd.DataFrame | None = None
    has_test: bool = False
    state: RunStatus | None = None
    pngs: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)  # prediction files RunFolder refused (NaN/inf, columns...)

    @property
    def healthy(self) -> bool:
        """Its prediction files passed the run reader's checks: its AUC describes the whole run."""
        return not self.invalid

    def summary(self, kind: str) -> dict | None:
        """``oof.auc_<kind>`` of metrics.json; for 'given', computed from oof.csv when metrics lack it."""
        oof = self.metrics.get("oof")
        value = oof.get(f"auc_{kind}") if isinstance(oof, dict) else None
        if isinstance(value, dict) and "auc" in value:
            return value
        if kind == "given" and self.oof is not None and self.oof["target"].nunique() == 2:
            return auc_summary(self.oof["target"], self.oof["pred"])
        return None

    def fold_aucs(self) -> list[float]:
        """The finished folds' own AUCs (given labels) from metrics.json."""
        folds = self.metrics.get("folds") if isinstance(self.metrics.get("folds"), dict) else {}
        given = [f.get("auc_given") for f in folds.values() if isinstance(f, dict)]
        return [float(g["auc"]) for g in given if isinstance(g, dict) and isinstance(g.get("auc"), (int, float))]

    def mean_fold_auc(self) -> float | None:
        """``mean_fold_auc`` of metrics.json, or the mean of the folds' AUCs where it lacks it."""
        value = self.metrics.get("mean_fold_auc")
        if isinstance(value, (int, float)):
            return float(value)
        aucs = self.fold_aucs()
        return sum(aucs) / len(aucs) if aucs else None

    def pooling_note(self) -> str | None:
        """Why the pooled OOF AUC misleads, where it does: below every fold's AUC, or POOLING_MARGIN below their
        mean (the folds' scores are on different scales, so pooling ranks rows across folds badly)."""
        pooled, aucs, mean = (self.summary("given") or {}).get("auc"), self.fold_aucs(), self.mean_fold_auc()
        if pooled is None or mean is None or len(aucs) < 2:
            return None
        if pooled < min(aucs):
            return (f"pooled below every fold's AUC ({min(aucs):.4f}-{max(aucs):.4f}): the folds' scores are on "
                    "different scales; compare by the mean fold AUC, blend with rank pooling")
        if pooled < mean - POOLING_MARGIN:
            return (f"pooled {mean - pooled:.4f} below the mean fold AUC: the folds' scores are on different "
                    "scales; compare by the mean fold AUC, blend with rank pooling")
        return None

    def status(self) -> str:
        """The run's state (``RunFolder.status``) in a few words, and the prediction files it lacks."""
        parts = []
        if self.state is not None:
            done, n_splits = len(self.state.completed_folds), self.state.n_splits
            if self.state.state == PARTIAL:
                parts.append(f"partial ({done}/{n_splits} folds)" if n_splits else "partial")
            elif self.state.state == COMPLETE:
                parts.append("complete" if n_splits else f"{done} fold(s)")
            elif self.state.state == FAILED:
                parts.append("failed")
        if not RunFolder(self.path).oof_path.is_file():
            parts.append("no oof.csv")
        if not self.has_test:
            parts.append("no test.csv")
        return ", ".join(parts) or "?"


def is_run(folder: Path) -> bool:
    return folder.is_dir() and not folder.name.startswith(".") and any((folder / f).is_file() for f in RUN_MARKERS)


def read_run(folder: Path) -> RunInfo:
    """A run folder's metrics, OOF predictions, status and PNGs; what cannot be read is noted, not raised."""
    info, run = RunInfo(folder.name, folder), RunFolder(folder)
    try:
        info.metrics = run.metrics()
    except ValueError as error:
        info.problems.append(f"metrics.json unreadable: {error}")
    for name, read in (("oof.csv", run.read_oof), ("test.csv", run.read_test)):
        if not (folder / name).is_file():
            continue
        try:
            frame = read()
        except KitError as error:
            info.invalid.append(name)
            info.problems.append(str(error).replace(f"{folder}/", ""))
            continue
        if name == "oof.csv":
            info.oof = frame
    info.has_test = run.test_path.is_file()
    info.state = run.status()
    rel = [p.relative_to(folder) for p in folder.rglob("*.png")]
    rel = [r for r in rel if not any(part.startswith(".") for part in r.parts)]
    info.pngs = [folder / r for r in sorted(rel, key=lambda r: (len(r.parts), r.as_posix()))]
    return info


def find_runs(runs_dir: Path, competition: str) -> list[RunInfo]:
    folder = runs_dir / competition
    if not folder.is_dir():
        return []
    return [read_run(d) for d in sorted(folder.iterdir(), key=lambda p: p.name) if is_run(d)]


def read_sidecars(files_root: Path, competition: str) -> list[dict]:
    """The JSON records ``submissions.blend`` wrote beside the submission files, oldest first."""
    out = []
    for path in sorted((files_root / competition).glob("*.json")):
        try:
            meta = json.loads(path.read_text())
        except ValueError:
            continue
        if isinstance(meta, dict) and "weights" in meta:
            out.append({**meta, "_json": path.name})
    return sorted(out, key=lambda m: str(m.get("created", "")))


def read_ledger(path: Path, competition: str) -> pd.DataFrame:
    """The ledger's records of ``competition`` (empty, and no file created, when there is no ledger)."""
    if not Path(path).is_file():
        return pd.DataFrame()
    try:
        with Ledger(path) as ledger:
            return ledger.table(competition)
    except (sqlite3.Error, ValueError) as error:
        logger.warning("ledger %s unreadable: %s", path, error)
        return pd.DataFrame()


def standing_notes(path: Path, competition: str) -> list[str]:
    """The team's standing (and its history) at the last sync and today's quota, as the ledger knows them."""
    if not Path(path).is_file():
        return []
    try:
        with Ledger(path) as ledger:
            ranks, today = ledger.ranks(competition), quota.from_ledger(ledger, competition)
    except (sqlite3.Error, ValueError) as error:
        logger.warning("ledger %s unreadable: %s", path, error)
        return []
    return standing_lines(competition, ranks) + ([f"{today.describe()} (as of the last sync)"] if today else [])


def competitions_found(runs_dir: Path, ledger: Path, files_root: Path) -> list[str]:
    found = set()
    if runs_dir.is_dir():
        found |= {d.name for d in runs_dir.iterdir()
                  if d.is_dir() and not d.name.startswith(".") and any(is_run(r) for r in d.iterdir())}
    if files_root.is_dir():
        found |= {d.name for d in files_root.iterdir() if d.is_dir() and any(d.glob("*.json"))}
    if Path(ledger).is_file():
        try:
            with Ledger(ledger) as book:
                found |= set(book.table()["competition"].unique())
        except (sqlite3.Error, ValueError):
            pass
    return sorted(found)

