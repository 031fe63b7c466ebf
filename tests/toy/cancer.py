"""A toy tabular competition: scikit-learn's breast cancer rows as a Kaggle layout, LightGBM on the kit's engine.

Everything competition-specific is here: the data writer (a stand-in for the Kaggle download), the registry
entry, the data reader and the training CLI.

    python -m tests.toy.cancer --data DIR --fold all
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer

from common.cli import run_cli
from common.config import option, parse_config
from common.errors import MissingInput
from common.folds import get_or_make_folds
from common.play.plan import Plan
from common.play.steps import Folds, Once, Seeds, StepContext, Tune, finished_study
from common.registry import Competition, register
from common.run import Run
from common.tabular.config import GBDTConfig
from common.tabular.cross_validate import train_cv
from common.tabular.matrix import TabularMatrix
from common.tabular.protocol import model_params
from common.tuning.params import apply_params

SPEC = register(Competition(name="toy_cancer", slug="toy-cancer", marker_file="train.csv",
                                   sample_submission="sample_submission.csv", id_column="row_id",
                                   target_column="malignant", play="tests.toy.cancer:play_plan"))
FAST = ["--num-threads", "1", "--num-boost-round", "200", "--early-stopping-rounds", "20", "--n-splits", "3"]


def write_data(out: Path, n_test: int = 120, seed: int = 0) -> Path:
    """``train.csv`` (row_id, features, malignant), ``test.csv`` and ``sample_submission.csv`` in ``out``."""
    frame, target = load_breast_cancer(return_X_y=True, as_frame=True)
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    frame.insert(0, "row_id", np.arange(100_000, 100_000 + len(frame)))
    frame["malignant"] = 1 - target  # scikit-learn codes benign as 1
    test_rows = np.random.default_rng(seed).permutation(len(frame))[:n_test]
    is_test = np.isin(np.arange(len(frame)), test_rows)
    out.mkdir(parents=True, exist_ok=True)
    frame[~is_test].to_csv(out / "train.csv", index=False)
    frame[is_test].drop(columns="malignant").to_csv(out / "test.csv", index=False)
    pd.DataFrame({"row_id": frame.loc[is_test, "row_id"], "malignant": 0.5}).to_csv(
        out / "sample_submission.csv", index=False)
    return out


def tune_args(ctx: StepContext) -> list[str] | None:
    best = ctx.best(("lightgbm", "xgboost"))
    return None if best is None else ["--model", best.family, *FAST, "--features", "--n-startup-trials", "2"]


def tuned_args(ctx: StepContext) -> list[str] | None:
    tuned = finished_study(ctx, "tune")
    if tuned is None:
        return None
    return [*tuned["args"][:2], *FAST, "--features", "--params", tuned["notes"]["best_params"]]


def play_plan(data: Path, device: str = "cpu") -> Plan:
    """The autopilot's plan: the features, LightGBM and XGBoost defaults, tuning of the better family, seeds of
    the best run, the blend."""
    module = "tests.toy.cancer"
    return Plan(steps=[Once("features", "tests.toy.cancer_features",
                            lambda ctx: ["--data", str(data), "--runs-dir", str(ctx.play.runs_dir)], weight=0.5,
                            estimate_s=2, essential=True),
                       Folds("lgb", module, ["--model", "lightgbm", *FAST, "--features"], weight=1, estimate_s=2,
                             family="lightgbm", essential=True),
                       Folds("xgb", module, ["--model", "xgboost", *FAST, "--features"], weight=1, estimate_s=2,
                             family="xgboost"),
                       Tune("tune", "tests.toy.cancer_tune", tune_args, weight=1, estimate_s=2, most_trials=3,
                            least_trials=2, families=("lightgbm", "xgboost"), then="tuned"),
                       Folds("tuned", module, tuned_args, weight=1, estimate_s=2, family="tuned",
                             pace_of=("lightgbm", "xgboost"), study="tune"),
                       Seeds("seeds", module, weight=1, estimate_s=2, most_seeds=3)],
                n_splits=3, tail_s=10)


def load_matrix(data_dir: Path, features_of: str | Path | None | bool = False) -> TabularMatrix:
    """The rows, with the ratios of ``tests.toy.cancer_features`` joined unless ``features_of`` (its runs
    folder, None for the default one) is False."""
    train = pd.read_csv(data_dir / "train.csv")
    test = pd.read_csv(data_dir / "test.csv")
    if features_of is not False:
        from tests.toy.cancer_features import features_path
        path = features_path(features_of)
        if not path.is_file():
            raise MissingInput(f"--features: no {path}; build it: python -m tests.toy.cancer_features")
        ratios = pd.read_parquet(path)
        train, test = train.merge(ratios, on="row_id", how="left"), test.merge(ratios, on="row_id", how="left")
    features = [c for c in train.columns if c not in ("row_id", "malignant")]
    return TabularMatrix(train, test, features, "row_id", "malignant")


@dataclass
class TrainConfig(GBDTConfig):
    """LightGBM on the toy cancer rows."""
    features: bool = option(False, help="join the rows' ratios (python -m tests.toy.cancer_features)")


def main(argv: list[str] | None = None) -> dict:
    cfg = apply_params(parse_config(TrainConfig, argv))  # a study's best_params.yaml
    data_dir = Path(cfg.data or "data/toy_cancer")
    matrix = load_matrix(data_dir, cfg.runs_dir if cfg.features else False)
    run = Run.open(SPEC.name, cfg.name, cfg.runs_dir)
    run.save_config(cfg)
    folds = get_or_make_folds(run.root.parent / "folds.csv", matrix.ids, matrix.y, n_splits=cfg.n_splits,
                              seed=cfg.seed)
    return train_cv(run, cfg, matrix, folds["fold"].to_numpy(), model_params(cfg), title="toy cancer")


if __name__ == "__main__":
    run_cli(main)
