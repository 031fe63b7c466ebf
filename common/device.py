"""The torch device and thread count of a run, resolved in one place (``--device``, ``--threads``), and whether
a GPU is visible at all for the commands that train on one without torch (:func:`gpu_count`, :func:`require_gpu`).

``DeviceOptions`` is the option pair of the commands that run torch (a mixin of their configs); commands that
run none (LightGBM, scikit-learn only) do not have them.
"""
from __future__ import annotations

import ctypes
import os
import re
from dataclasses import dataclass
from functools import lru_cache

from common.errors import BadInput
from common.config import option


@dataclass
class DeviceOptions:
    device: str = option("auto", volatile=True, help="auto | cpu | cuda | cuda:1")
    threads: int = option(0, volatile=True, min=0, help="torch CPU threads (0: torch's default; on a crowded "
                                                        "machine 1 is often fastest)")


def resolve_device(name: str = "auto"):
    """``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda`` or ``cuda:N``; a clear error otherwise."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not re.fullmatch(r"cpu|cuda(:\d+)?", name):
        raise BadInput(f"option --device must be auto, cpu, cuda or cuda:N, got {name!r}")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise BadInput(f"option --device {name}: no CUDA device is available here (use --device cpu)")
    return torch.device(name)


def gpu_count() -> int:
    """The NVIDIA GPUs this process may use: none when ``CUDA_VISIBLE_DEVICES`` hides them all, else the driver's
    count (NVML, what ``nvidia-smi`` reads: no torch import, no CUDA context, so forking stays safe)."""
    return 0 if _all_hidden() else _driver_gpu_count()


def _all_hidden() -> bool:
    """``CUDA_VISIBLE_DEVICES`` hides every device: CUDA stops at its first invalid entry ("" and "-1" hide all)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    return visible is not None and (not visible.strip() or visible.split(",")[0].strip().startswith("-"))


@lru_cache(maxsize=1)
def _driver_gpu_count() -> int:
    try:
        nvml = ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return 0  # no NVIDIA driver installed
    count = ctypes.c_uint(0)
    if nvml.nvmlInit_v2() != 0:
        return 0
    try:
        return count.value if nvml.nvmlDeviceGetCount_v2(ctypes.byref(count)) == 0 else 0
    finally:
        nvml.nvmlShutdown()


def require_gpu(what: str) -> None:
    """Refuse ``what`` (e.g. "option --device cuda") in one line when no GPU is visible: libraries would train on
    the CPU while their records say cuda, or fail deep inside a run."""
    if gpu_count() == 0:
        hidden = " (CUDA_VISIBLE_DEVICES hides every device)" if _all_hidden() else ""
        raise BadInput(f"{what}: no GPU is visible here{hidden}; use --device cpu")


def set_threads(threads: int) -> None:
    """torch's CPU threads (0 keeps torch's default); on a crowded machine 1 is often fastest."""
    if threads < 0:
        raise BadInput(f"option --threads must be >= 0, got {threads}")
    if threads:
        import torch

        torch.set_num_threads(threads)
