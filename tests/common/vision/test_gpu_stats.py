"""The fold's GPU figures: nvidia-smi's utilisation sampled (a stand-in script here: no GPU in the tests)."""
import torch

from common.vision.gpu_stats import GpuMonitor


def test_utilisation_is_read_from_nvidia_smi_and_a_cpu_has_no_figures(tmp_path):
    fake = tmp_path / "nvidia-smi"
    fake.write_text('#!/bin/sh\n[ "$4" = 1 ] && echo " 57" || exit 9\n')  # answers for GPU 1 only
    fake.chmod(0o755)
    assert GpuMonitor(torch.device("cuda", 1), command=str(fake)).utilisation() == 57.0
    assert GpuMonitor(torch.device("cuda", 0), command=str(fake)).utilisation() is None
    assert GpuMonitor(torch.device("cuda", 1), command=str(tmp_path / "absent")).utilisation() is None
    with GpuMonitor(torch.device("cpu")) as cpu:
        pass
    assert cpu.summary() is None
