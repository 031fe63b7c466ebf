"""Baseline: logistic regression on downsampled pixels, written as a run of the common contract (blendable).

    python competitions/nexperia/baseline.py --data data/nexperia --fold 0
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from common.config import parse_config
from common.paths import default_data_dir
from common.metrics import auc_summary
from common.run import Run
from competitions.nexperia.data import get_folds, load_data, load_truth, true_labels


@dataclass
class BaselineConfig:
    """Logistic regression on downsampled pixels."""
    data: str | None = field(default=None, metadata={"help": "default data/nexperia, or the Kaggle input folder"})
    name: str = "logreg"
    fold: str = field(default="0", metadata={"help": "fold number or 'all'"})
    n_splits: int = 5
    size: int = field(default=32, metadata={"help": "images are shrunk to size x size pixels"})
    C: float = field(default=0.05, metadata={"help": "inverse L2 regularisation strength"})
    runs_dir: str | None = None
    cache_dir: str | None = None


def pixel_features(images: np.ndarray, size: int) -> np.ndarray:
    """(N, size*size) float32 grey levels in [0, 1] of the images shrunk by area averaging."""
    return np.stack([cv2.resize(np.asarray(im), (size, size), interpolation=cv2.INTER_AREA).ravel()
                     for im in images]).astype(np.float32) / 255.0


def logistic_regression(C: float):
    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000))


def main(argv: list[str] | None = None) -> Run:
    cfg = parse_config(BaselineConfig, argv)
    cfg.data = cfg.data or str(default_data_dir("nexperia"))
    data = load_data(Path(cfg.data), Path(cfg.cache_dir) if cfg.cache_dir else None)
    folds = get_folds(data, n_splits=cfg.n_splits, runs_dir=cfg.runs_dir)
    run = Run.open("nexperia", cfg.name, cfg.runs_dir)
    run.save_config(cfg)
    x, x_test = pixel_features(data.train_images, cfg.size), pixel_features(data.test_images, cfg.size)
    y = data.train_labels.astype(int)
    truth = load_truth(data.data_dir)
    true = true_labels(truth, data.train_ids) if truth is not None else None
    for fold in range(cfg.n_splits) if str(cfg.fold) == "all" else [int(cfg.fold)]:
        valid = folds["fold"].to_numpy() == fold
        model = logistic_regression(cfg.C).fit(x[~valid], y[~valid])
        pred = model.predict_proba(x[valid])[:, 1]
        test = pd.DataFrame({"id": data.test_ids, "pred": model.predict_proba(x_test)[:, 1]}) if len(x_test) else None
        run.save_fold_predictions(fold, pd.DataFrame({"id": data.train_ids[valid], "target": y[valid], "pred": pred}),
                                  test)
        metrics = {"auc_given": auc_summary(y[valid], pred)}
        if true is not None:
            metrics["auc_true"] = auc_summary(true[valid], pred)
        run.update_metrics({f"fold{fold}": metrics})
        run.log.info("fold %d: logistic regression on %dx%d pixels, val AUC given %.5f%s", fold, cfg.size, cfg.size,
                     metrics["auc_given"]["auc"],
                     f", true {metrics['auc_true']['auc']:.5f}" if "auc_true" in metrics else "")
    return run


if __name__ == "__main__":
    main()
