"""Credit card monthly balances: utilisation (balance / limit), drawings, payments against the minimum,
days past due, over the whole history, the last 6/12/24 months, and 12-month trends."""
from __future__ import annotations

import polars as pl

from competitions.home_credit.features.aggregate import (
    F32, aggregations, flag, join_all, per_client, row_count, safe_ratio, trend, window)


def prepare(cc: pl.DataFrame) -> pl.DataFrame:
    """Credit card balances with utilisation, payment and drawing ratios (float32)."""
    c = pl.col
    floats = ("AMT_CREDIT_LIMIT_ACTUAL", "CNT_DRAWINGS_CURRENT", "SK_DPD", "SK_DPD_DEF", "MONTHS_BALANCE")
    return cc.lazy().with_columns(c(col).cast(F32) for col in floats).with_columns(
        safe_ratio(c("AMT_BALANCE"), c("AMT_CREDIT_LIMIT_ACTUAL")).alias("UTILISATION"),
        safe_ratio(c("AMT_DRAWINGS_CURRENT"), c("AMT_CREDIT_LIMIT_ACTUAL")).alias("DRAWINGS_TO_LIMIT"),
        safe_ratio(c("AMT_PAYMENT_CURRENT"), c("AMT_INST_MIN_REGULARITY")).alias("PAYMENT_TO_MIN"),
        safe_ratio(c("AMT_PAYMENT_TOTAL_CURRENT"), c("AMT_BALANCE")).alias("PAYMENT_TO_BALANCE"),
        flag(c("AMT_PAYMENT_CURRENT") < c("AMT_INST_MIN_REGULARITY")).alias("BELOW_MIN"),
        safe_ratio(c("AMT_DRAWINGS_ATM_CURRENT"), c("AMT_DRAWINGS_CURRENT")).alias("ATM_SHARE"),
        flag(c("SK_DPD") > 0).alias("LATE"),
        flag(c("AMT_BALANCE") > c("AMT_CREDIT_LIMIT_ACTUAL")).alias("OVER_LIMIT"),
    ).collect()


_NUM = {
    "MONTHS_BALANCE": ["min", "size"],
    "AMT_BALANCE": ["max", "mean", "sum"],
    "AMT_CREDIT_LIMIT_ACTUAL": ["max", "mean"],
    "AMT_DRAWINGS_ATM_CURRENT": ["max", "mean"],
    "AMT_DRAWINGS_CURRENT": ["max", "mean", "sum"],
    "AMT_DRAWINGS_POS_CURRENT": ["max", "mean"],
    "AMT_INST_MIN_REGULARITY": ["max", "mean"],
    "AMT_PAYMENT_CURRENT": ["max", "mean", "sum"],
    "AMT_PAYMENT_TOTAL_CURRENT": ["mean", "sum"],
    "AMT_RECEIVABLE_PRINCIPAL": ["max", "mean"],
    "AMT_TOTAL_RECEIVABLE": ["max", "mean"],
    "CNT_DRAWINGS_ATM_CURRENT": ["max", "mean"],
    "CNT_DRAWINGS_CURRENT": ["max", "mean"],
    "CNT_DRAWINGS_POS_CURRENT": ["mean"],
    "CNT_INSTALMENT_MATURE_CUM": ["max", "mean"],
    "SK_DPD": ["max", "mean"],
    "SK_DPD_DEF": ["max", "mean"],
    "UTILISATION": ["max", "mean", "min"],
    "DRAWINGS_TO_LIMIT": ["max", "mean"],
    "PAYMENT_TO_MIN": ["min", "mean"],
    "PAYMENT_TO_BALANCE": ["mean"],
    "BELOW_MIN": ["mean", "sum"],
    "ATM_SHARE": ["mean"],
    "LATE": ["mean", "sum"],
    "OVER_LIMIT": ["mean"],
}
_WINDOW = {
    "AMT_BALANCE": ["mean"],
    "UTILISATION": ["mean", "max"],
    "DRAWINGS_TO_LIMIT": ["mean"],
    "PAYMENT_TO_MIN": ["mean"],
    "BELOW_MIN": ["mean"],
    "SK_DPD": ["max"],
    "LATE": ["mean", "sum"],
}


def build(cc: pl.DataFrame, clients: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per-client credit card features: ``SK_ID_CURR`` and float32 columns, one row per client of ``clients``
    (default: every client of the table)."""
    c = prepare(cc)
    last_months = {months: window(c, "MONTHS_BALANCE", months) for months in (6, 12, 24)}
    features = [
        per_client(c, row_count("CC_COUNT"), aggregations(_NUM, "CC"), aggregations({"SK_ID_PREV": ["nunique"]}, "CC")),
        *(per_client(rows, aggregations(_WINDOW, f"CC_{months}M")) for months, rows in last_months.items()),
        per_client(last_months[12], row_count("CC_12M_COUNT")),
        per_client(last_months[12], trend("MONTHS_BALANCE", ["UTILISATION", "AMT_BALANCE", "SK_DPD"], "CC_12M")),
        per_client(c.lazy().filter(pl.col("NAME_CONTRACT_STATUS") == "Active"), row_count("_ACTIVE_COUNT")),
    ]
    out = join_all(features, clients).with_columns(
        (pl.col(f"CC_12M_{col}") - pl.col(f"CC_{col}")).alias(f"CC_12M_MINUS_ALL_{col}")
        for col in ("UTILISATION_MEAN", "LATE_MEAN", "BELOW_MIN_MEAN"))
    return out.with_columns(safe_ratio(pl.col("_ACTIVE_COUNT"), pl.col("CC_COUNT")).alias("CC_ACTIVE_SHARE")
                            ).drop("_ACTIVE_COUNT")
