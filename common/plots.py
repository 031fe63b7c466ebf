"""PNG plots saved beside runs (matplotlib Agg backend, written atomically)."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from common.io import atomic_path  # noqa: E402
from common.metrics import auc_ci, bootstrap_roc_band, roc_curve_points  # noqa: E402


def _save(fig: plt.Figure, path: str | Path) -> Path:
    """Save ``fig`` as PNG through a temporary file in the same folder, then close it."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_roc(y, scores: Mapping[str, Sequence[float]] | Sequence[float], path: str | Path,
             band_boot: int = 200, seed: int = 0, title: str = "ROC") -> Path:
    """ROC curve per model with DeLong AUC and 95% CI in the legend, and a shaded 95% pointwise
    bootstrap band of the TPR (``band_boot`` stratified resamples; 0 disables it)."""
    if not isinstance(scores, Mapping):
        scores = {"model": scores}
    fig, ax = plt.subplots(figsize=(6, 6))
    grid = np.linspace(0.0, 1.0, 201)
    for name, score in scores.items():
        auc, _, lo, hi = auc_ci(y, score)
        fpr, tpr = roc_curve_points(y, score)
        (line,) = ax.plot(fpr, tpr, lw=1.5, label=f"{name}: AUC {auc:.4f} (DeLong 95% CI {lo:.4f}-{hi:.4f})")
        if band_boot:
            band_lo, band_hi = bootstrap_roc_band(y, score, grid, n_boot=band_boot, seed=seed)
            ax.fill_between(grid, band_lo, band_hi, color=line.get_color(), alpha=0.2, lw=0)
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.01),
           title=title + (f" (shaded: 95% pointwise bootstrap band, {band_boot} resamples)" if band_boot else ""))
    ax.title.set_fontsize(9)
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def plot_score_hist(y, score, path: str | Path, bins: int = 50, title: str = "scores by class") -> Path:
    """Histograms of the scores of each class (densities, shared bins)."""
    y, score = np.asarray(y), np.asarray(score, dtype=np.float64)
    edges = np.histogram_bin_edges(score, bins=bins)
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, color in ((0, "tab:blue"), (1, "tab:red")):
        part = score[y == label]
        ax.hist(part, bins=edges, density=True, alpha=0.5, color=color, label=f"target={label} (n={part.size})")
    ax.set(xlabel="score", ylabel="density", title=title)
    ax.legend()
    return _save(fig, path)


def plot_importance(df: pd.DataFrame, path: str | Path, top: int = 40, feature: str = "feature",
                    importance: str = "importance") -> Path:
    """Horizontal bars of the ``top`` features by mean importance (with the std over rows per feature,
    e.g. over folds, as error bars when a feature appears more than once)."""
    stats = df.groupby(feature)[importance].agg(["mean", "std"]).fillna(0.0)
    stats = stats.sort_values("mean", ascending=False).head(top)[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.25 * len(stats) + 1))
    ax.barh(stats.index.astype(str), stats["mean"], xerr=stats["std"], color="tab:blue", ecolor="gray")
    ax.set(xlabel=importance, title=f"top {len(stats)} features")
    ax.tick_params(axis="y", labelsize=7)
    return _save(fig, path)


def plot_image_grid(images: Sequence[np.ndarray], titles: Sequence[str] | None, path: str | Path,
                    ncols: int = 4, cmap: str = "gray") -> Path:
    """Images (H x W grayscale or H x W x 3) in a grid with optional titles."""
    if len(images) == 0:
        raise ValueError("no images to plot")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"{len(titles)} titles for {len(images)} images")
    nrows = -(-len(images) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.5 * ncols, 2.6 * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            ax.imshow(np.asarray(images[i]), cmap=cmap)
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def plot_roc_overlay(curves: Mapping[str, tuple[Sequence[int], Sequence[float]]], path: str | Path,
                     title: str = "OOF ROC") -> Path:
    """ROC curves of several models, each with its own labels (``{name: (y, score)}``: runs need not
    share rows), the DeLong AUC and 95% CI in the legend."""
    fig, ax = plt.subplots(figsize=(6.4, 6))
    for name, (y, score) in curves.items():
        auc, _, lo, hi = auc_ci(y, score)
        fpr, tpr = roc_curve_points(y, score)
        ax.plot(fpr, tpr, lw=1.4, label=f"{name}: {auc:.4f} ({lo:.4f}-{hi:.4f})")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.01), title=title)
    if curves:
        ax.legend(loc="lower right", fontsize=7, title="AUC (DeLong 95% CI)", title_fontsize=7)
    return _save(fig, path)


def plot_corr_heatmap(corr: pd.DataFrame, path: str | Path, title: str = "Spearman correlation") -> Path:
    """A square correlation matrix as an annotated heatmap (names on both axes)."""
    n = len(corr)
    size = max(3.5, 0.6 * n + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(corr.to_numpy(dtype=np.float64), cmap="viridis", vmin=min(0.0, float(np.nanmin(corr.to_numpy()))),
                   vmax=1.0)
    ax.set_xticks(range(n), [str(c) for c in corr.columns], rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), [str(c) for c in corr.index], fontsize=8)
    if n <= 15:
        for i in range(n):
            for j in range(n):
                value = corr.iat[i, j]
                ax.text(j, i, f"{value:.3f}", ha="center", va="center", fontsize=7,
                        color="black" if value > 0.6 else "white")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_title(title, fontsize=9)
    return _save(fig, path)

