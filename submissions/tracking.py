"""Every submission of the team into the ledger: Kaggle's list matched to the kit's submission files.

A Kaggle submission the ledger lacks (sent with ``kaggle competitions submit`` or the website) is matched to a
kit file of ``<files-root>/<competition>/`` by its file name, else by content: the file Kaggle holds for it is
downloaded and its SHA-256 looked up among the hashes the kit records in its files' JSON. A match becomes an
``outside`` row with that file's CV, runs, method and post-processing; no match an ``external`` row with
Kaggle's description, date and scores (and the file's hash, so it is never downloaded again).
"""
from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from common.kaggle_client import KaggleError
from submissions.ledger import Ledger, kaggle_time
from submissions.store import file_sha256


@dataclass(frozen=True)
class KitFile:
    name: str
    sha256: str
    meta: dict


def kit_files(folder: str | Path) -> list[KitFile]:
    """The submission files the kit wrote in ``folder`` (each CSV with its JSON beside it)."""
    found = []
    for sidecar in sorted(Path(folder).glob("*.json")):
        csv = sidecar.with_suffix(".csv")
        try:
            meta = json.loads(sidecar.read_text())
        except ValueError:
            continue
        if not isinstance(meta, dict) or "runs" not in meta:
            continue
        digest = meta.get("sha256") or (file_sha256(csv) if csv.is_file() else None)
        if digest:
            found.append(KitFile(meta.get("file") or csv.name, digest, meta))
    return found


def row_from_kit(kit: KitFile) -> dict:
    """The ledger fields a kit file's JSON gives a row."""
    meta = kit.meta
    return {"file_hash": kit.sha256, "file_name": kit.name, "runs": [r["name"] for r in meta.get("runs", [])],
            "cv": meta.get("cv"), "postprocess": meta.get("postprocess", []), "method": meta.get("method")}


def track(ledger: Ledger, competition: str, kaggle_submissions: list[dict], files: list[KitFile],
          download: Callable[[int, Path], Path]) -> list[dict]:
    """Add to the ledger, oldest first, each of Kaggle's submissions it lacks; return the rows added. Rows of
    kit files written before the blend method was recorded get it from the file's JSON.
    ``download(ref, folder)`` fetches the file Kaggle holds for a submission (raising when it cannot)."""
    by_name = {f.name: f for f in files}
    by_hash = {f.sha256: f for f in files}
    for kit in files:
        ledger.fill_method(competition, kit.sha256, kit.meta.get("method"))
    known = ledger.known_refs(competition)
    added = []
    for sub in sorted((s for s in kaggle_submissions if s["ref"] not in known), key=lambda s: s["ref"]):
        kit, matched_by, digest = by_name.get(sub.get("file_name") or ""), "file name", ""
        if kit is None:
            digest = content_hash(download, sub["ref"])
            kit, matched_by = by_hash.get(digest), f"content hash (sent as {sub.get('file_name')})"
        fields = row_from_kit(kit) if kit else {"file_hash": digest, "file_name": sub.get("file_name") or "",
                                                "runs": []}
        row = {**fields, "competition": competition, "message": sub.get("description") or "",
               "status": sub["status"], "kaggle_ref": sub["ref"], "submitted": kaggle_time(sub.get("date")),
               "public_score": sub.get("public_score"), "private_score": sub.get("private_score"),
               "source": "outside" if kit else "external", "matched_by": matched_by if kit else None}
        row["id"] = ledger.add(**row)
        added.append(row)
    return added


def content_hash(download: Callable[[int, Path], Path], ref: int) -> str:
    """SHA-256 of the file Kaggle holds for submission ``ref``; empty when it cannot be downloaded."""
    with tempfile.TemporaryDirectory(prefix="kaggle-submission-") as folder:
        try:
            return file_sha256(download(ref, Path(folder)))
        except KaggleError:
            return ""
