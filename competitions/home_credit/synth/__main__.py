"""Write a synthetic Home Credit dataset: the eight competition tables and the sample submission, with a planted truth.

    python -m competitions.home_credit.synth --out data/home_credit [--n-clients N --n-test N --seed S ...]
"""
from __future__ import annotations

from dataclasses import dataclass

from common.cli import run_cli
from common.config import option, parse_config
from competitions.home_credit.synth.dataset import generate
from competitions.home_credit.synth.row_order import ROW_ORDERS


@dataclass
class SynthConfig:
    """Write a synthetic Home Credit dataset (all competition files)."""
    out: str = option(required=True, help="output folder, created if missing")
    n_clients: int = option(20000, min=1, help="train clients (real: 307511)")
    n_test: int | None = option(None, min=1, help="test clients (default: a quarter of --n-clients; real: 48744)")
    seed: int = option(0, min=0, help="seed of every drawing")
    shift: float = option(0.0, min=0, max=1, help="share of test clients drawn from a covariate-shifted distribution "
                                                  "of a few application columns (0: none; recorded in _truth.json "
                                                  "and _truth_test.csv)")
    workers: int = option(1, min=1, help="processes; the output does not depend on it")
    row_order: str = option("client", choices=ROW_ORDERS,
                            help="client: history tables client by client in increasing SK_ID_CURR; kaggle: in the "
                                 "row order of the real files (shuffled from --seed), to benchmark the loader")


def main(argv: list[str] | None = None) -> None:
    cfg = parse_config(SynthConfig, argv)
    n_test = cfg.n_clients // 4 if cfg.n_test is None else cfg.n_test
    generate(cfg.out, n_clients=cfg.n_clients, n_test=n_test, seed=cfg.seed, workers=cfg.workers, shift=cfg.shift,
             row_order=cfg.row_order)


if __name__ == "__main__":
    run_cli(main)
