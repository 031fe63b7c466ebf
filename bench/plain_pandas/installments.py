"""Installment payments (split payments of one instalment merged first): lateness (days past / before due), payment ratio and shortfall, overall, over
the last 1/2/3 years, over the last k installments and over late payments only."""
from __future__ import annotations

import numpy as np
import pandas as pd

from bench.plain_pandas.aggregate import (
    aggregate, count_rows, join_all, last_rows, recency_rank, safe_ratio, trend, window)
from competitions.home_credit.features.installments import (  # the same aggregations
    _NUM, _WINDOW, _OLDER, _LATE_ONLY)

YEAR = 365


def per_instalment(inst: pd.DataFrame) -> pd.DataFrame:
    """One row per instalment: a payment made in several parts is summed, its first entry dates it."""
    keys = ["SK_ID_PREV", "NUM_INSTALMENT_NUMBER"]
    grouped = inst.groupby(keys, sort=False).agg(
        SK_ID_CURR=("SK_ID_CURR", "first"),
        DAYS_INSTALMENT=("DAYS_INSTALMENT", "min"),
        NUM_INSTALMENT_VERSION=("NUM_INSTALMENT_VERSION", "max"),
        AMT_INSTALMENT=("AMT_INSTALMENT", "max"),
        AMT_PAYMENT=("AMT_PAYMENT", "sum"),  # no payment recorded: paid 0
        FIRST_ENTRY=("DAYS_ENTRY_PAYMENT", "min"),
        LAST_ENTRY=("DAYS_ENTRY_PAYMENT", "max"),
        PARTS=("AMT_PAYMENT", "size"),
    )
    return grouped.reset_index()


def prepare(inst: pd.DataFrame) -> pd.DataFrame:
    """Instalments (split payments merged) with lateness and payment columns (float32)."""
    one = per_instalment(inst)
    due_day = one["DAYS_INSTALMENT"].to_numpy(np.float32)
    late_days = one["FIRST_ENTRY"].to_numpy(np.float32) - due_day
    paid = one["AMT_PAYMENT"].to_numpy(np.float32)
    due = one["AMT_INSTALMENT"].to_numpy(np.float32)
    return pd.DataFrame({
        "SK_ID_CURR": one["SK_ID_CURR"].to_numpy(),
        "SK_ID_PREV": one["SK_ID_PREV"].to_numpy(),
        "DAYS_INSTALMENT": due_day,
        "NUM_INSTALMENT_VERSION": one["NUM_INSTALMENT_VERSION"].to_numpy(np.float32),
        "AMT_INSTALMENT": due,
        "AMT_PAYMENT": paid,
        "DPD": np.maximum(late_days, 0),
        "DBD": np.maximum(-late_days, 0),
        "LAST_PAYMENT_DPD": np.maximum(one["LAST_ENTRY"].to_numpy(np.float32) - due_day, 0),
        "LATE": (late_days > 0).astype(np.float32),
        "LATE_30": (late_days > 30).astype(np.float32),
        "PAYMENT_RATIO": safe_ratio(paid, due),
        "PAYMENT_DIFF": due - paid,
        "UNDERPAID": (paid < due - 0.01).astype(np.float32),
        "SPLIT": (one["PARTS"].to_numpy() > 1).astype(np.float32),
    })


def build(inst: pd.DataFrame) -> pd.DataFrame:
    """Per-client installment features, indexed by SK_ID_CURR."""
    p = prepare(inst)
    late = p[p["LATE"] > 0]
    rank = recency_rank(p, "DAYS_INSTALMENT")
    frames = [
        count_rows(p, "INST_COUNT"),
        aggregate(p, _NUM, "INST"),
        aggregate(p, {"SK_ID_PREV": ["nunique"]}, "INST"),
        *(aggregate(window(p, "DAYS_INSTALMENT", years * YEAR), _WINDOW, f"INST_{years}Y")
          for years in (1, 2, 3)),
        count_rows(window(p, "DAYS_INSTALMENT", YEAR), "INST_1Y_COUNT"),
        aggregate(p[p["DAYS_INSTALMENT"] < -YEAR], _OLDER, "INST_OLD"),
        count_rows(p[p["DAYS_INSTALMENT"] < -YEAR], "INST_OLD_COUNT"),
        *(aggregate(last_rows(p, k, "DAYS_INSTALMENT", rank=rank), _WINDOW, f"INST_LAST{k}") for k in (5, 20)),
        aggregate(late, _LATE_ONLY, "INST_LATEONLY"),
        trend(window(p, "DAYS_INSTALMENT", 2 * YEAR), "DAYS_INSTALMENT", ["DPD", "PAYMENT_RATIO"], "INST_2Y"),
    ]
    out = join_all(frames)
    for col in ("LATE_MEAN", "DPD_MEAN", "UNDERPAID_MEAN", "PAYMENT_RATIO_MEAN"):
        out[f"INST_1Y_MINUS_ALL_{col}"] = (out[f"INST_1Y_{col}"] - out[f"INST_{col}"]).astype("float32")
        out[f"INST_1Y_MINUS_OLD_{col}"] = (out[f"INST_1Y_{col}"] - out[f"INST_OLD_{col}"]).astype("float32")
    return out.astype("float32")
