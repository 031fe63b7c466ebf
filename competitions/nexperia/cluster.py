"""Cluster the images' embeddings (a feature run of ``features.py``) without labels, see what the clusters
hold, and score each image by its cluster's defect rate.

    python competitions/nexperia/cluster.py --features feat-r18 --method kmeans --k 10
    python competitions/nexperia/cluster.py --features runs/nexperia/feat-cnn --method scan --k 2

``--features`` is a run of ``features.py`` (a folder or a run name under ``runs/nexperia``): its
``features.npz`` (arrays ``train`` and ``test``, rows in the order of the data's ids) or, when it embedded with a
trained CNN run, one ``fold<k>/features.npz`` per fold. The clustering uses no labels, so it is fitted on the
train and test rows together: once for a shared embedding, once per fold for per-fold embeddings.
``--method kmeans`` (``common.cluster.KMeansClustering``) or ``scan`` (``common.cluster.SCANClustering``: SCAN
on the frozen embedding, started from k-means). Writes ``runs/nexperia/<name>/`` (default name
``<features run>-<method>-k<K>``), beside each clustering (the run folder, or ``fold<k>/`` per fold):
- ``clustering.npz`` (cached assignments: a rerun reuses them), ``clusters.csv`` (``id,split,cluster``);
- ``clusters.png`` (a few images of each cluster, one row per cluster, titled with their planted defect type on
  synthetic data, else their given label) and ``cluster_bars.png`` (sizes, defect rates);
- ``metrics.json`` ``clustering.<all|fold<k>>``: purity and NMI against the given labels (train rows) and, on
  synthetic data, against the planted defect types and the true good/defect labels (train and test rows), and
  per cluster its size and defect rates.
The cluster-based defect score is a model like any other (``common.cv.run_folds``): for fold k each cluster's
score is the defect rate of the given labels of fold k's training rows in it (soft-assigned for SCAN), shrunk
towards the overall rate by ``--smoothing`` pseudo-images; a row's score is its assignment-weighted cluster
score. ``oof.csv``/``test.csv``/``metrics.json`` blend with ``submissions.blend`` like every run.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from common import cluster
from common.errors import BadInput, MissingInput
from common.cli import run_cli
from common.config import RunConfig, config_to_dict, option, parse_config, parse_folds
from common.cv import FoldResult, run_folds
from common.device import DeviceOptions, resolve_device, set_threads
from common.io import atomic_path, atomic_write_csv
from common.paths import resolve_run
from common.plots import plot_image_grid
from common.run import Run, RunFolder
from common.seeding import seed_everything
from competitions.nexperia.data import (NexperiaData, NexperiaDataOptions, fill_skipped_test, load_configured,
                                        read_truth_file, record_skipped, shared_fold_of, truth_lookup)

METHODS = ("kmeans", "scan")
FEATURES_FILE = "features.npz"
CACHE_FILE = "clustering.npz"
# The options that shape the clustering: a cached clustering is reused only when they and the features match.
CLUSTERING_OPTIONS = ("method", "k", "pca", "seed", "neighbors", "entropy_weight", "hidden", "epochs",
                      "warmup_epochs", "batch_size", "lr")


@dataclass
class ClusterConfig(DeviceOptions, RunConfig, NexperiaDataOptions):
    """k-means or SCAN clusters of a feature run's embeddings, and a cluster-based defect score."""
    features: str = option(required=True, help="feature run of features.py: a folder or a run name under "
                                               "runs/nexperia")
    method: str = option("kmeans", choices=METHODS, help="kmeans, or scan (SCAN head started from k-means)")
    k: int = option(10, min=2, help="clusters (the synthetic data plants 9 defect types)")
    name: str | None = option(None, help="run name (default <features run>-<method>-k<K>)")
    pca: int | None = option(None, min=1, help="PCA components of the standardised features (default: keep all)")
    neighbors: int = option(20, min=1, help="scan: nearest neighbours (cosine) mined per image")
    entropy_weight: float = option(5.0, min=0, help="scan: weight of the entropy of the mean assignment (SCAN's 5 "
                                                    "pushes towards equal clusters; about 1 suits k=2 on 4:1 data)")
    hidden: int = option(128, min=1, help="scan: hidden units of the clustering head")
    epochs: int = option(50, min=1, help="scan: epochs of the SCAN loss")
    warmup_epochs: int = option(5, min=0, help="scan: epochs fitting the head to the k-means clusters first")
    batch_size: int = option(256, min=1, help="scan: anchors per step")
    lr: float = option(1e-3, min=0, min_exclusive=True, help="scan: Adam learning rate")
    smoothing: float = option(10.0, min=0, help="pseudo-images at the overall defect rate added to each cluster's "
                                                "defect rate")
    per_cluster: int = option(6, min=1, volatile=True, help="images per cluster in clusters.png")
    plots: bool = option(True, volatile=True, help="clusters.png and cluster_bars.png")
    threads: int = option(1, volatile=True, min=0, help="torch threads")

    def __post_init__(self):
        super().__post_init__()
        feature_files(self.features, self.runs_dir, parse_folds(self.fold, self.n_splits))
        if not self.name:
            self.name = f"{Path(self.features).name}-{self.method}-k{self.k}"


def feature_files(features: str, runs_dir: str | None, folds: list[int]) -> dict[str, Path]:
    """The feature files of run ``features`` (a folder or a run name): ``{"all": features.npz}`` for a shared
    embedding, ``{"fold<k>": fold<k>/features.npz}`` for per-fold ones; a clear error when they are missing."""
    root = resolve_run(features, "nexperia", runs_dir, option="--features")
    if (root / FEATURES_FILE).is_file():
        return {"all": root / FEATURES_FILE}
    files = {f"fold{k}": RunFolder(root).fold_path(k) / FEATURES_FILE for k in folds}
    missing = [str(path) for path in files.values() if not path.is_file()]
    if len(missing) == len(files):
        raise MissingInput(f"option --features: no {FEATURES_FILE} in {root} nor in its fold folders "
                           "(run competitions/nexperia/features.py first)")
    if missing:
        raise MissingInput(f"option --features: missing {', '.join(missing)} (embed those folds first)")
    return files


def load_features(path: Path, data: NexperiaData) -> np.ndarray:
    """Train and test rows of ``path`` stacked (train first); an error when they do not match the data."""
    with np.load(path) as cached:
        if not {"train", "test"} <= set(cached.files):
            raise BadInput(f"{path} lacks the arrays 'train' and 'test' (has {cached.files})")
        train, test = cached["train"], cached["test"]
    for split, rows, ids in (("train", train, data.train_ids), ("test", test, data.test_ids)):
        if len(rows) != len(ids):
            raise BadInput(f"{path} holds {len(rows)} {split} rows but the data has {len(ids)} {split} images "
                           "(embedded from another --data or --skip-bad?)")
    if len(test) and train.shape[1:] != test.shape[1:]:
        raise BadInput(f"{path}: train rows have shape {train.shape[1:]}, test rows {test.shape[1:]}")
    return np.concatenate([train, test]).astype(np.float32).reshape(len(train) + len(test), -1)


def make_estimator(cfg: ClusterConfig) -> cluster.KMeansClustering | cluster.SCANClustering:
    if cfg.method == "kmeans":
        return cluster.KMeansClustering(cfg.k, cfg.pca, seed=cfg.seed)
    return cluster.SCANClustering(cfg.k, cfg.neighbors, cfg.entropy_weight, cfg.hidden, cfg.epochs,
                                  cfg.warmup_epochs, cfg.batch_size, cfg.lr, pca_dim=cfg.pca, seed=cfg.seed,
                                  device=str(resolve_device(cfg.device)), progress=cfg.progress)


def clustering_key(cfg: ClusterConfig, features: np.ndarray) -> str:
    """What a cached clustering was made from: the features' bytes and the clustering options."""
    digest = hashlib.sha256(np.ascontiguousarray(features).tobytes())
    digest.update(json.dumps({k: getattr(cfg, k) for k in CLUSTERING_OPTIONS}, sort_keys=True).encode())
    return digest.hexdigest()


def fit_or_load(cfg: ClusterConfig, features: np.ndarray, folder: Path, run: Run) -> np.ndarray:
    """Soft assignments ``(N, K)`` of every row: the cached ones of ``folder`` when made from the same features and
    options (unless ``--no-resume``), else fitted now and cached."""
    path, key = folder / CACHE_FILE, clustering_key(cfg, features)
    if cfg.resume and path.is_file():
        with np.load(path) as cached:
            if str(cached["key"]) == key:
                return cached["proba"]
        if run.completed_folds():
            raise BadInput(f"the clustering cached in {path} was made from other features or options than "
                           "its finished folds' scores: use --no-resume or another --name")
    if len(features) <= cfg.neighbors and cfg.method == "scan":
        raise BadInput(f"option --neighbors {cfg.neighbors}: only {len(features)} images to mine them from")
    run.log.info(f"{cfg.method}: {cfg.k} clusters of {len(features)} images x {features.shape[1]} features")
    estimator = make_estimator(cfg).fit(features)
    if cfg.method == "scan":
        run.log.info("scan: last epoch loss %.4f (consistency %.4f, entropy %.4f)",
                     *estimator.history_[-1].values())
    proba = estimator.predict_proba(features).astype(np.float32)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, proba=proba, key=np.array(key))
    return proba


# -- what the clusters hold -------------------------------------------------------------------------
def truth_table(data: NexperiaData) -> pd.DataFrame | None:
    """Planted ``label_true`` and ``defect_type`` ('good' for good images) of the train then test rows."""
    truth = read_truth_file(data.data_dir)
    if truth is None:
        return None
    ids = np.concatenate([data.train_ids, data.test_ids]).astype(str)
    table = truth.set_index(truth["id"].astype(str)).reindex(ids)
    if table["label_true"].isna().any():
        raise BadInput(f"{data.data_dir / '_truth.csv'} lacks {int(table['label_true'].isna().sum())} image ids")
    return pd.DataFrame({"label_true": table["label_true"].astype(int).to_numpy(),
                         "defect_type": table["defect_type"].fillna("").replace("", "good").to_numpy()})


def describe(hard: np.ndarray, k: int, data: NexperiaData, truth: pd.DataFrame | None) -> dict:
    """Purity/NMI against the given labels (train rows) and the planted truth; per cluster sizes and rates."""
    n_train = len(data.train_ids)
    given = data.train_labels.astype(int)
    out = {"given": cluster.clustering_scores(given, hard[:n_train])}
    if truth is not None:
        out["defect_type"] = cluster.clustering_scores(truth["defect_type"], hard)
        out["label_true"] = cluster.clustering_scores(truth["label_true"], hard)
    rows = []
    for c in range(k):
        members = hard == c
        train = members[:n_train]
        row = {"cluster": c, "n_train": int(train.sum()), "n_test": int(members[n_train:].sum()),
               "given_defect_rate": float(given[train].mean()) if train.any() else None}
        if truth is not None:
            types = truth["defect_type"][members]
            row["true_defect_rate"] = float(truth["label_true"][members].mean()) if members.any() else None
            row["top_types"] = types.value_counts().head(3).to_dict()
        rows.append(row)
    out["clusters"] = rows
    return out


def plot_clusters(hard: np.ndarray, k: int, data: NexperiaData, truth: pd.DataFrame | None, summary: dict,
                  folder: Path, per_cluster: int, seed: int) -> None:
    """``clusters.png``: ``per_cluster`` random images of each cluster in a row; ``cluster_bars.png``."""
    n_train = len(data.train_ids)
    rng = np.random.default_rng(seed)
    shape = data.image_shape
    blank = np.ones((*shape, 3))  # RGB white: an empty cell of a cluster with fewer images
    images, titles = [], []
    for c in range(k):
        members = np.flatnonzero(hard == c)
        picked = np.sort(rng.choice(members, min(per_cluster, len(members)), replace=False))
        for j in range(per_cluster):
            head = f"cluster {c} ({len(members)})\n" if j == 0 else "\n"
            if j >= len(picked):
                images.append(blank)
                titles.append(head)
                continue
            i = picked[j]
            images.append(np.asarray(data.train_images[i] if i < n_train else data.test_images[i - n_train]))
            what = (truth["defect_type"][i] if truth is not None
                    else ("test" if i >= n_train else ("defect" if data.train_labels[i] else "good")))
            titles.append(head + what)
    plot_image_grid(images, titles, folder / "clusters.png", ncols=per_cluster)
    clusters = summary["clusters"]
    rates = {"given defect rate (train)": [np.nan if r["given_defect_rate"] is None else r["given_defect_rate"]
                                           for r in clusters]}
    if truth is not None:
        rates["true defect rate"] = [np.nan if r["true_defect_rate"] is None else r["true_defect_rate"]
                                     for r in clusters]
    cluster.plot_cluster_bars({"train": [r["n_train"] for r in clusters], "test": [r["n_test"] for r in clusters]},
                              rates, folder / "cluster_bars.png", title=f"{k} clusters")


# -- the cluster-based defect score -----------------------------------------------------------------
def fold_scores(proba: np.ndarray, fold: int, data: NexperiaData, fold_of: np.ndarray,
                smoothing: float) -> FoldResult:
    """Fold ``fold``'s validation and test scores: assignment-weighted defect rates of the clusters, counted on
    the fold's training rows."""
    n_train = len(data.train_ids)
    labels = data.train_labels.astype(int)
    train_rows, valid_rows = np.flatnonzero(fold_of != fold), np.flatnonzero(fold_of == fold)
    rates = cluster.cluster_rates(proba[train_rows], labels[train_rows], smoothing)
    score = proba @ rates
    oof = pd.DataFrame({"id": data.train_ids[valid_rows], "target": labels[valid_rows], "pred": score[valid_rows]})
    test = pd.DataFrame({"id": data.test_ids, "pred": score[n_train:]}) if len(data.test_ids) else None
    return FoldResult(oof, test, {"cluster_rates": np.round(rates, 6).tolist()})


def main(argv: list[str] | None = None) -> dict:
    cfg = parse_config(ClusterConfig, argv)
    set_threads(cfg.threads)
    seed_everything(cfg.seed)
    data = load_configured(cfg)
    folds = parse_folds(cfg.fold, cfg.n_splits)
    files = feature_files(cfg.features, cfg.runs_dir, folds)
    features = {unit: load_features(path, data) for unit, path in files.items()}
    fold_of = shared_fold_of(data, cfg)
    run = Run.open("nexperia", cfg.name, cfg.runs_dir)
    run.save_config(config_to_dict(cfg))
    record_skipped(run, data)
    truth = truth_table(data)
    ids = np.concatenate([data.train_ids, data.test_ids])
    split = np.repeat(["train", "test"], [len(data.train_ids), len(data.test_ids)])

    proba, summaries = {}, {}
    with run.lock():
        for unit, x in features.items():
            folder = run.root if unit == "all" else run.fold_dir(int(unit[4:]))
            proba[unit] = fit_or_load(cfg, x, folder, run)
            hard = proba[unit].argmax(axis=1)
            atomic_write_csv(folder / "clusters.csv", pd.DataFrame({"id": ids, "split": split, "cluster": hard}))
            summaries[unit] = describe(hard, cfg.k, data, truth)
            if cfg.plots:
                plot_clusters(hard, cfg.k, data, truth, summaries[unit], folder, cfg.per_cluster, cfg.seed)
            scores = {kind: f"purity {s['purity']:.3f} NMI {s['nmi']:.3f}" for kind, s in summaries[unit].items()
                      if kind != "clusters"}
            run.log.info(f"clustering {unit}: {scores}")
        run.update_metrics({"clustering": summaries})
        return run_folds(run, folds, lambda k: fill_skipped_test(
                             fold_scores(proba["all" if "all" in proba else f"fold{k}"], k, data, fold_of,
                                         cfg.smoothing), data, run.log),
                         n_splits=cfg.n_splits, resume=cfg.resume, truth=truth_lookup(data.data_dir))


if __name__ == "__main__":
    run_cli(main)
