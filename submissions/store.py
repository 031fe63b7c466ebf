"""Where submission files live and how they are named: ``submissions/files/<competition>/``.

A file is named ``<competition>-<UTC time>-<first 10 hex of its SHA-256>.csv``; the JSON beside it
(same name, ``.json``) records how it was made (runs, weights, CV).
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

from common.errors import MissingInput

DEFAULT_FILES_ROOT = Path("submissions") / "files"


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
    return json.loads(path.read_text()) if path.is_file() else {}


def latest_submission(competition: str, root: str | Path = DEFAULT_FILES_ROOT) -> Path:
    """The most recently written submission file of ``competition``."""
    folder = Path(root) / competition
    files = sorted(folder.glob(f"{competition}-*.csv"), key=lambda p: p.stat().st_mtime)
    if not files:
        raise MissingInput(f"no submission files in {folder}: run python -m submissions.blend first")
    return files[-1]
