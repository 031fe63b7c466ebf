"""AdamW through timm's optimizer factory, and the per-batch cosine schedule with linear warm-up.

``timm.optim.create_optimizer_v2`` puts biases and normalisation weights (every 1-d tensor) in a group
without weight decay, optimises only parameters with ``requires_grad`` (frozen layers stay out) and, with
``layer_decay``, gives each layer group its own ``lr_scale`` (deeper layers learn faster).
"""
from __future__ import annotations

import math

import torch
from timm.optim import create_optimizer_v2
from torch import nn


def create_optimizer(model: nn.Module, lr: float, weight_decay: float,
                     layer_decay: float | None = None) -> torch.optim.Optimizer:
    """AdamW over ``model``'s trainable parameters; each group's LR already scaled by its ``lr_scale``."""
    optimizer = create_optimizer_v2(model, "adamw", lr=lr, weight_decay=weight_decay, layer_decay=layer_decay)
    for group in optimizer.param_groups:  # timm's schedulers apply lr_scale; torch's LambdaLR does not
        group["lr"] = lr * group.get("lr_scale", 1.0)
    return optimizer


def cosine_with_warmup(optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int,
                       min_ratio: float) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up to the base LR, then cosine decay to ``min_ratio`` of it, stepped per batch."""
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
