"""Blending the prediction files of several runs, aligned by id.

``align`` checks that every run predicted the same ids with the same folds and targets and builds the
matrices. Blenders follow scikit-learn's protocol: ``fit(P, y, folds=None)``, ``predict(P)``,
``weights_``, ``oof_`` (the blend's score on the rows it was fitted on).

Honesty of OOF scores: weights searched on the same OOF rows they are scored on are optimistic
(``WeightedBlend``, ``HillClimbBlend`` in-sample). ``nested_oof`` refits a blender on the other folds
and predicts each held-out fold, giving an honest estimate; ``StackBlend`` does this by itself when it
is given folds. Blenders that rank-normalise predict ranks within the matrix they are given (the test
set, or all OOF rows). In ``nested_oof`` the rank features are computed once over all OOF rows (no label
is used) and the blenders fitted on the other folds take them as they are: ranking each held-out fold
on its own would remove the offsets between folds, which alone raises the pooled AUC of any single
run, so the blend's CV would not be comparable with the runs' OOF AUCs (nor would the DeLong test).
With these global ranks, the nested OOF of a "blend" of one run (or of copies of it) has exactly that
run's pooled OOF AUC.

``LGBStackBlend`` ('lgb_stack') stacks with a small LightGBM meta-model, optionally on meta-features
attached to the aligned rows by ``attach_meta`` (a frame keyed by id), nested over the folds as ``StackBlend``.

``evaluate_blend`` is the one report of a blend (``submissions.blend``, ``vae.py --blend-with``): each
run's OOF AUC with its DeLong CI, the blend's honest CV, a paired DeLong test of the blend against the
best run, and the weights.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LogisticRegression

import lightgbm as lgb

from common.errors import BadInput
from common.metrics import auc_summary, delong_test, midranks, roc_auc

OOF_COLUMNS = ("id", "fold", "target", "pred")
SINGLE = "single"                      # the method of a one-run "blend"
FITTED_WEIGHTS = ("weighted", "hill")  # weights searched on the OOF rows: their CV must come from nested OOF
TEST_COLUMNS = ("id", "pred")
_SHOW = 5  # ids shown in error messages


@dataclass(frozen=True)
class Aligned:
    """OOF and test predictions of several runs, rows aligned by id (order of the first run)."""

    names: list[str]
    ids: np.ndarray
    folds: np.ndarray
    y: np.ndarray
    oof: np.ndarray  # (n, m): column j is run names[j]
    test_ids: np.ndarray | None = None
    test: np.ndarray | None = None  # (n_test, m)
    meta_names: tuple[str, ...] = ()        # meta-feature columns (``attach_meta``), used by 'lgb_stack'
    meta: np.ndarray | None = None          # (n, f): meta-features of the OOF rows
    meta_test: np.ndarray | None = None     # (n_test, f): meta-features of the test rows


def _require(df: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise BadInput(f"{what} lacks column(s) {missing}; has {list(df.columns)}")


def _indexed(df: pd.DataFrame, columns: tuple[str, ...], what: str) -> pd.DataFrame:
    """``df`` indexed by id after checking columns, duplicate ids and missing predictions."""
    _require(df, columns, what)
    dup = df["id"][df["id"].duplicated()]
    if len(dup):
        raise BadInput(f"{what} has {len(dup)} duplicated id(s), e.g. {dup.unique()[:_SHOW].tolist()}")
    bad = df["id"][~np.isfinite(df["pred"].to_numpy(dtype=np.float64))]
    if len(bad):
        raise BadInput(f"{what} has {len(bad)} NaN/inf prediction(s), e.g. ids {bad[:_SHOW].tolist()}")
    return df.set_index("id")


def _same_ids(ref: pd.Index, other: pd.Index, what: str, ref_what: str) -> None:
    missing, extra = ref.difference(other), other.difference(ref)
    if len(missing) or len(extra):
        raise BadInput(
            f"{what} does not cover the same ids as {ref_what}: {len(missing)} missing "
            f"(e.g. {missing[:_SHOW].tolist()}), {len(extra)} extra (e.g. {extra[:_SHOW].tolist()})")


def _same_column(ref: pd.DataFrame, other: pd.DataFrame, column: str, what: str, ref_what: str) -> None:
    a, b = ref[column].to_numpy(), other[column].to_numpy()
    diff = np.flatnonzero(a != b)
    if diff.size:
        examples = ", ".join(f"id {ref.index[i]!r}: {b[i]} vs {a[i]}" for i in diff[:_SHOW])
        raise BadInput(f"{what} has another {column} than {ref_what} for {diff.size} id(s), e.g. {examples}")


def align(oofs: dict[str, pd.DataFrame], tests: dict[str, pd.DataFrame] | None = None) -> Aligned:
    """Align runs' OOF frames (``id,fold,target,pred``) and optional test frames (``id,pred``) by id.

    Raises ``ValueError`` naming the run and showing a few ids when ids, folds or targets disagree.
    """
    if not oofs:
        raise BadInput("no runs to align")
    names = list(oofs)
    ref_name = names[0]
    ref_what = f"run {ref_name!r} OOF"
    ref = _indexed(oofs[ref_name], OOF_COLUMNS, ref_what)
    preds = []
    for name in names:
        what = f"run {name!r} OOF"
        frame = _indexed(oofs[name], OOF_COLUMNS, what)
        _same_ids(ref.index, frame.index, what, ref_what)
        frame = frame.reindex(ref.index)
        _same_column(ref, frame, "fold", what, ref_what)
        _same_column(ref, frame, "target", what, ref_what)
        preds.append(frame["pred"].to_numpy(dtype=np.float64))
    result = dict(names=names, ids=ref.index.to_numpy(), folds=ref["fold"].to_numpy(dtype=np.int64),
                  y=ref["target"].to_numpy(), oof=np.column_stack(preds))
    if tests is not None:
        lacking = [n for n in names if n not in tests]
        unknown = [n for n in tests if n not in oofs]
        if lacking or unknown:
            raise BadInput(f"test predictions missing for run(s) {lacking}; test without OOF for {unknown}")
        test_ref = _indexed(tests[ref_name], TEST_COLUMNS, f"run {ref_name!r} test")
        test_preds = []
        for name in names:
            what = f"run {name!r} test"
            frame = _indexed(tests[name], TEST_COLUMNS, what)
            _same_ids(test_ref.index, frame.index, what, f"run {ref_name!r} test")
            test_preds.append(frame["pred"].reindex(test_ref.index).to_numpy(dtype=np.float64))
        result.update(test_ids=test_ref.index.to_numpy(), test=np.column_stack(test_preds))
    return Aligned(**result)


def attach_meta(aligned: Aligned, meta: pd.DataFrame, what: str = "meta-features") -> Aligned:
    """``aligned`` with meta-features: ``meta`` is a frame keyed by ``id`` holding a row for every OOF
    (and test) id, its other columns numeric features (NaN allowed: LightGBM treats it as missing).

    Ids are compared as text (a CSV read with ``dtype={'id': str}`` matches integer ids). Raises
    ``ValueError`` naming the missing ids, duplicated ids and non-numeric or missing columns.
    """
    if "id" not in meta.columns:
        raise BadInput(f"{what} lacks the column 'id'; has {list(meta.columns)}")
    columns = [c for c in meta.columns if c != "id"]
    if not columns:
        raise BadInput(f"{what} has no feature columns besides 'id'")
    bad = [c for c in columns if not (pd.api.types.is_numeric_dtype(meta[c]) or pd.api.types.is_bool_dtype(meta[c]))]
    if bad:
        raise BadInput(f"{what} has non-numeric column(s) {bad}: encode them as numbers")
    keys = meta["id"].astype(str)
    dup = keys[keys.duplicated()]
    if len(dup):
        raise BadInput(f"{what} has {len(dup)} duplicated id(s), e.g. {dup.unique()[:_SHOW].tolist()}")
    table = meta[columns].astype(np.float64).set_axis(pd.Index(keys, name="id"))

    def rows(ids: np.ndarray, part: str) -> np.ndarray:
        wanted = pd.Index(np.asarray(ids).astype(str))
        missing = wanted.difference(table.index)
        if len(missing):
            raise BadInput(f"{what} lacks {len(missing)} of the {len(wanted)} {part} ids, "
                             f"e.g. {missing[:_SHOW].tolist()}")
        return table.loc[wanted].to_numpy()

    extra = dict(meta_names=tuple(str(c) for c in columns), meta=rows(aligned.ids, "OOF (train)"))
    if aligned.test_ids is not None:
        extra["meta_test"] = rows(aligned.test_ids, "test")
    return replace(aligned, **extra)


# -- blenders -------------------------------------------------------------------------------------
def _matrix(P) -> np.ndarray:
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 2 or P.shape[1] == 0:
        raise BadInput(f"expected a prediction matrix (rows x models), got shape {P.shape}")
    return P


RAW = "raw"  # StackBlend features: the columns as given (nested_oof hands it ranks computed over all rows)


def rank_normalise(P) -> np.ndarray:
    """Each column's midranks mapped to [0, 1] (ties share a value)."""
    P = _matrix(P)
    if P.shape[0] == 1:
        return np.full_like(P, 0.5)
    return (midranks(P) - 1.0) / (P.shape[0] - 1.0)


class _Blender(BaseEstimator):
    """Linear blend of (optionally rank-normalised) columns with weights ``weights_``."""

    rank = False

    def _features(self, P) -> np.ndarray:
        return rank_normalise(P) if self.rank else _matrix(P)

    def _fit_weights(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.full(X.shape[1], 1.0 / X.shape[1])

    def fit(self, P, y, folds=None) -> "_Blender":
        """Fit weights on OOF predictions ``P`` (rows x models) and targets ``y``; ``folds`` is unused."""
        X = self._features(P)
        y = np.asarray(y)
        self.weights_ = self._fit_weights(X, y)
        self.oof_ = X @ self.weights_
        return self

    def predict(self, P) -> np.ndarray:
        """Blend scores of ``P`` (rows x models, same column order as in ``fit``)."""
        X = self._features(P)
        if X.shape[1] != self.weights_.size:
            raise BadInput(f"blender was fitted on {self.weights_.size} models, got {X.shape[1]}")
        return X @ self.weights_


class MeanBlend(_Blender):
    """Plain average of the predictions."""


class RankMeanBlend(_Blender):
    """Average of the rank-normalised predictions (robust to models on different scales)."""

    rank = True


class WeightedBlend(_Blender):
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


class HillClimbBlend(_Blender):
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


class StackBlend(BaseEstimator):
    """Logistic regression on rank-normalised (``features='rank'``) or logit (``'logit'``) predictions.

    Given ``folds``, ``oof_`` is honest: for each fold the stacker is fitted on the other folds' rows
    and predicts that fold (``nested_oof``); the stacker used by ``predict`` is fitted on all rows.
    """

    def __init__(self, features: str = "rank", C: float = 1.0):
        self.features = features
        self.C = C

    def _features(self, P) -> np.ndarray:
        P = _matrix(P)
        if self.features == "rank":
            return rank_normalise(P)
        if self.features == RAW:
            return P
        if self.features == "logit":
            outside = np.flatnonzero(((P < 0) | (P > 1)).any(axis=0))
            if outside.size:
                raise BadInput(f"features='logit' needs probabilities in [0, 1]; column(s) "
                                 f"{outside.tolist()} are not: use features='rank'")
            p = np.clip(P, 1e-6, 1 - 1e-6)
            return np.log(p / (1 - p))
        raise BadInput(f"unknown features {self.features!r}; use 'rank' or 'logit'")

    def fit(self, P, y, folds=None) -> "StackBlend":
        y = np.asarray(y)
        self.model_ = LogisticRegression(C=self.C, max_iter=1000).fit(self._features(P), y)
        self.weights_ = self.model_.coef_.ravel().copy()
        if folds is None:
            self.oof_ = self.predict(P)
        else:
            self.oof_ = nested_oof(lambda: clone(self), P, y, folds)
        return self

    def predict(self, P) -> np.ndarray:
        """Stacker's decision function (log-odds) for ``P``."""
        return self.model_.decision_function(self._features(P))


class LGBStackBlend(BaseEstimator):
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

    Given ``folds``, ``oof_`` is honest as in ``StackBlend``: the meta-model for held-out fold k (its
    logistic start, its rounds, its trees) is fitted on the other folds' rows only; the model used by
    ``predict`` is fitted on all rows. ``weights_``: each run column's share of the trees' total split
    gain (the meta-features' shares are in ``meta_importance_``; the logistic start's coefficients in
    ``start_coef_``).
    """

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

    def _features(self, P, meta=None) -> np.ndarray:
        P = _matrix(P)
        if self.features == "rank":
            X = rank_normalise(P)
        elif self.features == RAW:
            X = P
        else:
            raise BadInput(f"unknown features {self.features!r}; use 'rank' or 'raw'")
        n_meta = getattr(self, "n_meta_", None)
        if meta is None:
            if n_meta:
                raise BadInput(f"the meta-model was fitted with {n_meta} meta-feature(s); pass meta=")
            return X
        meta = np.asarray(meta, dtype=np.float64).reshape(len(P), -1)
        if n_meta is not None and meta.shape[1] != n_meta:
            raise BadInput(f"the meta-model was fitted with {n_meta} meta-feature(s), got {meta.shape[1]}")
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
        """Fit on OOF predictions ``P`` (rows x runs), targets ``y`` and optional ``meta`` (rows x
        features); with ``folds``, ``oof_`` is the nested OOF over them (inner CV over the training folds)."""
        P, y = _matrix(P), np.asarray(y)
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
        self.fold_rounds_ = {}
        if folds is None:
            self.oof_ = self.predict(P, meta)
        else:
            folds = np.asarray(folds)
            if not (len(folds) == len(P) == len(y)):
                raise BadInput(f"P, y and folds have {len(P)}, {len(y)} and {len(folds)} rows")
            # ranks over all OOF rows (labels unused), as nested_oof does for the other blenders
            Xr = np.hstack([rank_normalise(P) if self.features == "rank" else P, X[:, self.n_runs_:]])
            self.oof_ = np.empty(len(P), dtype=np.float64)
            for k in np.unique(folds):
                held = folds == k
                model = self._fit_one(Xr[~held], y[~held], self.n_runs_, folds[~held])
                self.fold_rounds_[int(k)] = model.rounds
                self.oof_[held] = model.predict(Xr[held])
        return self

    def predict(self, P, meta=None) -> np.ndarray:
        """The meta-model's log-odds for ``P`` (rows x runs, same order as in ``fit``) and ``meta``."""
        P = _matrix(P)
        if P.shape[1] != self.n_runs_:
            raise BadInput(f"meta-model was fitted on {self.n_runs_} runs, got {P.shape[1]}")
        return self.model_.predict(self._features(P, meta))


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


BLENDERS: dict[str, type] = {"mean": MeanBlend, "rank": RankMeanBlend, "weighted": WeightedBlend,
                             "hill": HillClimbBlend, "stack": StackBlend, "lgb_stack": LGBStackBlend}
META_AWARE = ("lgb_stack",)  # methods that take meta-features
_SELF_NESTED = (StackBlend, LGBStackBlend)  # blenders whose oof_ is already the nested OOF given folds


def make_blender(method: str, **params):
    """A blender by name: one of ``BLENDERS`` ('mean', 'rank', 'weighted', 'hill', 'stack', 'lgb_stack')."""
    if method not in BLENDERS:
        raise BadInput(f"unknown blend method {method!r}; choose one of {sorted(BLENDERS)}")
    return BLENDERS[method](**params)


def _pooled_features(blender_factory: Callable[[], object], P: np.ndarray) -> tuple[np.ndarray, Callable[[], object]]:
    """The blender's rank features computed once over all rows, and a factory of blenders taking them as
    they are; blenders without rank features get ``P`` and the factory unchanged."""
    proto = blender_factory()
    if isinstance(proto, _Blender) and proto.rank:
        def factory():
            blender = blender_factory()
            blender.rank = False  # its features are the global ranks below
            return blender
        return rank_normalise(P), factory
    if isinstance(proto, _SELF_NESTED) and proto.features == "rank":
        return rank_normalise(P), lambda: blender_factory().set_params(features=RAW)
    return P, blender_factory


def nested_oof(blender_factory: Callable[[], object], P, y, folds) -> np.ndarray:
    """Honest OOF of a blender: for each fold, fit a fresh blender on the other folds and predict it.

    Rank features are the ranks over all rows (labels unused), not ranks within each held-out fold,
    so the pooled OOF keeps the offsets between folds exactly as the runs' own OOF does.
    """
    P, y, folds = _matrix(P), np.asarray(y), np.asarray(folds)
    if not (len(P) == len(y) == len(folds)):
        raise BadInput(f"P, y and folds have {len(P)}, {len(y)} and {len(folds)} rows")
    X, factory = _pooled_features(blender_factory, P)
    out = np.empty(len(P), dtype=np.float64)
    for k in np.unique(folds):
        held = folds == k
        out[held] = factory().fit(X[~held], y[~held]).predict(X[held])
    return out


def blend_oof(blender, aligned: Aligned, nested: bool = False) -> np.ndarray:
    """Fit ``blender`` on the aligned OOF matrix and return the blend's OOF scores ('lgb_stack' also
    takes the aligned meta-features).

    ``nested=False``: the fitted blender's ``oof_`` (honest for 'stack', 'mean', 'rank'; optimistic
    for weights searched on these rows). ``nested=True``: ``nested_oof`` over the shared folds.
    """
    if isinstance(blender, LGBStackBlend):
        blender.fit(aligned.oof, aligned.y, aligned.folds, meta=aligned.meta)
    else:
        blender.fit(aligned.oof, aligned.y, aligned.folds)
    if nested and not isinstance(blender, _SELF_NESTED):
        return nested_oof(lambda: clone(blender), aligned.oof, aligned.y, aligned.folds)
    return blender.oof_


# -- the report of a blend --------------------------------------------------------------------------
@dataclass
class BlendEvaluation:
    """A fitted blend: its scores and its JSON-ready report."""

    method: str
    weights: np.ndarray
    oof: np.ndarray               # the blend's OOF scores its CV comes from (nested where weights are fitted)
    test: np.ndarray | None       # the blend of the aligned test columns
    report: dict                  # runs, weights, cv, vs_best_run, (cv_in_sample), (true_labels)


def _fit(aligned: Aligned, method: str) -> tuple[object, np.ndarray, np.ndarray | None, str]:
    """(fitted blender, CV scores, in-sample scores where they differ, how the CV was obtained)."""
    several_folds = len(np.unique(aligned.folds)) > 1
    blender = make_blender(method)
    if aligned.meta is not None and method not in META_AWARE:
        raise BadInput(f"meta-features are used by method(s) {list(META_AWARE)} only, not {method!r}")
    if method in ("stack", "lgb_stack"):
        extra = {"meta": aligned.meta} if method == "lgb_stack" else {}
        blender.fit(aligned.oof, aligned.y, aligned.folds if several_folds else None, **extra)
        kind = "nested OOF of the stacker" if several_folds else "in-sample (one fold: optimistic)"
        return blender, blender.oof_, None, kind
    blender.fit(aligned.oof, aligned.y)
    if method not in FITTED_WEIGHTS:
        return blender, blender.oof_, None, "OOF (nothing fitted)"
    if not several_folds:
        return blender, blender.oof_, None, "in-sample (one fold: optimistic)"
    nested = nested_oof(lambda: clone(blender), aligned.oof, aligned.y, aligned.folds)
    return blender, nested, blender.oof_, "nested OOF (weights fitted on the other folds)"


def _compare(y: np.ndarray, aligned: Aligned, oof: np.ndarray, weights: np.ndarray, best: int | None = None) -> dict:
    """Per-run and blend AUCs against ``y`` and the paired DeLong test of the blend vs the best run."""
    runs = [{"name": name, "weight": float(weights[j]), **auc_summary(y, aligned.oof[:, j])}
            for j, name in enumerate(aligned.names)]
    best = max(range(len(runs)), key=lambda j: runs[j]["auc"]) if best is None else best
    auc_blend, auc_best, z, p = delong_test(y, oof, aligned.oof[:, best])
    return {"runs": runs, "cv": auc_summary(y, oof),
            "vs_best_run": {"best_run": runs[best]["name"], "auc_blend": float(auc_blend),
                            "auc_best": float(auc_best), "z": float(z), "p": float(p)}}


def evaluate_blend(aligned: Aligned, method: str = "rank", true: np.ndarray | None = None) -> BlendEvaluation:
    """Fit ``method`` on the aligned runs and report it; one run is taken as it is (method ``single``).

    The blend's CV is honest where it can be: weights searched on the OOF rows ('weighted', 'hill') are
    scored by nested OOF over the folds, 'stack' nests by itself, 'mean' and 'rank' fit nothing; with a
    single fold the weights are scored on the rows they were fitted on (the CV kind says so). With the
    rows' ``true`` labels (synthetic data) the same comparison against them is in ``true_labels``, the
    best run being the one chosen on the given labels.
    """
    if len(aligned.names) == 1 and not (aligned.meta is not None and method in META_AWARE):
        weights, oof, in_sample, kind = np.ones(1), aligned.oof[:, 0], None, "OOF of the run"
        test = None if aligned.test is None else aligned.test[:, 0]
        method = SINGLE
    else:
        blender, oof, in_sample, kind = _fit(aligned, method)
        weights = np.asarray(blender.weights_, dtype=np.float64)
        if aligned.test is None:
            test = None
        elif isinstance(blender, LGBStackBlend):
            test = np.asarray(blender.predict(aligned.test, meta=aligned.meta_test), dtype=np.float64)
        else:
            test = np.asarray(blender.predict(aligned.test), dtype=np.float64)
    given = _compare(aligned.y, aligned, oof, weights)
    report = {"method": method, "runs": given["runs"], "weights": {r["name"]: r["weight"] for r in given["runs"]},
              "cv": {**given["cv"], "kind": kind}, "vs_best_run": given["vs_best_run"]}
    if method == "lgb_stack":
        report["meta_model"] = {"rounds": int(blender.rounds_), "params": blender.get_params(),
                                **({"fold_rounds": blender.fold_rounds_} if blender.fold_rounds_ else {})}
        if aligned.meta is not None:
            report["meta_features"] = {"columns": list(aligned.meta_names),
                                       "importance": dict(zip(aligned.meta_names,
                                                              map(float, blender.meta_importance_)))}
    if in_sample is not None:
        report["cv_in_sample"] = auc_summary(aligned.y, in_sample)
    if true is not None:
        best = aligned.names.index(given["vs_best_run"]["best_run"])
        report["true_labels"] = _compare(np.asarray(true), aligned, oof, weights, best)
    return BlendEvaluation(method, weights, oof, test, report)
