"""Plots of the ledger people read: scores in submission order, CV against public LB, rank over time.

Scores are drawn against the submission's order (labelled with its UTC day), not a time axis, so a single
submission or a burst in one afternoon is not lost on an axis spanning years; the score axis is fitted to the
scores shown, with a margin.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from common.plots import _save, plt

SERIES = (("cv_auc", "CV AUC", "o"), ("public_score", "public LB", "s"), ("private_score", "private LB", "D"))
MIN_CORRELATION_POINTS = 3


def fitted_limits(values: np.ndarray, margin: float = 0.1) -> tuple[float, float]:
    """An axis range around ``values`` with ``margin`` of their spread each side (a fixed pad for one value)."""
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    pad = (high - low) * margin if high > low else max(abs(high) * 0.002, 1e-4)
    return low - pad, high + pad


def order_ticks(days: list[str]) -> list[str]:
    """Tick labels for submissions 1..n: the number, and the UTC day where it changes."""
    return [f"{n}\n{day}" if n == 1 or day != days[n - 2] else str(n) for n, day in enumerate(days, 1)]


def plot_scores_by_order(table: pd.DataFrame, path: str | Path, title: str) -> Path:
    """CV, public and private score of each submission Kaggle got, in the order they were made."""
    ordered = table[table["kaggle_ref"].notna()].sort_values("id").reset_index(drop=True)
    order = np.arange(1, len(ordered) + 1)
    fig, ax = plt.subplots(figsize=(max(5.0, min(0.35 * len(ordered) + 3, 14)), 3.8))
    shown = []
    for column, label, marker in SERIES:
        values = pd.to_numeric(ordered[column], errors="coerce").to_numpy(dtype=float)
        if np.isfinite(values).any():
            keep = np.isfinite(values)
            ax.plot(order[keep], values[keep], marker=marker, lw=1, ms=5, label=label)
            shown.append(values[keep])
    if shown:
        ax.set_ylim(*fitted_limits(np.concatenate(shown)))
        ax.legend(fontsize=8)
    days = ordered["submitted"].fillna(ordered["created"]).astype(str).str[:10].tolist()
    ax.set_xlim(0.5, len(ordered) + 0.5)
    step = max(1, len(ordered) // 12)
    ax.set_xticks(order[::step], order_ticks(days)[::step], fontsize=7)
    ax.set(xlabel="submission (order, UTC day)", ylabel="ROC-AUC", title=title)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_cv_vs_public(table: pd.DataFrame, path: str | Path, title: str) -> Path:
    """CV AUC against public LB per submission; the Pearson/Spearman correlation once there are 3 points."""
    data = table.dropna(subset=["cv_auc", "public_score"])
    fig, ax = plt.subplots(figsize=(5.5, 4.8))
    ax.scatter(data["cv_auc"], data["public_score"], s=22)
    for _, row in data.iterrows():
        ax.annotate(str(row["id"]), (row["cv_auc"], row["public_score"]), fontsize=7, alpha=0.7)
    if len(data):
        ax.set_xlim(*fitted_limits(data["cv_auc"].to_numpy(dtype=float)))
        ax.set_ylim(*fitted_limits(data["public_score"].to_numpy(dtype=float)))
    corr = ""
    if len(data) >= MIN_CORRELATION_POINTS:
        corr = (f"\nPearson {data['cv_auc'].corr(data['public_score']):.3f}, "
                f"Spearman {data['cv_auc'].corr(data['public_score'], method='spearman'):.3f}")
    ax.set(xlabel="CV AUC", ylabel="public LB", title=f"{title}, n={len(data)}{corr}")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_rank_history(ranks: pd.DataFrame, path: str | Path, title: str) -> Path:
    """The team's public percentile (top x%) at each sync that changed it, best at the top."""
    kept = ranks.dropna(subset=["rank", "teams"]).reset_index(drop=True)
    percentile = 100.0 * kept["rank"].astype(float) / kept["teams"].astype(float)
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    order = np.arange(1, len(kept) + 1)
    ax.plot(order, percentile, marker="o", lw=1)
    for n, (_, row) in zip(order, kept.iterrows()):
        ax.annotate(f"{int(row['rank'])}/{int(row['teams'])}", (n, percentile[n - 1]), fontsize=7)
    if len(kept):
        low, high = fitted_limits(percentile.to_numpy())
        ax.set_ylim(high, max(low, 0.0))
        ax.set_xticks(order, order_ticks(kept["synced"].astype(str).str[:10].tolist()), fontsize=7)
        ax.set_xlim(0.5, len(kept) + 0.5)
    ax.set(xlabel="sync (order, UTC day)", ylabel="top % of teams", title=title)
    ax.grid(alpha=0.3)
    return _save(fig, path)
