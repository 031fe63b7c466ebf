"""common.adversarial: train-vs-test CV, shifted-feature ranking, test-likeness weights, file round trips;
and the tabular engine's optional training weights."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from common import adversarial as adv
from common.tabular.lgbm import FoldBinner
from common.tabular.matrix import TabularMatrix, fold_data, split_fold


def frames(shift: float, n_train: int = 800, n_test: int = 300, seed: int = 0):
    """Eight numeric features; with ``shift``, f0 moves by ``shift`` and f1 is scaled in the test rows."""
    rng = np.random.default_rng(seed)
    train = pd.DataFrame(rng.standard_normal((n_train, 8)), columns=[f"f{i}" for i in range(8)])
    test = pd.DataFrame(rng.standard_normal((n_test, 8)), columns=train.columns)
    test["f0"] += shift
    test["f1"] *= 1 + shift
    return train, test


def lgbm():
    return adv.lgbm_fit_predict(num_boost_round=60, num_threads=1)


def test_no_shift_auc_covers_one_half():
    train, test = frames(0.0)
    result = adv.adversarial_cv(train, test, lgbm(), n_splits=4)
    assert result.covers_half, result.auc
    assert result.p_train.shape == (800,) and result.p_test.shape == (300,)
    linear = adv.adversarial_cv(train.to_numpy(), test.to_numpy(), adv.linear_fit_predict(), n_splits=4)
    assert linear.covers_half and linear.importance is None


def test_planted_shift_is_found_and_dropping_it_lowers_the_auc():
    train, test = frames(1.0)
    result = adv.adversarial_cv(train, test, lgbm(), n_splits=4)
    assert result.auc["ci_low"] > 0.7
    table = adv.shifted_features(result, adv.univariate_auc(train, test, list(train.columns)))
    assert set(table["feature"].head(2)) == {"f0", "f1"}
    # the univariate AUC sees the location shift of f0 but not the scale change of f1; the model sees both
    assert adv.recall_at_k(table.sort_values("univariate_rank")["feature"], ["f0"]) == 1.0
    assert adv.recall_at_k(table.sort_values("univariate_rank")["feature"], ["f0", "f1"]) == 0.5
    assert list(table["rank"]) == list(range(1, 9))
    rest = [c for c in train.columns if c not in ("f0", "f1")]
    after = adv.adversarial_cv(train[rest], test[rest], lgbm(), n_splits=4)
    assert after.auc["auc"] < result.auc["auc"] - 0.2 and after.covers_half


def test_univariate_auc_counts_missing_values():
    train = pd.DataFrame({"a": [1.0, np.nan, 3.0, 4.0] * 50})
    test = pd.DataFrame({"a": [np.nan] * 100})
    out = adv.univariate_auc(train, test, ["a"])
    assert out["univariate_auc"].iloc[0] < 0.5 and out["strength"].iloc[0] > 0.5


def test_likeness_weights_are_clipped_and_normalised():
    p = np.r_[np.full(98, 0.2), 0.999, 1e-9]
    w = adv.likeness_weights(p, clip=5.0)
    assert w.shape == p.shape and w.mean() == pytest.approx(1.0)
    assert w.max() / w.min() <= 25.0 + 1e-9
    assert w[-2] > w[0] > w[-1]
    with pytest.raises(ValueError, match="clip"):
        adv.likeness_weights(p, clip=0.5)


def test_outputs_round_trip(tmp_path):
    train, test = frames(1.0, 200, 100)
    result = adv.adversarial_cv(train, test, lgbm(), n_splits=3)
    table = adv.shifted_features(result, adv.univariate_auc(train, test, list(train.columns)))
    ids_train, ids_test = np.arange(200) + 1000, np.arange(100) + 5000
    report = adv.write_outputs(tmp_path, result, ids_train, ids_test, features=table, top=3, note="x")
    assert report["n_train"] == 200 and len(report["top_features"]) == 3 and report["note"] == "x"
    for name in (adv.ADVERSARIAL_JSON, adv.SHIFTED_FEATURES, adv.TEST_LIKENESS, adv.TEST_ROWS_LIKENESS, adv.WEIGHTS,
                 adv.META_FEATURES):
        assert (tmp_path / name).is_file(), name
    assert list(pd.read_csv(tmp_path / adv.TEST_LIKENESS).columns) == ["id", "p_test"]
    meta = pd.read_csv(tmp_path / adv.META_FEATURES)  # the lgb_stack meta-feature of every train and test row
    assert list(meta.columns) == ["id", "adversarial_p_test"]
    assert meta["id"].tolist() == [*ids_train, *ids_test]
    np.testing.assert_allclose(meta["adversarial_p_test"], np.r_[result.p_train, result.p_test])
    assert adv.read_shifted_features(tmp_path, top=2) == table["feature"].head(2).tolist()
    weights = adv.read_weights(tmp_path, ids_train[::-1])
    assert weights.shape == (200,) and weights.mean() == pytest.approx(1.0)
    (tmp_path / "names.txt").write_text("f3\nf4\n")
    assert adv.read_shifted_features(tmp_path / "names.txt") == ["f3", "f4"]
    adv.plot_shifted_features(table, tmp_path / "shifted.png", top=5)
    assert (tmp_path / "shifted.png").stat().st_size > 0


def test_bad_sources_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file or run folder"):
        adv.read_shifted_features(tmp_path / "nope.csv")
    with pytest.raises(FileNotFoundError, match="run the adversarial validation first"):
        adv.read_weights(tmp_path, [1, 2])
    pd.DataFrame({"name": ["a"]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match="no 'feature' column"):
        adv.read_shifted_features(tmp_path / "bad.csv")
    pd.DataFrame({"id": [1, 2], "weight": [1.0, 2.0]}).to_csv(tmp_path / "w.csv", index=False)
    with pytest.raises(ValueError, match="no weight for 1 training id"):
        adv.read_weights(tmp_path / "w.csv", [1, 3])
    with pytest.raises(ValueError, match="at least 5"):
        adv.adversarial_cv(np.zeros((3, 2)), np.zeros((10, 2)), adv.linear_fit_predict())


def test_tabular_weights_reach_the_training_dataset_only():
    rng = np.random.default_rng(1)
    train = pd.DataFrame({"id": np.arange(40), "x": rng.random(40), "target": np.tile([0, 1], 20)})
    w = np.linspace(0.5, 2.0, 40)
    matrix = TabularMatrix(train, None, ["x"], "id", "target", weights=w)
    folds = np.tile([0, 1], 20)
    data = fold_data(matrix, folds, 0)
    assert np.array_equal(data.w_train, w[folds != 0])
    train_set, valid_set = FoldBinner({"verbose": -1, "min_data_in_bin": 1})(split_fold(matrix, folds, 0))
    assert np.allclose(train_set.get_weight(), w[folds != 0]) and valid_set.get_weight() is None
    assert fold_data(TabularMatrix(train, None, ["x"], "id", "target"), folds, 0).w_train is None
    with pytest.raises(ValueError, match="weights for 40 training rows"):
        TabularMatrix(train, None, ["x"], "id", "target", weights=w[:5])


def test_copies_of_training_rows_as_test_rows_give_one_half_when_grouped_and_a_warning_when_not():
    """Test rows that are copies of training rows: the sets are identical, so the AUC must be about 0.5. Folds
    that split each copy from its twin let the model memorise the twin's label: an AUC far below 0.5."""
    train, _ = frames(0.0, n_train=600)
    test = train.iloc[:300].reset_index(drop=True)
    split = adv.adversarial_cv(train, test, lgbm(), n_splits=4)
    assert split.auc["ci_high"] < 0.5 and "leakage between the folds" in split.leak_warning
    groups = adv.exact_row_groups(train, test)
    assert len(np.unique(groups)) == 600 and (groups[600:] == groups[:300]).all()
    grouped = adv.adversarial_cv(train, test, lgbm(), n_splits=4, groups=groups)
    assert grouped.covers_half and grouped.leak_warning is None, grouped.auc
    assert grouped.info["duplicate_groups"] == 300 and grouped.info["rows_in_duplicate_groups"] == 600
    assert adv.summary(grouped, 600, 300)["leak_warning"] is None


def test_a_damaged_weights_file_names_itself_and_the_option(tmp_path):
    from common.io import DamagedFile

    path = tmp_path / "weights.csv"
    path.write_bytes(b"\xff\xfeid,weight\n")  # a UTF-16 file from a spreadsheet
    with pytest.raises(DamagedFile, match="fix the file given to --adversarial-weights"):
        adv.read_weights(path, ["1", "2"])
