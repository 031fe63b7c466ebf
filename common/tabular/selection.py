"""Feature selection for gradient-boosted trees, fold-safe: each method sees only the rows it is given.

- ``null_importance``: LightGBM's gain on the real target against its gain on shuffled targets (the
  "feature selection with null importances" recipe written for Home Credit): score
  ``log((1e-10 + gain) / (1 + 75th percentile of null gains))``, kept when above 0.
- ``permutation``: the validation AUC lost when a feature's values are shuffled, on inner folds of the
  given rows; score the smallest loss over the inner folds, kept when above 0 (it helps in every inner fold:
  a mean above 0 keeps about half the pure-noise features a model happened to split on).
- ``forward``: greedy forward selection by inner-fold AUC over the features ranked by gain: a feature is
  added when it raises the mean AUC by more than ``tol``.

:func:`selection_transform` makes a selection a fold-local transform (``common.tabular.matrix``), so the
fold driver selects on each fold's training rows and the CV of the selected model is not optimistic (nested,
like the blend's CV).

Given the rows already binned (``binned``: a subset of the matrix's binned Dataset, common.tabular.binned),
null-importance and permutation train on it and its subsets instead of binning the rows again; forward
bins each candidate feature set it tries (another set of columns each time) and ranks on ``binned``.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import lightgbm as lgb
import numpy as np
import pandas as pd

from common.errors import BadInput, MissingInput
from common.folds import make_folds
from common.metrics import roc_auc
from common.progress import progress_bar
from common.tabular.binned import BinnedMatrix, lightgbm_names
from common.tabular.matrix import FoldColumns, FoldTransform

log = logging.getLogger(__name__)

METHODS = ("null-importance", "permutation", "forward")
FEATURES_FILE = "features.csv"  # feature, score, selected: the selection on every training row


@dataclass
class SelectionOptions:
    """How a selection is made (the LightGBM models it fits are small and fast on purpose)."""
    method: str = "null-importance"
    rounds: int = 200          # boosting rounds of each selection model (early-stopped on inner folds)
    null_runs: int = 10        # null-importance: models on shuffled targets
    inner_folds: int = 3       # permutation, forward: inner folds of the given rows
    candidates: int = 50       # forward: the top features by gain it tries, in that order
    tol: float = 1e-4          # forward: the least AUC gain that adds a feature
    num_threads: int = 2
    seed: int = 42
    progress: bool = True


def _params(opts: SelectionOptions, seed: int) -> dict:
    return {"objective": "binary", "metric": "auc", "learning_rate": 0.1, "num_leaves": 31, "min_data_in_leaf": 20,
            "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "num_threads": opts.num_threads,
            "seed": seed, "verbose": -1, "force_col_wise": True, "deterministic": True}


def _gain(data: lgb.Dataset, opts: SelectionOptions, seed: int) -> np.ndarray:
    return lgb.train(_params(opts, seed), data, num_boost_round=opts.rounds).feature_importance("gain")


def _check(x: pd.DataFrame, binned: lgb.Dataset | None) -> lgb.Dataset | None:
    """``binned``, checked to hold as many rows as ``x`` and its columns."""
    if binned is not None and (binned.num_data() != len(x) or binned.get_feature_name() != lightgbm_names(x.columns)):
        raise BadInput(f"the binned rows ({binned.num_data()} x {binned.num_feature()}) are not the "
                         f"{len(x)} x {x.shape[1]} rows given to the selection")
    return binned


def _binned(x: pd.DataFrame, y: np.ndarray, binned: lgb.Dataset | None = None) -> lgb.Dataset:
    """``x`` binned once (``binned`` when given): the bins do not depend on the label, so the null models
    only swap it."""
    if _check(x, binned) is not None:
        return binned
    return lgb.Dataset(x, y, params={"verbose": -1}, free_raw_data=False).construct()


def _inner_fits(x: pd.DataFrame, y: np.ndarray, opts: SelectionOptions, binned: lgb.Dataset | None = None):
    """(booster, validation x, validation y) of each inner fold, early-stopped on its validation rows; the
    inner folds are subsets of ``binned`` when given, else binned here."""
    binned = _check(x, binned)
    folds = make_folds(np.arange(len(y)), y, n_splits=opts.inner_folds, seed=opts.seed)["fold"].to_numpy()
    for k in range(opts.inner_folds):
        valid = folds == k
        if binned is not None:
            train = binned.subset(np.flatnonzero(~valid)).construct()
            valid_set = binned.subset(np.flatnonzero(valid)).construct()
        else:
            train = lgb.Dataset(x[~valid], y[~valid], params={"verbose": -1})
            valid_set = lgb.Dataset(x[valid], y[valid], reference=train)
        booster = lgb.train(_params(opts, opts.seed), train, num_boost_round=opts.rounds, valid_sets=[valid_set],
                            callbacks=[lgb.early_stopping(20, verbose=False)])
        yield booster, x[valid], y[valid]


def null_importance(x: pd.DataFrame, y: np.ndarray, opts: SelectionOptions,
                    binned: lgb.Dataset | None = None) -> pd.Series:
    data = _binned(x, y, binned)
    began = time.perf_counter()
    real = _gain(data, opts, opts.seed)
    log.info("null importances of %d features on %d rows: %d shuffled-label fits, about %.0f s (one fit %.1f s)",
             x.shape[1], len(x), opts.null_runs, (time.perf_counter() - began) * opts.null_runs,
             time.perf_counter() - began)
    rng = np.random.default_rng(opts.seed)
    null = []
    try:
        for i in progress_bar(range(opts.null_runs), enabled=opts.progress, desc="null importances"):
            data.set_label(rng.permutation(y))
            null.append(_gain(data, opts, opts.seed + 1 + i))
    finally:
        data.set_label(y)  # a Dataset given by the caller gets its labels back
    null = np.stack(null)
    return pd.Series(np.log((1e-10 + real) / (1 + np.percentile(null, 75, axis=0))), index=x.columns)


def permutation(x: pd.DataFrame, y: np.ndarray, opts: SelectionOptions,
                binned: lgb.Dataset | None = None) -> pd.Series:
    rng = np.random.default_rng(opts.seed)
    losses = []
    for booster, xv, yv in _inner_fits(x, y, opts, binned):
        base = roc_auc(yv, booster.predict(xv, num_iteration=booster.best_iteration))
        loss = {}
        for col in progress_bar(x.columns, enabled=opts.progress, desc="permuting"):
            shuffled = xv.copy()
            shuffled[col] = rng.permutation(shuffled[col].to_numpy())
            loss[col] = base - roc_auc(yv, booster.predict(shuffled, num_iteration=booster.best_iteration))
        losses.append(pd.Series(loss))
    return pd.concat(losses, axis=1).min(axis=1).reindex(x.columns)


def _inner_auc(x: pd.DataFrame, y: np.ndarray, opts: SelectionOptions) -> float:
    return float(np.mean([roc_auc(yv, b.predict(xv, num_iteration=b.best_iteration))
                          for b, xv, yv in _inner_fits(x, y, opts)]))


def forward(x: pd.DataFrame, y: np.ndarray, opts: SelectionOptions, binned: lgb.Dataset | None = None) -> pd.Series:
    """Score: the AUC gain a feature brought when it was added (NaN: not tried, <= tol: not added)."""
    ranked = pd.Series(_gain(_binned(x, y, binned), opts, opts.seed), index=x.columns).sort_values(ascending=False)
    chosen, best = [], 0.5
    gains = pd.Series(np.nan, index=x.columns)
    for col in progress_bar(list(ranked.index[:opts.candidates]), enabled=opts.progress, desc="forward"):
        auc = _inner_auc(x[chosen + [col]], y, opts)
        gains[col] = auc - best
        if auc - best > opts.tol:
            chosen, best = chosen + [col], auc
    return gains


def select(x: pd.DataFrame, y: np.ndarray, opts: SelectionOptions, binned: lgb.Dataset | None = None) -> pd.DataFrame:
    """``feature, score, selected`` for every column of ``x`` (best first), from these rows alone; ``binned``:
    the same rows and columns already binned (labels ``y``), used instead of binning them again."""
    method = {"null-importance": null_importance, "permutation": permutation, "forward": forward}[opts.method]
    score = method(x, y, opts, binned)
    threshold = opts.tol if opts.method == "forward" else 0.0
    table = pd.DataFrame({"feature": x.columns, "score": score.to_numpy(), "selected": (score > threshold).to_numpy()})
    if not table["selected"].any():  # a model needs one feature: keep the best scored
        table.loc[table["score"].fillna(-np.inf).idxmax(), "selected"] = True
    log.info("%s selection on %d rows kept %d of %d features", opts.method, len(x), int(table["selected"].sum()),
             len(table))
    return table.sort_values("score", ascending=False, na_position="last").reset_index(drop=True)


def selection_transform(opts: SelectionOptions, always: Sequence[str] = (),
                        record: Callable[[pd.DataFrame, pd.DataFrame], None] | None = None,
                        binned: BinnedMatrix | None = None) -> FoldTransform:
    """A fold-local transform keeping the features :func:`select` picks on the fold's training rows, and
    the ``always`` columns (e.g. those a later transform reads); ``record(table, x_valid)`` sees each
    fold's selection table. ``binned``: the matrix binned once, whose subset of the fold's training rows the
    selection trains on."""
    def fit(x_train: pd.DataFrame, y_train: np.ndarray, others: list[pd.DataFrame]) -> FoldColumns:
        rows = binned.rows(x_train.index.to_numpy()) if binned is not None else None  # indexed by row position
        table = select(x_train, y_train, opts, rows)
        if record is not None:
            record(table, others[0])
        chosen = set(table.loc[table["selected"], "feature"]) | set(always)
        return FoldColumns(pd.DataFrame(index=x_train.index), [pd.DataFrame(index=o.index) for o in others],
                           keep=[c for c in x_train.columns if c in chosen])
    return FoldTransform(fit)


def read_selected_features(source: str | Path, option: str = "--features-file") -> list[str]:
    """The features to keep: a selection run folder (its ``features.csv``), a CSV with a ``feature`` column
    (the rows whose ``selected`` is true, when it has one) or a text file with one name per line."""
    path = Path(source)
    path = path / FEATURES_FILE if path.is_dir() else path
    if not path.is_file():
        raise MissingInput(f"option {option}: no {FEATURES_FILE} in {source}")
    if path.suffix == ".csv":
        table = pd.read_csv(path)
        if "feature" not in table.columns:
            raise BadInput(f"option {option}: {path} has no 'feature' column (columns: {list(table.columns)[:8]})")
        if "selected" in table.columns:
            table = table[table["selected"].astype(bool)]
        names = table["feature"].astype(str).tolist()
    else:
        names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not names:
        raise BadInput(f"option {option}: {path} lists no features")
    return names
