"""The play's clock: a budget parsed from ``30m``/``2h``/``90s``, the time spent over every session of a play, and
each step's share of what is left."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from common.errors import BadInput

UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_budget(text: str) -> float:
    """Seconds of ``text``: a number with a unit (``90s``, ``30m``, ``1.5h``) or a sum of them (``1h30m``)."""
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([smh])", text.strip().lower())
    if not parts or re.sub(r"(\d+(?:\.\d+)?)\s*([smh])", "", text.strip().lower()).strip():
        raise BadInput(f"--budget {text!r} is not a duration: write e.g. 90s, 30m, 2h or 1h30m")
    seconds = sum(float(value) * UNITS[unit] for value, unit in parts)
    if seconds <= 0:
        raise BadInput(f"--budget {text!r} must be more than nothing")
    return seconds


def format_seconds(seconds: float) -> str:
    if seconds == float("inf"):  # a replay's allowance: counts, not the clock
        return "no limit"
    seconds = max(0.0, seconds)
    if seconds < 59.5:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


@dataclass
class Clock:
    """Wall time of a play: ``spent_before`` (earlier sessions, from its state) plus this session's."""
    budget_s: float
    spent_before: float = 0.0
    started: float = field(default_factory=time.monotonic)

    def session(self) -> float:
        return time.monotonic() - self.started

    def spent(self) -> float:
        return self.spent_before + self.session()

    def left(self) -> float:
        return self.budget_s - self.spent()


def share(time_left: float, weight: float, weights_left: float) -> float:
    """A step's allowance: the time left (less the reserved tail) times its weight over the weights left,
    the re-split after every step of H2O's ``WorkAllocations`` and LightAutoML's timer."""
    if weights_left <= 0 or time_left <= 0:
        return 0.0
    return time_left * weight / weights_left
