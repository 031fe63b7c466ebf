"""Installment payments (split payments of one instalment merged first): lateness (days past / before due),
payment ratio and shortfall, overall, over the last 1/2/3 years, over the last k installments and over late
payments only."""
from __future__ import annotations

import polars as pl

from competitions.home_credit.features.aggregate import (
    F32, KEY, aggregate, count_rows, flag, join_all, last_rows, safe_ratio, trend, window, with_recency_rank)

YEAR = 365


def per_instalment(inst: pl.DataFrame) -> pl.LazyFrame:
    """One row per instalment: a payment made in several parts is summed, its first entry dates it."""
    return inst.lazy().group_by(["SK_ID_PREV", "NUM_INSTALMENT_NUMBER"], maintain_order=True).agg(
        pl.col("SK_ID_CURR").first(),
        pl.col("DAYS_INSTALMENT").min(),
        pl.col("NUM_INSTALMENT_VERSION").max(),
        pl.col("AMT_INSTALMENT").max(),
        pl.col("AMT_PAYMENT").sum(),  # no payment recorded: paid 0
        pl.col("DAYS_ENTRY_PAYMENT").min().alias("FIRST_ENTRY"),
        pl.col("DAYS_ENTRY_PAYMENT").max().alias("LAST_ENTRY"),
        pl.len().alias("PARTS"),
    )


def prepare(inst: pl.DataFrame) -> pl.DataFrame:
    """Instalments (split payments merged) with lateness and payment columns (float32)."""
    c = pl.col
    late_days = c("FIRST_ENTRY").cast(F32) - c("DAYS_INSTALMENT").cast(F32)
    paid, due = c("AMT_PAYMENT").cast(F32), c("AMT_INSTALMENT").cast(F32)
    return per_instalment(inst).select(
        "SK_ID_CURR", "SK_ID_PREV",
        c("DAYS_INSTALMENT").cast(F32),
        c("NUM_INSTALMENT_VERSION").cast(F32),
        due.alias("AMT_INSTALMENT"),
        paid.alias("AMT_PAYMENT"),
        late_days.clip(lower_bound=0).alias("DPD"),
        (-late_days).clip(lower_bound=0).alias("DBD"),
        (c("LAST_ENTRY").cast(F32) - c("DAYS_INSTALMENT").cast(F32)).clip(lower_bound=0).alias("LAST_PAYMENT_DPD"),
        flag(late_days > 0).alias("LATE"),
        flag(late_days > 30).alias("LATE_30"),
        safe_ratio(paid, due).alias("PAYMENT_RATIO"),
        (due - paid).alias("PAYMENT_DIFF"),
        flag(paid < due - 0.01).alias("UNDERPAID"),
        flag(c("PARTS") > 1).alias("SPLIT"),
    ).collect()


_NUM = {
    "DPD": ["max", "mean", "sum"],
    "DBD": ["max", "mean", "sum"],
    "LATE": ["mean", "sum"],
    "LATE_30": ["mean"],
    "PAYMENT_RATIO": ["min", "mean", "std"],
    "PAYMENT_DIFF": ["max", "mean", "sum"],
    "UNDERPAID": ["mean", "sum"],
    "LAST_PAYMENT_DPD": ["max", "mean"],
    "SPLIT": ["mean"],
    "AMT_INSTALMENT": ["max", "mean", "sum"],
    "AMT_PAYMENT": ["min", "max", "mean", "sum"],
    "DAYS_INSTALMENT": ["min", "max"],
    "NUM_INSTALMENT_VERSION": ["nunique"],
}
_WINDOW = {
    "DPD": ["max", "mean"],
    "DBD": ["mean"],
    "LATE": ["mean", "sum"],
    "PAYMENT_RATIO": ["mean", "min"],
    "PAYMENT_DIFF": ["mean", "sum"],
    "AMT_PAYMENT": ["sum"],
    "UNDERPAID": ["mean"],
}
_OLDER = {  # more than a year before the application: the baseline of the recent trend
    "LATE": ["mean", "sum"],
    "DPD": ["mean"],
    "UNDERPAID": ["mean"],
    "PAYMENT_RATIO": ["mean"],
}
_LATE_ONLY = {
    "DPD": ["mean"],
    "AMT_INSTALMENT": ["mean", "sum"],
    "PAYMENT_DIFF": ["sum"],
    "DAYS_INSTALMENT": ["max"],
}


def build(inst: pl.DataFrame, parts: int = 4) -> pl.DataFrame:
    """Per-client installment features: ``SK_ID_CURR`` and float32 columns. The clients are split in
    ``parts`` and built one part at a time: merging split payments groups ten million instalments, whose
    group index would otherwise take gigabytes (every feature is per client, so the parts are independent)."""
    return pl.concat([build_part(inst.filter(pl.col(KEY) % parts == part)) for part in range(parts)])


def build_part(inst: pl.DataFrame) -> pl.DataFrame:
    """The features of the clients of ``inst``."""
    p = with_recency_rank(prepare(inst), "DAYS_INSTALMENT")
    older = p.lazy().filter(pl.col("DAYS_INSTALMENT") < -YEAR)
    frames = [
        count_rows(p, "INST_COUNT"),
        aggregate(p, _NUM, "INST"),
        aggregate(p, {"SK_ID_PREV": ["nunique"]}, "INST"),
        *(aggregate(window(p, "DAYS_INSTALMENT", years * YEAR), _WINDOW, f"INST_{years}Y") for years in (1, 2, 3)),
        count_rows(window(p, "DAYS_INSTALMENT", YEAR), "INST_1Y_COUNT"),
        aggregate(older, _OLDER, "INST_OLD"),
        count_rows(older, "INST_OLD_COUNT"),
        *(aggregate(last_rows(p, k), _WINDOW, f"INST_LAST{k}") for k in (5, 20)),
        aggregate(p.lazy().filter(pl.col("LATE") > 0), _LATE_ONLY, "INST_LATEONLY"),
        trend(window(p, "DAYS_INSTALMENT", 2 * YEAR), "DAYS_INSTALMENT", ["DPD", "PAYMENT_RATIO"], "INST_2Y"),
    ]
    return join_all(frames).with_columns(
        expr for col in ("LATE_MEAN", "DPD_MEAN", "UNDERPAID_MEAN", "PAYMENT_RATIO_MEAN")
        for expr in ((pl.col(f"INST_1Y_{col}") - pl.col(f"INST_{col}")).alias(f"INST_1Y_MINUS_ALL_{col}"),
                     (pl.col(f"INST_1Y_{col}") - pl.col(f"INST_OLD_{col}")).alias(f"INST_1Y_MINUS_OLD_{col}")))
