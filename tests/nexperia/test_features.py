"""Deep features + classical models: classifiers on separable features, and a tiny end-to-end run."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from common.metrics import roc_auc
from competitions.nexperia.features import CLASSIFIERS, make_classifier, truth_kinds


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classifiers_separate_shifted_classes(name):
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.25).astype(int)
    x = rng.normal(size=(400, 16)) + 1.5 * y[:, None] * (np.arange(16) < 4)
    model = make_classifier(name, seed=0, threads=1).fit(x[:300], y[:300])
    prob = model.predict_proba(x[300:])[:, 1]
    assert ((0 <= prob) & (prob <= 1)).all()
    assert roc_auc(y[300:], prob) > 0.9


def test_truth_kinds():
    truth = pd.DataFrame({"id": ["a", "b", "c"], "label_true": [0, 1, 1], "flipped": [0, 0, 1]})
    np.testing.assert_array_equal(truth_kinds(np.array(["c", "a", "b"]), truth), ["flipped", "good", "defect"])
    assert truth_kinds(np.array(["a"]), None) is None


def test_features_run_end_to_end(nexperia_data, tmp_path):
    from competitions.nexperia.features import main

    runs = tmp_path / "runs"
    metrics = main(["--data", str(nexperia_data), "--runs-dir", str(runs), "--cache-dir", str(tmp_path / "c"),
                    "--model", "resnet18", "--model-kwargs", "{channels: [8, 8, 16, 16], stem_width: 8}",
                    "--img-size", "32", "--classifiers", "logreg", "lda", "--threads", "1", "--no-progress"])
    folds = pd.read_csv(runs / "nexperia" / "folds.csv", dtype={"id": str})
    for name in ("logreg", "lda"):
        oof = pd.read_csv(runs / "nexperia" / f"feat-{name}" / "oof.csv", dtype={"id": str})
        assert sorted(oof["id"]) == sorted(folds["id"])
        assert ((oof["pred"] >= 0) & (oof["pred"] <= 1)).all()
        assert (runs / "nexperia" / f"feat-{name}" / "test.csv").is_file()
        assert 0 <= metrics["classifier_auc"][name]["auc_given"] <= 1
    logreg = json.loads((runs / "nexperia" / "feat-logreg" / "metrics.json").read_text())  # the fold driver's
    assert logreg["complete"] and logreg["completed_folds"] == [0, 1, 2, 3, 4] and "auc_true" in logreg["oof"]
    nc = metrics["neural_collapse"]["mean"]
    assert set(nc) == {"nc1", "equal_norms", "equal_angles", "max_angle"} and nc["nc1"] > 0
    assert (runs / "nexperia" / "feat" / "pca.png").is_file() and (runs / "nexperia" / "feat" / "tsne.png").is_file()
    # Training with an audit: a separate run per classifier, features reused from the cache.
    suspects = tmp_path / "suspects.csv"
    pd.DataFrame({"id": folds["id"][:5], "suggested_label": 1}).to_csv(suspects, index=False)
    features_file = runs / "nexperia" / "feat" / "features.npz"
    before = features_file.stat().st_mtime_ns
    audited = main(["--data", str(nexperia_data), "--runs-dir", str(runs), "--cache-dir", str(tmp_path / "c"),
                    "--model", "resnet18", "--model-kwargs", "{channels: [8, 8, 16, 16], stem_width: 8}",
                    "--img-size", "32", "--classifiers", "logreg", "--threads", "1", "--no-progress", "--no-plots",
                    "--suspects", str(suspects), "--suspect-action", "relabel"])
    assert "logreg" in audited["classifier_auc-audit-relabel"]
    assert (runs / "nexperia" / "feat-logreg-audit-relabel" / "oof.csv").is_file()
    assert features_file.stat().st_mtime_ns == before
