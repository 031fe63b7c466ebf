"""``kit play``: bad input in one line before anything is written, a whole toy play within its budget, its replay
writing the same files, and the same command after a SIGKILL at several moments finishing with those files too."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tests.toy.cancer  # noqa: F401 (registers toy_cancer)
from common.cli import run_cli
from common.play.steps import Candidate
from kit.play.__main__ import main, play
from kit.play.pilot import open_play
from tests.toy.cancer import write_data

REPO = Path(__file__).resolve().parents[2]
STEPS = ["features", "lgb", "xgb", "tune", "tuned", "seeds"]
TAIL = ["tail:blend", "tail:picks", "tail:report"]
PLAY_COMMAND = ("import sys, tests.toy.cancer; from common.cli import run_cli; from kit.play.__main__ import main; "
                "sys.exit(run_cli(main, sys.argv[1:]))")


def decisions(folder: Path) -> list[dict]:
    path = folder / "decisions.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def ended(records: list[dict], step: str) -> list[dict]:
    return [r for r in records if r.get("step") == step and r["event"] in ("finish", "skip")]


def submission_record(csv: str) -> dict:
    return json.loads(Path(csv).with_suffix(".json").read_text())


def run_outputs(folder: Path) -> dict[str, bytes]:
    runs = folder / "runs" / "toy_cancer"
    return {f"{p.parent.name}/{p.name}": p.read_bytes()
            for name in ("oof.csv", "test.csv") for p in runs.glob(f"*/{name}")}


# -- bad input: one line, exit 2, nothing written ------------------------------------------------------------

@pytest.fixture(scope="module")
def toy_data(tmp_path_factory):
    return write_data(tmp_path_factory.mktemp("toy") / "data")


def refused(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        run_cli(main, argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def args(data, out, *more) -> list[str]:
    return ["toy_cancer", "--budget", "3m", "--data", str(data), "--out", str(out), *more]


@pytest.mark.parametrize("argv, says", [
    (["titanic", "--budget", "3m"], "unknown competition 'titanic'"),
    (["toy_cancer", "--budget", "30"], "--budget '30' is not a duration"),
    (["toy_cancer", "--budget", "5s"], "--budget 5s is too small"),
    # the features (2 s), every fold of the first model (3 x 2 s) and the tail (10 s) do not fit 15 s
    (["toy_cancer", "--budget", "15s"], "--budget 15s is too small"),
])
def test_bad_input_is_one_line_before_anything_is_written(argv, says, toy_data, tmp_path, capsys):
    out = tmp_path / "plays"
    err = refused(capsys, [*argv, "--data", str(toy_data), "--out", str(out)])
    assert says in err
    assert not out.exists()


@pytest.mark.parametrize("marker, other", [("application_train.csv", "home_credit"),
                                           ("submission_sample.csv", "nexperia")])
def test_a_data_folder_of_another_competition_is_refused(marker, other, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / marker).write_text("id\n1\n")
    err = refused(capsys, args(data, tmp_path / "plays"))
    assert f"--data {data} is not a toy_cancer data folder (no train.csv): it holds {other}'s files" in err
    assert not (tmp_path / "plays").exists()


def test_a_missing_data_folder_is_refused(tmp_path, capsys):
    err = refused(capsys, args(tmp_path / "nowhere", tmp_path / "plays"))
    assert "nowhere: no such folder" in err and not (tmp_path / "plays").exists()


def test_cuda_without_a_gpu_is_refused(toy_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    err = refused(capsys, args(toy_data, tmp_path / "plays", "--device", "cuda"))
    assert "--device cuda: no GPU is visible here" in err and not (tmp_path / "plays").exists()


def test_submit_without_credentials_is_refused(toy_data, tmp_path, monkeypatch, capsys):
    for name in list(os.environ):
        if name.startswith("KAGGLE_"):
            monkeypatch.delenv(name)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    (tmp_path / "kaggle").mkdir()
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "kaggle"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    err = refused(capsys, args(toy_data, tmp_path / "plays", "--submit"))
    assert "no Kaggle credentials" in err and not (tmp_path / "plays").exists()


def test_a_replay_of_another_competitions_play_is_refused(toy_data, tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    (other / "decisions.jsonl").write_text(json.dumps({"event": "play", "competition": "home_credit"}) + "\n")
    err = refused(capsys, args(toy_data, tmp_path / "plays", "--replay", str(other)))
    assert "is a play of 'home_credit', not of 'toy_cancer'" in err
    err = refused(capsys, args(toy_data, tmp_path / "plays", "--replay", str(tmp_path / "nowhere")))
    assert "no such decisions log" in err
    assert not (tmp_path / "plays").exists()


def test_a_resumed_play_with_another_budget_is_refused(toy_data, tmp_path, capsys):
    out = tmp_path / "plays"
    started = open_play("toy_cancer", toy_data, "play", out, 180.0, "cpu", None)
    before = sorted(p.name for p in started.folder.iterdir())
    err = refused(capsys, ["toy_cancer", "--budget", "4m", "--data", str(toy_data), "--out", str(out)])
    assert f"play {started.folder} was started with other budget_s (budget_s=180.0)" in err
    assert sorted(p.name for p in started.folder.iterdir()) == before


def test_a_folder_that_is_not_a_play_is_refused(toy_data, tmp_path, capsys):
    folder = tmp_path / "plays" / "toy_cancer" / "play"
    folder.mkdir(parents=True)
    (folder / "mine.txt").write_text("the user's")
    err = refused(capsys, args(toy_data, tmp_path / "plays"))
    assert "is not a play (no play.json)" in err
    assert [p.name for p in folder.iterdir()] == ["mine.txt"]


def test_kit_front_door_reaches_play(toy_data, tmp_path, capsys):
    from kit.cli import main as kit_main
    with pytest.raises(SystemExit) as exited:
        kit_main(["play", "toy_cancer", "--budget", "5s", "--data", str(toy_data), "--out", str(tmp_path / "p")])
    assert exited.value.code == 2
    assert "--budget 5s is too small" in capsys.readouterr().err


# -- a whole play, its replay, and its resume after kills ------------------------------------------------------

@pytest.fixture(scope="module")
def first(toy_data, tmp_path_factory):
    """One whole toy play (shared): the out folder, its play folder and its summary."""
    out = tmp_path_factory.mktemp("plays")
    started = time.monotonic()
    summary = play(args(toy_data, out))
    return {"out": out, "folder": out / "toy_cancer" / "play", "summary": summary,
            "wall_s": time.monotonic() - started}


@pytest.fixture(scope="module")
def again(first, toy_data):
    """The first play replayed, uninterrupted."""
    summary = play(args(toy_data, first["out"], "--replay", str(first["folder"]), "--name", "again"))
    return {"folder": first["out"] / "toy_cancer" / "again", "summary": summary}


@pytest.mark.slow
@pytest.mark.e2e
def test_a_whole_play_ends_within_its_budget_with_its_files(first, toy_data):
    folder, summary = first["folder"], first["summary"]
    assert summary["spent_s"] <= summary["budget_s"] == 180 and first["wall_s"] <= 180
    assert json.loads((folder / "play.json").read_text())["summary"] == json.loads(json.dumps(summary))
    records = decisions(folder)
    assert records[0]["event"] == "play" and records[0]["steps"] == STEPS
    for step in STEPS + TAIL:
        assert len(ended(records, step)) == 1, step
    for step in STEPS:
        if ended(records, step)[0]["event"] == "finish":
            assert [r for r in records if r["event"] == "start" and r["step"] == step], step
    assert (folder / "timeline.png").read_bytes().startswith(b"\x89PNG")
    page = (folder / "play.html").read_text()
    assert "Final picks" in page and "+".join(summary["result"]["runs"]) in page

    from submissions.validate import validate_file
    picks = summary["picks"]
    assert picks[0]["file"] == summary["result"]["file"] and len(picks) == 2
    for pick in picks:
        validate_file(pick["file"], "toy_cancer", toy_data)
    assert picks[0]["file"] != picks[1]["file"] and picks[0]["what"] != picks[1]["what"]
    libraries = {c["run"]: Candidate(**c).library for r in records for c in r.get("candidates", [])}
    if summary["result"]["kind"] == "blend":
        assert picks[1]["what"].startswith("run ")
    else:  # a run of another family, else the blend
        other = picks[1]["what"].split()[1]
        assert picks[1]["what"].startswith("blend ") or libraries[other] != libraries[summary["result"]["runs"][0]]


@pytest.mark.slow
@pytest.mark.e2e
def test_the_blend_is_the_result_only_when_it_beats_the_best_run(first):
    records = decisions(first["folder"])
    result = ended(records, "tail:blend")[0]["notes"]
    candidates = [c for r in records for c in r.get("candidates", []) if c["kept"]]
    best = max(candidates, key=lambda c: c["cv"]["auc"])
    if result["kind"] == "blend":
        chosen = result
        assert submission_record(result["file"])["vs_best_run"]["z"] > 0
    else:
        chosen = result["blend"]
        assert result["runs"] == [best["run"]]
        blend = submission_record(result["blend"]["file"])
        assert "rejected_blend" in blend or blend["vs_best_run"]["z"] <= 0
    assert len(candidates) >= 2  # the blend was tried: the rule was exercised
    # every method of the plan was tried over the same runs; the one kept has the best nested CV
    tried = {}
    for sidecar in Path(result["file"]).parent.glob("*.json"):
        record = json.loads(sidecar.read_text())
        blend = record.get("rejected_blend") or record
        if len(record["runs"]) > 1 or "rejected_blend" in record:
            method = record.get("rejected_blend", {}).get("method") or record["method"]
            tried[method] = blend["vs_best_run"]["auc_blend"]
    assert set(tried) == {"hill", "rank"}
    assert tried[chosen["method"]] == max(tried.values())


@pytest.mark.slow
@pytest.mark.e2e
def test_a_replay_writes_the_same_files(first, again):
    result, reference = again["summary"]["result"]["file"], first["summary"]["result"]["file"]
    assert Path(result).read_bytes() == Path(reference).read_bytes()
    for a, b in zip(again["summary"]["picks"], first["summary"]["picks"]):
        assert Path(a["file"]).read_bytes() == Path(b["file"]).read_bytes()
    outputs = run_outputs(first["folder"])
    assert set(outputs) >= {"lgb/oof.csv", "xgb/oof.csv", "tuned/oof.csv", "seeds/oof.csv", "seeds/test.csv"}
    assert run_outputs(again["folder"]) == outputs
    records = decisions(again["folder"])
    for step in STEPS:
        replayed, recorded = ended(records, step)[0], ended(decisions(first["folder"]), step)[0]
        assert (replayed["status"], replayed["units"]) == (recorded["status"], recorded["units"]), step


def live_processes_naming(*texts: str) -> list[int]:
    """The processes whose command line holds every one of ``texts``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit():
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
                if all(text in cmdline for text in texts):
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def unit_running(folder: Path, module: str) -> bool:
    """A unit of the play in ``folder`` running ``module`` is alive."""
    return bool(live_processes_naming(str(folder), module))


def wait_for(condition, process, timeout=240.0) -> bool:
    """True when ``condition()`` holds while ``process`` runs; False when the process ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.02)
    process.kill()
    pytest.fail("the play did not reach the moment in time")


@pytest.mark.slow
@pytest.mark.e2e
def test_killed_at_several_moments_the_same_command_finishes_with_the_same_files(first, again, toy_data, tmp_path):
    folder = first["out"] / "toy_cancer" / "k1"
    command = [sys.executable, "-c", PLAY_COMMAND, *args(toy_data, first["out"], "--replay", str(first["folder"]),
                                                         "--name", "k1")]
    seed_run = ended(decisions(first["folder"]), "seeds")[0]["notes"]["base"] + "-seed1"
    runs = folder / "runs" / "toy_cancer"
    files = folder / "submissions" / "files" / "toy_cancer"
    moments = {
        "inside the features": lambda: unit_running(folder, "tests.toy.cancer_features"),
        "inside a fold of the first model": lambda: (runs / "lgb" / "fold0").exists(),
        "inside the tuning": lambda: unit_running(folder, "tests.toy.cancer_tune") and (runs / "tune").is_dir(),
        "inside the seeds step": lambda: (runs / seed_run / "fold0").exists(),
        "inside the blend": lambda: files.is_dir() and any(files.glob("*.csv")),
        "inside the report": lambda: bool(ended(decisions(folder), "tail:picks")),
    }
    killed, spent = [], [0.0]
    for moment, reached in moments.items():
        with open(tmp_path / "play.out", "a") as log:
            process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        if wait_for(reached, process):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            killed.append(moment)
            deadline = time.monotonic() + 10  # its units die with it (parent-death signal), none writes on
            while live_processes_naming(str(folder)) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert live_processes_naming(str(folder)) == [], moment
            state = json.loads((folder / "state.json").read_text())
            assert state["spent_s"] >= spent[-1], moment  # the clock counts every earlier session
            spent.append(state["spent_s"])
        else:
            assert process.returncode == 0, (tmp_path / "play.out").read_text()[-3000:]
    assert len(killed) >= 5, killed
    final_started = time.monotonic()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    final_wall_s = time.monotonic() - final_started
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    summary = json.loads((folder / "play.json").read_text())["summary"]
    reference = again["summary"]
    assert Path(summary["result"]["file"]).read_bytes() == Path(reference["result"]["file"]).read_bytes()
    assert [Path(p["file"]).read_bytes() for p in summary["picks"]] == \
        [Path(p["file"]).read_bytes() for p in reference["picks"]]
    assert run_outputs(folder) == run_outputs(again["folder"])
    records = decisions(folder)
    for step in STEPS + TAIL:
        assert len(ended(records, step)) == 1, step
    assert summary["spent_s"] >= spent[-1] > 0  # the last kill came after a heartbeat: earlier sessions counted
    assert summary["spent_s"] > final_wall_s  # the earlier sessions' time is in it
