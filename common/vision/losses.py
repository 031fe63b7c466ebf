"""Binary losses on logits, per sample so that sample weights (down-weighted suspect labels) apply.

- ``bce``: binary cross-entropy;
- ``smooth``: BCE against targets pulled towards 0.5 by ``smoothing`` (label smoothing);
- ``focal``: focal loss (Lin et al. 2017), ``(1 - p_t)^gamma`` times the BCE;
- ``gce``: generalised cross-entropy (Zhang & Sabuncu 2018), ``(1 - p_t^q) / q``, robust to noisy labels.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from common.errors import BadInput

LOSSES = ("bce", "smooth", "focal", "gce")


class BinaryLoss(nn.Module):
    """Loss on (N,) logits and {0,1} targets, averaged with optional per-sample weights."""

    def __init__(self, name: str = "bce", smoothing: float = 0.1, gamma: float = 2.0, q: float = 0.7):
        super().__init__()
        if name not in LOSSES:
            raise BadInput(f"unknown loss {name!r}; choose one of {LOSSES}")
        if not 0 <= smoothing < 1 or gamma < 0 or not 0 < q <= 1:
            raise BadInput(f"bad loss parameters: smoothing={smoothing} (0..1), gamma={gamma} (>=0), q={q} (0..1]")
        self.name, self.smoothing, self.gamma, self.q = name, smoothing, gamma, q

    def per_sample(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits, target = logits.float().view(-1), target.float().view(-1)
        if self.name == "smooth":
            target = target * (1 - self.smoothing) + 0.5 * self.smoothing
        bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        if self.name in ("bce", "smooth"):
            return bce
        log_p_t = -bce  # log-probability of the target class (exact for 0/1 targets)
        if self.name == "focal":
            return (1 - log_p_t.exp()).pow(self.gamma) * bce
        return (1 - torch.exp(self.q * log_p_t)) / self.q

    def forward(self, logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        loss = self.per_sample(logits, target)
        if weight is None:
            return loss.mean()
        weight = weight.float().view(-1)
        return (loss * weight).sum() / weight.sum().clamp_min(1e-12)
