"""The submission ledger: one SQLite file recording every submission made (or rehearsed) with the kit.

Table ``submissions``: file hash and name, competition, message, CV AUC with its DeLong interval, the
runs blended, post-processing, creation time, Kaggle's submission ref, status and the public/private scores that
``submissions.leaderboard sync`` fills in. Table ``ranks``: the team's leaderboard rank at each sync.
Status is ``dry-run`` (recorded, not sent), ``sending`` (written before the upload starts: whether Kaggle
got the file is not known yet; the next submit of that file or ``leaderboard sync`` settles it against Kaggle's
list of the team's submissions), ``failed`` (sending failed: nothing reached Kaggle), or Kaggle's own
``pending`` / ``complete`` / ``error`` once sent.

``postprocess`` (JSON list of the post-processing steps applied, e.g. ``[{"name": "leak-fix", ...}]``) was
added later, as were ``source`` (``kit``: sent by ``submissions.submit``; ``outside``: a kit file sent another
way, e.g. ``kaggle competitions submit``; ``modified``: sent under a kit file's name with other content, so
without its CV; ``external``: a file the kit did not make; ``unread``: Kaggle's copy could not be downloaded yet,
the next sync tries again), ``matched_by`` (how ``leaderboard sync`` found the kit file of an ``outside`` row:
``content hash``, with the name it was sent under when that differs; ``file name`` in rows of older versions,
checked by content at the next sync), ``method`` (the blend method) and ``submitted`` (Kaggle's time of the
submission), and in ``ranks`` the team count and the score lines of the medal zones: a ledger file without these
columns gets them on opening. Table ``competitions``: the competition record read at the last sync (daily
submission limit, deadline).

A ledger that cannot be read (a folder, a file that is not SQLite, a damaged one, another program's database) is
refused in one line naming it, before anything is asked of Kaggle; commands that only read the ledger refuse a
path where there is none rather than start an empty one.
"""
from __future__ import annotations

import contextlib
import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import pandas as pd

from common.errors import BadInput, MissingInput
from common.io import DiskFullError, is_disk_full
from common.paths import submissions_root

NOT_SENT = ("dry-run", "failed")
NOT_ACCEPTED = ("error", *NOT_SENT)  # neither counted against the quota nor a final pick
SENDING = "sending"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    file_hash     TEXT NOT NULL,
    file_name     TEXT NOT NULL,
    competition   TEXT NOT NULL,
    message       TEXT NOT NULL,
    cv_auc        REAL,
    cv_ci_low     REAL,
    cv_ci_high    REAL,
    runs          TEXT NOT NULL,
    created       TEXT NOT NULL,
    kaggle_ref    INTEGER,
    status        TEXT NOT NULL,
    error         TEXT,
    public_score  REAL,
    private_score REAL,
    postprocess   TEXT NOT NULL DEFAULT '[]',
    source        TEXT NOT NULL DEFAULT 'kit',
    matched_by    TEXT,
    method        TEXT,
    submitted     TEXT
);
CREATE INDEX IF NOT EXISTS submissions_hash ON submissions (competition, file_hash);
CREATE TABLE IF NOT EXISTS ranks (
    competition TEXT NOT NULL,
    synced      TEXT NOT NULL,
    team        TEXT NOT NULL,
    rank        INTEGER,
    score       REAL,
    teams       INTEGER,
    gold        REAL,
    silver      REAL,
    bronze      REAL
);
CREATE TABLE IF NOT EXISTS competitions (
    competition           TEXT PRIMARY KEY,
    max_daily_submissions INTEGER NOT NULL,
    deadline              TEXT
);
"""
# Columns added after the first release: table -> {name: definition}, added to an older ledger file when missing.
_ADDED_COLUMNS = {
    "submissions": {"postprocess": "TEXT NOT NULL DEFAULT '[]'", "source": "TEXT NOT NULL DEFAULT 'kit'",
                    "matched_by": "TEXT", "method": "TEXT", "submitted": "TEXT"},
    "ranks": {"teams": "INTEGER", "gold": "REAL", "silver": "REAL", "bronze": "REAL"},
}
RANK_FIELDS = ("team", "rank", "score", "teams", "gold", "silver", "bronze")


CLOCK_SLACK_S = 600  # a Kaggle submission up to this long before a ledger row's time may still be that row's


def match_unsettled(row: dict, kaggle_submissions: list[dict], taken: set[int] = frozenset()) -> dict | None:
    """The Kaggle submission (``kaggle_client.list_submissions``) a ``sending`` row became: same file name and
    description, made no earlier than the row (less the clock slack), not ``taken`` by another row, the earliest
    such; None if Kaggle has none."""
    since = parse_time(row["created"]).timestamp() - CLOCK_SLACK_S
    same = [s for s in kaggle_submissions if s["ref"] not in taken and s.get("file_name") == row["file_name"]
            and (s.get("description") or "") == row["message"] and parse_time(s.get("date")).timestamp() >= since]
    return min(same, key=lambda s: s["ref"]) if same else None


def parse_time(value) -> datetime:
    """A UTC time from the ledger's text, Kaggle's ISO text or a datetime (naive ones taken as UTC)."""
    if isinstance(value, datetime):
        stamp = value
    elif value:
        stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    else:
        stamp = datetime.fromtimestamp(0, timezone.utc)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)


def kaggle_time(value) -> str | None:
    """Kaggle's time of a submission as the ledger's UTC text."""
    return parse_time(value).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_damage(err: sqlite3.DatabaseError) -> bool:
    """Whether SQLite's error says the file is not an intact database (not a lock, a full disk or a kit bug)."""
    return type(err) is sqlite3.DatabaseError or (isinstance(err, sqlite3.OperationalError)
                                                  and "unable to open" in str(err))


def default_ledger() -> Path:
    """``ledger.sqlite`` under the submissions root (``$KIT_SUBMISSIONS_ROOT`` or ``submissions/``)."""
    return submissions_root() / "ledger.sqlite"


class DamagedLedger(BadInput):
    """The ledger file cannot be read as a ledger (named in the message, with what to do)."""


def damaged(path: Path, why: str) -> DamagedLedger:
    return DamagedLedger(f"ledger {path} is not a readable SQLite ledger ({why}): move it aside and run "
                         f"`python -m submissions.leaderboard sync --competition NAME --ledger {path}`, which starts a "
                         f"new one from Kaggle's list and the kit's files, or pass the right --ledger")


class Ledger:
    """Read and append submission records; every write is one committed transaction. ``must_exist``: for commands
    that only read it, a missing file is refused instead of started."""

    def __init__(self, path: str | Path | None = None, must_exist: bool = False):
        self.path = Path(path or default_ledger())
        if self.path.is_dir():
            raise BadInput(f"ledger {self.path} is a folder: give the ledger file with --ledger, e.g. "
                           f"{self.path / 'ledger.sqlite'}")
        if not self.path.is_file():
            if must_exist:
                raise MissingInput(f"no ledger at {self.path}: check --ledger (a submit or `python -m "
                                   f"submissions.leaderboard sync` writes one)")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path)
        self._db.row_factory = sqlite3.Row
        try:
            self._check_readable()
            with self._writing():
                self._db.executescript(_SCHEMA)
                for table, columns in _ADDED_COLUMNS.items():
                    present = {row["name"] for row in self._db.execute(f"PRAGMA table_info({table})")}
                    for column, definition in columns.items():
                        if column not in present:
                            self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
        except BaseException:
            self._db.close()
            raise

    def _check_readable(self) -> None:
        """Refuse a file that is not an intact ledger: not SQLite, damaged pages, or another program's database."""
        try:
            verdict = self._db.execute("PRAGMA quick_check").fetchone()[0]
            tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as err:
            if not is_damage(err):
                raise
            raise damaged(self.path, str(err)) from err
        if verdict != "ok":
            raise damaged(self.path, f"SQLite's check says: {verdict}")
        if tables and "submissions" not in tables:
            raise BadInput(f"{self.path} is an SQLite database but not a ledger (no submissions table): pass the "
                           f"ledger file with --ledger")

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """One committed transaction; SQLite's 'database or disk is full' becomes :class:`DiskFullError`."""
        try:
            with self._db:
                yield
        except (sqlite3.DatabaseError, OSError) as err:
            if is_disk_full(err):
                raise DiskFullError(self.path) from err
            if isinstance(err, sqlite3.DatabaseError) and is_damage(err):
                raise damaged(self.path, str(err)) from err
            raise

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def add(self, *, file_hash: str, file_name: str, competition: str, message: str, runs: list[str],
            status: str, cv: dict | None = None, kaggle_ref: int | None = None,
            error: str | None = None, postprocess: list[dict] | None = None, method: str | None = None,
            source: str = "kit", matched_by: str | None = None, submitted: str | None = None,
            public_score: float | None = None, private_score: float | None = None) -> int:
        """Record one submission; return its ledger id. Rows found on Kaggle by ``leaderboard sync`` pass
        Kaggle's time as ``submitted``: it is their ``created`` too."""
        cv = cv or {}
        with self._writing():
            cursor = self._db.execute(
                "INSERT INTO submissions (file_hash, file_name, competition, message, cv_auc, cv_ci_low, "
                "cv_ci_high, runs, postprocess, created, kaggle_ref, status, error, method, source, matched_by, "
                "submitted, public_score, private_score) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (file_hash, file_name, competition, message, cv.get("auc"), cv.get("ci_low"),
                 cv.get("ci_high"), json.dumps(runs), json.dumps(postprocess or []), submitted or utc_now(),
                 kaggle_ref, status, error, method, source, matched_by, submitted, public_score, private_score))
        return int(cursor.lastrowid)

    def settle(self, row_id: int, status: str, kaggle_ref: int | None = None, error: str | None = None) -> None:
        """Record what became of a ``sending`` row: Kaggle's ref and status, or ``failed`` with the reason."""
        with self._writing():
            self._db.execute("UPDATE submissions SET status = ?, kaggle_ref = ?, error = ? WHERE id = ?",
                             (status, kaggle_ref, error, row_id))

    def unsettled(self, competition: str, file_hash: str | None = None) -> list[dict]:
        """``sending`` rows (of one file): submits that stopped before Kaggle's answer was recorded."""
        query = "SELECT * FROM submissions WHERE competition = ? AND status = ?"
        params: tuple = (competition, SENDING)
        if file_hash is not None:
            query, params = query + " AND file_hash = ?", (*params, file_hash)
        return [dict(r) for r in self._db.execute(query + " ORDER BY id", params).fetchall()]

    def settle_from_kaggle(self, competition: str, kaggle_submissions: list[dict],
                           file_hash: str | None = None) -> list[dict]:
        """Settle the ``sending`` rows (of one file) against Kaggle's list: a row found there gets its ref and
        status, one Kaggle lacks becomes ``failed`` (the upload never completed). Returns the settled rows."""
        settled = []
        for row in self.unsettled(competition, file_hash):
            found = match_unsettled(row, kaggle_submissions, self.known_refs(competition))
            if found:
                self.settle(row["id"], found["status"], kaggle_ref=found["ref"])
                settled.append({**row, "status": found["status"], "kaggle_ref": found["ref"]})
            else:
                reason = "the submit stopped before Kaggle accepted the file (not in Kaggle's list)"
                self.settle(row["id"], "failed", error=reason)
                settled.append({**row, "status": "failed", "error": reason})
        return settled

    def known_refs(self, competition: str) -> set[int]:
        rows = self._db.execute("SELECT kaggle_ref FROM submissions WHERE competition = ? AND kaggle_ref IS NOT NULL",
                                (competition,)).fetchall()
        return {int(r["kaggle_ref"]) for r in rows}

    def unchecked(self, competition: str) -> dict[int, int]:
        """Kaggle ref -> ledger id of the tracked rows whose content is not known: ``unread`` ones (the download of
        Kaggle's copy failed) and those older versions tracked without comparing it (matched by file name, or
        external with no hash)."""
        rows = self._db.execute(
            "SELECT id, kaggle_ref FROM submissions WHERE competition = ? AND kaggle_ref IS NOT NULL AND "
            "(source = 'unread' OR (source = 'outside' AND matched_by = 'file name') "
            "OR (source = 'external' AND file_hash = ''))",
            (competition,)).fetchall()
        return {int(r["kaggle_ref"]): int(r["id"]) for r in rows}

    def correct(self, row_id: int, *, file_hash: str, file_name: str, runs: list[str], cv: dict | None,
                postprocess: list[dict], method: str | None, source: str, matched_by: str | None) -> None:
        """Give a tracked row what the content of Kaggle's copy says it is (:meth:`unchecked`)."""
        cv = cv or {}
        with self._writing():
            self._db.execute(
                "UPDATE submissions SET file_hash = ?, file_name = ?, runs = ?, cv_auc = ?, cv_ci_low = ?, "
                "cv_ci_high = ?, postprocess = ?, method = ?, source = ?, matched_by = ? WHERE id = ?",
                (file_hash, file_name, json.dumps(runs), cv.get("auc"), cv.get("ci_low"), cv.get("ci_high"),
                 json.dumps(postprocess), method, source, matched_by, row_id))

    def sent(self, competition: str, file_hash: str) -> list[dict]:
        """Records of this file already sent to Kaggle (any status but dry-run and failed)."""
        rows = self._db.execute(
            f"SELECT * FROM submissions WHERE competition = ? AND file_hash = ? "
            f"AND status NOT IN ({','.join('?' * len(NOT_SENT))}) ORDER BY id",
            (competition, file_hash, *NOT_SENT)).fetchall()
        return [dict(r) for r in rows]

    def update_from_kaggle(self, competition: str, kaggle_submissions: list[dict]) -> int:
        """Copy status, scores and Kaggle's time of Kaggle's submissions onto the records with the same ref;
        return how many records changed."""
        updated = 0
        with self._writing():
            for sub in kaggle_submissions:
                values = (sub["status"], sub["public_score"], sub["private_score"], kaggle_time(sub.get("date")))
                cursor = self._db.execute(
                    "UPDATE submissions SET status = ?, public_score = ?, private_score = ?, submitted = ? "
                    "WHERE competition = ? AND kaggle_ref = ? AND (status, public_score, private_score, submitted) "
                    "IS NOT (?, ?, ?, ?)", (*values, competition, sub["ref"], *values))
                updated += cursor.rowcount
        return updated

    def fill_method(self, competition: str, file_hash: str, method: str | None) -> int:
        """Give the blend method to the file's records that lack it (rows written before it was recorded)."""
        if not method:
            return 0
        with self._writing():
            return self._db.execute("UPDATE submissions SET method = ? WHERE competition = ? AND file_hash = ? "
                                    "AND method IS NULL", (method, competition, file_hash)).rowcount

    def add_rank(self, competition: str, standing: dict) -> bool:
        """Record the team's standing (``RANK_FIELDS``) unless it is the same as at the last sync; True if
        recorded."""
        last = self.latest_rank(competition)
        if last and all(last[k] == standing.get(k) for k in RANK_FIELDS):
            return False
        with self._writing():
            self._db.execute(f"INSERT INTO ranks (competition, synced, {', '.join(RANK_FIELDS)}) "
                             f"VALUES (?,?,{','.join('?' * len(RANK_FIELDS))})",
                             (competition, utc_now(), *(standing.get(k) for k in RANK_FIELDS)))
        return True

    def ranks(self, competition: str) -> pd.DataFrame:
        """The team's standing at every sync that changed it, oldest first."""
        return pd.read_sql_query("SELECT * FROM ranks WHERE competition = ? ORDER BY rowid", self._db,
                                 params=(competition,))

    def save_competition(self, competition: str, max_daily_submissions: int, deadline: str | None) -> None:
        with self._writing():
            self._db.execute("INSERT OR REPLACE INTO competitions VALUES (?,?,?)",
                             (competition, max_daily_submissions, deadline))

    def competition_record(self, competition: str) -> dict | None:
        row = self._db.execute("SELECT * FROM competitions WHERE competition = ?", (competition,)).fetchone()
        return dict(row) if row else None

    def latest_rank(self, competition: str) -> dict | None:
        row = self._db.execute("SELECT * FROM ranks WHERE competition = ? ORDER BY rowid DESC LIMIT 1",
                               (competition,)).fetchone()
        return dict(row) if row else None

    def table(self, competition: str | None = None) -> pd.DataFrame:
        """All records (of one competition), oldest first, ``runs`` and ``postprocess`` decoded to lists."""
        query, params = "SELECT * FROM submissions", ()
        if competition:
            query, params = query + " WHERE competition = ?", (competition,)
        df = pd.read_sql_query(query + " ORDER BY id", self._db, params=params)
        df["runs"] = df["runs"].map(json.loads)
        df["postprocess"] = df["postprocess"].map(json.loads)
        return df
