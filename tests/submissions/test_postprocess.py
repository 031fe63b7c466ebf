"""``submissions.blend --post leak-fix``: the hook changes the submission, the JSON and the ledger record it."""
import json
import sqlite3

import cv2
import numpy as np
import pandas as pd
import pytest

from common.cli import run_cli
from submissions.blend import main, make_submission
from submissions.ledger import Ledger
from submissions.submit import submit_file
from tests.submissions.synthetic import submission_ids

SCORE = "defect_score"


@pytest.fixture
def leaky(nexperia_setup, monkeypatch, tmp_path):
    """Images in the contest layout beside the sample submission; test image 3 is a byte copy of a defect."""
    monkeypatch.setenv("KIT_CACHE_ROOT", str(tmp_path / "cache"))
    data = nexperia_setup["data"]
    rng = np.random.default_rng(0)
    folders = {"good_all": data / "train" / "train_contest" / "good_all",
               "defect": data / "train" / "train_contest" / "defect", "test": data / "test" / "test_contest" / "test"}
    for folder in folders.values():
        folder.mkdir(parents=True)
    image = lambda: rng.integers(0, 255, (16, 16), dtype=np.uint8)  # noqa: E731
    for i in range(4):
        cv2.imwrite(str(folders["good_all"] / f"g{i}.bmp"), image())
    defect = image()
    cv2.imwrite(str(folders["defect"] / "d0.bmp"), defect)
    cv2.imwrite(str(folders["defect"] / "d1.bmp"), image())
    test_ids = submission_ids("nexperia")
    for i, name in enumerate(test_ids):
        cv2.imwrite(str(folders["test"] / f"{name}.bmp"), defect if i == 3 else image())
    return nexperia_setup, test_ids[3]


def _blend(setup, *post):
    return make_submission("nexperia", ["model0", "model1"], "rank", setup["data"], setup["runs_dir"],
                           setup["files"], post)


def test_leak_fix_changes_the_leaked_row_and_reaches_the_ledger(leaky):
    setup, leaked = leaky
    plain_path, plain_meta = _blend(setup)
    path, meta = _blend(setup, "leak-fix")
    plain = pd.read_csv(plain_path, dtype={"id": str}).set_index("id")[SCORE]
    fixed = pd.read_csv(path, dtype={"id": str}).set_index("id")[SCORE]
    assert fixed[leaked] == 1.0 != plain[leaked]  # the defect's label
    pd.testing.assert_series_equal(fixed.drop(leaked), plain.drop(leaked))
    assert plain_meta["postprocess"] == []
    assert meta["postprocess"] == [{"name": "leak-fix", "n_exact_matches": 1, "n_changed": 1}]
    assert json.loads(path.with_suffix(".json").read_text())["postprocess"] == meta["postprocess"]
    assert meta["cv"] == plain_meta["cv"]  # post-processing touches the test scores only

    entry = submit_file(path, "leak fixed", data_dir=setup["data"], ledger_path=setup["ledger"], dry_run=True)
    assert entry["status"] == "dry-run" and entry["message"].endswith("| post leak-fix")
    with Ledger(setup["ledger"]) as ledger:
        row, = ledger.table().to_dict("records")
    assert row["postprocess"] == meta["postprocess"] and row["message"] == entry["message"]


def test_cli_applies_post_and_refuses_unknown_names(leaky, capsys):
    setup, _ = leaky
    common = ["--competition", "nexperia", "--runs", "model0", "--data", str(setup["data"]),
              "--runs-dir", str(setup["runs_dir"]), "--files-root", str(setup["files"])]
    assert main([*common, "--post", "leak-fix"]) == 0
    assert "post-processing leak-fix: n_exact_matches 1, n_changed 1" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        run_cli(main, [*common, "--post", "magic"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err == "error: competition nexperia has no post-processing 'magic'; it has ['leak-fix']\n"


def test_an_older_ledger_gets_the_postprocess_column(tmp_path):
    path = tmp_path / "ledger.sqlite"
    with sqlite3.connect(path) as db:  # the first release's table, without the column
        db.execute("CREATE TABLE submissions (id INTEGER PRIMARY KEY AUTOINCREMENT, file_hash TEXT NOT NULL, "
                   "file_name TEXT NOT NULL, competition TEXT NOT NULL, message TEXT NOT NULL, cv_auc REAL, "
                   "cv_ci_low REAL, cv_ci_high REAL, runs TEXT NOT NULL, created TEXT NOT NULL, kaggle_ref INTEGER, "
                   "status TEXT NOT NULL, error TEXT, public_score REAL, private_score REAL)")
        db.execute("INSERT INTO submissions (file_hash, file_name, competition, message, runs, created, status) "
                   "VALUES ('h', 'old.csv', 'nexperia', 'old', '[\"a\"]', '2020-01-01T00:00:00Z', 'dry-run')")
    with Ledger(path) as ledger:
        ledger.add(file_hash="h2", file_name="new.csv", competition="nexperia", message="new", runs=["b"],
                   status="dry-run", postprocess=[{"name": "leak-fix", "n_changed": 2}])
        table = ledger.table()
    assert table["postprocess"].tolist() == [[], [{"name": "leak-fix", "n_changed": 2}]]
    with Ledger(path) as ledger:  # opening again changes nothing
        assert len(ledger.table()) == 2
