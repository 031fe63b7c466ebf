"""The decisions log survives a kill (a torn last line is dropped, also when the play appends after it), names a
damaged line, and a replay refuses another competition's log or a missing one in one line."""
import json

import pytest

from common.errors import BadInput, MissingInput
from common.play.decisions import DecisionLog, Replay, read_decisions

HEADER = {"event": "play", "competition": "toy_cancer", "budget_s": 180.0}
STEP = [{"event": "start", "step": "lgb", "at": 0.0},
        {"event": "finish", "step": "lgb", "status": "done", "units": 3, "args": ["--model", "lightgbm"]},
        {"event": "skip", "step": "xgb", "status": "skipped", "reason": "does not fit"}]


def write_log(path, records, tail=""):
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + tail)
    return path


def test_append_then_read_back(tmp_path):
    log = DecisionLog(tmp_path / "decisions.jsonl")
    assert log.records == []
    for record in [HEADER, *STEP]:
        log.append(record)
    again = DecisionLog(tmp_path / "decisions.jsonl")
    assert again.records == [HEADER, *STEP]
    assert again.outcome("lgb")["units"] == 3
    assert again.outcome("xgb")["event"] == "skip"
    assert again.outcome("seeds") is None
    assert [r["step"] for r in again.finished()] == ["lgb", "xgb"]


def test_a_started_step_has_no_outcome(tmp_path):
    log = DecisionLog(write_log(tmp_path / "decisions.jsonl", [HEADER, STEP[0]]))
    assert log.outcome("lgb") is None


def test_a_torn_last_line_is_dropped(tmp_path):
    path = write_log(tmp_path / "decisions.jsonl", [HEADER, STEP[0]], tail='{"event": "finish", "st')
    assert read_decisions(path) == [HEADER, STEP[0]]
    assert DecisionLog(path).outcome("lgb") is None  # never finished: runs again on resume


def test_appending_after_a_torn_line_keeps_the_log_readable(tmp_path):
    path = write_log(tmp_path / "decisions.jsonl", [HEADER, STEP[0]], tail='{"event": "finish", "st')
    DecisionLog(path).append(STEP[1])
    assert DecisionLog(path).records == [HEADER, STEP[0], STEP[1]]


def test_a_damaged_middle_line_is_named(tmp_path):
    path = tmp_path / "decisions.jsonl"
    path.write_text(json.dumps(HEADER) + "\nnot json\n" + json.dumps(STEP[0]) + "\n")
    with pytest.raises(BadInput) as raised:
        DecisionLog(path)
    message = str(raised.value)
    assert str(path) in message and "line 2" in message and "\n" not in message


def test_replay_reads_the_ended_steps_of_a_folder_or_file(tmp_path):
    write_log(tmp_path / "decisions.jsonl", [HEADER, *STEP])
    for where in (tmp_path, tmp_path / "decisions.jsonl"):
        replay = Replay(where, "toy_cancer")
        assert replay.path == tmp_path / "decisions.jsonl"
        assert replay.decision("lgb")["units"] == 3
        assert replay.decision("xgb")["event"] == "skip"
    with pytest.raises(BadInput, match="no decision for step 'seeds'"):
        replay.decision("seeds")


def test_replay_refuses_another_competitions_log(tmp_path):
    write_log(tmp_path / "decisions.jsonl", [{**HEADER, "competition": "home_credit"}, *STEP])
    with pytest.raises(BadInput) as raised:
        Replay(tmp_path, "toy_cancer")
    assert "'home_credit'" in str(raised.value) and "'toy_cancer'" in str(raised.value)
    assert "\n" not in str(raised.value)


def test_replay_refuses_a_log_without_its_play_line(tmp_path):
    write_log(tmp_path / "decisions.jsonl", STEP)
    with pytest.raises(BadInput, match="no 'play' line"):
        Replay(tmp_path, "toy_cancer")


def test_replay_refuses_a_missing_log(tmp_path):
    with pytest.raises(MissingInput) as raised:
        Replay(tmp_path / "nowhere", "toy_cancer")
    assert "nowhere" in str(raised.value) and "\n" not in str(raised.value)
