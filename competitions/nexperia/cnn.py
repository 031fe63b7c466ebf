"""The Nexperia CNN: how a run of it (its options: :mod:`competitions.nexperia.recipe`) trains: one seed or
several (``--seeds``, ``common.multi_seed``), with or without fold-safe pseudo-labels (``--pseudo-from``,
``common.vision.pseudo``). ``train.py`` is its command line, ``tune.py`` tunes it.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from common.adversarial import read_weights
from common.cv import Truth
from common.io import atomic_write_csv
from common.multi_seed import n_seeds_of, train_seeds
from common.registry import truth_of
from common.run import Run
from common.vision.callbacks import GradCamGrid, RocPlot
from common.vision.distributed import Dist
from common.vision.nc_callback import NeuralCollapseCurve
from common.pseudo import PSEUDO_FILE
from common.vision.pseudo import DEFAULT_THRESHOLD as PSEUDO_THRESHOLD
from common.vision.pseudo import read_pseudo_labels, with_pseudo_labels
from common.vision.trainer import train_folds
from competitions.nexperia.data import NexperiaData, fill_skipped_test, record_skipped
from competitions.nexperia.recipe import TrainConfig


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
