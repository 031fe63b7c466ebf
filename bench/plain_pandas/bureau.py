"""Credit-bureau features: bureau_balance aggregated per bureau loan first, then every loan per client,
overall and split Active/Closed, with debt, overdue and duration ratios."""
from __future__ import annotations

import numpy as np
import pandas as pd

from bench.plain_pandas.aggregate import (
    aggregate, category_lookup, category_shares, count_rows, join_all, safe_ratio, window)
from competitions.home_credit.features.bureau import _STATUS_DPD, _NUM, _SUBSET  # the same aggregations

LOAN = "SK_ID_BUREAU"


def balance_per_loan(balance: pd.DataFrame) -> pd.DataFrame:
    """One row per bureau loan: history length, share of each status, worst and recent lateness."""
    status = balance["STATUS"]
    dpd = category_lookup(status, _STATUS_DPD)
    frame = pd.DataFrame({
        LOAN: balance[LOAN].to_numpy(),
        "MONTHS_BALANCE": balance["MONTHS_BALANCE"].to_numpy(np.float32),
        "DPD": dpd,
        "LATE": (dpd > 0).astype("float32"),
        "CLOSED": category_lookup(status, {"C": 1}, default=0.0),
        "UNKNOWN": category_lookup(status, {"X": 1}, default=0.0),
    })
    frame["LATE_12M"] = np.where(frame["MONTHS_BALANCE"] >= -12, frame["LATE"], np.nan).astype("float32")
    grouped = frame.groupby(LOAN, sort=False).agg(
        BB_MONTHS_MIN=("MONTHS_BALANCE", "min"),
        BB_MONTHS_MAX=("MONTHS_BALANCE", "max"),
        BB_MONTHS_COUNT=("MONTHS_BALANCE", "size"),
        BB_DPD_MAX=("DPD", "max"),
        BB_DPD_MEAN=("DPD", "mean"),
        BB_LATE_SHARE=("LATE", "mean"),
        BB_LATE_COUNT=("LATE", "sum"),
        BB_LATE_12M_SHARE=("LATE_12M", "mean"),
        BB_CLOSED_SHARE=("CLOSED", "mean"),
        BB_UNKNOWN_SHARE=("UNKNOWN", "mean"),
    )
    return grouped.astype("float32")


def prepare(bureau: pd.DataFrame, balance: pd.DataFrame) -> pd.DataFrame:
    """Bureau loans with their balance summary and derived ratios (numeric, float32)."""
    b = bureau.join(balance_per_loan(balance), on=LOAN)
    b["CREDIT_DURATION"] = (b["DAYS_CREDIT_ENDDATE"] - b["DAYS_CREDIT"]).astype("float32")
    b["ENDDATE_DIFF"] = (b["DAYS_ENDDATE_FACT"] - b["DAYS_CREDIT_ENDDATE"]).astype("float32")
    b["DEBT_TO_CREDIT"] = safe_ratio(b["AMT_CREDIT_SUM_DEBT"], b["AMT_CREDIT_SUM"])
    b["OVERDUE_TO_DEBT"] = safe_ratio(b["AMT_CREDIT_SUM_OVERDUE"], b["AMT_CREDIT_SUM_DEBT"])
    b["LIMIT_TO_CREDIT"] = safe_ratio(b["AMT_CREDIT_SUM_LIMIT"], b["AMT_CREDIT_SUM"])
    b["ANNUITY_TO_CREDIT"] = safe_ratio(b["AMT_ANNUITY"], b["AMT_CREDIT_SUM"])
    b["IS_OVERDUE"] = (b["CREDIT_DAY_OVERDUE"] > 0).astype("float32")
    return b


def build(bureau: pd.DataFrame, balance: pd.DataFrame) -> pd.DataFrame:
    """Per-client bureau features, indexed by SK_ID_CURR."""
    b = prepare(bureau, balance)
    active = b[b["CREDIT_ACTIVE"] == "Active"]
    closed = b[b["CREDIT_ACTIVE"] == "Closed"]
    frames = [
        count_rows(b, "BUREAU_COUNT"),
        aggregate(b, _NUM, "BUREAU"),
        category_shares(b, "CREDIT_ACTIVE", "BUREAU", max_levels=4),
        category_shares(b, "CREDIT_TYPE", "BUREAU", max_levels=8),
        category_shares(b, "CREDIT_CURRENCY", "BUREAU", max_levels=2),
        count_rows(active, "BUREAU_ACTIVE_COUNT"),
        aggregate(active, _SUBSET, "BUREAU_ACTIVE"),
        count_rows(closed, "BUREAU_CLOSED_COUNT"),
        aggregate(closed, _SUBSET, "BUREAU_CLOSED"),
        aggregate(window(b, "DAYS_CREDIT", 730), _SUBSET, "BUREAU_2Y"),
    ]
    out = join_all(frames)
    out["BUREAU_ACTIVE_DEBT_TO_CREDIT"] = safe_ratio(out["BUREAU_ACTIVE_AMT_CREDIT_SUM_DEBT_SUM"],
                                                     out["BUREAU_ACTIVE_AMT_CREDIT_SUM_SUM"])
    out["BUREAU_ACTIVE_SHARE"] = safe_ratio(out["BUREAU_ACTIVE_COUNT"], out["BUREAU_COUNT"])
    return out.astype("float32")
