"""Clustering of embeddings without labels: k-means and SCAN as scikit-learn-like estimators, and how to judge
a clustering against known classes and turn it into a score.

- :class:`KMeansClustering`: standardise -> optional PCA -> ``MiniBatchKMeans``, seeded;
- :class:`SCANClustering`: SCAN (Van Gansbeke et al., "SCAN: Learning to Classify Images without Labels",
  ECCV 2020) on a frozen embedding: each row's nearest neighbours (cosine, :func:`mine_neighbors`) are mined
  once, then a small head (MLP -> softmax over the clusters) learns to give a row and its neighbours the same
  cluster while keeping the clusters used (:func:`scan_loss`). The head starts from k-means (a few epochs of
  cross-entropy on the k-means clusters), so it refines that partition instead of starting from noise;
- :func:`purity`, :func:`clustering_scores` (purity and normalised mutual information against classes);
- :func:`cluster_rates`: each cluster's (soft, smoothed) rate of positive labels, the clustering's
  label-derived score; :func:`plot_cluster_bars` shows sizes and rates per cluster.

Both estimators have ``fit``, ``predict``, ``predict_proba`` (k-means: one-hot) and ``labels_``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import MiniBatchKMeans
from sklearn.decomposition import PCA
from sklearn.metrics import normalized_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from common.errors import BadInput
from common.io import atomic_path
from common.progress import progress_bar


class KMeansClustering(ClusterMixin, BaseEstimator):
    """k-means on standardised (and, with ``pca_dim``, PCA-reduced) features.

    ``transform`` gives the standardised/reduced features the clusters live in (SCAN's input too)."""

    def __init__(self, n_clusters: int = 8, pca_dim: int | None = None, batch_size: int = 1024, n_init: int = 3,
                 seed: int = 0):
        self.n_clusters = n_clusters
        self.pca_dim = pca_dim
        self.batch_size = batch_size
        self.n_init = n_init
        self.seed = seed

    def fit(self, x: np.ndarray, y=None) -> "KMeansClustering":
        x = _check_rows(x, self.n_clusters)
        steps = [("scale", StandardScaler())]
        if self.pca_dim:
            steps.append(("pca", PCA(min(self.pca_dim, *x.shape), random_state=self.seed)))
        self.preprocess_ = Pipeline(steps).fit(x)
        self.kmeans_ = MiniBatchKMeans(self.n_clusters, batch_size=self.batch_size, n_init=self.n_init,
                                       random_state=self.seed).fit(self.transform(x))
        self.labels_ = self.kmeans_.labels_
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        return self.preprocess_.transform(np.asarray(x, dtype=np.float64)).astype(np.float32)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.kmeans_.predict(self.transform(x))

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Hard assignments as one-hot rows ``(N, n_clusters)``."""
        return np.eye(self.n_clusters, dtype=np.float32)[self.predict(x)]


class SCANClustering(ClusterMixin, BaseEstimator):
    """SCAN's clustering step on a frozen embedding (see the module docstring).

    Per epoch every row is an anchor once, paired with one of its ``n_neighbors`` mined neighbours drawn at
    random; the loss is :func:`scan_loss` with ``entropy_weight``. ``history_`` holds each epoch's mean
    ``loss``, ``consistency`` and ``entropy``; ``neighbors_`` the mined neighbours."""

    def __init__(self, n_clusters: int = 8, n_neighbors: int = 20, entropy_weight: float = 5.0,
                 hidden_dim: int = 128, epochs: int = 50, warmup_epochs: int = 5, batch_size: int = 256,
                 lr: float = 1e-3, weight_decay: float = 1e-4, pca_dim: int | None = None, seed: int = 0,
                 device: str = "cpu", progress: bool = False):
        self.n_clusters = n_clusters
        self.n_neighbors = n_neighbors
        self.entropy_weight = entropy_weight
        self.hidden_dim = hidden_dim
        self.epochs = epochs
        self.warmup_epochs = warmup_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.pca_dim = pca_dim
        self.seed = seed
        self.device = device
        self.progress = progress

    def fit(self, x: np.ndarray, y=None) -> "SCANClustering":
        x = _check_rows(x, self.n_clusters)
        self.kmeans_ = KMeansClustering(self.n_clusters, self.pca_dim, seed=self.seed).fit(x)
        z = self.kmeans_.transform(x)
        self.neighbors_ = mine_neighbors(z, self.n_neighbors)
        device = torch.device(self.device)
        with torch.random.fork_rng(devices=[]):  # a seeded head without touching the caller's generator
            torch.manual_seed(self.seed)
            self.head_ = torch.nn.Sequential(torch.nn.Linear(z.shape[1], self.hidden_dim), torch.nn.ReLU(),
                                             torch.nn.Linear(self.hidden_dim, self.n_clusters)).to(device)
        generator = torch.Generator().manual_seed(self.seed)
        inputs = torch.from_numpy(z).to(device)
        neighbors = torch.from_numpy(self.neighbors_)
        start = torch.from_numpy(self.kmeans_.labels_.astype(np.int64)).to(device)
        optimizer = torch.optim.Adam(self.head_.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        self.history_ = []
        self.head_.train()
        for epoch in progress_bar(range(self.warmup_epochs + self.epochs), enabled=self.progress, desc="scan",
                                  leave=False):
            warmup = epoch < self.warmup_epochs
            totals = np.zeros(3)
            for anchors in torch.randperm(len(z), generator=generator).split(self.batch_size):
                logits = self.head_(inputs[anchors])
                if warmup:
                    loss = torch.nn.functional.cross_entropy(logits, start[anchors])
                    parts = (loss, loss, loss)
                else:
                    pick = torch.randint(self.n_neighbors, (len(anchors),), generator=generator)
                    parts = scan_loss(logits, self.head_(inputs[neighbors[anchors, pick]]), self.entropy_weight)
                optimizer.zero_grad()
                parts[0].backward()
                optimizer.step()
                totals += [p.item() * len(anchors) for p in parts]
            if not warmup:
                self.history_.append(dict(zip(("loss", "consistency", "entropy"), (totals / len(z)).tolist())))
        self.head_.eval()
        self.labels_ = self.predict(x)
        return self

    @torch.no_grad()
    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Soft assignments ``(N, n_clusters)``: the head's softmax."""
        z = torch.from_numpy(self.kmeans_.transform(x)).to(next(self.head_.parameters()).device)
        return torch.softmax(self.head_(z), dim=1).cpu().numpy()

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.predict_proba(x).argmax(axis=1)


def mine_neighbors(x: np.ndarray, n_neighbors: int) -> np.ndarray:
    """Indices ``(N, n_neighbors)`` of each row's nearest other rows by cosine distance, nearest first.

    A row is never its own neighbour, even where another row is identical to it (duplicates are each
    other's neighbours)."""
    x = np.asarray(x)
    if not 1 <= n_neighbors < len(x):
        raise BadInput(f"n_neighbors must be between 1 and the number of rows - 1 ({len(x) - 1}), "
                       f"got {n_neighbors}")
    model = NearestNeighbors(n_neighbors=n_neighbors, metric="cosine", algorithm="brute").fit(x)
    return model.kneighbors(return_distance=False)  # without a query, sklearn leaves each row itself out


def scan_loss(anchor_logits: torch.Tensor, neighbor_logits: torch.Tensor,
              entropy_weight: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """SCAN's loss ``consistency - entropy_weight * entropy`` and its two parts.

    ``consistency`` = mean over anchors of ``-log <p(anchor), p(neighbour)>`` (both get gradients, as in SCAN);
    ``entropy`` = entropy of the batch's mean assignment, which keeps every row from taking one cluster."""
    p_anchor = torch.softmax(anchor_logits, dim=1)
    p_neighbor = torch.softmax(neighbor_logits, dim=1)
    consistency = -torch.log((p_anchor * p_neighbor).sum(dim=1).clamp_min(1e-8)).mean()
    mean = p_anchor.mean(dim=0)
    entropy = -(mean * torch.log(mean.clamp_min(1e-8))).sum()
    return consistency - entropy_weight * entropy, consistency, entropy


def purity(labels, clusters) -> float:
    """Share of rows whose class is their cluster's most common class."""
    table = contingency_matrix(labels, clusters)
    return float(table.max(axis=0).sum() / table.sum())


def clustering_scores(labels, clusters) -> dict:
    """Purity and normalised mutual information (sklearn's, arithmetic mean) of ``clusters`` vs ``labels``."""
    return {"purity": purity(labels, clusters), "nmi": float(normalized_mutual_info_score(labels, clusters)),
            "n": int(len(labels))}


def cluster_rates(proba: np.ndarray, labels: np.ndarray, smoothing: float = 1.0) -> np.ndarray:
    """Each cluster's rate of positive ``labels`` among its (soft-assigned) rows, shrunk towards the overall rate.

    ``rate_c = (sum_i p_ic y_i + smoothing * prior) / (sum_i p_ic + smoothing)`` with ``prior`` the mean label:
    a cluster with few rows gets about the overall rate instead of an extreme one. One-hot ``proba`` gives
    plain per-cluster counts."""
    proba, labels = np.asarray(proba, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    if len(proba) != len(labels) or not len(labels):
        raise ValueError(f"need one label per row of proba, got {len(labels)} labels for {len(proba)} rows")
    prior = labels.mean()
    return (proba.T @ labels + smoothing * prior) / (proba.sum(axis=0) + smoothing)


def plot_cluster_bars(sizes: Mapping[str, np.ndarray], rates: Mapping[str, np.ndarray], path: str | Path,
                      title: str = "clusters") -> Path:
    """Two panels per cluster: stacked row counts (``sizes``: part name -> counts) and rates side by side
    (``rates``: name -> per-cluster rate, NaN where a cluster has no rows of that kind)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(next(iter(sizes.values())))
    x = np.arange(k)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(max(6.0, 0.6 * k + 2), 6), sharex=True)
    below = np.zeros(k)
    for name, counts in sizes.items():
        top.bar(x, counts, bottom=below, label=name)
        below += np.asarray(counts)
    top.set(ylabel="images", title=title)
    top.legend(fontsize=8)
    width = 0.8 / max(len(rates), 1)
    for i, (name, rate) in enumerate(rates.items()):
        bottom.bar(x + (i - (len(rates) - 1) / 2) * width, rate, width=width, label=name)
    bottom.set(xlabel="cluster", ylabel="rate", xticks=x, ylim=(0, 1))
    bottom.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    return Path(path)


def _check_rows(x: np.ndarray, n_clusters: int) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2 or len(x) < n_clusters:
        raise ValueError(f"need a 2-D array with at least {n_clusters} rows (one per cluster), got {x.shape}")
    if n_clusters < 2:
        raise BadInput(f"need at least 2 clusters, got {n_clusters}")
    return x
