"""Submitting through the real ``kaggle`` client to a loopback fake Kaggle (tests/fake_kaggle.py)."""
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from common.cli import run_cli
from submissions.blend import make_submission
from submissions.ledger import Ledger
from submissions.store import sidecar_path
from submissions.submit import main
from tests import fake_kaggle
from tests.submissions.synthetic import write_run, write_sample

SLUG = "semi-conductor-image-classification-second-stage"


@pytest.fixture(scope="module")
def blended_once(tmp_path_factory):
    """One blended nexperia submission (file + JSON beside it) and its sample submission."""
    root = tmp_path_factory.mktemp("blended")
    for i, noise in enumerate([1.0, 1.3]):
        write_run(root / "runs", "nexperia", f"model{i}", noise, seed=i)
    write_sample(root / "data", "nexperia")
    path, meta = make_submission("nexperia", ["model0", "model1"], "rank", root / "data", root / "runs",
                                 root / "files")
    return root, path, meta


@pytest.fixture
def blended(blended_once, tmp_path):
    """A private copy of the blended submission, with its own ledger."""
    root, path, meta = blended_once
    files = tmp_path / "files" / "nexperia"
    files.mkdir(parents=True)
    copy = Path(shutil.copy2(path, files))
    shutil.copy2(sidecar_path(path), files)
    setup = {"data": root / "data", "files": tmp_path / "files", "ledger": tmp_path / "ledger.sqlite"}
    return setup, copy, meta


def _submit(setup, *args):
    """The command line's exit status: 0, or 2 with the error on one line (common.cli.run_cli)."""
    try:
        return run_cli(main, [*args, "--data", str(setup["data"]), "--ledger", str(setup["ledger"])])
    except SystemExit as exit_info:
        return exit_info.code


def _rows(setup):
    with Ledger(setup["ledger"]) as ledger:
        return ledger.table()


def _assert_no_secret(capsys, setup):
    captured = capsys.readouterr()
    for text in (captured.out, captured.err, setup["ledger"].read_bytes().decode(errors="replace")):
        for secret in fake_kaggle.SECRETS:
            assert secret not in text
    return captured


@pytest.mark.slow
def test_submit_sends_file_and_message_and_records_it(blended, fake_kaggle_server, capsys):
    setup, path, meta = blended
    assert _submit(setup, str(path), "-m", "rank blend of two") == 0
    start, = fake_kaggle_server.calls_to("StartSubmissionUpload")
    assert start.authorized
    assert start.body == {"competitionName": SLUG, "fileName": path.name, "contentLength": path.stat().st_size,
                          "lastModifiedEpochSeconds": int(path.stat().st_mtime)}
    create, = fake_kaggle_server.calls_to("CreateSubmission")
    assert fake_kaggle_server.blob(create.body["blobFileTokens"]) == path.read_bytes()
    message = create.body["submissionDescription"]
    assert message.startswith("rank blend of two | ")
    assert f"CV AUC {meta['cv']['auc']:.5f} [{meta['cv']['ci_low']:.5f}, {meta['cv']['ci_high']:.5f}]" in message
    assert "rank of model0+model1" in message
    row, = _rows(setup).to_dict("records")
    assert row["status"] == "pending" and row["kaggle_ref"] == fake_kaggle_server.submissions[0]["ref"]
    assert row["message"] == message and row["runs"] == ["model0", "model1"]
    assert row["cv_auc"] == pytest.approx(meta["cv"]["auc"])
    out = _assert_no_secret(capsys, setup).out
    assert f"Kaggle submission {row['kaggle_ref']}" in out


@pytest.mark.slow
def test_same_file_is_refused_twice_unless_forced(blended, fake_kaggle_server, capsys):
    setup, path, _ = blended
    assert _submit(setup, str(path), "-m", "first") == 0
    calls = len(fake_kaggle_server.calls)
    assert _submit(setup, str(path), "-m", "again") == 2
    assert "already sent" in capsys.readouterr().err
    assert len(fake_kaggle_server.calls) == calls
    assert _submit(setup, str(path), "-m", "again", "--force") == 0
    assert len(fake_kaggle_server.calls_to("CreateSubmission")) == 2
    assert _rows(setup)["status"].tolist() == ["pending", "pending"]


@pytest.mark.slow
def test_dry_run_records_without_contacting_kaggle(blended, fake_kaggle_server, capsys):
    setup, path, _ = blended
    assert _submit(setup, "--latest", "--competition", "nexperia", "--files-root", str(setup["files"]),
                   "-m", "rehearsal", "--dry-run") == 0
    assert fake_kaggle_server.calls == []
    row, = _rows(setup).to_dict("records")
    assert row["status"] == "dry-run" and row["file_name"] == path.name and row["kaggle_ref"] is None
    assert "dry run" in capsys.readouterr().out
    assert _submit(setup, str(path), "-m", "now for real") == 0  # a dry run does not count as sent


@pytest.mark.slow
@pytest.mark.parametrize("failing", ["upload", "CreateSubmission", "StartSubmissionUpload"])
def test_server_error_during_submission_records_nothing_as_sent(blended, fake_kaggle_server, capsys, failing):
    setup, path, _ = blended
    fake_kaggle_server.fail[failing] = 500
    assert _submit(setup, str(path), "-m", "doomed") == 2
    err = _assert_no_secret(capsys, setup).err
    assert err.startswith("error: not sent: ") and "failed" in err and err.count("\n") == 1
    assert fake_kaggle_server.submissions == []
    row, = _rows(setup).to_dict("records")
    assert row["status"] == "failed" and row["kaggle_ref"] is None and row["error"]
    del fake_kaggle_server.fail[failing]
    assert _submit(setup, str(path), "-m", "retry") == 0  # a failed attempt does not block a retry


@pytest.mark.slow
def test_missing_credentials_is_a_clear_error(blended, fake_kaggle_server, monkeypatch, tmp_path, capsys):
    setup, path, _ = blended
    fake_kaggle.configure_client(monkeypatch, fake_kaggle_server.base_url, tmp_path / "empty", credentials=False)
    assert _submit(setup, str(path), "-m", "no creds") == 2
    err = capsys.readouterr().err
    assert "no Kaggle credentials" in err and "KAGGLE_API_TOKEN" in err
    assert fake_kaggle_server.calls == []
    assert _rows(setup)["status"].tolist() == ["failed"]


def test_invalid_file_is_never_sent(blended, fake_kaggle_server, capsys):
    setup, path, _ = blended
    sub = pd.read_csv(path)
    sub.loc[0, "defect_score"] = float("nan")
    sub.to_csv(path, index=False)
    assert _submit(setup, str(path), "-m", "broken") == 2
    assert "NaN" in capsys.readouterr().err
    assert fake_kaggle_server.calls == [] and _rows(setup).empty


def test_blend_validate_and_dry_run_never_import_the_kaggle_client(blended):
    """Everything but sending works without the client (importing it authenticates)."""
    setup, path, _ = blended
    code = (
        "import sys\n"
        "from submissions.submit import main\n"
        f"assert main([{str(path)!r}, '-m', 'x', '--dry-run', '--data', {str(setup['data'])!r}, "
        f"'--ledger', {str(setup['ledger'])!r}]) == 0\n"
        "assert 'kaggle' not in sys.modules and 'kagglesdk' not in sys.modules, 'client imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert _rows(setup)["status"].tolist() == ["dry-run"]


# A submit in its own process, the real client pointed at the loopback server, so that it can be killed.
RUNNER = ("import sys; from kagglesdk import kaggle_env; "
          "kaggle_env._env_to_endpoint[kaggle_env.KaggleEnv.LOCAL] = sys.argv[1]; "
          "from submissions.submit import main; sys.exit(main(sys.argv[2:]))")
REPO = Path(__file__).resolve().parents[2]


def _killed_submit(setup, server, path, hang_on: str) -> None:
    """Start a submit, wait until the server has acted on ``hang_on`` (and holds its answer back), kill it."""
    server.hang[hang_on] = 120
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, server.base_url, str(path), "-m", "killed",
                             "--data", str(setup["data"]), "--ledger", str(setup["ledger"])],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not server.calls_to(hang_on) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.calls_to(hang_on), proc.communicate(timeout=5)
    finally:
        proc.kill()
        proc.wait()
        server.hang.clear()


@pytest.mark.slow
def test_a_submit_killed_after_kaggle_accepted_the_file_does_not_send_it_again(blended, fake_kaggle_server, capsys):
    setup, path, _ = blended
    _killed_submit(setup, fake_kaggle_server, path, "CreateSubmission")
    accepted, = fake_kaggle_server.submissions
    row, = _rows(setup).to_dict("records")
    assert row["status"] == "sending" and row["kaggle_ref"] is None  # written before the upload started
    assert _submit(setup, str(path), "-m", "again") == 2
    err = capsys.readouterr().err
    assert "already sent to Kaggle (an earlier submit of it stopped" not in err  # it is settled now
    assert f"already sent to Kaggle (submission ref(s) [{accepted['ref']}]" in err
    assert len(fake_kaggle_server.submissions) == 1 and len(fake_kaggle_server.calls_to("CreateSubmission")) == 1
    row, = _rows(setup).to_dict("records")
    assert row["status"] == "pending" and row["kaggle_ref"] == accepted["ref"]


@pytest.mark.slow
def test_a_submit_killed_before_kaggle_accepted_the_file_sends_it_on_the_rerun(blended, fake_kaggle_server, capsys):
    setup, path, _ = blended
    _killed_submit(setup, fake_kaggle_server, path, "StartSubmissionUpload")
    assert fake_kaggle_server.submissions == []
    assert _submit(setup, str(path), "-m", "again") == 0
    first, second = _rows(setup).to_dict("records")
    assert first["status"] == "failed" and "not in Kaggle's list" in first["error"]
    assert second["status"] == "pending" and second["kaggle_ref"] == fake_kaggle_server.submissions[0]["ref"]
    assert len(fake_kaggle_server.submissions) == 1


@pytest.mark.slow
def test_leaderboard_sync_settles_an_interrupted_submit_and_tracks_submissions_the_ledger_lacks(
        blended, fake_kaggle_server, capsys):
    from submissions.leaderboard import main as leaderboard_main
    setup, path, _ = blended
    _killed_submit(setup, fake_kaggle_server, path, "CreateSubmission")
    accepted, = fake_kaggle_server.submissions
    fake_kaggle_server.submissions.append({"ref": 2000, "fileName": "by-hand.csv", "description": "kaggle CLI",
                                           "date": "2026-12-01T10:00:00.000Z", "status": "COMPLETE",
                                           "publicScore": "0.9"})
    fake_kaggle_server.submission_files[2000] = b"id,defect_score\nTST00000_y,0.5\n"
    capsys.readouterr()
    assert leaderboard_main(["sync", "--competition", "nexperia", "--ledger", str(setup["ledger"]),
                             "--files-root", str(setup["files"])]) == 0
    out = capsys.readouterr().out
    assert f"interrupted submit of {path.name} (ledger id 1): found on Kaggle as submission {accepted['ref']}" in out
    assert "+ submission 2000 (by-hand.csv, 2026-12-01T10:00:00Z): external (no kit file): 'kaggle CLI'" in out
    kit, external = _rows(setup).to_dict("records")
    assert kit["kaggle_ref"] == accepted["ref"] and kit["status"] == "pending" and kit["source"] == "kit"
    assert (external["kaggle_ref"], external["source"], external["public_score"]) == (2000, "external", 0.9)


def _today_on_kaggle(server, n: int, status: str = "COMPLETE", day: str | None = None) -> None:
    """``n`` submissions the team made on Kaggle today (UTC), or on ``day``."""
    stamp = day or time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    for _ in range(n):
        ref = 3000 + len(server.submissions)
        server.submissions.append({"ref": ref, "fileName": f"other-{ref}.csv", "description": "earlier today",
                                   "date": stamp, "status": status, "publicScore": "0.9"})


@pytest.mark.slow
def test_a_sixth_submission_is_refused_on_a_5_per_day_competition(blended, fake_kaggle_server, capsys):
    setup, path, _ = blended
    fake_kaggle_server.competition = {"maxDailySubmissions": 5}
    _today_on_kaggle(fake_kaggle_server, 1, day="2020-01-01T23:59:00.000Z")  # another day: not counted
    _today_on_kaggle(fake_kaggle_server, 1, status="ERROR")  # an error: not counted, as on Kaggle
    _today_on_kaggle(fake_kaggle_server, 5)
    assert _submit(setup, str(path), "-m", "the sixth") == 2
    err = _assert_no_secret(capsys, setup).err
    day = time.strftime("%Y-%m-%d", time.gmtime())
    tomorrow = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400))
    assert err.startswith(f"error: not sent: the daily submission limit is reached: daily quota: 5 of 5 used today "
                          f"(UTC {day}), 0 left; resets {tomorrow} 00:00 UTC (in ")
    assert err.count("\n") == 1
    assert fake_kaggle_server.calls_to("StartSubmissionUpload") == []
    row, = _rows(setup).to_dict("records")
    assert row["status"] == "failed" and "daily submission limit" in row["error"]


@pytest.mark.slow
def test_submit_and_dry_run_show_the_quota_left(blended, fake_kaggle_server, capsys):
    from submissions.leaderboard import main as leaderboard_main
    setup, path, _ = blended
    fake_kaggle_server.competition = {"maxDailySubmissions": 5}
    assert _submit(setup, str(path), "-m", "dry", "--dry-run") == 0
    assert "daily quota: not known yet" in capsys.readouterr().out
    _today_on_kaggle(fake_kaggle_server, 2)
    assert _submit(setup, str(path), "-m", "real") == 0
    assert "daily quota: 3 of 5 used today" in capsys.readouterr().out
    assert leaderboard_main(["sync", "--competition", "nexperia", "--ledger", str(setup["ledger"]),
                             "--files-root", str(setup["files"])]) == 0
    calls = len(fake_kaggle_server.calls)
    capsys.readouterr()
    assert _submit(setup, str(path), "-m", "rehearsal", "--dry-run", "--force") == 0
    out = capsys.readouterr().out
    assert "daily quota: 3 of 5 used today" in out and "2 left" in out and "(as of the ledger's last sync)" in out
    assert len(fake_kaggle_server.calls) == calls  # a dry run asks Kaggle nothing


@pytest.mark.slow
def test_a_competition_record_kaggle_does_not_give_does_not_stop_the_send(blended, fake_kaggle_server, capsys):
    setup, path, _ = blended
    fake_kaggle_server.fail["GetCompetition"] = 403
    assert _submit(setup, str(path), "-m", "no record") == 0
    captured = _assert_no_secret(capsys, setup)
    assert "daily quota: not known (Kaggle's competition record could not be read)" in captured.out
    assert len(fake_kaggle_server.submissions) == 1


def test_files_and_ledger_live_under_kit_submissions_root(blended, monkeypatch, tmp_path, capsys):
    """Blend, ``submit --latest`` and ``leaderboard report`` find the files and the ledger under
    ``$KIT_SUBMISSIONS_ROOT`` when no path is given."""
    from submissions.blend import main as blend_main
    from submissions.leaderboard import main as leaderboard_main
    setup, _, meta = blended
    root = tmp_path / "elsewhere"
    monkeypatch.setenv("KIT_SUBMISSIONS_ROOT", str(root))
    runs = [r["path"] for r in meta["runs"]]
    assert blend_main(["--competition", "nexperia", "--runs", *runs, "--data", str(setup["data"])]) == 0
    written, = (root / "files" / "nexperia").glob("*.csv")
    assert run_cli(main, ["--latest", "--competition", "nexperia", "-m", "moved", "--dry-run",
                          "--data", str(setup["data"])]) == 0
    out = capsys.readouterr().out
    assert f"dry run: {written} is valid and recorded (ledger {root / 'ledger.sqlite'}, id 1)" in out
    assert leaderboard_main(["report", "--plots-dir", str(tmp_path / "plots")]) == 0
    assert f"ledger: {root / 'ledger.sqlite'}; submission files: {root / 'files'}/<competition>/" in \
        capsys.readouterr().out


@pytest.mark.slow
def test_credentials_kaggle_refuses_are_named_and_leave_no_sending_row(blended, fake_kaggle_server, tmp_path, capsys):
    import json
    setup, path, _ = blended
    config = tmp_path / "kaggle_config" / "kaggle.json"
    wrong = "not-the-key-" + "7" * 20
    config.write_text(json.dumps({"username": fake_kaggle.USERNAME, "key": wrong}))
    assert _submit(setup, str(path), "-m", "wrong key") == 2
    err = _assert_no_secret(capsys, setup).err
    assert err.startswith("error: not sent: Kaggle refused the credentials (HTTP 401)") and err.count("\n") == 1
    assert wrong not in err and "kaggle.json" in err
    assert fake_kaggle_server.submissions == []
    rows = _rows(setup)
    assert "sending" not in rows["status"].tolist()
    assert rows["status"].tolist() == ["failed"] and "credentials" in rows["error"].iloc[0]


def _blend_for(root, data, name):
    """A blend made for the sample submission in ``data`` (its own ids)."""
    write_sample(data, "nexperia", ids=[f"{name}{i:05d}" for i in range(120)])
    write_run(root / "runs", "nexperia", name, 1.0, seed=0, test=[f"{name}{i:05d}" for i in range(120)])
    path, _ = make_submission("nexperia", [name], "rank", data, root / "runs", root / "files")
    return path


@pytest.mark.slow
def test_latest_picks_the_newest_file_made_for_the_data_in_use_and_says_why(tmp_path, capsys):
    mine = _blend_for(tmp_path, tmp_path / "data", "mine")
    time.sleep(0.01)
    demo = _blend_for(tmp_path, tmp_path / "demo-data", "demo")  # newer, made for other data
    setup = {"data": tmp_path / "data", "ledger": tmp_path / "ledger.sqlite"}
    capsys.readouterr()
    assert _submit(setup, "--latest", "--competition", "nexperia", "--files-root", str(tmp_path / "files"),
                   "-m", "mine", "--dry-run") == 0
    out = capsys.readouterr().out
    assert f"--latest: {mine.name}, the newest file made for {tmp_path / 'data'}" in out
    assert f"1 newer file made for other data skipped ({demo.name})" in out
    row, = _rows(setup).to_dict("records")
    assert row["file_name"] == mine.name

    other = {"data": tmp_path / "new-data", "ledger": setup["ledger"]}
    write_sample(other["data"], "nexperia", ids=[f"new{i:05d}" for i in range(120)])
    assert _submit(other, "--latest", "--competition", "nexperia", "--files-root", str(tmp_path / "files"),
                   "-m", "none fits", "--dry-run") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"none of the 2 submission files in {tmp_path / 'files' / 'nexperia'}" in err
    assert f"made for {other['data']}" in err and "submissions.blend" in err and "--data" in err
