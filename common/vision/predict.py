"""Predict uint8 (N,H,W) images with a model or a fold's checkpoint(s), with test-time augmentation.

    model = load_model(Path("runs/nexperia/demo/fold0/best.pt"), device)
    preds = predict_images(model, images, rows, "hflip", inputs=ModelInput.for_model("resnet18", 64, "image"))

Images are resized to the input size first (a cache under ``cache_dir``, else in memory; images already at that
size are used as they are), then read in uint8 batches and made model-ready on the device, like in training.
Under ``torchrun`` (``d`` given) each rank predicts every ``world``-th row and all ranks get the whole result.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from common.vision.tta import predict_loader
from common.vision.checkpoints import inference_weights, load_checkpoint
from common.vision.data import ImageBatches, ModelInput, batch_loader
from common.vision.distributed import Dist, gather
from common.vision.model import create_model, load_weights, to_device


def predict_images(model: nn.Module, images: np.ndarray, rows: np.ndarray | None, tta: str, *, inputs: ModelInput,
                   batch_size: int = 128, workers: int = 0, amp_dtype: torch.dtype | None = None,
                   progress: bool = False, d: Dist | None = None, cache_dir: str | Path | None = None) -> np.ndarray:
    """Probabilities of ``images[rows]`` (all images when ``rows`` is None) with TTA preset ``tta``."""
    d = d or Dist(device=next(model.parameters()).device)
    rows = np.arange(len(images)) if rows is None else np.asarray(rows)
    images = inputs.resized(images, cache_dir, progress=progress and d.main)
    mine = np.arange(len(rows))[d.rank::d.world]
    preds = predict_loader(model, batch_loader(ImageBatches(images, rows[mine]), batch_size, workers), tta,
                           device=d.device, amp_dtype=amp_dtype, progress=progress and d.main,
                           prepare=inputs.augmenter().to(d.device))
    out = np.empty(len(rows), np.float32)
    for idx, part in gather((mine, preds), d):
        out[idx] = part
    return out


def load_model(path: Path, device: torch.device, spec: dict | None = None,
               channels_last: bool | None = None) -> nn.Module:
    """The model of a checkpoint with its inference weights (EMA when kept); ``spec`` (``{model,
    model_kwargs}``) must match the checkpoint's, default: the checkpoint's own; ``channels_last`` defaults to
    its model card's (``common.vision.card``; off for a checkpoint without one)."""
    checkpoint = load_checkpoint(path)
    if channels_last is None:
        channels_last = bool((checkpoint.get("card") or {}).get("channels_last", False))
    spec = spec or checkpoint["model_spec"]
    model = create_model(spec["model"], None, spec["model_kwargs"])
    load_weights(model, {**checkpoint, "model": inference_weights(checkpoint)}, path, spec)
    return to_device(model, device, channels_last).eval()
