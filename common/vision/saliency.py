"""Saliency maps of a single-logit image model, and how well they point at a known defect box.

    maps = saliency_maps(model, x, "smoothgrad", samples=25, noise=0.15)      # (N, H, W), peak 1 each
    table, means = score_maps(maps, scale_boxes(boxes, (267, 275), (96, 96)))

Maps, each non-negative, at the input size and scaled to a peak of 1 per image (an all-zero map stays zero):
- ``gradcam``: Grad-CAM at the last conv stage (:class:`common.vision.gradcam.GradCAM`);
- ``vanilla``: ``|d logit / d pixel|`` (Simonyan et al. 2014, captum's ``Saliency``), max over channels;
- ``smoothgrad``: the mean of that over ``samples`` noisy copies of the image (Smilkov et al. 2017, captum's
  ``NoiseTunnel``), the noise's standard deviation ``noise`` times the image's value range.

Scores against a box ``x_1, y_1, x_2, y_2`` in map pixels (pixel ``(r, c)`` covers ``[c, c+1) x [r, r+1)``;
several boxes of one image count as their union):
- ``energy_in_box``: the share of the map's sum inside the box, a pixel counted by the share of it the box
  covers; a uniform map scores the box's area share (``box_share``), the chance level;
- pointing game (Zhang et al. 2016): a hit when the map's maximum lies in a pixel that the box, grown by
  ``margin`` pixels on every side, overlaps; a uniformly random point hits with ``pointing_chance``.
A map with no energy points nowhere: energy 0, no hit.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import pandas as pd
import torch
from captum.attr import NoiseTunnel, Saliency
from torch import nn

from common.errors import BadInput
from common.plots import plot_image_grid
from common.vision.gradcam import GradCAM, overlay

METHODS = ("gradcam", "vanilla", "smoothgrad")
SCORE_COLUMNS = ["energy_in_box", "pointing_hit", "box_share", "pointing_chance"]
BOX_COLOUR = (1.0, 0.0, 1.0)  # magenta: neither grey nor a colour of the jet heat map


def saliency_maps(model: nn.Module, x: torch.Tensor, method: str, *, samples: int = 25, noise: float = 0.15,
                  seed: int = 0, layer: nn.Module | None = None) -> np.ndarray:
    """``method``'s maps (N, H, W) of the logit of ``model`` for the model-ready batch ``x`` (N, C, H, W).

    ``samples``/``noise``: SmoothGrad's noisy copies per image and their noise level (a share of each image's
    value range); its noise comes from ``seed`` and leaves torch's global generator as it was. ``layer``:
    Grad-CAM's layer (default: timm's deepest feature stage)."""
    if method not in METHODS:
        raise BadInput(f"unknown saliency method {method!r}; choose from {list(METHODS)}")
    device = next(model.parameters()).device
    x = x.detach().to(device)
    if method == "gradcam":
        return GradCAM(model, layer)(x)[0]
    was_training = model.training
    model.eval()
    try:
        gradient = Saliency(lambda batch: model(batch).float().reshape(len(batch)))
        if method == "vanilla":
            grads = gradient.attribute(x.requires_grad_(True), abs=True)  # (captum warns about one without)
        else:
            tunnel = NoiseTunnel(gradient)
            with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                torch.manual_seed(seed)
                grads = torch.cat([tunnel.attribute(image[None], nt_type="smoothgrad", nt_samples=samples,
                                                    stdevs=noise * float(image.max() - image.min()), abs=True)
                                   for image in x])
    finally:
        model.train(was_training)
    maps = grads.detach().float().amax(dim=1)
    peak = maps.flatten(1).amax(dim=1).clamp_min(1e-30)[:, None, None]
    return (maps / peak).cpu().numpy()


def scale_boxes(boxes: np.ndarray, from_shape: tuple[int, int], to_shape: tuple[int, int]) -> np.ndarray:
    """Boxes ``(..., 4)`` (x_1, y_1, x_2, y_2) of an image of ``from_shape`` (H, W) in the pixels of that image
    resized (stretched, as the kit's transforms do) to ``to_shape`` (H, W)."""
    sy, sx = to_shape[0] / from_shape[0], to_shape[1] / from_shape[1]
    return np.asarray(boxes, np.float64) * np.array([sx, sy, sx, sy])


def box_coverage(shape: tuple[int, int], boxes: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """(H, W): the share of each pixel that the box(es) ``(4,)`` or ``(K, 4)``, grown by ``margin``, cover."""
    def along(n: int, low: float, high: float) -> np.ndarray:
        start = np.arange(n, dtype=np.float64)
        return np.clip(np.minimum(start + 1, high) - np.maximum(start, low), 0.0, 1.0)

    cover = np.zeros(shape, np.float64)
    for x1, y1, x2, y2 in np.atleast_2d(np.asarray(boxes, np.float64)):
        cover = np.maximum(cover, np.outer(along(shape[0], y1 - margin, y2 + margin),
                                           along(shape[1], x1 - margin, x2 + margin)))
    return cover


def energy_in_box(saliency: np.ndarray, boxes: np.ndarray) -> float:
    """The share of the non-negative map's sum that lies inside the box(es) (0 for an all-zero map)."""
    saliency = _checked(saliency)
    total = float(saliency.sum())
    return float((saliency * box_coverage(saliency.shape, boxes)).sum() / total) if total > 0 else 0.0


def pointing_hit(saliency: np.ndarray, boxes: np.ndarray, margin: float = 0.0) -> bool:
    """Whether the map's maximum (its first pixel, on ties) lies in a pixel the box(es), grown by ``margin``
    pixels, overlap (never for an all-zero map)."""
    saliency = _checked(saliency)
    if not saliency.max() > 0:
        return False
    row, col = np.unravel_index(np.argmax(saliency), saliency.shape)
    return bool(box_coverage(saliency.shape, boxes, margin)[row, col] > 0)


def score_maps(maps: Sequence[np.ndarray], boxes: Sequence[np.ndarray],
               margin: float = 0.0) -> tuple[pd.DataFrame, dict]:
    """Per image (``SCORE_COLUMNS``) and means: ``energy_in_box``, ``pointing_accuracy``, their chance levels
    ``chance_energy`` and ``chance_pointing``, ``n_images``; ``boxes[i]`` is image i's ``(4,)`` or ``(K, 4)``."""
    if len(maps) != len(boxes):
        raise ValueError(f"{len(maps)} maps for {len(boxes)} boxes")
    rows = [(energy_in_box(saliency, box), pointing_hit(saliency, box, margin),
             float(box_coverage(saliency.shape, box).mean()),
             float((box_coverage(saliency.shape, box, margin) > 0).mean())) for saliency, box in zip(maps, boxes)]
    table = pd.DataFrame(rows, columns=SCORE_COLUMNS)
    means = {"energy_in_box": float(table["energy_in_box"].mean()),
             "pointing_accuracy": float(table["pointing_hit"].mean()),
             "chance_energy": float(table["box_share"].mean()),
             "chance_pointing": float(table["pointing_chance"].mean()),
             "n_images": len(table)}
    return table, means


def save_saliency_grid(images: Sequence[np.ndarray], maps: Sequence[np.ndarray], boxes: Sequence[np.ndarray],
                       titles: Sequence[str], path: Path, margin: float = 0.0, per_row: int = 2) -> Path:
    """Two panels per image, ``per_row`` images a row: the grey image (H, W) with its box(es) titled
    ``titles[i]``, then the map over it with the box(es) and the image's scores (pointing with ``margin``)."""
    pictures, names = [], []
    for image, saliency, box, title in zip(images, maps, boxes, titles):
        grey = overlay(image, saliency, alpha=0.0)  # the same grey scaling as under the heat map
        pictures += [_draw_boxes(grey, box), _draw_boxes(overlay(image, saliency), box)]
        names += [title, f"in box {energy_in_box(saliency, box):.2f}, "
                         f"{'hit' if pointing_hit(saliency, box, margin) else 'miss'}"]
    return plot_image_grid(pictures, names, path, ncols=2 * per_row)


def _draw_boxes(rgb: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """A copy of the RGB float image with the outline of each box's covered pixels."""
    out = np.ascontiguousarray(rgb, dtype=np.float32).copy()
    for x1, y1, x2, y2 in np.atleast_2d(np.asarray(boxes, np.float64)):
        corner1 = (int(np.floor(x1)), int(np.floor(y1)))
        corner2 = (max(int(np.ceil(x2)) - 1, corner1[0]), max(int(np.ceil(y2)) - 1, corner1[1]))
        cv2.rectangle(out, corner1, corner2, BOX_COLOUR, 1)
    return out


def _checked(saliency: np.ndarray) -> np.ndarray:
    saliency = np.asarray(saliency, np.float64)
    if saliency.ndim != 2 or (saliency < 0).any():
        raise BadInput(f"a saliency map must be a non-negative (H, W) array; got shape {saliency.shape}, "
                       f"minimum {saliency.min():.3g}")
    return saliency
