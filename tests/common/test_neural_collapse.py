"""Neural-collapse metrics against values worked out by hand on small constructed examples."""
from __future__ import annotations

import numpy as np
import pytest

from common.neural_collapse import neural_collapse_metrics


def test_two_classes_by_hand():
    # mu_0 = (-1, 0), mu_1 = (1, 0), mu_G = 0; Sigma_W = diag(1/4, 1); Sigma_B = diag(1, 0)
    # -> Tr(Sigma_W Sigma_B^+) / C = (1/4) / 2; equal norms; cos = -1 = -1/(C-1).
    features = np.array([[-1.5, 1.0], [-0.5, -1.0], [1.5, 1.0], [0.5, -1.0]])
    metrics = neural_collapse_metrics(features, np.array([0, 0, 1, 1]))
    assert metrics == pytest.approx({"nc1": 0.125, "equal_norms": 0.0, "equal_angles": 0.0, "max_angle": 0.0},
                                    abs=1e-12)


def test_three_classes_by_hand():
    # Class means (2, 0), (0, 2), (0, 0); global mean (2/3, 2/3).
    # Sigma_W = [[2/3, 1/3], [1/3, 2/3]], Sigma_B = [[8/9, -4/9], [-4/9, 8/9]], Sigma_B^-1 = [[3/2, 3/4], [3/4, 3/2]]
    # Sigma_W Sigma_B^-1 = [[5/4, 1], [1, 5/4]] -> NC1 = (5/2) / 3.
    features = np.array([[1, 0], [3, 0], [0, 1], [0, 3], [-1, -1], [1, 1]], dtype=float)
    labels = np.array([0, 0, 1, 1, 2, 2])
    metrics = neural_collapse_metrics(features, labels)
    norms = np.array([np.sqrt(20), np.sqrt(20), np.sqrt(8)]) / 3
    cosines = np.array([-0.8, -4 / np.sqrt(160), -4 / np.sqrt(160)])  # (A,B), (A,C), (B,C)
    assert metrics["nc1"] == pytest.approx(5 / 6)
    assert metrics["equal_norms"] == pytest.approx(norms.std() / norms.mean())
    assert metrics["equal_angles"] == pytest.approx(cosines.std())
    assert metrics["max_angle"] == pytest.approx(np.abs(cosines + 0.5).mean())
    assert metrics["max_angle"] == pytest.approx((0.3 + 2 * (0.5 - 4 / np.sqrt(160))) / 3)


def test_collapsed_simplex_in_high_dimension():
    # Three classes at the vertices of a simplex ETF in 50-d, tiny within-class noise: all metrics near 0.
    rng = np.random.default_rng(0)
    etf = np.eye(3) - 1 / 3
    basis = np.linalg.qr(rng.normal(size=(50, 3)))[0]
    means = etf @ basis.T * 5
    labels = np.repeat([0, 1, 2], 40)
    features = means[labels] + rng.normal(0, 1e-3, size=(120, 50))
    metrics = neural_collapse_metrics(features, labels)
    assert metrics["nc1"] < 1e-5
    assert metrics["equal_norms"] < 1e-3 and metrics["equal_angles"] < 1e-3 and metrics["max_angle"] < 1e-3
    # Label relabelling (a permutation of class ids) changes nothing.
    assert neural_collapse_metrics(features, 2 - labels) == pytest.approx(metrics)


def test_global_mean_is_the_mean_of_class_means():
    # Imbalanced classes: 1 row of class 0 at (-1, 0), 3 rows of class 1 around (1, 0). mu_G = (0, 0), not
    # the row mean (0.5, 0); so the class means sit at equal distance 1 and at cosine -1.
    features = np.array([[-1.0, 0.0], [1.0, 1.0], [1.0, -1.0], [1.0, 0.0]])
    metrics = neural_collapse_metrics(features, np.array([0, 1, 1, 1]))
    # Sigma_W = diag(0, 2/4); Sigma_B = diag(1, 0): Tr(Sigma_W Sigma_B^+) = 0.
    assert metrics == pytest.approx({"nc1": 0.0, "equal_norms": 0.0, "equal_angles": 0.0, "max_angle": 0.0},
                                    abs=1e-12)


def test_rejects_one_class():
    with pytest.raises(ValueError, match="at least 2 classes"):
        neural_collapse_metrics(np.ones((3, 2)), np.zeros(3))
