"""Fixtures: a fake Kaggle server on loopback for the kernel and dataset calls of the real client."""
from __future__ import annotations

import pytest

from tests import fake_kaggle


@pytest.fixture
def fake_kaggle_server(monkeypatch, tmp_path):
    """The real client pointed at a loopback fake Kaggle, with credentials in a temporary config dir."""
    with fake_kaggle.serve() as server:
        fake_kaggle.configure_client(monkeypatch, server.base_url, tmp_path / "kaggle_config")
        yield server
