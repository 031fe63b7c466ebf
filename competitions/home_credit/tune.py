"""Tune LightGBM, XGBoost or CatBoost (``--model``) on the shared Home Credit folds with Optuna (engine:
common.tabular.tune).

    python competitions/home_credit/tune.py --n-trials 50 --tune-folds 5          # SQLite study in the run folder
    python competitions/home_credit/tune.py --storage postgresql://user@host/db   # several workers, one study
    python competitions/home_credit/tune.py --config competitions/home_credit/configs/tune_demo.yaml
    python competitions/home_credit/tune.py --config competitions/home_credit/configs/tune.yaml   # its search_space
    python competitions/home_credit/tune.py --config competitions/home_credit/configs/tune_xgboost.yaml
    python competitions/home_credit/train.py --params runs/home_credit/tune/best_params.yaml --name tuned

The study lives in ``runs/home_credit/<name>/study.db`` unless ``--storage`` names another Optuna RDB URL;
rerunning the command resumes it (``--n-trials`` counts finished trials of the whole study). Several workers
may run the command on one study at once (``--storage`` a PostgreSQL URL; the SQLite file for a few workers
on one machine): a worker starts a trial only while finished plus running trials stay under ``--n-trials``,
and no two draw the same parameters. A killed worker's trial is failed once it missed its heartbeat
(``--heartbeat-interval``, default 60 s) for ``--grace-period`` seconds (default 180) and is retried once
with the same parameters by the next worker. The matrix is binned once for all folds and trials (read
from its cache file when a run binned it before), so ``--max-bin`` is fixed per study. The search space is the
``search_space`` of the ``--config`` YAML (``configs/tune.yaml``, ``tune_xgboost.yaml``, ``tune_catboost.yaml``;
common.tuning.space), else the model's entry of common.tabular.tune.DEFAULT_SPACES; the training options it does
not search keep the command's values (``--num-leaves 15``, or a ``--params`` file, whose other keys go to the
library as in ``train.py``) for every trial, and ``best_params.yaml`` lists them. XGBoost and CatBoost trials
report each fold's AUC to the pruner (a step is a fold: ``--n-warmup-steps 0`` lets it prune after the first).
The CV AUC of the best trial is optimistic (picked and scored on the same folds): the command it prints trains
every fold with the best parameters for an honest one. Plots of the study lie beside ``best_params.yaml``.
"""
from __future__ import annotations

if __name__ == "__main__":  # before polars is first imported: its allocator reads the competition's setting once
    from common.registry import prepare_environment
    prepare_environment("home_credit")

from dataclasses import dataclass

from common.cli import run_cli
from common.config import config_to_dict, option, volatile_options
from common.paths import default_data_dir
from common.run import Run
from common.seeding import seed_everything
from common.tabular.config import check_gpu
from common.tabular.tune import DEFAULT_SPACES, GBDTTuneConfig, run_study, search_space
from common.tuning.params import apply_params
from common.tuning.space import parse_with_space
from competitions.home_credit.matrix import COMPETITION, MatrixOptions, fold_transform, load_matrix, shared_folds


@dataclass
class TuneConfig(MatrixOptions, GBDTTuneConfig):
    """Tune gradient-boosted trees' hyper-parameters with Optuna on the shared Home Credit folds."""
    study_name: str = option("home_credit_lgb", help="study name inside the storage")


def main(argv: list[str] | None = None) -> dict:
    """Run (or resume) the study and write the best parameters; return them with their CV AUC."""
    cfg, raw_space, source = parse_with_space(TuneConfig, argv)
    cfg = apply_params(cfg, others=f"{cfg.model} parameters")  # the study's fixed options and library parameters
    check_gpu(cfg)
    space = search_space(raw_space, source, cfg.model)
    cfg.data = str(cfg.data or default_data_dir(COMPETITION))
    seed_everything(cfg.seed)
    run = Run.open(COMPETITION, cfg.name, cfg.runs_dir)
    run.save_config({**config_to_dict(cfg), "search_space": raw_space or DEFAULT_SPACES[cfg.model]},
                    volatile=volatile_options(cfg))

    def load():
        matrix = load_matrix(cfg.data, cfg.tables)
        return matrix, shared_folds(matrix, cfg.folds_file, cfg.n_splits, cfg.seed, cfg.runs_dir)

    final = (f"python competitions/home_credit/train.py --data {cfg.data} --tables {' '.join(cfg.tables)} "
             f"--max-bin {cfg.max_bin} --params {run.root / 'best_params.yaml'} --fold all --name tuned")
    return run_study(run, cfg, load, fold_transform(cfg, cfg.seed), space, final_command=final)


if __name__ == "__main__":
    run_cli(main)
