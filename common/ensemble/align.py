"""The runs of a blend side by side: their OOF and test predictions, rows aligned by id.

``align`` checks that every run predicted the same ids with the same folds and targets (each frame checked
as :func:`common.run.check_predictions` checks a prediction file) and builds the matrices; ``attach_meta``
adds meta-features keyed by id for the blenders that take them ('lgb_stack'); ``rank_within_folds`` puts every
fold's scores on one scale (rank-normalised pooling), for runs whose fold models score on scales of their own.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from common.errors import BadInput
from common.ensemble.blenders import rank_normalise
from common.run import OOF_COLUMNS, SHOWN_IDS, TEST_COLUMNS, check_predictions


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


def _indexed(df: pd.DataFrame, columns: list[str], what: str) -> pd.DataFrame:
    return check_predictions(df, columns, what).set_index("id")


def _same_ids(ref: pd.Index, other: pd.Index, what: str, ref_what: str) -> None:
    missing, extra = ref.difference(other), other.difference(ref)
    if len(missing) or len(extra):
        raise BadInput(
            f"{what} does not cover the same ids as {ref_what}: {len(missing)} missing "
            f"(e.g. {missing[:SHOWN_IDS].tolist()}), {len(extra)} extra (e.g. {extra[:SHOWN_IDS].tolist()})")


def _same_column(ref: pd.DataFrame, other: pd.DataFrame, column: str, what: str, ref_what: str) -> None:
    a, b = ref[column].to_numpy(), other[column].to_numpy()
    diff = np.flatnonzero(a != b)
    if diff.size:
        examples = ", ".join(f"id {ref.index[i]!r}: {b[i]} vs {a[i]}" for i in diff[:SHOWN_IDS])
        raise BadInput(f"{what} has another {column} than {ref_what} for {diff.size} id(s), e.g. {examples}")


def align(oofs: dict[str, pd.DataFrame], tests: dict[str, pd.DataFrame] | None = None) -> Aligned:
    """Align runs' OOF frames (``id,fold,target,pred``) and optional test frames (``id,pred``) by id.

    Raises ``BadInput`` naming the run and showing a few ids when ids, folds or targets disagree.
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
    ``BadInput`` naming the missing ids, duplicated ids and non-numeric or missing columns.
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
        raise BadInput(f"{what} has {len(dup)} duplicated id(s), e.g. {dup.unique()[:SHOWN_IDS].tolist()}")
    table = meta[columns].astype(np.float64).set_axis(pd.Index(keys, name="id"))

    def rows(ids: np.ndarray, part: str) -> np.ndarray:
        wanted = pd.Index(np.asarray(ids).astype(str))
        missing = wanted.difference(table.index)
        if len(missing):
            raise BadInput(f"{what} lacks {len(missing)} of the {len(wanted)} {part} ids, "
                           f"e.g. {missing[:SHOWN_IDS].tolist()}")
        return table.loc[wanted].to_numpy()

    extra = dict(meta_names=tuple(str(c) for c in columns), meta=rows(aligned.ids, "OOF (train)"))
    if aligned.test_ids is not None:
        extra["meta_test"] = rows(aligned.test_ids, "test")
    return replace(aligned, **extra)


def rank_within_folds(aligned: Aligned) -> Aligned:
    """``aligned`` with each run's OOF scores rank-normalised within each fold and its test scores over the test
    rows (``rank_normalise``: [0, 1]). Where fold models score on scales of their own (a boosted model's margins),
    pooling the raw OOF scores mixes the scales and the pooled AUC falls below every fold's; ranked within folds,
    the pooled AUC is about the mean fold AUC, and every run and the blend are scored on these same rows."""
    oof = np.empty_like(aligned.oof)
    for k in np.unique(aligned.folds):
        rows = aligned.folds == k
        oof[rows] = rank_normalise(aligned.oof[rows])
    test = None if aligned.test is None else rank_normalise(aligned.test)
    return replace(aligned, oof=oof, test=test)


def one_run(aligned: Aligned, name: str) -> Aligned:
    """The run ``name`` of ``aligned`` alone (without meta-features): what a one-run submission is made from."""
    j = aligned.names.index(name)
    test = None if aligned.test is None else aligned.test[:, [j]]
    return replace(aligned, names=[name], oof=aligned.oof[:, [j]], test=test, meta_names=(), meta=None,
                   meta_test=None)
