"""Columnar building blocks shared by the table modules (polars): named aggregations, category shares,
last-k rows, time windows and linear trends, all per client.

The blocks return lazy frames: a table module prepares its rows once (eagerly), then every aggregate of it
runs in one query that :func:`join_all` collects, so polars shares the work (common subexpressions) and runs
the branches in parallel.

A missing value is a null, never NaN: polars skips nulls in aggregations (as pandas skips NaN) but counts NaN
as a value, so every derived column that can be undefined (a ratio over 0, a flag of a missing value) is
written as a null. Comparisons with a null are false, as numpy's comparisons with NaN are.
"""
from __future__ import annotations

from collections.abc import Iterable

import polars as pl

KEY = "SK_ID_CURR"
F32 = pl.Float32
Frame = pl.DataFrame | pl.LazyFrame

_FUNCS = {
    "min": lambda c: c.min(),
    "max": lambda c: c.max(),
    "mean": lambda c: c.mean(),
    "sum": lambda c: pl.when(c.count() > 0).then(c.sum()),  # a sum over no value is missing, not 0
    "std": lambda c: c.std(),
    "var": lambda c: c.var(),
    "size": lambda c: pl.len(),
    "nunique": lambda c: c.drop_nulls().n_unique(),
}


def aggregate(df: Frame, spec: dict[str, list[str]], prefix: str, by: str = KEY) -> pl.LazyFrame:
    """``{column: [funcs]}`` aggregated per ``by`` into float32 columns named ``PREFIX_COLUMN_FUNC``."""
    exprs = [_FUNCS[func](pl.col(col)).cast(F32).alias(f"{prefix}_{col}_{func.upper()}")
             for col, funcs in spec.items() for func in funcs]
    return df.lazy().group_by(by).agg(exprs)


def count_rows(df: Frame, name: str, by: str = KEY) -> pl.LazyFrame:
    """Number of rows per ``by`` as one float32 column."""
    return df.lazy().group_by(by).agg(pl.len().cast(F32).alias(name))


def category_shares(df: pl.DataFrame, column: str, prefix: str, by: str = KEY,
                    max_levels: int = 12) -> pl.LazyFrame:
    """Share of each of the ``max_levels`` most frequent levels of ``column`` among a client's rows; the
    columns follow the levels' first appearance in the table (ties in frequency too)."""
    counts = df.select(pl.col(column).drop_nulls()).group_by(column, maintain_order=True).len()
    top = set(counts.sort("len", descending=True, maintain_order=True).head(max_levels)[column].to_list())
    levels = [level for level in counts[column].to_list() if level in top]
    return df.lazy().group_by(by).agg([
        ((pl.col(column) == level).sum() / pl.len()).cast(F32).alias(f"{prefix}_{column}_{_clean(level)}_SHARE")
        for level in levels])


def with_recency_rank(df: pl.DataFrame, time: str, by: str = KEY, first: bool = False,
                      name: str = "_RANK") -> pl.DataFrame:
    """``df`` with the position of each row among its client's rows: 0 for the most recent by ``time``
    (larger = more recent), or the oldest with ``first``; ties keep the table's order."""
    return df.with_columns((pl.col(time).rank("ordinal", descending=not first).over(by) - 1).alias(name))


def last_rows(df: Frame, k: int, rank: str = "_RANK") -> pl.LazyFrame:
    """The ``k`` first rows of each client by the ``rank`` column (see :func:`with_recency_rank`)."""
    return df.lazy().filter(pl.col(rank) < k)


def window(df: Frame, time: str, days: float) -> pl.LazyFrame:
    """Rows at most ``days`` before the application (time columns count negative days/months)."""
    return df.lazy().filter(pl.col(time) >= -days)


def trend(df: Frame, x: str, columns: list[str], prefix: str, by: str = KEY) -> pl.LazyFrame:
    """Least-squares slope of each column against ``x`` per client, from grouped float64 sums over the rows
    where both are present."""
    exprs = []
    for col in columns:
        valid = pl.col(x).is_not_null() & pl.col(col).is_not_null()
        xs = pl.when(valid).then(pl.col(x).cast(pl.Float64))
        ys = pl.when(valid).then(pl.col(col).cast(pl.Float64))
        n, sx, sy = valid.sum().cast(pl.Float64), xs.sum(), ys.sum()
        denom = n * (xs * xs).sum() - sx * sx
        slope = pl.when(denom > 0).then((n * (xs * ys).sum() - sx * sy) / denom)
        exprs.append(slope.cast(F32).alias(f"{prefix}_{col}_TREND"))
    return df.lazy().group_by(by).agg(exprs)


def safe_ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    """``num / den`` in float32, missing where the denominator is 0 or missing."""
    return pl.when(den != 0).then(num.cast(F32) / den.cast(F32))


def flag(condition: pl.Expr) -> pl.Expr:
    """A condition as a float32 0/1 column; a comparison with a missing value reads as false."""
    return condition.fill_null(False).cast(F32)


def missing_codes(column: str, codes: tuple[str, ...] = ("XNA", "XAP")) -> pl.Expr:
    """A text column with placeholder codes (XNA: not available, XAP: not applicable) as missing."""
    placeholder = pl.any_horizontal(*(pl.col(column) == code for code in codes))
    return pl.when(~placeholder).then(pl.col(column)).alias(column)


def category_lookup(column: str, mapping: dict, default: float | None = None) -> pl.Expr:
    """Map a text column's levels to float32 numbers (``default`` for other levels and missing values);
    compared level by level, which reads a categorical column's codes instead of its strings."""
    out = pl.lit(default, F32)
    for level, value in mapping.items():
        out = pl.when(pl.col(column) == level).then(pl.lit(value, F32)).otherwise(out)
    return out


def join_all(frames: Iterable[Frame], by: str = KEY) -> pl.DataFrame:
    """Per-client frames side by side, computed in one query: every client of any frame, missing where a
    frame lacks it."""
    frames = [f.lazy() for f in frames]
    out = pl.concat([f.select(by) for f in frames]).unique()
    for frame in frames:
        out = out.join(frame, on=by, how="left")
    return out.collect()


def text_columns(df: pl.DataFrame) -> list[str]:
    """The columns holding text levels (read as categories)."""
    return [name for name, dtype in df.schema.items() if dtype in (pl.Categorical, pl.String)]


def _clean(level) -> str:
    text = "".join(ch if ch.isalnum() else "_" for ch in str(level).upper())
    return "_".join(part for part in text.split("_") if part)
