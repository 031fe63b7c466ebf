"""Seed averaging: train K seeds of one run and average their predictions into that run (``--seeds K``).

Each seed is a normal run through the fold driver, kept in ``<run>/seeds/seed<s>/`` with ``seed = cfg.seed + s``
(seed 0 is exactly the single-seed run); the shared folds stay the same. The parent run's fold files are the
mean of the seeds' fold predictions (OOF and test), written through :func:`common.cv.run_folds`, so the parent
is an ordinary run for blending and submissions. Its ``metrics.json`` has the common schema (each fold's
``variants`` are the single seeds' predictions of its rows, so ``folds.<k>.variants.seed<s>`` holds their AUCs)
plus ``seeds``: the seed values, each seed's OOF AUCs over the same rows, their mean, the average's AUCs and
``gain`` = average - mean single seed.

A CLI adds the option with ``seeds: int | None = seeds_option()`` and, when ``n_seeds_of(cfg) > 1``, calls::

    train_seeds(run, cfg, train_one, folds, n_splits=cfg.n_splits, truth=truth)

where ``train_one(seed_cfg, seed_run)`` does what the CLI does for a single run (save the config, train the
folds). A killed multi-seed run continues with the same command: finished seeds' folds are skipped by their
own fold drivers, an unfinished one continues from its checkpoint, and the average is rebuilt at the end.
"""
from __future__ import annotations

import dataclasses
import os
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from common.errors import BadInput, MissingInput
from common.config import option
from common.cv import FoldResult, Truth, run_folds
from common.metrics import roc_auc
from common.run import DONE_FILE, Run

SEEDS_DIR = "seeds"


def seeds_option() -> Any:
    """The ``--seeds`` option of a training CLI's config (a new field object each call)."""
    return option(None, min=1, help="train K seeds (seed, seed+1, ...) into <run>/seeds/seed<s>/ and average "
                                    "their predictions into this run (default: one seed, a plain run)")


def n_seeds_of(cfg: Any) -> int:
    """How many seeds ``cfg`` asks for (``--seeds``; unset: 1)."""
    return int(getattr(cfg, "seeds", None) or 1)


def seed_dir(parent: Run | Path, s: int) -> Path:
    """``<run>/seeds/seed<s>``: where seed index ``s`` of a multi-seed run lives."""
    root = parent.root if isinstance(parent, Run) else Path(parent)
    return root / SEEDS_DIR / f"seed{s}"


def seed_config(cfg: Any, s: int) -> Any:
    """``cfg`` for seed index ``s``: ``seed = cfg.seed + s``, a single seed (``seeds`` unset)."""
    changes = {"seed": cfg.seed + s}
    if any(f.name == "seeds" for f in dataclasses.fields(cfg)):
        changes["seeds"] = None
    return dataclasses.replace(cfg, **changes)


def train_seeds(parent: Run, cfg: Any, train_one: Callable[[Any, Run], Any], folds: Sequence[int], *,
                n_splits: int, truth: Truth | None = None, main_process: bool = True) -> dict:
    """Train ``cfg.seeds`` seeds of ``cfg`` (``train_one(seed_cfg, seed_run)`` each), then write their average
    into ``parent`` (:func:`average_seeds`); returns the parent's ``metrics.json`` (empty off the main process)."""
    n_seeds = n_seeds_of(cfg)
    with parent.lock() if main_process else nullcontext():  # one writer of the parent and its seeds
        runs = []
        for s in range(n_seeds):
            seed_cfg = seed_config(cfg, s)
            run = Run(seed_dir(parent, s))
            if main_process:
                parent.log.info("seed %d/%d (seed %d): run %s", s + 1, n_seeds, seed_cfg.seed, run.root)
            train_one(seed_cfg, run)
            runs.append(run)
        if not main_process:
            return {}
        return average_seeds(parent, runs, folds, n_splits=n_splits, truth=truth,
                             seed_values=[cfg.seed + s for s in range(n_seeds)])


def _read_fold(run: Run, fold: int) -> tuple[pd.DataFrame, pd.DataFrame | None, dict]:
    if not run.is_finished(fold):
        raise MissingInput(f"seed run {run.root} has no finished fold {fold} "
                           f"(no {run.fold_path(fold) / DONE_FILE})")
    return run.read_fold_oof(fold), run.read_fold_test(fold), run.fold_metrics(fold)


def average_fold(runs: Sequence[Run], fold: int, names: Sequence[str] | None = None) -> FoldResult:
    """Fold ``fold`` of the seed runs averaged: OOF and test predictions are the mean probability; each
    seed's OOF predictions become a variant (``seed<s>``) and its own numbers go under ``per_seed``."""
    names = list(names or [f"seed{s}" for s in range(len(runs))])
    parts = [_read_fold(run, fold) for run in runs]
    first = parts[0][0]
    preds, per_seed = {}, {}
    for name, run, (oof, _, info) in zip(names, runs, parts):
        if len(oof) != len(first) or set(oof["id"]) != set(first["id"]):
            raise BadInput(f"fold {fold} of {run.root} holds other rows than {runs[0].root}: the seeds must "
                           "share the fold file")
        preds[name] = oof.set_index("id")["pred"].reindex(first["id"]).to_numpy()
        per_seed[name] = {k: v for k, v in info.items() if not isinstance(v, dict)}
    oof = pd.DataFrame({"id": first["id"], "target": first["target"],
                        "pred": np.mean(np.stack(list(preds.values())), axis=0)})
    tests = [t for _, t, _ in parts]
    test = None
    if all(t is not None for t in tests):
        ids = tests[0]["id"]
        test = pd.DataFrame({"id": ids, "pred": np.mean(
            np.stack([t.set_index("id")["pred"].reindex(ids).to_numpy() for t in tests]), axis=0)})
        if np.isnan(test["pred"]).any():
            raise BadInput(f"fold {fold}: the seed runs' test predictions cover other ids")
    return FoldResult(oof=oof, test=test, info={"per_seed": per_seed}, variants=preds)


def average_seeds(parent: Run, runs: Sequence[Run], folds: Sequence[int], *, n_splits: int,
                  truth: Truth | None = None, seed_values: Sequence[int] | None = None) -> dict:
    """Write the mean of the seed runs' predictions of ``folds`` into ``parent`` (always rebuilt, so that it
    follows the seeds) and add the ``seeds`` report to its ``metrics.json``; returns the metrics."""
    names = [f"seed{s}" for s in range(len(runs))]
    metrics = run_folds(parent, folds, lambda k: average_fold(runs, k, names), n_splits=n_splits, resume=False,
                        truth=truth)
    report = seeds_report(parent, runs, names, truth, seed_values)
    if report:
        gain = report["gain"]
        parent.log.info("%d seeds: OOF AUC %.5f averaged vs %.5f mean single seed (gain %+.5f)%s", len(runs),
                        report["average"]["auc_given"], report["mean_single"]["auc_given"], gain["auc_given"],
                        f"; vs true labels {report['average']['auc_true']:.5f} vs "
                        f"{report['mean_single']['auc_true']:.5f} (gain {gain['auc_true']:+.5f})"
                        if "auc_true" in gain else "")
    return parent.update_metrics({"seeds": report}) if report else metrics


def seeds_report(parent: Run, runs: Sequence[Run], names: Sequence[str], truth: Truth | None = None,
                 seed_values: Sequence[int] | None = None) -> dict:
    """Each seed's OOF AUCs over the parent's OOF rows (its finished folds), their mean, the average's AUCs
    and the gain of the average over the mean single seed."""
    if not parent.oof_path.is_file():
        return {}
    oof = parent.read_oof()
    ids, y = oof["id"].to_numpy(), oof["target"].to_numpy()
    true = truth(ids) if truth is not None else None
    done = sorted(set(oof["fold"]))

    def aucs(pred: np.ndarray) -> dict:
        out = {"auc_given": roc_auc(y, pred)}
        if true is not None:
            out["auc_true"] = roc_auc(true, pred)
        return out

    singles = {}
    for name, run in zip(names, runs):
        seed_oof = pd.concat([run.read_fold_oof(k) for k in done])
        singles[name] = aucs(seed_oof.set_index("id")["pred"].reindex(ids).to_numpy())
    average = aucs(oof["pred"].to_numpy())
    mean_single = {key: float(np.mean([s[key] for s in singles.values()])) for key in average}
    report = {"n_seeds": len(runs), "runs": [os.path.relpath(run.root, parent.root) for run in runs],
              "oof": singles, "mean_single": mean_single, "average": average,
              "gain": {key: average[key] - mean_single[key] for key in average}, "folds": done}
    if seed_values is not None:
        report["seed_values"] = list(seed_values)
    return report
