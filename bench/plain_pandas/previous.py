"""Previous Home Credit applications: overall and split Approved/Refused, the last 1/3/5 and the first
applications, amount ratios and an interest rate estimated from annuity, credit and number of payments."""
from __future__ import annotations

import numpy as np
import pandas as pd

from bench.plain_pandas.aggregate import (
    aggregate, category_shares, count_rows, join_all, last_rows, missing_as_nan, recency_rank, safe_ratio)
from competitions.home_credit.schema import SENTINEL_COLUMNS, SENTINEL_DAYS

_DAY_SENTINELS = SENTINEL_COLUMNS["previous_application.csv"]


def annuity_rate(credit, annuity, payments, iterations: int = 40) -> np.ndarray:
    """Monthly interest rate r solving ``annuity = credit * r / (1 - (1 + r) ** -payments)`` (bisection).

    NaN where the inputs are missing or imply a negative rate (annuity * payments < credit).
    """
    credit = np.asarray(credit, np.float64)
    annuity = np.asarray(annuity, np.float64)
    n = np.asarray(payments, np.float64)
    valid = (credit > 0) & (annuity > 0) & (n > 0) & (annuity * n >= credit)
    c, a, m = credit[valid], annuity[valid], n[valid]
    low, high = np.zeros_like(c), np.ones_like(c)
    for _ in range(iterations):
        mid = (low + high) / 2
        payment = c * mid / (1 - (1 + mid) ** -m)
        too_high = payment > a
        high = np.where(too_high, mid, high)
        low = np.where(too_high, low, mid)
    out = np.full(credit.shape, np.nan, np.float32)
    out[valid] = (low + high) / 2
    return out


def prepare(prev: pd.DataFrame) -> pd.DataFrame:
    """Previous applications cleaned (sentinel days, XNA/XAP codes) with ratios and the rate estimate."""
    p = prev.copy()
    for col in _DAY_SENTINELS:
        p[col] = p[col].where(p[col] != SENTINEL_DAYS)
    for col in p.columns:
        if not pd.api.types.is_numeric_dtype(p[col]):
            p[col] = missing_as_nan(p[col])
    p["APP_TO_CREDIT"] = safe_ratio(p["AMT_APPLICATION"], p["AMT_CREDIT"])
    p["CREDIT_TO_GOODS"] = safe_ratio(p["AMT_CREDIT"], p["AMT_GOODS_PRICE"])
    p["ANNUITY_TO_CREDIT"] = safe_ratio(p["AMT_ANNUITY"], p["AMT_CREDIT"])
    p["DOWN_PAYMENT_TO_CREDIT"] = safe_ratio(p["AMT_DOWN_PAYMENT"], p["AMT_CREDIT"])
    p["TOTAL_PAYMENT"] = (p["AMT_ANNUITY"] * p["CNT_PAYMENT"]).astype("float32")
    p["SIMPLE_INTEREST"] = (safe_ratio(p["TOTAL_PAYMENT"], p["AMT_CREDIT"]) - 1).astype("float32")
    p["RATE_MONTHLY"] = annuity_rate(p["AMT_CREDIT"], p["AMT_ANNUITY"], p["CNT_PAYMENT"])
    p["DURATION"] = (p["DAYS_LAST_DUE_1ST_VERSION"] - p["DAYS_FIRST_DUE"]).astype("float32")
    p["DUE_SHIFT"] = (p["DAYS_LAST_DUE"] - p["DAYS_LAST_DUE_1ST_VERSION"]).astype("float32")
    p["TERMINATION_GAP"] = (p["DAYS_TERMINATION"] - p["DAYS_LAST_DUE_1ST_VERSION"]).astype("float32")
    p["REMAINING_PAYMENTS"] = np.where(p["DAYS_LAST_DUE_1ST_VERSION"] > 0,
                                       p["DAYS_LAST_DUE_1ST_VERSION"] / 30.4, 0).astype("float32")
    p["REMAINING_DEBT"] = (p["REMAINING_PAYMENTS"] * p["AMT_ANNUITY"]).astype("float32")
    return p


_NUM = {
    "AMT_ANNUITY": ["min", "max", "mean", "sum"],
    "AMT_APPLICATION": ["max", "mean"],
    "AMT_CREDIT": ["max", "mean", "sum"],
    "AMT_DOWN_PAYMENT": ["max", "mean"],
    "AMT_GOODS_PRICE": ["max", "mean"],
    "HOUR_APPR_PROCESS_START": ["mean"],
    "RATE_DOWN_PAYMENT": ["max", "mean"],
    "DAYS_DECISION": ["min", "max", "mean"],
    "CNT_PAYMENT": ["mean", "sum", "max"],
    "SELLERPLACE_AREA": ["mean"],
    "DAYS_FIRST_DRAWING": ["max", "mean"],
    "DAYS_FIRST_DUE": ["max", "mean"],
    "DAYS_LAST_DUE_1ST_VERSION": ["max", "mean"],
    "DAYS_LAST_DUE": ["max", "mean"],
    "DAYS_TERMINATION": ["max", "mean"],
    "NFLAG_INSURED_ON_APPROVAL": ["mean"],
    "APP_TO_CREDIT": ["min", "max", "mean", "var"],
    "CREDIT_TO_GOODS": ["mean"],
    "ANNUITY_TO_CREDIT": ["mean", "max"],
    "DOWN_PAYMENT_TO_CREDIT": ["mean"],
    "SIMPLE_INTEREST": ["mean", "max", "min"],
    "RATE_MONTHLY": ["mean", "max", "min"],
    "DURATION": ["mean", "max"],
    "DUE_SHIFT": ["mean"],
    "TERMINATION_GAP": ["mean"],
    "REMAINING_PAYMENTS": ["sum", "max"],
    "REMAINING_DEBT": ["sum", "max"],
}
_SUBSET = {
    "AMT_ANNUITY": ["mean", "max"],
    "AMT_CREDIT": ["mean", "sum"],
    "AMT_APPLICATION": ["mean"],
    "DAYS_DECISION": ["max", "mean"],
    "CNT_PAYMENT": ["mean"],
    "APP_TO_CREDIT": ["mean", "min"],
    "SIMPLE_INTEREST": ["mean"],
    "RATE_MONTHLY": ["mean", "max"],
    "DURATION": ["mean"],
    "REMAINING_DEBT": ["sum"],
}
_RECENT = {
    "AMT_ANNUITY": ["mean"],
    "AMT_CREDIT": ["mean"],
    "APP_TO_CREDIT": ["mean"],
    "DAYS_DECISION": ["mean"],
    "CNT_PAYMENT": ["mean"],
    "RATE_MONTHLY": ["mean"],
    "REFUSED": ["mean"],
}
_CATEGORIES = ["NAME_CONTRACT_STATUS", "NAME_CONTRACT_TYPE", "NAME_YIELD_GROUP", "CODE_REJECT_REASON",
               "NAME_CLIENT_TYPE", "NAME_PRODUCT_TYPE", "CHANNEL_TYPE", "NAME_PORTFOLIO",
               "PRODUCT_COMBINATION", "NAME_GOODS_CATEGORY"]


def build(prev: pd.DataFrame) -> pd.DataFrame:
    """Per-client features of previous applications, indexed by SK_ID_CURR."""
    p = prepare(prev)
    p["REFUSED"] = (p["NAME_CONTRACT_STATUS"] == "Refused").astype("float32")
    approved = p[p["NAME_CONTRACT_STATUS"] == "Approved"]
    rank = recency_rank(p, "DAYS_DECISION")
    refused = p[p["NAME_CONTRACT_STATUS"] == "Refused"]
    frames = [
        count_rows(p, "PREV_COUNT"),
        aggregate(p, _NUM, "PREV"),
        *(category_shares(p, col, "PREV", max_levels=8) for col in _CATEGORIES),
        count_rows(approved, "PREV_APPROVED_COUNT"),
        aggregate(approved, _SUBSET, "PREV_APPROVED"),
        count_rows(refused, "PREV_REFUSED_COUNT"),
        aggregate(refused, _SUBSET, "PREV_REFUSED"),
        *(aggregate(last_rows(p, k, "DAYS_DECISION", rank=rank), _RECENT, f"PREV_LAST{k}") for k in (1, 3, 5)),
        aggregate(last_rows(p, 1, "DAYS_DECISION", first=True), _RECENT, "PREV_FIRST"),
        aggregate(last_rows(approved, 1, "DAYS_DECISION"), _SUBSET, "PREV_LAST_APPROVED"),
    ]
    out = join_all(frames)
    out["PREV_REFUSED_SHARE"] = safe_ratio(out["PREV_REFUSED_COUNT"], out["PREV_COUNT"])
    out["PREV_APPROVED_SHARE"] = safe_ratio(out["PREV_APPROVED_COUNT"], out["PREV_COUNT"])
    return out.astype("float32")
