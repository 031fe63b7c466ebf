"""Duplicate and leak report of a Nexperia dataset: exact (md5) and near (dHash) duplicate groups.

    python -m competitions.nexperia.dedup --data data/nexperia --out runs/nexperia/duplicates.csv

Prints how many groups there are, how many mix labels inside train and how many cross train and test
(``common.dedup`` does the hashing; the groups feed the folds of ``data.get_folds``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from common.cli import run_cli
from common.config import option, parse_config
from common.dedup import MAX_DISTANCE
from common.io import atomic_write_csv
from common.paths import default_data_dir, runs_root
from competitions.nexperia.data import duplicates_of, load_data


@dataclass
class DedupConfig:
    """Duplicate and leak report of a Nexperia dataset."""
    data: str | None = option(None, help="data folder (default data/nexperia; in a Kaggle kernel the attached "
                                         "competition)")
    out: str | None = option(None, help="the report CSV (default runs/nexperia/duplicates.csv under $KIT_RUNS_ROOT "
                                        "or runs/)")
    max_distance: int = option(MAX_DISTANCE, min=0, max=64, help="most differing dHash bits of a near duplicate")
    skip_bad: bool = option(False, help="skip unreadable/empty/wrongly sized images instead of stopping")


def main(argv: list[str] | None = None) -> None:
    cfg = parse_config(DedupConfig, argv)
    out = Path(cfg.out) if cfg.out else runs_root() / "nexperia" / "duplicates.csv"
    dups = duplicates_of(load_data(cfg.data or default_data_dir("nexperia"), skip_bad=cfg.skip_bad), cfg.max_distance)
    atomic_write_csv(out, dups.groups())
    for key, value in dups.summary().items():
        print(f"{key:32s} {value}")
    print(f"report: {out}")


if __name__ == "__main__":
    run_cli(main)
