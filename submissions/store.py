"""Where submission files live and how they are named: ``files/<competition>/`` under the submissions root
(``$KIT_SUBMISSIONS_ROOT`` or ``submissions/``), or beside the runs when they are not the default ones
(:func:`default_files_root`).

A file is named ``<competition>-<UTC time>-<first 10 hex of its SHA-256>.csv``; a blend kept only for reference
(significantly worse than its best run, which is the result instead) is named ``rejected-blend-<that name>``, so
``--latest`` never picks it. The JSON beside a file
(same name, ``.json``) records how it was made (runs, weights, CV) and for which data (:func:`data_record`: the
data folder and its sample submission's SHA-256), so that ``submit --latest`` never picks a file made for other
data.
"""
from __future__ import annotations

import hashlib
import os
from datetime import datetime, timezone
from pathlib import Path

from common.errors import BadInput, MissingInput
from common.io import read_json
from common.paths import runs_root, submissions_root
from submissions.validate import read_sample, sample_path


REJECTED_PREFIX = "rejected-blend-"


def default_files_root(runs_dir: str | Path | None = None) -> Path:
    """Where the submission files are written, one folder per competition: ``files/`` under
    ``$KIT_SUBMISSIONS_ROOT`` when it is set; else, for runs elsewhere than the default (``runs_dir``, or
    ``$KIT_RUNS_ROOT``), ``submissions/files`` beside that runs folder, so two data sets' runs keep their
    submissions apart as the default ``runs/`` and ``submissions/`` are side by side; else ``submissions/files``."""
    if "KIT_SUBMISSIONS_ROOT" in os.environ or (runs_dir is None and "KIT_RUNS_ROOT" not in os.environ):
        return submissions_root() / "files"
    return Path(runs_dir or runs_root()).resolve().parent / "submissions" / "files"


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def submission_name(competition: str, content: bytes, when: datetime | None = None, rejected: bool = False) -> str:
    stamp = (when or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    name = f"{competition}-{stamp}-{hashlib.sha256(content).hexdigest()[:10]}.csv"
    return REJECTED_PREFIX + name if rejected else name


def sidecar_path(submission: str | Path) -> Path:
    return Path(submission).with_suffix(".json")


def read_sidecar(submission: str | Path) -> dict:
    """The JSON written beside a submission by ``submissions.blend``; empty when there is none."""
    path = sidecar_path(submission)
    if not path.is_file():
        return {}
    return read_json(path, "blend the submission again: this record of it cannot be read")


def data_record(competition: str, data_dir: str | Path | None = None) -> dict:
    """The data a submission is made for: the data folder (resolved) and its sample submission's SHA-256."""
    read_sample(competition, data_dir)  # a missing or foreign sample is named here
    sample = sample_path(competition, data_dir)
    return {"dir": str(sample.parent.resolve()), "sample_sha256": file_sha256(sample)}


def made_for(submission: Path) -> dict | None:
    """The data record in a submission's JSON; None when there is none (older blends) or it cannot be read."""
    try:
        return read_sidecar(submission).get("data")
    except (BadInput, AttributeError):  # not JSON, or JSON that is not an object
        return None


def latest_submission(competition: str, root: str | Path | None = None,
                      data_dir: str | Path | None = None) -> tuple[Path, str]:
    """The most recently written submission file of ``competition`` under ``root`` (default: the files root) made
    for the data in ``data_dir`` (default: the competition's data folder), and one line saying which and why."""
    folder = Path(root or default_files_root()) / competition
    files = sorted(folder.glob(f"{competition}-*.csv"), key=lambda p: p.stat().st_mtime, reverse=True)
    if not files:
        raise MissingInput(f"no submission files in {folder}: run python -m submissions.blend first")
    wanted = data_record(competition, data_dir)
    skipped = []
    for path in files:
        if made_for(path) == wanted:
            why = f"--latest: {path.name}, the newest file made for {wanted['dir']}"
            if skipped:
                shown = ", ".join(skipped[:3]) + (", ..." if len(skipped) > 3 else "")
                why += f"; {len(skipped)} newer file{'s' * (len(skipped) > 1)} made for other data skipped ({shown})"
            return path, why
        skipped.append(path.name)
    raise MissingInput(f"none of the {len(files)} submission files in {folder} was made for {wanted['dir']} (its "
                       f"sample submission): blend for it with `python -m submissions.blend --competition "
                       f"{competition} --data {wanted['dir']} ...`, pass --data the folder a file was made for, or "
                       f"give the FILE to send")
