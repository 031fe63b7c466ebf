"""Train a timm CNN on one fold (or all folds) of the Nexperia data: the CLI of :mod:`common.vision.trainer`.

    python competitions/nexperia/train.py --config competitions/nexperia/configs/demo.yaml --fold 0
    torchrun --nproc_per_node 2 competitions/nexperia/train.py --fold all ...     # several GPUs (or CPU gloo)
    python competitions/nexperia/train.py --params runs/nexperia/tune-cnn/best_params.yaml --fold all --name tuned

Per fold ``runs/nexperia/<name>/fold<k>/``: ``last.pt`` (resume point), ``best.pt``, ``checkpoint-<epoch>.pt``
(top-K epochs), ``summary.csv``, ``roc.png``, ``gradcam.png``; then the run's ``oof.csv``, ``test.csv`` and
``metrics.json``. The same command continues a killed run (``--no-resume`` trains it again). ``--params``
(a study's ``best_params.yaml`` from ``tune.py --family cnn``) overrides the config's options.

    python competitions/nexperia/train.py --config ... --seeds 3 --name cnn-3seeds           # seeds averaged
    python competitions/nexperia/train.py --config ... --pseudo-from runs/nexperia/cnn --name cnn-pl   # round 2

``--seeds K`` trains seeds ``seed..seed+K-1`` as runs ``<run>/seeds/seed<s>/`` and writes their mean into the run
(``common.seeds``). ``--pseudo-from RUN`` adds RUN's confident test predictions to the training images, fold by
fold: fold k learns from ``RUN/fold<k>/test.csv`` only, made without fold k's images (``common.vision.pseudo``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from common.cli import run_cli
from common.config import option, parse_config, parse_folds

from common.device import set_threads
from common.paths import default_data_dir
from common.registry import truth_of
from common.run import Run
from common.tta import warn_untrained_views
from common.tuning.params import apply_params
from common.vision.callbacks import GradCamGrid, RocPlot
from common.vision.distributed import amp_dtype, barrier, cleanup_distributed, setup_distributed
from common.vision.trainer import STOP_ENV, ImageTrainConfig, train_folds
from common.io import atomic_write_csv  # the imports of --seeds and --pseudo-*
from common.paths import runs_root
from common.seeds import n_seeds_of, seeds_option, train_seeds
from common.vision.pseudo import DEFAULT_THRESHOLD as PSEUDO_THRESHOLD
from common.vision.pseudo import PSEUDO_FILE, check_source, read_pseudo_labels, resolve_source, with_pseudo_labels
from competitions.nexperia.data import (NexperiaDataOptions, fill_skipped_test, get_folds, load_data,
                                        record_skipped)

__all__ = ["STOP_ENV", "TrainConfig", "main"]


@dataclass
class TrainConfig(ImageTrainConfig, NexperiaDataOptions):
    """Train a timm CNN on Nexperia folds."""
    name: str = option("cnn", help="run name: runs/nexperia/<name>")
    fold: str = option("0", volatile=True, help="fold to run: a number, a comma list, or all")
    gradcam: int = option(8, volatile=True, min=0, help="validation images in the Grad-CAM grid (0: none)")
    params: str | None = option(None, help="YAML of options (a study's best_params.yaml, tune.py --family cnn); "
                                           "they override the above")
    seeds: int | None = seeds_option()
    pseudo_from: str | None = option(None, help="pseudo-labels: a finished run whose fold k's confident test "
                                                "predictions (<run>/fold<k>/test.csv) train this run's fold k")
    pseudo_threshold: float | None = option(None, min=0.5, max=1, min_exclusive=True,
                                            help="with --pseudo-from: test images with p >= T become defects, "
                                                 f"p <= 1-T good (default {PSEUDO_THRESHOLD})")
    pseudo_weight: float | None = option(None, min=0, min_exclusive=True,
                                         help="with --pseudo-from: sample weight of the pseudo-labelled images "
                                              "(default 1)")


def main(argv: list[str] | None = None) -> Run:
    cfg = apply_params(parse_config(TrainConfig, argv))
    cfg.data = cfg.data or str(default_data_dir("nexperia"))
    set_threads(cfg.threads)
    d = setup_distributed(cfg.device)
    try:
        check_pseudo_options(cfg)  # --pseudo-from: the source run and its folds, before any work
        data = load_data(Path(cfg.data), Path(cfg.cache_dir) if cfg.cache_dir else None, skip_bad=cfg.skip_bad)
        folds = parse_folds(cfg.fold, cfg.n_splits)
        if d.main:  # the main process writes the shared fold file, the others read it
            get_folds(data, n_splits=cfg.n_splits, runs_dir=cfg.runs_dir)
        barrier(d)
        fold_of = get_folds(data, n_splits=cfg.n_splits, runs_dir=cfg.runs_dir)["fold"].to_numpy()
        run = Run.open("nexperia", cfg.name, cfg.runs_dir)
        if d.main:
            warn_untrained_views(cfg.tta, cfg.augment, run.log)
            run.save_config(cfg)
            record_skipped(run, data)
            run.log.info("data %s: %d train (%d defects), %d test, %s px; device %s x%d, amp %s", cfg.data,
                         len(data.train_ids), int(data.train_labels.sum()), len(data.test_ids),
                         "x".join(map(str, data.image_shape)), d.device, d.world, amp_dtype(d.device, cfg.amp))
        if n_seeds_of(cfg) > 1 or cfg.pseudo_from:  # seed averaging and/or pseudo-labels (train_extras below)
            train_extras(cfg, data, fold_of, folds, run, d)
            return run
        train_folds(cfg, data, fold_of, folds, run, d, truth=truth_of("nexperia", cfg.data),
                    callbacks=[RocPlot(), GradCamGrid(cfg.gradcam)],
                    finish=lambda result: fill_skipped_test(result, data, run.log))
        return run
    finally:
        cleanup_distributed(d)


def check_pseudo_options(cfg: TrainConfig) -> None:
    """``--pseudo-*`` options: the threshold and weight need ``--pseudo-from``, whose run must have finished
    every fold this command trains (fold k's pseudo-labels come from that fold's own model)."""
    if not cfg.pseudo_from:
        for flag, value in (("--pseudo-threshold", cfg.pseudo_threshold), ("--pseudo-weight", cfg.pseudo_weight)):
            if value is not None:
                raise ValueError(f"option {flag} needs --pseudo-from RUN")
        return
    cfg.pseudo_from = resolve_source(cfg.pseudo_from, Path(cfg.runs_dir or runs_root()) / "nexperia")  # or a name
    check_source(cfg.pseudo_from, parse_folds(cfg.fold, cfg.n_splits), cfg.n_splits)


def train_extras(cfg: TrainConfig, data, fold_of, folds, run: Run, d) -> None:
    """``--seeds K``: each seed a normal run in ``<run>/seeds/seed<s>/`` (``common.seeds``), their mean in
    ``run``; ``--pseudo-from``: each fold trained with its own pseudo-labels (``common.vision.pseudo``)."""
    truth = truth_of("nexperia", cfg.data)

    def one(seed_cfg: TrainConfig, seed_run: Run) -> None:
        if d.main:
            seed_run.save_config(seed_cfg)
            record_skipped(seed_run, data)
        train_run(seed_cfg, data, fold_of, folds, seed_run, d, truth)

    if n_seeds_of(cfg) > 1:
        train_seeds(run, cfg, one, folds, n_splits=cfg.n_splits, truth=truth, main_process=d.main)
    else:
        train_run(cfg, data, fold_of, folds, run, d, truth)


def train_run(cfg: TrainConfig, data, fold_of, folds, run: Run, d, truth) -> None:
    """One run's folds, with ``--pseudo-from``'s pseudo-labels of each fold when given."""
    callbacks = [RocPlot(), GradCamGrid(cfg.gradcam)]
    if not cfg.pseudo_from:
        train_folds(cfg, data, fold_of, folds, run, d, truth=truth, callbacks=callbacks,
                    finish=lambda result: fill_skipped_test(result, data, run.log))
        return
    threshold = cfg.pseudo_threshold if cfg.pseudo_threshold is not None else PSEUDO_THRESHOLD
    weight = cfg.pseudo_weight if cfg.pseudo_weight is not None else 1.0
    for k in folds:
        pseudo = read_pseudo_labels(cfg.pseudo_from, k, data.test_ids, threshold, data.skipped_ids("test"))
        if d.main:
            atomic_write_csv(run.fold_dir(k) / PSEUDO_FILE, pseudo.table())
            run.log.info("fold %d: %d pseudo-labelled test images (%d defects, %d good; p >= %g or <= %g) from %s, "
                         "weight %g", k, len(pseudo.ids), int(pseudo.labels.sum()),
                         int(len(pseudo.ids) - pseudo.labels.sum()), threshold, 1 - threshold, pseudo.source, weight)
        fold_data, fold_of_k = with_pseudo_labels(data, fold_of, pseudo, weight)

        def finish(result, pseudo=pseudo):
            result = fill_skipped_test(result, data, run.log)
            result.info = {**result.info, "pseudo": pseudo.summary()}
            return result

        train_folds(cfg, fold_data, fold_of_k, [k], run, d, truth=truth, callbacks=callbacks, finish=finish)
    if d.main:
        run.update_metrics({"pseudo": {"source": str(cfg.pseudo_from), "threshold": threshold, "weight": weight}})


if __name__ == "__main__":
    run_cli(main)
