"""Push a kernel folder, wait for its run, and bring its output runs home into ``runs/``."""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from common.io import read_json
from common.errors import KitError, MissingInput
from common.paths import runs_root
from common import kaggle_client
from kernels import merge


def kernel_ref(folder_or_ref: str | Path) -> str:
    """``owner/slug`` of a kernel folder (from its metadata) or the ref itself."""
    meta = Path(folder_or_ref) / "kernel-metadata.json"
    if meta.is_file():
        return read_json(meta, "build the kernel folder again (python -m kernels.build)")["id"]
    return str(folder_or_ref)


class KernelTimeout(KitError, TimeoutError):
    """The kernel still runs after the time ``--wait`` was given (the message says how to check it later)."""


def push(folder: str | Path, api: Any = None) -> dict:
    folder = Path(folder)
    if not (folder / "kernel-metadata.json").is_file():
        raise MissingInput(f"{folder} is not a kernel folder (no kernel-metadata.json): "
                           "build one with python -m kernels.build")
    return kaggle_client.push_kernel(api or kaggle_client.connect(), folder)


def wait(ref: str, api: Any = None, timeout: float = 12 * 3600, poll: float = 30.0,
         report: Callable[[str], None] = print, sleep: Callable[[float], None] = time.sleep,
         clock: Callable[[], float] = time.monotonic) -> str:
    """Poll the kernel's status until it ends (COMPLETE, ERROR, ...); raise :class:`KernelTimeout` after ``timeout``
    s."""
    api = api or kaggle_client.connect()
    start, last = clock(), None
    while True:
        status, failure = kaggle_client.kernel_status(api, ref)
        elapsed = clock() - start
        if status != last:
            report(f"[{elapsed / 60:6.1f} min] {ref}: {status}" + (f" ({failure})" if failure else ""))
            last = status
        if status in kaggle_client.TERMINAL_KERNEL_STATUSES:
            return status
        if elapsed + poll > timeout:
            raise KernelTimeout(f"kernel {ref} still {status} after {elapsed / 60:.1f} min; check it later with "
                                f"python -m kernels status {ref}")
        sleep(poll)


def fetch_output(ref: str, runs_dir: str | Path | None = None, api: Any = None, names: Sequence[str] = (),
                 report: Callable[[str], None] = print) -> list[Path]:
    """Download the kernel's output and bring its ``runs/<competition>/<run>/`` folders into ``runs_dir``
    (``kernels.merge``: a run that is here only gets the folds it lacks, and only from the same recipe; ``names``:
    ``RUN=NEW`` brings a run in under another name). Everything is checked before anything is written. Anything
    else the kernel wrote (its log, plots) goes to ``<runs_dir>/kernel_outputs/<slug>/``. Returns the run
    folders brought in or added to."""
    api = api or kaggle_client.connect()
    runs_dir = Path(runs_dir or runs_root())
    others = runs_dir / "kernel_outputs" / ref.split("/")[-1]
    with tempfile.TemporaryDirectory() as tmp:
        download = Path(tmp)
        files = kaggle_client.kernel_output(api, ref, download)
        incoming = merge.plan(download, runs_dir, names, ref)
        touched = sorted(run.target for run in incoming if run.is_new or run.add)
        for path in files:
            relative = path.relative_to(download)
            if not (relative.parts[0] == "runs" and len(relative.parts) >= 4):
                (others / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, others / relative)
        for run in incoming:
            merge.bring_in(run, others.joinpath("runs", run.competition, run.name), report)
    return touched
