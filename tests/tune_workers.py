"""Tuning workers for the tests: the real ``tune.py`` command line in a subprocess, after the test's hooks.

A worker script is the test's hooks followed by :func:`gated_tune`: with ``START_GATE`` set it announces itself
(``<gate>.ready.<pid>``) and waits, imports done, until the gate file exists, so that several workers start
their studies together (:func:`start_together`).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def gated_tune(competition: str) -> str:
    """The script's end: run ``competitions.<competition>.tune`` once the start gate (if any) opens."""
    return f"""
from competitions.{competition} import tune
from common.cli import run_cli
gate = os.environ.get("START_GATE")
if gate:
    open(f"{{gate}}.ready.{{os.getpid()}}", "w").close()
    while not os.path.exists(gate):
        time.sleep(0.05)
run_cli(tune.main, sys.argv[1:])
"""


def start_worker(script: str, args: list[str], **env: str) -> subprocess.Popen:
    """``python -c script args`` from the repository root with ``env`` added, output captured."""
    return subprocess.Popen([sys.executable, "-c", script, *args], cwd=ROOT, env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(proc: subprocess.Popen, timeout: float = 300) -> str:
    """A worker's output once it has ended successfully."""
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-3000:]
    return out


def start_together(procs: list[subprocess.Popen], gate: Path, timeout: float = 120) -> None:
    """Wait until every worker waits at ``gate``, then open it."""
    deadline = time.monotonic() + timeout
    while len(list(gate.parent.glob(f"{gate.name}.ready.*"))) < len(procs):
        assert all(p.poll() is None for p in procs), [p.communicate()[0][-3000:] for p in procs]
        assert time.monotonic() < deadline, "the workers never got ready"
        time.sleep(0.1)
    gate.touch()
