"""Torch datasets over the memory-mapped image cache, and epoch-seeded samplers (plain, balanced, distributed).

Every random draw of an epoch derives from ``(seed, epoch)``: the sampler's order, the augmentation seed of
the main process and of each loader worker. A run resumed at epoch k therefore sees the same batches as an
uninterrupted one.
"""
from __future__ import annotations

import math
from typing import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from common.augment import build_transform

# ImageNet's mean/std of the grey level, which timm's RGB->1-channel stem adaptation expects.
GRAY_MEAN, GRAY_STD = 0.449, 0.226


class ImageDataset(Dataset):
    """``(image (1,H,W) float, label, weight)`` for ``rows`` of a uint8 (N,H,W) array (a memmap is fine)."""

    def __init__(self, images: np.ndarray, rows: Sequence[int], labels: Sequence[float] | None = None,
                 weights: Sequence[float] | None = None, transform=None, per_image_norm: bool = False):
        self.images = images
        self.rows = np.asarray(rows, dtype=np.int64)
        self.labels = np.zeros(len(self.rows), np.float32) if labels is None else np.asarray(labels, np.float32)
        self.weights = np.ones(len(self.rows), np.float32) if weights is None else np.asarray(weights, np.float32)
        if not len(self.labels) == len(self.weights) == len(self.rows):
            raise ValueError(f"rows ({len(self.rows)}), labels ({len(self.labels)}) and weights "
                             f"({len(self.weights)}) differ in length")
        self.transform = transform
        self.per_image_norm = per_image_norm

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int):
        image = np.asarray(self.images[self.rows[i]])
        x = self.transform(image=image)["image"] if self.transform is not None else torch.from_numpy(image)[None]
        if self.per_image_norm:  # each image to zero mean, unit variance: removes per-image lighting
            x = (x - x.mean()) / x.std().clamp_min(1e-6)
        return x, self.labels[i], self.weights[i]

    def reseed(self, seed: int) -> None:
        """Seed the augmentation pipeline (albumentations keeps its own generators)."""
        if self.transform is not None and hasattr(self.transform, "set_random_seed"):
            self.transform.set_random_seed(seed)


def seed_worker(worker_id: int) -> None:
    """Loader workers get distinct, reproducible augmentation seeds from the loader's per-epoch base seed."""
    info = torch.utils.data.get_worker_info()
    info.dataset.reseed(torch.initial_seed() % 2**32)


class BalancedSampler(Sampler[int]):
    """Draws ``num_samples`` indices per epoch with replacement so that both classes are equally likely.

    Deterministic for ``(seed, epoch)``; with ``num_replicas > 1`` each rank takes every ``num_replicas``-th draw.
    """

    def __init__(self, labels: Sequence[int], num_samples: int | None = None, seed: int = 0,
                 num_replicas: int = 1, rank: int = 0, weights: Sequence[float] | None = None):
        labels = np.asarray(labels).astype(int)
        counts = np.bincount(labels, minlength=2).astype(np.float64)
        if (counts == 0).any():
            raise ValueError(f"balanced sampling needs both classes; class counts {counts.tolist()}")
        probs = (1.0 / counts)[labels]
        if weights is not None:
            probs = probs * np.asarray(weights, np.float64)
        self.probs = torch.as_tensor(probs / probs.sum())
        self.total = int(num_samples or len(labels))
        self.total = math.ceil(self.total / num_replicas) * num_replicas
        self.seed, self.num_replicas, self.rank, self.epoch = seed, num_replicas, rank, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        gen = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        draws = torch.multinomial(self.probs, self.total, replacement=True, generator=gen)
        return iter(draws[self.rank::self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.total // self.num_replicas


def train_sampler(labels: np.ndarray, balanced: bool, seed: int, num_replicas: int = 1, rank: int = 0) -> Sampler:
    """Balanced sampler, or a seeded shuffle (``DistributedSampler`` also does the single-process case)."""
    if balanced:
        return BalancedSampler(labels, seed=seed, num_replicas=num_replicas, rank=rank)
    return DistributedSampler(range(len(labels)), num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed,
                              drop_last=False)


def make_transform(augment: str, img_size: int, train: bool):
    return build_transform(augment if train else "none", img_size, train=train, mean=GRAY_MEAN, std=GRAY_STD)


def make_loader(dataset: ImageDataset, batch_size: int, workers: int, sampler: Sampler | None = None,
                drop_last: bool = False, seed: int = 0) -> DataLoader:
    """A loader whose worker seeds come from ``seed`` (re-made each epoch, so set it per epoch)."""
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, shuffle=False, num_workers=workers,
                      drop_last=drop_last, pin_memory=torch.cuda.is_available(), worker_init_fn=seed_worker,
                      generator=torch.Generator().manual_seed(seed), persistent_workers=False)
