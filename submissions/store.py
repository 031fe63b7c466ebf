"""Where submission files live and how they are named: ``files/<competition>/`` under the submissions root
(``$KIT_SUBMISSIONS_ROOT`` or ``submissions/``).

A file is named ``<competition>-<UTC time>-<first 10 hex of its SHA-256>.csv``; the JSON beside it
(same name, ``.json``) records how it was made (runs, weights, CV).
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

from common.errors import BadInput, MissingInput
from common.paths import submissions_root


def default_files_root() -> Path:
    """Where the submission files are written, one folder per competition."""
    return submissions_root() / "files"


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def submission_name(competition: str, content: bytes, when: datetime | None = None) -> str:
    stamp = (when or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    return f"{competition}-{stamp}-{hashlib.sha256(content).hexdigest()[:10]}.csv"


def sidecar_path(submission: str | Path) -> Path:
    return Path(submission).with_suffix(".json")


def read_sidecar(submission: str | Path) -> dict:
    """The JSON written beside a submission by ``submissions.blend``; empty when there is none."""
    path = sidecar_path(submission)
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except ValueError:
        raise BadInput(f"{path} (the record beside the submission) is not valid JSON") from None


def latest_submission(competition: str, root: str | Path | None = None) -> Path:
    """The most recently written submission file of ``competition`` under ``root`` (default: the files root)."""
    folder = Path(root or default_files_root()) / competition
    files = sorted(folder.glob(f"{competition}-*.csv"), key=lambda p: p.stat().st_mtime)
    if not files:
        raise MissingInput(f"no submission files in {folder}: run python -m submissions.blend first")
    return files[-1]
