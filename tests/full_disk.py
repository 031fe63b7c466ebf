"""A real full disk for tests: a small tmpfs mounted under a test's folder, filled up to a few bytes.

Needs the right to mount (root, as in CI); elsewhere the tests that use it skip and say why.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from common.cli import run_cli

PAGE = 4096
INFO_LOG = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO ")


@contextlib.contextmanager
def full_disk(mountpoint: Path, size: int = 4 << 20) -> Iterator["Disk"]:
    """Mount a ``size``-byte tmpfs at ``mountpoint`` (created); unmounted afterwards."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("a full-disk test mounts a small tmpfs, which needs root (CI runs as root)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs for a full-disk test: {done.stderr.strip()}")
    if not _is_small_mount(mountpoint, size):
        subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True)
        pytest.skip(f"mount reported a {size}-byte tmpfs at {mountpoint}, but the folder is not on it: filling it "
                    "would fill the real disk")
    try:
        yield Disk(mountpoint)
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True)


def _is_small_mount(mountpoint: Path, size: int) -> bool:
    """Whether ``mountpoint`` is on a file system of its own no bigger than ``size`` (a sandbox may answer a
    mount with success and leave the folder on the disk below)."""
    own_device = mountpoint.stat().st_dev != mountpoint.parent.stat().st_dev
    return own_device and shutil.disk_usage(mountpoint).total <= size


class Disk:
    def __init__(self, root: Path):
        self.root = root
        self.filler = root / ".filler"
        self.size = shutil.disk_usage(root).total

    def fill(self, leave: int = 0) -> None:
        """Take all the free space but about ``leave`` bytes (whole pages)."""
        if shutil.disk_usage(self.root).total != self.size:
            raise RuntimeError(f"{self.root} is no longer the small tmpfs this test mounted: not filling it")
        self.filler.unlink(missing_ok=True)
        free = shutil.disk_usage(self.root).free
        with self.filler.open("wb") as handle:
            handle.write(b"\0" * max(0, free - leave - PAGE))
            with contextlib.suppress(OSError):
                while shutil.disk_usage(self.root).free > leave:
                    handle.write(b"\0" * PAGE)
                    handle.flush()

    def free_up(self) -> None:
        self.filler.unlink(missing_ok=True)


def fails_for_space(capsys, main, argv, disk) -> str:
    """Run ``main`` as a command line that must end for want of space: exit 2 and, besides its INFO log lines,
    one line naming a file on ``disk``; the line."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        run_cli(main, argv)
    assert exit_.value.code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip() and not INFO_LOG.match(line)]
    assert len(err) == 1, err
    assert err[0].startswith(f"error: no space left on device writing {disk.root}/"), err[0]
    return err[0]


def files_in(folder) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
            if p.is_file() and p.name != ".filler"}
