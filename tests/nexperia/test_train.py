"""Training one fold end to end on the tiny synthetic data; resuming a killed run gives the same files."""
import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from competitions.nexperia import train
from competitions.nexperia.data import get_folds, load_data

torch.set_num_threads(1)  # a crowded 2-core machine runs one thread far faster than two
TINY_MODEL = "{channels: [8, 16, 32, 64], stem_width: 8}"


def tiny_args(data_dir, runs, cache, name, *extra):
    return ["--data", str(data_dir), "--runs-dir", str(runs), "--cache-dir", str(cache), "--name", name,
            "--model", "resnet18", "--model-kwargs", TINY_MODEL, "--img-size", "32", "--epochs", "2",
            "--batch-size", "32", "--lr", "0.003", "--n-splits", "4", "--workers", "0", "--threads", "1", "--no-progress",
            "--gradcam", "4", "--tta", "hflip", "--tta-compare", "none", "hflip", "--patience", "5", *extra]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    return root / "runs", root / "cache"


@pytest.fixture(scope="module")
def full_run(nexperia_data, env):
    runs, cache = env
    return train.main(tiny_args(nexperia_data, runs, cache, "full"))


def test_fold_run_writes_the_contract_files(full_run, nexperia_data, env):
    runs, cache = env
    fold = full_run.root / "fold0"
    for name in ("best.pt", "last.pt", "summary.csv", "gradcam.png", "roc.png", "oof.csv", "test.csv"):
        assert (fold / name).is_file(), name
    data = load_data(nexperia_data, cache_dir=cache)
    folds = get_folds(data, n_splits=4, runs_dir=runs)
    oof = pd.read_csv(full_run.root / "oof.csv", dtype={"id": str})
    assert list(oof.columns) == ["id", "fold", "target", "pred"]
    assert set(oof["id"]) == set(folds.loc[folds["fold"] == 0, "id"])
    assert oof["pred"].between(0, 1).all() and oof["pred"].nunique() > 1
    test = pd.read_csv(full_run.root / "test.csv", dtype={"id": str})
    assert list(test["id"]) == list(data.test_ids)
    summary = pd.read_csv(fold / "summary.csv")
    assert summary["epoch"].tolist() == [1, 2]
    assert {"lr", "train_loss", "val_loss", "val_auc", "val_auc_true", "seconds"} <= set(summary.columns)
    assert summary["train_loss"].iloc[1] < summary["train_loss"].iloc[0]
    config = yaml.safe_load((full_run.root / "config.yaml").read_text())
    assert config["model"] == "resnet18" and config["img_size"] == 32


def test_metrics_hold_aucs_against_given_and_true_labels(full_run):
    metrics = json.loads((full_run.root / "metrics.json").read_text())
    fold = metrics["fold0"]
    assert set(fold["tta_auc_given"]) == {"none", "hflip"} and set(fold["tta_auc_true"]) == {"none", "hflip"}
    assert fold["auc_given"]["ci_low"] <= fold["auc_given"]["auc"] <= fold["auc_given"]["ci_high"]
    assert fold["auc_given"]["auc"] == pytest.approx(fold["tta_auc_given"]["hflip"])
    assert 1 <= fold["best_epoch"] <= 2
    assert metrics["oof_auc_given"]["auc"] == pytest.approx(fold["auc_given"]["auc"])
    assert "oof_auc_true" in metrics


def test_killed_run_resumes_to_the_same_files(full_run, nexperia_data, env, monkeypatch):
    runs, cache = env
    args = tiny_args(nexperia_data, runs, cache, "killed")
    monkeypatch.setenv(train.STOP_ENV, "1")
    with pytest.raises(SystemExit, match="stopped after epoch 1"):
        train.main(args)
    killed = runs / "nexperia" / "killed"
    assert len(pd.read_csv(killed / "fold0" / "summary.csv")) == 1
    assert not (killed / "oof.csv").exists()
    monkeypatch.delenv(train.STOP_ENV)
    with pytest.raises(FileExistsError, match="--resume"):
        train.main(args)
    train.main(args + ["--resume"])
    same = ["epoch", "lr", "train_loss", "val_loss", "val_auc", "val_auc_true"]
    pd.testing.assert_frame_equal(pd.read_csv(killed / "fold0" / "summary.csv")[same],
                                  pd.read_csv(full_run.root / "fold0" / "summary.csv")[same])
    for name in ("oof.csv", "test.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(killed / name), pd.read_csv(full_run.root / name))


def test_resume_with_another_tta_predicts_finished_folds_again(full_run, nexperia_data, env):
    import shutil

    runs, cache = env
    copy = runs / "nexperia" / "repredict"
    shutil.copytree(full_run.root, copy)
    config = yaml.safe_load((copy / "config.yaml").read_text())
    (copy / "config.yaml").write_text(yaml.safe_dump({**config, "name": "repredict"}, sort_keys=False))
    before = json.loads((copy / "metrics.json").read_text())["fold0"]
    train.main(tiny_args(nexperia_data, runs, cache, "repredict", "--resume", "--tta", "none"))
    after = json.loads((copy / "metrics.json").read_text())["fold0"]
    assert after["tta"] == "none" and yaml.safe_load((copy / "config.yaml").read_text())["tta"] == "none"
    oof = pd.read_csv(copy / "oof.csv")
    assert not np.allclose(oof["pred"], pd.read_csv(full_run.root / "oof.csv")["pred"])
    # the new OOF is the TTA-free prediction the first run reported for comparison; no epoch was rerun
    assert after["auc_given"]["auc"] == pytest.approx(before["tta_auc_given"]["none"])
    pd.testing.assert_frame_equal(pd.read_csv(copy / "fold0" / "summary.csv"),
                                  pd.read_csv(full_run.root / "fold0" / "summary.csv"))


def test_suspect_audit_flags_change_the_training_labels(nexperia_data, env, tmp_path, monkeypatch, caplog):
    runs, cache = env
    data = load_data(nexperia_data, cache_dir=cache)
    suspects = tmp_path / "suspects.csv"
    defects = data.train_ids[data.train_labels == 1][:20]
    pd.DataFrame({"id": defects, "score": 1.0, "suggested_label": 0}).to_csv(suspects, index=False)
    seen = {}
    original = train.FoldTrainer.__init__

    def spy(self, *a, **k):
        original(self, *a, **k)
        seen["rows"], seen["labels"] = self.train_rows, self.train_labels

    monkeypatch.setattr(train.FoldTrainer, "__init__", spy)
    monkeypatch.setattr(train.FoldTrainer, "fit", lambda self: None)
    monkeypatch.setattr(train.FoldTrainer, "finish", lambda self: {"best_epoch": 0, "auc_given": {"auc": 0.5}, "tta_auc_given": {}})
    monkeypatch.setattr(train, "overall_metrics", lambda run, d: {})
    folds = get_folds(data, n_splits=4, runs_dir=runs)
    in_train = np.isin(data.train_ids, defects) & (folds["fold"].to_numpy() != 0)
    train.main(tiny_args(nexperia_data, runs, cache, "drop", "--suspects", str(suspects), "--suspect-action", "drop"))
    assert not np.isin(data.train_ids[seen["rows"]], defects).any()
    assert len(seen["rows"]) == (folds["fold"] != 0).sum() - in_train.sum()
    assert in_train.sum() < len(defects)  # some suspects are fold 0's validation images: no warning for those
    assert "not among the training ids" not in caplog.text
    train.main(tiny_args(nexperia_data, runs, cache, "relabel", "--suspects", str(suspects),
                         "--suspect-action", "relabel"))
    relabelled = np.isin(data.train_ids[seen["rows"]], defects)
    assert relabelled.sum() == in_train.sum() and (seen["labels"][relabelled] == 0).all()


def test_logistic_regression_baseline_writes_a_blendable_run(nexperia_data, env, full_run):
    from common.run import load_predictions
    from competitions.nexperia import baseline

    runs, cache = env
    run = baseline.main(["--data", str(nexperia_data), "--runs-dir", str(runs), "--cache-dir", str(cache),
                         "--n-splits", "4", "--fold", "0", "--size", "16"])
    oof, test = load_predictions(run.root)
    cnn_oof, _ = load_predictions(full_run.root)
    assert sorted(oof["id"]) == sorted(cnn_oof["id"])  # the same fold-0 rows as every other model
    assert len(test) == len(pd.read_csv(full_run.root / "test.csv"))
    metrics = json.loads((run.root / "metrics.json").read_text())["fold0"]
    assert 0 <= metrics["auc_true"]["auc"] <= 1 and metrics["auc_given"]["n"] == len(oof)
