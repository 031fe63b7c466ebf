"""The only module that talks to Kaggle: thin wrappers over the official client (``kaggle`` 2.x).

``kaggle`` is imported inside ``connect()``, never at module import, because importing it tries to
authenticate: everything else in the kit works on a machine without credentials. Answers are turned
into plain dicts so no other module depends on the client's types. Credentials are never printed:
the client's verbose mode (which prints request headers) is switched off, and errors carry only the
server's message.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path
from typing import Any
from common.errors import KitError

CREDENTIALS_HELP = (
    "no Kaggle credentials found: set KAGGLE_API_TOKEN (or KAGGLE_USERNAME and KAGGLE_KEY), or put "
    "kaggle.json in $KAGGLE_CONFIG_DIR or ~/.kaggle (https://www.kaggle.com/settings/api)")
CREDENTIALS_REFUSED = (
    "Kaggle refused the credentials (HTTP 401) while {what}: the key found is wrong, expired or revoked; create a new "
    "token at https://www.kaggle.com/settings/api and put it in KAGGLE_API_TOKEN (or KAGGLE_USERNAME and KAGGLE_KEY, "
    "or kaggle.json in $KAGGLE_CONFIG_DIR or ~/.kaggle)")
TERMINAL_KERNEL_STATUSES = frozenset({"COMPLETE", "ERROR", "CANCEL_ACKNOWLEDGED"})


class KaggleError(KitError, RuntimeError):
    """A Kaggle call failed; the message says which call and why, ``status`` is Kaggle's HTTP status if it answered."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class MissingCredentials(KaggleError):
    pass


class CredentialsRefused(KaggleError):
    """Kaggle answered 401: the credentials were found but Kaggle does not accept them."""


def connect() -> Any:
    """An authenticated ``KaggleApi``; raises ``MissingCredentials`` (never exits) when there are none."""
    with contextlib.redirect_stdout(io.StringIO()):  # importing kaggle authenticates, printing help on failure
        from kaggle.api.kaggle_api_extended import KaggleApi
    api = KaggleApi()
    # KaggleApi reads these environment variables once, when it is imported; read them again now.
    api.args = ["--local"] if os.environ.get("KAGGLE_API_ENVIRONMENT") == "LOCALHOST" else []
    if os.environ.get("KAGGLE_CONFIG_DIR"):
        api.config_dir = os.environ["KAGGLE_CONFIG_DIR"]
        api.config = os.path.join(api.config_dir, api.config_file)
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            api.authenticate()
    except SystemExit:
        raise MissingCredentials(CREDENTIALS_HELP) from None
    if printed.getvalue().strip():  # e.g. the warning that kaggle.json is readable by other users
        print(printed.getvalue().strip(), file=sys.stderr)
    return api


def _call(what: str, func, *args: Any, **kwargs: Any) -> Any:
    """Run one client call, turning its errors into ``KaggleError`` naming ``what`` failed."""
    try:
        return func(*args, **kwargs)
    except KaggleError:
        raise
    except Exception as error:  # requests.HTTPError, ValueError from the client's own checks, ...
        status = getattr(getattr(error, "response", None), "status_code", None)
        if status == 401:
            raise CredentialsRefused(CREDENTIALS_REFUSED.format(what=what), status) from None
        shown = f" (HTTP {status})" if status is not None else ""
        raise KaggleError(f"{what} failed{shown}: {error}", status) from None


# -- competitions ---------------------------------------------------------------------------------
def submit(api: Any, path: str | Path, message: str, competition_slug: str) -> int:
    """Upload ``path`` as a submission; return Kaggle's submission ref. Raises if anything failed."""
    with contextlib.redirect_stdout(io.StringIO()) as printed:  # the client prints upload errors
        response = _call(f"submitting {path} to {competition_slug}", api.competition_submit,
                         str(path), message, competition_slug, quiet=True)
    if response.message == api.COMPETITION_SUBMIT_UPLOAD_FAILED_MESSAGE or not response.ref:
        detail = printed.getvalue().strip() or response.message
        raise KaggleError(f"submitting {path} to {competition_slug} failed: {detail}")
    return int(response.ref)


def list_submissions(api: Any, competition_slug: str, page_size: int = 100) -> list[dict]:
    """Every one of the team's submissions (all pages), newest first: ref, file_name, date, description,
    status, scores, total_bytes."""
    from kagglesdk.competitions.types.competition_api_service import ApiListSubmissionsRequest

    def every_page() -> list:
        # ``competition_submissions`` drops the next-page token, so the pages are read through its own SDK call
        found, token, seen = [], "", set()
        with api.build_kaggle_client() as kaggle:
            while True:
                request = ApiListSubmissionsRequest()
                request.competition_name, request.page_size, request.page_token = competition_slug, page_size, token
                response = kaggle.competitions.competition_api_client.list_submissions(request)
                found += [s for s in response.submissions or [] if s is not None]
                token = response.next_page_token
                if not token or token in seen:
                    return found
                seen.add(token)

    found = _call(f"listing submissions of {competition_slug}", every_page)
    unique: dict[int, Any] = {}
    for s in found:  # a submission made while the pages are read shifts them: one may come twice
        unique.setdefault(int(s.ref), s)
    return [{"ref": int(s.ref), "file_name": s.file_name, "date": s.date, "description": s.description,
             "status": s.status.name.lower(), "public_score": _score(s.public_score),
             "private_score": _score(s.private_score), "total_bytes": s.total_bytes} for s in unique.values()]


def download_submission(api: Any, ref: int, folder: str | Path) -> Path:
    """Download the file Kaggle holds for submission ``ref`` into the empty ``folder``; return its path."""
    folder = Path(folder)
    with contextlib.redirect_stdout(io.StringIO()):
        _call(f"downloading submission {ref}", api.competition_download_submission, ref, str(folder),
              force=True, quiet=True)
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
    if len(files) != 1:
        raise KaggleError(f"downloading submission {ref} gave {len(files)} files, not one")
    return files[0]


def download_leaderboard(api: Any, competition_slug: str, folder: str | Path) -> Path:
    """The whole public leaderboard (every team) as Kaggle's zipped CSV, saved in ``folder``; its path."""
    with contextlib.redirect_stdout(io.StringIO()):
        _call(f"downloading the leaderboard of {competition_slug}", api.competition_leaderboard_download,
              competition_slug, str(folder), quiet=True)
    return Path(folder) / f"{competition_slug}.zip"


def competition(api: Any, competition_slug: str) -> dict:
    """The competition's record: max_daily_submissions (0 when Kaggle sets none), deadline, team_count."""
    from kagglesdk.competitions.types.competition_api_service import ApiGetCompetitionRequest

    def read() -> Any:
        with api.build_kaggle_client() as kaggle:
            request = ApiGetCompetitionRequest()
            request.competition_name = competition_slug
            return kaggle.competitions.competition_api_client.get_competition(request)

    record = _call(f"reading the competition {competition_slug}", read)
    return {"max_daily_submissions": int(record.max_daily_submissions or 0), "deadline": record.deadline,
            "team_count": int(record.team_count or 0)}


def username(api: Any) -> str:
    return api.config_values.get(api.CONFIG_NAME_USER) or ""


def _score(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


# -- kernels --------------------------------------------------------------------------------------
def push_kernel(api: Any, folder: str | Path) -> dict:
    """Push a kernel folder (``kernel-metadata.json`` + code); return ref, url and version number."""
    response = _call(f"pushing kernel {folder}", api.kernels_push, str(folder))
    if response.error:
        raise KaggleError(f"pushing kernel {folder} failed: {response.error}")
    invalid = (response.invalid_dataset_sources + response.invalid_competition_sources
               + response.invalid_kernel_sources + response.invalid_model_sources)
    if invalid:
        raise KaggleError(f"pushing kernel {folder}: Kaggle rejected the sources {invalid}")
    return {"ref": response.ref, "url": response.url, "version": response.version_number}


def kernel_status(api: Any, kernel_ref: str) -> tuple[str, str | None]:
    """``(status, failure message)`` of the kernel's latest run; status as in ``KernelWorkerStatus``."""
    response = _call(f"reading the status of kernel {kernel_ref}", api.kernels_status, kernel_ref)
    return response.status.name, response.failure_message


def kernel_output(api: Any, kernel_ref: str, path: str | Path) -> list[Path]:
    """Download the kernel's output files (and its log) into ``path``."""
    files, _ = _call(f"downloading the output of kernel {kernel_ref}", api.kernels_output,
                     kernel_ref, str(path), force=True, quiet=True)
    return [Path(f) for f in files]


# -- datasets -------------------------------------------------------------------------------------
def create_dataset(api: Any, folder: str | Path) -> str:
    """Create a private dataset from ``folder`` (sub-folders uploaded as zip archives); return its ref."""
    with contextlib.redirect_stdout(io.StringIO()):
        response = _call(f"creating dataset from {folder}", api.dataset_create_new, str(folder),
                         public=False, quiet=True, dir_mode="zip")
    if response.error:
        raise KaggleError(f"creating dataset from {folder} failed: {response.error}")
    return response.ref


def version_dataset(api: Any, folder: str | Path, notes: str) -> str:
    """Upload ``folder`` as a new version of its dataset; return the dataset's ref."""
    with contextlib.redirect_stdout(io.StringIO()):
        response = _call(f"versioning dataset from {folder}", api.dataset_create_version, str(folder),
                         notes, quiet=True, dir_mode="zip")
    if response.error:
        raise KaggleError(f"versioning dataset from {folder} failed: {response.error}")
    return response.ref


def dataset_exists(api: Any, dataset_ref: str) -> bool:
    try:
        api.dataset_status(dataset_ref)
        return True
    except Exception as error:
        response = getattr(error, "response", None)
        if response is not None and response.status_code == 404:
            return False
        raise KaggleError(f"reading the status of dataset {dataset_ref} failed: {error}") from None
