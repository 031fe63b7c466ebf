"""Test-time augmentation for binary image models on ``(N, C, H, W)`` tensors.

A view is a symmetry of the square (the dihedral group D4). The model sees each view of the batch
and the outputs are averaged as probabilities (``merge='prob'``) or as logits (``merge='logit'``,
then the activation). Views that swap height and width need square inputs.
"""
from __future__ import annotations

import logging
from typing import Callable, Iterable, Sequence

import numpy as np
import torch

from common.errors import BadInput
from common.progress import progress_bar

VIEWS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "identity": lambda x: x,
    "hflip": lambda x: x.flip(-1),
    "vflip": lambda x: x.flip(-2),
    "hvflip": lambda x: x.flip(-2, -1),  # = rotation by 180 degrees
    "rot90": lambda x: torch.rot90(x, 1, dims=(-2, -1)),
    "rot270": lambda x: torch.rot90(x, 3, dims=(-2, -1)),
    "transpose": lambda x: x.transpose(-2, -1),
    "antitranspose": lambda x: torch.rot90(x, 1, dims=(-2, -1)).flip(-1),
}
SQUARE_ONLY = frozenset({"rot90", "rot270", "transpose", "antitranspose"})
TTA_PRESETS: dict[str, list[str]] = {
    "none": ["identity"],
    "hflip": ["identity", "hflip"],
    "flips": ["identity", "hflip", "vflip", "hvflip"],
    "d4": list(VIEWS),
}


def resolve_views(views: str | Sequence[str]) -> list[str]:
    """View names from a preset name (``TTA_PRESETS``) or a list of view names; unknown names raise."""
    names = TTA_PRESETS.get(views) if isinstance(views, str) else list(views)
    if names is None:
        raise BadInput(f"unknown TTA preset {views!r}; presets: {sorted(TTA_PRESETS)}")
    unknown = [v for v in names if v not in VIEWS]
    if unknown or not names:
        raise BadInput(f"unknown TTA view(s) {unknown or names}; views: {list(VIEWS)}")
    return names


def untrained_views(views: str | Sequence[str], augment: str) -> list[str]:
    """The views of ``views`` (a preset or a list) that augmentation preset ``augment`` never produced in
    training (``common.vision.augment.TRAINED_VIEWS``): empty when this TTA is safe for that model."""
    from common.vision.augment import TRAINED_VIEWS

    if augment not in TRAINED_VIEWS:
        raise BadInput(f"unknown augmentation preset {augment!r}; choose one of {sorted(TRAINED_VIEWS)}")
    return [v for v in resolve_views(views) if v not in TRAINED_VIEWS[augment]]


def warn_untrained_views(views: str | Sequence[str], augment: str, logger: logging.Logger) -> list[str]:
    """Log a warning naming the views of TTA ``views`` that augmentation ``augment`` never showed the model."""
    unseen = untrained_views(views, augment)
    if unseen:
        logger.warning("TTA %s uses view(s) %s that augmentation %r never showed the model in training: their "
                       "predictions are out of distribution; choose a TTA made of %s", views, unseen, augment,
                       sorted(set(resolve_views(views)) - set(unseen)))
    return unseen


def _logits(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = model(x)
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    if out.ndim != 1 or out.shape[0] != x.shape[0]:
        raise BadInput(f"binary model must output (N,) or (N, 1), got {tuple(out.shape)} for N={x.shape[0]}")
    return out.float()


def tta_predict(model: torch.nn.Module, x: torch.Tensor, views: str | Sequence[str] = "none",
                merge: str = "prob", activation: str | None = "sigmoid") -> torch.Tensor:
    """Average the model's outputs over ``views`` of ``x``; returns an (N,) float32 tensor.

    ``merge='prob'``: mean of ``activation(output)``; ``merge='logit'``: ``activation(mean output)``.
    With ``activation=None`` outputs are averaged as they are (both merges then coincide).
    """
    names = resolve_views(views)
    if merge not in ("prob", "logit"):
        raise BadInput(f"merge must be 'prob' or 'logit', got {merge!r}")
    if activation not in ("sigmoid", None):
        raise BadInput(f"activation must be 'sigmoid' or None, got {activation!r}")
    if x.ndim != 4:
        raise ValueError(f"expected an (N, C, H, W) batch, got shape {tuple(x.shape)}")
    square_only = [v for v in names if v in SQUARE_ONLY]
    if square_only and x.shape[-1] != x.shape[-2]:
        raise BadInput(f"views {square_only} need square images, got H x W = {x.shape[-2]} x {x.shape[-1]}")
    act = torch.sigmoid if activation == "sigmoid" else (lambda t: t)
    total = None
    with torch.no_grad():
        for name in names:
            out = _logits(model, VIEWS[name](x))
            out = act(out) if merge == "prob" else out
            total = out if total is None else total + out
    mean = total / len(names)
    return mean if merge == "prob" else act(mean)


def _images(batch) -> torch.Tensor:
    """The image tensor of a loader batch: a tensor, the first item of a tuple/list, or ``batch['image']``."""
    if isinstance(batch, torch.Tensor):
        return batch
    if isinstance(batch, dict):
        return batch["image"]
    if isinstance(batch, (tuple, list)):
        return batch[0]
    raise TypeError(f"cannot find images in a batch of type {type(batch).__name__}")


def predict_loader(model: torch.nn.Module, loader: Iterable, views: str | Sequence[str] = "none",
                   merge: str = "prob", device: str | torch.device = "cpu",
                   amp_dtype: torch.dtype | None = None, progress: bool = True,
                   prepare: Callable[[torch.Tensor], torch.Tensor] | None = None) -> np.ndarray:
    """TTA predictions for every batch of ``loader`` (in order) as a float32 array.

    ``amp_dtype`` (e.g. ``torch.bfloat16``) runs the model under autocast on ``device``; ``prepare`` turns
    a batch moved to ``device`` into the model's input (e.g. uint8 -> normalised float on the GPU).
    """
    device = torch.device(device)
    model.eval().to(device)
    outs = []
    batches = progress_bar(loader, enabled=progress, desc="predict", leave=False)
    for batch in batches:
        x = _images(batch).to(device, non_blocking=True)
        x = prepare(x) if prepare is not None else x
        with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            outs.append(tta_predict(model, x, views, merge).float().cpu().numpy())
    return np.concatenate(outs) if outs else np.empty(0, dtype=np.float32)
