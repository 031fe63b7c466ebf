"""2-D maps of feature embeddings: PCA, t-SNE and MDS scatter plots, one panel per colouring of the points.

Features are standardised and (for t-SNE and MDS) reduced to at most 50 principal components first, all
fitted on the training points. t-SNE is openTSNE's: the map is fitted on the training points and the test
points are then placed into it (``TSNEEmbedding.transform``), so train and test share one map and a test
image lands beside the training images it resembles. MDS (scikit-learn's SMACOF, quadratic in the number of
points) runs on a seeded subsample. Plots are PNG (matplotlib Agg), written atomically.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, NamedTuple, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from common.io import atomic_path  # noqa: E402

MDS_MAX_POINTS = 600
REDUCED_DIM = 50


class Style(NamedTuple):
    """How one category is drawn: legend text, colour and whether it stands out (big cross, on top)."""
    text: str
    color: Any
    highlight: bool = False


@dataclass
class Colouring:
    """One panel: a category per point; categories without a style get the next ``tab10`` colour."""
    name: str
    values: np.ndarray
    styles: Mapping[Any, Style] = field(default_factory=dict)

    def take(self, rows: np.ndarray) -> "Colouring":
        """The same colouring of the points ``rows`` only (a subsample)."""
        return Colouring(self.name, np.asarray(self.values)[rows], self.styles)

    def resolved_styles(self) -> dict[Any, Style]:
        """A style for every category present: the given ones in their order, then the others sorted."""
        present = list(dict.fromkeys(np.asarray(self.values).tolist()))
        palette = iter(plt.get_cmap("tab10").colors * 3)
        styles = {value: style for value, style in self.styles.items() if value in present}
        for value in sorted(v for v in present if v not in styles):
            styles[value] = Style(str(value), next(palette))
        return styles


def plot_map(points: np.ndarray, colourings: Sequence[Colouring], path: str | Path, method: str,
             test_points: np.ndarray | None = None) -> Path:
    """One scatter panel per colouring of ``points`` (N, 2); with ``test_points`` one more panel: the
    training points in the first colouring's colours, faint, and the test points as grey crosses."""
    n_panels = len(colourings) + (test_points is not None)
    fig, axes = plt.subplots(1, n_panels, figsize=(5.5 * n_panels, 5), squeeze=False)
    for ax, colouring in zip(axes[0], colourings):
        _scatter(ax, points, colouring, alpha=0.55)
        ax.set_title(f"{method}: {colouring.name}", fontsize=9)
    if test_points is not None:
        ax = axes[0][-1]
        _scatter(ax, points, colourings[0], alpha=0.25)
        ax.scatter(test_points[:, 0], test_points[:, 1], s=14, c="dimgray", marker="x", linewidths=0.8,
                   label=f"test ({len(test_points)})")
        ax.legend(fontsize=7, markerscale=1.5)
        ax.set_title(f"{method}: train ({colourings[0].name}) + test placed in the train map", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    return path


def _scatter(ax: plt.Axes, points: np.ndarray, colouring: Colouring, alpha: float) -> None:
    values = np.asarray(colouring.values)
    styles = colouring.resolved_styles()
    for value, style in sorted(styles.items(), key=lambda item: item[1].highlight):  # highlights on top
        mask = values == value
        ax.scatter(points[mask, 0], points[mask, 1], s=40 if style.highlight else 6, c=[style.color],
                   marker="x" if style.highlight else "o", alpha=1.0 if style.highlight else alpha,
                   label=f"{style.text} ({int(mask.sum())})")
    ax.legend(fontsize=7, markerscale=1.5)


def reduce(train: np.ndarray, test: np.ndarray | None = None, dim: int = REDUCED_DIM,
           seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """Standardise, then project on the first ``dim`` principal components (both fitted on ``train``)."""
    scaler = StandardScaler().fit(train)
    pca = PCA(min(dim, train.shape[1], len(train)), random_state=seed).fit(scaler.transform(train))
    project = lambda x: pca.transform(scaler.transform(x))  # noqa: E731
    return project(train), (project(test) if test is not None and len(test) else None)


def tsne_map(train: np.ndarray, test: np.ndarray | None = None, seed: int = 0,
             threads: int = 1) -> tuple[np.ndarray, np.ndarray | None]:
    """openTSNE map of ``train`` (N, D) and the points of ``test`` placed into it (``transform``)."""
    from openTSNE import TSNE

    perplexity = min(30.0, (len(train) - 1) / 3)
    embedding = TSNE(perplexity=perplexity, random_state=seed, n_jobs=max(1, threads)).fit(train)
    placed = np.asarray(embedding.transform(test)) if test is not None and len(test) else None
    return np.asarray(embedding), placed


def mds_map(x: np.ndarray, seed: int = 0, max_points: int = MDS_MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Metric MDS of at most ``max_points`` rows of ``x`` (a seeded subsample): ``(rows, points (n, 2))``."""
    from sklearn.manifold import MDS

    rows = np.arange(len(x))
    if len(x) > max_points:
        rows = np.sort(np.random.default_rng(seed).choice(len(x), max_points, replace=False))
    mds = MDS(n_components=2, n_init=1, init="classical_mds", random_state=seed)
    return rows, mds.fit_transform(x[rows])


def embedding_plots(features: np.ndarray, colourings: Sequence[Colouring], out: str | Path, seed: int = 0,
                    test: np.ndarray | None = None, threads: int = 1,
                    max_mds_points: int = MDS_MAX_POINTS) -> list[Path]:
    """``pca.png``, ``tsne.png`` (with ``test`` placed in the training map) and ``mds.png`` in ``out``."""
    out = Path(out)
    reduced, reduced_test = reduce(features, test, seed=seed)
    train_2d, test_2d = tsne_map(reduced, reduced_test, seed, threads)
    rows, mds_2d = mds_map(reduced, seed, max_mds_points)
    subsample = f" ({len(rows)} of {len(features)} points)" if len(rows) < len(features) else ""
    return [plot_map(reduced[:, :2], colourings, out / "pca.png", "PCA"),
            plot_map(train_2d, colourings, out / "tsne.png", "t-SNE", test_2d),
            plot_map(mds_2d, [c.take(rows) for c in colourings], out / "mds.png", f"MDS{subsample}")]
