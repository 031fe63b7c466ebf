"""Grad-CAM (Selvaraju et al. 2017) with forward/backward hooks on the last conv stage, and a PNG grid.

The map is ``relu(sum_k mean(dlogit/dA_k) * A_k)`` over the channels ``A_k`` of the deepest feature map,
upsampled to the input size; red areas are those that pushed the defect logit up.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from common.plots import plot_image_grid
from common.vision.model import last_conv_stage

matplotlib.use("Agg")


class GradCAM:
    """Grad-CAM of a single-logit model at ``layer`` (default: timm's deepest feature stage)."""

    def __init__(self, model: nn.Module, layer: nn.Module | None = None):
        self.model = model
        self.layer = layer if layer is not None else last_conv_stage(model)

    def __call__(self, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """``(cams (N,H,W) in [0,1], probabilities (N,))`` for a batch ``x`` of shape (N,1,H,W)."""
        store: dict[str, torch.Tensor] = {}

        def keep(_module, _inputs, output):
            store["acts"] = output
            output.register_hook(lambda grad: store.__setitem__("grads", grad))

        handle = self.layer.register_forward_hook(keep)
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.enable_grad():
                x = x.detach().clone().requires_grad_(True)
                logits = self.model(x).float().view(-1)
                self.model.zero_grad(set_to_none=True)
                logits.sum().backward()
        finally:
            handle.remove()
            self.model.train(was_training)
        acts, grads = store["acts"].detach().float(), store["grads"].float()
        cam = F.relu((grads.mean(dim=(2, 3), keepdim=True) * acts).sum(dim=1, keepdim=True))
        cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
        peak = cam.flatten(1).amax(dim=1).clamp_min(1e-12)[:, None, None]
        return (cam / peak).cpu().numpy(), torch.sigmoid(logits).detach().cpu().numpy()


def overlay(image: np.ndarray, cam: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """RGB float image: the grey image with the CAM as a jet heat map on top."""
    grey = (image - image.min()) / max(float(image.max() - image.min()), 1e-12)
    heat = matplotlib.colormaps["jet"](cam)[..., :3]
    blended = (1 - alpha) * np.repeat(grey[..., None], 3, axis=2) + alpha * heat
    return np.clip(blended, 0.0, 1.0)  # float32 rounding can overshoot 1, which imshow warns about


def pick_examples(labels: np.ndarray, preds: np.ndarray, n: int) -> tuple[np.ndarray, list[str]]:
    """Positions of the ``n/2`` most confident and ``n/2`` most missed labelled defects, with their kinds."""
    defects = np.flatnonzero(np.asarray(labels) == 1)
    order = defects[np.argsort(-np.asarray(preds)[defects], kind="stable")]
    half = max(1, n // 2)
    confident, missed = order[:half], order[::-1][:half]
    missed = np.array([m for m in missed if m not in set(confident)], dtype=int)
    return np.concatenate([confident, missed]).astype(int), ["confident"] * len(confident) + ["missed"] * len(missed)


def save_gradcam_grid(model: nn.Module, images: torch.Tensor, ids: Sequence[str], kinds: Sequence[str],
                      path: Path, ncols: int = 4) -> Path:
    """Grad-CAM overlays of ``images`` (N,1,H,W, model-ready) titled by id, kind and probability."""
    device = next(model.parameters()).device
    cams, probs = GradCAM(model)(images.to(device))
    pictures = [overlay(im[0].cpu().numpy(), cam) for im, cam in zip(images, cams)]
    titles = [f"{kind} p={p:.3f}\n{i}" for i, kind, p in zip(ids, kinds, probs)]
    return plot_image_grid(pictures, titles, path, ncols=ncols)
