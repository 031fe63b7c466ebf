"""The matrix binned once for LightGBM (common.tabular.binned): each fold's Datasets taken from it give the
predictions of per-fold binning where the bins agree, and its cache file is written once, read back, and
keyed on the features and the Dataset parameters."""
from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from common.config import parse_config
from common.folds import make_folds
from common.io import DiskFullError
from common.run import Run
from common.tabular import binned as binned_module
from common.tabular.binned import BinnedMatrix
from common.tabular.config import GBDTConfig
from common.tabular.cross_validate import train_cv
from common.tabular.lgbm import LightGBMEngine, dataset_params, fit, lgb_params
from common.tabular.matrix import FoldColumns, FoldTransform, TabularMatrix, fold_data, split_fold
from common.tabular.timing import Timings
from tests.full_disk import full_disk

FAST = ["--num-threads", "1", "--learning-rate", "0.2", "--num-leaves", "7", "--min-data-in-leaf", "10",
        "--num-boost-round", "40", "--early-stopping-rounds", "10", "--log-period", "0", "--n-splits", "3"]


def few_values_matrix(seed: int = 0, n: int = 900, n_test: int = 200) -> tuple[TabularMatrix, np.ndarray]:
    """Features of 8 integer values (and NaN) and a category code, a label depending on them, row weights and
    3 folds: every value occurs in every fold's training rows, so bins of all rows and of a fold's agree."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 8, size=(n + n_test, 6)).astype(np.float32)
    x[rng.random(x.shape) < 0.05] = np.nan
    cat = rng.integers(0, 5, n + n_test).astype(np.float32)
    logit = np.nan_to_num(x[:, 0] - 3.5) + 0.8 * (cat - 2) + rng.normal(0, 1.5, n + n_test)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(6)]).assign(cat=cat, row=np.arange(n + n_test))
    frame["label"] = (logit > 0).astype(float)
    frame.loc[n:, "label"] = np.nan
    split = TabularMatrix.from_frame(frame, "row", "label")
    matrix = TabularMatrix(split.train, split.test, split.features, "row", "label",
                           weights=rng.uniform(0.5, 2.0, n))
    return matrix, make_folds(matrix.ids, matrix.y, n_splits=3, seed=0)["fold"].to_numpy()


def category_rate(x_train: pd.DataFrame, y_train: np.ndarray, others: list[pd.DataFrame]) -> FoldColumns:
    """A fold-local target encoding of ``cat``: its label mean on the fold's training rows."""
    means = pd.Series(y_train).groupby(x_train["cat"].to_numpy()).mean()
    encode = lambda x: pd.DataFrame({"cat_rate": x["cat"].map(means).to_numpy(np.float32)}, index=x.index)  # noqa: E731
    return FoldColumns(encode(x_train), [encode(o) for o in others])


CATEGORY_RATE = FoldTransform(category_rate, reads=("cat",))


def per_fold_binning(matrix, folds, fold, transform, cfg) -> tuple[np.ndarray, np.ndarray]:
    """The path before the matrix was binned once: the fold's DataFrames binned on its own training rows,
    validation with their edges, the training rows weighted; (validation, test) predictions."""
    data = fold_data(matrix, folds, fold, transform)
    params = dataset_params(cfg.max_bin, cfg.seed, cfg.num_threads)
    train = lgb.Dataset(data.x_train, data.y_train, weight=data.w_train, params=params, free_raw_data=False)
    valid = lgb.Dataset(data.x_valid, data.y_valid, params=params, reference=train, free_raw_data=False)
    booster = fit(lgb_params(cfg), train.construct(), valid.construct(), cfg.num_boost_round,
                  cfg.early_stopping_rounds)
    best = booster.best_iteration
    return booster.predict(data.x_valid, num_iteration=best), booster.predict(data.x_test, num_iteration=best)


def count_binning(monkeypatch) -> list[tuple[int, int]]:
    """Record (rows, features) of every matrix binned from its values (not read from a cache file)."""
    calls, real = [], binned_module.bin_matrix

    def counting(matrix, params):
        calls.append((len(matrix.train), len(matrix.features)))
        return real(matrix, params)
    monkeypatch.setattr(binned_module, "bin_matrix", counting)
    return calls


def test_folds_of_the_matrix_binned_once_predict_as_per_fold_binning(monkeypatch):
    matrix, folds = few_values_matrix()
    for k in range(3):  # the premise: each fold's training rows hold every value of every feature
        rows = matrix.train.loc[folds != k, matrix.features]
        assert all(set(rows[c].dropna()) == set(matrix.train[c].dropna()) for c in matrix.features)
    binned = count_binning(monkeypatch)
    cfg = parse_config(GBDTConfig, FAST)
    engine = LightGBMEngine.from_config(cfg, lgb_params(cfg), [])
    for k in range(3):
        inputs = engine.inputs(split_fold(matrix, folds, k, CATEGORY_RATE), Timings())
        assert inputs.valid_set.get_weight() is None
        np.testing.assert_allclose(inputs.train_set.get_weight(), matrix.weights[folds != k], rtol=1e-6)
        model = engine.fit(inputs)
        valid_pred, test_pred = per_fold_binning(matrix, folds, k, CATEGORY_RATE, cfg)
        assert 1 < model.best_iteration
        np.testing.assert_array_equal(model.valid_pred, valid_pred)
        np.testing.assert_array_equal(model.test_pred, test_pred)
        assert model.importance["feature"].tolist() == [*matrix.features, "cat_rate"]  # the order of today
    assert binned == [(900, 7)]  # one binned matrix for the three folds


@pytest.mark.slow
def test_the_binned_matrix_is_cached_once_and_keyed_on_features_and_max_bin(tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_CACHE_ROOT", str(tmp_path / "cache"))
    binned = count_binning(monkeypatch)
    matrix, folds = few_values_matrix()
    folder = tmp_path / "cache" / "lightgbm" / "datasets"

    def run(name: str, *args: str) -> dict:
        cfg = parse_config(GBDTConfig, [*FAST, "--name", name, *args])
        run = Run.open("toy", cfg.name, tmp_path / "runs")
        run.save_config(cfg)
        return train_cv(run, cfg, matrix, folds, lgb_params(cfg), transform=CATEGORY_RATE, title=name)

    uncached = run("uncached")  # no cache_key: binned in memory only
    assert binned == [(900, 7)] and not folder.exists()
    matrix.cache_key = "features-v1"
    first = run("first")
    files = sorted(folder.glob("*.bin"))
    assert binned == [(900, 7)] * 2 and len(files) == 1
    second = run("second")
    assert binned == [(900, 7)] * 2 and sorted(folder.glob("*.bin")) == files  # read back, not binned
    for k in "012":
        assert first["folds"][k]["auc_given"] == second["folds"][k]["auc_given"] == uncached["folds"][k]["auc_given"]
    timing = second["timing"]
    assert {"fold_inputs_s", "binning_s", "lightgbm_s", "writing_s"} <= set(timing)

    run("max_bin", "--max-bin", "63")
    matrix.features = matrix.features[1:]  # e.g. --drop-features
    run("narrowed")
    assert binned == [(900, 7)] * 3 + [(900, 6)] and len(list(folder.glob("*.bin"))) == 3

    matrix.cache_key = "features-v2"  # other feature code or inputs
    BinnedMatrix.of(matrix, dataset_params(255, 42, 1))
    assert len(binned) == 5 and len(list(folder.glob("*.bin"))) == 4


def test_a_cache_file_of_other_rows_is_not_used(tmp_path, monkeypatch):
    binned = count_binning(monkeypatch)
    matrix, _ = few_values_matrix()
    matrix.cache_key = "same key"
    params = dataset_params(255, 42, 1)
    BinnedMatrix.of(matrix, params, tmp_path)
    matrix.train["label"] = 1 - matrix.train["label"]  # a cache_key that failed to change with the content
    again = BinnedMatrix.of(matrix, params, tmp_path)
    assert len(binned) == 2 and np.array_equal(again.dataset.get_label(), matrix.y)


def test_a_fold_choosing_its_features_is_binned_on_its_own_rows(monkeypatch):
    binned = count_binning(monkeypatch)
    matrix, folds = few_values_matrix()
    keep_three = FoldTransform(lambda x, y, others: FoldColumns(
        pd.DataFrame(index=x.index), [pd.DataFrame(index=o.index) for o in others], keep=["f0", "f1", "cat"]))
    cfg = parse_config(GBDTConfig, FAST)
    engine = LightGBMEngine.from_config(cfg, lgb_params(cfg), [])
    model = engine.fit(engine.inputs(split_fold(matrix, folds, 0, keep_three), Timings()))
    assert binned == [] and model.importance["feature"].tolist() == ["f0", "f1", "cat"]


@pytest.mark.parametrize("leave", [0, 4096, 8192])  # the file (8.5 kB) cut short early, late, or unnoticed till read
def test_a_full_disk_while_caching_is_one_error_naming_the_file(tmp_path, leave):
    matrix, _ = few_values_matrix()
    matrix.cache_key = "full disk"
    params = dataset_params(255, 42, 1)
    with full_disk(tmp_path / "disk", size=1 << 20) as disk:
        folder = disk.root / "datasets"
        folder.mkdir()
        disk.fill(leave)
        with pytest.raises(DiskFullError, match=rf"writing {folder}/\w+\.bin$"):
            BinnedMatrix.of(matrix, params, folder)
        assert list(folder.iterdir()) == []  # no file cut short under the cache's name
        disk.free_up()
        assert BinnedMatrix.of(matrix, params, folder).dataset.num_data() == 900
        assert len(list(folder.glob("*.bin"))) == 1
