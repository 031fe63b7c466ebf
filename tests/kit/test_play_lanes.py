"""``kit play --device cuda``: the device steps run in a lane of their own beside the CPU steps, each lane in plan
order, a step waiting for the steps it comes after; on the CPU every step runs in turn. The toy's XGBoost stands in
for a GPU step (the lanes are the pilot's: what runs in them is the step's own command)."""
import json

import pytest

import tests.toy.cancer  # noqa: F401 (registers toy_cancer)
from common.play.decisions import Replay
from common.play.plan import Plan
from common.play.steps import Folds, Once
from kit.play.pilot import open_play
from tests.toy.cancer import FAST, write_data

SLEEP = ["-n", "1", "-r", "1", "import time; time.sleep(3)"]  # python -m timeit: a 3-second check


def lanes_plan() -> Plan:
    module = "tests.toy.cancer"
    return Plan(steps=[
        Once("check", "timeit", SLEEP, weight=0.2, estimate_s=3, essential=True),
        Folds("lgb", module, ["--model", "lightgbm", *FAST], weight=1, estimate_s=2, family="lightgbm"),
        Folds("xgb", module, ["--model", "xgboost", *FAST], weight=1, estimate_s=2, family="xgboost",
              lane="device", after=("check",)),
    ], n_splits=3, tail_s=10)


def spans(folder) -> dict[str, tuple[float, float]]:
    records = [json.loads(line) for line in (folder / "decisions.jsonl").read_text().splitlines()]
    return {r["step"]: (r["at"], r["at"] + r["spent_s"]) for r in records if r["event"] == "finish"
            and not r["step"].startswith("tail:")}


def played(tmp_path, device: str, name: str, replay=None) -> tuple:
    data = tmp_path / "data"
    if not data.is_dir():
        write_data(data)
    play = open_play("toy_cancer", data, name, tmp_path / "plays", 120.0, device, replay)
    play.echo = lambda line: None
    return play, play.run(lanes_plan())


@pytest.fixture(scope="module")
def side_by_side(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("lanes")
    return tmp_path, *played(tmp_path, "cuda", "gpu")


@pytest.mark.slow
@pytest.mark.e2e
def test_the_device_lane_runs_beside_the_cpu_lane_after_what_it_waits_for(side_by_side):
    _, play, summary = side_by_side
    at = spans(play.folder)
    assert set(at) == {"check", "lgb", "xgb"}
    assert at["xgb"][0] >= at["check"][1]                                # after the check it waits for
    assert at["xgb"][0] < at["lgb"][1] and at["lgb"][0] < at["xgb"][1]   # the two lanes overlap
    assert sorted(summary["result"]["runs"]) in (["lgb"], ["xgb"], ["lgb", "xgb"])
    assert summary["spent_s"] <= 120


@pytest.mark.slow
@pytest.mark.e2e
def test_on_the_cpu_the_steps_run_in_turn(tmp_path):
    play, _ = played(tmp_path, "cpu", "cpu")
    at = spans(play.folder)
    order = sorted(at, key=lambda step: at[step][0])
    assert order == ["check", "lgb", "xgb"]
    assert all(at[a][1] <= at[b][0] for a, b in zip(order, order[1:]))


@pytest.mark.slow
@pytest.mark.e2e
def test_a_side_by_side_play_replays_to_the_same_files(side_by_side):
    tmp_path, play, summary = side_by_side
    again, replayed = played(tmp_path, "cuda", "again", Replay(play.folder, "toy_cancer", "cuda"))
    for run in ("lgb", "xgb"):
        for name in ("oof.csv", "test.csv"):
            assert (again.runs_dir / "toy_cancer" / run / name).read_bytes() == \
                (play.runs_dir / "toy_cancer" / run / name).read_bytes()
    assert open(replayed["result"]["file"], "rb").read() == open(summary["result"]["file"], "rb").read()


def test_a_replay_on_another_device_is_refused(tmp_path):
    from common.errors import BadInput
    (tmp_path / "decisions.jsonl").write_text(json.dumps({"event": "play", "competition": "toy_cancer",
                                                          "device": "cuda"}) + "\n")
    with pytest.raises(BadInput, match="played with --device cuda: replay it with that device"):
        Replay(tmp_path, "toy_cancer", "cpu")


def test_a_step_after_a_later_or_unknown_step_is_refused():
    with pytest.raises(ValueError, match="comes after 'xgb', which is not an earlier step"):
        Plan(steps=[Once("a", "timeit", SLEEP, weight=1, estimate_s=1, after=("xgb",)),
                    Once("xgb", "timeit", SLEEP, weight=1, estimate_s=1)])
