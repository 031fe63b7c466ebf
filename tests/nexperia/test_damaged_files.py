"""A damaged file the kit reads back names itself in one line (issue 38): a truncated ``best.pt`` on predict."""
import subprocess
import sys
from pathlib import Path

import pytest

from competitions.nexperia import train
from tests.nexperia.helpers import tiny_cnn_args

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.e2e
def test_predicting_from_a_damaged_best_checkpoint_is_one_line(nexperia_data, tmp_path):
    runs, cache = tmp_path / "runs", tmp_path / "cache"
    run = train.main(tiny_cnn_args(nexperia_data, runs, cache, "cnn", "--fold", "0", "--epochs", "1"))
    best = run.root / "fold0" / "best.pt"
    best.write_bytes(best.read_bytes()[:2048])
    done = subprocess.run([sys.executable, "competitions/nexperia/predict.py", "--run", str(run.root), "--fold", "0",
                           "--tta", "none", "--workers", "0", "--no-progress"], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"error: checkpoint {best} is damaged (") and done.stderr.count("\n") == 1
