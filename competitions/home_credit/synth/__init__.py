"""Synthetic Home Credit Default Risk data: same files, columns, codes and quirks as the competition,
with a known default probability. Use `generate(out, n_clients, n_test, seed)` or
`python -m competitions.home_credit.synth --out data/home_credit`."""
from competitions.home_credit.synth.dataset import generate

__all__ = ["generate"]
