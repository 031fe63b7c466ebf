"""Batch augmentation on the training device: the ``common.vision.augment`` presets as kornia modules.

The loader hands over uint8 batches ``(B, C, S, S)`` already at the training size; :class:`DeviceAugment`
scales them to ``[0, 1]``, applies the preset per sample (each sample draws its own flips, affine, ...)
and standardises them, on whatever device the batch is on. This replaces albumentations' per-image work on
the CPU, which cannot keep a GPU fed.

Each preset mirrors its albumentations twin in ``common.vision.augment`` transform for transform, with the same
probabilities and parameter ranges in the same meaning:

- ``Affine``: kornia's ``RandomAffine`` samples scale, translation and shear per axis when given four
  bounds, as albumentations does (its ``keep_ratio=False`` default); both shear by ``tan`` of degrees about
  the centre. Border replicate is kornia's ``padding_mode="border"``. Albumentations truncates the translation
  to whole pixels (``int(U(-0.03, 0.03) * 128)``: a quarter less than the fraction on average at 128 px, more
  at smaller sizes); kornia's is continuous, as the fraction says.
- ``RandomBrightnessContrast``: ``clip(x * alpha + beta)`` with ``alpha = 1 + U(-c, c)`` and
  ``beta = U(-b, b)`` in ``[0, 1]`` units (``brightness_by_max``). kornia's ``RandomContrast`` multiplies
  by its factor and ``RandomBrightness`` adds ``factor - 1``, so the factor ranges are ``(1 - c, 1 + c)``
  and ``(1 - b, 1 + b)``; both run unclipped and one clamp follows, since each would otherwise clamp on
  its own. Albumentations draws both or neither, so they sit under one probability (:class:`RandomApplyOne`).
- ``OneOf``: :class:`RandomApplyOne` (albumentations' equal default weights). ``GaussianBlur`` draws the
  kernel size from ``{3, 5}`` and sigma from its default ``(0.5, 3.0)``: one kornia blur per kernel size,
  one of them chosen.
- ``GaussNoise`` and ``CoarseDropout`` are written here: kornia's noise has one fixed sigma and does not
  clip, and its ``RandomErasing`` erases a single box per image drawn by area and aspect ratio, where
  albumentations cuts 1-4 holes of independent height and width.

Apart from that translation, the two differ in rounding only: albumentations works on uint8 between steps.
Random draws come from torch's global generators (``torch.manual_seed`` seeds every device): kornia draws its
parameters on the device the module is on (``.to(device)`` moves it), the modules written here on the
batch's device.
"""
from __future__ import annotations

from typing import Callable

import kornia.augmentation as K
import torch
from torch import nn

from common.errors import BadInput


class RandomApplyOne(nn.Module):
    """Per sample: with probability ``p``, one of ``augmentations`` chosen uniformly; otherwise unchanged.

    With a single augmentation (an ``nn.Sequential`` for several) this is "apply with probability ``p``".
    The augmentations run on the chosen samples only, each with probability 1.
    """

    def __init__(self, p: float, *augmentations: nn.Module):
        super().__init__()
        self.p = p
        self.augmentations = nn.ModuleList(augmentations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = len(x)
        chosen = torch.randint(len(self.augmentations), (n,), device=x.device)
        chosen = torch.where(torch.rand(n, device=x.device) < self.p, chosen, -1)
        for k, augmentation in enumerate(self.augmentations):
            rows = (chosen == k).nonzero().squeeze(1)
            if len(rows):
                x = x.index_copy(0, rows, augmentation(x[rows]))
        return x


class GaussNoise(nn.Module):
    """Albumentations' ``GaussNoise`` on ``[0, 1]`` images: per-pixel ``N(0, sigma^2)`` with one
    ``sigma ~ U(std_range)`` per image, then clipped to ``[0, 1]``."""

    def __init__(self, std_range: tuple[float, float]):
        super().__init__()
        self.std_range = std_range

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sigma = torch.empty(len(x), 1, 1, 1, device=x.device, dtype=x.dtype).uniform_(*self.std_range)
        return (x + torch.randn_like(x) * sigma).clamp_(0.0, 1.0)


class CoarseDropout(nn.Module):
    """Albumentations' ``CoarseDropout``: per image ``n ~ U{num_holes_range}`` holes, each
    ``int(h * H) x int(w * W)`` pixels with ``h ~ U(hole_height_range)``, ``w ~ U(hole_width_range)``,
    placed uniformly inside the image and set to ``fill``."""

    def __init__(self, num_holes_range: tuple[int, int], hole_height_range: tuple[float, float],
                 hole_width_range: tuple[float, float], fill: float = 0.0):
        super().__init__()
        self.num_holes_range, self.fill = num_holes_range, fill
        self.hole_height_range, self.hole_width_range = hole_height_range, hole_width_range

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, height, width = x.shape
        most = self.num_holes_range[1]
        device = x.device

        def uniform(low: float, high: float) -> torch.Tensor:
            return torch.empty(n, most, 1, 1, device=device).uniform_(low, high)

        count = torch.randint(self.num_holes_range[0], most + 1, (n, 1, 1, 1), device=device)
        used = torch.arange(most, device=device).view(1, most, 1, 1) < count
        hole_h = (height * uniform(*self.hole_height_range)).long()
        hole_w = (width * uniform(*self.hole_width_range)).long()
        top = (uniform(0.0, 1.0) * (height - hole_h + 1)).long()
        left = (uniform(0.0, 1.0) * (width - hole_w + 1)).long()
        rows = torch.arange(height, device=device).view(1, 1, height, 1)
        cols = torch.arange(width, device=device).view(1, 1, 1, width)
        holes = used & (rows >= top) & (rows < top + hole_h) & (cols >= left) & (cols < left + hole_w)
        return x.masked_fill(holes.any(1, keepdim=True), self.fill)


def affine(scale: tuple[float, float], rotate: float, translate: float = 0.0, shear: float = 0.0,
            p: float = 0.5) -> K.RandomAffine:
    """Albumentations' ``Affine(scale, translate_percent=(-t, t), rotate=(-r, r), shear=(-s, s),
    border_mode=BORDER_REPLICATE)``: every range drawn per axis."""
    return K.RandomAffine(degrees=rotate, translate=(translate, translate) if translate else None,
                          scale=(*scale, *scale), shear=(-shear, shear, -shear, shear) if shear else None,
                          padding_mode="border", p=p)


def brightness_contrast(brightness: float, contrast: float, p: float) -> RandomApplyOne:
    """Albumentations' ``RandomBrightnessContrast(brightness_limit, contrast_limit)``: ``clip(x * alpha + beta)``."""
    return RandomApplyOne(p, nn.Sequential(
        K.RandomContrast((1 - contrast, 1 + contrast), clip_output=False, p=1.0),
        K.RandomBrightness((1 - brightness, 1 + brightness), clip_output=False, p=1.0),
        nn.Hardtanh(0.0, 1.0)))  # the clamp to [0, 1]


def _light() -> list[nn.Module]:
    return [K.RandomHorizontalFlip(p=0.5), affine(scale=(0.95, 1.05), translate=0.03, rotate=5, p=0.5)]


def _seed() -> list[nn.Module]:
    return [K.RandomHorizontalFlip(p=0.5), affine(scale=(0.9, 1.1), rotate=10, p=1.0)]


def _medium() -> list[nn.Module]:
    return [K.RandomHorizontalFlip(p=0.5), K.RandomVerticalFlip(p=0.5),
            affine(scale=(0.9, 1.1), translate=0.05, rotate=15, p=0.75),
            brightness_contrast(0.15, 0.15, p=0.5)]


def _heavy() -> list[nn.Module]:
    blur = RandomApplyOne(1.0, *(K.RandomGaussianBlur(size, (0.5, 3.0), p=1.0) for size in (3, 5)))
    return [K.RandomHorizontalFlip(p=0.5), K.RandomVerticalFlip(p=0.5),
            affine(scale=(0.85, 1.15), translate=0.08, rotate=20, shear=5, p=0.9),
            brightness_contrast(0.25, 0.25, p=0.7),
            RandomApplyOne(0.4, blur, GaussNoise((0.01, 0.05))),
            RandomApplyOne(0.3, CoarseDropout((1, 4), (0.04, 0.1), (0.04, 0.1), fill=0.0))]


DEVICE_PRESETS: dict[str, Callable[[], list[nn.Module]]] = {
    "none": list, "light": _light, "seed": _seed, "medium": _medium, "heavy": _heavy}


class DeviceAugment(nn.Module):
    """uint8 ``(B, C, S, S)`` on any device -> float32 on that device: scaled to ``[0, 1]``, augmented per
    sample with ``preset`` (in training mode), then standardised.

    ``mean``/``std`` (in ``[0, 1]`` units) standardise every image alike; ``per_image_norm`` then brings each
    image to zero mean and unit variance. ``train`` sets the
    starting mode; ``.train()``/``.eval()`` switch it as for any module, and in eval mode (or with preset
    ``"none"``) the output equals the albumentations evaluation pipeline's.
    """

    def __init__(self, preset: str, train: bool = True, mean: float | None = None, std: float | None = None,
                 per_image_norm: bool = False):
        super().__init__()
        if preset not in DEVICE_PRESETS:
            raise BadInput(f"unknown augmentation preset {preset!r}; choose one of {sorted(DEVICE_PRESETS)}")
        if (mean is None) != (std is None):
            raise ValueError("give both mean and std, or neither")
        self.preset, self.mean, self.std, self.per_image_norm = preset, mean, std, per_image_norm
        self.augment = nn.Sequential(*DEVICE_PRESETS[preset]())
        self.train(train)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != torch.uint8 or x.ndim != 4:
            raise BadInput(f"expected a uint8 batch (B, C, H, W); got {x.dtype} of shape {tuple(x.shape)}")
        x = x.float().div_(255.0)
        if self.training:
            x = self.augment(x)
        return normalise(x, self.mean, self.std, self.per_image_norm, in_place=True)  # x is this call's own


def normalise(x: torch.Tensor, mean: float | None, std: float | None, per_image_norm: bool,
              in_place: bool = False) -> torch.Tensor:
    """A float ``(B, C, H, W)`` batch in ``[0, 1]`` standardised: by ``mean``/``std`` when given, then each image to
    zero mean and unit variance when ``per_image_norm``; ``in_place`` may overwrite ``x``."""
    if mean is not None:
        x = x.sub_(mean).div_(std) if in_place else (x - mean) / std
    if per_image_norm:
        x = (x - x.mean((1, 2, 3), keepdim=True)) / x.std((1, 2, 3), keepdim=True).clamp_min(1e-6)
    return x
