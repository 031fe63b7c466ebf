"""Variational autoencoders for anomaly scores: the fully connected baseline and a convolutional one.

Both map a batch of images ``(B, 1, S, S)`` in [0, 1] to ``(reconstruction, mu, logvar)`` with a
sigmoid output. The loss is the negative ELBO with a Gaussian decoder of unit variance up to constants:
summed squared error plus the KL divergence of ``N(mu, exp(logvar))`` from ``N(0, I)``.
"""
from __future__ import annotations

import torch
from torch import nn

from common.errors import BadInput


def vae_terms(x: torch.Tensor, recon: torch.Tensor, mu: torch.Tensor,
              logvar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image ``(summed squared error, KL divergence)``, each of shape (B,)."""
    sse = (recon - x).pow(2).flatten(1).sum(dim=1)
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)
    return sse, kl


def vae_loss(x: torch.Tensor, recon: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Negative ELBO of the batch: summed squared error plus KL, averaged over images."""
    sse, kl = vae_terms(x, recon, mu, logvar)
    return (sse + kl).mean()


class _VAE(nn.Module):
    """Shared reparameterisation and forward pass; subclasses define ``encode`` and ``decode``."""

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, sample: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruct ``x``; with ``sample=False`` decode the posterior mean (deterministic scores)."""
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if sample else mu
        return self.decode(z), mu, logvar


class FCVAE(_VAE):
    """The seeds' VAE: 1024-400-400 encoder to a 30-d latent, mirror decoder, on 32x32 images."""

    def __init__(self, image_size: int = 32, hidden: int = 400, latent_dim: int = 30):
        super().__init__()
        self.image_size = image_size
        n = image_size * image_size
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(n, hidden), nn.ReLU(),
                                     nn.Linear(hidden, hidden), nn.ReLU())
        self.mu = nn.Linear(hidden, latent_dim)
        self.logvar = nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                     nn.ReLU(), nn.Linear(hidden, n), nn.Sigmoid())

    def encode(self, x):
        h = self.encoder(x)
        return self.mu(h), self.logvar(h)

    def decode(self, z):
        return self.decoder(z).view(-1, 1, self.image_size, self.image_size)


def _down(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.BatchNorm2d(c_out),
                         nn.LeakyReLU(0.2))


def _up(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1), nn.BatchNorm2d(c_out),
                         nn.LeakyReLU(0.2))


class ConvVAE(_VAE):
    """Convolutional VAE: stride-2 convolutions down to 4x4, a dense latent, transposed convolutions up.

    ``image_size`` must be 4 * 2**k (32, 64, 128) or 3 * 2**k (48, 96) so that the halvings end at 4 or 3.
    """

    def __init__(self, image_size: int = 64, latent_dim: int = 64, width: int = 32):
        super().__init__()
        n_down, base = _halvings(image_size)
        channels = [1] + [min(width * 2 ** i, 256) for i in range(n_down)]
        self.base, self.top_channels = base, channels[-1]
        self.encoder = nn.Sequential(*[_down(a, b) for a, b in zip(channels[:-1], channels[1:])], nn.Flatten())
        flat = channels[-1] * base * base
        self.mu = nn.Linear(flat, latent_dim)
        self.logvar = nn.Linear(flat, latent_dim)
        self.project = nn.Linear(latent_dim, flat)
        ups = [_up(a, b) for a, b in zip(channels[:0:-1], channels[-2:0:-1])]
        self.decoder = nn.Sequential(*ups, nn.ConvTranspose2d(channels[1], 1, 4, stride=2, padding=1), nn.Sigmoid())

    def encode(self, x):
        h = self.encoder(x)
        return self.mu(h), self.logvar(h)

    def decode(self, z):
        h = self.project(z).view(-1, self.top_channels, self.base, self.base)
        return self.decoder(h)


def _halvings(size: int) -> tuple[int, int]:
    """Number of stride-2 halvings that bring ``size`` to 4 (or 3), and that final size."""
    for base in (4, 3):
        n, s = 0, size
        while s > base and s % 2 == 0:
            s //= 2
            n += 1
        if s == base and n >= 2:
            return n, base
    raise BadInput(f"conv VAE image size must be 4 or 3 times a power of two (>= 16), got {size}")


def build_vae(arch: str, image_size: int, latent_dim: int, hidden: int = 400) -> _VAE:
    """``fc`` (the seeds' baseline) or ``conv``."""
    if arch == "fc":
        return FCVAE(image_size, hidden, latent_dim)
    if arch == "conv":
        return ConvVAE(image_size, latent_dim)
    raise BadInput(f"unknown VAE architecture {arch!r}; choose fc or conv")
