"""The plain-pandas pipeline end to end: tables read by a default ``pandas.read_csv`` (float64/int64/str, no
categories, no cache), the pandas feature groups, merged per client."""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from bench.plain_pandas import application, bureau, credit_card, installments, pos_cash, previous
from bench.plain_pandas.aggregate import KEY, safe_ratio

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
    """Features mixing the application with other tables (added when both sides are present)."""
    pairs = {
        "BUREAU_DEBT_TO_INCOME": ("BUREAU_ACTIVE_AMT_CREDIT_SUM_DEBT_SUM", "AMT_INCOME_TOTAL"),
        "BUREAU_ANNUITY_TO_INCOME": ("BUREAU_ACTIVE_AMT_ANNUITY_SUM", "AMT_INCOME_TOTAL"),
        "BUREAU_CREDIT_TO_CREDIT": ("BUREAU_AMT_CREDIT_SUM_MEAN", "AMT_CREDIT"),
        "PREV_ANNUITY_TO_ANNUITY": ("PREV_AMT_ANNUITY_MEAN", "AMT_ANNUITY"),
        "PREV_CREDIT_TO_CREDIT": ("PREV_AMT_CREDIT_MEAN", "AMT_CREDIT"),
        "PREV_REMAINING_DEBT_TO_INCOME": ("PREV_REMAINING_DEBT_SUM", "AMT_INCOME_TOTAL"),
        "INST_PAYMENT_1Y_TO_INCOME": ("INST_1Y_AMT_PAYMENT_SUM", "AMT_INCOME_TOTAL"),
        "CC_BALANCE_TO_INCOME": ("CC_AMT_BALANCE_MEAN", "AMT_INCOME_TOTAL"),
    }
    out = {name: safe_ratio(matrix[a], matrix[b]) for name, (a, b) in pairs.items()
           if a in matrix and b in matrix}
    # Lateness pooled over every monthly/payment history the client has (each alone is noisy).
    for name, late, seen in (("ALL_LATE_SHARE", _LATE_SUMS, _SEEN_COUNTS), ("ALL_1Y_LATE_SHARE", _LATE_1Y, _SEEN_1Y),
                             ("ALL_OLD_LATE_SHARE", _LATE_OLD, _SEEN_OLD)):
        late = [c for c in late if c in matrix]
        seen = [c for c in seen if c in matrix]
        if len(late) > 1:
            out[name] = safe_ratio(matrix[late].sum(axis=1, min_count=1), matrix[seen].sum(axis=1, min_count=1))
    if "ALL_LATE_SHARE" in out and "ALL_1Y_LATE_SHARE" in out:
        out["ALL_1Y_MINUS_ALL_LATE_SHARE"] = out["ALL_1Y_LATE_SHARE"] - out["ALL_LATE_SHARE"]
    if "ALL_OLD_LATE_SHARE" in out and "ALL_1Y_LATE_SHARE" in out:
        out["ALL_1Y_MINUS_OLD_LATE_SHARE"] = out["ALL_1Y_LATE_SHARE"] - out["ALL_OLD_LATE_SHARE"]
    return pd.DataFrame(out, index=matrix.index)


_LATE_SUMS = ("INST_LATE_SUM", "POS_LATE_SUM", "CC_LATE_SUM", "BUREAU_BB_LATE_COUNT_SUM")
_SEEN_COUNTS = ("INST_COUNT", "POS_COUNT", "CC_COUNT", "BUREAU_BB_MONTHS_COUNT_SUM")
_LATE_1Y = ("INST_1Y_LATE_SUM", "POS_12M_LATE_SUM", "CC_12M_LATE_SUM")
_SEEN_1Y = ("INST_1Y_COUNT", "POS_12M_COUNT", "CC_12M_COUNT")
_LATE_OLD = ("INST_OLD_LATE_SUM", "POS_OLD_LATE_SUM")
_SEEN_OLD = ("INST_OLD_COUNT", "POS_OLD_COUNT")


