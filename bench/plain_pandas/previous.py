"""Previous Home Credit applications: overall and split Approved/Refused, the last 1/3/5 and the first
applications, amount ratios and an interest rate estimated from annuity, credit and number of payments."""
from __future__ import annotations

import numpy as np
import pandas as pd

from bench.plain_pandas.aggregate import (
    aggregate, category_shares, count_rows, join_all, last_rows, missing_as_nan, recency_rank, safe_ratio)
from competitions.home_credit.schema import SENTINEL_DAYS
from competitions.home_credit.features.previous import (  # the same aggregations
    annuity_rate, _DAY_SENTINELS, _NUM, _SUBSET, _RECENT, _CATEGORIES)


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
