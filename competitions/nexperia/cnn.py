"""The Nexperia CNN: its options (a timm CNN from ``common.vision`` plus Nexperia's own) and how a run of it
trains: one seed or several (``--seeds``, ``common.multi_seed``), with or without fold-safe pseudo-labels
(``--pseudo-from``, ``common.vision.pseudo``). ``train.py`` is its command line, ``tune.py`` tunes it.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from common.errors import BadInput
from common.adversarial import read_weights
from common.config import option, parse_folds
from common.cv import Truth
from common.io import atomic_write_csv
from common.paths import resolve_run
from common.registry import truth_of
from common.run import Run
from common.multi_seed import n_seeds_of, seeds_option, train_seeds
from common.vision.callbacks import GradCamGrid, RocPlot
from common.vision.distributed import Dist
from common.vision.nc_callback import NeuralCollapseCurve
from common.vision.pseudo import DEFAULT_THRESHOLD as PSEUDO_THRESHOLD
from common.vision.pseudo import PSEUDO_FILE, check_source, read_pseudo_labels, with_pseudo_labels
from common.vision.tta import TTA_PRESETS
from common.vision.trainer import ImageTrainConfig, train_folds
from competitions.nexperia.data import NexperiaData, NexperiaDataOptions, fill_skipped_test, record_skipped


# The measured best recipe for `train.py --fold 0` without --config (configs/demo.yaml, docs/results.md):
# fine-tune the ImageNet EfficientNet-Lite0 installed with the kit, 3 epochs at 128 px.
DEFAULT_WEIGHTS = "efficientnet_lite0"


def default_weights(model: str | None, pretrained: str | None) -> str | None:
    """The ``--pretrained`` a training run uses: the given one; with neither it nor ``--model``, DEFAULT_WEIGHTS
    (kernels.build asks the same to attach the weights a kernel will need)."""
    return DEFAULT_WEIGHTS if model is None and pretrained is None else pretrained


@dataclass
class TrainConfig(ImageTrainConfig, NexperiaDataOptions):
    """Train a timm CNN on Nexperia folds."""
    pretrained: str | None = option(None, help="ImageNet weights installed with the kit (efficientnet_lite0, "
                                               "efficientnet_lite1, efficientnet_lite2: they choose --model and "
                                               "the input mean/std), or a local weight file for --model (default: "
                                               f"{DEFAULT_WEIGHTS} unless --model is given, which then trains from "
                                               "scratch)")
    epochs: int = option(3, min=1, help="most training epochs")
    batch_size: int = option(32, min=1, help="images per training batch")
    warmup_epochs: float = option(0.5, min=0, help="linear LR warm-up, in epochs")
    tta_compare: list[str] = option(default_factory=lambda: ["none", "hflip"], choices=list(TTA_PRESETS),
                                    help="TTA presets whose validation AUC is reported (metrics.json variants)")
    name: str = option("cnn", help="run name: runs/nexperia/<name>")
    fold: str = option("0", volatile=True, help="fold to run: a number, a comma list, or all")
    gradcam: int = option(8, volatile=True, min=0, help="validation images in the Grad-CAM grid (0: none)")
    nc_images: int = option(256, volatile=True, min=0,
                            help="training images whose neural collapse (NC1, NC3, NC4) is measured after each "
                                 "epoch: summary.csv columns and neural_collapse.png (0: none)")
    params: str | None = option(None, help="YAML of options (a study's best_params.yaml, tune.py --family cnn); "
                                           "they override the above")
    seeds: int | None = seeds_option()
    pseudo_from: str | None = option(None, help="pseudo-labels: a finished run whose fold k's confident test "
                                                "predictions (<run>/fold<k>/test.csv) train this run's fold k")
    pseudo_threshold: float | None = option(None, min=0.5, max=1, min_exclusive=True,
                                            help="with --pseudo-from: test images with p >= T become defects, "
                                                 f"p <= 1-T good (default {PSEUDO_THRESHOLD})")
    adversarial_weights: str | None = option(None, help="weight training images by test-likeness: an adversarial "
                                                        "run (adversarial.py) or an id,weight CSV")
    pseudo_weight: float | None = option(None, min=0, min_exclusive=True,
                                         help="with --pseudo-from: sample weight of the pseudo-labelled images "
                                              "(default 1)")

    def __post_init__(self):
        self.pretrained = default_weights(self.model, self.pretrained)
        super().__post_init__()
        if self.nc_images == 1:
            raise BadInput("option --nc-images: one image cannot hold both classes; use 0 (off) or at least 2")


def check_pseudo_options(cfg: TrainConfig) -> None:
    """``--pseudo-*`` options: the threshold and weight need ``--pseudo-from``, whose run must have finished
    every fold this command trains (fold k's pseudo-labels come from that fold's own model)."""
    if not cfg.pseudo_from:
        for flag, value in (("--pseudo-threshold", cfg.pseudo_threshold), ("--pseudo-weight", cfg.pseudo_weight)):
            if value is not None:
                raise BadInput(f"option {flag} needs --pseudo-from RUN")
        return
    cfg.pseudo_from = str(resolve_run(cfg.pseudo_from, "nexperia", cfg.runs_dir, option="--pseudo-from"))
    check_source(cfg.pseudo_from, parse_folds(cfg.fold, cfg.n_splits), cfg.n_splits)


def train_cnn(cfg: TrainConfig, data: NexperiaData, fold_of: np.ndarray, folds: list[int], run: Run,
              d: Dist) -> None:
    """The folds ``folds`` of ``run``; with ``--seeds K`` each seed a normal run in ``<run>/seeds/seed<s>/``
    (``common.multi_seed``) and their mean in ``run``; with ``--pseudo-from`` each fold trained with its own
    pseudo-labels (``common.vision.pseudo``)."""
    truth = truth_of("nexperia", cfg.data)
    if cfg.adversarial_weights:
        data = dataclasses.replace(data, train_weights=read_weights(cfg.adversarial_weights, data.train_ids))
        run.log.info("training images weighted by test-likeness from %s", cfg.adversarial_weights)

    def one(seed_cfg: TrainConfig, seed_run: Run) -> None:
        if d.main:
            seed_run.save_config(seed_cfg)
            record_skipped(seed_run, data)
        train_run(seed_cfg, data, fold_of, folds, seed_run, d, truth)

    if n_seeds_of(cfg) > 1:
        train_seeds(run, cfg, one, folds, n_splits=cfg.n_splits, truth=truth, main_process=d.main)
    else:
        train_run(cfg, data, fold_of, folds, run, d, truth)


def train_run(cfg: TrainConfig, data: NexperiaData, fold_of: np.ndarray, folds: list[int], run: Run, d: Dist,
              truth: Truth | None) -> None:
    """One run's folds, with ``--pseudo-from``'s pseudo-labels of each fold when given."""
    callbacks = [RocPlot(), GradCamGrid(cfg.gradcam)]
    if cfg.nc_images > 0:
        callbacks.append(NeuralCollapseCurve(cfg.nc_images))
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
