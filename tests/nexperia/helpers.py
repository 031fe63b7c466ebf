"""Command-line arguments of a tiny, fast CNN run for the Nexperia tests."""
from __future__ import annotations

TINY_MODEL = "{channels: [8, 16, 32, 64], stem_width: 8}"


def tiny_cnn_args(data_dir, runs, cache, name, *extra) -> list[str]:
    """``train.py`` arguments: a narrow resnet18 at 32 px for 2 epochs on 4 folds, one thread, no plots."""
    return ["--data", str(data_dir), "--runs-dir", str(runs), "--cache-dir", str(cache), "--name", name,
            "--model", "resnet18", "--model-kwargs", TINY_MODEL, "--img-size", "32", "--epochs", "2",
            "--batch-size", "32", "--n-splits", "4", "--workers", "0", "--threads", "1", "--no-progress",
            "--gradcam", "0", "--tta-compare", "none", *extra]
