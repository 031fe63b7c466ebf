"""The toy cancer competition's feature step: ratios of its measurements, keyed by row id, written once into
``<runs-dir>/toy_cancer/features.parquet`` where ``python -m tests.toy.cancer --features`` joins them.

    python -m tests.toy.cancer_features --data DIR --runs-dir DIR
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from common.cli import run_cli
from common.config import option, parse_config
from common.io import atomic_write_parquet
from common.paths import runs_root

RATIOS = {"radius_over_texture": ("mean_radius", "mean_texture"),
          "worst_over_mean_area": ("worst_area", "mean_area"),
          "concavity_over_smoothness": ("mean_concavity", "mean_smoothness")}


@dataclass
class FeaturesConfig:
    """Ratios of the toy cancer measurements for train and test rows."""
    data: str = option("data/toy_cancer", help="the toy data folder (train.csv, test.csv)")
    runs_dir: str | None = option(None, help="default: $KIT_RUNS_ROOT or runs/")


def features_path(runs_dir: str | Path | None) -> Path:
    return Path(runs_dir or runs_root()) / "toy_cancer" / "features.parquet"


def ratios(rows: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"row_id": rows["row_id"]})
    for name, (top, bottom) in RATIOS.items():
        out[name] = rows[top] / rows[bottom]
    return out


def main(argv: list[str] | None = None) -> Path:
    cfg = parse_config(FeaturesConfig, argv)
    rows = pd.concat([pd.read_csv(Path(cfg.data) / name) for name in ("train.csv", "test.csv")])
    path = atomic_write_parquet(features_path(cfg.runs_dir), ratios(rows))
    print(f"features: {path}")
    return path


if __name__ == "__main__":
    run_cli(main)
