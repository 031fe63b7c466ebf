"""Render one synthetic image from its spec: scene, optional defect, camera; plus near-duplicates."""
from __future__ import annotations

import numpy as np

from competitions.nexperia.synth.defects import PAINTERS
from competitions.nexperia.synth.scene import (Box, Product, apply_camera, draw_background, draw_device,
                                               grain, move_box, place_device)

DEFECT_TYPES: tuple[str, ...] = (
    "chipping", "device_flip", "empty_pocket", "foreign_material", "lead_defect",
    "lead_glue", "marking_defect", "pocket_damage", "scratch",
)
# Share of each type among defects; flips and empty pockets are easy and kept rare.
DEFECT_WEIGHTS: tuple[float, ...] = (0.14, 0.04, 0.03, 0.18, 0.14, 0.10, 0.12, 0.10, 0.15)


def render(product: Product, date: str, defect_type: str, severity: float, seed: int) -> tuple[np.ndarray, Box | None]:
    """A 267x275 uint8 image of ``product`` marked ``date``; ``defect_type`` '' means good. Returns it and the box."""
    rng = np.random.default_rng(seed)
    img, lay = draw_background(rng)
    place_device(rng, product, lay)
    box: Box | None = None
    if defect_type == "empty_pocket":
        box = lay.device_box
    else:
        draw_device(img, product, date, lay, rng, flipped=defect_type == "device_flip")
        if defect_type == "device_flip":
            box = lay.device_box
        elif defect_type:
            box = PAINTERS[defect_type](img, lay, rng, severity)
    out, m = apply_camera(img, rng)
    return out, (move_box(box, m) if box is not None else None)


def near_copy(img: np.ndarray, seed: int) -> np.ndarray:
    """A near-duplicate: the same shot re-saved with a slight brightness change and fresh noise."""
    rng = np.random.default_rng(seed)
    out = img.astype(np.float32) * rng.uniform(0.97, 1.03) + rng.choice([-1, 1]) * rng.uniform(2, 5)
    out += grain(rng, img.shape, 1.5)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def acquisition_shift(img: np.ndarray, seed: int) -> np.ndarray:
    """The same scene shot on a re-adjusted station: lower contrast, brighter, with a lighting gradient
    across the image (``--shift``: a realistic acquisition change, not a defect)."""
    rng = np.random.default_rng(seed)
    h, w = img.shape
    contrast = rng.uniform(0.7, 0.8)
    brightness = rng.uniform(25.0, 35.0)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ramp = (np.cos(angle) * (xx / w - 0.5) + np.sin(angle) * (yy / h - 0.5)) * rng.uniform(30.0, 45.0)
    mean = float(img.mean())
    out = (img.astype(np.float32) - mean) * contrast + mean + brightness + ramp
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
