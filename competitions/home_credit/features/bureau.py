"""Credit-bureau features: bureau_balance aggregated per bureau loan first, then every loan per client,
overall and split Active/Closed, with debt, overdue and duration ratios."""
from __future__ import annotations

import polars as pl

from competitions.home_credit.features.aggregate import (
    F32, aggregations, category_lookup, category_shares, flag, join_all, per_client, row_count, safe_ratio, window)

LOAN = "SK_ID_BUREAU"
_STATUS_DPD = {"0": 0, "1": 1, "2": 2, "3": 3, "4": 4, "5": 5}  # months overdue bucket; C/X: none


def balance_per_loan(balance: pl.DataFrame) -> pl.DataFrame:
    """One row per bureau loan: history length, share of each status, worst and recent lateness."""
    months = pl.col("MONTHS_BALANCE").cast(F32)
    frame = balance.lazy().select(
        LOAN, months.alias("MONTHS_BALANCE"),
        category_lookup("STATUS", _STATUS_DPD).alias("DPD"),
        category_lookup("STATUS", {"C": 1}, default=0.0).alias("CLOSED"),
        category_lookup("STATUS", {"X": 1}, default=0.0).alias("UNKNOWN"),
    ).with_columns(flag(pl.col("DPD") > 0).alias("LATE"))
    late_12m = pl.when(pl.col("MONTHS_BALANCE") >= -12).then(pl.col("LATE"))
    return frame.group_by(LOAN).agg(
        pl.col("MONTHS_BALANCE").min().alias("BB_MONTHS_MIN"),
        pl.col("MONTHS_BALANCE").max().alias("BB_MONTHS_MAX"),
        pl.len().cast(F32).alias("BB_MONTHS_COUNT"),
        pl.col("DPD").max().alias("BB_DPD_MAX"),
        pl.col("DPD").mean().cast(F32).alias("BB_DPD_MEAN"),
        pl.col("LATE").mean().cast(F32).alias("BB_LATE_SHARE"),
        pl.col("LATE").sum().alias("BB_LATE_COUNT"),
        late_12m.mean().cast(F32).alias("BB_LATE_12M_SHARE"),
        pl.col("CLOSED").mean().cast(F32).alias("BB_CLOSED_SHARE"),
        pl.col("UNKNOWN").mean().cast(F32).alias("BB_UNKNOWN_SHARE"),
    ).collect()


def prepare(bureau: pl.DataFrame, balance: pl.DataFrame) -> pl.DataFrame:
    """Bureau loans with their balance summary and derived ratios (numeric, float32)."""
    c = pl.col
    loans = bureau.lazy().join(balance_per_loan(balance).lazy(), on=LOAN, how="left", maintain_order="left")
    return loans.with_columns(
        (c("DAYS_CREDIT_ENDDATE") - c("DAYS_CREDIT")).cast(F32).alias("CREDIT_DURATION"),
        (c("DAYS_ENDDATE_FACT") - c("DAYS_CREDIT_ENDDATE")).cast(F32).alias("ENDDATE_DIFF"),
        safe_ratio(c("AMT_CREDIT_SUM_DEBT"), c("AMT_CREDIT_SUM")).alias("DEBT_TO_CREDIT"),
        safe_ratio(c("AMT_CREDIT_SUM_OVERDUE"), c("AMT_CREDIT_SUM_DEBT")).alias("OVERDUE_TO_DEBT"),
        safe_ratio(c("AMT_CREDIT_SUM_LIMIT"), c("AMT_CREDIT_SUM")).alias("LIMIT_TO_CREDIT"),
        safe_ratio(c("AMT_ANNUITY"), c("AMT_CREDIT_SUM")).alias("ANNUITY_TO_CREDIT"),
        flag(c("CREDIT_DAY_OVERDUE") > 0).alias("IS_OVERDUE"),
    ).collect()


_NUM = {
    "DAYS_CREDIT": ["min", "max", "mean"],
    "CREDIT_DAY_OVERDUE": ["max", "mean"],
    "DAYS_CREDIT_ENDDATE": ["min", "max", "mean"],
    "DAYS_ENDDATE_FACT": ["min", "max", "mean"],
    "DAYS_CREDIT_UPDATE": ["min", "mean"],
    "AMT_CREDIT_MAX_OVERDUE": ["max", "mean"],
    "CNT_CREDIT_PROLONG": ["sum"],
    "AMT_CREDIT_SUM": ["max", "mean", "sum"],
    "AMT_CREDIT_SUM_DEBT": ["max", "mean", "sum"],
    "AMT_CREDIT_SUM_LIMIT": ["mean", "sum"],
    "AMT_CREDIT_SUM_OVERDUE": ["max", "sum"],
    "AMT_ANNUITY": ["max", "mean", "sum"],
    "CREDIT_DURATION": ["mean", "max"],
    "ENDDATE_DIFF": ["mean"],
    "DEBT_TO_CREDIT": ["mean", "max"],
    "OVERDUE_TO_DEBT": ["mean"],
    "LIMIT_TO_CREDIT": ["mean"],
    "ANNUITY_TO_CREDIT": ["mean"],
    "IS_OVERDUE": ["mean", "sum"],
    "BB_MONTHS_MIN": ["min"],
    "BB_MONTHS_COUNT": ["mean", "sum"],
    "BB_DPD_MAX": ["max", "mean"],
    "BB_DPD_MEAN": ["mean"],
    "BB_LATE_SHARE": ["mean", "max"],
    "BB_LATE_COUNT": ["sum"],
    "BB_LATE_12M_SHARE": ["mean", "max"],
    "BB_CLOSED_SHARE": ["mean"],
    "BB_UNKNOWN_SHARE": ["mean"],
}
_SUBSET = {
    "DAYS_CREDIT": ["min", "max", "mean"],
    "DAYS_CREDIT_ENDDATE": ["max", "mean"],
    "AMT_CREDIT_SUM": ["sum", "mean"],
    "AMT_CREDIT_SUM_DEBT": ["sum", "max"],
    "AMT_CREDIT_SUM_OVERDUE": ["sum"],
    "AMT_CREDIT_MAX_OVERDUE": ["max"],
    "AMT_ANNUITY": ["sum"],
    "DEBT_TO_CREDIT": ["mean", "max"],
    "CREDIT_DURATION": ["mean"],
    "ENDDATE_DIFF": ["mean"],
    "BB_DPD_MAX": ["max"],
    "BB_LATE_SHARE": ["mean"],
}


def build(bureau: pl.DataFrame, balance: pl.DataFrame, clients: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per-client bureau features: ``SK_ID_CURR`` and float32 columns, one row per client of ``clients``
    (default: every client of the table)."""
    b = prepare(bureau, balance)
    active = b.lazy().filter(pl.col("CREDIT_ACTIVE") == "Active")
    closed = b.lazy().filter(pl.col("CREDIT_ACTIVE") == "Closed")
    features = [
        per_client(b, row_count("BUREAU_COUNT"), aggregations(_NUM, "BUREAU"),
                   category_shares(b, "CREDIT_ACTIVE", "BUREAU", max_levels=4),
                   category_shares(b, "CREDIT_TYPE", "BUREAU", max_levels=8),
                   category_shares(b, "CREDIT_CURRENCY", "BUREAU", max_levels=2)),
        per_client(active, row_count("BUREAU_ACTIVE_COUNT"), aggregations(_SUBSET, "BUREAU_ACTIVE")),
        per_client(closed, row_count("BUREAU_CLOSED_COUNT"), aggregations(_SUBSET, "BUREAU_CLOSED")),
        per_client(window(b, "DAYS_CREDIT", 730), aggregations(_SUBSET, "BUREAU_2Y")),
    ]
    return join_all(features, clients).with_columns(
        safe_ratio(pl.col("BUREAU_ACTIVE_AMT_CREDIT_SUM_DEBT_SUM"), pl.col("BUREAU_ACTIVE_AMT_CREDIT_SUM_SUM"))
        .alias("BUREAU_ACTIVE_DEBT_TO_CREDIT"),
        safe_ratio(pl.col("BUREAU_ACTIVE_COUNT"), pl.col("BUREAU_COUNT")).alias("BUREAU_ACTIVE_SHARE"))
