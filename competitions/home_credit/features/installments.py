"""Installment payments (split payments of one instalment merged first): lateness (days past / before due),
payment ratio and shortfall, overall, over the last 1/2/3 years, over the last k installments and over late
payments only."""
from __future__ import annotations

import numpy as np
import polars as pl

from competitions.home_credit.features.aggregate import (
    F32, KEY, aggregations, flag, join_all, last_rows, per_client, row_count, safe_ratio, trend, window,
    with_recency_rank)

YEAR = 365


def per_instalment(inst: pl.DataFrame) -> pl.DataFrame:
    """One row per instalment (a loan's instalment number), by client, loan and number: a payment made in
    several parts is summed, its first entry dates it; ``FIRST_ROW`` is the instalment's first row in ``inst``.

    The rows are sorted so that the parts of an instalment are neighbours, then every column is reduced over
    those runs with numpy's ``reduceat``: polars' group-by over ten million groups of one or two rows took
    2.2 s at real size (1.5 s with the runs flagged as sorted), the sort and reductions take 1.0-1.1 s."""
    instalment = [KEY, "SK_ID_PREV", "NUM_INSTALMENT_NUMBER"]
    # in one piece: polars hands a parsed table over in hundreds of chunks (one per block parsed, or per record
    # batch of an Arrow file), across which the sort and gathers took 2-9x longer
    inst = inst.rechunk()
    order = inst.select(pl.arg_sort_by(instalment, maintain_order=True)).to_series()
    rows = inst.select(pl.all().gather(order))
    new = rows.select(pl.any_horizontal(pl.col(instalment).ne_missing(pl.col(instalment).shift(1)))).to_series()
    starts = np.flatnonzero(new.to_numpy())
    if len(starts) and starts[0] != 0:  # the first row opens a run even when its ids are missing
        starts = np.insert(starts, 0, 0)

    def reduced(column: str, ufunc: np.ufunc) -> np.ndarray:
        return ufunc.reduceat(rows[column].to_numpy(), starts)  # fmin/fmax skip missing values (NaN)

    paid = rows["AMT_PAYMENT"].fill_null(0).to_numpy().astype(np.float64)  # no payment recorded: paid 0
    return pl.DataFrame({
        KEY: rows[KEY].gather(starts),
        "SK_ID_PREV": rows["SK_ID_PREV"].gather(starts),
        "DAYS_INSTALMENT": reduced("DAYS_INSTALMENT", np.fmin),
        "NUM_INSTALMENT_VERSION": reduced("NUM_INSTALMENT_VERSION", np.fmax),
        "AMT_INSTALMENT": reduced("AMT_INSTALMENT", np.fmax),
        "AMT_PAYMENT": np.add.reduceat(paid, starts).astype(np.float32),
        "FIRST_ENTRY": reduced("DAYS_ENTRY_PAYMENT", np.fmin),
        "LAST_ENTRY": reduced("DAYS_ENTRY_PAYMENT", np.fmax),
        "PARTS": np.diff(starts, append=inst.height),
        "FIRST_ROW": order.gather(starts),
    }, nan_to_null=True)


def prepare(inst: pl.DataFrame) -> pl.DataFrame:
    """Instalments (split payments merged) with lateness and payment columns (float32)."""
    c = pl.col
    late_days = c("FIRST_ENTRY").cast(F32) - c("DAYS_INSTALMENT").cast(F32)
    paid, due = c("AMT_PAYMENT").cast(F32), c("AMT_INSTALMENT").cast(F32)
    return per_instalment(inst).lazy().select(
        "SK_ID_CURR", "SK_ID_PREV", "FIRST_ROW",
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


def build(inst: pl.DataFrame, clients: pl.DataFrame | None = None, parts: int = 4) -> pl.DataFrame:
    """Per-client installment features: ``SK_ID_CURR`` and float32 columns, one row per client of ``clients``
    (default: every client of the table). The clients are split in ``parts`` and built one part at a time
    (the result lists them part by part; every feature is per client, so the parts are independent): at real
    size four parts took 4.8-5.1 s (process peak 1.4 GB), the whole table at once 6.4-6.6 s (2.3 GB; ten million
    instalments' intermediate columns no longer fit the caches)."""
    def of_part(frame: pl.DataFrame, part: int) -> pl.DataFrame:
        return frame.filter(pl.col(KEY) % parts == part)
    return pl.concat([build_part(of_part(inst, part), None if clients is None else of_part(clients, part))
                      for part in range(parts)])


def build_part(inst: pl.DataFrame, clients: pl.DataFrame | None = None) -> pl.DataFrame:
    """The features of the clients of ``inst`` (or of ``clients``)."""
    p = with_recency_rank(prepare(inst), "DAYS_INSTALMENT", ties="FIRST_ROW")
    last_years = {years: window(p, "DAYS_INSTALMENT", years * YEAR) for years in (1, 2, 3)}
    older = p.lazy().filter(pl.col("DAYS_INSTALMENT") < -YEAR)
    features = [
        per_client(p, row_count("INST_COUNT"), aggregations(_NUM, "INST"),
                   aggregations({"SK_ID_PREV": ["nunique"]}, "INST")),
        *(per_client(rows, aggregations(_WINDOW, f"INST_{years}Y")) for years, rows in last_years.items()),
        per_client(last_years[1], row_count("INST_1Y_COUNT")),
        per_client(older, aggregations(_OLDER, "INST_OLD"), row_count("INST_OLD_COUNT")),
        *(per_client(last_rows(p, k), aggregations(_WINDOW, f"INST_LAST{k}")) for k in (5, 20)),
        per_client(p.lazy().filter(pl.col("LATE") > 0), aggregations(_LATE_ONLY, "INST_LATEONLY")),
        per_client(last_years[2], trend("DAYS_INSTALMENT", ["DPD", "PAYMENT_RATIO"], "INST_2Y")),
    ]
    return join_all(features, clients).with_columns(
        expr for col in ("LATE_MEAN", "DPD_MEAN", "UNDERPAID_MEAN", "PAYMENT_RATIO_MEAN")
        for expr in ((pl.col(f"INST_1Y_{col}") - pl.col(f"INST_{col}")).alias(f"INST_1Y_MINUS_ALL_{col}"),
                     (pl.col(f"INST_1Y_{col}") - pl.col(f"INST_OLD_{col}")).alias(f"INST_1Y_MINUS_OLD_{col}")))
