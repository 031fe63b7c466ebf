"""cluster.py on a tiny synthetic set: a features.py run -> k-means and SCAN clusters -> files, scores, blend."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from common.cli import run_cli
from common.cluster import cluster_rates
from competitions.nexperia.cluster import main
from competitions.nexperia.data import load_data


@pytest.fixture(scope="module")
def feature_run(nexperia_data, tmp_path_factory):
    """A features.py run with a random-init narrow resnet18 (shared embedding), and its runs/cache folders."""
    from competitions.nexperia.features import main as features_main

    root = tmp_path_factory.mktemp("cluster")
    runs, cache = root / "runs", root / "cache"
    features_main(["--data", str(nexperia_data), "--runs-dir", str(runs), "--cache-dir", str(cache),
                   "--model", "resnet18", "--model-kwargs", "{channels: [8, 8, 16, 16], stem_width: 8}",
                   "--img-size", "32", "--classifiers", "logreg", "--threads", "1", "--no-progress", "--no-plots"])
    return runs, cache


def _args(data, runs, cache, *extra) -> list[str]:
    return ["--data", str(data), "--runs-dir", str(runs), "--cache-dir", str(cache), "--no-progress",
            "--features", "feat", "--k", "3", "--per-cluster", "2", *extra]


@pytest.mark.slow
def test_kmeans_and_scan_runs_blend(nexperia_data, feature_run, tmp_path):
    from submissions.blend import main as blend_main

    runs, cache = feature_run
    data = load_data(nexperia_data, cache_dir=cache)
    folds = pd.read_csv(runs / "nexperia" / "folds.csv", dtype={"id": str})
    for method in ("kmeans", "scan"):
        metrics = main(_args(nexperia_data, runs, cache, "--method", method, "--epochs", "5"))
        root = runs / "nexperia" / f"feat-{method}-k3"
        clusters = pd.read_csv(root / "clusters.csv", dtype={"id": str})
        assert list(clusters.columns) == ["id", "split", "cluster"]
        assert list(clusters["id"]) == [*data.train_ids, *data.test_ids]
        assert (clusters["split"] == "test").sum() == len(data.test_ids) and clusters["cluster"].between(0, 2).all()
        for png in ("clusters.png", "cluster_bars.png"):
            assert (root / png).stat().st_size > 1000
        summary = metrics["clustering"]["all"]
        for kind in ("given", "defect_type", "label_true"):
            assert 0 < summary[kind]["purity"] <= 1 and 0 <= summary[kind]["nmi"] <= 1
        assert summary["defect_type"]["n"] == len(clusters) and summary["given"]["n"] == len(data.train_ids)
        assert sum(c["n_train"] + c["n_test"] for c in summary["clusters"]) == len(clusters)
        assert metrics["complete"] and "auc_true" in metrics["oof"]
        oof = pd.read_csv(root / "oof.csv", dtype={"id": str})
        assert sorted(oof["id"]) == sorted(folds["id"])
        assert len(pd.read_csv(root / "test.csv")) == len(data.test_ids)

    # k-means: a validation row's score is its cluster's smoothed defect rate among that fold's training rows.
    root = runs / "nexperia" / "feat-kmeans-k3"
    clusters = pd.read_csv(root / "clusters.csv", dtype={"id": str}).set_index("id")
    labels = pd.Series(data.train_labels.astype(int), index=data.train_ids)
    fold_of = folds.set_index("id")["fold"]
    oof = pd.read_csv(root / "oof.csv", dtype={"id": str})
    train_ids = fold_of.index[fold_of != 0]
    rates = cluster_rates(np.eye(3)[clusters.loc[train_ids, "cluster"]], labels[train_ids].to_numpy(), 10.0)
    valid = oof[oof["fold"] == 0]
    np.testing.assert_allclose(valid["pred"], rates[clusters.loc[valid["id"], "cluster"]], rtol=1e-6)
    test = pd.read_csv(root / "test.csv", dtype={"id": str})
    assert test["pred"].nunique() <= 3 * 5  # one score per cluster and fold, averaged over folds

    files = tmp_path / "files"
    assert blend_main(["--competition", "nexperia", "--runs", "feat-kmeans-k3", "feat-scan-k3", "feat-logreg",
                       "--data", str(nexperia_data), "--runs-dir", str(runs), "--files-root", str(files)]) == 0
    import json
    methods = sorted(json.loads(p.read_text())["method"] for p in (files / "nexperia").glob("*.json"))
    assert methods in (["rank"], ["rank", "single"])  # a rank blend worse than its best run: the run is the result
    assert len(list((files / "nexperia").glob("*.csv"))) == len(methods)


def test_resume_reuses_the_clustering(nexperia_data, feature_run):
    runs, cache = feature_run
    source = runs / "nexperia" / "feat-copy"
    source.mkdir()
    shutil.copy(runs / "nexperia" / "feat" / "features.npz", source / "features.npz")
    args = _args(nexperia_data, runs, cache, "--features", str(source), "--method", "scan", "--epochs", "3",
                 "--name", "resume", "--no-plots")
    main([*args, "--fold", "0"])
    root = runs / "nexperia" / "resume"
    cached, fold0 = root / "clustering.npz", root / "fold0" / "done.json"
    stamps = cached.stat().st_mtime_ns, fold0.stat().st_mtime_ns
    metrics = main(args)  # the other folds, from the cached clustering; fold 0 skipped
    assert (cached.stat().st_mtime_ns, fold0.stat().st_mtime_ns) == stamps and metrics["complete"]
    main([*args, "--no-resume", "--fold", "0"])
    assert cached.stat().st_mtime_ns != stamps[0] and fold0.stat().st_mtime_ns != stamps[1]
    # Features embedded anew under the same run: the finished folds' scores no longer fit the clustering.
    with np.load(source / "features.npz") as old:
        np.savez(source / "features.npz", train=old["train"] * 2, test=old["test"] * 2)
    with pytest.raises(ValueError, match="made from other features"):
        main(args)


def test_per_fold_features_give_one_clustering_per_fold(nexperia_data, feature_run):
    runs, cache = feature_run
    per_fold = runs / "nexperia" / "feat-per-fold"
    for k in range(5):  # as features.py writes them for a checkpoint run
        (per_fold / f"fold{k}").mkdir(parents=True)
        shutil.copy(runs / "nexperia" / "feat" / "features.npz", per_fold / f"fold{k}" / "features.npz")
    metrics = main(_args(nexperia_data, runs, cache, "--features", str(per_fold), "--no-plots", "--fold", "0,1",
                         "--pca", "4"))
    root = runs / "nexperia" / "feat-per-fold-kmeans-k3"
    assert set(metrics["clustering"]) == {"fold0", "fold1"} and metrics["completed_folds"] == [0, 1]
    assert (root / "fold0" / "clusters.csv").is_file() and not (root / "clusters.csv").exists()


def test_bad_input_is_one_line(nexperia_data, feature_run, tmp_path, capsys):
    runs, cache = feature_run
    bad = tmp_path / "bad"
    bad.mkdir()
    with np.load(runs / "nexperia" / "feat" / "features.npz") as good:
        np.savez(bad / "features.npz", train=good["train"][:-1], test=good["test"])
    cases = {("--k", "1"): "--k", ("--method", "dbscan"): "dbscan", ("--features", "nosuchrun"): "nosuchrun",
             ("--features", str(bad)): "holds 239 train rows but the data has 240",
             ("--features", str(tmp_path)): "no features.npz"}
    for extra, message in cases.items():
        with pytest.raises(SystemExit) as stop:
            run_cli(main, _args(nexperia_data, runs, cache, *extra))
        assert stop.value.code == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    assert not (runs / "nexperia" / "bad-kmeans-k3").exists()  # refused before the run folder is made
