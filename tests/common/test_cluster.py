"""k-means and SCAN clustering: planted blobs recovered, neighbours mined, scores computed by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs

from common.cluster import (KMeansClustering, SCANClustering, cluster_rates, clustering_scores, mine_neighbors,
                            plot_cluster_bars, purity, scan_loss)


@pytest.fixture(scope="module")
def blobs():
    return make_blobs(320, n_features=16, centers=4, cluster_std=1.5, random_state=0)


@pytest.mark.parametrize("make", [
    lambda: KMeansClustering(4, seed=0),
    lambda: KMeansClustering(4, pca_dim=3, seed=0),
    lambda: SCANClustering(4, n_neighbors=10, epochs=15, seed=0),                   # started from k-means
    lambda: SCANClustering(4, n_neighbors=10, epochs=25, warmup_epochs=0, seed=1),  # the SCAN loss alone
], ids=["kmeans", "kmeans-pca", "scan", "scan-random-start"])
def test_planted_blobs_are_recovered(blobs, make):
    torch.set_num_threads(1)
    x, y = blobs
    model = make().fit(x)
    scores = clustering_scores(y, model.labels_)
    assert scores["purity"] > 0.95 and scores["nmi"] > 0.9, scores
    proba = model.predict_proba(x)
    assert proba.shape == (len(x), 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(model.predict(x), model.labels_)
    np.testing.assert_array_equal(proba.argmax(axis=1), model.labels_)


def test_scan_is_seeded_and_records_its_losses(blobs):
    torch.set_num_threads(1)
    x, _ = blobs
    first = SCANClustering(4, n_neighbors=5, epochs=4, warmup_epochs=1, seed=3).fit(x)
    again = SCANClustering(4, n_neighbors=5, epochs=4, warmup_epochs=1, seed=3).fit(x)
    np.testing.assert_array_equal(first.predict_proba(x), again.predict_proba(x))
    assert len(first.history_) == 4 and set(first.history_[0]) == {"loss", "consistency", "entropy"}
    assert first.history_[-1]["consistency"] < first.history_[0]["consistency"]
    assert first.neighbors_.shape == (len(x), 5)


def test_neighbours_by_cosine_on_a_hand_made_case():
    # Unit vectors at these angles (degrees); lengths differ, cosine ignores them.
    angles = np.radians([0, 5, 20, 90, 100, 130])
    x = np.column_stack([np.cos(angles), np.sin(angles)]) * np.array([1, 3, 0.5, 2, 1, 4])[:, None]
    np.testing.assert_array_equal(mine_neighbors(x, 1)[:, 0], [1, 0, 1, 4, 3, 4])
    np.testing.assert_array_equal(mine_neighbors(x, 2), [[1, 2], [0, 2], [1, 0], [4, 5], [3, 5], [4, 3]])
    # An identical copy of a row is its nearest neighbour; a row is never its own.
    dup = np.vstack([x, x[3]])
    neighbours = mine_neighbors(dup, 2)
    assert neighbours[3, 0] == 6 and neighbours[6, 0] == 3
    assert not (neighbours == np.arange(len(dup))[:, None]).any()
    with pytest.raises(ValueError, match="n_neighbors"):
        mine_neighbors(x, 6)


def test_purity_and_nmi_on_a_hand_computed_case():
    labels = np.array(["good", "good", "scratch", "scratch", "scratch", "chipping"])
    clusters = np.array([0, 0, 0, 1, 1, 1])
    # cluster 0 = {good, good, scratch}: 2 right; cluster 1 = {scratch, scratch, chipping}: 2 right.
    assert purity(labels, clusters) == pytest.approx(4 / 6)
    assert purity(labels, np.arange(6)) == 1.0  # one row per cluster is trivially pure
    scores = clustering_scores(labels, clusters)
    assert scores["n"] == 6 and 0 < scores["nmi"] < 1
    assert clustering_scores(labels, np.array([2, 2, 0, 0, 0, 1]))["nmi"] == pytest.approx(1.0)


def test_cluster_rates_by_hand():
    labels = np.array([1, 0, 0, 1, 1, 0, 0, 0])  # prior 3/8
    hard = np.eye(2)[[0, 0, 0, 1, 1, 1, 1, 1]]    # cluster 0: 1 of 3, cluster 1: 2 of 5
    np.testing.assert_allclose(cluster_rates(hard, labels, smoothing=0), [1 / 3, 2 / 5])
    np.testing.assert_allclose(cluster_rates(hard, labels, smoothing=2), [(1 + 2 * 3 / 8) / 5, (2 + 2 * 3 / 8) / 7])
    soft = np.array([[0.5, 0.5], [1, 0], [0, 1], [0.25, 0.75]])
    y = np.array([1, 0, 0, 1])
    # cluster 0: (0.5 + 0.25) / 1.75, cluster 1: (0.5 + 0.75) / 2.25
    np.testing.assert_allclose(cluster_rates(soft, y, smoothing=0), [0.75 / 1.75, 1.25 / 2.25])
    with pytest.raises(ValueError, match="one label per row"):
        cluster_rates(soft, y[:3])


def test_scan_loss_by_hand():
    even = torch.zeros(4, 2)  # every assignment (0.5, 0.5): <p, q> = 0.5, mean assignment uniform
    total, consistency, entropy = scan_loss(even, even, entropy_weight=5.0)
    assert consistency.item() == pytest.approx(math.log(2)) and entropy.item() == pytest.approx(math.log(2))
    assert total.item() == pytest.approx(math.log(2) - 5 * math.log(2))
    sure = torch.tensor([[20.0, 0.0], [0.0, 20.0]])  # confident, neighbours agree, both clusters used
    total, consistency, entropy = scan_loss(sure, sure, entropy_weight=1.0)
    assert consistency.item() < 1e-6 and entropy.item() == pytest.approx(math.log(2), rel=1e-5)
    _, disagree, _ = scan_loss(sure, sure.flip(0), entropy_weight=1.0)
    assert disagree.item() > 10


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="at least 2 clusters"):
        KMeansClustering(1).fit(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="at least 4 rows"):
        SCANClustering(4).fit(np.zeros((3, 2)))


def test_cluster_bars_plot(tmp_path):
    path = plot_cluster_bars({"train": [5, 3, 0], "test": [1, 1, 2]}, {"rate": [0.2, np.nan, 0.5]},
                             tmp_path / "bars.png")
    assert path.stat().st_size > 1000
