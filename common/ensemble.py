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

``evaluate_blend`` is the one report of a blend (``submissions.blend``, ``vae.py --blend-with``): each
run's OOF AUC with its DeLong CI, the blend's honest CV, a paired DeLong test of the blend against the
best run, and the weights.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LogisticRegression

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


def _require(df: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {missing}; has {list(df.columns)}")


def _indexed(df: pd.DataFrame, columns: tuple[str, ...], what: str) -> pd.DataFrame:
    """``df`` indexed by id after checking columns, duplicate ids and missing predictions."""
    _require(df, columns, what)
    dup = df["id"][df["id"].duplicated()]
    if len(dup):
        raise ValueError(f"{what} has {len(dup)} duplicated id(s), e.g. {dup.unique()[:_SHOW].tolist()}")
    bad = df["id"][~np.isfinite(df["pred"].to_numpy(dtype=np.float64))]
    if len(bad):
        raise ValueError(f"{what} has {len(bad)} NaN/inf prediction(s), e.g. ids {bad[:_SHOW].tolist()}")
    return df.set_index("id")


def _same_ids(ref: pd.Index, other: pd.Index, what: str, ref_what: str) -> None:
    missing, extra = ref.difference(other), other.difference(ref)
    if len(missing) or len(extra):
        raise ValueError(
            f"{what} does not cover the same ids as {ref_what}: {len(missing)} missing "
            f"(e.g. {missing[:_SHOW].tolist()}), {len(extra)} extra (e.g. {extra[:_SHOW].tolist()})")


def _same_column(ref: pd.DataFrame, other: pd.DataFrame, column: str, what: str, ref_what: str) -> None:
    a, b = ref[column].to_numpy(), other[column].to_numpy()
    diff = np.flatnonzero(a != b)
    if diff.size:
        examples = ", ".join(f"id {ref.index[i]!r}: {b[i]} vs {a[i]}" for i in diff[:_SHOW])
        raise ValueError(f"{what} has another {column} than {ref_what} for {diff.size} id(s), e.g. {examples}")


def align(oofs: dict[str, pd.DataFrame], tests: dict[str, pd.DataFrame] | None = None) -> Aligned:
    """Align runs' OOF frames (``id,fold,target,pred``) and optional test frames (``id,pred``) by id.

    Raises ``ValueError`` naming the run and showing a few ids when ids, folds or targets disagree.
    """
    if not oofs:
        raise ValueError("no runs to align")
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
            raise ValueError(f"test predictions missing for run(s) {lacking}; test without OOF for {unknown}")
        test_ref = _indexed(tests[ref_name], TEST_COLUMNS, f"run {ref_name!r} test")
        test_preds = []
        for name in names:
            what = f"run {name!r} test"
            frame = _indexed(tests[name], TEST_COLUMNS, what)
            _same_ids(test_ref.index, frame.index, what, f"run {ref_name!r} test")
            test_preds.append(frame["pred"].reindex(test_ref.index).to_numpy(dtype=np.float64))
        result.update(test_ids=test_ref.index.to_numpy(), test=np.column_stack(test_preds))
    return Aligned(**result)


# -- blenders -------------------------------------------------------------------------------------
def _matrix(P) -> np.ndarray:
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 2 or P.shape[1] == 0:
        raise ValueError(f"expected a prediction matrix (rows x models), got shape {P.shape}")
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
            raise ValueError(f"blender was fitted on {self.weights_.size} models, got {X.shape[1]}")
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
                raise ValueError(f"features='logit' needs probabilities in [0, 1]; column(s) "
                                 f"{outside.tolist()} are not: use features='rank'")
            p = np.clip(P, 1e-6, 1 - 1e-6)
            return np.log(p / (1 - p))
        raise ValueError(f"unknown features {self.features!r}; use 'rank' or 'logit'")

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


BLENDERS: dict[str, type] = {"mean": MeanBlend, "rank": RankMeanBlend, "weighted": WeightedBlend,
                             "hill": HillClimbBlend, "stack": StackBlend}


def make_blender(method: str, **params):
    """A blender by name: one of ``BLENDERS`` ('mean', 'rank', 'weighted', 'hill', 'stack')."""
    if method not in BLENDERS:
        raise ValueError(f"unknown blend method {method!r}; choose one of {sorted(BLENDERS)}")
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
    if isinstance(proto, StackBlend) and proto.features == "rank":
        return rank_normalise(P), lambda: blender_factory().set_params(features=RAW)
    return P, blender_factory


def nested_oof(blender_factory: Callable[[], object], P, y, folds) -> np.ndarray:
    """Honest OOF of a blender: for each fold, fit a fresh blender on the other folds and predict it.

    Rank features are the ranks over all rows (labels unused), not ranks within each held-out fold,
    so the pooled OOF keeps the offsets between folds exactly as the runs' own OOF does.
    """
    P, y, folds = _matrix(P), np.asarray(y), np.asarray(folds)
    if not (len(P) == len(y) == len(folds)):
        raise ValueError(f"P, y and folds have {len(P)}, {len(y)} and {len(folds)} rows")
    X, factory = _pooled_features(blender_factory, P)
    out = np.empty(len(P), dtype=np.float64)
    for k in np.unique(folds):
        held = folds == k
        out[held] = factory().fit(X[~held], y[~held]).predict(X[held])
    return out


def blend_oof(blender, aligned: Aligned, nested: bool = False) -> np.ndarray:
    """Fit ``blender`` on the aligned OOF matrix and return the blend's OOF scores.

    ``nested=False``: the fitted blender's ``oof_`` (honest for 'stack', 'mean', 'rank'; optimistic
    for weights searched on these rows). ``nested=True``: ``nested_oof`` over the shared folds.
    """
    blender.fit(aligned.oof, aligned.y, aligned.folds)
    if nested and not isinstance(blender, StackBlend):
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


def _auc(y: np.ndarray, score: np.ndarray) -> dict:
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in auc_summary(y, score).items()}


def _fit(aligned: Aligned, method: str) -> tuple[object, np.ndarray, np.ndarray | None, str]:
    """(fitted blender, CV scores, in-sample scores where they differ, how the CV was obtained)."""
    several_folds = len(np.unique(aligned.folds)) > 1
    blender = make_blender(method)
    if method == "stack":
        blender.fit(aligned.oof, aligned.y, aligned.folds if several_folds else None)
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
    runs = [{"name": name, "weight": float(weights[j]), **_auc(y, aligned.oof[:, j])}
            for j, name in enumerate(aligned.names)]
    best = max(range(len(runs)), key=lambda j: runs[j]["auc"]) if best is None else best
    auc_blend, auc_best, z, p = delong_test(y, oof, aligned.oof[:, best])
    return {"runs": runs, "cv": _auc(y, oof),
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
    if len(aligned.names) == 1:
        weights, oof, in_sample, kind = np.ones(1), aligned.oof[:, 0], None, "OOF of the run"
        test = None if aligned.test is None else aligned.test[:, 0]
        method = SINGLE
    else:
        blender, oof, in_sample, kind = _fit(aligned, method)
        weights = np.asarray(blender.weights_, dtype=np.float64)
        test = None if aligned.test is None else np.asarray(blender.predict(aligned.test), dtype=np.float64)
    given = _compare(aligned.y, aligned, oof, weights)
    report = {"method": method, "runs": given["runs"], "weights": {r["name"]: r["weight"] for r in given["runs"]},
              "cv": {**given["cv"], "kind": kind}, "vs_best_run": given["vs_best_run"]}
    if in_sample is not None:
        report["cv_in_sample"] = _auc(aligned.y, in_sample)
    if true is not None:
        best = aligned.names.index(given["vs_best_run"]["best_run"])
        report["true_labels"] = _compare(np.asarray(true), aligned, oof, weights, best)
    return BlendEvaluation(method, weights, oof, test, report)
