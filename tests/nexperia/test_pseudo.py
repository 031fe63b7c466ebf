"""Pseudo-labelling (common.vision.pseudo, train.py --pseudo-from): fold-safe sources, threshold, weight."""
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from common.run import Run
from common.vision import trainer
from common.vision.pseudo import (PSEUDO_FOLD, StackedImages, read_pseudo_labels, select_confident,
                                  with_pseudo_labels)
from competitions.nexperia import train
from competitions.nexperia.data import get_folds, load_data
from competitions.nexperia.synth import generate
from tests.nexperia.helpers import tiny_cnn_args

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("pseudo")
    data = generate(root / "data", n_train=160, n_test=60, seed=0, progress=False)
    return data, root / "runs", root / "cache"


@pytest.fixture(scope="module")
def source(env):
    """A finished 'round 1' run whose folds 0 and 1 predict the test images differently, and whose fold-averaged
    test.csv differs from both: round 2 must read each fold's own file."""
    data_dir, runs, cache = env
    data = load_data(data_dir, cache_dir=cache)
    get_folds(data, n_splits=4, runs_dir=runs)  # the shared folds, as train.py makes them
    rng = np.random.default_rng(0)
    run = Run.open("nexperia", "round1", runs)
    preds = {}
    for k in (0, 1):
        pred = rng.uniform(0, 1, len(data.test_ids))
        preds[k] = pd.DataFrame({"id": data.test_ids, "pred": pred})
        oof = pd.DataFrame({"id": data.train_ids[4 * k:4 * k + 4], "target": [0, 1, 0, 1],
                            "pred": [0.1, 0.9, 0.2, 0.8]})  # each fold its own rows, as folds are
        run.save_fold_predictions(k, oof, preds[k], {"auc_given": {"auc": 1.0}})
    (run.root / "config.yaml").write_text("n_splits: 4\n")
    return run.root, preds, data


def expected(pred: pd.DataFrame, threshold: float) -> pd.DataFrame:
    picked = pred[(pred["pred"] >= threshold) | (pred["pred"] <= 1 - threshold)]
    return pd.DataFrame({"id": picked["id"].astype(str), "label": (picked["pred"] >= threshold).astype(int)})


def test_stacked_images_serve_train_rows_then_selected_test_rows_without_copies():
    first = np.arange(3 * 2 * 2, dtype=np.uint8).reshape(3, 2, 2)
    second = 100 + np.arange(4 * 2 * 2, dtype=np.uint8).reshape(4, 2, 2)
    view = StackedImages(first, second, np.array([3, 1]))
    assert view.shape == (5, 2, 2) and len(view) == 5 and view.dtype == np.uint8
    assert view.first is first and view.second is second
    np.testing.assert_array_equal(view[1], first[1])
    np.testing.assert_array_equal(view[3], second[3])
    np.testing.assert_array_equal(view[-1], second[1])
    np.testing.assert_array_equal(view[np.array([4, 0])], np.stack([second[1], first[0]]))
    np.testing.assert_array_equal(np.asarray(view), np.concatenate([first, second[[3, 1]]]))
    with pytest.raises(IndexError):
        view[5]


def test_threshold_selects_confident_rows_with_hard_labels():
    rows, labels = select_confident(np.array([0.99, 0.5, 0.04, 0.95, 0.06, 0.05]), 0.95)
    assert rows.tolist() == [0, 2, 3, 5] and labels.tolist() == [1, 0, 1, 0]
    with pytest.raises(ValueError, match="threshold"):
        select_confident(np.array([0.5]), 0.5)


@pytest.mark.slow
def test_pseudo_rows_train_with_their_weight_and_never_validate(source):
    root, preds, data = source
    fold_of = np.arange(len(data.train_ids)) % 4
    pseudo = read_pseudo_labels(root, 1, data.test_ids, 0.8)
    pd.testing.assert_frame_equal(pseudo.table()[["id", "label"]].reset_index(drop=True),
                                  expected(preds[1], 0.8).reset_index(drop=True))
    view, folds = with_pseudo_labels(data, fold_of, pseudo, weight=0.25)
    n = len(data.train_ids)
    assert len(view.train_ids) == len(folds) == n + len(pseudo.ids)
    assert (folds[n:] == PSEUDO_FOLD).all() and (folds[:n] == fold_of).all()
    assert view.train_images.first is data.train_images  # the memmap is not copied
    np.testing.assert_array_equal(view.train_images[n], data.test_images[pseudo.rows[0]])
    assert (view.train_weights[:n] == 1).all() and (view.train_weights[n:] == 0.25).all()
    assert list(view.test_ids) == list(data.test_ids)


@pytest.mark.slow
def test_round_two_fold_k_learns_from_source_fold_k_only(env, source, monkeypatch):
    data_dir, runs, cache = env
    root, preds, data = source
    seen = {}
    fit = trainer.FoldTrainer.fit

    def spy(self):
        seen[self.fold] = {"ids": np.asarray(self.data.train_ids)[self.train_rows],
                           "labels": self.train_labels.copy(), "weights": self.train_loader.dataset.weights.copy(),
                           "valid_ids": self.valid_ids.copy()}
        return fit(self)

    monkeypatch.setattr(trainer.FoldTrainer, "fit", spy)
    run = train.main(tiny_cnn_args(data_dir, runs, cache, "round2", "--fold", "0,1", "--pseudo-from", str(root),
                               "--pseudo-threshold", "0.8", "--pseudo-weight", "0.3"))
    test_ids = set(data.test_ids)
    metrics = json.loads((run.root / "metrics.json").read_text())
    for k in (0, 1):
        want = expected(preds[k], 0.8)
        written = pd.read_csv(run.root / f"fold{k}" / "pseudo.csv", dtype={"id": str})
        assert written["id"].tolist() == want["id"].tolist() and written["label"].tolist() == want["label"].tolist()
        fold = seen[k]
        is_pseudo = np.isin(fold["ids"], list(test_ids))
        assert sorted(fold["ids"][is_pseudo]) == sorted(want["id"])  # fold k's own source file, nothing else
        labels = dict(zip(want["id"], want["label"]))
        assert [labels[i] for i in fold["ids"][is_pseudo]] == fold["labels"][is_pseudo].astype(int).tolist()
        assert np.allclose(fold["weights"][is_pseudo], 0.3) and np.allclose(fold["weights"][~is_pseudo], 1)
        assert not np.isin(fold["valid_ids"], list(test_ids)).any()  # pseudo rows never validate
        assert metrics["folds"][str(k)]["pseudo"]["rows"] == len(want)
    assert sorted(seen[0]["ids"][np.isin(seen[0]["ids"], list(test_ids))]) != \
        sorted(seen[1]["ids"][np.isin(seen[1]["ids"], list(test_ids))])
    assert metrics["pseudo"] == {"source": str(root), "threshold": 0.8, "weight": 0.3}
    oof = pd.read_csv(run.root / "oof.csv", dtype={"id": str})  # the contract: validation rows only
    assert set(oof["id"]) <= set(data.train_ids) and set(oof["fold"]) == {0, 1}
    test = pd.read_csv(run.root / "test.csv", dtype={"id": str})
    assert test["id"].tolist() == list(data.test_ids)


@pytest.mark.slow
def test_missing_source_fold_is_a_one_line_error(env, source):
    data_dir, runs, cache = env
    root, _, _ = source
    with pytest.raises(FileNotFoundError, match="fold 2 is not finished"):
        train.main(tiny_cnn_args(data_dir, runs, cache, "nofold", "--fold", "2", "--pseudo-from", str(root)))
    assert not (runs / "nexperia" / "nofold").exists()  # failed before any work
    with pytest.raises(FileNotFoundError, match=re.escape(f"--pseudo-from {root}: fold 2 is not finished")):
        train.main(tiny_cnn_args(data_dir, runs, cache, "nofold", "--fold", "2", "--pseudo-from", "round1"))  # a name
    with pytest.raises(ValueError, match="--pseudo-threshold needs --pseudo-from"):
        train.main(tiny_cnn_args(data_dir, runs, cache, "nofrom", "--pseudo-threshold", "0.9"))
    proc = subprocess.run([sys.executable, str(ROOT / "competitions" / "nexperia" / "train.py"),
                           *tiny_cnn_args(data_dir, runs, cache, "nofold", "--fold", "3", "--pseudo-from", str(root))],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: option --pseudo-from") and "fold 3" in lines[0]
