"""Tune the Nexperia CNN or VAE with Optuna on the first shared folds (driver: common.tuning.study).

    python competitions/nexperia/tune.py --family cnn --config competitions/nexperia/configs/tune-cnn.yaml
    python competitions/nexperia/tune.py --family vae --config competitions/nexperia/configs/tune-vae.yaml
    python competitions/nexperia/tune.py --family cnn --config ... --storage postgresql://user@host/db  # workers
    python competitions/nexperia/train.py --params runs/nexperia/tune-cnn/best_params.yaml --fold all --name tuned
    python competitions/nexperia/vae.py --params runs/nexperia/tune-vae/best_params.yaml --fold all --name tuned

The ``--config`` YAML holds the recipe (options of ``train.py`` or ``vae.py``) and its ``search_space``
(common.tuning.space). Each trial trains folds ``0..--tune-folds - 1`` into ``runs/nexperia/<name>/trials/
<number>/``; the first fold reports its validation AUC after each epoch and the trial is pruned there when
it trails the earlier trials' median (``--prune-below X``: when below X). The study (``study.db`` in the
run folder unless ``--storage``) resumes when the command runs again, a killed worker's trial is retried,
and several workers may share it (see common.tuning.study). ``best_params.yaml`` holds the best trial's
options with the recipe's, for ``--params`` of train.py / vae.py; the plots of the study lie beside it.
Its CV AUC is optimistic (picked and scored on the same folds): the printed command trains every fold.
"""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import optuna

from common.errors import BadInput
from common.cli import run_cli
from common.config import config_to_dict, option, volatile_options
from common.cv import run_folds
from common.device import resolve_device, set_threads
from common.paths import default_data_dir
from common.registry import truth_of
from common.run import Run
from common.tuning import study as tuning
from common.tuning.params import IDENTITY, apply_params, recipe_params
from common.tuning.space import decode, parse_space, parse_with_space, suggest
from common.vision.distributed import setup_distributed
from common.vision.tune import make_objective as cnn_objective
from competitions.nexperia import anomaly
from competitions.nexperia.recipe import TrainConfig
from competitions.nexperia.data import load_configured, shared_fold_of

FAMILIES = ("cnn", "vae")


@dataclass
class CNNTuneConfig(tuning.TuneOptions, TrainConfig):
    """Tune the Nexperia CNN (train.py's options) with Optuna; --family vae tunes the VAE instead."""
    name: str = option("tune-cnn", help="study run: runs/nexperia/<name>")
    study_name: str = option("nexperia_cnn", help="study name inside the storage")


@dataclass
class VAETuneConfig(tuning.TuneOptions, anomaly.VAEConfig):
    """Tune the Nexperia VAE anomaly score (vae.py's options, --family vae) with Optuna."""
    name: str = option("tune-vae", help="study run: runs/nexperia/<name>")
    study_name: str = option("nexperia_vae", help="study name inside the storage")


ENGINES = {"cnn": (CNNTuneConfig, TrainConfig, "train.py"), "vae": (VAETuneConfig, anomaly.VAEConfig, "vae.py")}
OPTION_DATACLASSES = {f"--family {family}": engine[0] for family, engine in ENGINES.items()}  # docs/options.md


def split_family(argv: list[str] | None) -> tuple[str, list[str]]:
    """``--family`` and the rest of the command line."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--family", choices=FAMILIES, default="cnn")
    known, rest = parser.parse_known_args(argv)
    return known.family, rest


def vae_objective(cfg: VAETuneConfig, space, data, fold_of, truth, trials_dir: Path):
    """Each trial trains the VAE of folds ``0..tune_folds-1``; fold 0 reports its validation AUC per epoch."""
    device = resolve_device(cfg.device)
    prepared: dict = {}

    def images(c: anomaly.VAEConfig):
        key = (c.image_size, tuple(c.crop or ()), c.stretch)
        if key not in prepared:
            prepared[key] = anomaly.prepare_images(c, data.train_images), anomaly.prepare_images(c, data.test_images)
        return prepared[key]

    def objective(trial):
        params = suggest(trial, space)
        c = tuning.engine_config(anomaly.VAEConfig, cfg, **{"heatmaps": 0, "blend_with": None, **params})
        run = Run(trials_dir / str(trial.number))
        trial.set_user_attr("run", str(run.root))
        run.save_config(c)
        train_small, test_small = images(c)

        def report(epoch: int, auc: float) -> None:
            trial.report(auc, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"fold 0 epoch {epoch}: val AUC {auc:.5f}")

        metrics = run_folds(run, list(range(cfg.tune_folds)),
                            lambda k: anomaly.fit_fold(c, run, data, train_small, test_small, fold_of, k, device,
                                                   on_epoch_auc=report if k == 0 else None),
                            n_splits=c.n_splits, resume=c.resume, truth=truth)
        aucs = [metrics["folds"][str(k)]["auc_given"]["auc"] for k in range(cfg.tune_folds)]
        trial.set_user_attr("fold_aucs", aucs)
        return sum(aucs) / len(aucs)
    return objective


def read_study(argv: list[str] | None):
    """The family, its tuning config, the engine config trials start from and the checked search space."""
    family, argv = split_family(argv)
    config_cls, engine_cls, _ = ENGINES[family]
    cfg, raw_space, source = parse_with_space(config_cls, argv)
    cfg = apply_params(cfg)
    if raw_space is None:
        raise BadInput(f"no search space: pass --config with a search_space mapping "
                       f"(e.g. competitions/nexperia/configs/tune-{family}.yaml)")
    base = tuning.engine_config(engine_cls, cfg)
    fixed = {*IDENTITY, "n_splits", *volatile_options(engine_cls)}  # the run's place, folds and machine
    tunable = {f.name for f in dataclasses.fields(base)} - fixed
    return family, cfg, base, raw_space, parse_space(raw_space, base, source, allowed=sorted(tunable))


def main(argv: list[str] | None = None) -> dict:
    """Run (or resume) the study of ``--family`` and write the best parameters; return them with their CV AUC."""
    family, cfg, base, raw_space, space = read_study(argv)
    _, engine_cls, script = ENGINES[family]
    cfg.data = cfg.data or str(default_data_dir("nexperia"))
    set_threads(cfg.threads)
    run = Run.open("nexperia", cfg.name, cfg.runs_dir)
    run.save_config({**config_to_dict(cfg), "family": family, "search_space": raw_space},
                    volatile=volatile_options(cfg))

    def objective():
        data = load_configured(cfg)
        fold_of = shared_fold_of(data, cfg)
        truth = truth_of("nexperia", cfg.data)
        if family == "vae":
            return vae_objective(cfg, space, data, fold_of, truth, run.root / "trials")
        return cnn_objective(base, space, data, fold_of, run.root / "trials", cfg.tune_folds,
                             setup_distributed(cfg.device), truth)

    def params_of(trial) -> dict:
        return {**recipe_params(cfg, engine_cls), **decode(space, trial.params)}

    final = (f"python competitions/nexperia/{script} --data {cfg.data} --params {run.root / 'best_params.yaml'} "
             f"--fold all --name tuned" + (f" --runs-dir {cfg.runs_dir}" if cfg.runs_dir else ""))
    return tuning.run_study(run, cfg, objective, params_of, final_command=final)


if __name__ == "__main__":
    run_cli(main)
