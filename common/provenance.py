"""What each fold of a run was made from: fingerprints of the data a fold saw, compared before folds are joined.

The fold driver (``common.cv.run_folds``) records in each fold's ``done.json``, under ``made_from``:

- ``folds``: the shared fold file beside the run (its ids and fold numbers), where there is one;
- ``labels``: the training ids and labels the command read that fold file for (``common.folds``), where it did;
- ``test``: the ids of the fold's test predictions, where it has some.

Folds whose records differ in any key both hold were made from other data: the driver refuses to continue a run
with them and :class:`common.run.Run` refuses to merge them (``RunFolder.status`` calls such a run failed).
A fingerprint is order-free (sorted row hashes), so the same data read in another order compares equal.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

MADE_FROM = "made_from"  # the key of a fold's done.json
WHAT = {"folds": "the fold file", "labels": "the training ids and labels", "test": "the test ids"}
FOLD_FILE = "folds.csv"


def fingerprint(frame: pd.DataFrame) -> str:
    """An order-free fingerprint of a table's rows (values compared as text)."""
    rows = pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy()
    return hashlib.sha256(np.sort(rows).tobytes()).hexdigest()[:16]


def ids_fingerprint(ids: Sequence) -> str:
    return fingerprint(pd.DataFrame({"id": np.asarray(ids)}))


def labels_fingerprint(ids: Sequence, y: Sequence) -> str:
    """The training ids with their labels (as integers, so 1 and 1.0 compare alike)."""
    return fingerprint(pd.DataFrame({"id": np.asarray(ids), "y": np.asarray(y).astype(np.int64)}))


def fold_file_fingerprint(path: Path) -> str:
    """The ids and fold numbers of a fold file."""
    return fingerprint(pd.read_csv(path, dtype={"id": str}))


def shared_fold_file(run_root: Path) -> Path | None:
    """The competition's fold file of a run: beside it (``<runs>/<competition>/folds.csv``), or beside the run
    of which it is a seed (``<run>/seeds/seed<s>``); None where there is none."""
    for folder in (run_root.parent, run_root.parent.parent.parent):
        if (folder / FOLD_FILE).is_file():
            return folder / FOLD_FILE
    return None


def differences(old: dict, new: dict) -> list[str]:
    """The keys both records hold with different values (a key one lacks cannot tell them apart)."""
    return [key for key in WHAT if old.get(key) is not None and new.get(key) is not None and old[key] != new[key]]


def describe(keys: Sequence[str]) -> str:
    return " and ".join(WHAT[key] for key in keys)


def mixed_folds(records: dict[int, dict]) -> tuple[list[int], list[int], list[str]] | None:
    """Where finished folds' records (fold -> ``made_from``) disagree: the folds agreeing with the first fold,
    the others, and what differs; None when they all agree."""
    folds = sorted(records)
    if not folds:
        return None
    first = records[folds[0]]
    other = [k for k in folds if differences(first, records[k])]
    if not other:
        return None
    keys = [key for key in WHAT if any(key in differences(first, records[k]) for k in other)]
    return [k for k in folds if k not in other], other, keys
