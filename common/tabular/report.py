"""Run-level report of a gradient-boosted trees cross-validation: feature importance over the folds (of the
library's kind: LightGBM's gain, XGBoost's total gain, CatBoost's PredictionValuesChange) and the OOF ROC curve."""
from __future__ import annotations

import pandas as pd

from common.io import atomic_write_csv
from common.plots import plot_importance, plot_roc
from common.run import Run

FOLD_IMPORTANCE = "importance.csv"  # per fold: feature, importance (the engine's importance_type)
ROC_BAND_MAX_ROWS = 100_000  # the bootstrap band costs seconds per 10k rows: skipped on big data


def write_importance(run: Run, folds: list[int], importance_type: str, top: int = 40) -> pd.DataFrame:
    """``importance.csv`` (feature, importance_mean, importance_std over ``folds``) and ``importance.png``
    (its axis named after ``importance_type``, what the folds' importance measures)."""
    importance = pd.concat([pd.read_csv(run.fold_path(k) / FOLD_IMPORTANCE).assign(fold=k) for k in folds],
                           ignore_index=True)
    table = (importance.groupby("feature")["importance"].agg(["mean", "std"]).fillna(0.0)
             .sort_values("mean", ascending=False)
             .rename(columns={"mean": "importance_mean", "std": "importance_std"}).reset_index())
    atomic_write_csv(run.root / "importance.csv", table)
    plot_importance(importance.rename(columns={"importance": importance_type}), run.root / "importance.png",
                    top=top, importance=importance_type)
    return table


def write_roc(run: Run, title: str) -> None:
    """``roc.png`` of the run's OOF predictions (with a bootstrap band up to ``ROC_BAND_MAX_ROWS`` rows)."""
    oof = run.read_oof()
    band = 100 if len(oof) <= ROC_BAND_MAX_ROWS else 0
    plot_roc(oof["target"], oof["pred"], run.root / "roc.png", band_boot=band, title=f"{title} OOF ({run.root.name})")


def write_report(run: Run, title: str, importance_type: str) -> None:
    """Importance and ROC files of the run's finished folds (nothing before the first fold is done)."""
    folds = run.completed_folds()
    if folds:
        write_importance(run, folds, importance_type)
        write_roc(run, title)
