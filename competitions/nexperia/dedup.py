"""Duplicate and leak report of a Nexperia dataset: exact (md5) and near (dHash) duplicate groups.

    python -m competitions.nexperia.dedup --data data/nexperia --out runs/nexperia/duplicates.csv

Prints how many groups there are, how many mix labels inside train and how many cross train and test
(``common.dedup`` does the hashing; the groups feed the folds of ``data.get_folds``).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from common.cli import run_cli
from common.dedup import MAX_DISTANCE
from common.io import atomic_write_csv
from competitions.nexperia.data import duplicates_of, load_data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("data/nexperia"))
    parser.add_argument("--out", type=Path, default=Path("runs/nexperia/duplicates.csv"))
    parser.add_argument("--max-distance", type=int, default=MAX_DISTANCE)
    parser.add_argument("--skip-bad", action="store_true")
    args = parser.parse_args(argv)
    dups = duplicates_of(load_data(args.data, skip_bad=args.skip_bad), args.max_distance)
    atomic_write_csv(args.out, dups.groups())
    for key, value in dups.summary().items():
        print(f"{key:32s} {value}")
    print(f"report: {args.out}")


if __name__ == "__main__":
    run_cli(main)
