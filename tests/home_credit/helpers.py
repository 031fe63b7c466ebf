"""Shared pieces of the Home Credit pipeline tests: isolated cache/run folders and fast settings."""
from __future__ import annotations

import pytest

# Few rounds, one thread (the test machine is shared), a high learning rate: seconds per fold.
FAST = ["--num-threads", "1", "--learning-rate", "0.2", "--num-leaves", "7", "--num-boost-round", "25",
        "--early-stopping-rounds", "10", "--log-period", "0"]


@pytest.fixture(scope="session")
def kit_roots(tmp_path_factory):
    """Point the kit's cache and runs folders at one temporary folder for the session (so the tiny
    dataset's features are built once; run names differ between test modules)."""
    root = tmp_path_factory.mktemp("kit")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KIT_CACHE_ROOT", str(root / "cache"))
        patch.setenv("KIT_RUNS_ROOT", str(root / "runs"))
        yield root
