"""The decisions log of a play (``decisions.jsonl``, one JSON object a line, appended and synced as it goes) and
the replay of an earlier play's log.

Each step leaves a ``start`` line and then a ``finish`` or ``skip`` line: what it ran (``units``: folds, trials or
seeds), why, the time it was given and spent, and the CV it reached with its DeLong interval. A kill -9 can tear
only the line being written; the reader drops it, and the step, never finished, runs again on resume.
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from common.errors import BadInput, MissingInput

FINISHED = ("finish", "skip")


class DecisionLog:
    def __init__(self, path: Path):
        self.path = Path(path)
        if self.path.is_file():
            drop_torn_line(self.path)  # else the next line appended would join it into a damaged middle line
        self.records = read_decisions(self.path) if self.path.is_file() else []
        self._lock = threading.Lock()  # the lanes of a play append from threads of their own

    def append(self, record: dict) -> dict:
        line = json.dumps(record, sort_keys=True, default=str)
        with self._lock, open(self.path, "a", encoding="utf-8") as out:
            out.write(line + "\n")
            out.flush()
            os.fsync(out.fileno())
            self.records.append(record)
        return record

    def outcome(self, step: str) -> dict | None:
        """The ``finish``/``skip`` record of ``step``, None while it has not ended."""
        ended = [r for r in self.records if r.get("step") == step and r.get("event") in FINISHED]
        return ended[-1] if ended else None

    def finished(self) -> list[dict]:
        return [r for r in self.records if r.get("event") in FINISHED]


def drop_torn_line(path: Path) -> None:
    """Cut the log after its last whole line: what a kill tore while it was written."""
    with open(path, "r+b") as log:
        text = log.read()
        if text and not text.endswith(b"\n"):
            log.truncate(text.rfind(b"\n") + 1)


def read_decisions(path: Path) -> list[dict]:
    records = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                if line.endswith("\n"):  # not the torn last line of a kill: a damaged log
                    raise BadInput(f"decisions log {path}, line {number}, is not JSON: restore it or start a "
                                   f"new play (--name)") from None
    return records


class Replay:
    """The ended steps of an earlier play's log: the pilot runs each with its recorded counts, not the clock."""

    def __init__(self, path: str | Path, competition: str, device: str = "cpu"):
        path = Path(path)
        if path.is_dir():
            path = path / "decisions.jsonl"
        if not path.is_file():
            raise MissingInput(f"--replay {path}: no such decisions log (a play folder's decisions.jsonl)")
        records = read_decisions(path)
        header = next((r for r in records if r.get("event") == "play"), None)
        if header is None:
            raise BadInput(f"--replay {path} is not a play's decisions log (no 'play' line)")
        if header["competition"] != competition:
            raise BadInput(f"--replay {path} is a play of {header['competition']!r}, not of {competition!r}")
        if header.get("device", "cpu") != device:  # its recorded commands name the device they trained on
            raise BadInput(f"--replay {path} played with --device {header.get('device', 'cpu')}: replay it with "
                           f"that device")
        self.path = path
        self.steps = {r["step"]: r for r in records if r.get("event") in FINISHED}

    def decision(self, step: str) -> dict:
        if step not in self.steps:
            raise BadInput(f"--replay {self.path} has no decision for step {step!r}: it was made by another plan "
                           f"or stopped before it")
        return self.steps[step]
