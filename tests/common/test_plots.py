import struct

import numpy as np
import pandas as pd
import pytest

from common.plots import plot_image_grid, plot_importance, plot_roc, plot_score_hist


def _png_size(path) -> tuple[int, int]:
    """Width and height from a PNG header; fails if the file is not a PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture
def scored():
    rng = np.random.default_rng(0)
    y = (rng.random(500) < 0.3).astype(int)
    return y, rng.normal(size=500) + y, np.round(rng.normal(size=500) + 0.5 * y, 1)


def _check_png(path, min_w=300, min_h=200):
    w, h = _png_size(path)
    assert min_w <= w <= 3000 and min_h <= h <= 3000
    assert not list(path.parent.glob(".*.tmp"))  # no temporary file left behind


def test_roc_and_hist(tmp_path, scored):
    y, a, b = scored
    _check_png(plot_roc(y, {"a": a, "b": b}, tmp_path / "roc.png", band_boot=50))
    _check_png(plot_roc(y, a, tmp_path / "roc_single.png", band_boot=0))
    _check_png(plot_score_hist(y, a, tmp_path / "hist.png"))


def test_importance(tmp_path):
    rng = np.random.default_rng(1)
    imp = pd.DataFrame({"feature": [f"f{i}" for i in range(60)] * 2, "importance": rng.random(120)})
    _check_png(plot_importance(imp, tmp_path / "imp.png", top=40), min_h=400)


def test_image_grid_overwrites_atomically(tmp_path):
    images = [np.random.default_rng(i).random((32, 40)) for i in range(5)]
    path = tmp_path / "grid.png"
    plot_image_grid(images, [f"img {i}" for i in range(5)], path, ncols=3)
    _check_png(path)
    plot_image_grid(images[:2], None, path, ncols=2)
    _check_png(path, min_w=200, min_h=100)
    with pytest.raises(ValueError, match="2 titles for 5 images"):
        plot_image_grid(images, ["a", "b"], tmp_path / "bad.png")
