"""One process, or one process per rank under ``torchrun``: the rank's device, gathering, mixed precision.

    torchrun --nproc_per_node 4 competitions/nexperia/train.py ...    # NCCL on GPUs, gloo on CPU
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from common.device import resolve_device


@dataclass
class Dist:
    """This process's rank, the number of ranks and the rank's device."""
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: str = "auto") -> Dist:
    """Single process, or join ``torchrun``'s process group (NCCL on GPUs, gloo on CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Dist(0, 1, resolve_device(device))
    want_cuda = resolve_device(device).type == "cuda"
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if want_cuda else "gloo")
    if want_cuda:
        torch.cuda.set_device(local)
    return Dist(rank, world, torch.device(f"cuda:{local}" if want_cuda else "cpu"))


def cleanup_distributed(d: Dist) -> None:
    if d.world > 1 and dist.is_initialized():
        dist.destroy_process_group()


def barrier(d: Dist) -> None:
    if d.world > 1:
        dist.barrier()


def gather(obj, d: Dist) -> list:
    """Every rank's ``obj``, on every rank."""
    if d.world == 1:
        return [obj]
    out = [None] * d.world
    dist.all_gather_object(out, obj)
    return out


def amp_dtype(device: torch.device, enabled: bool | None) -> torch.dtype | None:
    """bf16 where the device runs it (CPU with bf16 kernels, recent GPUs), else fp16 on CUDA, else none;
    ``enabled=None`` (the default of a command's ``--amp``): on CUDA only."""
    if enabled is None:
        enabled = device.type == "cuda"
    if not enabled:
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            torch.nn.functional.conv2d(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 3, 3))
        return torch.bfloat16
    except RuntimeError:
        return None
