"""POS and cash loan monthly balances: days past due, remaining instalments, contract status,
over the whole history, the last 6/12/24 months, the latest month of each loan and 12-month trends."""
from __future__ import annotations

import numpy as np
import pandas as pd

from bench.plain_pandas.aggregate import (
    aggregate, category_shares, count_rows, join_all, safe_ratio, trend, window)
from competitions.home_credit.features.pos_cash import _NUM, _WINDOW, _LATEST  # the same aggregations


def prepare(pos: pd.DataFrame) -> pd.DataFrame:
    """POS balances with lateness flags and the share of instalments still to pay."""
    p = pos.copy()
    p["LATE"] = (p["SK_DPD"] > 0).astype("float32")
    p["LATE_DEF"] = (p["SK_DPD_DEF"] > 0).astype("float32")
    p["REMAINING_SHARE"] = safe_ratio(p["CNT_INSTALMENT_FUTURE"], p["CNT_INSTALMENT"])
    p["COMPLETED"] = (p["NAME_CONTRACT_STATUS"] == "Completed").astype("float32")
    for col in ("SK_DPD", "SK_DPD_DEF", "MONTHS_BALANCE"):
        p[col] = p[col].astype("float32")
    return p


def latest_per_loan(p: pd.DataFrame) -> pd.DataFrame:
    """The most recent month of every previous loan."""
    ordered = p.sort_values(["SK_ID_PREV", "MONTHS_BALANCE"], kind="stable")
    return ordered[~ordered["SK_ID_PREV"].duplicated(keep="last").to_numpy()]


def build(pos: pd.DataFrame) -> pd.DataFrame:
    """Per-client POS/cash features, indexed by SK_ID_CURR."""
    p = prepare(pos)
    frames = [
        count_rows(p, "POS_COUNT"),
        aggregate(p, _NUM, "POS"),
        aggregate(p, {"SK_ID_PREV": ["nunique"]}, "POS"),
        category_shares(p, "NAME_CONTRACT_STATUS", "POS", max_levels=6),
        *(aggregate(window(p, "MONTHS_BALANCE", months), _WINDOW, f"POS_{months}M") for months in (6, 12, 24)),
        count_rows(window(p, "MONTHS_BALANCE", 12), "POS_12M_COUNT"),
        aggregate(p[p["MONTHS_BALANCE"] < -12], {"LATE": ["mean", "sum"], "SK_DPD": ["mean"]}, "POS_OLD"),
        count_rows(p[p["MONTHS_BALANCE"] < -12], "POS_OLD_COUNT"),
        aggregate(latest_per_loan(p), _LATEST, "POS_LATEST"),
        trend(window(p, "MONTHS_BALANCE", 12), "MONTHS_BALANCE", ["SK_DPD", "REMAINING_SHARE"], "POS_12M"),
    ]
    out = join_all(frames)
    for col in ("LATE_MEAN", "SK_DPD_MEAN"):
        out[f"POS_12M_MINUS_ALL_{col}"] = (out[f"POS_12M_{col}"] - out[f"POS_{col}"]).astype("float32")
        out[f"POS_12M_MINUS_OLD_{col}"] = (out[f"POS_12M_{col}"] - out[f"POS_OLD_{col}"]).astype("float32")
    return out.astype(np.float32)
