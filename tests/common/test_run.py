import json

import numpy as np
import pandas as pd
import pytest
import yaml

from common.config import RunConfig, parse_config
from common.io import atomic_path, atomic_write_text
from common.run import Run, RunFolder, RunStatus


def _fold_frames(fold, n=6):
    ids = np.arange(fold * n, (fold + 1) * n)
    oof = pd.DataFrame({"id": ids, "target": ids % 2, "pred": ids / 100})
    test = pd.DataFrame({"id": [100, 101], "pred": [0.1 * (fold + 1), 0.2 * (fold + 1)]})
    return oof, test


def test_fold_predictions_merge_into_run_files(tmp_path):
    run = Run.open("comp", "m1", runs_dir=tmp_path)
    for k in (1, 0):
        run.save_fold_predictions(k, *_fold_frames(k))
    oof, test = run.read_oof(), run.read_test()
    assert list(oof.columns) == ["id", "fold", "target", "pred"]
    assert sorted(oof["fold"].unique()) == [0, 1] and len(oof) == 12
    assert oof.set_index("id").loc["7", "fold"] == 1
    # test predictions are the mean over folds
    assert test.set_index("id")["pred"].to_dict() == pytest.approx({"100": 0.15, "101": 0.3})
    assert run.completed_folds() == [0, 1]


def test_config_mismatch_is_refused_but_volatile_options_pass(tmp_path):
    run = Run.open("comp", "m1", runs_dir=tmp_path)
    run.save_config({"model": "a", "fold": "0"})
    run.save_fold_predictions(0, *_fold_frames(0))
    run.save_config({"model": "a", "fold": "1"})
    with pytest.raises(ValueError, match=r"differs in \['model'\]"):
        run.save_config({"model": "b", "fold": "1"})


def test_metrics_merge(tmp_path):
    run = Run.open("comp", "m1", runs_dir=tmp_path)
    run.update_metrics({"fold0": {"auc": 0.9}, "n": 1})
    run.update_metrics({"fold0": {"loss": 0.3}, "fold1": {"auc": 0.8}})
    saved = json.loads(run.metrics_path.read_text())
    assert saved == {"fold0": {"auc": 0.9, "loss": 0.3}, "fold1": {"auc": 0.8}, "n": 1}


def test_log_goes_to_file(tmp_path):
    run = Run.open("comp", "logged", runs_dir=tmp_path)
    run.log.info("hello %s", "world")
    assert "hello world" in (run.root / "log.txt").read_text()


def test_bad_run_name_and_missing_columns(tmp_path):
    with pytest.raises(ValueError, match="run name"):
        Run.open("comp", "../escape", runs_dir=tmp_path)
    run = Run.open("comp", "m", runs_dir=tmp_path)
    with pytest.raises(ValueError, match=r"fold 0 lacks column\(s\) \['pred'\]"):
        run.save_fold_predictions(0, pd.DataFrame({"id": [1], "target": [1]}), None)
    with pytest.raises(FileNotFoundError, match="no OOF predictions"):
        RunFolder(tmp_path / "nothing").read_oof()


def test_atomic_write_keeps_old_file_when_writer_fails(tmp_path):
    path = tmp_path / "kept.txt"
    atomic_write_text(path, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["kept.txt"]


def test_atomic_writes_get_the_usual_permissions(tmp_path):
    import os
    mask = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "shared.txt", "x")
    finally:
        os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o644


def test_opening_a_run_removes_leftovers_of_killed_writes(tmp_path):
    import os
    import subprocess
    import sys
    import time

    root = tmp_path / "run"
    (root / "fold0").mkdir(parents=True)
    (root / "oof.csv").write_text("id,fold,target,pred\n")
    old = time.time() - 7200
    stale = [root / ".oof.csv.a1b2c3d4.tmp", root / "fold0" / ".test.csv.e5f6g7h8.tmp"]
    for path in stale:
        path.write_text("half")
        os.utime(path, (old, old))
    fresh = root / ".metrics.json.z9y8x7w6.tmp"  # another worker of the run may be writing it
    fresh.write_text("{")
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    dead = root / f"cache.tmp-{proc.pid}"
    dead.mkdir()
    Run(root)
    assert not any(p.exists() for p in stale) and not dead.exists()
    assert fresh.exists() and (root / "oof.csv").read_text() == "id,fold,target,pred\n"


# -- one writer per run folder ----------------------------------------------------------------------
HOLD = """
import sys, time
from common.run import Run
run = Run(sys.argv[1])
with run.lock():
    print("locked", flush=True)
    time.sleep(120)
"""


def _holder(root):
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(root)], cwd=repo, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_process_cannot_lock_the_run(tmp_path):
    from common.run import RunLockedError

    run = Run.open("comp", "m1", runs_dir=tmp_path)
    holder = _holder(run.root)
    try:
        with pytest.raises(RunLockedError) as error:
            with run.lock():
                pass
        assert str(run.root) in str(error.value) and f"pid {holder.pid}" in str(error.value)
        assert isinstance(error.value, FileExistsError)  # a user error: one line through run_cli
    finally:
        holder.kill()  # a killed holder (no clean release) must not leave the run locked
        holder.wait()
    assert (run.root / ".lock").read_text().strip() == str(holder.pid)  # the stale file is still there
    with run.lock():
        assert (run.root / ".lock").read_text().strip() == str(__import__("os").getpid())
        with Run(run.root).lock():  # nested in one process: fine
            pass
    with run.lock():  # released after the block
        pass


def test_failed_first_start_does_not_lock_the_run_name(tmp_path):
    """A config.yaml without any finished fold or checkpoint is replaced (logged); with work it refuses."""
    run = Run(tmp_path / "run")
    first = parse_config(RunConfig, ["--seed", "1"])
    run.save_config(first)
    (run.root / "fold0").mkdir()  # an empty fold folder is no work
    corrected = parse_config(RunConfig, ["--seed", "2"])
    run.save_config(corrected)
    assert yaml.safe_load(run.config_path.read_text())["seed"] == 2
    assert "replacing it" in (run.root / "log.txt").read_text()

    before = run.config_path.read_bytes()
    (run.root / "fold0" / "last.pt").write_bytes(b"checkpoint")
    with pytest.raises(ValueError, match=r"started with another config \(differs in \['seed'\]\)"):
        run.save_config(first)
    assert run.config_path.read_bytes() == before
    assert (run.root / "fold0" / "last.pt").read_bytes() == b"checkpoint"


@pytest.mark.parametrize("work", ["study.db", "seeds/seed1/fold0/last.pt", "trials/0/oof.csv"])
def test_a_tuning_study_or_seed_run_counts_as_work(tmp_path, work):
    run = Run(tmp_path / "run")
    run.save_config(parse_config(RunConfig, ["--seed", "1"]))
    (run.root / work).parent.mkdir(parents=True, exist_ok=True)
    (run.root / work).write_bytes(b"x")
    with pytest.raises(ValueError, match="started with another config"):
        run.save_config(parse_config(RunConfig, ["--seed", "2"]))


def test_an_option_added_later_and_unset_does_not_refuse_a_derived_run(tmp_path):
    """A derived run records its source's config; the kit gaining an (unset) option must not lock it."""
    run = Run.open("comp", "derived", runs_dir=tmp_path)
    run.save_config({"run": "cnn", "source_config": {"model": "a", "lr": 0.1}})
    run.save_fold_predictions(0, *_fold_frames(0))
    run.save_config({"run": "cnn", "source_config": {"model": "a", "lr": 0.1, "new_option": None}})
    with pytest.raises(ValueError, match=r"differs in \['source_config'\]"):
        run.save_config({"run": "cnn", "source_config": {"model": "a", "lr": 0.2, "new_option": None}})



def test_a_password_in_a_url_option_never_reaches_config_yaml(tmp_path):
    run = Run(tmp_path / "run")
    run.save_config({"storage": "postgresql://kit:hunter2@db.example/optuna", "name": "x"})
    text = run.config_path.read_text()
    assert "hunter2" not in text and "postgresql://kit:***@db.example/optuna" in text
    run.save_config({"storage": "postgresql://kit:hunter2@db.example/optuna", "name": "x"})  # the same config


def test_an_option_the_kit_no_longer_has_does_not_make_an_old_run_another_config(tmp_path):
    from common.run import changed_options
    old = {"name": "lgb", "threads": 0, "device": "auto", "lr": 0.1}  # saved before --threads/--device left
    assert changed_options(old, {"name": "lgb", "lr": 0.1}) == []
    assert changed_options(old, {"name": "lgb", "lr": 0.2}) == ["lr"]
    assert changed_options({"name": "lgb"}, {"name": "lgb", "extra_trees": True}) == ["extra_trees"]


def test_commands_without_torch_have_no_torch_threads_and_their_own_device_option():
    import dataclasses

    from competitions.home_credit.recipe import TrainConfig as HomeCreditTrain
    from competitions.nexperia.recipe import TrainConfig as NexperiaTrain
    fields = {f.name: f for f in dataclasses.fields(HomeCreditTrain)}
    assert "threads" not in fields and "num_threads" in fields  # the libraries' own
    assert fields["device"].metadata["choices"] == ["cpu", "cuda"]  # XGBoost's and CatBoost's GPU mode
    assert {"threads", "device"} <= {f.name for f in dataclasses.fields(NexperiaTrain)}


def test_a_run_folder_is_read_without_writing_to_it(tmp_path):
    run = Run.open("comp", "m1", runs_dir=tmp_path)
    run.save_config({"n_splits": 3, "lr": 0.1})
    for k in (2, 0):
        run.save_fold_predictions(k, *_fold_frames(k), metrics={"auc": 0.5 + k / 10})
    run.fold_dir(1)  # started, not finished
    run.update_metrics({"n_splits": 3})
    before = sorted((p, p.stat().st_mtime_ns) for p in run.root.rglob("*"))
    folder = RunFolder(run.root)
    assert folder.config() == {"n_splits": 3, "lr": 0.1} and folder.metrics() == {"n_splits": 3}
    assert folder.completed_folds() == [0, 2] and folder.is_finished(2) and not folder.is_finished(1)
    assert folder.fold_metrics(2) == {"auc": 0.7} and folder.fold_metrics(1) == {}
    assert folder.folds_with("oof.csv") == [0, 2]
    assert pd.read_csv(folder.fold_oof_path(2))["fold"].eq(2).all()
    assert len(pd.read_csv(folder.oof_path)) == 12 and folder.test_path.is_file()
    assert sorted((p, p.stat().st_mtime_ns) for p in run.root.rglob("*")) == before

    missing = RunFolder(tmp_path / "nowhere")
    assert missing.config() == {} and missing.completed_folds() == [] and missing.metrics() == {}
    assert not (tmp_path / "nowhere").exists()


# -- reading a run's predictions and status ---------------------------------------------------------
def test_ids_are_read_as_the_text_the_file_holds(tmp_path):
    """Integer, zero-padded and text ids all come back exactly as written, and align with each other."""
    run = Run(tmp_path / "run")
    ids = ["007", "12", "WEP00001_x", "100000"]
    run.save_fold_predictions(0, pd.DataFrame({"id": ids, "target": [0, 1, 0, 1], "pred": [0.1, 0.9, 0.2, 0.8]}),
                              pd.DataFrame({"id": ["0042", "43"], "pred": [0.5, 0.6]}))
    oof, test = run.read_oof(), run.read_test()
    assert oof["id"].tolist() == ids and test["id"].tolist() == ["0042", "43"]  # order and text kept
    assert oof["fold"].tolist() == [0] * 4 and oof["pred"].dtype == np.float64
    assert RunFolder(tmp_path / "no-test").read_test() is None


@pytest.mark.parametrize("name, text, message", [
    ("oof.csv", "id,fold,pred\n1,0,0.5\n", r"oof.csv lacks column\(s\) \['target'\]; has \['id', 'fold', 'pred'\]"),
    ("oof.csv", "id,fold,target,pred\n1,0,1,0.5\n2,0,0,0.1\n1,1,1,0.3\n",
     r"oof.csv has 1 duplicated id\(s\), e.g. \['1'\]"),
    ("oof.csv", "id,fold,target,pred\n1,0,1,0.5\n2,0,0,\n3,0,0,inf\n",
     r"oof.csv has 2 NaN/inf prediction\(s\), e.g. ids \['2', '3'\]"),
    ("test.csv", "id,score\n1,0.5\n", r"test.csv lacks column\(s\) \['pred'\]"),
    ("test.csv", "id,pred\n1,0.5\n1,0.6\n", r"test.csv has 1 duplicated id\(s\), e.g. \['1'\]"),
    ("test.csv", "id,pred\n1,nan\n", r"test.csv has 1 NaN/inf prediction\(s\), e.g. ids \['1'\]"),
    ("test.csv", "", r"test.csv is not a readable CSV"),
])
def test_each_check_of_a_prediction_file_is_one_line_naming_the_file(tmp_path, name, text, message):
    from common.errors import BadInput

    folder = RunFolder(tmp_path)
    (tmp_path / "oof.csv").write_text("id,fold,target,pred\n1,0,1,0.5\n2,0,0,0.1\n")
    (tmp_path / name).write_text(text)
    with pytest.raises(BadInput, match=message) as error:
        folder.read_oof() if name == "oof.csv" else folder.read_test()
    assert "\n" not in str(error.value) and str(tmp_path / name) in str(error.value)


def _three_fold_run(tmp_path, folds, n_splits=3):
    run = Run.open("comp", "m", runs_dir=tmp_path)
    for k in folds:
        run.save_fold_predictions(k, *_fold_frames(k))
    run.update_metrics({"completed_folds": run.completed_folds(), "n_splits": n_splits})
    return run


def test_status_complete_partial_empty(tmp_path):
    whole = _three_fold_run(tmp_path / "a", [0, 1, 2]).status()
    assert whole.state == "complete" and whole.complete and whole.completed_folds == (0, 1, 2)
    assert whole.missing_folds == () and whole.problems == () and whole.n_splits == 3

    part = _three_fold_run(tmp_path / "b", [0, 2]).status()
    assert part.state == "partial" and not part.complete
    assert part.completed_folds == (0, 2) and part.missing_folds == (1,) and part.problems == ("missing folds [1]",)

    empty = Run(tmp_path / "c")
    empty.save_config({"n_splits": 4})
    assert empty.status() == RunStatus("empty", (), (0, 1, 2, 3), n_splits=4, problems=("no finished fold",))


def test_status_checks_files_against_the_finished_folds(tmp_path):
    run = _three_fold_run(tmp_path, [0, 1, 2])
    # the fold driver's own number of folds decides, whatever metrics.json says
    assert run.status(n_splits=4).missing_folds == (3,) and run.status(n_splits=3).complete
    # the competition's shared fold file beside the run expects its folds too
    pd.DataFrame({"id": range(8), "fold": np.arange(8) % 4}).to_csv(tmp_path / "comp" / "folds.csv", index=False)
    assert run.status().problems == ("missing folds [3]",)
    (tmp_path / "comp" / "folds.csv").unlink()
    # metrics.json recording other folds than the done.json files: its numbers describe other folds
    run.update_metrics({"completed_folds": [0, 1]})
    assert run.status().problems == ("metrics.json records folds [0, 1] but the finished folds are [0, 1, 2]",)
    run.update_metrics({"completed_folds": [0, 1, 2]})
    # a fold finished after the last merge (a killed writer): oof.csv lacks it
    (run.fold_dir(3) / "done.json").write_text("{}")
    status = run.status(n_splits=4)
    assert status.state == "partial" and status.oof_folds == (0, 1, 2) and status.completed_folds == (0, 1, 2, 3)
    assert status.problems == ("oof.csv holds folds [0, 1, 2] but the finished folds are [0, 1, 2, 3]",)


def test_status_of_runs_without_fold_folders_and_of_unreadable_runs(tmp_path):
    # oof.csv only (a run copied without its fold folders): its folds are the finished ones
    folder = RunFolder(tmp_path / "copied")
    folder.root.mkdir()
    (folder.root / "oof.csv").write_text("id,fold,target,pred\n1,0,1,0.5\n2,1,0,0.1\n")
    assert folder.status().state == "complete" and folder.status().completed_folds == (0, 1)
    (folder.root / "metrics.json").write_text('{"completed_folds": [0, 1, 2], "n_splits": 3}')
    assert folder.status().problems == ("oof.csv holds folds [0, 1] but the finished folds are [0, 1, 2]",)
    # failed: what cannot be read is named
    (folder.root / "metrics.json").write_text("{")
    failed = folder.status()
    assert failed.state == "failed" and len(failed.problems) == 1
    assert failed.problems[0].startswith(f"{folder.metrics_path} is damaged (not valid JSON: ")
    (folder.root / "metrics.json").unlink()
    (folder.root / "oof.csv").write_text("id,target,pred\n1,1,0.5\n")
    assert folder.status().state == "failed" and "lacks column(s) ['fold']" in folder.status().problems[0]
    run = _three_fold_run(tmp_path / "lost", [0])
    run.oof_path.unlink()
    assert run.status().state == "failed" and "are finished but" in run.status().problems[0]


def test_damaged_run_files_name_themselves_and_what_to_do(tmp_path):
    from common.io import DamagedFile

    run = Run(tmp_path / "run")
    run.save_fold_predictions(0, pd.DataFrame({"id": ["a", "b"], "target": [0, 1], "pred": [0.2, 0.9]}), None,
                              {"auc": 1.0})
    run.metrics_path.write_text('{"folds": {"0": ')
    with pytest.raises(DamagedFile, match=f"^{run.metrics_path} is damaged .*: delete it and run the run's command"):
        run.metrics()
    done = run.fold_path(0) / "done.json"
    done.write_text("{")
    with pytest.raises(DamagedFile, match=r"train fold 0 again \(--fold 0 --no-resume\)"):
        run.fold_metrics(0)
    run.config_path.write_text("name: [unclosed\n")
    with pytest.raises(ValueError, match=f"config file {run.config_path} is not valid YAML"):
        run.config()
