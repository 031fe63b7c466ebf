"""Train gradient-boosted trees on the Home Credit feature matrix, one model per shared fold (engine:
common.tabular): LightGBM by default, XGBoost or CatBoost with ``--model`` (``--device cuda`` on a GPU).

    python competitions/home_credit/train.py --fold 0          # one fold
    python competitions/home_credit/train.py --config competitions/home_credit/configs/xgboost.yaml
    python competitions/home_credit/train.py --config competitions/home_credit/configs/catboost.yaml --device cuda
    python competitions/home_credit/train.py                   # all folds (same as --fold all)
    python competitions/home_credit/train.py --tables application --name app_only
    python competitions/home_credit/train.py --params runs/home_credit/tune/best_params.yaml --name tuned
    python competitions/home_credit/train.py --config competitions/home_credit/configs/demo.yaml
    python competitions/home_credit/train.py --seeds 3 --name lgb-3seeds    # 3 seeds in <run>/seeds/, averaged
    python competitions/home_credit/train.py --drop-features runs/home_credit/adv --drop-top 10 --name lgb-drop
    python competitions/home_credit/train.py --adversarial-weights runs/home_credit/adv --name lgb-advw
    python competitions/home_credit/train.py --features-file runs/home_credit/lgb-null-importance --name lgb-sel
    python competitions/home_credit/train.py --config competitions/home_credit/configs/lgb-xt.yaml \
        --pseudo-from lgb-xt --name lgb-xt-pseudo     # + test clients its fold k ranked lowest/highest

Writes ``runs/home_credit/<name>/``: per-fold model, predictions and feature importance, the merged
``oof.csv``/``test.csv``, ``metrics.json`` (per-fold and OOF AUC with DeLong 95% CI, best iterations,
timings, tables) and ``importance.csv``/``importance.png``/``roc.png``. Finished folds are skipped on a
rerun (``--no-resume`` retrains them). Submissions: ``python -m submissions.blend --competition home_credit
--runs <name>``.
"""
from __future__ import annotations

if __name__ == "__main__":  # before polars is first imported: its allocator reads the competition's setting once
    from common.registry import prepare_environment
    prepare_environment("home_credit")

import numpy as np

from common.cli import run_cli
from common.config import parse_config, parse_folds
from common.paths import default_data_dir
from common.registry import truth_of
from common.run import Run
from common.seeding import seed_everything
from common.multi_seed import n_seeds_of, train_seeds
from common.tabular.config import check_gpu
from common.tabular.cross_validate import train_cv
from common.tabular.protocol import engine_class, model_params
from common.tabular.timing import Timings
from common.tuning.params import apply_params
from competitions.home_credit.matrix import COMPETITION, fold_transform, load_matrix, shared_folds
from common.tabular.pseudo import PseudoLabeller
from competitions.home_credit.recipe import TrainConfig, apply_feature_choices, pseudo_labeller


def main(argv: list[str] | None = None) -> dict:
    """Train the requested folds and return the run's metrics."""
    timings = Timings()
    cfg = parse_config(TrainConfig, argv)
    cfg = apply_params(cfg, others=f"{cfg.model} parameters")  # its options shown in config.yaml as they are used
    check_gpu(cfg)  # before the features are built, as the config's own checks (a bad --params file...)
    params = model_params(cfg)
    pseudo = pseudo_labeller(cfg)
    cfg.data = str(cfg.data or default_data_dir(COMPETITION))
    seed_everything(cfg.seed)
    run = Run.open(COMPETITION, cfg.name, cfg.runs_dir)
    with timings("features_s"):
        matrix = load_matrix(cfg.data, cfg.tables, cfg.rebuild_features)
    adversarial = apply_feature_choices(cfg, matrix)  # bad files fail before config.yaml locks the run name
    run.save_config(cfg)
    folds = shared_folds(matrix, cfg.folds_file, cfg.n_splits, cfg.seed, cfg.runs_dir)
    if n_seeds_of(cfg) > 1:  # --seeds K: K seed runs under <run>/seeds/, averaged into this run
        train_seed_runs(cfg, run, matrix, folds, pseudo)
        return run.update_metrics({"tables": list(cfg.tables), **adversarial,
                                   **({} if pseudo is None else {"pseudo": pseudo.summary()})})
    train_cv(run, cfg, matrix, folds, params, transform=fold_transform(cfg, cfg.seed), pseudo=pseudo,
             truth=truth_of(COMPETITION, cfg.data), timings=timings, title="Home Credit")
    return run.update_metrics({"tables": list(cfg.tables), **adversarial})


def train_seed_runs(cfg: TrainConfig, run: Run, matrix, folds: np.ndarray, pseudo: PseudoLabeller | None) -> dict:
    """``--seeds K``: the model with ``seed = cfg.seed + s`` (bagging, feature sampling, target encoding) on the
    same folds, features and pseudo-labels, each a normal run in ``<run>/seeds/seed<s>/``; their mean goes into
    ``run``."""
    def one(seed_cfg: TrainConfig, seed_run: Run) -> None:
        seed_run.save_config(seed_cfg)
        # a --params file's seed would tie the seeds
        params = {**model_params(seed_cfg), engine_class(cfg.model).seed_param: seed_cfg.seed}
        train_cv(seed_run, seed_cfg, matrix, folds, params, transform=fold_transform(seed_cfg, seed_cfg.seed),
                 pseudo=pseudo, truth=truth_of(COMPETITION, cfg.data), title=f"Home Credit, seed {seed_cfg.seed}")

    return train_seeds(run, cfg, one, parse_folds(cfg.fold, cfg.n_splits), n_splits=cfg.n_splits,
                       truth=truth_of(COMPETITION, cfg.data))


if __name__ == "__main__":
    run_cli(main)
