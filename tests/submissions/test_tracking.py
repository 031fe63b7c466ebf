"""``leaderboard sync`` against the loopback Kaggle through the real client: every submission tracked, matched to
the kit's files, and the team's place on the whole board with the medal zones."""
import shutil

import numpy as np
import pandas as pd
import pytest

from common import kaggle_client
from submissions import leaderboard
from submissions.blend import make_submission
from submissions.ledger import Ledger
from submissions.report import write_report
from submissions.standing import medal_ranks
from tests import fake_kaggle
from tests.submissions.synthetic import assert_drawn, submission_ids

SLUG = "semi-conductor-image-classification-second-stage"


def board(teams: int, team_rank: int | None) -> list[dict]:
    """``teams`` teams where rank r scores 0.99 - (r - 1) * 0.00001; ours at ``team_rank``."""
    return [{"teamId": r, "teamName": fake_kaggle.USERNAME if r == team_rank else f"team {r}",
             "score": f"{0.99 - (r - 1) * 1e-5:.5f}"} for r in range(1, teams + 1)]


def score_at(rank: int) -> float:
    return round(0.99 - (rank - 1) * 1e-5, 5)


def _sync(ledger, files=None, *extra):
    args = ["sync", "--competition", "nexperia", "--ledger", str(ledger), *extra]
    return leaderboard.main(args + (["--files-root", str(files)] if files else []))


def _no_secret(*texts):
    for text in texts:
        for secret in fake_kaggle.SECRETS:
            assert secret not in text


@pytest.fixture
def sent_outside(nexperia_setup, fake_kaggle_server, tmp_path):
    """Two kit files and one unknown file sent with the official client (as `kaggle competitions submit` does):
    the first kit file under its own name, the second renamed to submission.csv."""
    s = nexperia_setup
    one, _ = make_submission("nexperia", [s["runs"][0]], "rank", s["data"], s["runs_dir"], s["files"])
    blend, _ = make_submission("nexperia", [s["runs"][0], s["runs"][1]], "mean", s["data"], s["runs_dir"], s["files"])
    renamed = shutil.copy(blend, tmp_path / "submission.csv")
    unknown = tmp_path / "by-hand.csv"
    ids = submission_ids("nexperia")
    pd.DataFrame({"id": ids, "defect_score": np.linspace(0, 1, len(ids))}).to_csv(unknown, index=False)
    api = kaggle_client.connect()
    for path, message in ((one, "one model, by the CLI"), (renamed, "blend, renamed"), (unknown, "a notebook")):
        api.competition_submit(str(path), message, SLUG, quiet=True)
    for sub, score in zip(fake_kaggle_server.submissions, ["0.951", "0.957", "0.700"]):
        sub.update(status="COMPLETE", publicScore=score)
    fake_kaggle_server.leaderboard = board(80, 20)
    fake_kaggle_server.page_size = 2  # three submissions: two pages
    return s, one, blend


@pytest.mark.slow
def test_sync_tracks_kit_files_sent_outside_and_keeps_unknown_ones(sent_outside, fake_kaggle_server, capsys):
    s, one, blend = sent_outside
    capsys.readouterr()
    assert _sync(s["ledger"], s["files"]) == 0
    out = capsys.readouterr().out
    assert "3 Kaggle submissions read, 0 ledger records updated, 3 new ones tracked" in out
    assert len(fake_kaggle_server.calls_to("ListSubmissions")) == 2
    with Ledger(s["ledger"]) as ledger:
        rows = ledger.table("nexperia").to_dict("records")
    by_name, by_hash, external = rows
    assert (by_name["source"], by_name["matched_by"], by_name["file_name"]) == ("outside", "file name", one.name)
    assert by_name["runs"] == ["model0"] and by_name["cv_auc"] > 0.5 and by_name["public_score"] == 0.951
    assert by_hash["source"] == "outside" and by_hash["matched_by"] == "content hash (sent as submission.csv)"
    assert by_hash["file_name"] == blend.name and by_hash["runs"] == ["model0", "model1"]
    assert by_hash["method"] == "mean" and by_hash["message"] == "blend, renamed"
    assert (external["source"], external["file_name"], external["message"]) == ("external", "by-hand.csv",
                                                                               "a notebook")
    assert external["runs"] == [] and np.isnan(external["cv_auc"]) and external["public_score"] == 0.7
    assert all(r["submitted"] and r["kaggle_ref"] for r in rows)
    assert len(fake_kaggle_server.calls_to("DownloadSubmission")) == 2  # the two not matched by name
    _no_secret(out, s["ledger"].read_bytes().decode(errors="replace"))


@pytest.mark.slow
def test_sync_twice_changes_nothing(sent_outside, fake_kaggle_server, capsys):
    s, _, _ = sent_outside
    assert _sync(s["ledger"], s["files"]) == 0
    with Ledger(s["ledger"]) as ledger:
        before, ranks_before = ledger.table("nexperia"), ledger.ranks("nexperia")
    downloads = len(fake_kaggle_server.calls_to("DownloadSubmission"))
    capsys.readouterr()
    assert _sync(s["ledger"], s["files"]) == 0
    assert "3 Kaggle submissions read, 0 ledger records updated, 0 new ones tracked" in capsys.readouterr().out
    with Ledger(s["ledger"]) as ledger:
        pd.testing.assert_frame_equal(ledger.table("nexperia"), before)
        pd.testing.assert_frame_equal(ledger.ranks("nexperia"), ranks_before)
    assert len(fake_kaggle_server.calls_to("DownloadSubmission")) == downloads


@pytest.mark.slow
def test_a_board_of_5000_teams_ranks_the_team_3210th(sent_outside, fake_kaggle_server, capsys):
    s, _, _ = sent_outside
    fake_kaggle_server.leaderboard = board(5000, 3210)
    capsys.readouterr()
    assert _sync(s["ledger"], s["files"]) == 0
    out = capsys.readouterr().out
    # 5,000 teams: gold top 10 + 0.2% = 20, silver top 5% = 250, bronze top 10% = 500
    assert (f"team {fake_kaggle.USERNAME}: public rank 3210 of 5000 (top 64.2%), score {score_at(3210):.5f}; "
            f"outside the medal zones; zone lines: gold {score_at(20):.5f} (top 20), silver {score_at(250):.5f} "
            f"(top 250), bronze {score_at(500):.5f} (top 500); bronze needs 0.02710 more") in out
    with Ledger(s["ledger"]) as ledger:
        last = ledger.latest_rank("nexperia")
    assert (last["rank"], last["teams"]) == (3210, 5000)
    assert last["bronze"] == pytest.approx(score_at(500)) and last["score"] == pytest.approx(score_at(3210))

    fake_kaggle_server.leaderboard = board(5000, 400)  # a better submission later: bronze
    assert _sync(s["ledger"], s["files"]) == 0
    assert "public rank 400 of 5000 (top 8.0%)" in capsys.readouterr().out
    assert leaderboard.main(["report", "--ledger", str(s["ledger"]), "--plots-dir", str(s["files"])]) == 0
    out = capsys.readouterr().out
    assert "in the bronze zone" in out and "silver needs 0.00150 more" in out
    assert "3210/5000 (top 64.2%) -> " in out and "400/5000 (top 8.0%)" in out
    assert_drawn(s["files"] / "rank_nexperia.png")
    page = write_report(s["files"] / "report.html", competitions=["nexperia"], runs_dir=s["runs_dir"],
                        ledger=s["ledger"], files_root=s["files"]).read_text()
    assert "public rank 400 of 5000 (top 8.0%)" in page and "daily quota: 3 of 5 used today" in page


# the score lines worked out by hand from the rules: rank r scores 0.99 - (r - 1) * 0.00001
@pytest.mark.slow
@pytest.mark.parametrize("teams, gold, silver, bronze", [
    (80, 8, 16, 32),       # under 100 teams: 10%, 20%, 40% of 80
    (500, 11, 50, 100),    # 250-999: top 10 + 0.2% of 500 = 11, top 50, top 100
    (5000, 20, 250, 500),  # 1000 and more: top 10 + 0.2% of 5000 = 20, 5%, 10%
])
def test_medal_zone_lines_follow_kaggles_rules(sent_outside, fake_kaggle_server, teams, gold, silver, bronze):
    s, _, _ = sent_outside
    fake_kaggle_server.leaderboard = board(teams, teams)
    assert _sync(s["ledger"], s["files"]) == 0
    with Ledger(s["ledger"]) as ledger:
        last = ledger.latest_rank("nexperia")
    assert last["teams"] == teams
    assert (last["gold"], last["silver"], last["bronze"]) == pytest.approx(
        (score_at(gold), score_at(silver), score_at(bronze)))


def test_medal_zone_sizes_at_the_rule_boundaries():
    assert medal_ranks(99) == {"gold": 9, "silver": 19, "bronze": 39}      # percentages rounded down
    assert medal_ranks(100) == {"gold": 10, "silver": 20, "bronze": 40}
    assert medal_ranks(249) == {"gold": 10, "silver": 49, "bronze": 99}
    assert medal_ranks(250) == {"gold": 10, "silver": 50, "bronze": 100}
    assert medal_ranks(999) == {"gold": 11, "silver": 50, "bronze": 100}
    assert medal_ranks(1000) == {"gold": 12, "silver": 50, "bronze": 100}
    assert medal_ranks(7198) == {"gold": 24, "silver": 359, "bronze": 719}  # Home Credit's team count


@pytest.mark.slow
def test_a_team_not_on_the_board_is_said_in_one_line(sent_outside, fake_kaggle_server, capsys):
    s, _, _ = sent_outside
    fake_kaggle_server.leaderboard = board(80, None)
    capsys.readouterr()
    assert _sync(s["ledger"], s["files"]) == 0
    out = capsys.readouterr().out
    assert f"team {fake_kaggle.USERNAME} is not on the public leaderboard of nexperia (80 teams)\n" in out
    assert leaderboard.main(["report", "--ledger", str(s["ledger"]), "--plots-dir", str(s["files"])]) == 0
    assert f"team {fake_kaggle.USERNAME} is not on the public leaderboard of nexperia (80 teams)" in \
        capsys.readouterr().out
    assert _sync(s["ledger"], s["files"], "--team", "team 7") == 0
    assert "team team 7: public rank 7 of 80 (top 8.8%)" in capsys.readouterr().out
    assert leaderboard.main(["report", "--ledger", str(s["ledger"]), "--plots-dir", str(s["files"])]) == 0
    assert "team team 7: public rank 7 of 80 (top 8.8%)" in capsys.readouterr().out  # not "7.0" beside a gap


def test_an_older_ledger_opens_and_keeps_its_ranks(tmp_path, capsys):
    import sqlite3
    path = tmp_path / "ledger.sqlite"
    with sqlite3.connect(path) as db:  # before team counts, medal lines, sources and the competitions table
        db.execute("CREATE TABLE submissions (id INTEGER PRIMARY KEY AUTOINCREMENT, file_hash TEXT NOT NULL, "
                   "file_name TEXT NOT NULL, competition TEXT NOT NULL, message TEXT NOT NULL, cv_auc REAL, "
                   "cv_ci_low REAL, cv_ci_high REAL, runs TEXT NOT NULL, created TEXT NOT NULL, kaggle_ref INTEGER, "
                   "status TEXT NOT NULL, error TEXT, public_score REAL, private_score REAL, "
                   "postprocess TEXT NOT NULL DEFAULT '[]')")
        db.execute("CREATE TABLE ranks (competition TEXT NOT NULL, synced TEXT NOT NULL, team TEXT NOT NULL, "
                   "rank INTEGER, score REAL)")
        db.execute("INSERT INTO submissions (file_hash, file_name, competition, message, runs, created, status, "
                   "kaggle_ref, cv_auc, public_score) VALUES ('h', 'old.csv', 'nexperia', 'old', '[\"a\"]', "
                   "'2020-01-01T00:00:00Z', 'complete', 7, 0.93, 0.92)")
        db.execute("INSERT INTO ranks VALUES ('nexperia', '2020-01-02T00:00:00Z', 'me', 3, 0.941)")
    assert leaderboard.main(["report", "--ledger", str(path), "--plots-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "team me: rank 3 (public 0.941), synced 2020-01-02T00:00:00Z" in out and "old.csv" in out
    with Ledger(path) as ledger:
        row, = ledger.table("nexperia").to_dict("records")
        assert row["source"] == "kit" and row["submitted"] is None
        assert ledger.add_rank("nexperia", {"team": "me", "rank": 2, "score": 0.95, "teams": 80, "gold": 0.99,
                                            "silver": 0.98, "bronze": 0.96})
        assert ledger.ranks("nexperia")["teams"].tolist()[1] == 80


def test_an_older_leaderboard_download_without_rank_or_members_is_read_in_its_order(tmp_path):
    import zipfile
    from submissions.standing import read_board, standing
    path = tmp_path / "board.zip"
    with zipfile.ZipFile(path, "w") as archive:  # lower is better here: the board is in rank order
        archive.writestr(f"{SLUG}-publicleaderboard.csv", "TeamId,TeamName,SubmissionDate,Score\n"
                         "1,alpha,2020-01-01 00:00:00,0.10\n2,me,2020-01-01 00:00:00,0.20\n"
                         "3,gamma,2020-01-01 00:00:00,0.30\n")
    board = read_board(path)
    assert board["rank"].tolist() == [1, 2, 3] and board["team_name"].tolist() == ["alpha", "me", "gamma"]
    place = standing(board, "me")
    assert (place["rank"], place["teams"], place["higher_better"], place["zone"]) == (2, 3, False, None)
    assert place["bronze"] == 0.10 and place["next_zone"] == "bronze" and place["distance"] == pytest.approx(0.10)


@pytest.mark.slow
def test_sync_tracks_submissions_when_kaggle_refuses_the_board_and_the_record(sent_outside, fake_kaggle_server,
                                                                             capsys):
    s, _, _ = sent_outside
    fake_kaggle_server.fail.update(DownloadLeaderboard=403, GetCompetition=403)
    capsys.readouterr()
    assert _sync(s["ledger"], s["files"]) == 0
    out = capsys.readouterr().out
    assert "3 new ones tracked" in out
    assert "standing: not known (downloading the leaderboard of " in out and "(HTTP 403)" in out
    assert "daily quota: not known (reading the competition " in out
    with Ledger(s["ledger"]) as ledger:
        assert ledger.ranks("nexperia").empty and ledger.competition_record("nexperia") is None


@pytest.mark.slow
def test_sync_gives_older_rows_of_a_kit_file_its_blend_method(sent_outside, fake_kaggle_server):
    s, _, blend = sent_outside
    from submissions.store import file_sha256
    with Ledger(s["ledger"]) as ledger:  # a dry run recorded before the ledger kept the method
        ledger.add(file_hash=file_sha256(blend), file_name=blend.name, competition="nexperia", message="old",
                   runs=["model0", "model1"], status="dry-run")
    assert _sync(s["ledger"], s["files"]) == 0
    with Ledger(s["ledger"]) as ledger:
        old = ledger.table("nexperia").iloc[0]
    assert old["message"] == "old" and old["method"] == "mean"
