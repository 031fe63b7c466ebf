"""The tabular engine on scikit-learn's breast cancer data: fold driver, metrics, transform hook, reports."""
from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from common.config import parse_config
from common.run import Run
from common.tabular.config import GBDTConfig
from common.tabular.cross_validate import train_cv
from common.tabular.lgbm import lgb_params
from common.tabular.matrix import FoldColumns, FoldTransform, TabularMatrix, fold_data
from common.tabular.tune import GBDTTuneConfig, run_study

FAST = ["--num-threads", "1", "--learning-rate", "0.2", "--num-leaves", "7", "--min-data-in-leaf", "10",
        "--num-boost-round", "30", "--early-stopping-rounds", "10", "--log-period", "0", "--n-splits", "3"]


def _train(tmp_path, matrix, folds, *args, transform=None) -> tuple[Run, dict]:
    cfg = parse_config(GBDTConfig, [*FAST, *args])
    run = Run.open("toy", cfg.name, tmp_path)
    run.save_config(cfg)
    return run, train_cv(run, cfg, matrix, folds, lgb_params(cfg), transform=transform, title="toy")


def test_matrix_splits_on_the_target(cancer):
    matrix, _ = cancer
    assert len(matrix.train) == 400 and len(matrix.test) == 169 and len(matrix.features) == 30
    assert "label" not in matrix.features and "row" not in matrix.features
    assert matrix.test["row"].tolist() == list(range(400, 569))


@pytest.mark.slow
def test_finished_folds_are_skipped_and_no_resume_retrains(cancer, tmp_path):
    matrix, folds = cancer
    run, metrics = _train(tmp_path, matrix, folds, "--fold", "0")
    stamp = (run.root / "fold0" / "oof.csv").stat().st_mtime_ns
    assert metrics["completed_folds"] == [0] and not metrics["complete"]
    assert metrics["timing"]["folds_trained"] == 1

    run, metrics = _train(tmp_path, matrix, folds, "--fold", "0,1")
    assert (run.root / "fold0" / "oof.csv").stat().st_mtime_ns == stamp  # skipped
    assert metrics["completed_folds"] == [0, 1] and metrics["timing"]["folds_trained"] == 1
    assert set(pd.read_csv(run.root / "oof.csv")["fold"]) == {0, 1}

    run, metrics = _train(tmp_path, matrix, folds, "--fold", "0", "--no-resume")
    assert (run.root / "fold0" / "oof.csv").stat().st_mtime_ns != stamp  # trained again
    assert metrics["timing"]["folds_trained"] == 1


@pytest.mark.slow
def test_metrics_schema_predictions_and_reports(cancer, tmp_path):
    matrix, folds = cancer
    run, metrics = _train(tmp_path, matrix, folds)
    assert metrics["complete"] and metrics["completed_folds"] == [0, 1, 2] and metrics["n_splits"] == 3
    for k in ("0", "1", "2"):
        fold = metrics["folds"][k]
        assert 0.9 < fold["auc_given"]["auc"] <= 1 and fold["auc_given"]["n"] == (folds == int(k)).sum()
        assert 1 <= fold["best_iteration"] <= 30 and fold["n_features"] == 30 and fold["seconds"] > 0
    oof_auc = metrics["oof"]["auc_given"]
    assert oof_auc["ci_low"] < oof_auc["auc"] < oof_auc["ci_high"] and oof_auc["n"] == 400
    timing = metrics["timing"]
    assert timing["lightgbm_s"] > 0 and timing["total_s"] >= timing["lightgbm_s"] and timing["overhead_ratio"] >= 0
    assert metrics["n_features"] == 30 and metrics["importance_type"] == "gain"

    oof = pd.read_csv(run.root / "oof.csv").sort_values("id")
    assert oof["id"].tolist() == list(range(400)) and (oof["target"] == matrix.y).all()
    test = pd.read_csv(run.root / "test.csv")
    assert sorted(test["id"]) == list(range(400, 569)) and test["pred"].between(0, 1).all()
    booster = lgb.Booster(model_file=str(run.root / "fold2" / "model.txt"))  # the best iteration only
    valid = oof[oof["fold"] == 2]
    np.testing.assert_allclose(booster.predict(matrix.train.loc[valid["id"], matrix.features]), valid["pred"],
                               rtol=1e-6)

    importance = pd.read_csv(run.root / "importance.csv")
    assert list(importance.columns) == ["feature", "importance_mean", "importance_std"]
    assert set(importance["feature"]) == set(matrix.features)
    assert importance["importance_mean"].is_monotonic_decreasing and importance["importance_mean"].iloc[0] > 0
    for name in ("importance.png", "roc.png", "lgb_params.yaml", "fold0/importance.csv", "fold0/done.json"):
        assert (run.root / name).is_file(), name


def test_transform_is_fitted_on_each_folds_training_rows_only(cancer, tmp_path):
    matrix, folds = cancer
    seen = []

    def mean_radius_rank(x_train, y_train, others):
        seen.append((set(x_train.index), len(y_train), [set(o.index) for o in others], list(x_train.columns)))
        ranks = np.sort(x_train["mean_radius"].to_numpy())
        def rank(x):
            return pd.DataFrame({"radius_rank": np.searchsorted(ranks, x["mean_radius"]) / len(ranks)}, index=x.index)
        return FoldColumns(rank(x_train), [rank(o) for o in others])

    transform = FoldTransform(mean_radius_rank, reads=("mean_radius",))
    run, metrics = _train(tmp_path, matrix, folds, "--fold", "0,2", transform=transform)
    assert len(seen) == 2
    for fold, (train_rows, n_y, (valid_rows, test_rows), columns) in zip((0, 2), seen):
        assert train_rows == set(np.flatnonzero(folds != fold)) and n_y == len(train_rows)
        assert valid_rows == set(np.flatnonzero(folds == fold)) and len(test_rows) == 169
        assert columns == ["mean_radius"]  # only what it reads
    assert metrics["folds"]["0"]["n_features"] == 31 and metrics["n_features"] == 31
    assert "radius_rank" in set(pd.read_csv(run.root / "importance.csv")["feature"])


def test_matrix_without_test_rows_writes_no_test_file(cancer, tmp_path):
    matrix, folds = cancer
    labelled = TabularMatrix(matrix.train, None, matrix.features, "row", "label")
    run, metrics = _train(tmp_path, labelled, folds, "--fold", "1")
    assert metrics["completed_folds"] == [1] and not (run.root / "test.csv").exists()


def test_fold_data_refuses_a_fold_it_does_not_hold(cancer):
    matrix, folds = cancer
    with pytest.raises(ValueError, match="fold 3 not in the fold file"):
        fold_data(matrix, folds, 3)
    with pytest.raises(ValueError, match="fold numbers for 400 training rows"):
        fold_data(matrix, folds[:10], 0)


@pytest.mark.slow
def test_study_loads_data_only_while_trials_are_left(cancer, tmp_path):
    matrix, folds = cancer
    loads = []

    def load():
        loads.append(1)
        return matrix, folds

    args = ["--tune-folds", "2", "--n-splits", "3", "--num-threads", "1", "--learning-rate", "0.3",
            "--num-boost-round", "15", "--early-stopping-rounds", "5", "--n-startup-trials", "1",
            "--n-warmup-steps", "3", "--no-progress", "--n-trials", "2"]
    cfg = parse_config(GBDTTuneConfig, args)
    run = Run.open("toy", cfg.name, tmp_path)
    result = run_study(run, cfg, load)
    assert loads == [1] and result["finished_trials"] == 2 and len(result["fold_aucs"]) == 2
    assert run_study(run, cfg, load)["finished_trials"] == 2 and loads == [1]
    assert (run.root / "best_params.yaml").is_file() and (run.root / "study.db").is_file()
    with pytest.raises(ValueError, match="tune-folds"):
        parse_config(GBDTTuneConfig, ["--tune-folds", "4", "--n-splits", "3"])
