"""Two CPU processes under torchrun (gloo): shared sampler, BatchNorm statistics averaged over the ranks
(timm's distribute_bn), an EMA kept in step, predictions gathered across ranks."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from common.metrics import roc_auc
from competitions.nexperia.data import get_folds, load_data

pytestmark = pytest.mark.e2e  # torchrun starts the training script in processes of its own

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_torchrun_two_cpu_processes(nexperia_data, tmp_path):
    runs, cache = tmp_path / "runs", tmp_path / "cache"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(REPO / "competitions" / "nexperia" / "train.py"), "--data", str(nexperia_data),
           "--runs-dir", str(runs), "--cache-dir", str(cache), "--name", "ddp", "--device", "cpu",
           "--model", "resnet18", "--model-kwargs", "{channels: [8, 16, 32, 64], stem_width: 8}",
           "--img-size", "32", "--epochs", "1", "--batch-size", "16", "--n-splits", "4", "--workers", "0",
           "--threads", "1", "--no-progress", "--gradcam", "0", "--tta", "flips", "--tta-compare", "none",
           "--balanced-sampler", "--ema"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    root = runs / "nexperia" / "ddp"
    data = load_data(nexperia_data, cache_dir=cache)
    folds = get_folds(data, n_splits=4, runs_dir=runs)
    oof = pd.read_csv(root / "oof.csv", dtype={"id": str})
    assert sorted(oof["id"]) == sorted(folds.loc[folds["fold"] == 0, "id"])
    assert len(pd.read_csv(root / "test.csv")) == len(data.test_ids)
    summary = pd.read_csv(root / "fold0" / "summary.csv")
    metrics = json.loads((root / "metrics.json").read_text())["folds"]["0"]
    # the per-epoch AUC was computed by the ranks from gathered predictions (EMA weights): it equals the OOF's.
    # The same AUC summed in another order (or read back from CSV) may differ in the last bit: 1e-12 allows that
    # and nothing else: one swapped positive-negative pair of validation images moves it by 1e-4 or more.
    assert metrics["variants"]["none"]["auc_given"] == pytest.approx(summary["val_auc"].iloc[0], abs=1e-12)
    assert summary["weights"].iloc[0] == "ema" and metrics["weights"].startswith("ema")
    assert metrics["auc_given"]["auc"] == pytest.approx(roc_auc(oof["target"], oof["pred"]), abs=1e-12)
    assert "x2" in (root / "log.txt").read_text()


KERNEL_ARGS = ["--name", "kernel", "--device", "cpu", "--model", "resnet18", "--model-kwargs",
               "{channels: [8, 16, 32, 64], stem_width: 8}", "--img-size", "32", "--epochs", "2",
               "--batch-size", "16", "--n-splits", "4", "--workers", "0", "--threads", "1", "--no-progress",
               "--gradcam", "0", "--tta", "none", "--tta-compare", "none", "--grad-accum-steps", "2"]


def _session(folder, input_root, working, monkeypatch):
    """One Kaggle session of the kernel folder: its run.py against a local /kaggle/input and /kaggle/working."""
    import runpy
    working.mkdir()
    monkeypatch.setenv("KIT_RUNS_ROOT", str(working / "runs"))  # in a kernel: /kaggle/working/runs
    monkeypatch.setenv("KIT_CACHE_ROOT", str(working / "cache"))
    kernel = runpy.run_path(str(folder / "run.py"), run_name="kit_kernel")
    assert kernel["main"](kernel["SETTINGS"], input_root, working) == 0
    return working / "runs" / "nexperia" / "kernel"


@pytest.mark.slow
def test_a_kernel_on_two_ranks_stops_at_its_time_limit_and_the_next_session_continues(
        nexperia_data, tmp_path, monkeypatch, capfd):
    import shutil

    from kernels.build import build_kernel
    from kernels.pack_code import pack_code
    monkeypatch.setenv("KIT_KERNEL_RANKS", "2")  # as on a T4 x2 session: torchrun, here with gloo on the CPU
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    input_root = tmp_path / "input"
    shutil.copytree(nexperia_data, input_root / "semi-conductor-image-classification-second-stage")
    pack_code("me", input_root / "kaggle-kit-code", repo=REPO)
    first = build_kernel("nexperia-train", "me", fold=0, build_root=tmp_path / "build",
                         extra_args=[*KERNEL_ARGS, "--time-limit", "0.0001"])  # the first epoch, then no time
    run = _session(first, input_root, tmp_path / "session1", monkeypatch)
    out = capfd.readouterr()
    assert "torch.distributed.run --standalone --nproc_per_node 2 -m competitions.nexperia.train" in out.out
    assert "left: fold 0 from epoch 2 of 2; run the same command again" in out.err
    assert len(pd.read_csv(run / "fold0" / "summary.csv")) == 1 and not (run / "fold0" / "done.json").exists()
    assert "x2" in (run / "log.txt").read_text()

    shutil.copytree(tmp_path / "session1", input_root / first.name)  # Kaggle mounts the output as an input
    second = build_kernel("nexperia-train", "me", fold=0, build_root=tmp_path / "build", suffix="part 2",
                          extra_args=KERNEL_ARGS, continue_from=f"me/{first.name}")
    assert json.loads((second / "kernel-metadata.json").read_text())["kernel_sources"] == [f"me/{first.name}"]
    run = _session(second, input_root, tmp_path / "session2", monkeypatch)
    out = capfd.readouterr()
    assert f"continuing the runs of {first.name}: kernel" in out.out and "--time-limit 700.0" in out.out
    assert "fold 0: resumed after epoch 1" in out.err
    assert "images/s over 2 epoch(s)" in out.err  # the fold's throughput (a CPU: no GPU figures)
    summary = pd.read_csv(run / "fold0" / "summary.csv")
    assert list(summary["epoch"]) == [1, 2]
    folds = get_folds(load_data(nexperia_data, cache_dir=tmp_path / "cache"), n_splits=4, runs_dir=tmp_path / "r")
    oof = pd.read_csv(run / "oof.csv", dtype={"id": str})
    assert sorted(oof["id"]) == sorted(folds.loc[folds["fold"] == 0, "id"])
    metrics = json.loads((run / "metrics.json").read_text())["folds"]["0"]
    assert metrics["epochs_run"] == 2 and (run / "fold0" / "done.json").is_file() and (run / "test.csv").is_file()
