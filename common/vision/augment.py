"""Named albumentations (2.x) pipelines for single-channel uint8 images (H x W).

Every pipeline resizes to ``img_size``, applies the preset's augmentations when ``train`` is true,
scales to float32 (``[0, 1]``, or standardised with ``mean``/``std`` given in that scale) and returns a
``(1, H, W)`` torch tensor under the key ``"image"``.
"""
from __future__ import annotations

from typing import Callable

import albumentations as A
import cv2
from albumentations.pytorch import ToTensorV2

from common.errors import BadInput


def _light() -> list[A.BasicTransform]:
    return [A.HorizontalFlip(p=0.5),
            A.Affine(scale=(0.95, 1.05), translate_percent=(-0.03, 0.03), rotate=(-5, 5),
                     border_mode=cv2.BORDER_REPLICATE, p=0.5)]


def _seed() -> list[A.BasicTransform]:
    # The seed notebooks' recipe (Keras ImageDataGenerator: horizontal_flip, rotation_range=10,
    # zoom_range=0.1, fill_mode='nearest'), applied to every image like Keras does.
    return [A.HorizontalFlip(p=0.5),
            A.Affine(scale=(0.9, 1.1), rotate=(-10, 10), border_mode=cv2.BORDER_REPLICATE, p=1.0)]


def _medium() -> list[A.BasicTransform]:
    return [A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5),
            A.Affine(scale=(0.9, 1.1), translate_percent=(-0.05, 0.05), rotate=(-15, 15),
                     border_mode=cv2.BORDER_REPLICATE, p=0.75),
            A.RandomBrightnessContrast(brightness_limit=0.15, contrast_limit=0.15, p=0.5)]


def _heavy() -> list[A.BasicTransform]:
    return [A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5),
            A.Affine(scale=(0.85, 1.15), translate_percent=(-0.08, 0.08), rotate=(-20, 20), shear=(-5, 5),
                     border_mode=cv2.BORDER_REPLICATE, p=0.9),
            A.RandomBrightnessContrast(brightness_limit=0.25, contrast_limit=0.25, p=0.7),
            A.OneOf([A.GaussianBlur(blur_limit=(3, 5)), A.GaussNoise(std_range=(0.01, 0.05))], p=0.4),
            A.CoarseDropout(num_holes_range=(1, 4), hole_height_range=(0.04, 0.1),
                            hole_width_range=(0.04, 0.1), fill=0, p=0.3)]


AUGMENT_PRESETS: dict[str, Callable[[], list[A.BasicTransform]]] = {
    "none": list, "light": _light, "seed": _seed, "medium": _medium, "heavy": _heavy}
# The ``common.vision.tta`` views each preset shows the model in training. A TTA view outside this set (a
# vertical flip for a model trained with horizontal flips only) is an image the model never saw: on
# oriented parts such as Nexperia's it looks like a defect, and the averaged probabilities drift.
TRAINED_VIEWS: dict[str, frozenset[str]] = {
    "none": frozenset({"identity"}),
    "light": frozenset({"identity", "hflip"}),
    "seed": frozenset({"identity", "hflip"}),
    "medium": frozenset({"identity", "hflip", "vflip", "hvflip"}),
    "heavy": frozenset({"identity", "hflip", "vflip", "hvflip"}),
}


def build_transform(preset: str, img_size: int | tuple[int, int], train: bool,
                    mean: float | None = None, std: float | None = None, seed: int | None = None) -> A.Compose:
    """Resize + (if ``train``) the preset's augmentations + scaling to float32 + ``(1, H, W)`` tensor.

    ``img_size`` is an int (square) or ``(height, width)``. ``mean``/``std`` standardise after scaling
    to ``[0, 1]``; without them the output is in ``[0, 1]``. ``seed`` makes the pipeline reproducible.
    """
    if preset not in AUGMENT_PRESETS:
        raise BadInput(f"unknown augmentation preset {preset!r}; choose one of {sorted(AUGMENT_PRESETS)}")
    if (mean is None) != (std is None):
        raise BadInput("give both mean and std, or neither")
    height, width = (img_size, img_size) if isinstance(img_size, int) else img_size
    augment = AUGMENT_PRESETS[preset]() if train else []
    normalise = (A.Normalize(mean=0.0, std=1.0, max_pixel_value=255.0) if mean is None
                 else A.Normalize(mean=mean, std=std, max_pixel_value=255.0))
    return A.Compose([A.Resize(height, width, interpolation=cv2.INTER_AREA), *augment, normalise, ToTensorV2()],
                     seed=seed)
