"""Vectorised building blocks shared by the table modules: named aggregations, category shares,
last-k rows, time windows and linear trends, all per client on float32 data (no per-client loops)."""
from __future__ import annotations

import numpy as np
import pandas as pd

KEY = "SK_ID_CURR"


def aggregate(df: pd.DataFrame, spec: dict[str, list[str]], prefix: str, by: str = KEY) -> pd.DataFrame:
    """``{column: [funcs]}`` aggregated per ``by`` into float32 columns named ``PREFIX_COLUMN_FUNC``."""
    named = {f"{prefix}_{col}_{func.upper()}": (col, func) for col, funcs in spec.items() for func in funcs}
    summed = [col for col, funcs in spec.items() if "sum" in funcs]
    counts = {f"_count_{col}": (col, "count") for col in summed}
    out = df.groupby(by, sort=False, observed=True).agg(**named, **counts)
    for col in summed:  # a sum over no value is missing, not 0
        out.loc[out.pop(f"_count_{col}") == 0, f"{prefix}_{col}_SUM"] = np.nan
    return out.astype("float32")


def count_rows(df: pd.DataFrame, name: str, by: str = KEY) -> pd.DataFrame:
    """Number of rows per ``by`` as one float32 column."""
    return df.groupby(by, sort=False).size().astype("float32").to_frame(name)


def category_shares(df: pd.DataFrame, column: str, prefix: str, by: str = KEY,
                    max_levels: int = 12) -> pd.DataFrame:
    """Share of each of the ``max_levels`` most frequent levels of ``column`` among a client's rows."""
    values = df[column]
    top = values.value_counts().index[:max_levels]
    counts = df[[by]].assign(_level=values.where(values.isin(top))).groupby(
        [by, "_level"], observed=True, sort=False).size().unstack(fill_value=0)
    total = df.groupby(by, sort=False).size()
    shares = counts.reindex(total.index, fill_value=0).div(total, axis=0).astype("float32")
    shares.columns = [f"{prefix}_{column}_{_clean(level)}_SHARE" for level in shares.columns]
    return shares


def recency_rank(df: pd.DataFrame, time: str, by: str = KEY, first: bool = False) -> np.ndarray:
    """Position of each row among its client's rows: 0 for the most recent by ``time`` (or the oldest)."""
    order = np.lexsort((df[time].to_numpy() if first else -df[time].to_numpy(), df[by].to_numpy()))
    rank = np.empty(len(df), np.int64)
    rank[order] = pd.Series(df[by].to_numpy()[order]).groupby(df[by].to_numpy()[order], sort=False).cumcount()
    return rank


def last_rows(df: pd.DataFrame, k: int, time: str, by: str = KEY, first: bool = False,
              rank: np.ndarray | None = None) -> pd.DataFrame:
    """The ``k`` most recent rows of each client by ``time`` (larger = more recent), or the oldest ones;
    pass ``rank`` (from ``recency_rank``) to reuse one sort for several ``k``."""
    rank = recency_rank(df, time, by, first) if rank is None else rank
    return df[rank < k]


def window(df: pd.DataFrame, time: str, days: float) -> pd.DataFrame:
    """Rows at most ``days`` before the application (time columns count negative days/months)."""
    return df[df[time] >= -days]


def trend(df: pd.DataFrame, x: str, columns: list[str], prefix: str, by: str = KEY) -> pd.DataFrame:
    """Least-squares slope of each column against ``x`` per client, from grouped sums (NaN rows skipped)."""
    out = {}
    for col in columns:
        valid = df[[by, x, col]].dropna()
        xs = valid[x].to_numpy(np.float64)
        ys = valid[col].to_numpy(np.float64)
        parts = pd.DataFrame({by: valid[by].to_numpy(), "n": 1.0, "x": xs, "y": ys, "xx": xs * xs, "xy": xs * ys})
        s = parts.groupby(by, sort=False).sum()
        denom = s["n"] * s["xx"] - s["x"] ** 2
        slope = (s["n"] * s["xy"] - s["x"] * s["y"]) / denom.where(denom > 0)
        out[f"{prefix}_{col}_TREND"] = slope.astype("float32")
    return pd.DataFrame(out)


def safe_ratio(num, den) -> pd.Series | np.ndarray:
    """``num / den`` as float32 with NaN where the denominator is 0 or missing."""
    num = np.asarray(num, dtype=np.float32)
    den = np.asarray(den, dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den != 0, num / den, np.nan)
    return out.astype(np.float32)


def missing_as_nan(series: pd.Series, codes: tuple[str, ...] = ("XNA", "XAP")) -> pd.Series:
    """A categorical column with placeholder codes (XNA: not available, XAP: not applicable) as missing."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        present = [c for c in codes if c in series.cat.categories]
        return series.cat.remove_categories(present) if present else series
    return series.where(~series.isin(codes))


def join_all(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Outer-join per-client frames on their index."""
    out = frames[0]
    for frame in frames[1:]:
        out = out.join(frame, how="outer")
    return out.copy()  # one consolidated block, so later column inserts stay cheap


def category_lookup(series: pd.Series, mapping: dict, default: float = np.nan) -> np.ndarray:
    """Map a categorical column's levels to numbers through its codes (fast on tens of millions of rows)."""
    cat = series.astype("category")
    table = np.array([mapping.get(level, default) for level in cat.cat.categories] + [default], np.float32)
    return table[cat.cat.codes.to_numpy()]  # code -1 (missing) reads the trailing default


def _clean(level) -> str:
    text = "".join(ch if ch.isalnum() else "_" for ch in str(level).upper())
    return "_".join(part for part in text.split("_") if part)
