import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score

from common.cli import run_cli
from common.run import Run
from submissions.blend import into_range, main, make_submission
from submissions.store import sidecar_path
from tests.submissions.synthetic import N_FOLDS, N_TRAIN, submission_ids, write_run, write_sample


def _exit_status(args):
    """The command line's exit status: 0, or 2 with the error on one line (common.cli.run_cli)."""
    try:
        return run_cli(main, args)
    except SystemExit as exit_info:
        return exit_info.code


def _blend(setup, runs, method="rank"):
    return make_submission("nexperia", runs, method, data_dir=setup["data"], runs_dir=setup["runs_dir"],
                           files_root=setup["files"])


def _oof(run_dir):
    return pd.read_csv(run_dir / "oof.csv", dtype={"id": str})


def test_rank_blend_writes_submission_in_sample_order_with_cv_report(nexperia_setup):
    setup = nexperia_setup
    path, meta = _blend(setup, ["model0", "model1", "model2"], "rank")
    assert path.parent == setup["files"] / "nexperia"
    content = path.read_bytes()
    assert path.name.startswith("nexperia-") and path.stem.endswith(hashlib.sha256(content).hexdigest()[:10])
    sub = pd.read_csv(path, dtype={"id": str})
    sample = pd.read_csv(setup["data"] / "submission_sample.csv", dtype={"id": str})
    assert list(sub.columns) == ["id", "defect_score"]
    assert sub["id"].tolist() == sample["id"].tolist()

    # every run's CV, recomputed here with scikit-learn from the run's own oof.csv
    oofs = [_oof(r) for r in setup["runs"]]
    for run_meta, oof in zip(meta["runs"], oofs):
        assert run_meta["auc"] == pytest.approx(roc_auc_score(oof["target"], oof["pred"]), abs=1e-12)
        assert run_meta["ci_low"] < run_meta["auc"] < run_meta["ci_high"]
    # the rank blend: mean of the rank-normalised OOF columns, aligned by id
    by_id = [o.set_index("id").loc[oofs[0]["id"]] for o in oofs]
    ranks = np.mean([(rankdata(o["pred"]) - 1) / (len(o) - 1) for o in by_id], axis=0)
    assert meta["cv"]["auc"] == pytest.approx(roc_auc_score(oofs[0]["target"], ranks), abs=1e-12)
    # test scores: mean of the rank-normalised test columns, in the sample's order
    tests = [pd.read_csv(r / "test.csv", dtype={"id": str}).set_index("id").loc[sample["id"]] for r in setup["runs"]]
    expected = np.mean([(rankdata(t["pred"]) - 1) / (len(t) - 1) for t in tests], axis=0)
    np.testing.assert_allclose(sub["defect_score"], expected, atol=1e-12)

    assert meta["vs_best_run"]["best_run"] == "model0"  # the least noisy run
    assert 0 <= meta["vs_best_run"]["p"] <= 1
    assert json.loads(sidecar_path(path).read_text()) == json.loads(json.dumps(meta))
    assert path.with_suffix(".roc.png").stat().st_size > 1000


def test_weighted_blend_reports_nested_cv_and_weights(nexperia_setup):
    path, meta = _blend(nexperia_setup, ["model0", "model1", "model2"], "weighted")
    weights = [r["weight"] for r in meta["runs"]]
    assert sum(weights) == pytest.approx(1.0) and all(w >= 0 for w in weights)
    assert "nested" in meta["cv"]["kind"]
    assert "cv_in_sample" in meta
    assert meta["weights"] == {r["name"]: r["weight"] for r in meta["runs"]}


def test_stack_log_odds_are_moved_into_the_score_range(nexperia_setup):
    path, meta = _blend(nexperia_setup, ["model0", "model1"], "stack")
    sub = pd.read_csv(path)
    assert meta["score_transform"] == "min-max"
    assert sub["defect_score"].min() == 0 and sub["defect_score"].max() == 1


def test_into_range_keeps_the_order_and_leaves_scores_in_range_alone():
    raw = np.random.default_rng(0).normal(0, 3, 500)
    moved, how = into_range(raw, 0.0, 1.0)
    assert how == "min-max" and moved.min() == 0.0 and moved.max() == 1.0
    np.testing.assert_array_equal(rankdata(moved), rankdata(raw))
    inside = np.linspace(0.1, 0.9, 5)
    assert into_range(inside, 0.0, 1.0) == (inside, "none")


def test_single_run_submission_is_the_run_test_predictions(nexperia_setup):
    setup = nexperia_setup
    path, meta = _blend(setup, [str(setup["runs"][1])])
    assert meta["method"] == "single" and meta["runs"][0]["weight"] == 1.0
    sub = pd.read_csv(path, dtype={"id": str}).set_index("id")
    test = pd.read_csv(setup["runs"][1] / "test.csv", dtype={"id": str}).set_index("id")
    np.testing.assert_array_equal(sub["defect_score"].to_numpy(), test["pred"].loc[sub.index].to_numpy())


def test_home_credit_integer_ids_are_written_as_in_the_sample(tmp_path):
    runs_dir, data = tmp_path / "runs", tmp_path / "data"
    for i in range(2):
        write_run(runs_dir, "home_credit", f"lgb{i}", 1.0 + i, seed=i)
    write_sample(data, "home_credit")
    path, meta = make_submission("home_credit", ["lgb0", "lgb1"], "hill", data, runs_dir, tmp_path / "files")
    lines = path.read_text().splitlines()
    assert lines[0] == "SK_ID_CURR,TARGET"
    assert [line.split(",")[0] for line in lines[1:]] == [str(i) for i in submission_ids("home_credit")]
    assert meta["cv"]["auc"] > 0.5


def test_run_with_other_folds_is_refused(nexperia_setup):
    setup = nexperia_setup
    other = np.roll(np.arange(N_TRAIN) % N_FOLDS, 1)
    write_run(setup["runs_dir"], "nexperia", "otherfolds", 1.0, seed=9, folds=other)
    with pytest.raises(ValueError, match=r"'otherfolds'.*another fold"):
        _blend(setup, ["model0", "otherfolds"])
    assert not setup["files"].exists()


def test_run_predicting_other_test_ids_is_refused(nexperia_setup, capsys):
    setup = nexperia_setup
    ids = submission_ids("nexperia")
    write_run(setup["runs_dir"], "nexperia", "wrongids", 1.0, seed=9, test=ids[:-1] + ["INTRUDER"])
    args = ["--competition", "nexperia", "--runs", "model0", "wrongids", "--data", str(setup["data"]),
            "--runs-dir", str(setup["runs_dir"]), "--files-root", str(setup["files"])]
    assert _exit_status(args) == 2
    err = capsys.readouterr().err
    assert "'wrongids' test.csv" in err and "INTRUDER" in err and ids[-1] in err
    assert not setup["files"].exists()


def test_unknown_run_and_missing_sample_are_named(nexperia_setup, tmp_path):
    with pytest.raises(FileNotFoundError, match="nosuchrun"):
        _blend(nexperia_setup, ["model0", "nosuchrun"])
    with pytest.raises(FileNotFoundError, match="submission_sample.csv"):
        make_submission("nexperia", ["model0"], "rank", tmp_path / "nodata", nexperia_setup["runs_dir"],
                        tmp_path / "files")


def test_cli_prints_the_table_and_where_files_are(nexperia_setup, capsys):
    setup = nexperia_setup
    args = ["--competition", "nexperia", "--runs", "model0", "model1", "--method", "hill",
            "--data", str(setup["data"]), "--runs-dir", str(setup["runs_dir"]),
            "--files-root", str(setup["files"])]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "BLEND (hill)" in out and "paired DeLong" in out and "submission: " in out
    written = sorted((setup["files"] / "nexperia").glob("*.csv"))
    assert len(written) == 1 and str(written[0]) in out


def _harmful_run(runs_dir, name="harmful", seed=7):
    """A run that helps on folds 0 and 1 and is strongly wrong on fold 2: hill climbing fitted on folds {0, 1}
    takes it, so the nested OOF of fold 2 (hence the blend's CV) is much worse than the good run alone."""
    from tests.submissions.synthetic import train_ids

    rng = np.random.default_rng(seed)
    ids = np.asarray(train_ids("nexperia"), dtype=object)
    y = (np.arange(len(ids)) % 10 < 3).astype(int)
    folds = np.arange(len(ids)) % N_FOLDS
    run = Run.open("nexperia", name, runs_dir)
    for k, sign in enumerate([1.5, 1.5, -4.0]):
        rows = folds == k
        score = sign * (y[rows] * 2 - 1) + rng.normal(0, 1, rows.sum())
        oof = pd.DataFrame({"id": ids[rows], "target": y[rows], "pred": 1 / (1 + np.exp(-score))})
        run.save_fold_predictions(k, oof, pd.DataFrame({"id": submission_ids("nexperia"),
                                                        "pred": rng.uniform(0, 1, 120)}))
    return run.root


@pytest.mark.parametrize("method, planted", [("hill", "harmful"), ("rank", "noise")])
def test_a_blend_worse_than_its_best_run_is_not_the_result(nexperia_setup, capsys, method, planted):
    """Whatever the method, a blend significantly worse than its best run (paired DeLong, alpha 0.05) is kept for
    reference only: the best run alone is the result, written last, the file submit --latest sends."""
    from submissions.store import latest_submission
    setup = nexperia_setup
    if planted == "harmful":
        _harmful_run(setup["runs_dir"])
    else:
        write_run(setup["runs_dir"], "nexperia", "noise", 20.0, seed=7)  # AUC about 0.5
    args = ["--competition", "nexperia", "--runs", "model0", planted, "--method", method, "--data", str(setup["data"]),
            "--runs-dir", str(setup["runs_dir"]), "--files-root", str(setup["files"])]
    assert main(args) == 0
    out = capsys.readouterr().out
    folder = setup["files"] / "nexperia"
    records = {p.name: json.loads(p.read_text()) for p in folder.glob("*.json")}
    assert len(records) == 2
    (ref_name, blend), = [(n, m) for n, m in records.items() if n.startswith("rejected-blend-nexperia-")]
    (_, result), = [(n, m) for n, m in records.items() if n != ref_name]
    assert blend["method"] == method and blend["rejected"]["result"] == result["file"]
    vs = blend["vs_best_run"]
    assert vs["best_run"] == "model0" and vs["p"] < 0.05 and vs["auc_blend"] < vs["auc_best"]
    assert result["method"] == "single" and [r["name"] for r in result["runs"]] == ["model0"]
    assert result["rejected_blend"]["file"] == blend["file"] and result["rejected_blend"]["cv"] == blend["cv"]
    assert result["rejected_blend"]["vs_best_run"]["p"] == vs["p"]
    # the result is model0's own test predictions; the newest file, the one --latest sends
    latest = latest_submission("nexperia", setup["files"], setup["data"])[0]
    assert latest.name == result["file"]
    sub = pd.read_csv(latest, dtype={"id": str}).set_index("id")
    test = pd.read_csv(setup["runs"][0] / "test.csv", dtype={"id": str}).set_index("id")
    np.testing.assert_array_equal(sub["defect_score"].to_numpy(), test["pred"].loc[sub.index].to_numpy())
    assert (folder / blend["file"]).is_file() and (folder / blend["file"]).with_suffix(".roc.png").is_file()
    assert f"WARNING: this {method} blend is worse than its best run 'model0'" in out
    assert f"submission: {latest}" in out and str(folder / blend["file"]) in out


def test_a_blend_not_worse_than_its_best_run_is_the_result_as_before(nexperia_setup):
    setup = nexperia_setup
    path, meta = _blend(setup, ["model0", "model1"], "hill")
    assert meta["method"] == "hill" and "rejected_blend" not in meta
    assert sorted(p.name for p in path.parent.glob("*.csv")) == [path.name]


def _shifted_run(runs_dir, name, seed=0):
    """A run whose fold models score on scales of their own (fold k's scores shifted by k and scaled): each fold
    ranks well, the pooled raw scores mix the scales."""
    from tests.submissions.synthetic import train_ids

    rng = np.random.default_rng(seed)
    ids = np.asarray(train_ids("nexperia"), dtype=object)
    y = (np.arange(len(ids)) % 10 < 3).astype(int)
    folds = np.arange(len(ids)) % N_FOLDS
    run = Run.open("nexperia", name, runs_dir)
    fold_aucs = []
    for k, (shift, scale) in enumerate([(-3.0, 1.0), (0.0, 0.3), (3.0, 2.0)]):
        rows = folds == k
        score = shift + scale * (y[rows] * 2 + rng.normal(0, 1, rows.sum()))
        fold_aucs.append(roc_auc_score(y[rows], score))
        oof = pd.DataFrame({"id": ids[rows], "target": y[rows], "pred": 1 / (1 + np.exp(-score))})
        run.save_fold_predictions(k, oof, pd.DataFrame({"id": submission_ids("nexperia"),
                                                        "pred": rng.uniform(0, 1, 120)}))
    return run.root, float(np.mean(fold_aucs))


def test_pool_ranks_lifts_the_pooled_auc_of_runs_with_per_fold_scales_to_the_mean_fold_auc(nexperia_setup):
    setup = nexperia_setup
    _, mean_a = _shifted_run(setup["runs_dir"], "xgb_a", seed=1)
    _, mean_b = _shifted_run(setup["runs_dir"], "xgb_b", seed=2)
    _, raw = _blend(setup, ["xgb_a", "xgb_b"], "rank")
    path, pooled = make_submission("nexperia", ["xgb_a", "xgb_b"], "rank", setup["data"], setup["runs_dir"],
                                   setup["files"], pool_ranks=True)
    assert raw["runs"][0]["auc"] < mean_a - 0.05  # raw pooling: below the folds
    assert [r["auc"] for r in pooled["runs"]] == [pytest.approx(mean_a, abs=0.01), pytest.approx(mean_b, abs=0.01)]
    assert pooled["cv"]["auc"] > raw["cv"]["auc"] + 0.05 and "within each fold" in pooled["pooling"]
    # test scores ranked over the test rows alike: the rank blend of two [0, 1] ranks, in the sample's order
    sub = pd.read_csv(path, dtype={"id": str})
    tests = [pd.read_csv(setup["runs_dir"] / "nexperia" / n / "test.csv", dtype={"id": str}).set_index("id")
             .loc[sub["id"]] for n in ("xgb_a", "xgb_b")]
    expected = np.mean([(rankdata(t["pred"]) - 1) / (len(t) - 1) for t in tests], axis=0)
    np.testing.assert_allclose(sub["defect_score"], expected, atol=1e-12)


def test_files_follow_the_runs_folder_unless_a_files_root_is_given(nexperia_setup, monkeypatch, tmp_path, capsys):
    """Two data sets' runs in two runs folders keep their submissions apart (beside each runs folder); the paths
    printed are absolute; $KIT_SUBMISSIONS_ROOT and --files-root still win; the default place is unchanged."""
    from submissions.store import default_files_root, latest_submission
    setup = nexperia_setup
    monkeypatch.delenv("KIT_SUBMISSIONS_ROOT", raising=False)
    monkeypatch.delenv("KIT_RUNS_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_files_root() == Path("submissions") / "files"
    args = ["--competition", "nexperia", "--runs", "model0", "model1", "--data", str(setup["data"]),
            "--runs-dir", str(setup["runs_dir"])]
    assert main(args) == 0
    beside = setup["runs_dir"].parent / "submissions" / "files" / "nexperia"
    (written,) = beside.glob("nexperia-*.csv")
    assert f"submission: {written}" in capsys.readouterr().out and written.is_absolute()
    monkeypatch.setenv("KIT_RUNS_ROOT", str(setup["runs_dir"]))
    assert default_files_root() == beside.parent
    assert latest_submission("nexperia", None, setup["data"])[0] == written
    monkeypatch.setenv("KIT_SUBMISSIONS_ROOT", str(tmp_path / "elsewhere"))
    assert default_files_root() == tmp_path / "elsewhere" / "files"
    assert default_files_root(setup["runs_dir"]) == tmp_path / "elsewhere" / "files"
    main([*args, "--files-root", "relative"])
    assert len(list((tmp_path / "relative" / "nexperia").glob("*.csv"))) == 1
    assert f"submission: {tmp_path / 'relative' / 'nexperia'}" in capsys.readouterr().out


# -- partial runs, BOM ---------------------------------------------------------------------------
def _partial_run(runs_dir, name, done_folds, seed=0):
    """A nexperia run trained through the fold driver on ``done_folds`` of 3 folds only."""
    from common.cv import FoldResult, run_folds
    from tests.submissions.synthetic import N_FOLDS, submission_ids, train_ids

    rng = np.random.default_rng(seed)
    ids = np.asarray(train_ids("nexperia"), dtype=object)
    y = (np.arange(len(ids)) % 10 < 3).astype(int)
    folds = np.arange(len(ids)) % N_FOLDS

    def fit_fold(k):
        rows = folds == k
        oof = pd.DataFrame({"id": ids[rows], "target": y[rows], "pred": y[rows] + rng.normal(0, 1, rows.sum())})
        test = pd.DataFrame({"id": submission_ids("nexperia"), "pred": rng.uniform(0, 1, 120)})
        return FoldResult(oof, test)

    run = Run.open("nexperia", name, runs_dir)
    run_folds(run, done_folds, fit_fold, n_splits=N_FOLDS)
    return run


def test_refuses_a_partial_run_unless_allowed(nexperia_setup, capsys):
    s = nexperia_setup
    run = _partial_run(s["runs_dir"], "partial", [0])
    capsys.readouterr()  # the training log
    args = ["--competition", "nexperia", "--runs", "partial", "--runs-dir", str(s["runs_dir"]),
            "--data", str(s["data"]), "--files-root", str(s["files"])]
    assert _exit_status(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(run.root) in err and "missing folds [1, 2]" in err
    assert "--allow-partial" in err
    assert not s["files"].exists()  # nothing written
    with pytest.raises(ValueError, match="partial"):
        make_submission("nexperia", [s["runs"][0], "partial"], "rank", s["data"], s["runs_dir"], s["files"])

    assert main([*args, "--allow-partial"]) == 0
    out = capsys.readouterr().out
    assert "WARNING: partial run" in out
    meta = json.loads(next(s["files"].rglob("*.json")).read_text())
    assert meta["partial_runs"][0]["missing_folds"] == [1, 2]
    assert meta["partial_runs"][0]["completed_folds"] == [0]


def test_refuses_a_run_whose_oof_and_metrics_disagree(nexperia_setup):
    s = nexperia_setup
    run = _partial_run(s["runs_dir"], "whole", [0, 1, 2])
    make_submission("nexperia", ["whole"], "rank", s["data"], s["runs_dir"], s["files"])  # whole: fine
    # what two writers on one run could leave: metrics.json describing fewer folds than oof.csv holds
    metrics = json.loads(run.metrics_path.read_text())
    run.metrics_path.write_text(json.dumps({**metrics, "completed_folds": [0, 1], "complete": False}))
    with pytest.raises(ValueError, match=r"whole is partial: metrics.json records folds \[0, 1\] but the finished "
                                         r"folds are \[0, 1, 2\]"):
        make_submission("nexperia", ["whole"], "rank", s["data"], s["runs_dir"], s["files"])


def test_the_submission_file_has_no_bom(nexperia_setup):
    s = nexperia_setup
    path, _ = make_submission("nexperia", s["runs"], "rank", s["data"], s["runs_dir"], s["files"])
    assert not path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert path.read_bytes().startswith(b"id,defect_score\n")


# -- LightGBM stacking with meta-features ------------------------------------------------------------
def _meta_file(tmp_path, setup, drop_train=0, drop_test=0, **columns):
    """A meta-features CSV for every train and test id of the synthetic nexperia runs."""
    from tests.submissions.synthetic import train_ids

    ids = train_ids("nexperia")[drop_train:] + submission_ids("nexperia")[drop_test:]
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"id": ids, **{name: rng.normal(size=len(ids)) for name in columns or ["dup", "adv"]}})
    path = tmp_path / "meta.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_lgb_stack_with_meta_features_writes_a_valid_submission(nexperia_setup, tmp_path, capsys):
    setup = nexperia_setup
    meta_path = _meta_file(tmp_path, setup)
    args = ["--competition", "nexperia", "--runs", "model0", "model1", "model2", "--method", "lgb_stack",
            "--meta-features", str(meta_path), "--data", str(setup["data"]), "--runs-dir", str(setup["runs_dir"]),
            "--files-root", str(setup["files"])]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "BLEND (lgb_stack)" in out and "meta-features" in out and "dup" in out
    path = next((setup["files"] / "nexperia").glob("*.csv"))
    sub = pd.read_csv(path, dtype={"id": str})
    assert sub["id"].tolist() == submission_ids("nexperia")
    assert sub["defect_score"].between(0, 1).all() and sub["defect_score"].nunique() > 10
    meta = json.loads(sidecar_path(path).read_text())
    assert meta["method"] == "lgb_stack" and meta["cv"]["kind"] == "nested OOF of the stacker"
    assert meta["meta_features"]["file"] == str(meta_path)
    assert meta["meta_features"]["columns"] == ["dup", "adv"]
    assert set(meta["meta_features"]["importance"]) == {"dup", "adv"}
    assert set(meta["weights"]) == {"model0", "model1", "model2"}
    # deterministic: the same blend gives the same file
    path2, meta2 = make_submission("nexperia", ["model0", "model1", "model2"], "lgb_stack", setup["data"],
                                   setup["runs_dir"], tmp_path / "again", meta_features=meta_path)
    assert path2.read_bytes() == path.read_bytes() and meta2["cv"] == meta["cv"]
    # without meta-features, lgb_stack stacks the runs alone
    _, plain = _blend(setup, ["model0", "model1"], "lgb_stack")
    assert "meta_features" not in plain and plain["cv"]["auc"] > 0.8


def test_meta_features_errors_name_ids_columns_and_method(nexperia_setup, tmp_path, capsys):
    setup = nexperia_setup
    base = ["--competition", "nexperia", "--runs", "model0", "model1", "--data", str(setup["data"]),
            "--runs-dir", str(setup["runs_dir"]), "--files-root", str(setup["files"])]

    def fails(*extra):
        assert _exit_status([*base, *extra]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1
        return err

    err = fails("--method", "lgb_stack", "--meta-features", str(_meta_file(tmp_path, setup, drop_train=3)))
    assert "lacks 3 of the 300 OOF (train) ids, e.g. ['WEP00000_x_0', 'WEP00001_x_1', 'WEP00002_x_2']" in err
    err = fails("--method", "lgb_stack", "--meta-features", str(_meta_file(tmp_path, setup, drop_test=2)))
    assert "lacks 2 of the 120 test ids, e.g. ['TST00000_y', 'TST00001_y']" in err
    bad = tmp_path / "bad.csv"
    pd.read_csv(_meta_file(tmp_path, setup)).rename(columns={"id": "image"}).to_csv(bad, index=False)
    assert "lacks the column 'id'" in fails("--method", "lgb_stack", "--meta-features", str(bad))
    pd.read_csv(_meta_file(tmp_path, setup)).assign(kind="x").to_csv(bad, index=False)
    assert "non-numeric column(s) ['kind']" in fails("--method", "lgb_stack", "--meta-features", str(bad))
    assert "not found" in fails("--method", "lgb_stack", "--meta-features", str(tmp_path / "none.csv"))
    assert "--meta-features needs a method that uses them (lgb_stack), not 'rank'" in fails(
        "--method", "rank", "--meta-features", str(_meta_file(tmp_path, setup)))
    assert not setup["files"].exists()
