"""Fixtures: synthetic nexperia runs with a sample submission, and a fake Kaggle server."""
from __future__ import annotations

import pytest

from tests import fake_kaggle
from tests.submissions.synthetic import write_run, write_sample


@pytest.fixture
def nexperia_setup(tmp_path):
    """Three nexperia runs of different quality and a sample submission; returns a dict of paths."""
    runs_dir, data_dir = tmp_path / "runs", tmp_path / "data" / "nexperia"
    runs = [write_run(runs_dir, "nexperia", f"model{i}", noise, seed=i)
            for i, noise in enumerate([1.0, 1.3, 1.6])]
    write_sample(data_dir, "nexperia")
    return {"runs": runs, "runs_dir": runs_dir, "data": data_dir, "files": tmp_path / "files",
            "ledger": tmp_path / "ledger.sqlite"}


@pytest.fixture
def fake_kaggle_server(monkeypatch, tmp_path):
    """The real client pointed at a loopback fake Kaggle, with credentials in a temporary config dir."""
    with fake_kaggle.serve() as server:
        fake_kaggle.configure_client(monkeypatch, server.base_url, tmp_path / "kaggle_config")
        yield server
