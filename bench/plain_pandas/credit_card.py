"""Credit card monthly balances: utilisation (balance / limit), drawings, payments against the minimum,
days past due, over the whole history, the last 6/12/24 months, and 12-month trends."""
from __future__ import annotations

import numpy as np
import pandas as pd

from bench.plain_pandas.aggregate import (
    aggregate, count_rows, join_all, safe_ratio, trend, window)
from competitions.home_credit.features.credit_card import _NUM, _WINDOW  # the same aggregations


def prepare(cc: pd.DataFrame) -> pd.DataFrame:
    """Credit card balances with utilisation, payment and drawing ratios (float32)."""
    c = cc.copy()
    for col in ("AMT_CREDIT_LIMIT_ACTUAL", "CNT_DRAWINGS_CURRENT", "SK_DPD", "SK_DPD_DEF", "MONTHS_BALANCE"):
        c[col] = c[col].astype("float32")
    c["UTILISATION"] = safe_ratio(c["AMT_BALANCE"], c["AMT_CREDIT_LIMIT_ACTUAL"])
    c["DRAWINGS_TO_LIMIT"] = safe_ratio(c["AMT_DRAWINGS_CURRENT"], c["AMT_CREDIT_LIMIT_ACTUAL"])
    c["PAYMENT_TO_MIN"] = safe_ratio(c["AMT_PAYMENT_CURRENT"], c["AMT_INST_MIN_REGULARITY"])
    c["PAYMENT_TO_BALANCE"] = safe_ratio(c["AMT_PAYMENT_TOTAL_CURRENT"], c["AMT_BALANCE"])
    c["BELOW_MIN"] = (c["AMT_PAYMENT_CURRENT"] < c["AMT_INST_MIN_REGULARITY"]).astype("float32")
    c["ATM_SHARE"] = safe_ratio(c["AMT_DRAWINGS_ATM_CURRENT"], c["AMT_DRAWINGS_CURRENT"])
    c["LATE"] = (c["SK_DPD"] > 0).astype("float32")
    c["OVER_LIMIT"] = (c["AMT_BALANCE"] > c["AMT_CREDIT_LIMIT_ACTUAL"]).astype("float32")
    return c


def build(cc: pd.DataFrame) -> pd.DataFrame:
    """Per-client credit card features, indexed by SK_ID_CURR."""
    c = prepare(cc)
    frames = [
        count_rows(c, "CC_COUNT"),
        aggregate(c, _NUM, "CC"),
        aggregate(c, {"SK_ID_PREV": ["nunique"]}, "CC"),
        *(aggregate(window(c, "MONTHS_BALANCE", months), _WINDOW, f"CC_{months}M") for months in (6, 12, 24)),
        count_rows(window(c, "MONTHS_BALANCE", 12), "CC_12M_COUNT"),
        trend(window(c, "MONTHS_BALANCE", 12), "MONTHS_BALANCE", ["UTILISATION", "AMT_BALANCE", "SK_DPD"],
              "CC_12M"),
    ]
    out = join_all(frames)
    for col in ("UTILISATION_MEAN", "LATE_MEAN", "BELOW_MIN_MEAN"):
        out[f"CC_12M_MINUS_ALL_{col}"] = (out[f"CC_12M_{col}"] - out[f"CC_{col}"]).astype("float32")
    out["CC_ACTIVE_SHARE"] = safe_ratio(
        c[c["NAME_CONTRACT_STATUS"] == "Active"].groupby("SK_ID_CURR").size().reindex(out.index).to_numpy(),
        out["CC_COUNT"])
    return out.astype(np.float32)
