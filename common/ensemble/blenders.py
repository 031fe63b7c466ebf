"""The blenders' protocol and the linear blenders: plain mean, rank mean, searched weights, hill climbing.

Every blender is a scikit-learn estimator over a prediction matrix ``P`` (rows x runs) and is used the same
way (``evaluate_blend`` and ``nested_oof`` know no blender by name or type):

- its constructor takes its hyper-parameters only (scikit-learn's rule: no data there, so ``clone`` and
  ``get_params`` work and the report can record them); row-aligned data goes to ``fit`` as scikit-learn passes
  ``sample_weight`` or ``groups``;
- ``transform(P)``: the features it computes from the run columns without labels (the columns, their ranks
  within ``P``, their logits); ``taking_features()``: an unfitted copy taking such features as they are;
- ``fit(P, y, folds=None, meta=None)``: ``folds`` is each row's fold (used by blenders that tune on the
  rows' own folds, e.g. 'lgb_stack''s inner CV; the others ignore it), ``meta`` the rows' meta-features
  (only blenders with ``takes_meta``); sets ``weights_`` and ``in_sample_`` (the blend's scores on the rows
  it was fitted on);
- ``predict(P, meta=None)``: the blend's scores of other rows (same column order as in ``fit``);
- ``report(fold_models)``: what the blend report adds about the fitted blender and its nested fits.

Class attributes say how the blend's CV is obtained: ``learns`` (``fit`` learns from the labels, so that the
CV comes from a nested OOF over the folds, ``nested_kind`` saying which) and ``shows_in_sample`` (the report
also gives the optimistic CV of the weights on the rows they were fitted on).
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, clone

from common.metrics import midranks, roc_auc

RAW = "raw"  # stackers' features: the columns as given (nested_oof hands them ranks computed over all rows)


def as_matrix(P) -> np.ndarray:
    """``P`` as a float matrix (rows x models); a one-line error for any other shape."""
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 2 or P.shape[1] == 0:
        raise ValueError(f"expected a prediction matrix (rows x models), got shape {P.shape}")
    return P


def rank_normalise(P) -> np.ndarray:
    """Each column's midranks mapped to [0, 1] (ties share a value)."""
    P = as_matrix(P)
    if P.shape[0] == 1:
        return np.full_like(P, 0.5)
    return (midranks(P) - 1.0) / (P.shape[0] - 1.0)


class Blender(BaseEstimator):
    """The protocol every blender follows (module docstring)."""

    learns = True
    nested_kind = "nested OOF (weights fitted on the other folds)"
    shows_in_sample = True
    takes_meta = False

    def transform(self, P) -> np.ndarray:
        raise NotImplementedError

    def taking_features(self) -> "Blender":
        raise NotImplementedError

    def fit(self, P, y, folds=None, meta=None) -> "Blender":
        raise NotImplementedError

    def predict(self, P, meta=None) -> np.ndarray:
        raise NotImplementedError

    def report(self, fold_models: dict[int, "Blender"]) -> dict:
        return {}

    def _no_meta(self, meta) -> None:
        if meta is not None and not self.takes_meta:
            raise ValueError(f"{type(self).__name__} takes no meta-features")


class LinearBlend(Blender):
    """Linear blend of (``rank=True``: rank-normalised) columns with weights ``weights_``; equal weights here."""

    def __init__(self, rank: bool = False):
        self.rank = rank

    def transform(self, P) -> np.ndarray:
        return rank_normalise(P) if self.rank else as_matrix(P)

    def taking_features(self) -> "LinearBlend":
        return clone(self).set_params(rank=False)

    def _fit_weights(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.full(X.shape[1], 1.0 / X.shape[1])

    def fit(self, P, y, folds=None, meta=None) -> "LinearBlend":
        """Fit weights on OOF predictions ``P`` (rows x models) and targets ``y``."""
        self._no_meta(meta)
        X = self.transform(P)
        self.weights_ = self._fit_weights(X, np.asarray(y))
        self.in_sample_ = X @ self.weights_
        return self

    def predict(self, P, meta=None) -> np.ndarray:
        """Blend scores of ``P`` (rows x models, same column order as in ``fit``)."""
        self._no_meta(meta)
        X = self.transform(P)
        if X.shape[1] != self.weights_.size:
            raise ValueError(f"blender was fitted on {self.weights_.size} models, got {X.shape[1]}")
        return X @ self.weights_


class MeanBlend(LinearBlend):
    """Plain average of the predictions."""

    learns = False


class RankMeanBlend(MeanBlend):
    """Average of the rank-normalised predictions (robust to models on different scales)."""

    def __init__(self, rank: bool = True):
        super().__init__(rank)


class WeightedBlend(LinearBlend):
    """Non-negative weights summing to 1 that maximise the OOF AUC of the weighted (rank) average.

    Nelder-Mead on ``w = |theta| / sum |theta|`` from equal weights; each vertex of the start simplex
    doubles one model's weight, a step large enough for the piecewise-constant AUC surface.
    """

    def __init__(self, rank: bool = True, max_evals: int = 400):
        self.rank = rank
        self.max_evals = max_evals

    def _fit_weights(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        m = X.shape[1]
        if m == 1:
            return np.ones(1)

        def weights(theta: np.ndarray) -> np.ndarray:
            a = np.abs(theta)
            return a / a.sum() if a.sum() > 0 else np.full(m, 1.0 / m)

        def loss(theta: np.ndarray) -> float:
            return -roc_auc(y, X @ weights(theta))

        start = np.ones(m)
        simplex = np.vstack([start, start + np.eye(m)])
        res = minimize(loss, start, method="Nelder-Mead",
                       options=dict(initial_simplex=simplex, maxfev=self.max_evals, xatol=1e-3, fatol=1e-7))
        return weights(res.x)


class HillClimbBlend(LinearBlend):
    """Caruana et al. (2004) ensemble selection: greedy forward selection with replacement on OOF AUC.

    Starts from the ``init_best`` best single models, adds ``n_iter`` times the model that most
    improves the AUC of the (rank) average, and keeps the best ensemble seen.
    """

    def __init__(self, n_iter: int = 50, init_best: int = 1, rank: bool = True):
        self.n_iter = n_iter
        self.init_best = init_best
        self.rank = rank

    def _fit_weights(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        m = X.shape[1]
        single = np.array([roc_auc(y, X[:, j]) for j in range(m)])
        counts = np.zeros(m, dtype=np.int64)
        counts[np.argsort(-single, kind="stable")[: max(1, min(self.init_best, m))]] = 1
        total = X @ counts
        best_auc, best_counts = roc_auc(y, total / counts.sum()), counts.copy()
        for _ in range(self.n_iter):
            aucs = [roc_auc(y, (total + X[:, j]) / (counts.sum() + 1)) for j in range(m)]
            j = int(np.argmax(aucs))
            counts[j] += 1
            total += X[:, j]
            if aucs[j] > best_auc:
                best_auc, best_counts = aucs[j], counts.copy()
        self.best_auc_ = best_auc
        return best_counts / best_counts.sum()
