"""Cross-validation of gradient-boosted trees through the kit's one fold driver (``common.cv.run_folds``),
whatever the library: an engine (``common.tabular.protocol``) fits one fold, this module runs the folds and
writes the run.

A competition's training CLI is then a few lines (see ``competitions/home_credit/train.py``)::

    cfg = apply_params(parse_config(MyConfig, argv), others="library parameters")  # MyConfig(GBDTConfig)
    check_gpu(cfg)                                     # --device cuda on this machine (common.tabular.config)
    params = model_params(cfg)                         # the --model library's (common.tabular.protocol)
    run = Run.open("my_competition", cfg.name, cfg.runs_dir); run.save_config(cfg)
    return train_cv(run, cfg, matrix, folds, params, transform=..., title="My competition")

An engine works in two steps per fold, each timed: ``inputs`` (the library's view of the fold, from a
:class:`~common.tabular.matrix.FoldSplit`: LightGBM's subsets of the matrix binned once, XGBoost's and
CatBoost's DataFrames) and ``fit``.

Per fold it writes the engine's model file (``model.txt``, ``model.json`` or ``model.cbm``, up to the best
iteration), ``fold<k>/importance.csv`` (and ``fold<k>/pseudo.csv`` with pseudo-labels), besides the driver's
prediction files and ``done.json``; per run the parameters used (``lgb_params.yaml``, ``xgb_params.yaml`` or
``catboost_params.yaml``), ``importance.csv/png``, ``roc.png`` and ``metrics.json`` (the driver's schema plus
``timing``, ``model``, ``importance_type``: what ``importance.csv`` measures, and ``n_features``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import yaml

from common.config import parse_folds
from common.cv import FoldResult, Truth, run_folds
from common.io import atomic_write_bytes, atomic_write_csv, atomic_write_text
from common.pseudo import PSEUDO_FILE
from common.run import Run
from common.tabular.config import GBDTConfig
from common.tabular.matrix import FoldTransform, TabularMatrix, split_fold
from common.tabular.protocol import Engine, make_engine
from common.tabular.pseudo import PseudoLabeller
from common.tabular.report import FOLD_IMPORTANCE, write_report
from common.tabular.timing import Timings


@dataclass
class GBDTFoldTrainer:
    """``fit_fold`` for :func:`common.cv.run_folds`: one model per fold of ``matrix``.

    ``folds`` gives the fold of each training row; ``transform`` is fitted on each fold's training rows;
    ``pseudo`` adds the test rows a source run's same fold labelled to them (written to ``fold<k>/pseudo.csv``).
    Time goes to ``timings`` under ``fold_inputs_s`` (rows, transform, the library's inputs),
    ``binning_s`` (LightGBM's Datasets), ``<engine>_s`` (fitting, predicting) and ``writing_s`` (model and
    importance files).
    """
    run: Run
    matrix: TabularMatrix
    folds: np.ndarray
    engine: Engine
    transform: FoldTransform | None = None
    pseudo: PseudoLabeller | None = None
    timings: Timings = field(default_factory=Timings)
    trained: int = field(default=0, init=False)  # folds fitted by this trainer

    def __call__(self, fold: int) -> FoldResult:
        with self.timings("fold_inputs_s"):
            split = split_fold(self.matrix, self.folds, fold, self.transform)
            if self.pseudo is not None:
                split.pseudo, pseudo_table = self.pseudo.rows(self.matrix, fold)
                atomic_write_csv(self.run.fold_dir(fold) / PSEUDO_FILE, pseudo_table)
        inputs = self.engine.inputs(split, self.timings)
        with self.timings(f"{self.engine.name}_s"):
            model = self.engine.fit(inputs)
        del inputs  # the fold's Datasets and arrays: free before the next fold's
        with self.timings("writing_s"):
            fold_dir = self.run.fold_dir(fold)
            atomic_write_bytes(fold_dir / self.engine.model_file, model.model_bytes)
            atomic_write_csv(fold_dir / FOLD_IMPORTANCE, model.importance.sort_values("importance", ascending=False))
        self.trained += 1
        return FoldResult(
            oof=pd.DataFrame({"id": split.ids_valid, "target": split.y_valid, "pred": model.valid_pred}),
            test=pd.DataFrame({"id": split.ids_test, "pred": model.test_pred}) if model.test_pred is not None else None,
            info={"best_iteration": model.best_iteration, "n_features": len(split.features),
                  **({} if split.pseudo is None else {"pseudo": {"rows": len(split.pseudo.rows),
                                                                 "defaults": int(split.pseudo.labels.sum())}})})


def train_cv(run: Run, cfg: GBDTConfig, matrix: TabularMatrix, folds: np.ndarray, params: dict, *,
             transform: FoldTransform | None = None, pseudo: PseudoLabeller | None = None,
             truth: Truth | None = None, timings: Timings | None = None, title: str = "LightGBM") -> dict:
    """Train the folds ``cfg.fold`` asks for with ``cfg.model`` (finished ones skipped when ``cfg.resume``),
    write the run's report and return its ``metrics.json``; ``timings`` (started by the caller) covers the
    whole command."""
    timings = timings or Timings()
    engine = make_engine(cfg, params, matrix.categorical_features)
    engine.route_log(run.log)
    atomic_write_text(run.root / engine.params_file, yaml.safe_dump(params, sort_keys=True))
    todo = parse_folds(cfg.fold, cfg.n_splits)
    run.log.info("%s: %d training / %d test rows, %d features; folds %s", engine.name, len(matrix.train),
                 0 if matrix.test is None else len(matrix.test), len(matrix.features), todo)
    trainer = GBDTFoldTrainer(run, matrix, folds, engine, transform, pseudo, timings)
    metrics = run_folds(run, todo, trainer, n_splits=cfg.n_splits, resume=cfg.resume, truth=truth)
    with timings("summary_s"):
        write_report(run, title, engine.importance_type)
    done = metrics["completed_folds"]
    return run.update_metrics({"timing": {**timings.summary(f"{engine.name}_s"), "folds_trained": trainer.trained},
                               "model": engine.name, "importance_type": engine.importance_type,
                               "n_features": run.fold_metrics(done[-1]).get("n_features") if done else None,
                               **({} if pseudo is None else {"pseudo": pseudo.summary()})})
