"""Whether a GPU is visible, decided without torch (``common.device.gpu_count``)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from common.device import gpu_count, require_gpu
from common.errors import BadInput


@pytest.mark.parametrize("hidden", ["", "-1", " -1,0"])
def test_cuda_visible_devices_can_hide_every_gpu(monkeypatch, hidden):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", hidden)
    assert gpu_count() == 0
    with pytest.raises(BadInput, match=r"^option --device cuda: no GPU is visible here \(CUDA_VISIBLE_DEVICES"):
        require_gpu("option --device cuda")


def test_the_count_imports_no_torch():
    code = "import sys; from common.device import gpu_count; gpu_count(); print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
