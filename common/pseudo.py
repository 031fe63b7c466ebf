"""Pseudo-labelling's fold-safe source, whatever the model: a finished run whose fold k's test predictions
(``<source>/fold<k>/test.csv``, made by a model trained without fold k's rows) label the test rows that join
fold k's training in a second round. The fold-averaged ``test.csv`` is never read: its other folds' models saw
fold k's validation rows, whose labels would reach fold k's model through it.

How rows are chosen and joined is the data kind's: ``common.vision.pseudo`` (confident images, by threshold) and
``common.tabular.pseudo`` (the test rows at either end of the ranking, by share).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from common.errors import BadInput, MissingInput
from common.io import read_csv
from common.paths import resolve_run
from common.run import DONE_FILE, RunFolder

PSEUDO_FILE = "pseudo.csv"  # what each fold of a second round learnt from, in its fold folder


def source_fold_file(source: str | Path, fold: int) -> Path:
    """``<source>/fold<k>/test.csv`` of a finished fold; a one-line error otherwise."""
    run = RunFolder(source)
    path = run.fold_test_path(fold)
    if not run.is_finished(fold) or not path.is_file():
        lacking = path if not path.is_file() else run.fold_path(fold) / DONE_FILE
        raise MissingInput(f"option --pseudo-from {source}: fold {fold} is not finished there (no {lacking}); "
                           f"pseudo-labels of fold {fold} must come from that fold's own model: train fold {fold} "
                           "of the source run first")
    return path


def check_source(source: str | Path, folds, n_splits: int) -> None:
    """The source run exists, was split into ``n_splits`` folds and has finished every fold of ``folds``."""
    root = Path(source)
    if not root.is_dir():
        raise MissingInput(f"option --pseudo-from: no such run folder: {source}")
    config = RunFolder(root).config()
    if config:
        theirs = config.get("n_splits")
        if theirs is not None and int(theirs) != int(n_splits):
            raise BadInput(f"option --pseudo-from {source}: that run has --n-splits {theirs}, this one "
                           f"{n_splits}: the folds must be the same")
    for fold in folds:
        source_fold_file(root, fold)


def resolve_source(source: str | None, competition: str, runs_dir, folds, n_splits: int,
                   companions: dict) -> Path | None:
    """The ``--pseudo-from`` run (a folder, or a run name of ``competition``) checked by :func:`check_source` for
    ``folds``; None without it, when none of its ``companions`` ({flag: value, None where not given}) is given."""
    if not source:
        given = [flag for flag, value in companions.items() if value is not None]
        if given:
            raise BadInput(f"option {given[0]} needs --pseudo-from RUN")
        return None
    root = resolve_run(source, competition, runs_dir, option="--pseudo-from")
    check_source(root, folds, n_splits)
    return root


def read_source_fold(source: str | Path, fold: int, test_ids: np.ndarray,
                     ignore_ids=()) -> tuple[Path, pd.Series, int]:
    """The file read, the source's fold ``fold`` test predictions as a Series over ``test_ids`` (as strings, in
    their order; NaN where the source did not predict one) and how many test rows the source predicted. Ids the
    source predicts that are not in ``test_ids`` (but for ``ignore_ids``, e.g. images left out here) mean another
    dataset: a one-line error."""
    path = source_fold_file(source, fold)
    table = read_csv(path, "train that fold of the --pseudo-from run again", dtype={"id": str})
    test_ids = np.asarray(test_ids).astype(str)
    pred = table.set_index("id")["pred"].reindex(test_ids)
    if pred.isna().all() or len(set(table["id"]) - set(test_ids) - set(map(str, ignore_ids))):
        raise BadInput(f"option --pseudo-from: {path} predicts other test ids than this data's "
                       f"({len(table)} ids, {int(pred.notna().sum())} shared of {len(test_ids)}): another dataset?")
    return path, pred, len(table)
