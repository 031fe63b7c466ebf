"""Neural-collapse metrics (Papyan, Han & Donoho, 2020) of penultimate-layer features with C classes.

With class means ``mu_c``, the global mean ``mu_G`` and ``d_c = mu_c - mu_G``:
- ``nc1`` within-class variability: ``Tr(Sigma_W Sigma_B^+) / C``, where ``Sigma_W`` is the mean over
  rows of ``(h - mu_c)(h - mu_c)^T`` and ``Sigma_B = (1/C) sum_c d_c d_c^T``;
- ``equal_norms``: ``Std_c ||d_c|| / Avg_c ||d_c||``;
- ``equal_angles``: Std of ``cos(d_c, d_c')`` over pairs ``c != c'``;
- ``max_angle``: Avg over pairs of ``|cos(d_c, d_c') + 1 / (C - 1)|`` (0 for a simplex ETF).
Standard deviations are population ones (ddof 0). All four shrink towards 0 as training collapses.
``mu_G`` is the average of the class means: the mean of all rows for balanced classes, as in the paper;
with imbalanced classes (Nexperia's 4:1) a row-weighted mean would put ``mu_G`` near the big class and
make ``equal_norms`` measure the class sizes. With C = 2, ``equal_norms``, ``equal_angles`` and
``max_angle`` are then 0 by construction; ``nc1`` carries the information.
"""
from __future__ import annotations

import numpy as np


def neural_collapse_metrics(features: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """The four metrics above for features ``(N, D)`` and integer class labels ``(N,)``."""
    h = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    if h.ndim != 2 or len(h) != len(labels):
        raise ValueError(f"features must be (N, D) with one label per row; got {h.shape} and {labels.shape}")
    classes = np.unique(labels)
    if len(classes) < 2:
        raise ValueError(f"neural-collapse metrics need at least 2 classes, got {classes.tolist()}")
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
    return {
        "nc1": nc1,
        "equal_norms": float(norms.std() / norms.mean()),
        "equal_angles": float(cosines.std()),
        "max_angle": float(np.abs(cosines + 1.0 / (n_classes - 1)).mean()),
    }
