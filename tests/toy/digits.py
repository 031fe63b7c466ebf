"""A toy image competition: scikit-learn's 8x8 digits, 'is it a 3?', as PNG files; a timm CNN on the kit's engine.

Everything competition-specific is here: the data writer (a stand-in for the Kaggle download), the registry
entry, the layout reader and the training CLI.

    python -m tests.toy.digits --data DIR --fold all
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from sklearn.datasets import load_digits

from common.cli import run_cli
from common.config import option, parse_config, parse_folds

from common.folds import get_or_make_folds
from common.registry import Competition, register
from common.run import Run
from common.vision.distributed import setup_distributed
from common.vision.trainer import ImageTrainConfig, train_folds

SPEC = register(Competition(name="toy_digits", slug="toy-digits", marker_file="sample_submission.csv",
                                   sample_submission="sample_submission.csv", id_column="image",
                                   target_column="is_three"))
SIZE = 24


def write_data(out: Path, n_train: int = 400, n_test: int = 100, seed: int = 0) -> Path:
    """``train/<0|1>/<id>.png``, ``test/<id>.png`` and ``sample_submission.csv`` (image, is_three) in ``out``."""
    digits = load_digits()
    order = np.random.default_rng(seed).permutation(len(digits.images))[:n_train + n_test]
    for i, row in enumerate(order):
        image = cv2.resize((digits.images[row] * 255 / 16).astype(np.uint8), (SIZE, SIZE),
                           interpolation=cv2.INTER_LINEAR)
        folder = out / "train" / str(int(digits.target[row] == 3)) if i < n_train else out / "test"
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"d{row:04d}.png"), image)
    test_ids = sorted(p.stem for p in (out / "test").glob("*.png"))
    pd.DataFrame({"image": test_ids, "is_three": 0.5}).to_csv(out / "sample_submission.csv", index=False)
    return out


@dataclass
class DigitsData:
    """The layout read into the arrays the engine trains on."""
    train_ids: np.ndarray
    train_labels: np.ndarray
    train_images: np.ndarray
    test_ids: np.ndarray
    test_images: np.ndarray


def load_data(data_dir: Path) -> DigitsData:
    train = sorted((p.stem, int(p.parent.name), p) for p in (data_dir / "train").glob("*/*.png"))
    test = sorted((p.stem, p) for p in (data_dir / "test").glob("*.png"))
    if not train:
        raise FileNotFoundError(f"no training images under {data_dir / 'train'}")
    read = lambda p: cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)  # noqa: E731
    return DigitsData(np.array([i for i, _, _ in train]), np.array([y for _, y, _ in train], np.int8),
                      np.stack([read(p) for _, _, p in train]), np.array([i for i, _ in test]),
                      np.stack([read(p) for _, p in test]))


@dataclass
class TrainConfig(ImageTrainConfig):
    """A small CNN on the toy digits."""
    name: str = option("cnn", help="run name: runs/toy_digits/<name>")
    img_size: int = option(SIZE, help="square input size")
    augment: str = option("none", help="digits have a handedness: no flips")
    tta: str = option("none", help="no TTA: flipped digits are other digits")
    tta_compare: list[str] = option(default_factory=lambda: ["none"])


def main(argv: list[str] | None = None) -> dict:
    cfg = parse_config(TrainConfig, argv)
    data = load_data(Path(cfg.data or "data/toy_digits"))
    run = Run.open(SPEC.name, cfg.name, cfg.runs_dir)
    run.save_config(cfg)
    folds = get_or_make_folds(run.root.parent / "folds.csv", data.train_ids, data.train_labels,
                              n_splits=cfg.n_splits, seed=cfg.seed)
    return train_folds(cfg, data, folds["fold"].to_numpy(), parse_folds(cfg.fold, cfg.n_splits), run,
                       setup_distributed(cfg.device))


if __name__ == "__main__":
    run_cli(main)
