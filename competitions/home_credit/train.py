"""Train LightGBM on the Home Credit feature matrix, one model per shared fold.

    python competitions/home_credit/train.py --fold 0          # one fold
    python competitions/home_credit/train.py                   # all folds (same as --fold all)
    python competitions/home_credit/train.py --tables application --name app_only
    python competitions/home_credit/train.py --params runs/home_credit/tune/best_params.yaml

Writes ``runs/home_credit/<name>/``: per-fold model, predictions and gain importance, the merged
``oof.csv``/``test.csv``, ``metrics.json`` (per-fold and OOF AUC with DeLong 95% CI, timings) and
``importance.csv``/``importance.png``/``roc.png``. Finished folds are skipped on a rerun (``--no-resume``
retrains them).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd
import yaml

from common.config import parse_config
from common.io import atomic_path, atomic_write_csv, atomic_write_text
from common.metrics import auc_summary
from common.paths import default_data_dir
from common.plots import plot_importance, plot_roc
from common.run import Run
from common.seed import seed_everything
from competitions.home_credit.features.build import ALL_GROUPS
from competitions.home_credit.model import (
    COMPETITION, DATASET_PARAMS, Matrix, dataset_params, fit, fold_data, load_matrix, make_datasets,
    read_params_file, run_cli, shared_folds, timed)

TE_COLUMNS = ["ORGANIZATION_TYPE", "OCCUPATION_TYPE", "NAME_INCOME_TYPE", "NAME_EDUCATION_TYPE"]


@dataclass
class TrainConfig:
    """Train LightGBM on the Home Credit features, one model per shared fold."""
    data: str | None = field(default=None, metadata={"help": "data folder (default: data/home_credit, or the "
                                                             "competition's folder in a Kaggle kernel)"})
    name: str = field(default="lgb", metadata={"help": "run name: runs/home_credit/<name>"})
    fold: str = field(default="all", metadata={"help": "fold to train: 0..n_splits-1, a comma list, or all"})
    tables: list[str] = field(default_factory=lambda: list(ALL_GROUPS),
                              metadata={"help": "feature groups to use", "choices": ALL_GROUPS})
    folds_file: str | None = field(default=None, metadata={"help": "shared fold file "
                                                                   "(default runs/home_credit/folds.csv)"})
    n_splits: int = 5
    seed: int = 42
    num_threads: int = 2
    learning_rate: float = 0.03
    num_leaves: int = 31
    max_depth: int = -1
    min_data_in_leaf: int = 50
    min_sum_hessian_in_leaf: float = 1e-3
    feature_fraction: float = 0.3
    bagging_fraction: float = 0.9
    bagging_freq: int = 1
    lambda_l1: float = 0.0
    lambda_l2: float = 1.0
    min_gain_to_split: float = 0.0
    max_bin: int = 255
    num_boost_round: int = 5000
    early_stopping_rounds: int = 100
    params: str | None = field(default=None, metadata={"help": "YAML of LightGBM parameters (tune.py's "
                                                               "best_params.yaml); they override the above"})
    target_encoding: bool = field(default=True, metadata={"help": "add out-of-fold target encodings"})
    te_columns: list[str] = field(default_factory=lambda: list(TE_COLUMNS))
    rebuild_features: bool = False
    resume: bool = field(default=True, metadata={"help": "skip folds whose predictions exist"})
    log_period: int = field(default=200, metadata={"help": "log the validation AUC every n rounds (0: never)"})


def lgb_params(cfg: TrainConfig) -> dict:
    """LightGBM parameters from the config, overridden by the ``--params`` file."""
    params = {
        "learning_rate": cfg.learning_rate, "num_leaves": cfg.num_leaves, "max_depth": cfg.max_depth,
        "min_data_in_leaf": cfg.min_data_in_leaf, "min_sum_hessian_in_leaf": cfg.min_sum_hessian_in_leaf,
        "feature_fraction": cfg.feature_fraction, "bagging_fraction": cfg.bagging_fraction,
        "bagging_freq": cfg.bagging_freq, "lambda_l1": cfg.lambda_l1, "lambda_l2": cfg.lambda_l2,
        "min_gain_to_split": cfg.min_gain_to_split, "num_threads": cfg.num_threads, "seed": cfg.seed,
        "force_col_wise": True, "deterministic": True,
    }
    overrides = read_params_file(cfg.params)
    fixed = sorted(set(overrides) & set(DATASET_PARAMS))
    if fixed:
        raise ValueError(f"{cfg.params}: {fixed} are Dataset parameters; set them with --max-bin instead")
    return {**params, **overrides}


def folds_to_train(spec: str, n_splits: int) -> list[int]:
    """Parse ``--fold``: 'all', one fold or a comma list."""
    if spec.strip().lower() == "all":
        return list(range(n_splits))
    try:
        folds = [int(part) for part in spec.split(",")]
    except ValueError:
        raise ValueError(f"--fold must be 'all', a fold number or a comma list, got {spec!r}") from None
    bad = [k for k in folds if not 0 <= k < n_splits]
    if bad:
        raise ValueError(f"--fold {bad} outside 0..{n_splits - 1}")
    return folds


def n_inputs(matrix: Matrix, cfg: TrainConfig) -> int:
    """Number of model inputs: the matrix's features plus the target encodings added per fold."""
    encoded = [c for c in cfg.te_columns if c in matrix.features] if cfg.target_encoding else []
    return len(matrix.features) + len(encoded)


def train_fold(run: Run, matrix: Matrix, folds: np.ndarray, fold: int, cfg: TrainConfig, params: dict,
               timings: dict) -> dict:
    """Fit one fold, write its model, predictions, importance and metrics; return its metrics."""
    with timed(timings, "fold_inputs_s"):
        data = fold_data(matrix, folds, fold, cfg.te_columns if cfg.target_encoding else [], cfg.seed)
    with timed(timings, "lightgbm_s"):
        train_set, valid_set = make_datasets(data, dataset_params(cfg.max_bin, cfg.seed, cfg.num_threads))
        booster = fit(params, train_set, valid_set, cfg.num_boost_round, cfg.early_stopping_rounds,
                      cfg.log_period)
        valid_pred = booster.predict(data.x_valid, num_iteration=booster.best_iteration)
        test_pred = booster.predict(data.x_test, num_iteration=booster.best_iteration)
    with timed(timings, "writing_s"):
        fold_dir = run.fold_dir(fold)
        with atomic_path(fold_dir / "model.txt") as tmp:
            booster.save_model(tmp, num_iteration=booster.best_iteration)
        importance = pd.DataFrame({"feature": booster.feature_name(),
                                   "importance": booster.feature_importance("gain")})
        atomic_write_csv(fold_dir / "importance.csv", importance.sort_values("importance", ascending=False))
        run.save_fold_predictions(
            fold,
            pd.DataFrame({"id": data.ids_valid, "target": data.y_valid, "pred": valid_pred}),
            pd.DataFrame({"id": data.ids_test, "pred": test_pred}),
        )
        summary = {**auc_summary(data.y_valid, valid_pred), "best_iteration": int(booster.best_iteration),
                   "n_features": int(data.x_train.shape[1])}
        run.update_metrics({"folds": {str(fold): summary}})
    return summary


def summarize(run: Run, n_splits: int, band: bool = True) -> dict:
    """OOF AUC with DeLong CI over the finished folds, importance table and plots."""
    oof = pd.read_csv(run.root / "oof.csv")
    folds_done = sorted(oof["fold"].unique().tolist())
    summary = {**auc_summary(oof["target"], oof["pred"]), "folds": folds_done,
               "complete": len(folds_done) == n_splits}
    importance = pd.concat([pd.read_csv(run.root / f"fold{k}" / "importance.csv").assign(fold=k)
                            for k in folds_done], ignore_index=True)
    mean = (importance.groupby("feature")["importance"].agg(["mean", "std"]).fillna(0.0)
            .sort_values("mean", ascending=False).rename(columns={"mean": "gain_mean", "std": "gain_std"}))
    atomic_write_csv(run.root / "importance.csv", mean.reset_index())
    plot_importance(importance, run.root / "importance.png", top=40)
    plot_roc(oof["target"], oof["pred"], run.root / "roc.png", band_boot=100 if band else 0,
             title=f"Home Credit OOF ({run.root.name})")
    run.update_metrics({"oof": summary})
    return summary


def main(argv: list[str] | None = None) -> dict:
    """Train the requested folds and return the run's metrics."""
    start = time.perf_counter()
    cfg = parse_config(TrainConfig, argv)
    cfg.data = str(cfg.data or default_data_dir(COMPETITION))
    seed_everything(cfg.seed)
    params = lgb_params(cfg)
    run = Run.open(COMPETITION, cfg.name)
    run.save_config(cfg)
    atomic_write_text(run.root / "lgb_params.yaml", yaml.safe_dump(params, sort_keys=True))
    timings: dict = {}
    with timed(timings, "features_s"):
        matrix = load_matrix(cfg.data, cfg.tables, cfg.rebuild_features)
    folds = shared_folds(matrix, cfg.folds_file, cfg.n_splits, cfg.seed)
    todo = folds_to_train(cfg.fold, cfg.n_splits)
    run.log.info("data %s: %d train / %d test clients, %d features; folds %s",
                 cfg.data, len(matrix.train), len(matrix.test), len(matrix.features), todo)
    trained = 0
    for fold in todo:
        if cfg.resume and fold in run.completed_folds():
            run.log.info("fold %d already done: skipped (--no-resume retrains it)", fold)
            continue
        fold_start = time.perf_counter()
        result = train_fold(run, matrix, folds, fold, cfg, params, timings)
        trained += 1
        left = sum(1 for k in todo if k > fold and not (cfg.resume and k in run.completed_folds()))
        elapsed = time.perf_counter() - fold_start
        run.log.info("fold %d: AUC %.5f (95%% CI %.5f-%.5f), %d rounds, %.1f s; about %.0f s left",
                     fold, result["auc"], result["ci_low"], result["ci_high"], result["best_iteration"],
                     elapsed, elapsed * left)
    with timed(timings, "summary_s"):
        oof = summarize(run, cfg.n_splits, band=len(matrix.train) <= 100_000)
    timings["total_s"] = time.perf_counter() - start
    lightgbm = timings.get("lightgbm_s", 0.0)
    timings["overhead_s"] = timings["total_s"] - lightgbm
    timings["overhead_ratio"] = timings["overhead_s"] / lightgbm if lightgbm else None
    timings["folds_trained"] = trained
    metrics = run.update_metrics({"timing": {k: round(v, 3) if isinstance(v, float) else v
                                             for k, v in timings.items()},
                                  "n_features": n_inputs(matrix, cfg), "tables": list(cfg.tables)})
    run.log.info("OOF AUC %.5f (DeLong 95%% CI %.5f-%.5f) over folds %s; run %s",
                 oof["auc"], oof["ci_low"], oof["ci_high"], oof["folds"], run.root)
    return metrics


if __name__ == "__main__":
    lgb.register_logger(logging.getLogger("lightgbm"))
    run_cli(main)
