"""Tiny synthetic runs (written through common.run.Run) and sample submissions for the tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from common.registry import get_competition
from common.run import Run

N_TRAIN, N_TEST, N_FOLDS = 300, 120, 3


def train_ids(competition: str, n: int = N_TRAIN) -> list:
    return [f"WEP{i:05d}_x_{i % 7}" for i in range(n)] if competition == "nexperia" else list(range(100000, 100000 + n))


def submission_ids(competition: str, n: int = N_TEST) -> list:
    return [f"TST{i:05d}_y" for i in range(n)] if competition == "nexperia" else list(range(200000, 200000 + n))


def write_sample(data_dir: Path, competition: str, ids: list | None = None) -> Path:
    spec = get_competition(competition)
    ids = submission_ids(competition) if ids is None else ids
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / spec.sample_submission
    pd.DataFrame({spec.id_column: ids, spec.target_column: 0.5}).to_csv(path, index=False)
    return path


def write_run(runs_dir: Path, competition: str, name: str, noise: float, seed: int,
              folds: np.ndarray | None = None, ids: list | None = None, test: list | None = None) -> Path:
    """A run whose OOF scores are the target plus Gaussian noise (more noise, lower AUC), fold by fold."""
    rng = np.random.default_rng(seed)
    ids = train_ids(competition) if ids is None else ids
    y = (np.arange(len(ids)) % 10 < 3).astype(int)  # the same targets for every run
    folds = np.arange(len(ids)) % N_FOLDS if folds is None else folds
    test = submission_ids(competition) if test is None else test
    run = Run.open(competition, name, runs_dir)
    for k in range(N_FOLDS):
        rows = folds == k
        oof = pd.DataFrame({"id": np.asarray(ids, dtype=object)[rows], "target": y[rows],
                            "pred": 1 / (1 + np.exp(-(y[rows] * 2 - 1 + rng.normal(0, noise, rows.sum()))))})
        test_pred = pd.DataFrame({"id": test, "pred": rng.uniform(0, 1, len(test))})
        run.save_fold_predictions(k, oof, test_pred)
    return run.root


def assert_drawn(png) -> None:
    """A picture was drawn: the file decodes as an image of a plot's size with more than a blank background."""
    import matplotlib.pyplot as plt

    pixels = plt.imread(png)
    assert pixels.shape[0] >= 200 and pixels.shape[1] >= 300 and pixels[..., :3].std() > 0.05, png
