"""A fold's GPU figures for the log: the GPU's mean utilisation while training and the peak memory allocated.

``with GpuMonitor(device) as gpu: ...`` samples ``nvidia-smi`` (present wherever the NVIDIA driver is, Kaggle's
GPU kernels included) once per ``interval`` seconds in a thread; ``gpu.summary()`` is one phrase, or None on
a CPU device.
"""
from __future__ import annotations

import subprocess
import threading

import torch


class GpuMonitor:
    def __init__(self, device: torch.device, interval: float = 1.0, command: str = "nvidia-smi"):
        self.device, self.interval, self.command = device, interval, command
        self.samples: list[float] = []
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def utilisation(self) -> float | None:
        """The GPU's utilisation in percent now, or None when ``nvidia-smi`` cannot tell."""
        index = self.device.index if self.device.index is not None else torch.cuda.current_device()
        try:
            out = subprocess.run([self.command, "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
                                  "-i", str(index)], capture_output=True, text=True, timeout=10)
            return float(out.stdout.strip()) if out.returncode == 0 else None
        except (OSError, ValueError, subprocess.TimeoutExpired):
            return None

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            value = self.utilisation()
            if value is None:
                return
            self.samples.append(value)

    def __enter__(self) -> "GpuMonitor":
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.peak_bytes = torch.cuda.max_memory_allocated(self.device)

    def summary(self) -> str | None:
        if self.device.type != "cuda":
            return None
        utilisation = (f"GPU utilisation {sum(self.samples) / len(self.samples):.0f}% (mean of "
                       f"{len(self.samples)} samples)" if self.samples else "GPU utilisation not sampled")
        return f"{utilisation}, peak memory {self.peak_bytes / 2**30:.2f} GiB"
