"""The per-epoch neural-collapse callback on a tiny trainer run: its summary.csv columns are the metrics of
the epoch's weights on the fixed training images, its plot is written, and training is unchanged by it."""
import copy
import pickle
import random

import numpy as np
import pandas as pd
import pytest
import torch

from common.vision.neural_collapse import neural_collapse_metrics
from common.plots import plt
from common.vision.callbacks import Callback
from common.vision.nc_callback import NeuralCollapseCurve, fixed_subset
from tests.common.vision.test_trainer import config, fold_of, train

N_IMAGES = 20  # of the fold's 32 training images


def rng_states() -> bytes:
    return pickle.dumps((torch.get_rng_state().numpy().tobytes(), np.random.get_state(), random.getstate()))


class Witness(Callback):
    """Runs the callback's hooks; notes whether its epoch hook left the global RNG states as they were and
    keeps a copy of the weights it measured, and the trainer."""

    def __init__(self, inner: Callback):
        self.inner, self.rng_kept, self.models, self.trainer = inner, [], [], None

    def on_validation_end(self, trainer, row):
        self.trainer = trainer
        before = rng_states()
        self.inner.on_validation_end(trainer, row)
        self.rng_kept.append(rng_states() == before)
        self.models.append(copy.deepcopy(trainer.eval_model))

    def on_fold_end(self, trainer, end):
        self.inner.on_fold_end(trainer, end)


@pytest.fixture(scope="module")
def nc_run(tmp_path_factory):
    cfg = config(tmp_path_factory.mktemp("runs"), "nc", epochs=3)
    witness = Witness(NeuralCollapseCurve(N_IMAGES))
    run, data = train(cfg, callbacks=[witness])
    return cfg, run, data, witness


@pytest.mark.slow
def test_columns_are_the_metrics_of_each_epochs_weights(nc_run):
    cfg, run, data, witness = nc_run
    summary = pd.read_csv(run.root / "fold0" / "summary.csv")
    assert list(summary["epoch"]) == [1, 2, 3] and len(witness.models) == 3
    # By hand: the fixed subset of the fold's training rows, as the model sees them un-augmented.
    rows = np.flatnonzero(fold_of(data) != 0)
    np.testing.assert_array_equal(witness.trainer.train_rows, rows)
    labels = data.train_labels[rows].astype(int)
    picked = fixed_subset(labels, N_IMAGES, cfg.seed)
    assert len(picked) == N_IMAGES and np.bincount(labels[picked]).tolist() == [10, 10]
    x, y = witness.trainer.model_inputs(rows[picked]), labels[picked]
    for model, (_, row) in zip(witness.models, summary.iterrows()):
        model.eval()
        with torch.no_grad():
            features = model.forward_head(model.forward_features(x), pre_logits=True).numpy()
            logits = model(x).view(-1).numpy()
        head = model.get_classifier()
        expected = neural_collapse_metrics(features, y, head.weight.detach().numpy(), head.bias.detach().numpy())
        assert row[["nc1", "nc3", "nc4"]].to_dict() == pytest.approx(
            {key: expected[key] for key in ("nc1", "nc3", "nc4")}, rel=1e-6, abs=1e-12)
        # nc4 is the share of the network's own decisions (logit > 0) that the nearest class centre contradicts.
        means = np.stack([features[y == c].mean(axis=0) for c in (0, 1)])
        nearest = np.linalg.norm(features - means[1], axis=1) < np.linalg.norm(features - means[0], axis=1)
        assert row["nc4"] == pytest.approx(np.mean((logits > 0) != nearest))
        assert 0 < row["nc1"] and 0 <= row["nc3"] <= 2
    assert summary["nc1"].nunique() == 3  # measured afresh each epoch


def test_writes_the_plot(nc_run):
    _, run, _, _ = nc_run
    image = plt.imread(run.root / "fold0" / "neural_collapse.png")
    assert image.ndim == 3 and image.shape[1] > image.shape[0] > 100


def test_training_is_the_same_without_the_callback(nc_run, tmp_path):
    cfg, run, data, witness = nc_run
    assert witness.rng_kept == [True, True, True]
    plain, _ = train(config(tmp_path, "plain", epochs=3), data)
    with_nc, without = (pd.read_csv(r.root / "fold0" / "summary.csv") for r in (run, plain))
    for column in ("train_loss", "val_loss", "val_auc"):
        np.testing.assert_array_equal(with_nc[column], without[column])
    assert "nc1" not in without


def test_fixed_subset_keeps_the_class_shares_and_its_seed():
    labels = np.repeat([0, 1], [80, 20])
    picked = fixed_subset(labels, 25, seed=3)
    assert np.all(np.diff(picked) > 0) and np.bincount(labels[picked]).tolist() == [20, 5]
    np.testing.assert_array_equal(picked, fixed_subset(labels, 25, seed=3))
    assert not np.array_equal(picked, fixed_subset(labels, 25, seed=4))
    np.testing.assert_array_equal(fixed_subset(labels, 100, seed=3), np.arange(100))
    with pytest.raises(ValueError, match="at least 2 images"):
        NeuralCollapseCurve(1)
