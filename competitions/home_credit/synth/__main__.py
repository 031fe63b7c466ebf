"""Command line: python -m competitions.home_credit.synth --out data/home_credit [--n-clients N ...]."""
from __future__ import annotations

import argparse

from common.cli import run_cli
from competitions.home_credit.synth.dataset import generate
from competitions.home_credit.synth.row_order import ROW_ORDERS


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m competitions.home_credit.synth",
                                     description="Write a synthetic Home Credit dataset (all competition files).")
    parser.add_argument("--out", required=True, help="output folder, created if missing")
    parser.add_argument("--n-clients", type=int, default=20000, help="train clients (real: 307511)")
    parser.add_argument("--n-test", type=int, default=None, help="test clients (default: a quarter of --n-clients; real: 48744)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shift", type=float, default=0.0,
                        help="share of test clients drawn from a covariate-shifted distribution of a few "
                             "application columns (0: none; recorded in _truth.json and _truth_test.csv)")
    parser.add_argument("--workers", type=int, default=1, help="processes; the output does not depend on it")
    parser.add_argument("--row-order", choices=ROW_ORDERS, default="client",
                        help="client: history tables client by client in increasing SK_ID_CURR; kaggle: in the "
                             "row order of the real files (shuffled from --seed), to benchmark the loader")
    args = parser.parse_args(argv)
    n_test = args.n_clients // 4 if args.n_test is None else args.n_test
    generate(args.out, n_clients=args.n_clients, n_test=n_test, seed=args.seed, workers=args.workers,
             shift=args.shift, row_order=args.row_order)


if __name__ == "__main__":
    run_cli(main)
