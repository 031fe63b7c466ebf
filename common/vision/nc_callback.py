"""Neural collapse while a CNN trains: NC1, NC3 and NC4 of a fixed set of the fold's training images, each epoch.

    trainer = FoldTrainer(..., callbacks=[RocPlot(), NeuralCollapseCurve(256)])

After each epoch's validation the callback embeds at most ``n_images`` of the fold's training rows (a
stratified subset fixed by ``--seed``; un-augmented, model-ready: ``trainer.model_inputs``) with
the validated weights (``trainer.eval_model``: the EMA when kept) in eval mode, and adds the columns ``nc1``,
``nc3`` and ``nc4`` of :func:`common.vision.neural_collapse.neural_collapse_metrics` (features: timm's
``forward_head(forward_features(x), pre_logits=True)``; classifier: ``get_classifier()``, the one logit
read as the two-class head the module describes) to the epoch's ``summary.csv`` row. At the fold's end
``neural_collapse.png`` plots them over the epochs. The NC2 family is left out: with two classes it is 0 by
construction. The callback leaves the global random generators' states and the weights as it found them:
training is the same without it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split
from torch import nn

from common.errors import BadInput
from common.vision.neural_collapse import neural_collapse_metrics
from common.vision.callbacks import Callback, FoldEnd
from common.vision.embed import pooled_features

COLUMNS = {"nc1": "NC1: within-class variability Tr(Σ_W Σ_B⁺)/C",
           "nc3": "NC3: self-duality ‖w/‖w‖ − Δμ/‖Δμ‖‖",
           "nc4": "NC4: share of decisions ≠ nearest class centre"}


def fixed_subset(labels: np.ndarray, n_images: int, seed: int) -> np.ndarray:
    """Sorted positions of at most ``n_images`` of the rows with ``labels``, the classes in their shares;
    the same for the same seed."""
    if n_images >= len(labels):
        return np.arange(len(labels))
    picked, _ = train_test_split(np.arange(len(labels)), train_size=n_images, stratify=labels, random_state=seed)
    return np.sort(picked)


def penultimate_features(model: nn.Module, images: torch.Tensor, batch_size: int) -> np.ndarray:
    """timm's pre-logits features ``(N, D)`` of model-ready images, in eval mode without gradients (the
    model's train/eval mode is restored)."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            parts = [pooled_features(model, x.to(device)).float().cpu()
                     for x in images.split(batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(parts).numpy()


class NeuralCollapseCurve(Callback):
    """Columns ``nc1``, ``nc3``, ``nc4`` of every epoch's summary row and the fold's ``neural_collapse.png``
    (module docstring); ``nc3``/``nc4`` only for a linear head (``get_classifier()`` an ``nn.Linear``)."""

    def __init__(self, n_images: int = 256):
        if n_images < 2:
            raise BadInput(f"neural collapse needs at least 2 images (one per class), got {n_images}")
        self.n_images = n_images

    def on_validation_end(self, trainer, row: dict) -> None:
        labels = trainer.train_labels.round().astype(int)
        picked = fixed_subset(labels, self.n_images, trainer.cfg.seed)
        model = trainer.eval_model
        device = trainer.d.device
        # loading the images draws a loader seed from torch's global generator: keep the training's stream
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            images = trainer.model_inputs(trainer.train_rows[picked])
        features = penultimate_features(model, images, trainer.cfg.batch_size * 2)
        head = model.get_classifier()
        if isinstance(head, nn.Linear):
            weight = head.weight.detach().cpu().numpy()
            bias = None if head.bias is None else head.bias.detach().cpu().numpy()
        else:
            weight = bias = None
            trainer.run.log.warning("neural collapse: the head %s is not linear; nc3 and nc4 left out",
                                    type(head).__name__)
        metrics = neural_collapse_metrics(features, labels[picked], weight, bias)
        row.update({column: metrics[column] for column in COLUMNS if column in metrics})

    def on_fold_end(self, trainer, end: FoldEnd) -> None:
        summary = pd.DataFrame(trainer.state["summary"])
        if "nc1" in summary:  # absent when every epoch ran before the callback was added
            n_images = min(self.n_images, len(trainer.train_rows))
            plot_neural_collapse(summary, end.folder / "neural_collapse.png", trainer.state["best_epoch"],
                                 title=f"fold {end.fold}: neural collapse of {n_images} training images "
                                       "(un-augmented, eval mode)")


def plot_neural_collapse(summary: pd.DataFrame, path: str | Path, best_epoch: int | None = None,
                         title: str = "neural collapse") -> Path:
    """One panel per ``nc*`` column of ``summary`` against ``epoch``, the best epoch dotted; log scale where
    the values are positive and span a decade or more (NC4, a share that is often exactly 0, stays linear)."""
    from matplotlib.ticker import MaxNLocator

    from common.plots import _save, plt

    columns = [c for c in COLUMNS if c in summary]
    fig, axes = plt.subplots(1, len(columns), figsize=(4.5 * len(columns), 3.8), squeeze=False,
                             constrained_layout=True)
    for ax, column in zip(axes[0], columns):
        part = summary[["epoch", column]].dropna()
        values = part[column].to_numpy()
        ax.plot(part["epoch"], values, "o-", ms=3)
        if column != "nc4" and (values > 0).all() and values.max() >= 10 * values.min():
            ax.set_yscale("log")
        if best_epoch:
            ax.axvline(best_epoch, color="grey", ls=":", lw=1, label=f"best epoch {best_epoch}")
            ax.legend(fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set(xlabel="epoch", title=COLUMNS[column])
        ax.title.set_fontsize(9)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)
