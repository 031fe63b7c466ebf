"""Neural-collapse metrics against values worked out by hand on small constructed examples."""
from __future__ import annotations

import numpy as np
import pytest

from common.vision.neural_collapse import neural_collapse_metrics


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


# Class 0 at x = 0, 1, 2 (mean (1, 0)), class 1 at x = 5, 6, 7 (mean (6, 0)): the nearest class centre
# says 1 exactly when x > 3.5.
LINE = np.array([[0, 0], [1, 0], [2, 0], [5, 0], [6, 0], [7, 0]], dtype=float)
LINE_LABELS = np.array([0, 0, 0, 1, 1, 1])


def test_collapsed_features_and_aligned_logit_give_zero():
    # Every row at its class mean (0, 1) or (2, 1); w parallel to mu_1 - mu_0, boundary midway at x = 1.
    features = np.array([[0, 1], [0, 1], [2, 1], [2, 1]], dtype=float)
    metrics = neural_collapse_metrics(features, np.array([0, 0, 1, 1]), np.array([3.0, 0.0]), -3.0)
    assert set(metrics) == {"nc1", "equal_norms", "equal_angles", "max_angle", "nc3", "nc4"}
    assert metrics == pytest.approx(dict.fromkeys(metrics, 0.0), abs=1e-12)


def test_orthogonal_logit():
    # w = (0, 1) is orthogonal to mu_1 - mu_0 = (5, 0): nc3 = sqrt(2 - 2 cos 90 deg) = sqrt(2). With b = 1
    # every logit is 1 > 0, so the network says 1 for the 3 rows the nearest centre gives class 0.
    metrics = neural_collapse_metrics(LINE, LINE_LABELS, np.array([0.0, 1.0]), 1.0)
    assert metrics["nc3"] == pytest.approx(np.sqrt(2))
    assert metrics["nc4"] == pytest.approx(0.5)
    # Pointing the other way: nc3 = 2 (its largest value), every decision flipped.
    flipped = neural_collapse_metrics(LINE, LINE_LABELS, np.array([-1.0, 0.0]), 3.5)
    assert (flipped["nc3"], flipped["nc4"]) == pytest.approx((2.0, 1.0))


@pytest.mark.parametrize("bias, share", [(-3.5, 0.0), (-5.5, 1 / 6), (-0.5, 2 / 6), (-6.5, 2 / 6), (0.5, 0.5)])
def test_bias_that_moves_the_boundary_gives_the_share_of_flipped_decisions(bias, share):
    # w = (1, 0): the network says 1 when x > -bias; the nearest centre when x > 3.5.
    # -5.5: x = 5 flips; -0.5: x = 1, 2; -6.5: x = 5, 6; 0.5: x = 0, 1, 2.
    metrics = neural_collapse_metrics(LINE, LINE_LABELS, np.array([[1.0, 0.0]]), np.array([bias]))
    assert metrics["nc3"] == pytest.approx(0.0, abs=1e-12)
    assert metrics["nc4"] == pytest.approx(share)


def test_one_logit_is_the_zero_sum_two_row_head():
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], [30, 10])
    features = rng.normal(size=(40, 5)) + labels[:, None] * rng.normal(size=5)
    w, b = rng.normal(size=5), 0.3
    one = neural_collapse_metrics(features, labels, w, b)
    two = neural_collapse_metrics(features, labels, np.stack([-w / 2, w / 2]), np.array([-b / 2, b / 2]))
    assert one == pytest.approx(two)
    delta = features[labels == 1].mean(axis=0) - features[labels == 0].mean(axis=0)
    cosine = w @ delta / np.linalg.norm(w) / np.linalg.norm(delta)
    assert one["nc3"] == pytest.approx(np.sqrt(2 - 2 * cosine))
    assert one["nc4"] == pytest.approx(np.mean((features @ w + b > 0) != (
        np.linalg.norm(features - features[labels == 1].mean(axis=0), axis=1)
        < np.linalg.norm(features - features[labels == 0].mean(axis=0), axis=1))))


def test_nearest_centre_head_of_three_classes():
    # Rows W_c = s * (mu_c - mu_G), biases b_c = -s ||mu_c||^2 / 2 score s (h . mu_c - ||mu_c||^2 / 2) less
    # s h . mu_G, the same for every class: the nearest-centre rule itself, for any rows. nc3 = 0, nc4 = 0.
    rng = np.random.default_rng(2)
    labels = np.repeat([0, 1, 2], 20)
    features = rng.normal(size=(60, 4)) + 2 * rng.normal(size=(3, 4))[labels]
    means = np.stack([features[labels == c].mean(axis=0) for c in range(3)])
    head = 4 * (means - means.mean(axis=0)), -4 * (means ** 2).sum(axis=1) / 2
    metrics = neural_collapse_metrics(features, labels, *head)
    assert metrics["nc3"] == pytest.approx(0.0, abs=1e-12) and metrics["nc4"] == 0.0
    # Without the biases the classes' different distances from the origin move the decisions.
    unbiased = neural_collapse_metrics(features, labels, head[0])
    network = np.argmax(features @ head[0].T, axis=1)
    nearest = np.argmin(((features[:, None] - means[None]) ** 2).sum(axis=2), axis=1)
    assert unbiased["nc4"] == pytest.approx(np.mean(network != nearest)) and unbiased["nc4"] > 0


def test_rejects_a_classifier_that_does_not_fit():
    with pytest.raises(ValueError, match="needs labels 0..1"):
        neural_collapse_metrics(LINE, LINE_LABELS + 1, np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="do not fit 2-dimensional"):
        neural_collapse_metrics(LINE, LINE_LABELS, np.ones(3))
    with pytest.raises(ValueError, match="do not fit"):
        neural_collapse_metrics(LINE, LINE_LABELS, np.ones((2, 2)), 0.0)
    with pytest.raises(ValueError, match="bias needs"):
        neural_collapse_metrics(LINE, LINE_LABELS, bias=0.0)
