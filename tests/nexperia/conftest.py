"""Shared fixture: a tiny synthetic Nexperia dataset (240 train / 60 test images), built once per session."""
from __future__ import annotations

from pathlib import Path

import pytest

from competitions.nexperia.synth import generate

TINY = {"n_train": 240, "n_test": 60, "seed": 0, "noise_rate": 0.02}


@pytest.fixture(scope="session")
def nexperia_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Data folder in the 2020 contest layout; ``_truth.csv`` in it holds the planted truth."""
    return generate(tmp_path_factory.mktemp("nexperia") / "data", progress=False, **TINY)
