"""Latent client traits: they drive the application columns and the behaviour written in the side tables
(bureau, previous loans, instalments, cards); the target depends on that behaviour as written (see
`behaviour.py`), not on the traits themselves.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

@dataclass(frozen=True)
class Traits:
    """Per-client latent traits (standard normal unless said otherwise)."""

    credit: np.ndarray  # general creditworthiness seen by the external scores (higher = riskier)
    pay: np.ndarray  # late-payment propensity
    lev: np.ndarray  # indebtedness: open bureau debt, card utilisation
    refuse: np.ndarray  # propensity to be refused by the lender
    trend: np.ndarray  # recent worsening of payment behaviour (last 12 months)
    activity: np.ndarray  # appetite for credit: number of bureau and previous loans (log scale)

    @property
    def n(self) -> int:
        return len(self.credit)


def sample_traits(rng: np.random.Generator, n: int) -> Traits:
    """Correlated latent traits of `n` clients."""
    credit = rng.standard_normal(n)

    def linked(rho: float) -> np.ndarray:
        return rho * credit + np.sqrt(1.0 - rho**2) * rng.standard_normal(n)

    pay = linked(0.35)
    lev = linked(0.30)
    refuse = 0.3 * credit + 0.3 * pay + np.sqrt(1 - 0.3**2 - 0.3**2 - 2 * 0.3 * 0.3 * 0.35) * rng.standard_normal(n)
    trend = rng.standard_normal(n)
    activity = 0.25 * lev + 0.5 * rng.standard_normal(n)
    return Traits(credit=credit, pay=pay, lev=lev, refuse=refuse, trend=trend, activity=activity)

