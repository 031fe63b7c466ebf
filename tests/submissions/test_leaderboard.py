"""Syncing scores and rank from a loopback fake Kaggle through the real client, and the report."""
import json
import sqlite3

import numpy as np
import pandas as pd
import pytest

from common.cli import run_cli
from submissions import leaderboard
from submissions.ledger import Ledger
from submissions.submit import submit_file
from tests import fake_kaggle
from tests.submissions.synthetic import assert_drawn, submission_ids, write_sample

CV = [0.91, 0.93, 0.95, 0.94]
LB = ["0.902", "0.925", "0.941", "0.930"]


@pytest.fixture
def sent(tmp_path, fake_kaggle_server):
    """Four submissions sent through the fake Kaggle, recorded in a ledger, then scored by Kaggle."""
    data, ledger = tmp_path / "data", tmp_path / "ledger.sqlite"
    write_sample(data, "nexperia")
    ids = submission_ids("nexperia")
    for i, cv in enumerate(CV):
        path = tmp_path / f"nexperia-sub{i}.csv"
        pd.DataFrame({"id": ids, "defect_score": np.random.default_rng(i).uniform(size=len(ids))}).to_csv(
            path, index=False)
        path.with_suffix(".json").write_text(json.dumps({
            "competition": "nexperia", "method": "rank", "runs": [{"name": f"run{i}"}],
            "cv": {"auc": cv, "ci_low": cv - 0.01, "ci_high": cv + 0.01}}))
        submit_file(path, f"try {i}", data_dir=data, ledger_path=ledger)
    for sub, score in zip(fake_kaggle_server.submissions, LB):
        sub.update(status="COMPLETE", publicScore=score)
    fake_kaggle_server.leaderboard = [
        {"teamId": 7, "teamName": "first team", "score": "0.990", "submissionDate": "2026-11-20T10:00:00.000Z"},
        {"teamId": 8, "teamName": "second team", "score": "0.960", "submissionDate": "2026-11-20T11:00:00.000Z"},
        {"teamId": 9, "teamName": fake_kaggle.USERNAME, "score": "0.941",
         "submissionDate": "2026-11-21T10:00:00.000Z"}]
    return ledger


@pytest.mark.slow
def test_sync_fills_scores_and_rank(sent, fake_kaggle_server, capsys):
    assert leaderboard.main(["sync", "--competition", "nexperia", "--ledger", str(sent),
                             "--files-root", str(sent.parent / "files")]) == 0
    assert "4 ledger records updated" in capsys.readouterr().out
    with Ledger(sent) as ledger:
        table = ledger.table("nexperia")
        rank = ledger.latest_rank("nexperia")
    assert table["status"].tolist() == ["complete"] * 4
    assert table["public_score"].tolist() == [float(s) for s in LB]
    assert table["private_score"].isna().all()
    assert rank["team"] == fake_kaggle.USERNAME and rank["rank"] == 3 and rank["score"] == 0.941
    board, = fake_kaggle_server.calls_to("DownloadLeaderboard")
    assert board.body["competitionName"] == "semi-conductor-image-classification-second-stage"


@pytest.mark.slow
def test_report_prints_ledger_and_saves_cv_vs_lb_plot(sent, tmp_path, capsys):
    leaderboard.sync("nexperia", sent, files_root=tmp_path / "files")
    plot = tmp_path / "cv_vs_lb.png"
    assert leaderboard.main(["report", "--ledger", str(sent), "--plot", str(plot),
                             "--plots-dir", str(tmp_path / "plots")]) == 0
    out = capsys.readouterr().out
    expected = np.corrcoef(CV, [float(s) for s in LB])[0, 1]
    assert f"Pearson {expected:.3f}" in out
    assert "team kit-tester: public rank 3 of 3 (top 100.0%)" in out and "nexperia-sub2.csv" in out
    assert "daily quota: 4 of 5 used today" in out
    for png in (plot, tmp_path / "plots" / "scores_nexperia.png", tmp_path / "plots" / "rank_nexperia.png"):
        assert_drawn(png)



@pytest.mark.slow
def test_sync_without_credentials_fails_clearly(sent, fake_kaggle_server, monkeypatch, tmp_path, capsys):
    fake_kaggle.configure_client(monkeypatch, fake_kaggle_server.base_url, tmp_path / "empty", credentials=False)
    with pytest.raises(SystemExit) as exit_info:
        run_cli(leaderboard.main, ["sync", "--competition", "nexperia", "--ledger", str(sent)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.startswith("error: ") and "no Kaggle credentials" in err


def test_report_of_an_empty_ledger(tmp_path, capsys):
    Ledger(tmp_path / "new.sqlite").close()
    assert leaderboard.main(["report", "--ledger", str(tmp_path / "new.sqlite")]) == 0
    assert "holds no submissions" in capsys.readouterr().out


def _one_line_error(main, argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        run_cli(main, argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize("command", [["report"], ["final", "--competition", "nexperia"]])
def test_a_mistyped_ledger_of_a_read_only_command_is_refused_and_not_created(tmp_path, capsys, command):
    typo = tmp_path / "ledgr.sqlite"
    err = _one_line_error(leaderboard.main, [*command, "--ledger", str(typo)], capsys)
    assert f"no ledger at {typo}" in err and "--ledger" in err
    assert not typo.exists()


def _damaged(tmp_path, kind):
    """A folder, a file that is not SQLite, or a real ledger cut short, given as the ledger."""
    if kind == "folder":
        (tmp_path / "ledger-folder").mkdir()
        return tmp_path / "ledger-folder"
    path = tmp_path / "ledger.sqlite"
    if kind == "not a database":
        path.write_text("id,score\n1,0.5\n")
        return path
    Ledger(path).close()
    with sqlite3.connect(path) as db:  # pages enough to cut: 300 rows in one transaction
        db.executemany("INSERT INTO submissions (file_hash, file_name, competition, message, runs, created, status) "
                       "VALUES (?, ?, 'nexperia', ?, '[\"a\"]', '2026-01-01T00:00:00Z', 'dry-run')",
                       [(f"h{i}", f"f{i}.csv", "m" * 200) for i in range(300)])
    whole = path.read_bytes()
    path.write_bytes(whole[:4096] + bytes(len(whole) // 2 - 4096))  # the header kept, the pages cut and zeroed
    return path


@pytest.mark.parametrize("kind", ["folder", "not a database", "corrupt"])
@pytest.mark.parametrize("command", [["report"], ["final", "--competition", "nexperia"]])
def test_a_damaged_ledger_is_one_line_naming_the_file_and_what_to_do(tmp_path, capsys, kind, command):
    path = _damaged(tmp_path, kind)
    before = sorted(p.name for p in tmp_path.iterdir())
    err = _one_line_error(leaderboard.main, [*command, "--ledger", str(path)], capsys)
    assert str(path) in err and "Traceback" not in err
    assert ("is a folder" in err) if kind == "folder" else ("not a readable SQLite ledger" in err)
    assert "--ledger" in err or "move it aside" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written beside it


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["folder", "not a database", "corrupt"])
def test_sync_and_submit_name_a_damaged_ledger_before_asking_kaggle(tmp_path, capsys, fake_kaggle_server, kind):
    from submissions.submit import main as submit_main
    path = _damaged(tmp_path, kind)
    err = _one_line_error(leaderboard.main, ["sync", "--competition", "nexperia", "--ledger", str(path)], capsys)
    assert str(path) in err
    data = tmp_path / "data"
    write_sample(data, "nexperia")
    sub = tmp_path / "nexperia-by-hand.csv"
    ids = submission_ids("nexperia")
    pd.DataFrame({"id": ids, "defect_score": np.linspace(0, 1, len(ids))}).to_csv(sub, index=False)
    err = _one_line_error(submit_main, [str(sub), "-m", "x", "--competition", "nexperia", "--data", str(data),
                                        "--ledger", str(path)], capsys)
    assert str(path) in err
    assert not fake_kaggle_server.calls_to("CreateSubmission") and not fake_kaggle_server.calls_to("ListSubmissions")
