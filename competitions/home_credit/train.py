"""Train LightGBM on the Home Credit feature matrix, one model per shared fold (engine: common.tabular).

    python competitions/home_credit/train.py --fold 0          # one fold
    python competitions/home_credit/train.py                   # all folds (same as --fold all)
    python competitions/home_credit/train.py --tables application --name app_only
    python competitions/home_credit/train.py --params runs/home_credit/tune/best_params.yaml --name tuned
    python competitions/home_credit/train.py --config competitions/home_credit/configs/demo.yaml
    python competitions/home_credit/train.py --seeds 3 --name lgb-3seeds    # 3 seeds in <run>/seeds/, averaged
    python competitions/home_credit/train.py --drop-features runs/home_credit/adv --drop-top 10 --name lgb-drop
    python competitions/home_credit/train.py --adversarial-weights runs/home_credit/adv --name lgb-advw

Writes ``runs/home_credit/<name>/``: per-fold model, predictions and gain importance, the merged
``oof.csv``/``test.csv``, ``metrics.json`` (per-fold and OOF AUC with DeLong 95% CI, best iterations,
timings, tables) and ``importance.csv``/``importance.png``/``roc.png``. Finished folds are skipped on a
rerun (``--no-resume`` retrains them). Submissions: ``python -m submissions.blend --competition home_credit
--runs <name>``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.adversarial import SHIFTED_FEATURES, WEIGHTS, read_shifted_features, read_weights
from common.cli import run_cli
from common.config import option, parse_config, parse_folds
from common.paths import default_data_dir
from common.registry import truth_of
from common.run import Run
from common.seeding import seed_everything
from common.multi_seed import n_seeds_of, seeds_option, train_seeds
from common.tabular.config import LGBMConfig, lgb_params
from common.tabular.lgbm import train_cv
from common.tabular.timing import Timings
from common.tuning.params import apply_params
from competitions.home_credit.matrix import COMPETITION, MatrixOptions, fold_transform, load_matrix, shared_folds


@dataclass
class TrainConfig(MatrixOptions, LGBMConfig):
    """Train LightGBM on the Home Credit features, one model per shared fold."""
    rebuild_features: bool = option(False, volatile=True, help="rebuild the cached feature groups")
    seeds: int | None = seeds_option()
    drop_features: str | None = option(None, help=f"leave out features: an adversarial run folder (its "
                                                  f"{SHIFTED_FEATURES}), a CSV with a 'feature' column or a "
                                                  "text file of names")
    drop_top: int = option(10, min=0, help="with --drop-features: its first K features (0: all it lists)")
    adversarial_weights: str | None = option(None, help=f"weight training clients by test-likeness: an "
                                                        f"adversarial run folder (its {WEIGHTS}) or an id,weight CSV")

    def __post_init__(self):
        super().__post_init__()
        for flag, value in (("--drop-features", self.drop_features),
                            ("--adversarial-weights", self.adversarial_weights)):
            if value and not Path(value).exists():
                raise FileNotFoundError(f"option {flag}: no such file or run folder: {value}")


def apply_adversarial(cfg: TrainConfig, matrix) -> dict:
    """Drop the listed shifted features and/or set the test-likeness weights on ``matrix``; returns what
    was done (for ``metrics.json``)."""
    done: dict = {}
    if cfg.drop_features:
        names = read_shifted_features(cfg.drop_features, cfg.drop_top)
        unknown = [f for f in names if f not in set(matrix.features)]
        if unknown:
            raise ValueError(f"option --drop-features: {len(unknown)} feature(s) not in the feature matrix, e.g. "
                             f"{unknown[:5]} (made with other --tables or data?)")
        matrix.features = [f for f in matrix.features if f not in set(names)]
        done["dropped_features"] = names
    if cfg.adversarial_weights:
        matrix.weights = read_weights(cfg.adversarial_weights, matrix.ids)
        done["adversarial_weights"] = {"source": str(cfg.adversarial_weights), "min": float(np.min(matrix.weights)),
                                       "max": float(np.max(matrix.weights))}
    return done


def main(argv: list[str] | None = None) -> dict:
    """Train the requested folds and return the run's metrics."""
    timings = Timings()
    cfg = parse_config(TrainConfig, argv)
    params = lgb_params(cfg)  # a bad --params file fails before the features are built
    cfg = apply_params(cfg, others="LightGBM parameters")  # its options shown in config.yaml as they are used
    cfg.data = str(cfg.data or default_data_dir(COMPETITION))
    seed_everything(cfg.seed)
    run = Run.open(COMPETITION, cfg.name, cfg.runs_dir)
    with timings("features_s"):
        matrix = load_matrix(cfg.data, cfg.tables, cfg.rebuild_features)
    adversarial = apply_adversarial(cfg, matrix)  # bad files fail before config.yaml locks the run name
    run.save_config(cfg)
    folds = shared_folds(matrix, cfg.folds_file, cfg.n_splits, cfg.seed, cfg.runs_dir)
    if n_seeds_of(cfg) > 1:  # --seeds K: K seed runs under <run>/seeds/, averaged into this run
        train_seed_runs(cfg, run, matrix, folds)
        return run.update_metrics({"tables": list(cfg.tables), **adversarial})
    train_cv(run, cfg, matrix, folds, params, transform=fold_transform(cfg, cfg.seed),
             truth=truth_of(COMPETITION, cfg.data), timings=timings, title="Home Credit")
    return run.update_metrics({"tables": list(cfg.tables), **adversarial})


def train_seed_runs(cfg: TrainConfig, run: Run, matrix, folds: np.ndarray) -> dict:
    """``--seeds K``: LightGBM with ``seed = cfg.seed + s`` (bagging, feature sampling, target encoding) on the
    same folds and features, each a normal run in ``<run>/seeds/seed<s>/``; their mean goes into ``run``."""
    def one(seed_cfg: TrainConfig, seed_run: Run) -> None:
        seed_run.save_config(seed_cfg)
        params = {**lgb_params(seed_cfg), "seed": seed_cfg.seed}  # a --params file's seed would tie the seeds
        train_cv(seed_run, seed_cfg, matrix, folds, params, transform=fold_transform(seed_cfg, seed_cfg.seed),
                 truth=truth_of(COMPETITION, cfg.data), title=f"Home Credit, seed {seed_cfg.seed}")

    return train_seeds(run, cfg, one, parse_folds(cfg.fold, cfg.n_splits), n_splits=cfg.n_splits,
                       truth=truth_of(COMPETITION, cfg.data))


if __name__ == "__main__":
    run_cli(main)
