"""A third competition takes only its own data reader and a thin CLI: train -> blend -> validate -> ledger."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from common.registry import get_competition
from submissions.blend import make_submission
from submissions.ledger import Ledger
from submissions.submit import submit_file
from submissions.validate import validate_file
from tests.toy import cancer

pytestmark = pytest.mark.e2e  # each test plays a competition's whole flow, command by command

LGB_ARGS = ["--num-boost-round", "200", "--early-stopping-rounds", "20", "--num-threads", "1",
            "--n-splits", "4", "--log-period", "0", "--learning-rate", "0.1", "--num-leaves", "7",
            "--min-data-in-leaf", "10", "--feature-fraction", "0.8"]


@pytest.fixture(scope="module")
def cancer_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy_cancer")
    data = cancer.write_data(root / "data")
    runs = root / "runs"
    args = ["--data", str(data), "--runs-dir", str(runs), *LGB_ARGS]
    metrics = {name: cancer.main(args + ["--name", name, *extra])
               for name, extra in {"lgb": [], "lgb-shallow": ["--num-leaves", "3", "--seed", "7"]}.items()}
    return {"data": data, "runs": runs, "files": root / "files", "ledger": root / "ledger.sqlite",
            "metrics": metrics}


@pytest.mark.slow
def test_tabular_toy_trains_every_fold_with_the_common_schema(cancer_runs):
    metrics = cancer_runs["metrics"]["lgb"]
    assert metrics["complete"] is True and metrics["completed_folds"] == [0, 1, 2, 3]
    assert metrics["oof"]["auc_given"]["auc"] > 0.95  # breast cancer is an easy task
    assert all(metrics["folds"][str(k)]["best_iteration"] >= 1 for k in range(4))
    oof = pd.read_csv(cancer_runs["runs"] / "toy_cancer" / "lgb" / "oof.csv")
    assert len(oof) == 569 - 120 and list(oof.columns) == ["id", "fold", "target", "pred"]


def test_tabular_toy_blends_validates_and_reaches_the_ledger(cancer_runs):
    env = cancer_runs
    path, meta = make_submission("toy_cancer", ["lgb", "lgb-shallow"], method="hill", data_dir=env["data"],
                                 runs_dir=env["runs"], files_root=env["files"])
    sub = validate_file(path, "toy_cancer", env["data"])
    sample = pd.read_csv(env["data"] / "sample_submission.csv")
    assert list(sub.columns) == ["row_id", "malignant"]
    assert sub["row_id"].astype(int).tolist() == sample["row_id"].tolist()
    truth = cancer.load_breast_cancer(return_X_y=True)[1]
    y_test = 1 - truth[sample["row_id"].to_numpy() - 100_000]
    from common.metrics import roc_auc
    assert roc_auc(y_test, sub["malignant"].to_numpy()) > 0.95  # the test predictions are real ones
    assert meta["cv"]["auc"] > 0.95 and {r["name"] for r in meta["runs"]} == {"lgb", "lgb-shallow"}
    entry = submit_file(path, "toy", competition="toy_cancer", data_dir=env["data"], ledger_path=env["ledger"],
                        dry_run=True)
    assert entry["status"] == "dry-run"
    with Ledger(env["ledger"]) as ledger:
        table = ledger.table("toy_cancer")
    assert table["file_name"].tolist() == [path.name] and table["cv_auc"].iloc[0] == pytest.approx(meta["cv"]["auc"])


def test_registered_competition_is_known_to_the_shared_stages():
    spec = get_competition("toy_cancer")
    assert spec.id_column == "row_id" and spec.target_column == "malignant"


def test_rerun_skips_finished_folds(cancer_runs):
    env = cancer_runs
    run_dir = env["runs"] / "toy_cancer" / "lgb"
    before = (run_dir / "fold0" / "model.txt").stat().st_mtime_ns
    metrics = cancer.main(["--data", str(env["data"]), "--runs-dir", str(env["runs"]), "--name", "lgb", *LGB_ARGS])
    assert metrics["timing"]["folds_trained"] == 0
    assert (run_dir / "fold0" / "model.txt").stat().st_mtime_ns == before
    assert np.isclose(metrics["oof"]["auc_given"]["auc"], env["metrics"]["lgb"]["oof"]["auc_given"]["auc"])


CNN_ARGS = ["--model", "resnet18", "--model-kwargs", "{channels: [8, 16, 32, 64], stem_width: 8}",
            "--epochs", "8", "--batch-size", "32", "--lr", "0.003", "--n-splits", "3", "--fold", "all",
            "--workers", "0", "--threads", "1", "--no-progress", "--no-amp"]


@pytest.fixture(scope="module")
def digits_runs(tmp_path_factory):
    import torch

    from tests.toy import digits

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("toy_digits")
    data = digits.write_data(root / "data")
    runs = root / "runs"
    args = ["--data", str(data), "--runs-dir", str(runs), *CNN_ARGS]
    metrics = {"cnn": digits.main(args + ["--name", "cnn"]),
               "cnn-ema": digits.main(args + ["--name", "cnn-ema", "--ema", "--ema-decay", "0.9", "--seed", "3"])}
    return {"data": data, "runs": runs, "files": root / "files", "ledger": root / "ledger.sqlite",
            "metrics": metrics, "module": digits}


@pytest.mark.slow
def test_image_toy_trains_every_fold_with_the_common_schema(digits_runs):
    for name, metrics in digits_runs["metrics"].items():
        assert metrics["complete"] is True and metrics["completed_folds"] == [0, 1, 2], name
        assert metrics["oof"]["auc_given"]["auc"] > 0.8, name  # a real model, not chance
        assert set(metrics["folds"]["0"]["variants"]) == {"none"}


def test_image_toy_blends_validates_and_reaches_the_ledger(digits_runs):
    env = digits_runs
    path, meta = make_submission("toy_digits", ["cnn", "cnn-ema"], method="rank", data_dir=env["data"],
                                 runs_dir=env["runs"], files_root=env["files"])
    sub = validate_file(path, "toy_digits", env["data"])
    sample = pd.read_csv(env["data"] / "sample_submission.csv", dtype=str)
    assert sub["image"].tolist() == sample["image"].tolist()
    from sklearn.datasets import load_digits

    from common.metrics import roc_auc
    y_test = (load_digits().target[[int(i[1:]) for i in sample["image"]]] == 3).astype(int)
    assert roc_auc(y_test, sub["is_three"].to_numpy()) > 0.8
    entry = submit_file(path, "toy", competition="toy_digits", data_dir=env["data"], ledger_path=env["ledger"],
                        dry_run=True)
    with Ledger(env["ledger"]) as ledger:
        assert ledger.table("toy_digits")["file_name"].tolist() == [path.name]
    assert entry["runs"] == ["cnn", "cnn-ema"]


def test_image_toy_needs_only_its_own_short_module():
    from pathlib import Path

    for module in ("cancer.py", "digits.py"):
        assert len((Path(__file__).parent / module).read_text().splitlines()) <= 150, module
