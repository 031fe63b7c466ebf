"""Image embeddings: what a model (or any encoder) makes of uint8 images, batch by batch.

    features = embed(model, images, ModelInput.for_model("resnet18", 128, "image"), device)

The images go the same way as in training and prediction (:class:`common.vision.data.ModelInput`: resized, read
in uint8 batches, scaled on ``device``); :func:`pooled_features` is timm's pre-logits output, the embedding of
``features.py``, the self-supervised probe and the neural-collapse metrics.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from common.progress import progress_bar
from common.vision.data import ModelInput


def pooled_features(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The backbone's pooled penultimate-layer features of a model-ready batch (``forward_head(pre_logits=True)``)."""
    return model.forward_head(model.forward_features(x), pre_logits=True)


@torch.no_grad()
def embed_images(encode: Callable[[torch.Tensor], torch.Tensor], images: np.ndarray, inputs: ModelInput,
                 device: str | torch.device = "cpu", batch_size: int = 64, progress: bool = False,
                 cache_dir: Path | None = None) -> np.ndarray:
    """``encode`` of every image ``(N, D)``, the images made model-ready as ``inputs`` says (area-resized,
    cached under ``cache_dir`` when given, then scaled) batch by batch on ``device``."""
    device = torch.device(device)
    sized = inputs.resized(images, cache_dir, progress)
    batches = progress_bar(inputs.batches(sized, None, device, batch_size), enabled=progress, desc="features",
                           total=-(-len(images) // batch_size), leave=False)
    out = [encode(x).float().cpu().numpy() for x in batches]
    return np.concatenate(out) if out else np.empty((0, 0), np.float32)


def embed(model: nn.Module, images: np.ndarray, inputs: ModelInput, device: str | torch.device = "cpu",
          batch_size: int = 64, progress: bool = False, cache_dir: Path | None = None) -> np.ndarray:
    """:func:`pooled_features` ``(N, D)`` of every image, the model in eval mode on ``device``."""
    model = model.to(device).eval()
    return embed_images(lambda x: pooled_features(model, x), images, inputs, device, batch_size, progress,
                        cache_dir)
