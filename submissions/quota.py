"""The competition's daily submission quota: how many of today's (UTC) submissions the team has used.

Kaggle's limit (``max_daily_submissions`` of the competition record; 0 means none) counts the team's
submissions of the current UTC day and resets at 00:00 UTC. Submissions Kaggle scored as errors are not
counted, as Kaggle does not count them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import pandas as pd

from submissions.ledger import NOT_ACCEPTED, Ledger, parse_time
from common.errors import KitError


class QuotaReached(KitError, RuntimeError):
    pass


@dataclass(frozen=True)
class Quota:
    limit: int  # 0: no daily limit
    used: int
    day: date   # the UTC day counted

    @property
    def left(self) -> int | None:
        return None if not self.limit else max(self.limit - self.used, 0)

    @property
    def resets_at(self) -> datetime:
        return datetime.combine(self.day + timedelta(days=1), datetime.min.time(), timezone.utc)

    def describe(self, now: datetime | None = None) -> str:
        if not self.limit:
            return f"daily quota: no limit set ({self.used} submitted today, UTC {self.day})"
        wait = self.resets_at - (now or datetime.now(timezone.utc))
        hours, minutes = divmod(max(int(wait.total_seconds()) // 60, 0), 60)
        return (f"daily quota: {self.used} of {self.limit} used today (UTC {self.day}), {self.left} left; "
                f"resets {self.resets_at:%Y-%m-%d %H:%M} UTC (in {hours}h{minutes:02d}m)")

    def check(self, now: datetime | None = None) -> None:
        """Raise :class:`QuotaReached`, saying when the quota resets, if no submission is left today."""
        if self.limit and self.used >= self.limit:
            raise QuotaReached(f"the daily submission limit is reached: {self.describe(now)}")


def today(now: datetime | None = None) -> date:
    return (now or datetime.now(timezone.utc)).astimezone(timezone.utc).date()


def from_kaggle(limit: int, kaggle_submissions: list[dict], now: datetime | None = None) -> Quota:
    """The quota from Kaggle's list of the team's submissions (``kaggle_client.list_submissions``)."""
    day = today(now)
    used = sum(1 for s in kaggle_submissions
               if s["status"] not in NOT_ACCEPTED and parse_time(s.get("date")).date() == day)
    return Quota(limit, used, day)


def from_ledger(ledger: Ledger, competition: str, now: datetime | None = None) -> Quota | None:
    """The quota as the ledger knows it (limit read at the last sync, today's sent rows); None before any
    sync. A ``sending`` row counts: Kaggle may have it."""
    record = ledger.competition_record(competition)
    if record is None:
        return None
    table, day = ledger.table(competition), today(now)
    if table.empty:
        return Quota(int(record["max_daily_submissions"]), 0, day)
    when = pd.to_datetime(table["submitted"].fillna(table["created"]), utc=True)
    counted = ~table["status"].isin(NOT_ACCEPTED) & (when.dt.date == day)
    return Quota(int(record["max_daily_submissions"]), int(counted.sum()), day)
