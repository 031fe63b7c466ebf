"""Train LightGBM on the Home Credit feature matrix, one model per shared fold (engine: common.tabular).

    python competitions/home_credit/train.py --fold 0          # one fold
    python competitions/home_credit/train.py                   # all folds (same as --fold all)
    python competitions/home_credit/train.py --tables application --name app_only
    python competitions/home_credit/train.py --params runs/home_credit/tune/best_params.yaml --name tuned
    python competitions/home_credit/train.py --config competitions/home_credit/configs/demo.yaml

Writes ``runs/home_credit/<name>/``: per-fold model, predictions and gain importance, the merged
``oof.csv``/``test.csv``, ``metrics.json`` (per-fold and OOF AUC with DeLong 95% CI, best iterations,
timings, tables) and ``importance.csv``/``importance.png``/``roc.png``. Finished folds are skipped on a
rerun (``--no-resume`` retrains them). Submissions: ``python -m submissions.blend --competition home_credit
--runs <name>``.
"""
from __future__ import annotations

from dataclasses import dataclass

from common.cli import run_cli
from common.config import option, parse_config
from common.paths import default_data_dir
from common.registry import truth_of
from common.run import Run
from common.seed import seed_everything
from common.tabular.config import LGBMConfig, lgb_params
from common.tabular.lgbm import train_cv
from common.tabular.timing import Timings
from competitions.home_credit.matrix import COMPETITION, MatrixOptions, fold_transform, load_matrix, shared_folds


@dataclass
class TrainConfig(MatrixOptions, LGBMConfig):
    """Train LightGBM on the Home Credit features, one model per shared fold."""
    rebuild_features: bool = option(False, volatile=True, help="rebuild the cached feature groups")


def main(argv: list[str] | None = None) -> dict:
    """Train the requested folds and return the run's metrics."""
    timings = Timings()
    cfg = parse_config(TrainConfig, argv)
    cfg.data = str(cfg.data or default_data_dir(COMPETITION))
    seed_everything(cfg.seed)
    params = lgb_params(cfg)  # a bad --params file fails before the features are built
    run = Run.open(COMPETITION, cfg.name, cfg.runs_dir)
    run.save_config(cfg)
    with timings("features_s"):
        matrix = load_matrix(cfg.data, cfg.tables, cfg.rebuild_features)
    folds = shared_folds(matrix, cfg.folds_file, cfg.n_splits, cfg.seed, cfg.runs_dir)
    train_cv(run, cfg, matrix, folds, params, transform=fold_transform(cfg, cfg.seed),
             truth=truth_of(COMPETITION, cfg.data), timings=timings, title="Home Credit")
    return run.update_metrics({"tables": list(cfg.tables)})


if __name__ == "__main__":
    run_cli(main)
