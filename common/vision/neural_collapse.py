"""Neural-collapse metrics (Papyan, Han & Donoho, 2020) of penultimate-layer features with C classes.

With class means ``mu_c``, the global mean ``mu_G`` and ``d_c = mu_c - mu_G``:
- ``nc1`` within-class variability: ``Tr(Sigma_W Sigma_B^+) / C``, where ``Sigma_W`` is the mean over
  rows of ``(h - mu_c)(h - mu_c)^T`` and ``Sigma_B = (1/C) sum_c d_c d_c^T``;
- ``equal_norms``: ``Std_c ||d_c|| / Avg_c ||d_c||``;
- ``equal_angles``: Std of ``cos(d_c, d_c')`` over pairs ``c != c'``;
- ``max_angle``: Avg over pairs of ``|cos(d_c, d_c') + 1 / (C - 1)|`` (0 for a simplex ETF).
Given the last layer (logits ``W h + b``, ``W`` of shape (C, D)), also:
- ``nc3`` self-duality: ``|| W^T / ||W||_F - M / ||M||_F ||_F`` with ``M = [d_1 ... d_C]`` (D x C);
  0 when the classifier rows are the centred class means up to one scale, at most 2;
- ``nc4`` simplification to the nearest class centre: the share of rows where the network's decision
  ``argmax_c (W h + b)_c`` differs from ``argmin_c ||h - mu_c||``.
Standard deviations are population ones (ddof 0). All six shrink towards 0 as training collapses.
``mu_G`` is the average of the class means: the mean of all rows for balanced classes, as in the paper;
with imbalanced classes (Nexperia's 4:1) a row-weighted mean would put ``mu_G`` near the big class and
make ``equal_norms`` measure the class sizes. With C = 2, ``equal_norms``, ``equal_angles`` and
``max_angle`` are then 0 by construction; ``nc1``, ``nc3`` and ``nc4`` carry the information.

A binary head with ONE logit ``z = w . h + b`` (``P(y=1) = sigmoid(z)``) is the C = 2 softmax head whose
logit difference ``z_1 - z_0`` is ``z``. Of all such heads the one with rows summing to zero, like the
columns of ``M``, is taken: rows ``[-w/2, +w/2]``, biases ``[-b/2, +b/2]``. Since then
``M = [-delta/2, +delta/2]`` with ``delta = mu_1 - mu_0``, ``nc3 = || w/||w|| - delta/||delta|| || =
sqrt(2 - 2 cos(w, delta))``; and ``nc4`` is the share of rows where ``z > 0`` differs from
``||h - mu_1|| < ||h - mu_0||`` (ties go to class 0 on both sides).
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist

from common.errors import BadInput


def neural_collapse_metrics(features: np.ndarray, labels: np.ndarray, weight: np.ndarray | None = None,
                            bias: np.ndarray | float | None = None) -> dict[str, float]:
    """The metrics above for features ``(N, D)`` and integer class labels ``(N,)``.

    Always ``nc1``, ``equal_norms``, ``equal_angles``, ``max_angle``; with the classifier ``weight`` also
    ``nc3`` and ``nc4``. ``weight`` is ``(C, D)`` (row c scores class c; labels must then be 0..C-1, all
    present) or one logit ``(D,)`` / ``(1, D)`` for labels 0/1 (class 1 when the logit is positive);
    ``bias`` ``(C,)`` or the one logit's scalar, default 0."""
    h = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    if h.ndim != 2 or len(h) != len(labels):
        raise BadInput(f"features must be (N, D) with one label per row; got {h.shape} and {labels.shape}")
    classes = np.unique(labels)
    if len(classes) < 2:
        raise BadInput(f"neural-collapse metrics need at least 2 classes, got {classes.tolist()}")
    if weight is None and bias is not None:
        raise ValueError("a bias needs its classifier weight")
    n_classes = len(classes)
    means = np.stack([h[labels == c].mean(axis=0) for c in classes])
    deltas = means - means.mean(axis=0)
    centered = h - means[np.searchsorted(classes, labels)]

    # Sigma_B = (1/C) M M^T with M = deltas^T (D x C) = U S V^T, so Sigma_B^+ = C U S^-2 U^T and
    # Tr(Sigma_W Sigma_B^+) / C = sum_k u_k^T Sigma_W u_k / s_k^2, without any D x D matrix.
    u, s, _ = np.linalg.svd(deltas.T, full_matrices=False)
    keep = s > s.max() * 1e-10
    projected = centered @ u[:, keep]
    within = (projected ** 2).sum(axis=0) / len(h)
    nc1 = float((within / s[keep] ** 2).sum())

    norms = np.linalg.norm(deltas, axis=1)
    unit = deltas / norms[:, None]
    pairs = np.triu_indices(n_classes, k=1)
    cosines = (unit @ unit.T)[pairs]
    metrics = {
        "nc1": nc1,
        "equal_norms": float(norms.std() / norms.mean()),
        "equal_angles": float(cosines.std()),
        "max_angle": float(np.abs(cosines + 1.0 / (n_classes - 1)).mean()),
    }
    if weight is None:
        return metrics
    rows, offsets = class_rows(weight, bias, h.shape[1])
    if not np.array_equal(classes, np.arange(len(rows))):
        raise ValueError(f"a classifier of {len(rows)} classes needs labels 0..{len(rows) - 1}, each present; "
                         f"got {classes.tolist()}")
    network = np.argmax(h @ rows.T + offsets, axis=1)
    nearest = np.argmin(cdist(h, means, "sqeuclidean"), axis=1)
    metrics["nc3"] = float(np.linalg.norm(rows.T / np.linalg.norm(rows) - deltas.T / np.linalg.norm(deltas)))
    metrics["nc4"] = float(np.mean(network != nearest))
    return metrics


def class_rows(weight: np.ndarray, bias: np.ndarray | float | None, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """The classifier as (C, D) weight rows and (C,) biases; one logit ``w . h + b`` becomes the zero-sum
    two-class head ``[-w/2, +w/2]``, ``[-b/2, +b/2]`` (module docstring)."""
    rows = np.atleast_2d(np.asarray(weight, dtype=np.float64))
    offsets = np.zeros(len(rows)) if bias is None else np.atleast_1d(np.asarray(bias, dtype=np.float64))
    if rows.ndim != 2 or rows.shape[1] != dim or offsets.shape != (len(rows),):
        raise ValueError(f"classifier weight {np.shape(weight)} / bias {np.shape(bias)} do not fit "
                         f"{dim}-dimensional features: weight (C, {dim}) or ({dim},), bias (C,) or a scalar")
    if len(rows) == 1:
        return np.concatenate([-rows / 2, rows / 2]), np.concatenate([-offsets / 2, offsets / 2])
    return rows, offsets
