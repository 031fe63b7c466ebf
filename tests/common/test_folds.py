import numpy as np
import pandas as pd
import pytest

from common.folds import check_folds, get_or_make_folds, labels_served, load_folds, make_folds


def _data(n=500, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(int)
    return np.array([f"id{i}" for i in range(n)]), y


def test_stratified_and_deterministic():
    ids, y = _data()
    a = make_folds(ids, y, n_splits=5, seed=1)
    b = make_folds(ids, y, n_splits=5, seed=1)
    c = make_folds(ids, y, n_splits=5, seed=2)
    pd.testing.assert_frame_equal(a, b)
    assert not a["fold"].equals(c["fold"])
    rates = pd.Series(y).groupby(a["fold"]).mean()
    assert rates.max() - rates.min() < 0.02
    assert a["fold"].value_counts().between(95, 105).all()


def test_groups_never_straddle_folds():
    ids, y = _data()
    groups = np.arange(len(y)) // 4
    folds = make_folds(ids, y, n_splits=5, seed=0, groups=groups)
    assert (pd.Series(folds["fold"]).groupby(groups).nunique() == 1).all()


def test_fold_without_a_class_is_refused_with_the_number_of_folds_that_fits():
    y = np.array([0] * 20 + [1] * 2)
    with pytest.raises(ValueError, match=r"class 1 has only 2 rows, fewer than the 5 folds asked for: use at most 2"):
        make_folds(np.arange(22), y, n_splits=5)
    folds = pd.DataFrame({"id": np.arange(22), "fold": [0] * 11 + [1] * 11})  # a saved file: both positives in 1
    with pytest.raises(ValueError, match=r"fold 0 holds only class \[0\] \(rows per class: \{0: 20, 1: 2\}\): "
                                         r"use at most 2 folds"):
        check_folds(folds, y)


def test_labels_of_one_class_are_a_data_error_not_a_fold_one(tmp_path):
    with pytest.raises(ValueError, match=r"the labels hold only class \[0\] \(22 rows\): ROC-AUC needs both"):
        make_folds(np.arange(22), np.zeros(22, int), n_splits=5)
    with pytest.raises(ValueError, match="ROC-AUC needs both"):
        get_or_make_folds(tmp_path / "folds.csv", np.arange(22), np.ones(22, int))
    assert not (tmp_path / "folds.csv").exists()


def test_a_saved_file_that_splits_a_group_says_how_to_go_on(tmp_path):
    ids, y = _data()
    path = tmp_path / "folds.csv"
    get_or_make_folds(path, ids, y, seed=3)
    before = path.read_bytes()
    groups = np.arange(len(y)) // 10  # duplicates found later (a new hash) join rows of different folds
    with pytest.raises(ValueError, match=rf"fold file {path} does not fit this data: groups split across folds: "
                                         r".*give this data its own runs folder \(--runs-dir DIR\), or move "):
        get_or_make_folds(path, ids, y, groups=groups)
    assert path.read_bytes() == before


def test_saved_file_is_shared_and_checked(tmp_path):
    ids, y = _data()
    path = tmp_path / "folds.csv"
    first = get_or_make_folds(path, ids, y, seed=3)
    # a later model reads the same folds, whatever seed it asks for and in its own id order
    order = np.random.default_rng(0).permutation(len(ids))
    again = get_or_make_folds(path, ids[order], y[order], seed=99)
    assert again["id"].tolist() == ids[order].tolist()
    assert again["fold"].tolist() == first["fold"].to_numpy()[order].tolist()
    with pytest.raises(ValueError, match=r"made for other data: 1 ids without a fold .*its own runs folder"):
        load_folds(path, np.append(ids, "new-id"))


def test_optional_ids_may_lack_a_fold_but_unknown_ids_are_still_named(tmp_path):
    """Unreadable images left out of a run keep the shared fold file valid (Trust issue, item 2)."""
    import pandas as pd

    from common.folds import load_folds

    path = tmp_path / "folds.csv"
    pd.DataFrame({"id": ["a", "b", "c", "d"], "fold": [0, 1, 0, 1]}).to_csv(path, index=False)
    before = path.read_bytes()
    folds = load_folds(path, ["a", "b", "c", "d", "new"], optional=["new"])
    assert folds["id"].tolist() == ["a", "b", "c", "d", "new"] and folds["fold"].tolist() == [0, 1, 0, 1, -1]
    check_folds(folds, [0, 1, 1, 0, 1])  # fold -1 is left out of the checks
    with pytest.raises(ValueError, match=r"1 ids without a fold \(e.g. \['other'\]\)"):
        load_folds(path, ["a", "b", "c", "d", "other"], optional=["new"])
    with pytest.raises(ValueError, match=r"1 unknown ids \(e.g. \['d'\]\)"):
        load_folds(path, ["a", "b", "c"], optional=["d"])
    assert path.read_bytes() == before
    folds = get_or_make_folds(path, ["a", "b", "c", "d", "new"], [0, 1, 1, 0, 1], n_splits=2,
                              optional=["new"])
    assert folds["fold"].tolist()[-1] == -1 and path.read_bytes() == before


def test_a_saved_file_of_another_number_of_folds_is_refused(tmp_path):
    ids, y = _data()
    path = tmp_path / "folds.csv"
    get_or_make_folds(path, ids, y, n_splits=5)
    with pytest.raises(ValueError, match=f"^fold file {path} holds 5 folds but --n-splits is 3: use --n-splits 5, or "
                                         r"give 3 folds their own runs folder \(--runs-dir DIR\)$"):
        get_or_make_folds(path, ids, y, n_splits=3)


def test_the_labels_a_fold_file_was_served_for_are_noted(tmp_path):
    ids, y = _data()
    path = tmp_path / "folds.csv"
    assert labels_served(path) is None
    get_or_make_folds(path, ids, y, n_splits=5)
    made = labels_served(path)
    get_or_make_folds(path, ids[::-1], y[::-1], n_splits=5)  # the same data in another order
    assert labels_served(path) == made
    relabelled = y.copy()
    relabelled[:3] = 1 - relabelled[:3]
    get_or_make_folds(path, ids, relabelled, n_splits=5)
    assert labels_served(path) != made


def test_a_damaged_fold_file_names_itself_and_what_to_do(tmp_path):
    from common.io import DamagedFile

    path = tmp_path / "folds.csv"
    path.write_bytes(b"\xff\xfe\x00i\x00d")  # saved as UTF-16 by a spreadsheet
    with pytest.raises(DamagedFile, match=f"^{path} is damaged \\(not a readable CSV: .*move it away"):
        load_folds(path)
