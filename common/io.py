"""Atomic file writes: write to a temporary file beside the target, then rename over it.

A process killed halfway leaves the previous file intact instead of a truncated one, and a leftover:
a hidden ``.<name>.<random>.tmp`` file here, or a ``<name>.tmp-<pid>`` file or folder of a cache writer
that names itself by process id. ``clean_leftovers`` removes those whose writer is gone.
"""
from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

from common.errors import BadInput, KitError, MissingInput

logger = logging.getLogger(__name__)

ATOMIC_TMP = re.compile(r"^\..+\.[A-Za-z0-9_]{6,}\.tmp$")
"""``atomic_path``'s temporary files: ``.<name>.<mkstemp random part>.tmp``."""
PID_TMP = re.compile(r"^.+\.tmp-(\d+)$")
"""Files or folders a writer names ``<target>.tmp-<pid>`` before renaming them to ``<target>``."""
LEFTOVER_AGE_S = 3600.0
NEARLY_FULL_BYTES = 1 << 20  # a write that failed with less free space than this ran out of it
DISK_FULL_TEXTS = ("no space left on device", "database or disk is full", "disk quota exceeded")


class DiskFullError(KitError, OSError):
    """The device ran out of space while writing ``filename``; ``common.cli`` prints it as one line."""

    def __init__(self, path: str | Path):
        super().__init__(errno.ENOSPC, "no space left on device", str(path))

    def __str__(self) -> str:
        return f"no space left on device writing {self.filename}"


def is_disk_full(error: BaseException, folder: str | Path | None = None) -> bool:
    """Whether ``error`` means the disk is full: ENOSPC/EDQUOT, a library's own words for it (pyarrow, SQLite),
    or, for a library that only says it could not write (LightGBM, torch), next to no space left in ``folder``."""
    if isinstance(error, DiskFullError) or getattr(error, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
        return True
    if any(text in str(error).lower() for text in DISK_FULL_TEXTS):
        return True
    if folder is not None:
        with contextlib.suppress(OSError):
            return shutil.disk_usage(folder).free < NEARLY_FULL_BYTES
    return False


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success it replaces ``path``. A write that fails for
    want of space raises :class:`DiskFullError` naming ``path`` (the earlier file, if any, is kept)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        if is_disk_full(err):
            raise DiskFullError(path) from err
        raise
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.chmod(0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except Exception as err:
        if not isinstance(err, DiskFullError) and is_disk_full(err, path.parent):  # checked before the unlink
            raise DiskFullError(path) from err
        raise
    finally:
        tmp_path.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class DamagedFile(BadInput):
    """A file the kit wrote (or a user handed over) that cannot be read back: truncated, edited, not what it says."""

    def __init__(self, path: str | Path, reason: str, hint: str = "restore it, or delete it to start that step again"):
        self.path, self.reason = Path(path), reason
        super().__init__(f"{path} is damaged ({reason}): {hint}")


def read_json(path: str | Path, hint: str | None = None) -> Any:
    """The content of a JSON file; one that does not parse names itself in one line (:class:`DamagedFile`)."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        reason = f"not valid JSON: {str(err).splitlines()[0]}"
        raise (DamagedFile(path, reason, hint) if hint else DamagedFile(path, reason)) from None


def read_csv(path: str | Path, hint: str | None = None, **kwargs: Any) -> pd.DataFrame:
    """``pandas.read_csv`` of a file a user hands over or the kit wrote; one that is missing or does not parse
    names itself in one line (:class:`MissingInput`, :class:`DamagedFile` with ``hint``, what to do)."""
    path = Path(path)
    if not path.is_file():
        raise MissingInput(f"file not found: {path}")
    try:
        return pd.read_csv(path, **kwargs)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as err:
        reason = ("empty: not even a header line" if isinstance(err, pd.errors.EmptyDataError)
                  else f"not a readable CSV: {str(err).strip().splitlines()[0]}")
        raise (DamagedFile(path, reason, hint) if hint else DamagedFile(path, reason)) from None
    except ValueError as err:  # usecols or dtype naming a column the file lacks
        raise BadInput(f"{path}: {str(err).strip().splitlines()[0]}") from None


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def atomic_write_csv(path: str | Path, df: pd.DataFrame, **kwargs: Any) -> Path:
    kwargs.setdefault("index", False)
    with atomic_path(path) as tmp:
        df.to_csv(tmp, **kwargs)
    return Path(path)


def atomic_write_parquet(path: str | Path, df, compression: str = "snappy") -> Path:
    """A pandas or polars DataFrame as parquet (its index is not written)."""
    with atomic_path(path) as tmp:
        if isinstance(df, pd.DataFrame):
            df.to_parquet(tmp, index=False, compression=compression)
        else:
            df.write_parquet(tmp, compression=compression)
    return Path(path)


def atomic_write_ipc(path: str | Path, df) -> Path:
    """A polars DataFrame as an uncompressed Arrow IPC (Feather v2) file: written at the speed of a copy and
    memory-mapped when read back, which is what a local cache wants (parquet's encodings cost time to save
    space it does not need)."""
    with atomic_path(path) as tmp:
        df.write_ipc(tmp, compression="uncompressed")
    return Path(path)


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def clean_leftovers(folder: str | Path, older_than_s: float = LEFTOVER_AGE_S, depth: int = 1) -> list[Path]:
    """Remove what killed writers left in ``folder`` (and its subfolders down to ``depth`` levels).

    - ``<name>.tmp-<pid>`` files or folders whose process ``<pid>`` no longer runs on this machine;
    - ``.<name>.<random>.tmp`` files of :func:`atomic_path` not modified for ``older_than_s`` seconds
      (their writer is not named, so age tells a dead writer from one still writing).
    Anything else is left alone, and so is whatever vanishes or cannot be removed meanwhile (another
    process may clean at the same time). Returns the removed paths.
    """
    folder = Path(folder)
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return removed
    for entry in entries:
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
            if (match := PID_TMP.match(entry.name)) and not _pid_alive(int(match.group(1))):
                shutil.rmtree(path) if is_dir else path.unlink()
                removed.append(path)
            elif (ATOMIC_TMP.match(entry.name) and entry.is_file(follow_symlinks=False)
                  and now - entry.stat(follow_symlinks=False).st_mtime > older_than_s):
                path.unlink()
                removed.append(path)
            elif is_dir and depth > 0:
                removed += clean_leftovers(path, older_than_s, depth - 1)
        except FileNotFoundError:
            continue
        except OSError as err:
            logger.warning("could not remove leftover %s: %s", path, err)
    if removed:
        logger.info("removed %d leftover(s) of killed writers in %s", len(removed), folder)
    return removed


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (a process of another user counts as running)."""
    if pid <= 0:
        return True  # not a pid we can judge: keep the entry
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True
