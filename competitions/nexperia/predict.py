"""Re-predict a finished run's folds from their checkpoints with another TTA, into a derived run.

    python competitions/nexperia/predict.py --run runs/nexperia/demo --tta flips [--checkpoint best|last|avg]
    python competitions/nexperia/predict.py --run runs/nexperia/demo --checkpoint avg   # the run's TTA

writes ``<runs root>/nexperia/demo-tta-flips/`` (or ``--name``; the runs root is ``--runs-dir``, else
``$KIT_RUNS_ROOT``, else ``runs/``, wherever the source run is): each fold's validation rows predicted by that
fold's checkpoint (``oof.csv``), the test images by every fold's (``test.csv``, mean over folds), and
``metrics.json``, through :func:`common.cv.run_folds`; its ``config.yaml`` records the source run. The
derived run blends and submits like any other (``submissions.blend``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from common.errors import BadInput, MissingInput
from common.cli import run_cli
from common.config import option, parse_config, parse_folds, volatile_options
from common.cv import FoldResult, run_folds
from common.device import resolve_device, set_threads
from common.paths import default_data_dir
from common.registry import truth_of
from common.run import FAILED, Run, RunFolder
from common.vision.tta import TTA_PRESETS, warn_untrained_views
from common.vision.card import read_card
from common.vision.checkpoints import CHECKPOINT_CHOICES, average_checkpoints, fold_checkpoint, kept_checkpoints
from common.vision.distributed import amp_dtype
from common.vision.model import parse_model_kwargs
from common.vision.predict import load_model, predict_images
from common.vision.trainer import SizedImages
from competitions.nexperia.data import NexperiaDataOptions, fill_skipped_test, load_data, record_skipped


@dataclass
class PredictConfig(NexperiaDataOptions):
    """Re-predict a train.py run's folds from their checkpoints with a chosen TTA, as a derived run."""
    run: str = option(required=True, help="source run folder, e.g. runs/nexperia/demo")
    tta: str = option("source", choices=["source", *TTA_PRESETS], help="TTA preset of the new predictions "
                                                                        "(source: the source run's)")
    checkpoint: str = option("best", choices=CHECKPOINT_CHOICES,
                             help="best.pt, last.pt, or the mean of the kept checkpoint-<epoch>.pt weights")
    name: str | None = option(None, help="derived run name (default: <run>-tta-<tta>[-<checkpoint>])")
    fold: str = option("all", volatile=True,
                       help="folds to predict: all (the source's finished folds), a number or a comma list")
    data: str | None = option(None, help="default: the source run's data folder")
    model: str | None = option(None, help="default: the source run's model (must match the checkpoints)")
    model_kwargs: str | None = option(None, help="with --model: its timm kwargs")
    runs_dir: str | None = option(None, help="runs folder of the derived run (default: $KIT_RUNS_ROOT or runs/)")
    batch_size: int = option(128, min=1, help="images per prediction batch")
    workers: int = option(2, volatile=True, min=0, help="data loader worker processes")
    amp: bool | None = option(None, help="autocast (default: as train.py's, on CUDA and off on the CPU)")
    device: str = option("auto", volatile=True, help="auto | cpu | cuda | cuda:1")
    threads: int = option(0, volatile=True, min=0, help="torch CPU threads (0: torch's default)")
    progress: bool = option(True, volatile=True)
    resume: bool = option(True, volatile=True, help="skip folds the derived run has finished")


def main(argv: list[str] | None = None) -> Run:
    cfg = parse_config(PredictConfig, argv)
    source = Path(cfg.run)
    if not source.is_dir():
        raise MissingInput(f"run folder not found: {source}")
    source_run = RunFolder(source)  # read only: predicting writes nothing into the source run
    src = source_run.config()  # {} where it is gone: the checkpoints describe themselves
    set_threads(cfg.threads)
    n_splits = int(src.get("n_splits") or source_run.metrics().get("n_splits") or 0)
    if not n_splits:
        raise MissingInput(f"run {source} has neither config.yaml nor metrics.json to say its number of folds")
    finished = source_run.completed_folds()
    if (status := source_run.status()).state == FAILED:
        raise BadInput(f"run {source} is failed: {'; '.join(status.problems)}")
    if not finished:
        raise MissingInput(f"run {source} has no finished fold (fold<k>/done.json)")
    folds = finished if cfg.fold == "all" else parse_folds(cfg.fold, n_splits)
    missing = [k for k in folds if k not in finished]
    if missing:
        raise MissingInput(f"fold(s) {missing} of run {source} are not finished (no fold<k>/done.json); "
                                f"finished: {finished}")
    card = read_card(fold_checkpoint(source_run.fold_path(folds[0])), src)
    spec = ({"model": cfg.model, "model_kwargs": parse_model_kwargs(cfg.model_kwargs)} if cfg.model
            else card.model_spec)
    cfg.tta = card.tta if cfg.tta == "source" else cfg.tta
    cfg.name = cfg.name or f"{source.name}-tta-{cfg.tta}" + ("" if cfg.checkpoint == "best" else f"-{cfg.checkpoint}")
    cfg.data = cfg.data or src.get("data") or str(default_data_dir("nexperia"))
    data = load_data(Path(cfg.data), Path(src["cache_dir"]) if src.get("cache_dir") else None,
                     skip_bad=cfg.skip_bad or bool(src.get("skip_bad", False)))
    run = Run.open("nexperia", cfg.name, cfg.runs_dir)
    run.save_config({**vars(cfg), "run": str(source.resolve()), "source_config": src},
                    volatile=volatile_options(PredictConfig))
    record_skipped(run, data)
    warn_untrained_views(cfg.tta, card.augment, run.log)
    row_of = pd.Series(np.arange(len(data.train_ids)), index=pd.Index(data.train_ids).astype(str))
    device = resolve_device(cfg.device)
    inputs = card.inputs  # as the trainer made them, numbers included
    sized = SizedImages.of(data, inputs, cfg.progress)  # the resized copies the training run made
    settings = dict(inputs=inputs, batch_size=cfg.batch_size, workers=cfg.workers,
                    amp_dtype=amp_dtype(device, cfg.amp), progress=cfg.progress)

    def fit_fold(fold: int) -> FoldResult:
        folder = source_run.fold_path(fold)
        model = load_model(fold_checkpoint(folder, "last" if cfg.checkpoint == "last" else "best"), device, spec,
                           channels_last=card.channels_last)
        if cfg.checkpoint == "avg":
            kept = kept_checkpoints(folder)
            if not kept:
                raise MissingInput(f"no checkpoint-<epoch>.pt in {folder} (trained with --checkpoint-hist 0)")
            model.load_state_dict(average_checkpoints(kept, device))
        ids = pd.read_csv(source_run.fold_oof_path(fold), dtype={"id": str})["id"].to_numpy()
        rows = row_of.reindex(ids).to_numpy()
        if np.isnan(rows).any():
            raise BadInput(f"{int(np.isnan(rows).sum())} OOF ids of {folder} are not in the data {cfg.data}")
        rows = rows.astype(int)
        oof = predict_images(model, sized.train, rows, cfg.tta, **settings)
        test = predict_images(model, sized.test, None, cfg.tta, **settings) if len(data.test_ids) else None
        run.log.info("fold %d: %s checkpoint of %s, TTA %s: %d validation, %d test images", fold, cfg.checkpoint,
                     folder, cfg.tta, len(rows), len(data.test_ids))
        return fill_skipped_test(
            FoldResult(oof=pd.DataFrame({"id": ids, "target": data.train_labels[rows], "pred": oof}),
                       test=None if test is None else pd.DataFrame({"id": data.test_ids, "pred": test}),
                       info={"tta": cfg.tta, "checkpoint": cfg.checkpoint, "source": str(folder)}), data, run.log)

    run_folds(run, folds, fit_fold, n_splits=n_splits, resume=cfg.resume,
              truth=truth_of("nexperia", cfg.data))
    return run


if __name__ == "__main__":
    run_cli(main)
