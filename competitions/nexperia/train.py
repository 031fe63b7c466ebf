"""Train a timm CNN on one fold (or all folds) of the Nexperia data: the CLI of :mod:`common.vision.trainer`.

    python competitions/nexperia/train.py --config competitions/nexperia/configs/demo.yaml --fold 0
    torchrun --nproc_per_node 2 competitions/nexperia/train.py --fold all ...     # several GPUs (or CPU gloo)

Per fold ``runs/nexperia/<name>/fold<k>/``: ``last.pt`` (resume point), ``best.pt``, ``checkpoint-<epoch>.pt``
(top-K epochs), ``summary.csv``, ``roc.png``, ``gradcam.png``; then the run's ``oof.csv``, ``test.csv`` and
``metrics.json``. The same command continues a killed run (``--no-resume`` trains it again).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from common.cli import run_cli
from common.config import option, parse_config, save_run_config
from common.cv import parse_folds
from common.device import set_threads
from common.paths import default_data_dir
from common.registry import truth_of
from common.run import Run
from common.tta import warn_untrained_views
from common.vision.callbacks import GradCamGrid, RocPlot
from common.vision.distributed import amp_dtype, barrier, cleanup_distributed, setup_distributed
from common.vision.trainer import STOP_ENV, ImageTrainConfig, train_folds
from competitions.nexperia.data import (NexperiaDataOptions, fill_skipped_test, get_folds, load_data,
                                        record_skipped)

__all__ = ["STOP_ENV", "TrainConfig", "main"]


@dataclass
class TrainConfig(ImageTrainConfig, NexperiaDataOptions):
    """Train a timm CNN on Nexperia folds."""
    name: str = option("cnn", help="run name: runs/nexperia/<name>")
    fold: str = option("0", volatile=True, help="fold to run: a number, a comma list, or all")
    gradcam: int = option(8, volatile=True, min=0, help="validation images in the Grad-CAM grid (0: none)")


def main(argv: list[str] | None = None) -> Run:
    cfg = parse_config(TrainConfig, argv)
    cfg.data = cfg.data or str(default_data_dir("nexperia"))
    set_threads(cfg.threads)
    d = setup_distributed(cfg.device)
    try:
        data = load_data(Path(cfg.data), Path(cfg.cache_dir) if cfg.cache_dir else None, skip_bad=cfg.skip_bad)
        folds = parse_folds(cfg.fold, cfg.n_splits)
        if d.main:  # the main process writes the shared fold file, the others read it
            get_folds(data, n_splits=cfg.n_splits, runs_dir=cfg.runs_dir)
        barrier(d)
        fold_of = get_folds(data, n_splits=cfg.n_splits, runs_dir=cfg.runs_dir)["fold"].to_numpy()
        run = Run.open("nexperia", cfg.name, cfg.runs_dir)
        if d.main:
            warn_untrained_views(cfg.tta, cfg.augment, run.log)
            save_run_config(run, cfg)
            record_skipped(run, data)
            run.log.info("data %s: %d train (%d defects), %d test, %s px; device %s x%d, amp %s", cfg.data,
                         len(data.train_ids), int(data.train_labels.sum()), len(data.test_ids),
                         "x".join(map(str, data.image_shape)), d.device, d.world, amp_dtype(d.device, cfg.amp))
        train_folds(cfg, data, fold_of, folds, run, d, truth=truth_of("nexperia", cfg.data),
                    callbacks=[RocPlot(), GradCamGrid(cfg.gradcam)],
                    finish=lambda result: fill_skipped_test(result, data, run.log))
        return run
    finally:
        cleanup_distributed(d)


if __name__ == "__main__":
    run_cli(main)
