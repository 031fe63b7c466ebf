"""Send a submission file to Kaggle and record it in the ledger.

``python -m submissions.submit FILE -m "MESSAGE" [--dry-run] [--force] [--ledger PATH]``
(or ``--latest --competition nexperia`` for the newest file blended for the data in use, ``--data`` or the
competition's data folder: files made for other data are skipped and named). The competition, CV AUC, runs and
post-processing come from the JSON that ``submissions.blend`` wrote beside the file; the message sent to
Kaggle carries them. The file is validated against the sample submission first; a file already sent is
refused unless ``--force``; ``--dry-run`` records without sending. A failed send is recorded as ``failed``.

The ledger row is written (status ``sending``) before the upload starts and settled from Kaggle's answer, so a
submit killed or timed out in between leaves a row: the next submit of the same file first looks it up in
Kaggle's list of the team's submissions (file name, description, time) and sends nothing if Kaggle has it.

Before sending, the competition's daily limit (``max_daily_submissions``) is read from Kaggle and the team's
submissions of the current UTC day counted from its list: past the limit the file is not sent, and the one line
says when the quota resets (00:00 UTC). ``--dry-run`` asks Kaggle nothing: it shows the quota as the ledger knows
it from the last ``leaderboard sync``. Credentials Kaggle refuses (HTTP 401) end the submit in one line saying so
(never the credentials themselves); the row is settled ``failed``, as nothing reached Kaggle.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from common.cli import run_cli
from common.config import option, parse_config
from common.errors import BadInput, KitError
from common.registry import get_competition
from common import kaggle_client
from submissions import quota
from submissions.ledger import SENDING, Ledger, default_ledger, kaggle_time
from submissions.store import file_sha256, latest_submission, read_sidecar
from submissions.validate import validate_file

logger = logging.getLogger(__name__)

MAX_MESSAGE = 500


class AlreadySent(KitError, RuntimeError):
    pass


def compose_message(message: str, meta: dict) -> str:
    """The user's message plus the CV AUC (with its 95% CI), the runs and the post-processing, as Kaggle's
    description."""
    parts = [message.strip()] if message.strip() else []
    cv = meta.get("cv") or {}
    if cv.get("auc") is not None:
        parts.append(f"CV AUC {cv['auc']:.5f} [{cv['ci_low']:.5f}, {cv['ci_high']:.5f}]")
    runs = [r["name"] for r in meta.get("runs", [])]
    if runs:
        method = meta.get("method")
        parts.append((f"{method} of " if method and len(runs) > 1 else "run ") + "+".join(runs))
    post = [step["name"] for step in meta.get("postprocess", [])]
    if post:
        parts.append("post " + "+".join(post))
    text = " | ".join(parts)
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE - 3] + "..."


def submit_file(path: str | Path, message: str, competition: str | None = None,
                data_dir: str | Path | None = None, ledger_path: str | Path | None = None,
                dry_run: bool = False, force: bool = False) -> dict:
    """Validate, check the ledger (default :func:`~submissions.ledger.default_ledger`), send (unless ``dry_run``)
    and record; return the ledger entry."""
    path = Path(path)
    meta = read_sidecar(path)
    competition = competition or meta.get("competition")
    if not competition:
        raise BadInput(f"{path} has no JSON beside it naming its competition: pass --competition")
    if meta.get("competition") not in (None, competition):
        raise BadInput(f"{path} was made for {meta['competition']}, not {competition}")
    spec = get_competition(competition)
    validate_file(path, competition, data_dir)
    file_hash = file_sha256(path)
    text = compose_message(message, meta)
    entry = dict(file_hash=file_hash, file_name=path.name, competition=competition, message=text,
                 runs=[r["name"] for r in meta.get("runs", [])], cv=meta.get("cv"),
                 postprocess=meta.get("postprocess", []), method=meta.get("method"))
    with Ledger(ledger_path) as ledger:
        api = None
        if ledger.unsettled(competition, file_hash) and not dry_run:
            api = kaggle_client.connect()
            settle_interrupted(ledger, api, competition, spec.slug, file_hash)
        previous = ledger.sent(competition, file_hash)
        if previous and not force:
            refs = [p["kaggle_ref"] for p in previous]
            unsettled = " (an earlier submit of it stopped before Kaggle answered)" if any(
                p["status"] == SENDING for p in previous) else ""
            raise AlreadySent(f"{path.name} was already sent to Kaggle{unsettled} (submission ref(s) {refs}, "
                              f"ledger {ledger.path}); use --force to send it again")
        if dry_run:
            entry["id"] = ledger.add(**entry, status="dry-run")
            return {**entry, "status": "dry-run", "quota": quota.from_ledger(ledger, competition)}
        entry["id"] = ledger.add(**entry, status=SENDING)
        try:
            api = api or kaggle_client.connect()
            today = quota_before_sending(ledger, api, competition, spec.slug)
        except (kaggle_client.KaggleError, quota.QuotaReached) as error:
            ledger.settle(entry["id"], "failed", error=str(error))
            raise
        try:
            ref = kaggle_client.submit(api, path, text, spec.slug)
        except kaggle_client.CredentialsRefused as error:  # refused before anything was taken
            ledger.settle(entry["id"], "failed", error=str(error))
            raise
        except kaggle_client.KaggleError as error:
            # an error after the upload (a timeout, say) may still have left the file with Kaggle: ask
            try:
                found = kaggle_client.list_submissions(api, spec.slug)
            except kaggle_client.KaggleError:
                raise kaggle_client.KaggleError(f"{error}; whether Kaggle got the file is not known: the next submit "
                                                "of it or `leaderboard sync` settles it") from None
            row = next(r for r in ledger.settle_from_kaggle(competition, found, file_hash) if r["id"] == entry["id"])
            if row["status"] == "failed":
                ledger.settle(entry["id"], "failed", error=str(error))
                raise
            ref, status = row["kaggle_ref"], row["status"]
        else:
            status = "pending"
            ledger.settle(entry["id"], status, kaggle_ref=ref)
    return {**entry, "status": status, "kaggle_ref": ref,
            "quota": today and quota.Quota(today.limit, today.used + 1, today.day)}


def quota_before_sending(ledger: Ledger, api, competition: str, slug: str) -> quota.Quota | None:
    """Today's quota from Kaggle (kept in the ledger); raises :class:`quota.QuotaReached` when none is left.
    None when Kaggle's record cannot be read: Kaggle enforces its limit anyway, so that does not stop the send."""
    try:
        record = kaggle_client.competition(api, slug)
        submissions = kaggle_client.list_submissions(api, slug)
    except kaggle_client.CredentialsRefused:
        raise
    except kaggle_client.KaggleError as error:
        logger.warning("daily quota not checked: %s", error)
        return None
    ledger.save_competition(competition, record["max_daily_submissions"], kaggle_time(record["deadline"]))
    today = quota.from_kaggle(record["max_daily_submissions"], submissions)
    today.check()
    return today


def settle_interrupted(ledger: Ledger, api, competition: str, slug: str, file_hash: str | None = None) -> list[dict]:
    """Settle the ledger's ``sending`` rows (of one file) against Kaggle's list of the team's submissions."""
    try:
        submissions = kaggle_client.list_submissions(api, slug)
    except kaggle_client.CredentialsRefused:
        raise
    except kaggle_client.KaggleError as error:
        raise kaggle_client.KaggleError(f"an earlier submit stopped before Kaggle answered, and Kaggle's list of "
                                        f"submissions to check it against could not be read: {error}") from None
    return ledger.settle_from_kaggle(competition, submissions, file_hash)


@dataclass
class SubmitOptions:
    """Send a submission file to Kaggle and record it in the ledger."""
    file: str | None = option(None, positional=True, help="submission CSV written by submissions.blend")
    message: str = option(required=True, short="-m", help="what this submission tries")
    latest: bool = option(False, help="send the newest file of --competition made for the data in use (--data)")
    competition: str | None = option(None, help="needed when the file has no JSON beside it")
    data: str | None = option(None, help="folder with the sample submission (default: the competition's data "
                                         "folder)")
    ledger: str | None = option(None, help="SQLite ledger file (default: ledger.sqlite under $KIT_SUBMISSIONS_ROOT "
                                           "or submissions/)")
    files_root: str | None = option(None, help="where --latest looks (default: files/ under $KIT_SUBMISSIONS_ROOT "
                                               "or submissions/)")
    dry_run: bool = option(False, help="validate and record without sending")
    force: bool = option(False, help="send even if this file was sent before")


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_config(SubmitOptions, argv)
    if opts.latest == (opts.file is not None):
        raise BadInput("give either FILE or --latest (with --competition)")
    if opts.latest and not opts.competition:
        raise BadInput("--latest needs --competition")
    ledger = Path(opts.ledger or default_ledger())
    try:
        if opts.file:
            path = Path(opts.file)
        else:
            path, why = latest_submission(opts.competition, opts.files_root, opts.data)
            print(why)
        entry = submit_file(path, opts.message, opts.competition, opts.data, ledger, opts.dry_run, opts.force)
    except KitError as error:
        if opts.dry_run:  # sends nothing anyway
            raise
        raise KitError(f"not sent: {error}") from error
    if entry["status"] == "dry-run":
        print(f"dry run: {path} is valid and recorded (ledger {ledger}, id {entry['id']}), not sent")
    else:
        print(f"sent {path} as Kaggle submission {entry['kaggle_ref']} (ledger {ledger}, id {entry['id']})")
    print(f"message: {entry['message']}")
    if entry["quota"] is None and entry["status"] != "dry-run":
        print("daily quota: not known (Kaggle's competition record could not be read)")
    elif entry["quota"] is None:
        print("daily quota: not known yet (`python -m submissions.leaderboard sync --competition "
              f"{entry['competition']}` reads the limit)")
    else:
        print(entry["quota"].describe() + (" (as of the ledger's last sync)" if entry["status"] == "dry-run" else ""))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
