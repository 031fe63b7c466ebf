import pytest

from common.paths import default_data_dir, find_input_dir, resolve_run, runs_root, submissions_root
from common.registry import get_competition


def test_local_defaults(monkeypatch):
    monkeypatch.delenv("KAGGLE_KERNEL_RUN_TYPE", raising=False)
    monkeypatch.delenv("KIT_DATA_ROOT", raising=False)
    monkeypatch.delenv("KIT_RUNS_ROOT", raising=False)
    monkeypatch.delenv("KIT_SUBMISSIONS_ROOT", raising=False)
    assert str(default_data_dir("home_credit")) == "data/home_credit"
    assert str(runs_root()) == "runs"
    assert str(submissions_root()) == "submissions"


def test_roots_move_with_their_environment_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("KIT_SUBMISSIONS_ROOT", str(tmp_path / "subs"))
    monkeypatch.setenv("KIT_RUNS_ROOT", str(tmp_path / "runs"))
    assert submissions_root() == tmp_path / "subs" and runs_root() == tmp_path / "runs"


def test_a_kaggle_kernel_writes_under_kaggle_working(monkeypatch):
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Batch")
    monkeypatch.delenv("KIT_SUBMISSIONS_ROOT", raising=False)
    monkeypatch.delenv("KIT_RUNS_ROOT", raising=False)
    assert str(submissions_root()) == "/kaggle/working/submissions" and str(runs_root()) == "/kaggle/working/runs"


def test_kernel_finds_competition_folder_by_marker(tmp_path):
    (tmp_path / "kit-code" / "common").mkdir(parents=True)
    comp = tmp_path / "semi-conductor-image-classification-second-stage"
    comp.mkdir()
    (comp / "submission_sample.csv").write_text("id,defect_score\n")
    assert find_input_dir("submission_sample.csv", tmp_path) == comp
    assert find_input_dir("application_train.csv", tmp_path) is None


def test_unknown_competition():
    with pytest.raises(ValueError, match=r"unknown competition 'titanic'; known: \[.*'home_credit', 'nexperia'"):
        get_competition("titanic")


def test_a_run_is_a_folder_or_a_name_under_the_competitions_runs(tmp_path):
    named = tmp_path / "runs" / "nexperia" / "cnn"
    named.mkdir(parents=True)
    assert resolve_run("cnn", "nexperia", tmp_path / "runs") == named
    assert resolve_run(named, "home_credit", tmp_path / "elsewhere") == named  # a folder is taken as it is
    with pytest.raises(FileNotFoundError, match=r"option --features: run 'nope' not found: neither a folder nor "):
        resolve_run("nope", "nexperia", tmp_path / "runs", option="--features")
