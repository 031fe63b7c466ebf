"""Session fixture: one tiny synthetic Home Credit dataset shared by the Home Credit tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from competitions.home_credit.synth import generate

TINY_TRAIN = 2000
TINY_TEST = 500
TINY_SEED = 7


@pytest.fixture(scope="session")
def home_credit_data(tmp_path_factory) -> Path:
    """Folder with every competition file for 2,000 train + 500 test synthetic clients (a few seconds)."""
    return generate(tmp_path_factory.mktemp("home_credit") / "data", n_clients=TINY_TRAIN, n_test=TINY_TEST,
                    seed=TINY_SEED)
