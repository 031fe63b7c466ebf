"""POS and cash loan monthly balances: days past due, remaining instalments, contract status,
over the whole history, the last 6/12/24 months, the latest month of each loan and 12-month trends."""
from __future__ import annotations

import polars as pl

from competitions.home_credit.features.aggregate import (
    F32, aggregations, category_shares, flag, join_all, per_client, row_count, safe_ratio, trend, window)


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


def build(pos: pl.DataFrame, clients: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per-client POS/cash features: ``SK_ID_CURR`` and float32 columns, one row per client of ``clients``
    (default: every client of the table)."""
    p = prepare(pos)
    last_months = {months: window(p, "MONTHS_BALANCE", months) for months in (6, 12, 24)}
    older = p.lazy().filter(pl.col("MONTHS_BALANCE") < -12)
    features = [
        per_client(p, row_count("POS_COUNT"), aggregations(_NUM, "POS"),
                   aggregations({"SK_ID_PREV": ["nunique"]}, "POS"),
                   category_shares(p, "NAME_CONTRACT_STATUS", "POS", max_levels=6)),
        *(per_client(rows, aggregations(_WINDOW, f"POS_{months}M")) for months, rows in last_months.items()),
        per_client(last_months[12], row_count("POS_12M_COUNT")),
        per_client(older, aggregations({"LATE": ["mean", "sum"], "SK_DPD": ["mean"]}, "POS_OLD"),
                   row_count("POS_OLD_COUNT")),
        per_client(latest_per_loan(p), aggregations(_LATEST, "POS_LATEST")),
        per_client(last_months[12], trend("MONTHS_BALANCE", ["SK_DPD", "REMAINING_SHARE"], "POS_12M")),
    ]
    return join_all(features, clients).with_columns(
        expr for col in ("LATE_MEAN", "SK_DPD_MEAN")
        for expr in ((pl.col(f"POS_12M_{col}") - pl.col(f"POS_{col}")).alias(f"POS_12M_MINUS_ALL_{col}"),
                     (pl.col(f"POS_12M_{col}") - pl.col(f"POS_OLD_{col}")).alias(f"POS_12M_MINUS_OLD_{col}")))
