"""Baseline: logistic regression on downsampled pixels, written as a run of the common contract (blendable).

    python competitions/nexperia/baseline.py --data data/nexperia --fold 0
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from common.cli import run_cli
from common.config import RunConfig, option, parse_config, parse_folds
from common.cv import FoldResult, run_folds
from common.paths import default_data_dir
from common.run import Run
from competitions.nexperia.data import (NexperiaDataOptions, fill_skipped_test, load_configured, record_skipped,
                                        shared_fold_of, truth_lookup)


@dataclass
class BaselineConfig(RunConfig, NexperiaDataOptions):
    """Logistic regression on downsampled pixels."""
    name: str = option("logreg", help="run name: runs/nexperia/<name>")
    fold: str = option("0", volatile=True, help="fold to run: a number, a comma list, or all")
    size: int = option(32, min=2, help="images are shrunk to size x size pixels")
    C: float = option(0.05, min=0, min_exclusive=True, help="inverse L2 regularisation strength")


def pixel_features(images: np.ndarray, size: int) -> np.ndarray:
    """(N, size*size) float32 grey levels in [0, 1] of the images shrunk by area averaging."""
    return np.stack([cv2.resize(np.asarray(im), (size, size), interpolation=cv2.INTER_AREA).ravel()
                     for im in images]).astype(np.float32) / 255.0


def logistic_regression(C: float):
    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000))


def main(argv: list[str] | None = None) -> Run:
    cfg = parse_config(BaselineConfig, argv)
    cfg.data = cfg.data or str(default_data_dir("nexperia"))
    data = load_configured(cfg)
    fold_of = shared_fold_of(data, cfg)
    run = Run.open("nexperia", cfg.name, cfg.runs_dir)
    run.save_config(cfg)
    record_skipped(run, data)
    x, x_test = pixel_features(data.train_images, cfg.size), pixel_features(data.test_images, cfg.size)
    y = data.train_labels.astype(int)

    def fit_fold(fold: int) -> FoldResult:
        valid = fold_of == fold
        model = logistic_regression(cfg.C).fit(x[~valid], y[~valid])
        oof = pd.DataFrame({"id": data.train_ids[valid], "target": y[valid],
                            "pred": model.predict_proba(x[valid])[:, 1]})
        test = pd.DataFrame({"id": data.test_ids, "pred": model.predict_proba(x_test)[:, 1]}) if len(x_test) else None
        return fill_skipped_test(FoldResult(oof, test, {"pixels": cfg.size}), data, run.log)

    run_folds(run, parse_folds(cfg.fold, cfg.n_splits), fit_fold, n_splits=cfg.n_splits, resume=cfg.resume,
              truth=truth_lookup(Path(cfg.data)))
    return run


if __name__ == "__main__":
    run_cli(main)
