"""Objects the trainer calls at fixed points of a fold (LightGBM's callback style); the CLI picks them.

    trainer = FoldTrainer(..., callbacks=[RocPlot(), GradCamGrid(8)])

Hooks run on the main process only: ``on_validation_end(trainer, row)`` after each epoch's validation, before
its summary row is written (the hook may add columns to it), ``on_epoch_end(trainer, row)`` after the row and
``last.pt`` are written, ``on_fold_end(trainer, end)`` once the fold's final predictions are made. An
exception a hook raises ends the fold unfinished (no ``done.json``): :class:`OptunaPruning` raises
``optuna.TrialPruned`` that way.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn


@dataclass
class FoldEnd:
    """A finished fold's validation rows and the final model's predictions of them."""
    fold: int
    folder: Path
    ids: np.ndarray
    labels: np.ndarray               # as given
    truth: np.ndarray | None         # planted true labels, where known
    preds: dict[str, np.ndarray]     # TTA preset -> predictions
    tta: str                         # the preset of the fold's OOF predictions
    model: nn.Module                 # the weights that made them, in eval mode
    inputs: Callable[[np.ndarray], torch.Tensor]  # positions among the rows -> model-ready images, on the device


class Callback:
    """Base class: override the hooks you need."""

    def on_validation_end(self, trainer, row: dict) -> None:
        pass

    def on_epoch_end(self, trainer, row: dict) -> None:
        pass

    def on_fold_end(self, trainer, end: FoldEnd) -> None:
        pass


class OptunaPruning(Callback):
    """Report fold ``fold``'s validation AUC to an Optuna trial after each epoch (step = epoch) and raise
    ``optuna.TrialPruned`` when the study's pruner says so."""

    def __init__(self, trial, fold: int = 0):
        self.trial, self.fold = trial, fold

    def on_epoch_end(self, trainer, row: dict) -> None:
        import optuna

        if trainer.fold != self.fold:
            return
        self.trial.report(row["val_auc"], row["epoch"])
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"fold {self.fold} epoch {row['epoch']}: val AUC {row['val_auc']:.5f}")


class RocPlot(Callback):
    """``roc.png``: ROC curve of each TTA preset against the true labels when known, else the given ones."""

    def on_fold_end(self, trainer, end: FoldEnd) -> None:
        from common.plots import plot_roc

        target = end.truth if end.truth is not None else end.labels
        plot_roc(target, {f"tta={k}": v for k, v in end.preds.items()}, end.folder / "roc.png", band_boot=0,
                 title=f"fold {end.fold} vs {'true' if end.truth is not None else 'given'} labels")


class GradCamGrid(Callback):
    """``gradcam.png``: Grad-CAM of the ``n/2`` most confident and ``n/2`` most missed validation positives."""

    def __init__(self, n: int = 8):
        self.n = n

    def on_fold_end(self, trainer, end: FoldEnd) -> None:
        from common.vision.gradcam import pick_examples, save_gradcam_grid

        if not self.n or not (end.labels == 1).any():
            return
        pos, kinds = pick_examples(end.labels, end.preds[end.tta], self.n)
        images = end.inputs(pos)
        save_gradcam_grid(end.model, images, end.ids[pos], kinds, end.folder / "gradcam.png")
