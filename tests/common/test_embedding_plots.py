"""Embedding maps: openTSNE places a test copy of a training point beside it; MDS subsamples; PNGs written."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from common.embedding_plots import Colouring, Style, embedding_plots, mds_map, reduce, tsne_map


def _clusters(n_per: int = 60, dim: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 6, (3, dim))
    labels = np.repeat(np.arange(3), n_per)
    return centres[labels] + rng.normal(size=(len(labels), dim)), labels


def test_tsne_places_a_test_copy_of_a_training_point_next_to_it():
    x, _ = _clusters()
    picked = [5, 70, 150]
    train_2d, test_2d = tsne_map(x, x[picked] + 1e-3, seed=0)
    assert train_2d.shape == (len(x), 2) and test_2d.shape == (3, 2)
    spread = np.median(np.linalg.norm(train_2d[:, None] - train_2d[None], axis=-1))
    for row, point in zip(picked, test_2d):
        distances = np.linalg.norm(train_2d - point, axis=1)
        assert distances[row] < 0.05 * spread
        assert np.argmin(distances) == row or distances[row] - distances.min() < 0.01 * spread


def test_mds_keeps_cluster_structure_on_a_seeded_subsample():
    x, labels = _clusters(n_per=50)
    rows, points = mds_map(x, seed=3, max_points=90)
    assert len(rows) == 90 == len(np.unique(rows)) and points.shape == (90, 2)
    np.testing.assert_array_equal(rows, mds_map(x, seed=3, max_points=90)[0])
    sub = labels[rows]
    centres = np.stack([points[sub == c].mean(axis=0) for c in range(3)])
    within = np.mean([np.linalg.norm(points[sub == c] - centres[c], axis=1).mean() for c in range(3)])
    between = min(np.linalg.norm(centres[a] - centres[b]) for a in range(3) for b in range(a + 1, 3))
    assert between > 2 * within
    assert len(mds_map(x[:40], max_points=90)[0]) == 40  # fewer points than the cap: all of them


def test_reduce_fits_on_train_and_applies_to_test():
    x, _ = _clusters(dim=80)
    train, test = reduce(x[:150], x[150:], dim=50)
    assert train.shape == (150, 50) and test.shape == (30, 50)
    np.testing.assert_allclose(reduce(x[:150], x[:5], dim=50)[1], train[:5], atol=1e-8)


@pytest.mark.slow
def test_embedding_plots_write_pca_tsne_and_mds(tmp_path):
    x, labels = _clusters(n_per=30)
    kinds = np.where(labels == 2, "odd", "even")
    colourings = [Colouring("cluster", labels, {0: Style("zero", "tab:blue")}),
                  Colouring("kind", kinds, {"odd": Style("odd one", "black", highlight=True)})]
    paths = embedding_plots(x, colourings, tmp_path, seed=0, test=x[:10] + 0.1, max_mds_points=50)
    assert [p.name for p in paths] == ["pca.png", "tsne.png", "mds.png"]
    widths = {}
    for path in paths:
        with Image.open(path) as image:
            assert image.format == "PNG"
            widths[path.name] = image.size[0]
    # t-SNE has one more panel than the others: the training map with the test points placed in it.
    assert widths["tsne.png"] > widths["pca.png"] == widths["mds.png"]


def test_categories_without_a_style_get_distinct_colours():
    styles = Colouring("type", np.array(["", "scratch", "chip", "", "chip"]),
                       {"": Style("good", "lightgray")}).resolved_styles()
    assert list(styles) == ["", "chip", "scratch"] and styles[""].text == "good"
    assert styles["chip"].color != styles["scratch"].color
