"""Command line: ``python -m competitions.nexperia.synth --out data/nexperia [--n-train N ...]``."""
from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from common.cli import run_cli
from competitions.nexperia.synth.writer import generate


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m competitions.nexperia.synth", description=__doc__)
    ap.add_argument("--out", type=Path, default=Path("data/nexperia"), help="dataset folder (default data/nexperia)")
    ap.add_argument("--n-train", type=int, default=3000, help="train images (real contest: 34457)")
    ap.add_argument("--n-test", type=int, default=750, help="test images (real contest: 3830)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--noise-rate", type=float, default=0.02, help="share of train defects labelled good")
    ap.add_argument("--defect-rate", type=float, default=0.2, help="share of defect images per split")
    ap.add_argument("--shift", type=float, default=0.0,
                    help="share of test images shot with a changed acquisition (contrast, brightness, lighting "
                         "gradient); flagged in _truth.csv column shifted (0: none)")
    ap.add_argument("--workers", type=int, default=1, help="processes drawing images (output is identical)")
    ap.add_argument("--overwrite", action="store_true", help="replace a dataset made with other parameters")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    out = generate(args.out, args.n_train, args.n_test, args.seed, args.noise_rate,
                   defect_rate=args.defect_rate, workers=args.workers, overwrite=args.overwrite,
                   shift=args.shift)
    logging.info("%d + %d images ready in %s after %.1f s (truth: %s)", args.n_train, args.n_test, out,
                 time.perf_counter() - start, out / "_truth.csv")


if __name__ == "__main__":
    run_cli(main)
