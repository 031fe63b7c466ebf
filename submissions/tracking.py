"""Every submission of the team into the ledger: Kaggle's list matched to the kit's submission files by content.

A Kaggle submission the ledger lacks (sent with ``kaggle competitions submit`` or the website) is identified by the
file Kaggle holds for it: downloaded, unpacked when it was sent as a zip or gzip archive (Kaggle scores the CSV
inside), and its SHA-256 looked up among the hashes the kit records in its files' JSON. A match becomes an
``outside`` row with that file's CV, runs, method and post-processing. A file sent under a kit file's name whose
content differs (edited after the blend) is ``modified``: its CV measured another file, so it has none and is never
a final pick. Anything else is ``external``, with Kaggle's description, date and scores.

A name alone is never trusted: when Kaggle's copy cannot be downloaded the submission is recorded as ``unread``
(Kaggle's status and scores, no CV), the sync says so, and the next sync tries again and corrects the row. Rows
that older versions tracked without comparing content (matched by file name, or external with no hash because the
download failed) are checked the same way.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from common.kaggle_client import KaggleError
from submissions.ledger import Ledger, kaggle_time
from submissions.store import file_sha256

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class KitFile:
    name: str
    sha256: str
    meta: dict


@dataclass
class Tracked:
    """What one sync did with Kaggle's list: rows added, rows corrected by content, and one line per submission
    whose file could not be read (``unread``: tried again at the next sync)."""
    added: list[dict] = field(default_factory=list)
    corrected: list[dict] = field(default_factory=list)
    unread: list[str] = field(default_factory=list)


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


def scored_content(path: Path) -> tuple[bytes, str]:
    """The bytes Kaggle scores for the file it holds, and that CSV's name: the file itself, or the one file inside
    a zip or gzip archive."""
    data = path.read_bytes()
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                members = [m for m in archive.infolist() if not m.is_dir()]
                if len(members) == 1:
                    return archive.read(members[0]), Path(members[0].filename).name
        except zipfile.BadZipFile:
            pass
    elif data[:2] == GZIP_MAGIC:
        try:
            return gzip.decompress(data), path.name.removesuffix(".gz")
        except (OSError, EOFError):
            pass
    return data, path.name


def read_content(download: Callable[[int, Path], Path], ref: int) -> tuple[str, str]:
    """SHA-256 and name of the CSV Kaggle holds for submission ``ref``; raises :class:`KaggleError` when its file
    cannot be downloaded."""
    with tempfile.TemporaryDirectory(prefix="kaggle-submission-") as folder:
        data, name = scored_content(download(ref, Path(folder)))
    return hashlib.sha256(data).hexdigest(), name


def identify(sub: dict, digest: str, csv_name: str, by_hash: dict[str, KitFile],
             by_name: dict[str, KitFile]) -> dict:
    """The ledger fields of Kaggle's submission ``sub`` from the SHA-256 and name of the CSV Kaggle holds."""
    sent = sub.get("file_name") or ""
    kit = by_hash.get(digest)
    if kit:
        how = "content hash" if sent == kit.name else f"content hash (sent as {sent})"
        return {**row_from_kit(kit), "source": "outside", "matched_by": how}
    unknown = {"file_hash": digest, "runs": [], "cv": None, "postprocess": [], "method": None}
    named = by_name.get(csv_name) or by_name.get(sent)
    if named:
        return {**unknown, "file_name": named.name, "source": "modified", "matched_by": "file name, other content"}
    return {**unknown, "file_name": sent, "source": "external", "matched_by": None}


def track(ledger: Ledger, competition: str, kaggle_submissions: list[dict], files: list[KitFile],
          download: Callable[[int, Path], Path]) -> Tracked:
    """Add to the ledger, oldest first, each of Kaggle's submissions it lacks, and correct the rows older versions
    tracked without comparing content. Rows of kit files written before the blend method was recorded get it from
    the file's JSON. ``download(ref, folder)`` fetches the file Kaggle holds for a submission (raising when it
    cannot)."""
    by_name = {f.name: f for f in files}
    by_hash = {f.sha256: f for f in files}
    for kit in files:
        ledger.fill_method(competition, kit.sha256, kit.meta.get("method"))
    known, unchecked = ledger.known_refs(competition), ledger.unchecked(competition)
    tracked = Tracked()
    for sub in sorted((s for s in kaggle_submissions if s["ref"] not in known or s["ref"] in unchecked),
                      key=lambda s: s["ref"]):
        try:
            digest, csv_name = read_content(download, sub["ref"])
        except KaggleError as error:
            tracked.unread.append(f"submission {sub['ref']} ({sub.get('file_name')}): Kaggle's copy could not be "
                                  f"read ({error}); kept as unread, with no CV: the next sync tries again")
            if sub["ref"] in unchecked:
                continue
            fields = {"file_hash": "", "file_name": sub.get("file_name") or "", "runs": [], "cv": None,
                      "postprocess": [], "method": None, "source": "unread", "matched_by": None}
        else:
            fields = identify(sub, digest, csv_name, by_hash, by_name)
        if sub["ref"] in unchecked:
            ledger.correct(unchecked[sub["ref"]], **fields)
            tracked.corrected.append({**fields, "kaggle_ref": sub["ref"], "id": unchecked[sub["ref"]]})
            continue
        row = {**fields, "competition": competition, "message": sub.get("description") or "",
               "status": sub["status"], "kaggle_ref": sub["ref"], "submitted": kaggle_time(sub.get("date")),
               "public_score": sub.get("public_score"), "private_score": sub.get("private_score")}
        row["id"] = ledger.add(**row)
        tracked.added.append(row)
    return tracked
