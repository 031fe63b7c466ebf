"""Scattering embedder: kymatio's coefficient count, determinism, the log option, and that it separates two
textures that have the same grey-level statistics."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from common.metrics import roc_auc
from common.vision.scattering import ScatteringEmbedder, n_coefficients

torch.set_num_threads(1)  # a crowded 2-core machine runs one thread far faster than two


@pytest.mark.parametrize("size,J,L", [(32, 2, 4), (16, 3, 8)])
def test_shape_matches_kymatio_and_is_deterministic(size, J, L):
    torch.manual_seed(0)
    x = torch.rand(3, 2, size, size)
    embedder = ScatteringEmbedder(size, J=J, L=L)
    features = embedder(x)
    maps = embedder.scattering(x)  # (B, C, K, size / 2**J, size / 2**J)
    assert maps.shape[2] == n_coefficients(J, L) and maps.shape[-1] == size // 2 ** J
    assert features.shape == (3, 2 * n_coefficients(J, L))
    torch.testing.assert_close(features, maps.mean(dim=(-2, -1)).flatten(1))
    torch.testing.assert_close(ScatteringEmbedder(size, J=J, L=L)(x), features, rtol=0, atol=0)


def test_log_compresses_orders_one_and_two_only():
    x = torch.rand(2, 1, 16, 16) - 0.5  # negative mean: the order-0 average can be negative
    plain = ScatteringEmbedder(16, J=2, L=4)(x)
    logged = ScatteringEmbedder(16, J=2, L=4, log=True, log_eps=1e-6)(x)
    torch.testing.assert_close(logged[:, 0], plain[:, 0])
    torch.testing.assert_close(logged[:, 1:], torch.log(plain[:, 1:] + 1e-6))
    assert (plain[:, 1:] > 0).all() and torch.isfinite(logged).all()


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="at least 2\\*\\*J = 32 px"):
        ScatteringEmbedder(16, J=5)
    with pytest.raises(ValueError, match="expected images"):
        ScatteringEmbedder(16, J=2)(torch.rand(1, 1, 20, 20))


def _gratings(n: int, vertical: bool, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """Sinusoidal gratings of random frequency and phase plus noise: every image has grey mean ~0, std ~0.8."""
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    axis = xx if vertical else yy
    freq = rng.uniform(0.15, 0.35, (n, 1, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1))
    return np.sin(freq * axis + phase) + 0.3 * rng.normal(size=(n, size, size))


def test_separates_a_planted_texture_difference_that_grey_statistics_miss():
    rng = np.random.default_rng(0)
    images = np.concatenate([_gratings(60, False, rng), _gratings(60, True, rng)]).astype(np.float32)
    y = np.repeat([0, 1], 60)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))

    def cv_auc(x):
        return roc_auc(y, cross_val_predict(model, x, y, cv=5, method="predict_proba")[:, 1])

    scattering = ScatteringEmbedder(32, J=2, L=4, log=True)(torch.from_numpy(images)[:, None]).numpy()
    grey = np.column_stack([images.mean(axis=(1, 2)), images.std(axis=(1, 2))])
    assert cv_auc(scattering) > 0.99
    assert cv_auc(grey) < 0.75  # the classes differ only in orientation
