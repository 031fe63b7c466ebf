"""The plain-pandas pipeline end to end: tables read by a default ``pandas.read_csv`` (float64/int64/str, no
categories, no cache), the pandas feature groups, merged per client."""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from bench.plain_pandas import application, bureau, credit_card, installments, pos_cash, previous
from bench.plain_pandas.aggregate import KEY, safe_ratio
from competitions.home_credit.features.build import _LATE_SHARES, _RATIOS  # the same definitions

GROUPS = {
    "application": (("application_train", "application_test"), application.build),
    "bureau": (("bureau", "bureau_balance"), bureau.build),
    "previous": (("previous_application",), previous.build),
    "installments": (("installments_payments",), installments.build),
    "pos_cash": (("POS_CASH_balance",), pos_cash.build),
    "credit_card": (("credit_card_balance",), credit_card.build),
}


def build_features(data_dir: str | Path, timings: dict | None = None) -> pd.DataFrame:
    """The feature matrix (``SK_ID_CURR``, ``TARGET``, features); ``timings`` gets ``load_s`` and ``features_s``."""
    timings = timings if timings is not None else {}
    timings.update(load_s=0.0, features_s=0.0)
    matrix = None
    for name, (tables, build) in GROUPS.items():
        start = time.perf_counter()
        frames = [pd.read_csv(Path(data_dir) / f"{t}.csv") for t in tables]
        loaded = time.perf_counter()
        frame = build(*frames)
        del frames
        if name != "application":
            frame = frame.rename_axis(KEY).reset_index()
        matrix = frame if matrix is None else matrix.merge(frame, on=KEY, how="left")
        timings["load_s"] += loaded - start
        timings["features_s"] += time.perf_counter() - loaded
    return pd.concat([matrix, cross_features(matrix)], axis=1)


def cross_features(matrix: pd.DataFrame) -> pd.DataFrame:
    """Features mixing the application with other tables (the kit's definitions, in pandas)."""
    out = {name: safe_ratio(matrix[a], matrix[b]) for name, (a, b) in _RATIOS.items()
           if a in matrix and b in matrix}
    for name, (late, seen) in _LATE_SHARES.items():
        late = [c for c in late if c in matrix]
        seen = [c for c in seen if c in matrix]
        if len(late) > 1:
            out[name] = safe_ratio(matrix[late].sum(axis=1, min_count=1), matrix[seen].sum(axis=1, min_count=1))
    if "ALL_LATE_SHARE" in out and "ALL_1Y_LATE_SHARE" in out:
        out["ALL_1Y_MINUS_ALL_LATE_SHARE"] = out["ALL_1Y_LATE_SHARE"] - out["ALL_LATE_SHARE"]
    if "ALL_OLD_LATE_SHARE" in out and "ALL_1Y_LATE_SHARE" in out:
        out["ALL_1Y_MINUS_OLD_LATE_SHARE"] = out["ALL_1Y_LATE_SHARE"] - out["ALL_OLD_LATE_SHARE"]
    return pd.DataFrame(out, index=matrix.index)
