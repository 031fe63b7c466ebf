import numpy as np
import pandas as pd
import pytest

from common.folds import as_splitter, check_folds, get_or_make_folds, load_folds, make_folds


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


def test_fold_without_a_class_is_refused():
    y = np.array([0] * 20 + [1] * 2)
    with pytest.raises(ValueError, match="holds only class"):
        make_folds(np.arange(22), y, n_splits=5)


def test_saved_file_is_shared_and_checked(tmp_path):
    ids, y = _data()
    path = tmp_path / "folds.csv"
    first = get_or_make_folds(path, ids, y, seed=3)
    # a later model reads the same folds, whatever seed it asks for and in its own id order
    order = np.random.default_rng(0).permutation(len(ids))
    again = get_or_make_folds(path, ids[order], y[order], seed=99)
    assert again["id"].tolist() == ids[order].tolist()
    assert again["fold"].tolist() == first["fold"].to_numpy()[order].tolist()
    with pytest.raises(ValueError, match=r"made for other data: 1 ids without a fold"):
        load_folds(path, np.append(ids, "new-id"))


def test_as_splitter_yields_saved_folds():
    ids, y = _data(100)
    folds = make_folds(ids, y, n_splits=4)
    splits = list(as_splitter(folds).split())
    assert len(splits) == 4
    for k, (_, valid) in enumerate(splits):
        assert set(valid) == set(np.flatnonzero(folds["fold"].to_numpy() == k))


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
