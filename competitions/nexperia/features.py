"""Deep features + classical models: penultimate-layer CNN features fed to scikit-learn classifiers.

The backbone is either a trained run of ``train.py`` (``--checkpoint-run runs/nexperia/cnn``: fold k's
``best.pt`` embeds every image for fold k, so fold k's rows stay unseen by both the CNN and the
classifier) or a timm model with a local pretrained weight file (``--model resnet18 --pretrained FILE``:
one embedding for all folds). Outputs:
- ``runs/nexperia/<name>/``: cached features, ``pca.png`` and ``tsne.png`` (the first fold's rows coloured by
  given label and, for synthetic data, by the planted truth), neural-collapse metrics in ``metrics.json``;
- ``runs/nexperia/<name>-<classifier>/``: the usual ``oof.csv``/``test.csv``/``metrics.json`` per classifier
  (``logreg``, ``svm``, ``rf``, ``lda``) over the shared folds; trained with a noisy-label audit
  (``--suspects CSV --suspect-action drop``) they go to ``<name>-<classifier>-audit-<action>`` and reuse
  the cached features.

Each classifier's run goes through the fold driver (``common.cv.run_folds``): a rerun skips its finished folds.

    python competitions/nexperia/features.py --checkpoint-run runs/nexperia/cnn --name feat-cnn
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.base import ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from common.cli import run_cli
from common.config import (RunConfig, config_to_dict, option, parse_config, parse_folds,
                           volatile_options)
from common.cv import FoldResult, run_folds
from common.device import resolve_device, set_threads
from common.io import atomic_path
from common.neural_collapse import neural_collapse_metrics
from common.noisy import AUDIT_ACTIONS, apply_audit
from common.progress import progress_bar
from common.run import Run
from common.seed import seed_everything
from common.vision.data import ImageDataset, make_loader, make_transform
from common.vision.model import create_model, load_weights, parse_model_kwargs
from competitions.nexperia.data import (NexperiaData, NexperiaDataOptions, fill_skipped_test, load_configured,
                                        load_truth, record_skipped, shared_fold_of, truth_labels)

CLASSIFIERS = ("logreg", "svm", "rf", "lda")


@dataclass
class FeaturesConfig(RunConfig, NexperiaDataOptions):
    """CNN penultimate-layer features -> logistic regression, linear SVM, random forest, LDA."""
    checkpoint_run: str | None = option(None, help="train.py run folder (fold*/best.pt)")
    model: str = option("resnet18", help="timm model when no --checkpoint-run")
    model_kwargs: str | None = None
    pretrained: str | None = option(None, help="local weight file for --model")
    img_size: int = option(128, min=8, help="input size for --model (checkpoints keep theirs)")
    name: str = option("feat", help="feature run; classifiers write <name>-<classifier>")
    classifiers: list[str] = option(default_factory=lambda: list(CLASSIFIERS), choices=CLASSIFIERS, volatile=True,
                                    help="classifiers to fit, each into its own run")
    batch_size: int = option(64, min=1, help="images per embedding batch")
    threads: int = option(1, volatile=True, min=0, help="torch and scikit-learn threads")
    plots: bool = option(True, volatile=True, help="PCA and t-SNE scatter plots")
    suspects: str | None = option(None, help="suspects CSV of noisy.py to train with")
    suspect_action: str = option("drop", choices=AUDIT_ACTIONS)
    suspect_weight: float = option(0.2, min=0, help="sample weight of suspects with --suspect-action downweight")

    def __post_init__(self):
        super().__post_init__()
        if self.checkpoint_run and not Path(self.checkpoint_run).is_dir():
            raise FileNotFoundError(f"option --checkpoint-run: run folder not found: {self.checkpoint_run}")
        if not self.checkpoint_run:
            import timm
            if not timm.is_model(self.model):
                raise ValueError(f"option --model: unknown timm model {self.model!r}")
            if self.pretrained and not Path(self.pretrained).is_file():
                raise FileNotFoundError(f"pretrained weight file not found: {self.pretrained} (option --pretrained)")
        if self.suspects and not Path(self.suspects).is_file():
            raise FileNotFoundError(f"suspects file not found: {self.suspects} (option --suspects)")


def make_classifier(name: str, seed: int = 0, threads: int = 2) -> Pipeline:
    """A standardise-then-classify pipeline with ``predict_proba``."""
    models: dict[str, ClassifierMixin] = {
        "logreg": LogisticRegression(C=0.1, max_iter=3000),
        "svm": CalibratedClassifierCV(LinearSVC(C=0.01, max_iter=5000), cv=3),
        "rf": RandomForestClassifier(n_estimators=300, min_samples_leaf=2, n_jobs=threads, random_state=seed),
        "lda": LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"),
    }
    return Pipeline([("scale", StandardScaler()), ("clf", models[name])])


# -- feature extraction -----------------------------------------------------------------------------
def load_backbone(cfg: FeaturesConfig, fold: int | None) -> tuple[torch.nn.Module, int]:
    """The model whose penultimate layer embeds images, and its input size."""
    if cfg.checkpoint_run:
        path = Path(cfg.checkpoint_run) / f"fold{fold}" / "best.pt"
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint not found: {path} (train fold {fold} of that run first)")
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        spec = ckpt["model_spec"]
        model = create_model(spec["model"], None, spec["model_kwargs"])
        load_weights(model, ckpt, path, spec)
        return model, int(ckpt["config"]["img_size"])
    return create_model(cfg.model, cfg.pretrained, parse_model_kwargs(cfg.model_kwargs)), cfg.img_size


@torch.no_grad()
def embed(model: torch.nn.Module, images: np.ndarray, img_size: int, device: torch.device,
          batch_size: int = 64, progress: bool = True) -> np.ndarray:
    """Pooled penultimate-layer features ``(N, D)`` of every image (timm ``forward_head(pre_logits=True)``)."""
    model = model.to(device).eval()
    dataset = ImageDataset(images, np.arange(len(images)), transform=make_transform("none", img_size, train=False))
    out = []
    for x, _, _ in progress_bar(make_loader(dataset, batch_size, workers=0), enabled=progress, desc="features",
                                leave=False):
        out.append(model.forward_head(model.forward_features(x.to(device)), pre_logits=True).float().cpu().numpy())
    return np.concatenate(out) if out else np.empty((0, 0), np.float32)


def fold_features(cfg: FeaturesConfig, data: NexperiaData, base: Run, fold: int,
                  device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) features for ``fold``, cached in the feature run (one file per fold for checkpoints)."""
    path = base.fold_dir(fold) / "features.npz" if cfg.checkpoint_run else base.root / "features.npz"
    if path.is_file():
        cached = np.load(path)
        return cached["train"], cached["test"]
    model, img_size = load_backbone(cfg, fold)
    base.log.info(f"embedding {len(data.train_ids)} + {len(data.test_ids)} images at {img_size} px"
                  + (f" with fold {fold}'s checkpoint" if cfg.checkpoint_run else ""))
    train = embed(model, data.train_images, img_size, device, cfg.batch_size, cfg.progress)
    test = embed(model, data.test_images, img_size, device, cfg.batch_size, cfg.progress)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, train=train, test=test)
    return train, test


# -- plots ------------------------------------------------------------------------------------------
def plot_embedding(points: np.ndarray, labels: np.ndarray, truth_kind: np.ndarray | None, title: str,
                   path: Path) -> None:
    """2-D scatter coloured by given label and, when known, by planted truth (good / defect / flipped)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("given label", labels, {0: ("good", "tab:blue"), 1: ("defect", "tab:red")})]
    if truth_kind is not None:
        panels.append(("planted truth", truth_kind, {"good": ("good", "tab:blue"), "defect": ("defect", "tab:red"),
                                                      "flipped": ("defect labelled good", "black")}))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 5), squeeze=False)
    for ax, (name, values, styles) in zip(axes[0], panels):
        for value, (text, color) in styles.items():
            mask = values == value
            big = value == "flipped"
            ax.scatter(points[mask, 0], points[mask, 1], s=40 if big else 6, c=color, marker="x" if big else "o",
                       alpha=1.0 if big else 0.5, label=f"{text} ({int(mask.sum())})")
        ax.set_title(f"{title}: {name}")
        ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)


def embedding_plots(features: np.ndarray, labels: np.ndarray, truth_kind: np.ndarray | None, out: Path,
                    seed: int) -> None:
    """``pca.png`` and ``tsne.png`` of standardised features."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    x = StandardScaler().fit_transform(features)
    plot_embedding(PCA(2, random_state=seed).fit_transform(x), labels, truth_kind, "PCA", out / "pca.png")
    reduced = PCA(min(50, x.shape[1], len(x)), random_state=seed).fit_transform(x)
    tsne = TSNE(2, perplexity=min(30.0, (len(x) - 1) / 3), init="pca", random_state=seed)
    plot_embedding(tsne.fit_transform(reduced), labels, truth_kind, "t-SNE", out / "tsne.png")


def truth_kinds(ids: np.ndarray, truth: pd.DataFrame | None) -> np.ndarray | None:
    """``good``, ``defect`` or ``flipped`` (a defect labelled good) per id, from the synthetic truth."""
    if truth is None:
        return None
    t = truth.set_index(truth["id"].astype(str)).reindex(ids)
    return np.where(t["flipped"].astype(bool), "flipped", np.where(t["label_true"] == 1, "defect", "good"))


# -- the run ----------------------------------------------------------------------------------------
def fit_classifier(cfg: FeaturesConfig, name: str, train_x: np.ndarray, test_x: np.ndarray, data: NexperiaData,
                   labels: np.ndarray, weights: np.ndarray, train_rows: np.ndarray,
                   valid_rows: np.ndarray) -> FoldResult:
    """Fit classifier ``name`` on ``train_rows`` (audited labels and weights), predict the fold and the test set."""
    model = make_classifier(name, cfg.seed, cfg.threads)
    fit_params = {"clf__sample_weight": weights[train_rows]} if name != "lda" else {}
    model.fit(train_x[train_rows], labels[train_rows], **fit_params)
    oof = pd.DataFrame({"id": data.train_ids[valid_rows], "target": data.train_labels[valid_rows],
                        "pred": model.predict_proba(train_x[valid_rows])[:, 1]})
    test = pd.DataFrame({"id": data.test_ids, "pred": model.predict_proba(test_x)[:, 1]}) if len(test_x) else None
    return FoldResult(oof, test)


def main(argv: list[str] | None = None) -> dict:
    cfg = parse_config(FeaturesConfig, argv)
    set_threads(cfg.threads)
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    data = load_configured(cfg)
    fold_of = shared_fold_of(data, cfg)
    truth = load_truth(data.data_dir)
    folds = parse_folds(cfg.fold, cfg.n_splits)
    saved = config_to_dict(cfg)
    volatile = volatile_options(cfg)
    base = Run.open("nexperia", cfg.name, cfg.runs_dir)
    base.save_config({k: v for k, v in saved.items() if not k.startswith("suspect")}, volatile)
    record_skipped(base, data)
    audit_tag = f"-audit-{cfg.suspect_action}" if cfg.suspects else ""

    labels = data.train_labels.astype(int)
    weights = np.ones(len(labels))
    keep = np.ones(len(labels), dtype=bool)
    if cfg.suspects:
        labels, weights, keep = apply_audit(data.train_ids, labels, Path(cfg.suspects), cfg.suspect_action,
                                            cfg.suspect_weight)
        if cfg.suspect_action == "downweight" and "lda" in cfg.classifiers:
            base.log.warning("LDA takes no sample weights: its run ignores the down-weighting")
    shared = None if cfg.checkpoint_run else fold_features(cfg, data, base, folds[0], device)  # one for all folds
    features = {k: shared if shared is not None else fold_features(cfg, data, base, k, device) for k in folds}
    rows = {k: (np.flatnonzero((fold_of != k) & keep), np.flatnonzero(fold_of == k)) for k in folds}

    nc = {f"fold{k}": neural_collapse_metrics(features[k][0][rows[k][0]], labels[rows[k][0]]) for k in folds}
    nc["mean"] = {key: float(np.mean([v[key] for v in nc.values()])) for key in next(iter(nc.values()))}
    if cfg.plots:
        valid = rows[folds[0]][1]
        embedding_plots(features[folds[0]][0][valid], data.train_labels[valid],
                        truth_kinds(data.train_ids[valid], truth), base.root, cfg.seed)
    summary, true_of = {}, truth_labels(data.data_dir)
    for name in cfg.classifiers:
        run = Run.open("nexperia", f"{cfg.name}-{name}{audit_tag}", cfg.runs_dir)
        run.save_config({**saved, "classifier": name}, volatile)
        record_skipped(run, data)
        metrics = run_folds(run, folds, lambda k: fill_skipped_test(
                                fit_classifier(cfg, name, *features[k], data, labels, weights, *rows[k]),
                                data, run.log),
                            n_splits=cfg.n_splits, resume=cfg.resume, truth=true_of)
        summary[name] = {kind: value["auc"] for kind, value in metrics["oof"].items()}
    base.log.info(f"neural collapse (training features, given labels): {nc['mean']}")
    return base.update_metrics({f"neural_collapse{audit_tag}": nc, f"classifier_auc{audit_tag}": summary})


if __name__ == "__main__":
    run_cli(main)
