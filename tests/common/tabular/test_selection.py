"""Feature selection on scikit-learn's breast cancer data with planted pure-noise features, and its
nested CV through the fold driver."""
from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from common.config import parse_config
from common.folds import make_folds
from common.run import Run
from common.tabular.binned import BinnedMatrix
from common.tabular.config import GBDTConfig
from common.tabular.cross_validate import train_cv
from common.tabular.lgbm import dataset_params, lgb_params
from common.tabular.matrix import TabularMatrix
from common.tabular.selection import SelectionOptions, read_selected_features, select, selection_transform

NOISE = [f"noise_{i}" for i in range(20)]
FAST = ["--num-threads", "1", "--learning-rate", "0.2", "--num-leaves", "7", "--min-data-in-leaf", "10",
        "--num-boost-round", "30", "--early-stopping-rounds", "10", "--log-period", "0", "--n-splits", "3"]


def _frame(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    data = load_breast_cancer(as_frame=True)
    x = data.data.rename(columns=lambda c: c.replace(" ", "_"))
    rng = np.random.default_rng(seed)
    for name in NOISE:
        x[name] = rng.normal(size=len(x))
    return x, data.target.to_numpy()


def test_null_importance_logs_its_time_estimate_and_what_it_kept(caplog):
    x, y = _frame()
    opts = SelectionOptions("null-importance", rounds=10, null_runs=2, num_threads=1, progress=False)
    with caplog.at_level("INFO", logger="common.tabular.selection"):
        table = select(x, y, opts)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith(f"null importances of {x.shape[1]} features on {len(x)} rows: 2 shuffled-label "
                               "fits, about ")
    assert lines[-1] == (f"null-importance selection on {len(x)} rows kept {int(table['selected'].sum())} of "
                         f"{x.shape[1]} features")


@pytest.mark.slow
@pytest.mark.parametrize("method", ["null-importance", "permutation", "forward"])
def test_planted_noise_features_are_dropped(method):
    x, y = _frame()
    opts = SelectionOptions(method, rounds=60, null_runs=8, candidates=15, num_threads=1, progress=False)
    table = select(x, y, opts)
    kept = set(table.loc[table["selected"], "feature"])
    assert list(table.columns) == ["feature", "score", "selected"] and set(table["feature"]) == set(x.columns)
    assert kept and len(kept & set(NOISE)) <= 2, sorted(kept & set(NOISE))
    real = [c for c in x.columns if c not in NOISE]
    assert len(kept - set(NOISE)) >= 1 and kept - set(NOISE) <= set(real)


@pytest.mark.parametrize("method", ["null-importance", "permutation"])
def test_a_selection_on_binned_rows_bins_nothing_and_drops_the_noise(method, monkeypatch):
    """Given its rows as a subset of the matrix binned once, the selection trains on it (and its subsets) and
    bins no raw values; the labels it shuffles are put back."""
    x, y = _frame()
    matrix = TabularMatrix(x.assign(row=np.arange(len(x)), label=y), None, list(x.columns), "row", "label")
    rows = np.flatnonzero(np.arange(len(x)) % 4 != 0)  # a fold's training rows
    subset = BinnedMatrix.of(matrix, dataset_params(255, 0, 1)).rows(rows)
    raw, real = [], lgb.Dataset._lazy_init  # the construction from raw values (a subset takes another road)

    def spy(self, data, *args, **kwargs):
        raw.append(data)
        return real(self, data, *args, **kwargs)
    monkeypatch.setattr(lgb.Dataset, "_lazy_init", spy)
    opts = SelectionOptions(method, rounds=60, null_runs=8, num_threads=1, progress=False)
    table = select(x.iloc[rows], y[rows], opts, subset)
    kept = set(table.loc[table["selected"], "feature"])
    assert [d for d in raw if d is not None] == [] and np.array_equal(subset.get_label(), y[rows])
    assert kept - set(NOISE) and len(kept & set(NOISE)) <= 2, sorted(kept & set(NOISE))
    with pytest.raises(ValueError, match="not the 569 x 50 rows"):
        select(x, y, opts, subset)


@pytest.mark.slow
def test_the_nested_cv_of_a_selection_on_noise_does_not_rise(tmp_path):
    """All features noise and a random target: selected on every row first, the chance winners lift the
    CV; selected inside each fold on its training rows only, the CV stays where it is without selection."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(600, 60)), columns=[f"f{i}" for i in range(60)])
    frame["row"], frame["label"] = np.arange(600), rng.integers(0, 2, 600).astype(float)
    folds = make_folds(np.arange(600), frame["label"].astype(int), n_splits=3, seed=0)["fold"].to_numpy()
    opts = SelectionOptions("permutation", rounds=40, num_threads=1, progress=False)
    seen = []

    def cv(name, matrix, transform=None) -> float:
        cfg = parse_config(GBDTConfig, [*FAST, "--name", name])
        run = Run.open("toy", cfg.name, tmp_path)
        run.save_config(cfg)
        return train_cv(run, cfg, matrix, folds, lgb_params(cfg), transform=transform, title=name)

    plain = cv("plain", TabularMatrix.from_frame(frame, "row", "label"))
    nested = cv("nested", TabularMatrix.from_frame(frame, "row", "label"), selection_transform(
        opts, always=["f0"], record=lambda table, x_valid: seen.append((set(x_valid.index), table))))
    leaky = TabularMatrix.from_frame(frame, "row", "label")
    everyone = select(leaky.train[leaky.features], leaky.y, opts)
    leaky.features = everyone.loc[everyone["selected"], "feature"].tolist()
    leaky = cv("leaky", leaky)

    auc = {name: m["oof"]["auc_given"]["auc"] for name, m in (("plain", plain), ("nested", nested), ("leaky", leaky))}
    assert abs(auc["nested"] - auc["plain"]) < 0.03 and auc["leaky"] - auc["nested"] > 0.03, auc
    assert [rows for rows, _ in seen] == [set(np.flatnonzero(folds == k)) for k in range(3)]  # once per fold
    for k, (_, table) in enumerate(seen):  # each fold trains on its own selection, plus the kept "f0"
        assert nested["folds"][str(k)]["n_features"] == len(set(table.loc[table["selected"], "feature"]) | {"f0"})


def test_selected_features_are_read_from_a_run_a_csv_or_a_text_file(tmp_path):
    pd.DataFrame({"feature": ["a", "b", "c"], "score": [3, 2, -1], "selected": [True, True, False]}).to_csv(
        tmp_path / "features.csv", index=False)
    assert read_selected_features(tmp_path) == ["a", "b"]
    (tmp_path / "names.txt").write_text("x\n\ny\n")
    assert read_selected_features(tmp_path / "names.txt") == ["x", "y"]
    with pytest.raises(FileNotFoundError, match="option --features-file: no features.csv in"):
        read_selected_features(tmp_path / "missing")
    pd.DataFrame({"name": ["a"]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match="has no 'feature' column"):
        read_selected_features(tmp_path / "bad.csv")
