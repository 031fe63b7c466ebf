import numpy as np
import pytest
from scipy.stats import norm, rankdata
from sklearn.metrics import roc_auc_score

from common.metrics import (auc_ci, auc_summary, bootstrap_auc_ci, bootstrap_aucs, bootstrap_roc_band,
                            delong_auc_variance, delong_test, midranks, roc_auc, roc_curve_points)


def _case(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random binary labels and scores; every 4th kind is continuous, others heavily tied."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(10, 10_001))
    y = (rng.random(n) < rng.uniform(0.05, 0.95)).astype(int)
    y[:2] = [0, 1]  # both classes present
    s = rng.normal(size=n) + y * rng.uniform(0, 2)
    kind = seed % 4
    if kind == 1:
        s = np.round(s, 1)  # many ties
    elif kind == 2:
        s = (s > 0.5).astype(float)  # binary scores
    elif kind == 3:
        s = rng.integers(0, 4, n).astype(float)  # 4 levels, independent of y
    return y, s


@pytest.mark.parametrize("seed", range(200))
def test_roc_auc_equals_sklearn_with_ties(seed):
    y, s = _case(seed)
    assert abs(roc_auc(y, s) - roc_auc_score(y, s)) < 1e-12


def test_roc_auc_accepts_bool_and_float_targets():
    y, s = _case(1)
    expected = roc_auc_score(y, s)
    assert abs(roc_auc(y.astype(bool), s) - expected) < 1e-12
    assert abs(roc_auc(y.astype(float), s) - expected) < 1e-12


def test_roc_auc_extremes():
    y = np.array([0, 0, 1, 1])
    assert roc_auc(y, [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert roc_auc(y, [0.4, 0.3, 0.2, 0.1]) == 0.0
    assert roc_auc(y, [1, 1, 1, 1]) == 0.5
    assert roc_auc(y, [0.1, 0.3, 0.3, 0.4]) == 0.875  # one tied pair counts half


@pytest.mark.parametrize("shape", [(50,), (50, 3)])
def test_midranks_equal_scipy_average_ranks(shape):
    rng = np.random.default_rng(0)
    a = np.round(rng.normal(size=shape), 1)
    np.testing.assert_array_equal(midranks(a), rankdata(a, axis=0))


@pytest.mark.parametrize("bad,message", [
    (dict(y=[1, 1, 1], s=[0.1, 0.2, 0.3]), "only one class"),
    (dict(y=[0, 0, 0], s=[0.1, 0.2, 0.3]), "only one class"),
    (dict(y=[0, 1, 2], s=[0.1, 0.2, 0.3]), "only 0 and 1"),
    (dict(y=[0, 1, 0.5], s=[0.1, 0.2, 0.3]), "only 0 and 1"),
    (dict(y=["a", "b", "a"], s=[0.1, 0.2, 0.3]), "0/1"),
    (dict(y=[0, 1, 1], s=[0.1, np.nan, 0.3]), "NaN/inf, e.g. rows \\[1\\]"),
    (dict(y=[0, 1, 1], s=[0.1, np.inf, 0.3]), "NaN/inf"),
    (dict(y=[0, 1, 1], s=[0.1, 0.2]), "2 rows but y_true has 3"),
    (dict(y=[[0, 1]], s=[[0.1, 0.2]]), "1-D"),
])
@pytest.mark.parametrize("fn", [roc_auc, auc_ci, bootstrap_auc_ci, delong_auc_variance])
def test_bad_inputs_raise_clear_errors(fn, bad, message):
    with pytest.raises(ValueError, match=message):
        fn(bad["y"], bad["s"])


def test_delong_test_checks_both_scores():
    with pytest.raises(ValueError, match="score_b has 2 rows"):
        delong_test([0, 1, 1], [0.1, 0.2, 0.3], [0.1, 0.2])


@pytest.mark.slow
def test_delong_se_agrees_with_bootstrap_se():
    rng = np.random.default_rng(7)
    n = 30_000
    y = rng.random(n) < 0.2
    s = rng.normal(size=n) + 1.0 * y
    s = np.round(s, 2)  # ties too
    auc, se, lo, hi = auc_ci(y, s)
    assert auc == roc_auc(y, s)
    assert lo < auc < hi and abs((hi - lo) / 2 - norm.ppf(0.975) * se) < 1e-12
    _, boot_se, boot_lo, boot_hi = bootstrap_auc_ci(y, s, n_boot=2000, seed=3)
    assert abs(boot_se / se - 1) < 0.07
    assert abs(boot_lo - lo) < 0.3 * (hi - lo) and abs(boot_hi - hi) < 0.3 * (hi - lo)
    _, strat_se, _, _ = bootstrap_auc_ci(y, s, n_boot=2000, stratified=True, seed=4)
    assert abs(strat_se / se - 1) < 0.07


def test_bootstrap_aucs_equal_auc_of_explicit_resamples():
    rng = np.random.default_rng(11)
    n = 300
    y = rng.random(n) < 0.3
    s = np.round(rng.normal(size=n) + y, 1)
    for stratified in (False, True):
        aucs = bootstrap_aucs(y, s, n_boot=20, stratified=stratified, seed=5)
        # Replay the same draws: rows ordered as negatives sorted by score, then positives sorted.
        neg_rows = np.flatnonzero(~y)[np.argsort(s[~y], kind="stable")]
        pos_rows = np.flatnonzero(y)[np.argsort(s[y], kind="stable")]
        rows = np.r_[neg_rows, pos_rows]
        replay = np.random.default_rng(5)
        for b in range(20):
            if stratified:
                take = np.r_[neg_rows[replay.integers(0, neg_rows.size, neg_rows.size, dtype=np.int32)],
                             pos_rows[replay.integers(0, pos_rows.size, pos_rows.size, dtype=np.int32)]]
            else:
                take = rows[replay.integers(0, n, n, dtype=np.int32)]
            assert abs(aucs[b] - roc_auc_score(y[take], s[take])) < 1e-12


def test_bootstrap_is_reproducible_and_seed_dependent():
    y, s = _case(5)
    assert bootstrap_auc_ci(y, s, 200, seed=1) == bootstrap_auc_ci(y, s, 200, seed=1)
    assert bootstrap_auc_ci(y, s, 200, seed=1) != bootstrap_auc_ci(y, s, 200, seed=2)


def test_delong_test_identical_and_different_models():
    rng = np.random.default_rng(2)
    n = 5000
    y = rng.random(n) < 0.3
    signal = rng.normal(size=n) + y
    a, b, z, p = delong_test(y, signal, signal)
    assert a == b and z == 0.0 and p == 1.0
    # Two equally good models with independent noise: no significant difference (fixed seed).
    a, b, z, p = delong_test(y, signal + rng.normal(size=n), signal + rng.normal(size=n))
    assert p > 0.05
    a, b, z, p = delong_test(y, signal, signal + 2 * rng.normal(size=n))
    assert a > b and z > 5 and p < 1e-8


def test_delong_test_p_values_roughly_uniform_under_null():
    rng = np.random.default_rng(3)
    ps = []
    for _ in range(200):
        n = 400
        y = rng.random(n) < 0.4
        base = rng.normal(size=n) + y
        ps.append(delong_test(y, base + rng.normal(size=n), base + rng.normal(size=n))[3])
    ps = np.array(ps)
    assert 0.02 <= np.mean(ps < 0.05) <= 0.10
    assert 0.4 < np.mean(ps) < 0.6


def test_auc_summary_fields():
    y, s = _case(0)
    summary = auc_summary(y, s)
    assert set(summary) == {"auc", "se", "ci_low", "ci_high", "n", "n_pos"}
    assert summary["n"] == len(y) and summary["n_pos"] == int(y.sum())
    assert summary["ci_low"] < summary["auc"] < summary["ci_high"]


def test_roc_curve_points_trapezoid_area_equals_auc():
    y, s = _case(1)
    fpr, tpr = roc_curve_points(y, s)
    assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1
    assert abs(np.trapezoid(tpr, fpr) - roc_auc(y, s)) < 1e-12


def test_bootstrap_roc_band_brackets_the_curve():
    rng = np.random.default_rng(4)
    y = rng.random(2000) < 0.3
    s = rng.normal(size=2000) + y
    grid = np.linspace(0, 1, 51)
    lo, hi = bootstrap_roc_band(y, s, grid, n_boot=200)
    fpr, tpr = roc_curve_points(y, s)
    curve = np.interp(grid, fpr, tpr)
    assert np.all(lo <= hi)
    assert np.mean((lo <= curve + 1e-9) & (curve <= hi + 1e-9)) > 0.9
    assert 0.01 < np.mean(hi - lo) < 0.2


def test_bootstrap_skips_one_class_resamples_on_tiny_data():
    y = np.array([0, 0, 0, 0, 0, 1])
    s = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.45])
    aucs = bootstrap_aucs(y, s, n_boot=300, seed=0)
    drawn_no_positive = np.isnan(aucs)
    assert 0.2 < drawn_no_positive.mean() < 0.5  # (5/6)^6 = 0.33 of resamples miss the positive
    auc, se, lo, hi = bootstrap_auc_ci(y, s, n_boot=300, seed=0)
    assert auc == 0.8 and se > 0 and 0 <= lo <= hi <= 1
    assert not np.isnan(bootstrap_aucs(y, s, n_boot=300, stratified=True, seed=0)).any()
