"""Tune the toy cancer model with Optuna on its folds (engine: common.tabular.tune), as the competitions do.

    python -m tests.toy.cancer_tune --data DIR --model lightgbm --n-trials 3
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from common.cli import run_cli
from common.config import option, parse_config
from common.folds import get_or_make_folds
from common.run import Run
from common.tabular.tune import GBDTTuneConfig, run_study
from tests.toy.cancer import SPEC, load_matrix


@dataclass
class TuneConfig(GBDTTuneConfig):
    """Tune gradient-boosted trees on the toy cancer rows."""
    features: bool = option(False, help="join the rows' ratios (python -m tests.toy.cancer_features)")


def main(argv: list[str] | None = None) -> dict:
    cfg = parse_config(TuneConfig, argv)
    run = Run.open(SPEC.name, cfg.name, cfg.runs_dir)
    run.save_config(cfg)

    def load():
        matrix = load_matrix(Path(cfg.data or "data/toy_cancer"), cfg.runs_dir if cfg.features else False)
        folds = get_or_make_folds(run.root.parent / "folds.csv", matrix.ids, matrix.y, n_splits=cfg.n_splits,
                                  seed=cfg.seed)
        return matrix, folds["fold"].to_numpy()

    return run_study(run, cfg, load)


if __name__ == "__main__":
    run_cli(main)
