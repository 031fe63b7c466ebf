"""Submitting through the real ``kaggle`` client to a loopback fake Kaggle (tests/fake_kaggle.py)."""
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

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
    return main([*args, "--data", str(setup["data"]), "--ledger", str(setup["ledger"])])


def _rows(setup):
    with Ledger(setup["ledger"]) as ledger:
        return ledger.table()


def _assert_no_secret(capsys, setup):
    captured = capsys.readouterr()
    for text in (captured.out, captured.err, setup["ledger"].read_bytes().decode(errors="replace")):
        for secret in fake_kaggle.SECRETS:
            assert secret not in text
    return captured


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


def test_same_file_is_refused_twice_unless_forced(blended, fake_kaggle_server, capsys):
    setup, path, _ = blended
    assert _submit(setup, str(path), "-m", "first") == 0
    calls = len(fake_kaggle_server.calls)
    assert _submit(setup, str(path), "-m", "again") == 1
    assert "already sent" in capsys.readouterr().err
    assert len(fake_kaggle_server.calls) == calls
    assert _submit(setup, str(path), "-m", "again", "--force") == 0
    assert len(fake_kaggle_server.calls_to("CreateSubmission")) == 2
    assert _rows(setup)["status"].tolist() == ["pending", "pending"]


def test_dry_run_records_without_contacting_kaggle(blended, fake_kaggle_server, capsys):
    setup, path, _ = blended
    assert _submit(setup, "--latest", "--competition", "nexperia", "--files-root", str(setup["files"]),
                   "-m", "rehearsal", "--dry-run") == 0
    assert fake_kaggle_server.calls == []
    row, = _rows(setup).to_dict("records")
    assert row["status"] == "dry-run" and row["file_name"] == path.name and row["kaggle_ref"] is None
    assert "dry run" in capsys.readouterr().out
    assert _submit(setup, str(path), "-m", "now for real") == 0  # a dry run does not count as sent


@pytest.mark.parametrize("failing", ["upload", "CreateSubmission", "StartSubmissionUpload"])
def test_server_error_during_submission_records_nothing_as_sent(blended, fake_kaggle_server, capsys, failing):
    setup, path, _ = blended
    fake_kaggle_server.fail[failing] = 500
    assert _submit(setup, str(path), "-m", "doomed") == 1
    err = _assert_no_secret(capsys, setup).err
    assert "NOT SENT" in err and "failed" in err
    assert fake_kaggle_server.submissions == []
    row, = _rows(setup).to_dict("records")
    assert row["status"] == "failed" and row["kaggle_ref"] is None and row["error"]
    del fake_kaggle_server.fail[failing]
    assert _submit(setup, str(path), "-m", "retry") == 0  # a failed attempt does not block a retry


def test_missing_credentials_is_a_clear_error(blended, fake_kaggle_server, monkeypatch, tmp_path, capsys):
    setup, path, _ = blended
    fake_kaggle.configure_client(monkeypatch, fake_kaggle_server.base_url, tmp_path / "empty", credentials=False)
    assert _submit(setup, str(path), "-m", "no creds") == 1
    err = capsys.readouterr().err
    assert "no Kaggle credentials" in err and "KAGGLE_API_TOKEN" in err
    assert fake_kaggle_server.calls == []
    assert _rows(setup)["status"].tolist() == ["failed"]


def test_invalid_file_is_never_sent(blended, fake_kaggle_server, capsys):
    setup, path, _ = blended
    sub = pd.read_csv(path)
    sub.loc[0, "defect_score"] = float("nan")
    sub.to_csv(path, index=False)
    assert _submit(setup, str(path), "-m", "broken") == 1
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
