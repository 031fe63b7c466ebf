"""The torch device and thread count of a run, resolved in one place (``--device``, ``--threads``).

``DeviceOptions`` is the option pair of the commands that run torch (a mixin of their configs); commands that
run none (LightGBM, scikit-learn only) do not have them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

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


def set_threads(threads: int) -> None:
    """torch's CPU threads (0 keeps torch's default); on a crowded machine 1 is often fastest."""
    if threads < 0:
        raise BadInput(f"option --threads must be >= 0, got {threads}")
    if threads:
        import torch

        torch.set_num_threads(threads)
