"""One unit of work of a play (a fold, a trial batch, a seed, a check): one of the kit's command lines run in a
child process that dies with the play and is stopped at the play's deadline.

A child process, not a call: the deadline is kept whatever the library is doing (a fold that overruns is killed;
its finished siblings stay), and a kill -9 of the play takes its children with it (Linux's parent-death signal, set
by :mod:`common.play.child`), so a resumed play never meets an orphan still writing into its runs.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class UnitResult:
    seconds: float
    returncode: int
    stopped: bool  # killed at the deadline


class UnitFailed(RuntimeError):
    """A unit's command failed (not stopped by the clock): the step ends, its log names the command."""


def run_unit(module: str, args: list[str], log: Path, timeout: float | None, env: dict | None = None) -> UnitResult:
    """Run ``python -m module args``, its output appended to ``log``; killed (with its process group) after
    ``timeout`` seconds. A command that fails raises :class:`UnitFailed` with its last lines."""
    command = [sys.executable, "-m", "common.play.child", module, *args]
    started = time.monotonic()
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"\n$ python -m {' '.join([module, *args])}\n")
        out.flush()
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1",
                                      "KIT_PLAY_PARENT": str(os.getpid())}, start_new_session=True)
        try:
            returncode = child.wait(timeout=None if timeout is None else max(timeout, 0.0))
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            return UnitResult(time.monotonic() - started, child.returncode, stopped=True)
        except BaseException:  # Ctrl-C: the child's process group goes too
            os.killpg(child.pid, signal.SIGKILL)
            raise
    seconds = time.monotonic() - started
    if returncode != 0:
        raise UnitFailed(f"python -m {' '.join([module, *args])} exited with {returncode}: {last_error(log)} "
                         f"(whole output: {log})")
    return UnitResult(seconds, returncode, stopped=False)


def last_error(log: Path) -> str:
    lines = [line.strip() for line in Path(log).read_text(encoding="utf-8", errors="replace").splitlines()
             if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    return (errors or lines or ["no output"])[-1]
