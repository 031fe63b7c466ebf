"""POS and cash loan monthly balances: days past due, remaining instalments, contract status,
over the whole history, the last 6/12/24 months, the latest month of each loan and 12-month trends."""
from __future__ import annotations

import polars as pl

from competitions.home_credit.features.aggregate import (
    F32, aggregate, category_shares, count_rows, flag, join_all, safe_ratio, trend, window)


def prepare(pos: pl.DataFrame) -> pl.DataFrame:
    """POS balances with lateness flags and the share of instalments still to pay."""
    c = pl.col
    return pos.lazy().with_columns(
        flag(c("SK_DPD") > 0).alias("LATE"),
        flag(c("SK_DPD_DEF") > 0).alias("LATE_DEF"),
        safe_ratio(c("CNT_INSTALMENT_FUTURE"), c("CNT_INSTALMENT")).alias("REMAINING_SHARE"),
        flag(c("NAME_CONTRACT_STATUS") == "Completed").alias("COMPLETED"),
        *(c(col).cast(F32) for col in ("SK_DPD", "SK_DPD_DEF", "MONTHS_BALANCE")),
    ).collect()


_NUM = {
    "MONTHS_BALANCE": ["min", "max", "size"],
    "SK_DPD": ["max", "mean", "sum"],
    "SK_DPD_DEF": ["max", "mean"],
    "LATE": ["mean", "sum"],
    "LATE_DEF": ["mean"],
    "CNT_INSTALMENT": ["mean", "max"],
    "CNT_INSTALMENT_FUTURE": ["mean", "max"],
    "REMAINING_SHARE": ["mean", "min"],
}
_WINDOW = {
    "SK_DPD": ["max", "mean"],
    "SK_DPD_DEF": ["max"],
    "LATE": ["mean", "sum"],
    "REMAINING_SHARE": ["mean"],
}
_LATEST = {
    "CNT_INSTALMENT_FUTURE": ["sum", "mean"],
    "REMAINING_SHARE": ["mean", "max"],
    "COMPLETED": ["mean", "sum"],
    "SK_DPD": ["max"],
    "MONTHS_BALANCE": ["mean"],
}


def latest_per_loan(p: pl.DataFrame) -> pl.DataFrame:
    """The most recent month of every previous loan."""
    month = pl.col("MONTHS_BALANCE")
    return p.lazy().filter(month == month.max().over("SK_ID_PREV")).unique(
        "SK_ID_PREV", keep="last", maintain_order=True)  # of two rows for one month, the later in the table


def build(pos: pl.DataFrame) -> pl.DataFrame:
    """Per-client POS/cash features: ``SK_ID_CURR`` and float32 columns."""
    p = prepare(pos)
    older = p.lazy().filter(pl.col("MONTHS_BALANCE") < -12)
    frames = [
        count_rows(p, "POS_COUNT"),
        aggregate(p, _NUM, "POS"),
        aggregate(p, {"SK_ID_PREV": ["nunique"]}, "POS"),
        category_shares(p, "NAME_CONTRACT_STATUS", "POS", max_levels=6),
        *(aggregate(window(p, "MONTHS_BALANCE", months), _WINDOW, f"POS_{months}M") for months in (6, 12, 24)),
        count_rows(window(p, "MONTHS_BALANCE", 12), "POS_12M_COUNT"),
        aggregate(older, {"LATE": ["mean", "sum"], "SK_DPD": ["mean"]}, "POS_OLD"),
        count_rows(older, "POS_OLD_COUNT"),
        aggregate(latest_per_loan(p), _LATEST, "POS_LATEST"),
        trend(window(p, "MONTHS_BALANCE", 12), "MONTHS_BALANCE", ["SK_DPD", "REMAINING_SHARE"], "POS_12M"),
    ]
    return join_all(frames).with_columns(
        expr for col in ("LATE_MEAN", "SK_DPD_MEAN")
        for expr in ((pl.col(f"POS_12M_{col}") - pl.col(f"POS_{col}")).alias(f"POS_12M_MINUS_ALL_{col}"),
                     (pl.col(f"POS_12M_{col}") - pl.col(f"POS_OLD_{col}")).alias(f"POS_12M_MINUS_OLD_{col}")))
