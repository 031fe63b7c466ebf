"""The play's clock: budgets as the user writes them, the time spent over sessions, each step's share."""
import time

import pytest

from common.errors import BadInput
from common.play.budget import Clock, format_seconds, parse_budget, share


@pytest.mark.parametrize("text, seconds", [
    ("90s", 90), ("30m", 1800), ("2h", 7200), ("1h30m", 5400), ("1.5h", 5400), (" 2H ", 7200), ("1m 30s", 90),
])
def test_parse_budget_reads_units_and_sums(text, seconds):
    assert parse_budget(text) == seconds


@pytest.mark.parametrize("text", ["30", "abc", "0m", "30x", "", "m30", "30m abc", "0h0m"])
def test_parse_budget_refuses_in_one_line(text):
    with pytest.raises(BadInput) as raised:
        parse_budget(text)
    message = str(raised.value)
    assert "--budget" in message and repr(text) in message and "\n" not in message


@pytest.mark.parametrize("seconds, text", [
    (0, "0s"), (-3, "0s"), (59.4, "59s"), (90, "1m30s"), (3599, "59m59s"), (3720, "1h02m"), (float("inf"), "no limit"),
])
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text


def test_share_splits_the_time_left_by_weight():
    assert share(120, 1, 4) == 30
    assert share(120, 2, 4) == 60
    assert share(120, 1, 0) == 0      # no weight left: nothing to share
    assert share(-5, 1, 2) == 0       # past the budget: nothing to give


def test_clock_counts_the_earlier_sessions():
    clock = Clock(budget_s=600, spent_before=100, started=time.monotonic() - 20)
    assert 20 <= clock.session() < 25
    assert 120 <= clock.spent() < 125
    assert 475 < clock.left() <= 480
