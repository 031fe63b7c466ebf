"""Select Home Credit features for a run's recipe, fold-safe (engine: common.tabular.selection).

    python competitions/home_credit/select_features.py --run lgb --method null-importance
    python competitions/home_credit/select_features.py --run lgb --method permutation --name lgb-perm
    python competitions/home_credit/select_features.py --run xgb --method forward --candidates 80
    python competitions/home_credit/train.py --features-file runs/home_credit/lgb-null-importance --name lgb-sel

Takes the recipe of ``--run`` (its ``config.yaml``: tables, model, options; any of them may be given again)
and writes ``runs/home_credit/<name>/`` (default ``<run>-<method>``): ``features.csv`` (feature, score,
selected), the selection on every training client, which ``train.py --features-file`` reads; and a normal
run of the recipe on the selected features whose CV is nested: inside each fold the selection sees only that
fold's training clients (``fold<k>/selection.csv``), so its OOF AUC is not optimistic and it blends like any
run. The categories the target encoding reads are always kept. The log compares its OOF AUC with the source
run's (paired DeLong test). The selection models train on the recipe's binned matrix (common.tabular.binned:
binned once, or read from the cache a LightGBM run of the same features left), every client's selection on
all of it and each fold's on its training rows.
"""
from __future__ import annotations

if __name__ == "__main__":  # before polars is first imported: its allocator reads the competition's setting once
    from common.registry import prepare_environment
    prepare_environment("home_credit")

import argparse
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from common.errors import MissingInput
from common.cli import run_cli
from common.config import config_to_dict, option, parse_config, volatile_options
from common.io import atomic_write_csv, read_csv
from common.metrics import delong_test
from common.paths import default_data_dir, resolve_run
from common.registry import truth_of
from common.run import Run, RunFolder
from common.seeding import seed_everything
from common.tabular.binned import BinnedMatrix
from common.tabular.cross_validate import train_cv
from common.tabular.lgbm import dataset_params
from common.tabular.matrix import chain_transforms
from common.tabular.protocol import model_params
from common.tabular.selection import FEATURES_FILE, METHODS, SelectionOptions, select, selection_transform
from common.tabular.timing import Timings
from common.tuning.params import apply_params
from competitions.home_credit.matrix import COMPETITION, fold_transform, load_matrix, shared_folds
from competitions.home_credit.recipe import TrainConfig, apply_feature_choices, pseudo_labeller

FOLD_SELECTION = "selection.csv"


@dataclass
class SelectConfig(TrainConfig):
    """Select features for a training recipe, with a nested CV of the selection."""
    run: str | None = option(None, required=True, help="the run whose recipe (config.yaml) the selection serves")
    method: str = option("null-importance", choices=METHODS, help="null-importance, permutation or forward")
    selection_rounds: int = option(200, min=1, help="boosting rounds of each selection model")
    null_runs: int = option(10, min=1, help="null-importance: models on shuffled targets")
    inner_folds: int = option(3, min=2, help="permutation, forward: inner folds of the training rows")
    candidates: int = option(50, min=1, help="forward: the top features by gain it tries, in that order")
    tol: float = option(1e-4, min=0, help="forward: the least inner-fold AUC gain that adds a feature")

    def selection(self) -> SelectionOptions:
        return SelectionOptions(self.method, self.selection_rounds, self.null_runs, self.inner_folds,
                                self.candidates, self.tol, self.num_threads, self.seed, self.progress)


def recipe_argv(argv: list[str]) -> list[str]:
    """``argv`` with the ``--run``'s config.yaml as ``--config`` and the run's own name replaced."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--run")
    pre.add_argument("--runs-dir")
    pre.add_argument("--name")
    pre.add_argument("--method", default=SelectConfig.method)
    known, _ = pre.parse_known_args(argv)
    if not known.run:
        return argv
    source = resolve_run(known.run, COMPETITION, known.runs_dir, "--run")
    if not RunFolder(source).config_path.is_file():
        raise MissingInput(f"option --run: {source} has no config.yaml (not a train.py run)")
    name = [] if known.name else ["--name", f"{source.name}-{known.method}"]
    return ["--config", str(RunFolder(source).config_path), *argv, *name]


def main(argv: list[str] | None = None) -> dict:
    """Select on every training client, run the nested CV of the selection, return its metrics."""
    timings = Timings()
    argv = recipe_argv(list(argv or []))
    cfg = parse_config(SelectConfig, argv)
    cfg = apply_params(cfg, others=f"{cfg.model} parameters")
    params = model_params(cfg)
    pseudo = pseudo_labeller(cfg)  # a pseudo-labelled recipe's folds learn from the same test clients
    cfg.data = str(cfg.data or default_data_dir(COMPETITION))
    seed_everything(cfg.seed)
    source = resolve_run(cfg.run, COMPETITION, cfg.runs_dir, "--run")
    run = Run.open(COMPETITION, cfg.name, cfg.runs_dir)
    with timings("features_s"):
        matrix = load_matrix(cfg.data, cfg.tables, cfg.rebuild_features)
    done = apply_feature_choices(cfg, matrix)
    run.save_config({**config_to_dict(cfg), "run": str(source)}, volatile=volatile_options(cfg))
    folds = shared_folds(matrix, cfg.folds_file, cfg.n_splits, cfg.seed, cfg.runs_dir)
    encoded = [c for c in cfg.te_columns if cfg.target_encoding and c in set(matrix.features)]
    opts = cfg.selection()
    binned = BinnedMatrix.of(matrix, dataset_params(cfg.max_bin, cfg.seed, cfg.num_threads))

    def record(table: pd.DataFrame, x_valid: pd.DataFrame) -> None:
        atomic_write_csv(run.fold_dir(int(folds[x_valid.index[0]])) / FOLD_SELECTION, table)

    with timings("selection_s"):
        if not (run.root / FEATURES_FILE).is_file():  # a rerun keeps the finished selection
            everyone = select(matrix.train[matrix.features], matrix.y, opts, binned.dataset)
            everyone.loc[everyone["feature"].isin(encoded), "selected"] = True
            atomic_write_csv(run.root / FEATURES_FILE, everyone)
    table = read_csv(run.root / FEATURES_FILE, "delete it and run the command again: the selection is made anew")
    kept = int(table["selected"].sum())
    run.log.info("%s kept %d of %d features on every training client: %s", cfg.method, kept, len(table),
                 run.root / FEATURES_FILE)
    transform = chain_transforms(selection_transform(opts, always=encoded, record=record, binned=binned),
                                 fold_transform(cfg, cfg.seed))
    train_cv(run, cfg, matrix, folds, params, transform=transform, pseudo=pseudo,
             truth=truth_of(COMPETITION, cfg.data), timings=timings, title=f"Home Credit, {cfg.method} selection")
    per_fold = {k: int(read_csv(run.fold_path(k) / FOLD_SELECTION, f"train fold {k} again (--no-resume)")
                       ["selected"].sum()) for k in run.folds_with(FOLD_SELECTION)}
    versus = compare_with_source(run, source)
    return run.update_metrics({"tables": list(cfg.tables), **done, "selection": {
        "method": cfg.method, "n_selected": kept, "n_features": len(table), "n_selected_per_fold": per_fold,
        "source_run": str(source), "vs_source": versus}})


def compare_with_source(run: Run, source: Path) -> dict | None:
    """The nested OOF AUC of the selection against the source run's, on the clients both predicted."""
    if not RunFolder(source).oof_path.is_file():
        return None
    ours, theirs = run.read_oof(), RunFolder(source).read_oof()
    both = ours.merge(theirs[["id", "pred"]], on="id", suffixes=("", "_source"))
    if both.empty or both["target"].nunique() < 2:
        return None
    auc, auc_source, z, p = delong_test(both["target"].to_numpy(), both["pred"].to_numpy(),
                                        both["pred_source"].to_numpy())
    run.log.info("selected vs %s: OOF AUC %.5f vs %.5f on %d clients (paired DeLong p = %.3g)", source.name,
                 auc, auc_source, len(both), p)
    return {"auc": auc, "auc_source": auc_source, "z": z, "p_value": p, "n": int(len(both))}


if __name__ == "__main__":
    run_cli(main)
