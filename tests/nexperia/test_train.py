"""Training one fold end to end on the tiny synthetic data; resuming a killed run gives the same files."""
import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from common.vision import trainer
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


@pytest.mark.slow
def test_fold_run_writes_the_contract_files(full_run, nexperia_data, env):
    runs, cache = env
    fold = full_run.root / "fold0"
    for name in ("best.pt", "last.pt", "checkpoint-1.pt", "checkpoint-2.pt", "summary.csv", "gradcam.png",
                 "roc.png", "oof.csv", "test.csv", "done.json"):
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
    assert {"lr", "train_loss", "val_loss", "val_auc", "val_auc_true", "weights", "seconds"} <= set(summary.columns)
    assert set(summary["weights"]) == {"model"}
    assert summary["train_loss"].iloc[1] < summary["train_loss"].iloc[0]
    config = yaml.safe_load((full_run.root / "config.yaml").read_text())
    assert config["model"] == "resnet18" and config["img_size"] == 32


@pytest.mark.slow
def test_metrics_hold_aucs_against_given_and_true_labels(full_run):
    metrics = json.loads((full_run.root / "metrics.json").read_text())
    fold = metrics["folds"]["0"]
    assert set(fold["variants"]) == {"none", "hflip"}
    assert all({"auc_given", "auc_true"} <= set(v) for v in fold["variants"].values())
    assert fold["auc_given"]["ci_low"] <= fold["auc_given"]["auc"] <= fold["auc_given"]["ci_high"]
    assert fold["auc_given"]["auc"] == pytest.approx(fold["variants"]["hflip"]["auc_given"])
    assert 1 <= fold["best_epoch"] <= 2 and fold["tta"] == "hflip"
    assert metrics["oof"]["auc_given"]["auc"] == pytest.approx(fold["auc_given"]["auc"])
    assert "auc_true" in metrics["oof"] and metrics["completed_folds"] == [0]


@pytest.mark.slow
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
    train.main(args)  # the same command continues from last.pt
    same = ["epoch", "lr", "train_loss", "val_loss", "val_auc", "val_auc_true"]
    pd.testing.assert_frame_equal(pd.read_csv(killed / "fold0" / "summary.csv")[same],
                                  pd.read_csv(full_run.root / "fold0" / "summary.csv")[same])
    for name in ("oof.csv", "test.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(killed / name), pd.read_csv(full_run.root / name))


def test_suspect_audit_flags_change_the_training_labels(nexperia_data, env, tmp_path, monkeypatch, caplog):
    runs, cache = env
    data = load_data(nexperia_data, cache_dir=cache)
    suspects = tmp_path / "suspects.csv"
    defects = data.train_ids[data.train_labels == 1][:20]
    pd.DataFrame({"id": defects, "score": 1.0, "suggested_label": 0}).to_csv(suspects, index=False)
    seen = {}

    class Stop(Exception):
        pass

    def spy(self):
        seen["rows"], seen["labels"] = self.train_rows, self.train_labels
        raise Stop

    monkeypatch.setattr(trainer.FoldTrainer, "fit", spy)
    folds = get_folds(data, n_splits=4, runs_dir=runs)
    in_train = np.isin(data.train_ids, defects) & (folds["fold"].to_numpy() != 0)
    with pytest.raises(Stop):
        train.main(tiny_args(nexperia_data, runs, cache, "drop", "--suspects", str(suspects),
                             "--suspect-action", "drop"))
    assert not np.isin(data.train_ids[seen["rows"]], defects).any()
    assert len(seen["rows"]) == (folds["fold"] != 0).sum() - in_train.sum()
    assert in_train.sum() < len(defects)  # some suspects are fold 0's validation images: no warning for those
    assert "not among the training ids" not in caplog.text
    with pytest.raises(Stop):
        train.main(tiny_args(nexperia_data, runs, cache, "relabel", "--suspects", str(suspects),
                             "--suspect-action", "relabel"))
    relabelled = np.isin(data.train_ids[seen["rows"]], defects)
    assert relabelled.sum() == in_train.sum() and (seen["labels"][relabelled] == 0).all()


def test_logistic_regression_baseline_writes_a_blendable_run(nexperia_data, env, full_run):
    from common.run import RunFolder
    from competitions.nexperia import baseline

    runs, cache = env
    run = baseline.main(["--data", str(nexperia_data), "--runs-dir", str(runs), "--cache-dir", str(cache),
                         "--n-splits", "4", "--fold", "0", "--size", "16"])
    oof, test = run.read_oof(), run.read_test()
    cnn_oof = RunFolder(full_run.root).read_oof()
    assert sorted(oof["id"]) == sorted(cnn_oof["id"])  # the same fold-0 rows as every other model
    assert len(test) == len(pd.read_csv(full_run.root / "test.csv"))
    metrics = json.loads((run.root / "metrics.json").read_text())["folds"]["0"]
    assert 0 <= metrics["auc_true"]["auc"] <= 1 and metrics["auc_given"]["n"] == len(oof)


def test_adversarial_weights_reach_the_training_rows(nexperia_data, env, tmp_path, monkeypatch):
    runs, cache = env
    data = load_data(nexperia_data, cache_dir=cache)
    weights = tmp_path / "weights.csv"
    w = np.linspace(0.5, 2.0, len(data.train_ids))
    pd.DataFrame({"id": data.train_ids, "weight": w}).to_csv(weights, index=False)
    seen = {}

    class Stop(Exception):
        pass

    def spy(self):
        seen["rows"], seen["weights"] = self.train_rows, self.train_loader.dataset.weights
        raise Stop

    monkeypatch.setattr(trainer.FoldTrainer, "fit", spy)
    with pytest.raises(Stop):
        train.main(tiny_args(nexperia_data, runs, cache, "adv", "--adversarial-weights", str(weights)))
    np.testing.assert_allclose(seen["weights"], w[seen["rows"]], rtol=1e-6)
    pd.DataFrame({"id": data.train_ids[:5], "weight": 1.0}).to_csv(weights, index=False)
    with pytest.raises(ValueError, match=r"--adversarial-weights: .*weights.csv has no weight for \d+ training id"):
        train.main(tiny_args(nexperia_data, runs, cache, "adv2", "--adversarial-weights", str(weights)))
