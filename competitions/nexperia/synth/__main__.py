"""Write a synthetic Nexperia dataset in the contest's layout, with its planted truth (``_truth.csv``).

    python -m competitions.nexperia.synth --out data/nexperia [--n-train N --n-test N --seed S ...]
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from common.cli import run_cli
from common.config import option, parse_config
from competitions.nexperia.synth.writer import generate


@dataclass
class SynthConfig:
    """Write a synthetic Nexperia dataset (every contest file and the planted truth)."""
    out: str = option("data/nexperia", help="dataset folder")
    n_train: int = option(3000, min=1, help="train images (real contest: 34457)")
    n_test: int = option(750, min=1, help="test images (real contest: 3830)")
    seed: int = option(0, min=0, help="seed of every drawing")
    noise_rate: float = option(0.02, min=0, max=1, help="share of train defects labelled good")
    defect_rate: float = option(0.2, min=0, max=1, help="share of defect images per split")
    shift: float = option(0.0, min=0, max=1, help="share of test images shot with a changed acquisition (contrast, "
                                                  "brightness, lighting gradient); flagged in _truth.csv column "
                                                  "shifted (0: none)")
    workers: int = option(1, min=1, help="processes drawing images (output is identical)")
    overwrite: bool = option(False, help="replace a dataset made with other parameters")


def main(argv: list[str] | None = None) -> None:
    cfg = parse_config(SynthConfig, argv)
    start = time.perf_counter()
    out = generate(cfg.out, cfg.n_train, cfg.n_test, cfg.seed, cfg.noise_rate, defect_rate=cfg.defect_rate,
                   workers=cfg.workers, overwrite=cfg.overwrite, shift=cfg.shift)
    logging.info("%d + %d images ready in %s after %.1f s (truth: %s)", cfg.n_train, cfg.n_test, out,
                 time.perf_counter() - start, out / "_truth.csv")


if __name__ == "__main__":
    run_cli(main)
