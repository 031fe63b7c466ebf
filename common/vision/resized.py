"""The images at the training resolution, resized once: a memory-mapped cache beside the decoded images.

Training at ``S`` px then reads uint8 ``(B, S, S)`` batches straight from ``<cache_dir>/resized-<S>.npy``
instead of resizing every image in every epoch. The sidecar ``resized-<S>.json`` records the source's shape
and a fingerprint (a hash of evenly spaced source images), so a cache of other images is rebuilt; a changed
image that the fingerprint does not sample goes unnoticed, which a cache keyed by the source files (as
``competitions.nexperia.data``'s is) rules out.

A build removes the sidecar first, writes the array under a temporary name, renames it into place and writes
the sidecar last: whatever a killed build leaves, the array is never taken for valid without the sidecar that
describes it.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np

from common.errors import BadInput
from common.io import atomic_path, atomic_write_json
from common.progress import progress_bar

INTERPOLATION = "INTER_AREA"  # as common.vision.augment.build_transform resizes
FINGERPRINT_IMAGES = 64
CHUNK = 512


def resized_images(images: np.ndarray, size: int, cache_dir: Path | None, progress: bool = False) -> np.ndarray:
    """uint8 ``(N, size, size)``: every image of the uint8 ``(N, H, W)`` ``images`` area-resized.

    Images already ``size`` x ``size`` come back as they are. With ``cache_dir`` the result is a read-only
    memmap of ``<cache_dir>/resized-<size>.npy``, built once (in chunks, with a progress bar when
    ``progress``) and reused while the source's fingerprint matches; without one it is built in memory.
    """
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"expected uint8 images (N, H, W); got {images.dtype} of shape {images.shape}")
    if size < 1:
        raise BadInput(f"size must be positive; got {size}")
    if images.shape[1:] == (size, size):
        return images
    if cache_dir is None:
        return _resize_into(np.empty((len(images), size, size), np.uint8), images, progress)
    path, sidecar = Path(cache_dir) / f"resized-{size}.npy", Path(cache_dir) / f"resized-{size}.json"
    expected = {"source_shape": list(images.shape), "source_fingerprint": _fingerprint(images),
                "size": size, "interpolation": INTERPOLATION}
    if _read_json(sidecar) == expected and path.is_file():
        return np.load(path, mmap_mode="r")
    sidecar.unlink(missing_ok=True)
    with atomic_path(path) as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(images), size, size))
        _resize_into(out, images, progress)
        out.flush()
        del out
    atomic_write_json(sidecar, expected)
    return np.load(path, mmap_mode="r")


def _resize_into(out: np.ndarray, images: np.ndarray, progress: bool) -> np.ndarray:
    size = out.shape[1]
    with progress_bar(total=len(images), enabled=progress, desc=f"resize to {size} px", unit="img") as bar:
        for start in range(0, len(images), CHUNK):
            chunk = np.asarray(images[start:start + CHUNK])
            for i, image in enumerate(chunk):
                out[start + i] = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
            bar.update(len(chunk))
    return out


def _fingerprint(images: np.ndarray) -> str:
    """Hash of up to ``FINGERPRINT_IMAGES`` evenly spaced images (the first and the last included)."""
    digest = hashlib.blake2b(digest_size=16)
    for i in np.unique(np.linspace(0, len(images) - 1, min(len(images), FINGERPRINT_IMAGES)).round().astype(int)):
        digest.update(np.ascontiguousarray(images[i]).tobytes())
    return digest.hexdigest()


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
