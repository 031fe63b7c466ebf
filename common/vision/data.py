"""Model input from uint8 images: batches at the training resolution, made model-ready on the device.

The fast path (training, validation, prediction): images are resized once into a cache at the training size
(:func:`common.vision.resized.resized_images`); :class:`ImageBatches` reads whole uint8 batches of it (one
memmap read per batch, no per-image work); the loader pins them, the trainer moves them with
``non_blocking`` and :class:`ModelInput` turns them into the model's input on the device (the augmentation
preset of :mod:`common.vision.device_augment` as batch operations, scaling, normalisation). So the CPU only
copies bytes, and a GPU is not left waiting for per-image augmentation in loader workers.

Every random draw of an epoch derives from ``(seed, epoch)``: the sampler's order and the device-side
augmentation (torch's global RNG, seeded per epoch by the trainer). A run resumed at epoch k therefore sees the
same batches as an uninterrupted one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, DistributedSampler, Sampler, SequentialSampler

from common.errors import BadInput
from common.vision.device_augment import DeviceAugment, normalise
from common.vision.resized import resized_images

# ImageNet's mean/std of the grey level, which timm's RGB->1-channel stem adaptation expects.
GRAY_MEAN, GRAY_STD = 0.449, 0.226


@dataclass(frozen=True)
class ModelInput:
    """How uint8 images become a model's input: the square size, and the normalisation its weights expect
    (each image standardised, or a fixed grey mean/std: the model's pretrained mean/std averaged over RGB)."""
    img_size: int
    per_image_norm: bool = False
    mean: float = GRAY_MEAN
    std: float = GRAY_STD

    @classmethod
    def for_model(cls, model: str, img_size: int, norm: str) -> "ModelInput":
        from common.vision.weights import grey_mean_std

        mean, std = grey_mean_std(model)
        return cls(int(img_size), norm == "image", mean, std)

    def augmenter(self, preset: str = "none", train: bool = False) -> DeviceAugment:
        """uint8 (B,1,S,S) batch on any device -> the model's float input, with ``preset`` when ``train``."""
        mean, std = self._fixed()
        return DeviceAugment(preset, train=train, mean=mean, std=std, per_image_norm=self.per_image_norm)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """A float batch already in [0, 1] (e.g. views made on the device) -> the model's input."""
        return normalise(x, *self._fixed(), self.per_image_norm)

    def _fixed(self) -> tuple[float | None, float | None]:
        return (None, None) if self.per_image_norm else (self.mean, self.std)

    def resized(self, images: np.ndarray, cache_dir: str | Path | None = None, progress: bool = False) -> np.ndarray:
        """``images`` at the input size: a memmap under ``cache_dir`` (made once), in memory without one."""
        return resized_images(images, self.img_size, Path(cache_dir) if cache_dir else None, progress=progress)

    def batches(self, images: np.ndarray, rows: np.ndarray | None, device: torch.device, batch_size: int = 128,
                workers: int = 0) -> Iterator[torch.Tensor]:
        """Model-ready float batches of ``images[rows]`` (images already at the input size), in order."""
        rows = np.arange(len(images)) if rows is None else np.asarray(rows)
        prepare = self.augmenter().to(device)
        for x, _, _ in batch_loader(ImageBatches(images, rows), batch_size, workers):
            yield prepare(x.to(device, non_blocking=True))


class ImageBatches(Dataset):
    """Whole batches ``(uint8 (B,1,S,S), labels (B,), weights (B,))`` of ``rows`` of a uint8 (N,S,S) array,
    indexed by a list of positions (use it with :func:`batch_loader`): one read of the memmap per batch."""

    def __init__(self, images: np.ndarray, rows: Sequence[int], labels: Sequence[float] | None = None,
                 weights: Sequence[float] | None = None):
        self.images = images
        self.rows = np.asarray(rows, dtype=np.int64)
        self.labels = np.zeros(len(self.rows), np.float32) if labels is None else np.asarray(labels, np.float32)
        self.weights = np.ones(len(self.rows), np.float32) if weights is None else np.asarray(weights, np.float32)
        if not len(self.labels) == len(self.weights) == len(self.rows):
            raise ValueError(f"rows ({len(self.rows)}), labels ({len(self.labels)}) and weights "
                             f"({len(self.weights)}) differ in length")

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, positions: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        positions = np.asarray(positions, dtype=np.int64)
        rows = self.rows[positions]
        order = np.argsort(rows, kind="stable")  # read the memmap in file order
        x = np.empty((len(rows), *self.images.shape[1:]), np.uint8)
        x[order] = self.images[rows[order]]
        return (torch.from_numpy(x).unsqueeze(1), torch.from_numpy(self.labels[positions]),
                torch.from_numpy(self.weights[positions]))


def batch_loader(dataset: ImageBatches, batch_size: int, workers: int, sampler: Sampler | None = None,
                 drop_last: bool = False, persistent: bool = False) -> DataLoader:
    """Batches of ``dataset`` in ``sampler``'s order (default: in order), pinned for the GPU when there is
    one; ``persistent`` keeps the workers alive across epochs (the sampler's ``set_epoch`` still applies:
    it runs in the main process)."""
    batches = BatchSampler(sampler if sampler is not None else SequentialSampler(range(len(dataset))),
                           batch_size, drop_last)
    return DataLoader(dataset, batch_size=None, sampler=batches, num_workers=workers,
                      pin_memory=torch.cuda.is_available(), persistent_workers=persistent and workers > 0,
                      prefetch_factor=4 if workers > 0 else None)


class BalancedSampler(Sampler[int]):
    """Draws ``num_samples`` indices per epoch with replacement so that both classes are equally likely.

    Deterministic for ``(seed, epoch)``; with ``num_replicas > 1`` each rank takes every ``num_replicas``-th draw.
    """

    def __init__(self, labels: Sequence[int], num_samples: int | None = None, seed: int = 0,
                 num_replicas: int = 1, rank: int = 0, weights: Sequence[float] | None = None):
        labels = np.asarray(labels).astype(int)
        counts = np.bincount(labels, minlength=2).astype(np.float64)
        if (counts == 0).any():
            raise BadInput(f"balanced sampling needs both classes; class counts {counts.tolist()}")
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
