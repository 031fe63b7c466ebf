"""Scattering-transform embedding: fixed wavelet features, no training (kymatio's ``Scattering2D``).

A 2-D scattering transform with ``J`` scales and ``L`` orientations cascades Morlet wavelet moduli up to
order 2: ``1 + J L + L^2 J (J - 1) / 2`` coefficient maps per input channel (217 for ``J=3, L=8``), each
``2**J`` times smaller than the image. :class:`ScatteringEmbedder` averages every map over space, so an
image becomes one vector of texture statistics that is stable to small shifts and deformations; with
``log`` the order-1 and order-2 averages (moduli, so positive) are log-compressed, which makes their
heavy-tailed, multiplicative variations additive for a linear classifier.
"""
from __future__ import annotations

import torch
from torch import nn

# Not ``kymatio.torch``: that package also imports the 3-D scattering, whose filters need
# ``scipy.special.sph_harm``, removed in recent SciPy. The 2-D torch frontend alone imports cleanly.
from kymatio.scattering2d.frontend.torch_frontend import ScatteringTorch2D

from common.errors import BadInput


def n_coefficients(J: int, L: int) -> int:
    """Scattering maps per input channel up to order 2."""
    return 1 + J * L + L * L * J * (J - 1) // 2


class ScatteringEmbedder(nn.Module):
    """``(B, C, size, size)`` float images -> ``(B, C * n_coefficients(J, L))`` spatially averaged
    scattering coefficients (log-compressed beyond order 0 with ``log``)."""

    def __init__(self, size: int, J: int = 3, L: int = 8, log: bool = False, log_eps: float = 1e-6):
        super().__init__()
        if J < 1 or L < 1:
            raise BadInput(f"scattering needs J >= 1 and L >= 1, got J={J}, L={L}")
        if 2 ** J > size:
            raise BadInput(f"scattering with J={J} needs images of at least 2**J = {2 ** J} px, got {size}")
        self.size, self.J, self.L, self.log, self.log_eps = size, J, L, log, log_eps
        self.scattering = ScatteringTorch2D(J=J, shape=(size, size), L=L)

    @property
    def dim_per_channel(self) -> int:
        return n_coefficients(self.J, self.L)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or tuple(x.shape[-2:]) != (self.size, self.size):
            raise BadInput(f"expected images (B, C, {self.size}, {self.size}), got {tuple(x.shape)}")
        pooled = self.scattering(x.float().contiguous()).mean(dim=(-2, -1))  # (B, C, K)
        if self.log:
            pooled = torch.cat([pooled[..., :1], torch.log(pooled[..., 1:] + self.log_eps)], dim=-1)
        return pooled.flatten(1)
