"""Shared cross-validation folds: one ``folds.csv`` (``id,fold``) per competition read by every model.

Stratified K-fold, or stratified-group K-fold when rows form groups (duplicate clusters, clients) that
must never straddle training and validation. Deterministic for a seed. :func:`get_or_make_folds` also notes the
training ids and labels it served a fold file for (:func:`labels_served`), which the fold driver records in each
fold it writes (``common.provenance``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from common.errors import BadInput, MissingInput
from common.io import atomic_write_csv, read_csv
from common.provenance import labels_fingerprint

_LABELS_SERVED: dict[Path, str] = {}  # fold file (resolved) -> fingerprint of the ids and labels last served with it


def make_folds(ids: Sequence, y: Sequence[int], n_splits: int = 5, seed: int = 42,
               groups: Sequence | None = None) -> pd.DataFrame:
    """Assign each id a fold 0..n_splits-1, stratified on ``y`` and, if given, keeping ``groups`` whole."""
    ids = pd.Index(ids)
    y = np.asarray(y)
    if len(ids) != len(y) or (groups is not None and len(groups) != len(y)):
        raise BadInput(f"ids ({len(ids)}), y ({len(y)}) and groups must have the same length")
    if ids.has_duplicates:
        raise BadInput(f"duplicated ids, e.g. {list(ids[ids.duplicated()][:5])}")
    _check_both_classes(y)
    classes, counts = np.unique(y, return_counts=True)
    if counts.min() < n_splits:
        raise BadInput(f"class {classes[counts.argmin()].tolist()} has only {counts.min()} rows, fewer than the "
                       f"{n_splits} folds asked for: use at most {counts.min()} folds")
    if groups is None:
        splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    else:
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    fold = np.full(len(y), -1, dtype=np.int64)
    for k, (_, valid) in enumerate(splitter.split(np.zeros(len(y)), y, groups)):
        fold[valid] = k
    folds = pd.DataFrame({"id": ids.to_numpy(), "fold": fold})
    check_folds(folds, y, groups)
    return folds


def check_folds(folds: pd.DataFrame, y: Sequence[int], groups: Sequence | None = None) -> None:
    """Every fold must hold both classes; groups must not be split across folds. Rows with fold -1 (ids the
    file does not hold, allowed as ``optional`` by :func:`load_folds`) are left out of both checks."""
    y = np.asarray(y)
    assigned = folds["fold"].to_numpy() >= 0
    if not assigned.all():
        folds, y = folds[assigned], y[assigned]
        groups = None if groups is None else np.asarray(groups)[assigned]
    _check_both_classes(y)
    for k in sorted(folds["fold"].unique()):
        classes = np.unique(y[folds["fold"].to_numpy() == k])
        if len(classes) < 2:
            counts = dict(zip(*[c.tolist() for c in np.unique(y, return_counts=True)]))
            raise BadInput(f"fold {k} holds only class {classes.tolist()} (rows per class: {counts}): use at most "
                           f"{min(counts.values())} folds")
    if groups is not None:
        per_group = pd.Series(folds["fold"].to_numpy()).groupby(np.asarray(groups)).nunique()
        split = per_group[per_group > 1]
        if len(split):
            raise BadInput(f"groups split across folds: {list(split.index[:5])}")


def _check_both_classes(y: np.ndarray) -> None:
    """ROC-AUC and stratified folds need both classes: a data set of one class is a data problem, not a fold one."""
    classes = np.unique(y)
    if len(classes) < 2:
        raise BadInput(f"the labels hold only class {classes.tolist()} ({len(y)} rows): ROC-AUC needs both "
                       "classes; check that the data holds positive and negative examples")


def load_folds(path: str | Path, ids: Sequence | None = None, optional: Sequence | None = None) -> pd.DataFrame:
    """Read a fold file; with ``ids``, return it aligned to them and refuse a file made for other ids.

    ``optional``: ids that may lack a fold (e.g. unreadable images left out of the run): they get fold -1;
    any other id without a fold, and any id of the file not in ``ids``, is still an error naming them."""
    path = Path(path)
    if not path.is_file():
        raise MissingInput(f"fold file not found: {path}")
    folds = read_csv(path, "move it away and run the command again: the folds are made anew (runs made with the "
                           "old folds cannot be continued)")
    if list(folds.columns) != ["id", "fold"]:
        raise BadInput(f"fold file {path} must have columns id,fold; has {list(folds.columns)}")
    if ids is None:
        return folds
    wanted = pd.Index(ids).astype(str)
    have = pd.Index(folds["id"]).astype(str)
    missing, extra = wanted.difference(have), have.difference(wanted)
    tolerated = missing.intersection(pd.Index(optional if optional is not None else []).astype(str))
    missing = missing.difference(tolerated)
    if len(missing) or len(extra):
        raise BadInput(
            f"fold file {path} was made for other data: {len(missing)} ids without a fold "
            f"(e.g. {list(missing[:3])}), {len(extra)} unknown ids (e.g. {list(extra[:3])}); "
            f"give this data its own runs folder (--runs-dir DIR), or move {path} away to make new folds")
    if len(tolerated):
        folds = pd.concat([folds, pd.DataFrame({"id": tolerated.to_numpy(), "fold": -1})], ignore_index=True)
        have = pd.Index(folds["id"]).astype(str)
    position = pd.Series(np.arange(len(have)), index=have)
    return folds.iloc[position.loc[wanted].to_numpy()].reset_index(drop=True)


def get_or_make_folds(path: str | Path, ids: Sequence, y: Sequence[int], n_splits: int = 5,
                      seed: int = 42, groups: Sequence | None = None, optional: Sequence | None = None) -> pd.DataFrame:
    """Load the competition's fold file if it exists (checked against ``ids``; ``optional`` ids may lack a
    fold, see :func:`load_folds`), else make it over every id and save it."""
    path = Path(path)
    _check_both_classes(np.asarray(y))
    if path.exists():
        folds = load_folds(path, ids, optional)
        have = sorted(int(k) for k in pd.unique(folds["fold"]) if k >= 0)
        if len(have) != n_splits:
            raise BadInput(f"fold file {path} holds {len(have)} folds but --n-splits is {n_splits}: use --n-splits "
                           f"{len(have)}, or give {n_splits} folds their own runs folder (--runs-dir DIR)")
        try:
            check_folds(folds, y, groups)
        except ValueError as err:
            raise BadInput(f"fold file {path} does not fit this data: {err}; give this data its own runs folder "
                           f"(--runs-dir DIR), or move {path} away to make new folds") from None
    else:
        folds = make_folds(ids, y, n_splits=n_splits, seed=seed, groups=groups)
        atomic_write_csv(path, folds)
    _LABELS_SERVED[path.resolve()] = labels_fingerprint(ids, y)
    return folds


def labels_served(path: str | Path) -> str | None:
    """The fingerprint of the training ids and labels this process last read or made the fold file ``path`` for
    (:func:`get_or_make_folds`); None where it did not."""
    return _LABELS_SERVED.get(Path(path).resolve())
