"""Stacking: a meta-model on the runs' predictions, a logistic regression (``StackBlend``, 'stack') or a small
LightGBM (``LGBStackBlend``, 'lgb_stack') that can also take meta-features. Both follow the blenders' protocol
(``common.ensemble.blenders``); their honest CV is ``nested_oof`` over the folds, as for every blender that
learns from the labels.
"""
from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from common.errors import BadInput
from common.ensemble.blenders import RAW, Blender, as_matrix, rank_normalise


def stacker_features(P, features: str, logit: bool) -> np.ndarray:
    """A stacker's view of the run columns: their ranks in [0, 1] ('rank'), as given ('raw', the ranks
    ``nested_oof`` computed over all rows) or, where ``logit``, the logits of probabilities ('logit')."""
    P = as_matrix(P)
    if features == "rank":
        return rank_normalise(P)
    if features == RAW:
        return P
    if features == "logit" and logit:
        outside = np.flatnonzero(((P < 0) | (P > 1)).any(axis=0))
        if outside.size:
            raise BadInput(f"features='logit' needs probabilities in [0, 1]; column(s) "
                           f"{outside.tolist()} are not: use features='rank'")
        p = np.clip(P, 1e-6, 1 - 1e-6)
        return np.log(p / (1 - p))
    known = "'rank' or 'logit'" if logit else "'rank' or 'raw'"
    raise BadInput(f"unknown features {features!r}; use {known}")


class StackBlend(Blender):
    """Logistic regression on rank-normalised (``features='rank'``) or logit (``'logit'``) predictions."""

    nested_kind = "nested OOF of the stacker"
    shows_in_sample = False

    def __init__(self, features: str = "rank", C: float = 1.0):
        self.features = features
        self.C = C

    def transform(self, P) -> np.ndarray:
        return stacker_features(P, self.features, logit=True)

    def taking_features(self) -> "StackBlend":
        return clone(self).set_params(features=RAW)

    def fit(self, P, y, folds=None, meta=None) -> "StackBlend":
        self._no_meta(meta)
        self.model_ = LogisticRegression(C=self.C, max_iter=1000).fit(self.transform(P), np.asarray(y))
        self.weights_ = self.model_.coef_.ravel().copy()
        self.in_sample_ = self.predict(P)
        return self

    def predict(self, P, meta=None) -> np.ndarray:
        """Stacker's decision function (log-odds) for ``P``."""
        self._no_meta(meta)
        return self.model_.decision_function(self.transform(P))


class LGBStackBlend(Blender):
    """Stacking with a small, regularised LightGBM meta-model on the runs' predictions plus optional
    meta-features (duplicate flags, image statistics, an adversarial score...).

    Features: the runs' columns rank-normalised (``features='rank'``: ranks over all OOF rows in the
    nested fits, within the matrix given to ``predict``) or as given (``'raw'``), then the meta-feature
    columns as given. The trees boost from a logistic regression on the runs' columns fitted on the same
    rows (``init='logistic'``; ``'none'`` boosts from the base rate), so they only learn what the linear
    stack misses (interactions with the meta-features); with nothing to learn the blend stays the
    logistic stack instead of a coarse step function. The trees are kept small: ``num_leaves`` leaves, at
    least ``min_data_in_leaf`` rows per leaf (capped at a quarter of the training rows for tiny data), L2
    penalty ``lambda_l2``, at most ``n_rounds`` rounds at ``learning_rate``, and (``monotone=True``) a
    blend that can only rise with each run's score. ``inner_cv=True``: the number of rounds is chosen by
    early stopping (``early_stopping_rounds``) in a CV over the training rows' own folds, never looking at
    the held-out fold (it boosts from the start fitted on all those training rows: only the round count
    comes from it); ``inner_cv=False``: ``n_rounds`` fixed. Deterministic (``deterministic``, one
    thread, no bagging, fixed ``seed``).

    In ``nested_oof`` the meta-model for held-out fold k (its logistic start, its rounds, its trees) is fitted
    on the other folds' rows only (their folds drive its inner CV). ``weights_``: each run column's share of the
    trees' total split gain (the meta-features' shares are in ``meta_importance_``; the logistic start's
    coefficients in ``start_coef_``).
    """

    nested_kind = "nested OOF of the stacker"
    shows_in_sample = False
    takes_meta = True

    def __init__(self, features: str = "rank", num_leaves: int = 4, min_data_in_leaf: int = 50,
                 n_rounds: int = 150, learning_rate: float = 0.05, lambda_l2: float = 10.0,
                 monotone: bool = True, inner_cv: bool = True, early_stopping_rounds: int = 20,
                 init: str = "logistic", seed: int = 0):
        self.features = features
        self.num_leaves = num_leaves
        self.min_data_in_leaf = min_data_in_leaf
        self.n_rounds = n_rounds
        self.learning_rate = learning_rate
        self.lambda_l2 = lambda_l2
        self.monotone = monotone
        self.inner_cv = inner_cv
        self.early_stopping_rounds = early_stopping_rounds
        self.init = init
        self.seed = seed

    def transform(self, P) -> np.ndarray:
        """The runs' columns as the trees see them (the meta-features follow them unchanged)."""
        return stacker_features(P, self.features, logit=False)

    def taking_features(self) -> "LGBStackBlend":
        return clone(self).set_params(features=RAW)

    def _features(self, P, meta=None) -> np.ndarray:
        X = self.transform(P)
        n_meta = getattr(self, "n_meta_", None)
        if meta is None:
            if n_meta:
                raise ValueError(f"the meta-model was fitted with {n_meta} meta-feature(s); pass meta=")
            return X
        meta = np.asarray(meta, dtype=np.float64).reshape(len(X), -1)
        if n_meta is not None and meta.shape[1] != n_meta:
            raise ValueError(f"the meta-model was fitted with {n_meta} meta-feature(s), got {meta.shape[1]}")
        return np.hstack([X, meta])

    def _params(self, n_rows: int, n_runs: int, n_cols: int) -> dict:
        params = dict(objective="binary", num_leaves=self.num_leaves, learning_rate=self.learning_rate,
                      min_data_in_leaf=max(2, min(self.min_data_in_leaf, n_rows // 4)),
                      lambda_l2=self.lambda_l2, max_bin=63, bagging_fraction=1.0, feature_fraction=1.0,
                      num_threads=1, deterministic=True, force_col_wise=True, seed=self.seed,
                      feature_pre_filter=False, verbose=-1)
        if self.monotone:
            params["monotone_constraints"] = [1] * n_runs + [0] * (n_cols - n_runs)
        return params

    def _rounds(self, X: np.ndarray, y: np.ndarray, folds, params: dict, margin=None) -> int:
        """``n_rounds``, or the early-stopped round count of an inner CV over the training folds."""
        if not self.inner_cv or folds is None or len(np.unique(folds)) < 2:
            return self.n_rounds
        folds = np.asarray(folds)
        splits = [(np.flatnonzero(folds != k), np.flatnonzero(folds == k)) for k in np.unique(folds)]
        data = lgb.Dataset(X, y, init_score=margin, params=params)
        result = lgb.cv(params, data, num_boost_round=self.n_rounds, folds=splits, stratified=False, seed=self.seed,
                        callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)])
        return max(1, len(next(iter(result.values()))))

    def _fit_one(self, X: np.ndarray, y: np.ndarray, n_runs: int, folds=None) -> "_Boosted":
        """The logistic start (``init='logistic'``) and the boosted trees on top of it, fitted on these rows."""
        if len(np.unique(y)) < 2:
            raise BadInput("the meta-model needs both classes among its training rows")
        if self.init not in ("logistic", "none"):
            raise BadInput(f"unknown init {self.init!r}; use 'logistic' or 'none'")
        start = None
        if self.init == "logistic":
            start = LogisticRegression(C=1.0, max_iter=1000).fit(X[:, :n_runs], y)
        margin = start.decision_function(X[:, :n_runs]) if start is not None else None
        params = self._params(len(X), n_runs, X.shape[1])
        rounds = self._rounds(X, y, folds, params, margin)
        booster = lgb.train(params, lgb.Dataset(X, y, init_score=margin, params=params), num_boost_round=rounds)
        return _Boosted(start, booster, n_runs, rounds)

    def fit(self, P, y, folds=None, meta=None) -> "LGBStackBlend":
        """Fit on OOF predictions ``P`` (rows x runs), targets ``y`` and optional ``meta`` (rows x features);
        ``folds`` (each row's fold) drive the inner CV choosing the number of rounds."""
        P, y = as_matrix(P), np.asarray(y)
        if folds is not None and len(folds) != len(P):
            raise ValueError(f"P, y and folds have {len(P)}, {len(y)} and {len(folds)} rows")
        self.n_meta_ = None
        X = self._features(P, meta)
        self.n_runs_, self.n_meta_ = P.shape[1], X.shape[1] - P.shape[1]
        self.model_ = self._fit_one(X, y, self.n_runs_, folds)
        self.rounds_ = self.model_.rounds
        gain = self.model_.booster.feature_importance(importance_type="gain").astype(np.float64)
        share = gain / gain.sum() if gain.sum() > 0 else np.zeros_like(gain)
        self.weights_ = share[: self.n_runs_]
        self.meta_importance_ = share[self.n_runs_:]
        start = self.model_.start
        self.start_coef_ = start.coef_.ravel().copy() if start is not None else np.zeros(self.n_runs_)
        self.in_sample_ = self.model_.predict(X)
        return self

    def predict(self, P, meta=None) -> np.ndarray:
        """The meta-model's log-odds for ``P`` (rows x runs, same order as in ``fit``) and ``meta``."""
        P = as_matrix(P)
        if P.shape[1] != self.n_runs_:
            raise ValueError(f"meta-model was fitted on {self.n_runs_} runs, got {P.shape[1]}")
        return self.model_.predict(self._features(P, meta))

    def report(self, fold_models: dict[int, Blender]) -> dict:
        """The meta-model's rounds (overall and per nested fold) and parameters."""
        fold_rounds = {k: model.rounds_ for k, model in fold_models.items()}
        return {"meta_model": {"rounds": int(self.rounds_), "params": self.get_params(),
                               **({"fold_rounds": fold_rounds} if fold_rounds else {})}}


@dataclass
class _Boosted:
    """A logistic start on the runs' columns (or none) plus boosted trees: log-odds = start + trees."""

    start: LogisticRegression | None
    booster: lgb.Booster
    n_runs: int
    rounds: int

    def predict(self, X: np.ndarray) -> np.ndarray:
        trees = self.booster.predict(X, raw_score=True)
        return trees if self.start is None else trees + self.start.decision_function(X[:, : self.n_runs])
