"""The fold driver every model uses, and the one ``metrics.json`` schema they all write.

A model hands :func:`run_folds` a ``fit_fold(fold) -> FoldResult`` callable. The driver skips finished
folds (``resume``), times each fold, writes its prediction files and metrics through :class:`common.run.Run`
(a fold is finished once its ``done.json`` is written, last), merges the folds and writes the run's metrics:

    {"folds": {"0": {"auc_given": {auc, ci_low, ci_high, se, n, n_pos},   # vs the labels as given
                     "auc_true": {...},                                    # vs planted truth, if known
                     "variants": {"hflip": {"auc_given": .., "auc_true": ..}},   # other scores of those rows
                     "seconds": 12.3, ...the model's own numbers (best_epoch, best_iteration...)}},
     "oof": {"auc_given": {...}, "auc_true": {...}},        # pooled over the finished folds
     "mean_fold_auc": 0.93,                                 # the folds' own AUCs, averaged (pooling can be lower)
     "completed_folds": [0, 1], "n_splits": 5, "complete": false}

``truth(ids)`` gives the true labels of ids where a dataset knows them (synthetic data), else None.
Resuming an unfinished fold (its last checkpoint) is the model's job inside ``fit_fold``.

Each fold's ``done.json`` also records what the fold was made from (``common.provenance``: the shared fold file,
the training labels read with it, the test ids). A run whose finished folds were made from other data or folds
than this command's is refused before any fold is trained; with ``resume=False`` the folds to train again are
unfinished first, so they never merge with the new ones.
"""
from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from common.errors import BadInput
from common.folds import labels_served
from common.metrics import auc_summary, roc_auc
from common.provenance import describe, differences, fold_file_fingerprint, ids_fingerprint, shared_fold_file
from common.run import Run

Truth = Callable[[np.ndarray], "np.ndarray | None"]


@dataclass
class FoldResult:
    """What one fold of any model produces."""
    oof: pd.DataFrame                   # id, target, pred: the fold's validation rows
    test: pd.DataFrame | None = None    # id, pred
    info: dict = field(default_factory=dict)                      # the model's own numbers for metrics.json
    variants: dict[str, np.ndarray] = field(default_factory=dict)  # other scores of the oof rows (TTA, ...)


def auc_block(target: np.ndarray, pred: np.ndarray, true: np.ndarray | None = None) -> dict:
    """``auc_given`` (AUC with DeLong CI vs the given labels) and, when known, ``auc_true``."""
    out = {"auc_given": auc_summary(np.asarray(target), np.asarray(pred))}
    if true is not None:
        out["auc_true"] = auc_summary(np.asarray(true), np.asarray(pred))
    return out


def fold_metrics(result: FoldResult, truth: Truth | None = None) -> dict:
    """The fold's entry of ``metrics.json``: AUCs of its predictions and variants, then the model's numbers."""
    oof = result.oof
    true = truth(oof["id"].to_numpy()) if truth is not None else None
    metrics = auc_block(oof["target"].to_numpy(), oof["pred"].to_numpy(), true)
    if result.variants:
        metrics["variants"] = {}
        for name, pred in result.variants.items():
            entry = {"auc_given": roc_auc(oof["target"].to_numpy(), pred)}
            if true is not None:
                entry["auc_true"] = roc_auc(true, pred)
            metrics["variants"][name] = entry
    return {**metrics, **result.info}


def summarize_run(run: Run, n_splits: int, truth: Truth | None = None) -> dict:
    """Gather the finished folds' metrics and the OOF AUCs into ``metrics.json``; return it."""
    done = run.completed_folds()
    values: dict = {"folds": {str(k): run.fold_metrics(k) for k in done}, "completed_folds": done,
                    "n_splits": n_splits, "complete": run.status(n_splits).complete}
    if done:
        oof = run.read_oof()
        true = truth(oof["id"].to_numpy()) if truth is not None else None
        values["oof"] = auc_block(oof["target"].to_numpy(), oof["pred"].to_numpy(), true)
        fold_aucs = [fold["auc_given"]["auc"] for fold in values["folds"].values() if "auc_given" in fold]
        if fold_aucs:
            values["mean_fold_auc"] = float(np.mean(fold_aucs))
    return run.update_metrics(values)


def warn_pooling(run: Run, metrics: dict) -> None:
    """A WARNING when the pooled OOF AUC is below every fold's: the folds' scores are on different scales, so
    pooling them ranks rows across folds badly (rank-normalise each fold before blending: ``submissions.blend``)."""
    fold_aucs = [fold["auc_given"]["auc"] for fold in metrics["folds"].values() if "auc_given" in fold]
    pooled = metrics["oof"]["auc_given"]["auc"]
    if len(fold_aucs) > 1 and pooled < min(fold_aucs):
        run.log.warning("pooled OOF AUC %.5f is below every fold's (%.5f-%.5f, mean %.5f): the folds' scores are "
                        "on different scales; compare runs by the mean fold AUC and blend them rank-normalised "
                        "per fold (submissions.blend)", pooled, min(fold_aucs), max(fold_aucs),
                        metrics["mean_fold_auc"])


def made_from(run: Run) -> dict:
    """What this command's folds are made from, as far as it is known before a fold is fitted: the shared fold
    file beside the run and the training labels it was read for in this process."""
    path = shared_fold_file(run.root)
    if path is None:
        return {}
    return {key: value for key, value in (("folds", fold_file_fingerprint(path)), ("labels", labels_served(path)))
            if value is not None}


def check_made_from(run: Run, current: dict, kept: Sequence[int], retrained: Sequence[int]) -> None:
    """Refuse, in one line, a run whose ``kept`` finished folds were made from other data than ``current``;
    unfinish the ``retrained`` ones that were (so they never merge with the new folds while these train)."""
    stale = {k: keys for k in [*kept, *retrained] if (keys := differences(run.fold_made_from(k), current))}
    if refused := [k for k in kept if k in stale]:
        keys = sorted({key for k in refused for key in stale[k]})
        raise BadInput(f"run {run.root}: folds {refused} were made from other data than this command's "
                       f"({describe(keys)} differ); give the new data another --name, or train every fold again "
                       "with --no-resume")
    for fold in (k for k in retrained if k in stale):
        run.log.info("fold %d was made from other data (%s differ): trained again", fold, describe(stale[fold]))
        run.unfinish(fold)


def run_folds(run: Run, folds: Sequence[int], fit_fold: Callable[[int], FoldResult | None], *, n_splits: int,
              resume: bool = True, truth: Truth | None = None, main_process: bool = True) -> dict:
    """Fit ``folds`` one after the other (finished ones skipped when ``resume``) and write the run's files.

    ``fit_fold`` may return None on other ranks of a distributed run: only the main process writes, and
    it holds the run's writer lock (``Run.lock``) throughout: a second process on the same run gets
    ``RunLockedError`` naming the run and the pid holding it.
    """
    with run.lock() if main_process else nullcontext():  # one writer per run folder
        return _run_folds(run, folds, fit_fold, n_splits=n_splits, resume=resume, truth=truth,
                          main_process=main_process)


def _run_folds(run: Run, folds: Sequence[int], fit_fold: Callable[[int], FoldResult | None], *, n_splits: int,
               resume: bool, truth: Truth | None, main_process: bool) -> dict:
    todo = [k for k in folds if not (resume and k in run.completed_folds())]
    skipped = [k for k in folds if k not in todo]
    current = made_from(run) if main_process else {}
    if main_process:
        finished = run.completed_folds()
        check_made_from(run, current, [k for k in finished if k not in todo], [k for k in finished if k in todo])
    if skipped and main_process:
        run.log.info("folds %s are finished: skipped (--no-resume trains them again)", skipped)
    times: list[float] = []
    for i, fold in enumerate(todo):
        start = time.perf_counter()
        result = fit_fold(fold)
        seconds = time.perf_counter() - start
        times.append(seconds)
        if not main_process:
            continue
        metrics = {**fold_metrics(result, truth), "seconds": round(seconds, 2)}
        test_ids = {} if result.test is None else {"test": ids_fingerprint(result.test["id"])}
        run.save_fold_predictions(fold, result.oof, result.test, metrics, made_from={**current, **test_ids})
        left = len(todo) - i - 1
        true = metrics.get("auc_true")
        run.log.info("fold %d: AUC %.5f (95%% CI %.5f-%.5f)%s in %.0f s%s", fold, metrics["auc_given"]["auc"],
                     metrics["auc_given"]["ci_low"], metrics["auc_given"]["ci_high"],
                     f", vs true labels {true['auc']:.5f}" if true else "", seconds,
                     f"; about {np.mean(times) * left:.0f} s for the {left} fold(s) left" if left else "")
    if not main_process:
        return {}
    metrics = summarize_run(run, n_splits, truth)
    if "oof" in metrics:
        oof = metrics["oof"]
        run.log.info("OOF AUC %.5f (DeLong 95%% CI %.5f-%.5f)%s over folds %s; run %s", oof["auc_given"]["auc"],
                     oof["auc_given"]["ci_low"], oof["auc_given"]["ci_high"],
                     f", vs true labels {oof['auc_true']['auc']:.5f}" if "auc_true" in oof else "",
                     metrics["completed_folds"], run.root)
        warn_pooling(run, metrics)
    return metrics
