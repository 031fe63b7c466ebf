"""The image engine's Optuna objective: each trial trains the first ``tune_folds`` shared folds into a run of
its own (``<study run>/trials/<number>/``), so the fold driver and checkpoints work unchanged.

    objective = make_objective(base_cfg, space, data, fold_of_row, run.root / "trials", 2, d, truth)
    common.tuning.study.run_study(run, cfg, lambda: objective, params_of)

The score is the mean of the folds' AUC (against the given labels, the run's TTA); the first fold reports
its validation AUC after each epoch and is stopped there when the pruner says so (``OptunaPruning``).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import optuna

from common.errors import BadInput
from common.cv import Truth
from common.run import Run
from common.tuning.space import SearchSpace, suggest
from common.vision.callbacks import OptunaPruning
from common.vision.distributed import Dist
from common.vision.trainer import ImageData, ImageTrainConfig, train_folds


def make_objective(base: ImageTrainConfig, space: SearchSpace, data: ImageData, fold_of_row: np.ndarray,
                   trials_dir: Path, tune_folds: int, d: Dist, truth: Truth | None = None):
    """``objective(trial)``: ``base`` with the trial's values, trained on folds ``0..tune_folds-1``."""
    if d.world > 1:
        raise BadInput("tuning runs one process per worker (start several workers instead of torchrun)")

    def objective(trial: optuna.Trial) -> float:
        cfg = dataclasses.replace(base, **suggest(trial, space))
        run = Run(trials_dir / str(trial.number))
        trial.set_user_attr("run", str(run.root))
        run.save_config(cfg)
        metrics = train_folds(cfg, data, fold_of_row, list(range(tune_folds)), run, d, truth,
                              callbacks=[OptunaPruning(trial, fold=0)])
        folds = [metrics["folds"][str(k)] for k in range(tune_folds)]
        trial.set_user_attr("fold_aucs", [f["auc_given"]["auc"] for f in folds])
        trial.set_user_attr("best_epochs", [f["best_epoch"] for f in folds])
        return float(np.mean([f["auc_given"]["auc"] for f in folds]))
    return objective
