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
from submissions.standing import medal_ranks, standing
from submissions.store import file_sha256
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
    assert (by_name["source"], by_name["matched_by"], by_name["file_name"]) == ("outside", "content hash", one.name)
    assert by_name["runs"] == ["model0"] and by_name["cv_auc"] > 0.5 and by_name["public_score"] == 0.951
    assert by_hash["source"] == "outside" and by_hash["matched_by"] == "content hash (sent as submission.csv)"
    assert by_hash["file_name"] == blend.name and by_hash["runs"] == ["model0", "model1"]
    assert by_hash["method"] == "mean" and by_hash["message"] == "blend, renamed"
    assert (external["source"], external["file_name"], external["message"]) == ("external", "by-hand.csv",
                                                                               "a notebook")
    assert external["runs"] == [] and np.isnan(external["cv_auc"]) and external["public_score"] == 0.7
    assert all(r["submitted"] and r["kaggle_ref"] for r in rows)
    assert len(fake_kaggle_server.calls_to("DownloadSubmission")) == 3  # each compared by content, even by_name
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
    from submissions.standing import read_board
    path = tmp_path / "board.zip"
    with zipfile.ZipFile(path, "w") as archive:  # lower is better here: the board is in rank order
        archive.writestr(f"{SLUG}-publicleaderboard.csv", "TeamId,TeamName,SubmissionDate,Score\n"
                         "1,alpha,2020-01-01 00:00:00,0.10\n2,me,2020-01-01 00:00:00,0.20\n"
                         "3,gamma,2020-01-01 00:00:00,0.30\n")
    board = read_board(path)
    assert board["rank"].tolist() == [1, 2, 3] and board["team_name"].tolist() == ["alpha", "me", "gamma"]
    place = standing(board, "me", higher_is_better=False)
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


def _send_with_the_cli(path, message):
    """What `kaggle competitions submit -f PATH -m MESSAGE` does: the official client, outside the kit."""
    kaggle_client.connect().competition_submit(str(path), message, SLUG, quiet=True)


@pytest.fixture
def two_kit_files(nexperia_setup, fake_kaggle_server):
    s = nexperia_setup
    one, _ = make_submission("nexperia", [s["runs"][0]], "rank", s["data"], s["runs_dir"], s["files"])
    blend, _ = make_submission("nexperia", [s["runs"][0], s["runs"][1]], "mean", s["data"], s["runs_dir"], s["files"])
    fake_kaggle_server.leaderboard = board(80, 20)
    return s, one, blend


@pytest.mark.slow
def test_a_kit_file_edited_in_place_and_sent_under_its_name_is_modified_with_no_cv(two_kit_files, fake_kaggle_server,
                                                                                  capsys):
    s, one, blend = two_kit_files
    edited = pd.read_csv(one, dtype={"id": str})
    edited.loc[:9, "defect_score"] = 1.0  # by hand, after the blend: no longer what its CV measured
    edited.to_csv(one, index=False)
    _send_with_the_cli(one, "edited by hand")
    _send_with_the_cli(blend, "the blend, untouched")
    for sub in fake_kaggle_server.submissions:
        sub.update(status="COMPLETE", publicScore="0.9")
    capsys.readouterr()
    assert _sync(s["ledger"], s["files"]) == 0
    out = capsys.readouterr().out
    with Ledger(s["ledger"]) as ledger:
        modified, untouched = ledger.table("nexperia").to_dict("records")
    assert (modified["source"], modified["file_name"], modified["runs"]) == ("modified", one.name, [])
    assert np.isnan(modified["cv_auc"]) and modified["file_hash"] == file_sha256(one)
    assert f"sent under the name of the kit file {one.name} but its content differs" in out
    assert (untouched["source"], untouched["matched_by"], untouched["runs"]) == ("outside", "content hash",
                                                                               ["model0", "model1"])
    assert leaderboard.main(["final", "--competition", "nexperia", "--ledger", str(s["ledger"])]) == 0
    picks = capsys.readouterr().out
    assert f"pick 1: ledger id {untouched['id']}," in picks and one.name not in picks


@pytest.mark.slow
def test_a_download_that_fails_is_said_kept_pending_and_retried_on_the_next_sync(two_kit_files, fake_kaggle_server,
                                                                                 tmp_path, capsys):
    s, _, blend = two_kit_files
    renamed = shutil.copy(blend, tmp_path / "submission.csv")
    _send_with_the_cli(renamed, "renamed blend")
    ref = fake_kaggle_server.submissions[0]["ref"]
    fake_kaggle_server.fail["DownloadSubmission"] = 503
    capsys.readouterr()
    assert _sync(s["ledger"], s["files"]) == 0
    out = capsys.readouterr().out
    assert f"+ submission {ref} (submission.csv, " in out and "not identified yet" in out
    assert (f"submission {ref} (submission.csv): Kaggle's copy could not be read (downloading submission {ref} "
            f"failed (HTTP 503)") in out and "the next sync tries again" in out
    with Ledger(s["ledger"]) as ledger:
        row, = ledger.table("nexperia").to_dict("records")
    assert (row["source"], row["runs"], row["kaggle_ref"]) == ("unread", [], ref) and pd.isna(row["cv_auc"])
    assert leaderboard.main(["final", "--competition", "nexperia", "--ledger", str(s["ledger"])]) == 0
    assert "nothing to pick" in capsys.readouterr().out
    assert _sync(s["ledger"], s["files"]) == 0  # still failing: said again, the row kept
    assert "the next sync tries again" in capsys.readouterr().out
    del fake_kaggle_server.fail["DownloadSubmission"]
    assert _sync(s["ledger"], s["files"]) == 0
    assert f"~ submission {ref} (ledger id 1) checked by content: kit file sent outside the kit" in \
        capsys.readouterr().out
    with Ledger(s["ledger"]) as ledger:
        row, = ledger.table("nexperia").to_dict("records")
    assert (row["source"], row["file_name"], row["kaggle_ref"]) == ("outside", blend.name, ref)
    assert row["matched_by"] == "content hash (sent as submission.csv)" and row["runs"] == ["model0", "model1"]


@pytest.mark.slow
@pytest.mark.parametrize("packed_as", ["zip", "gz"])
def test_a_kit_file_sent_compressed_is_matched_by_the_content_of_the_csv_inside(two_kit_files, tmp_path, packed_as):
    import gzip
    import zipfile
    s, _, blend = two_kit_files
    packed = tmp_path / f"{blend.stem}.csv.{packed_as}"
    if packed_as == "zip":
        with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.write(blend, blend.name)
    else:
        packed.write_bytes(gzip.compress(blend.read_bytes()))
    _send_with_the_cli(packed, "the blend, compressed")
    assert _sync(s["ledger"], s["files"]) == 0
    with Ledger(s["ledger"]) as ledger:
        row, = ledger.table("nexperia").to_dict("records")
    assert (row["source"], row["file_name"], row["runs"]) == ("outside", blend.name, ["model0", "model1"])
    assert row["matched_by"] == f"content hash (sent as {packed.name})" and row["cv_auc"] > 0.5


@pytest.mark.slow
def test_a_board_with_unscored_teams_keeps_the_competitions_direction_in_sync_and_report(two_kit_files,
                                                                                       fake_kaggle_server, capsys):
    s, one, _ = two_kit_files
    _send_with_the_cli(one, "one model")
    fake_kaggle_server.leaderboard = board(80, 20) + [{"teamId": 81, "teamName": "no score yet", "score": ""}]
    capsys.readouterr()
    assert _sync(s["ledger"], s["files"]) == 0
    synced = capsys.readouterr().out
    # 81 teams: gold 8, silver 16, bronze 32; rank 20 is bronze, silver is higher up: ROC-AUC needs more
    assert f"silver needs {score_at(16) - score_at(20):.5f} more" in synced
    assert leaderboard.main(["report", "--ledger", str(s["ledger"]), "--plots-dir", str(s["files"])]) == 0
    assert f"silver needs {score_at(16) - score_at(20):.5f} more" in capsys.readouterr().out


def test_the_direction_comes_from_the_competition_not_from_the_board():
    from common.registry import get_competition
    from submissions.standing import from_record
    assert get_competition("nexperia").higher_is_better and get_competition("home_credit").higher_is_better
    board_rows = pd.DataFrame({"rank": [1, 2, 3], "team_id": [1, 2, 3], "team_name": ["a", "me", "c"],
                               "members": "", "score": [0.2, 0.3, float("nan")]})
    low = standing(board_rows, "me", higher_is_better=False)
    assert low["higher_better"] is False and low["distance"] == pytest.approx(0.1)
    record = {"team": "me", "rank": 2, "score": 0.3, "teams": 3, "gold": None, "silver": None, "bronze": 0.2}
    assert from_record(record, higher_is_better=False)["higher_better"] is False
    assert from_record(record, higher_is_better=True)["higher_better"] is True


@pytest.mark.slow
def test_rows_an_older_version_tracked_by_name_alone_are_checked_by_content(two_kit_files, fake_kaggle_server, capsys):
    s, one, blend = two_kit_files
    edited = pd.read_csv(one, dtype={"id": str})
    edited.loc[:9, "defect_score"] = 1.0
    edited.to_csv(one, index=False)
    _send_with_the_cli(one, "edited by hand")
    _send_with_the_cli(blend, "the blend")
    edited_ref, blend_ref = (sub["ref"] for sub in fake_kaggle_server.submissions)
    with Ledger(s["ledger"]) as ledger:  # what an older sync wrote: the name trusted, a failed download kept blank
        ledger.add(file_hash="0" * 64, file_name=one.name, competition="nexperia", message="edited by hand",
                   runs=["model0"], cv={"auc": 0.99, "ci_low": 0.98, "ci_high": 1.0}, status="complete",
                   kaggle_ref=edited_ref, source="outside", matched_by="file name")
        ledger.add(file_hash="", file_name=blend.name, competition="nexperia", message="the blend", runs=[],
                   status="complete", kaggle_ref=blend_ref, source="external")
    capsys.readouterr()
    assert _sync(s["ledger"], s["files"]) == 0
    out = capsys.readouterr().out
    assert (f"~ submission {edited_ref} (ledger id 1) checked by content: sent under the name of the kit file "
            f"{one.name} but its content differs") in out
    with Ledger(s["ledger"]) as ledger:
        was_named, was_blank = ledger.table("nexperia").to_dict("records")
    assert (was_named["source"], was_named["runs"]) == ("modified", []) and np.isnan(was_named["cv_auc"])
    assert (was_blank["source"], was_blank["matched_by"], was_blank["runs"]) == ("outside", "content hash",
                                                                              ["model0", "model1"])
    downloads = len(fake_kaggle_server.calls_to("DownloadSubmission"))
    assert _sync(s["ledger"], s["files"]) == 0  # checked once
    assert len(fake_kaggle_server.calls_to("DownloadSubmission")) == downloads
