"""Duplicate and leak report of a Nexperia dataset: exact (md5) and near (dHash + detail correlation) groups.

    python -m competitions.nexperia.dedup --data data/nexperia --out runs/nexperia/duplicates.csv

Prints what was grouped (images, groups, the largest, how many mix labels inside train and how many cross train
and test) and how (the dHash threshold calibrated on the data set and its rule, candidate and confirmed pairs),
with a warning line for groups that mix labels; writes the groups' table and ``dedup_summary.json`` beside it
(``common.dedup`` does the finding; the same groups feed the folds of ``data.get_folds``).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from common.cli import run_cli
from common.config import option, parse_config
from common.dedup import MAX_DISTANCE, MIN_CORRELATION
from common.io import atomic_write_csv, atomic_write_json
from common.paths import default_data_dir, runs_root
from competitions.nexperia.data import duplicates_of, load_data

log = logging.getLogger(__name__)
SUMMARY_NAME = "dedup_summary.json"


@dataclass
class DedupConfig:
    """Duplicate and leak report of a Nexperia dataset."""
    data: str | None = option(None, help="data folder (default data/nexperia; in a Kaggle kernel the attached "
                                         "competition)")
    out: str | None = option(None, help="the report CSV (default runs/nexperia/duplicates.csv under $KIT_RUNS_ROOT "
                                        "or runs/); dedup_summary.json is written beside it")
    max_distance: int | None = option(None, min=0, max=64,
                                      help=f"most differing dHash bits of a candidate pair (default: calibrated on "
                                           f"the data set, at most {MAX_DISTANCE})")
    min_correlation: float = option(MIN_CORRELATION, min=-1, max=1,
                                    help="detail correlation that confirms a candidate pair as a duplicate")
    skip_bad: bool = option(False, help="skip unreadable/empty/wrongly sized images instead of stopping")


def main(argv: list[str] | None = None) -> None:
    cfg = parse_config(DedupConfig, argv)
    out = Path(cfg.out) if cfg.out else runs_root() / "nexperia" / "duplicates.csv"
    data = load_data(cfg.data or default_data_dir("nexperia"), skip_bad=cfg.skip_bad)
    dups = duplicates_of(data, cfg.max_distance, cfg.min_correlation)
    atomic_write_csv(out, dups.groups())
    summary = dups.summary()
    atomic_write_json(out.parent / SUMMARY_NAME, summary)
    for key, value in summary.items():
        print(f"{key:32s} {value}")
    for line in dups.warnings():
        print(f"WARNING: {line}")
    print(f"report: {out} (summary: {out.parent / SUMMARY_NAME})")


if __name__ == "__main__":
    run_cli(main)
