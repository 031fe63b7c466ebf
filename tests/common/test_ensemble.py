import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from common.ensemble import (BLENDERS, META_AWARE, HillClimbBlend, LGBStackBlend, MeanBlend, RankMeanBlend,
                             StackBlend, WeightedBlend, align, attach_meta, evaluate_blend, make_blender, nested_oof,
                             rank_normalise)
from common.metrics import roc_auc


def _frames(n=60, k=3, seed=0):
    rng = np.random.default_rng(seed)
    ids = np.arange(1000, 1000 + n)
    oof = pd.DataFrame({"id": ids, "fold": np.arange(n) % k, "target": (rng.random(n) < 0.4).astype(int),
                        "pred": rng.random(n)})
    test = pd.DataFrame({"id": np.arange(5000, 5020), "pred": rng.random(20)})
    return oof, test


def test_align_orders_rows_by_the_first_run():
    a, ta = _frames()
    b = a.sample(frac=1.0, random_state=1).assign(pred=lambda d: d["pred"] * 2)
    tb = ta.sample(frac=1.0, random_state=2).assign(pred=lambda d: d["pred"] + 1)
    al = align({"a": a, "b": b}, {"a": ta, "b": tb})
    assert al.names == ["a", "b"]
    np.testing.assert_array_equal(al.ids, a["id"])
    np.testing.assert_array_equal(al.folds, a["fold"])
    np.testing.assert_array_equal(al.y, a["target"])
    np.testing.assert_allclose(al.oof[:, 1], 2 * al.oof[:, 0])
    np.testing.assert_array_equal(al.test_ids, ta["id"])
    np.testing.assert_allclose(al.test[:, 1], al.test[:, 0] + 1)


def test_align_refuses_missing_and_extra_ids():
    a, _ = _frames()
    b = a.iloc[2:].copy()
    b.loc[b.index[0], "id"] = 77
    with pytest.raises(ValueError, match=r"run 'b' OOF does not cover the same ids as run 'a' OOF: "
                                         r"3 missing \(e.g. \[1000, 1001, 1002\]\), 1 extra \(e.g. \[77\]\)"):
        align({"a": a, "b": b})


def test_align_refuses_other_folds_and_targets():
    a, _ = _frames()
    b = a.copy()
    b.loc[5, "fold"] = (b.loc[5, "fold"] + 1) % 3
    with pytest.raises(ValueError, match=r"run 'b' OOF has another fold than run 'a' OOF for 1 id\(s\), e.g. id 1005"):
        align({"a": a, "b": b})
    c = a.copy()
    c.loc[[3, 9], "target"] = 1 - c.loc[[3, 9], "target"]
    with pytest.raises(ValueError, match=r"run 'c' OOF has another target .* for 2 id\(s\), e.g. id 1003"):
        align({"a": a, "c": c})


def test_align_refuses_bad_frames_and_tests():
    a, ta = _frames()
    with pytest.raises(ValueError, match=r"run 'b' OOF lacks column\(s\) \['fold'\]"):
        align({"a": a, "b": a.drop(columns="fold")})
    with pytest.raises(ValueError, match=r"duplicated id\(s\), e.g. \[1000\]"):
        align({"a": pd.concat([a, a.iloc[:1]])})
    nan = a.copy()
    nan.loc[4, "pred"] = np.nan
    with pytest.raises(ValueError, match=r"run 'n' OOF has 1 NaN/inf prediction\(s\), e.g. ids \[1004\]"):
        align({"a": a, "n": nan})
    with pytest.raises(ValueError, match=r"test predictions missing for run\(s\) \['b'\]"):
        align({"a": a, "b": a}, {"a": ta})
    with pytest.raises(ValueError, match=r"run 'b' test does not cover the same ids"):
        align({"a": a, "b": a}, {"a": ta, "b": ta.iloc[1:]})


def _noisy_columns(n=5000, scales=(3.0, 0.7, 1.5), seed=0):
    """Columns = shared signal + independent noise of different scales; column 1 is the least noisy."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    signal = y + rng.normal(size=n)
    P = np.column_stack([signal + s * rng.normal(size=n) for s in scales])
    folds = rng.permutation(np.arange(n) % 5)
    return P, y, folds


@pytest.mark.parametrize("blender", [WeightedBlend(), HillClimbBlend(n_iter=20)])
def test_weight_search_favours_least_noisy_model_and_beats_mean(blender):
    P, y, folds = _noisy_columns()
    blender.fit(P, y)
    w = blender.weights_
    assert np.all(w >= 0) and abs(w.sum() - 1) < 1e-12
    assert np.argmax(w) == 1 and w[1] > 0.5
    mean_auc = roc_auc(y, RankMeanBlend().fit(P, y).in_sample_)
    assert roc_auc(y, blender.in_sample_) > mean_auc + 0.01
    honest, fold_models = nested_oof(blender, P, y, folds)
    assert roc_auc(y, honest) > mean_auc + 0.01
    # each fold's copy has the blender's parameters, was fitted on the other folds only, and took the ranks
    # computed over all rows as they are
    assert sorted(fold_models) == [0, 1, 2, 3, 4] and all(not m.rank for m in fold_models.values())
    X = rank_normalise(P)
    again = clone(blender).set_params(rank=False).fit(X[folds != 2], y[folds != 2])
    np.testing.assert_array_equal(fold_models[2].weights_, again.weights_)
    np.testing.assert_array_equal(honest[folds == 2], again.predict(X[folds == 2]))


def test_hill_climb_with_one_good_model_keeps_it():
    P, y, _ = _noisy_columns(scales=(5.0, 0.0, 5.0))
    hill = HillClimbBlend(n_iter=10, init_best=1).fit(P, y)
    np.testing.assert_array_equal(hill.weights_, [0, 1, 0])


def test_mean_and_rank_blends():
    P = np.array([[0.1, 10.0], [0.4, 30.0], [0.3, 20.0], [0.9, 40.0]])
    np.testing.assert_allclose(MeanBlend().fit(P, [0, 1, 0, 1]).predict(P), P.mean(axis=1))
    ranks = np.array([[0, 0], [2, 2], [1, 1], [3, 3]]) / 3
    np.testing.assert_allclose(rank_normalise(P), ranks)
    rank = RankMeanBlend().fit(P, [0, 1, 0, 1])
    np.testing.assert_allclose(rank.predict(P), ranks.mean(axis=1))
    # Test rows are ranked among themselves.
    np.testing.assert_allclose(rank.predict(P[:2]), [0.0, 1.0])


def test_stacking_oof_does_not_leak_from_noise():
    rng = np.random.default_rng(1)
    n = 5000
    y = (rng.random(n) < 0.3).astype(int)
    P = rng.random((n, 3))  # pure noise models
    folds = rng.permutation(np.arange(n) % 5)
    honest, _ = nested_oof(StackBlend(), P, y, folds)
    assert abs(roc_auc(y, honest) - 0.5) < 0.05
    assert honest.shape == (n,)


def test_stacking_learns_signal_and_logit_features():
    P, y, folds = _noisy_columns()
    probs = 1 / (1 + np.exp(-P))
    for features, X in (("rank", P), ("logit", probs)):
        stack = StackBlend(features=features).fit(X, y)
        assert np.argmax(stack.weights_) == 1
        assert roc_auc(y, nested_oof(stack, X, y, folds)[0]) > roc_auc(y, RankMeanBlend().fit(X, y).in_sample_)
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]; column\(s\) \[0, 1, 2\]"):
        StackBlend(features="logit").fit(P, y)


def test_every_blender_follows_one_protocol():
    assert set(BLENDERS) == {"mean", "rank", "weighted", "hill", "stack", "lgb_stack"} and META_AWARE == ("lgb_stack",)
    with pytest.raises(ValueError, match=r"unknown blend method 'avg'; choose one of \['hill', 'lgb_stack', 'mean'"):
        make_blender("avg")
    P, y, folds = _noisy_columns(n=2000)
    for method in BLENDERS:
        blender = make_blender(method).fit(P, y, folds)
        nested, fold_models = nested_oof(blender, P, y, folds)
        assert blender.in_sample_.shape == nested.shape == blender.predict(P).shape == (len(y),)
        assert roc_auc(y, nested) > 0.6 and len(fold_models) == 5
        assert clone(blender).get_params() == make_blender(method).get_params()  # hyper-parameters only
        if not blender.takes_meta:
            with pytest.raises(ValueError, match="takes no meta-features"):
                make_blender(method).fit(P, y, meta=np.zeros((len(y), 1)))
    # In-sample weight search is at least as good on its own rows as the honest nested estimate.
    weighted = make_blender("weighted").fit(P, y)
    assert roc_auc(y, weighted.in_sample_) >= roc_auc(y, nested_oof(weighted, P, y, folds)[0]) - 1e-3


def _aligned(n=1500, folds=5, with_test=True):
    P, y, fold = _noisy_columns(n=n)
    fold = fold % folds
    oof = pd.DataFrame({"id": np.arange(n), "fold": fold, "target": y})
    tests = {f"m{j}": pd.DataFrame({"id": np.arange(7), "pred": np.linspace(0, 1, 7) * (j + 1)}) for j in range(3)}
    return align({f"m{j}": oof.assign(pred=P[:, j]) for j in range(3)}, tests if with_test else None)


def test_evaluate_blend_reports_runs_nested_cv_and_the_delong_test():
    from common.ensemble import evaluate_blend

    al = _aligned()
    result = evaluate_blend(al, "weighted")
    report = result.report
    assert [r["name"] for r in report["runs"]] == al.names
    for j, run in enumerate(report["runs"]):
        assert run["auc"] == pytest.approx(roc_auc(al.y, al.oof[:, j])) and run["ci_low"] < run["auc"] < run["ci_high"]
    assert "nested" in report["cv"]["kind"] and "cv_in_sample" in report
    np.testing.assert_allclose(result.oof, nested_oof(make_blender("weighted"), al.oof, al.y, al.folds)[0])
    assert report["cv"]["auc"] == pytest.approx(roc_auc(al.y, result.oof))
    vs = report["vs_best_run"]
    assert vs["best_run"] == "m1" and vs["auc_best"] == pytest.approx(report["runs"][1]["auc"]) and 0 <= vs["p"] <= 1
    assert sum(report["weights"].values()) == pytest.approx(1) and result.test.shape == (7,)
    assert "true_labels" not in report


def test_evaluate_blend_single_fold_single_run_and_true_labels():
    from common.ensemble import evaluate_blend

    one_fold = _aligned(folds=1, with_test=False)
    for method in ("weighted", "hill", "stack"):
        result = evaluate_blend(one_fold, method)  # nothing to nest over: scored where fitted, and said so
        assert result.report["cv"]["kind"].startswith("in-sample") and result.test is None
    al = _aligned()
    assert evaluate_blend(al, "rank").report["cv"]["kind"] == "OOF (nothing fitted)"
    single = align({"m0": pd.DataFrame({"id": al.ids, "fold": al.folds, "target": al.y, "pred": al.oof[:, 0]})})
    result = evaluate_blend(single, "rank")
    assert result.method == "single" and result.report["weights"] == {"m0": 1.0}
    np.testing.assert_array_equal(result.oof, al.oof[:, 0])
    true = al.y.copy()
    true[:50] = 1 - true[:50]
    report = evaluate_blend(al, "mean", true=true).report
    assert report["true_labels"]["vs_best_run"]["best_run"] == report["vs_best_run"]["best_run"]
    assert report["true_labels"]["runs"][0]["auc"] == pytest.approx(roc_auc(true, al.oof[:, 0]))


# -- the blend's CV compares like with like: folds with different offsets ------------------------------
def _offset_runs(second: str, n=3000, k=5, seed=0):
    """One strong run whose folds carry different offsets (as runs trained per fold do), and a second
    column: an exact copy, a near-copy or pure noise with the same offsets."""
    from common.ensemble import Aligned

    rng = np.random.default_rng(seed)
    folds = np.arange(n) % k
    y = (rng.uniform(size=n) < 0.2).astype(int)
    offset = np.array([0.0, 1.5, -1.0, 0.7, -0.4])[folds]
    strong = y * 1.2 + rng.normal(size=n) + offset
    other = {"copy": strong.copy(), "near-copy": strong + rng.normal(0, 0.05, n),
             "noise": rng.normal(size=n) + offset}[second]
    return Aligned(names=["strong", second], ids=np.arange(n), folds=folds, y=y,
                   oof=np.column_stack([strong, other]))


@pytest.mark.parametrize("second", ["copy", "near-copy", "noise"])
@pytest.mark.parametrize("method", ["hill", "weighted", "stack"])
def test_nested_cv_is_not_inflated_by_per_fold_ranking(method, second):
    from common.ensemble import evaluate_blend

    aligned = _offset_runs(second)
    report = evaluate_blend(aligned, method).report
    best = max(r["auc"] for r in report["runs"])
    # before the fix the nested CV of these "blends" was ~0.06 above the best run (per-fold ranks)
    assert report["cv"]["auc"] <= best + 5e-4, (report["cv"]["auc"], best)
    if "cv_in_sample" in report:
        assert report["cv"]["auc"] <= report["cv_in_sample"]["auc"] + 1e-12
    vs = report["vs_best_run"]
    assert vs["auc_blend"] == pytest.approx(report["cv"]["auc"]) and vs["auc_best"] == pytest.approx(best)
    if second in ("copy", "noise") and method != "stack":
        assert vs["p"] > 0.5, vs  # nothing gained: no "significant" gain
    if second == "copy" and method != "stack":  # global ranks: the blend of a run with itself is that run
        assert report["cv"]["auc"] == pytest.approx(best, abs=1e-12) and vs["p"] == pytest.approx(1.0)
    assert vs["auc_blend"] <= vs["auc_best"] + 5e-4 or vs["p"] > 0.05


def test_nested_oof_of_one_run_has_that_runs_auc():
    # (not StackBlend: its slope and intercept are refitted per held-out fold, so its pooled nested OOF
    # is an affine map per fold; it can only lose against the run, see the test above)
    aligned = _offset_runs("copy")
    for blender in (HillClimbBlend(), WeightedBlend(), RankMeanBlend(), MeanBlend()):
        out, _ = nested_oof(blender, aligned.oof[:, :1], aligned.y, aligned.folds)
        assert roc_auc(aligned.y, out) == pytest.approx(roc_auc(aligned.y, aligned.oof[:, 0]), abs=1e-12)


def test_stack_blend_raw_features_are_the_columns_as_given():
    P = np.random.default_rng(0).normal(size=(50, 2))
    assert np.array_equal(StackBlend(features="raw").transform(P), P)


# -- LightGBM stacking with meta-features -----------------------------------------------------------
def _meta_runs(scenario: str, n: int = 3000, seed: int = 0):
    """Two runs over 5 folds and a meta-feature frame.

    ``noise``: run b is run a plus noise (nothing to gain from blending), meta-features are pure noise.
    ``interaction``: a flag m decides which run is informative (a on m=0 rows, b on m=1 rows): only a
    model that splits on m can use the right run on each row.
    """
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    s = 2.0 * y - 1
    if scenario == "noise":
        a = s + rng.normal(0, 1.5, n)
        b = a + rng.normal(0, 1.5, n)
        meta = {"noise": rng.normal(size=n), "coin": rng.integers(0, 2, n)}
    else:
        m = (rng.random(n) < 0.5).astype(int)
        a = s + np.where(m == 1, rng.normal(0, 4, n), rng.normal(0, 1.2, n))
        b = s + np.where(m == 0, rng.normal(0, 4, n), rng.normal(0, 1.2, n))
        meta = {"m": m}
    ids = np.arange(n)
    oof = pd.DataFrame({"id": ids, "fold": ids % 5, "target": y})
    test_ids = np.arange(10_000, 10_200)
    tests = {name: pd.DataFrame({"id": test_ids, "pred": rng.normal(size=len(test_ids))}) for name in "ab"}
    al = align({"a": oof.assign(pred=a), "b": oof.assign(pred=b)}, tests)
    frame = pd.DataFrame({"id": np.concatenate([ids, test_ids]),
                          **{k: np.concatenate([v, rng.integers(0, 2, len(test_ids))]) for k, v in meta.items()}})
    return al, frame


@pytest.mark.slow
def test_lgb_stack_is_a_valid_deterministic_blend():
    al, meta = _meta_runs("interaction", n=1500)
    al = attach_meta(al, meta)
    first, second = evaluate_blend(al, "lgb_stack"), evaluate_blend(al, "lgb_stack")
    np.testing.assert_array_equal(first.oof, second.oof)
    np.testing.assert_array_equal(first.test, second.test)
    assert first.report == second.report
    assert first.test.shape == (200,) and np.isfinite(first.test).all()
    assert first.report["method"] == "lgb_stack" and first.report["cv"]["kind"] == "nested OOF of the stacker"
    assert set(first.report["weights"]) == {"a", "b"}
    assert 0 <= sum(first.report["weights"].values()) <= 1 + 1e-9
    assert first.report["meta_features"]["columns"] == ["m"]
    assert first.report["meta_model"]["rounds"] >= 1 and len(first.report["meta_model"]["fold_rounds"]) == 5
    # the scikit-learn protocol: clone, fit, predict; meta-features are required once fitted with them
    blender = clone(make_blender("lgb_stack", n_rounds=30, inner_cv=False))
    blender.fit(al.oof, al.y, meta=al.meta)
    assert blender.predict(al.test, meta=al.meta_test).shape == (200,)
    with pytest.raises(ValueError, match=r"fitted with 1 meta-feature\(s\); pass meta="):
        blender.predict(al.test)
    # without meta-features it stacks the runs alone
    oof, fold_models = nested_oof(make_blender("lgb_stack"), al.oof, al.y, al.folds)
    assert oof.shape == (1500,) and roc_auc(al.y, oof) > 0.6
    assert first.report["meta_model"]["fold_rounds"] == {k: m.rounds_ for k, m in
                                                         nested_oof(make_blender("lgb_stack"), al.oof, al.y, al.folds,
                                                                    al.meta)[1].items()}


@pytest.mark.slow
def test_lgb_stack_oof_of_a_fold_never_sees_that_folds_labels():
    """Honest nesting: relabelling the rows of fold 0 changes nothing in fold 0's OOF scores."""
    al, meta = _meta_runs("interaction", n=1200, seed=3)
    al = attach_meta(al, meta)
    y2 = al.y.copy()
    held = al.folds == 0
    y2[held] = np.random.default_rng(1).permutation(y2[held])
    for inner_cv in (True, False):
        one, _ = nested_oof(LGBStackBlend(inner_cv=inner_cv), al.oof, al.y, al.folds, al.meta)
        two, _ = nested_oof(LGBStackBlend(inner_cv=inner_cv), al.oof, y2, al.folds, al.meta)
        np.testing.assert_array_equal(one[held], two[held])
        assert not np.array_equal(one[~held], two[~held])


@pytest.mark.parametrize("seed", [0, 1])
def test_lgb_stack_noise_meta_features_do_not_raise_the_cv(seed):
    al, meta = _meta_runs("noise", seed=seed)
    report = evaluate_blend(attach_meta(al, meta), "lgb_stack").report
    vs = report["vs_best_run"]
    assert vs["best_run"] == "a"
    # nested CV of a blend with nothing to gain stays at the best run's AUC, up to noise
    assert report["cv"]["auc"] < vs["auc_best"] + 0.005
    assert report["cv"]["auc"] > vs["auc_best"] - 0.01


@pytest.mark.slow
def test_lgb_stack_meta_feature_with_a_planted_interaction_lifts_the_cv():
    al, meta = _meta_runs("interaction")
    with_meta = evaluate_blend(attach_meta(al, meta), "lgb_stack").report
    without = evaluate_blend(al, "lgb_stack").report
    linear = evaluate_blend(al, "stack").report
    best = with_meta["vs_best_run"]["auc_best"]
    assert with_meta["cv"]["auc"] > best + 0.08
    assert with_meta["cv"]["auc"] > without["cv"]["auc"] + 0.03
    assert with_meta["cv"]["auc"] > linear["cv"]["auc"] + 0.03
    assert with_meta["vs_best_run"]["p"] < 1e-6
    assert with_meta["meta_features"]["importance"]["m"] > 0.2


def test_attach_meta_names_missing_ids_and_bad_columns():
    al, meta = _meta_runs("noise", n=200)
    with pytest.raises(ValueError, match=r"meta-features lacks 2 of the 200 OOF \(train\) ids, e.g. \['0', '1'\]"):
        attach_meta(al, meta.iloc[2:])
    with pytest.raises(ValueError, match=r"lacks 1 of the 200 test ids, e.g. \['10199'\]"):
        attach_meta(al, meta.iloc[:-1])
    with pytest.raises(ValueError, match=r"lacks the column 'id'"):
        attach_meta(al, meta.rename(columns={"id": "key"}))
    with pytest.raises(ValueError, match=r"no feature columns besides 'id'"):
        attach_meta(al, meta[["id"]])
    with pytest.raises(ValueError, match=r"non-numeric column\(s\) \['kind'\]"):
        attach_meta(al, meta.assign(kind="x"))
    with pytest.raises(ValueError, match=r"duplicated id"):
        attach_meta(al, pd.concat([meta, meta.iloc[:1]]))
    # ids read as text match integer run ids; extra rows are fine
    attached = attach_meta(al, pd.concat([meta, meta.assign(id=meta["id"] + 10**6)]).astype({"id": str}))
    assert attached.meta.shape == (200, 2) and attached.meta_test.shape == (200, 2)
    with pytest.raises(ValueError, match=r"used by method\(s\) \['lgb_stack'\] only, not 'rank'"):
        evaluate_blend(attached, "rank")


def test_rank_within_folds_puts_every_fold_on_one_scale_and_one_run_takes_a_column():
    from dataclasses import replace

    from common.ensemble import Aligned, one_run, rank_within_folds

    rng = np.random.default_rng(0)
    n = 600
    y, folds = (np.arange(n) % 4 == 0).astype(int), np.arange(n) % 3
    raw = folds * 5.0 + y + rng.normal(0, 0.7, n)  # each fold scored on its own offset
    aligned = Aligned(["a", "b"], np.arange(n), folds, y, np.column_stack([raw, -raw]),
                      np.arange(50), rng.normal(size=(50, 2)))
    ranked = rank_within_folds(aligned)
    fold_aucs = [roc_auc(y[folds == k], raw[folds == k]) for k in range(3)]
    assert roc_auc(y, raw) < min(fold_aucs)
    assert roc_auc(y, ranked.oof[:, 0]) == pytest.approx(np.mean(fold_aucs), abs=0.01)
    for k in range(3):
        assert ranked.oof[folds == k].min() == 0 and ranked.oof[folds == k].max() == 1
    np.testing.assert_allclose(ranked.test, rank_normalise(aligned.test))
    alone = one_run(replace(aligned, meta_names=("m",), meta=np.ones((n, 1))), "b")
    assert alone.names == ["b"] and alone.meta is None
    np.testing.assert_array_equal(alone.oof[:, 0], -raw)
