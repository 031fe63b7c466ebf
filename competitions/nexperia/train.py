"""Train a timm CNN on one fold (or all folds) of the Nexperia data: the CLI of :mod:`competitions.nexperia.cnn`.

    python competitions/nexperia/train.py --config competitions/nexperia/configs/demo.yaml --fold 0
    torchrun --nproc_per_node 2 competitions/nexperia/train.py --fold all ...     # several GPUs (or CPU gloo)
    python competitions/nexperia/train.py --params runs/nexperia/tune-cnn/best_params.yaml --fold all --name tuned
    python competitions/nexperia/train.py --config ... --seeds 3 --name cnn-3seeds           # seeds averaged
    python competitions/nexperia/train.py --config ... --pseudo-from runs/nexperia/cnn --name cnn-pl   # round 2

Per fold ``runs/nexperia/<name>/fold<k>/``: ``last.pt`` (resume point), ``best.pt``, ``checkpoint-<epoch>.pt``
(top-K epochs), ``summary.csv``, ``roc.png``, ``gradcam.png``; then the run's ``oof.csv``, ``test.csv`` and
``metrics.json``. The same command continues a killed run (``--no-resume`` trains it again). ``--params``
(a study's ``best_params.yaml`` from ``tune.py --family cnn``) overrides the config's options.
``--seeds K`` trains seeds ``seed..seed+K-1`` as runs ``<run>/seeds/seed<s>/`` and writes their mean into the run.
``--pseudo-from RUN`` adds RUN's confident test predictions to the training images, fold by fold: fold k learns
from ``RUN/fold<k>/test.csv`` only, made without fold k's images.
"""
from __future__ import annotations

from common.cli import run_cli
from common.config import parse_config, parse_folds
from common.device import set_threads
from common.paths import default_data_dir
from common.run import STOP_ENV, Run
from common.vision.tta import warn_untrained_views
from common.tuning.params import apply_params
from common.vision.distributed import amp_dtype, barrier, cleanup_distributed, setup_distributed
from competitions.nexperia.cnn import train_cnn
from competitions.nexperia.recipe import TrainConfig, check_pseudo_options
from competitions.nexperia.data import load_configured, record_skipped, shared_fold_of

__all__ = ["STOP_ENV", "TrainConfig", "main"]


def main(argv: list[str] | None = None) -> Run:
    cfg = apply_params(parse_config(TrainConfig, argv))
    cfg.data = cfg.data or str(default_data_dir("nexperia"))
    set_threads(cfg.threads)
    d = setup_distributed(cfg.device)
    try:
        check_pseudo_options(cfg)  # --pseudo-from: the source run and its folds, before any work
        data = load_configured(cfg)
        folds = parse_folds(cfg.fold, cfg.n_splits)
        if d.main:  # the main process writes the shared fold file, the others read it
            shared_fold_of(data, cfg)
        barrier(d)
        fold_of = shared_fold_of(data, cfg)
        run = Run.open("nexperia", cfg.name, cfg.runs_dir)
        if d.main:
            warn_untrained_views(cfg.tta, cfg.augment, run.log)
            run.save_config(cfg)
            record_skipped(run, data)
            amp = amp_dtype(d.device, cfg.amp)
            run.log.info("data %s: %d train (%d defects), %d test, read at %s px, trained at %d px; device %s x%d, "
                         "amp %s", cfg.data, len(data.train_ids), int(data.train_labels.sum()), len(data.test_ids),
                         "x".join(map(str, data.image_shape)), cfg.img_size, d.device, d.world,
                         str(amp).removeprefix("torch.") if amp else "off")
        train_cnn(cfg, data, fold_of, folds, run, d)
        return run
    finally:
        cleanup_distributed(d)


if __name__ == "__main__":
    run_cli(main)
