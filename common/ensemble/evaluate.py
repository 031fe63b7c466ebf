"""The one report of a blend (``submissions.blend``, ``vae.py --blend-with``): each run's OOF AUC with its DeLong
CI, the blend's honest CV, a paired DeLong test of the blend against the best run, and the weights."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.errors import BadInput
from common.ensemble.align import Aligned
from common.ensemble.blenders import Blender
from common.ensemble.methods import META_AWARE, make_blender
from common.ensemble.nested import nested_oof
from common.metrics import auc_summary, delong_test

SINGLE = "single"  # the method of a one-run "blend"


@dataclass
class BlendEvaluation:
    """A fitted blend: its scores and its JSON-ready report."""

    method: str
    weights: np.ndarray
    oof: np.ndarray               # the blend's OOF scores its CV comes from (nested where weights are fitted)
    test: np.ndarray | None       # the blend of the aligned test columns
    report: dict                  # runs, weights, cv, vs_best_run, (cv_in_sample), (true_labels)


@dataclass
class _Fitted:
    blender: Blender
    oof: np.ndarray                 # the scores the blend's CV comes from
    in_sample: np.ndarray | None    # the optimistic scores of weights fitted on all rows, where reported
    kind: str                       # how the CV was obtained
    fold_models: dict[int, Blender]


def _fit(aligned: Aligned, method: str) -> _Fitted:
    """Fit ``method`` on all rows; its CV from the nested OOF over the folds where it learns from the labels."""
    blender = make_blender(method)
    if aligned.meta is not None and not blender.takes_meta:
        raise BadInput(f"meta-features are used by method(s) {list(META_AWARE)} only, not {method!r}")
    several_folds = len(np.unique(aligned.folds)) > 1
    blender.fit(aligned.oof, aligned.y, aligned.folds if several_folds else None, aligned.meta)
    if not blender.learns:
        return _Fitted(blender, blender.in_sample_, None, "OOF (nothing fitted)", {})
    if not several_folds:
        return _Fitted(blender, blender.in_sample_, None, "in-sample (one fold: optimistic)", {})
    oof, fold_models = nested_oof(blender, aligned.oof, aligned.y, aligned.folds, aligned.meta)
    return _Fitted(blender, oof, blender.in_sample_ if blender.shows_in_sample else None, blender.nested_kind,
                   fold_models)


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

    The blend's CV is honest where it can be: blenders that learn from the labels ('weighted', 'hill', 'stack',
    'lgb_stack') are scored by nested OOF over the folds, 'mean' and 'rank' fit nothing; with a single fold the
    weights are scored on the rows they were fitted on (the CV kind says so). With the rows' ``true`` labels
    (synthetic data) the same comparison against them is in ``true_labels``, the best run being the one chosen
    on the given labels.
    """
    fitted = None
    if len(aligned.names) == 1 and not (aligned.meta is not None and method in META_AWARE):
        weights, oof, in_sample, kind = np.ones(1), aligned.oof[:, 0], None, "OOF of the run"
        test = None if aligned.test is None else aligned.test[:, 0]
        method = SINGLE
    else:
        fitted = _fit(aligned, method)
        oof, in_sample, kind = fitted.oof, fitted.in_sample, fitted.kind
        weights = np.asarray(fitted.blender.weights_, dtype=np.float64)
        test = None if aligned.test is None else np.asarray(fitted.blender.predict(aligned.test, aligned.meta_test),
                                                            dtype=np.float64)
    given = _compare(aligned.y, aligned, oof, weights)
    report = {"method": method, "runs": given["runs"], "weights": {r["name"]: r["weight"] for r in given["runs"]},
              "cv": {**given["cv"], "kind": kind}, "vs_best_run": given["vs_best_run"]}
    if fitted is not None:
        report.update(fitted.blender.report(fitted.fold_models))
        if aligned.meta is not None:
            report["meta_features"] = {"columns": list(aligned.meta_names),
                                       "importance": dict(zip(aligned.meta_names,
                                                              map(float, fitted.blender.meta_importance_)))}
    if in_sample is not None:
        report["cv_in_sample"] = auc_summary(aligned.y, in_sample)
    if true is not None:
        best = aligned.names.index(given["vs_best_run"]["best_run"])
        report["true_labels"] = _compare(np.asarray(true), aligned, oof, weights, best)
    return BlendEvaluation(method, weights, oof, test, report)
