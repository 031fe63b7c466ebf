"""Where data and runs live, locally and inside Kaggle kernels.

Locally: ``data/<competition>``, ``runs/``, ``cache/`` and ``submissions/`` (submission files and the ledger) under
the current folder (override with ``KIT_DATA_ROOT``, ``KIT_RUNS_ROOT``, ``KIT_CACHE_ROOT`` and
``KIT_SUBMISSIONS_ROOT``). In a Kaggle kernel: the competition's folder is found under ``/kaggle/input`` by its
marker file, and runs, caches and submissions go to ``/kaggle/working``.
"""
from __future__ import annotations

import os
from pathlib import Path

from common.errors import MissingInput

KAGGLE_INPUT = Path("/kaggle/input")
KAGGLE_WORKING = Path("/kaggle/working")


def in_kaggle_kernel() -> bool:
    """True inside a Kaggle kernel (the platform sets ``KAGGLE_KERNEL_RUN_TYPE``)."""
    return "KAGGLE_KERNEL_RUN_TYPE" in os.environ


def runs_root() -> Path:
    if "KIT_RUNS_ROOT" in os.environ:
        return Path(os.environ["KIT_RUNS_ROOT"])
    return KAGGLE_WORKING / "runs" if in_kaggle_kernel() else Path("runs")


def cache_root() -> Path:
    """Decoded images, parsed tables and feature matrices (safe to delete: rebuilt on demand)."""
    if "KIT_CACHE_ROOT" in os.environ:
        return Path(os.environ["KIT_CACHE_ROOT"])
    return KAGGLE_WORKING / "cache" if in_kaggle_kernel() else Path("cache")


def submissions_root() -> Path:
    """Submission files (``files/<competition>/``), their report and the ledger (``ledger.sqlite``)."""
    if "KIT_SUBMISSIONS_ROOT" in os.environ:
        return Path(os.environ["KIT_SUBMISSIONS_ROOT"])
    return KAGGLE_WORKING / "submissions" if in_kaggle_kernel() else Path("submissions")


def data_root() -> Path:
    return Path(os.environ.get("KIT_DATA_ROOT", "data"))


def find_input_dir(marker: str, input_root: Path = KAGGLE_INPUT, max_depth: int = 3) -> Path | None:
    """The shallowest folder under ``input_root`` that holds ``marker`` (a relative file path)."""
    frontier = [input_root]
    for _ in range(max_depth + 1):
        for folder in frontier:
            if (folder / marker).is_file():
                return folder
        frontier = sorted(p for f in frontier if f.is_dir() for p in f.iterdir() if p.is_dir())
    return None


def default_data_dir(competition: str) -> Path:
    """The competition's data folder: found under ``/kaggle/input`` in a kernel, else ``data/<competition>``."""
    from common.registry import get_competition

    spec = get_competition(competition)
    if in_kaggle_kernel():
        found = find_input_dir(spec.marker_file)
        if found is None:
            raise MissingInput(
                f"no folder under {KAGGLE_INPUT} holds {spec.marker_file}: attach the competition "
                f"'{spec.slug}' to the kernel")
        return found
    return data_root() / competition


def resolve_run(run: str | Path, competition: str, runs_dir: str | Path | None = None,
                option: str | None = None) -> Path:
    """A run folder given as a path, or as a name under ``<runs_dir>/<competition>/`` (default runs root); an
    error names both places it looked, and the option it came from."""
    path = Path(run)
    if path.is_dir():
        return path
    named = Path(runs_dir or runs_root()) / competition / str(run)
    if named.is_dir():
        return named
    where = f"option {option}: " if option else ""
    raise MissingInput(f"{where}run {str(run)!r} not found: neither a folder nor {named}")
