"""The README's tour, typed in order as a new user types it, runs (issue 38): on small synthetic data in the
default folders, against a fake Kaggle on loopback. Every line of the tour's block is run (``make demo`` aside,
whose whole pipeline the demo itself is), so a tour that changes is tested as it reads."""
from __future__ import annotations

import importlib
import re
import shlex
from pathlib import Path

import pytest

from competitions.home_credit.synth import generate as make_home_credit
from competitions.nexperia.synth import generate as make_nexperia
from kit import cli
from submissions.ledger import Ledger
from tests import fake_kaggle

REPO = Path(__file__).resolve().parents[1]


def tour_commands() -> list[str]:
    """The commands of the README's "A short tour" block, comments dropped."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"## A short tour\s+```bash\n(.*?)```", text, re.S).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]


def run_command(command: str) -> None:
    """One tour line, in this process: ``kit ...`` through the front door, ``python <script>.py ...`` through the
    script's main (what ``python`` runs), ending as the command line would (a KitError fails the test)."""
    words = shlex.split(command)
    if words[0] == "kit":
        assert cli.main(words[1:]) == 0, command
        return
    assert words[0] == "python" and words[1].endswith(".py"), f"a tour line the test cannot run: {command}"
    module = importlib.import_module(".".join(Path(words[1]).with_suffix("").parts))
    result = module.main(words[2:])
    assert not isinstance(result, int) or result == 0, command


@pytest.fixture
def new_user(tmp_path, monkeypatch):
    """Small synthetic data where the commands look by default and every output under ``tmp_path``."""
    for name, folder in (("DATA", "data"), ("RUNS", "runs"), ("CACHE", "cache"), ("SUBMISSIONS", "submissions")):
        monkeypatch.setenv(f"KIT_{name}_ROOT", str(tmp_path / folder))
    make_nexperia(tmp_path / "data" / "nexperia", n_train=100, n_test=30, seed=0, progress=False)
    make_home_credit(tmp_path / "data" / "home_credit", n_clients=2000, n_test=500, seed=7)
    monkeypatch.chdir(tmp_path)
    return tmp_path


KAGGLE_COMMANDS = ("kit submit", "kit leaderboard")


@pytest.mark.slow
@pytest.mark.e2e
def test_the_readme_tour_runs_in_order(new_user, monkeypatch):
    commands = tour_commands()
    assert commands[0] == "make demo" and any(c.startswith("kit submit") for c in commands)
    first_kaggle = next(i for i, c in enumerate(commands) if c.startswith(KAGGLE_COMMANDS))
    for command in commands[1:first_kaggle]:  # no server thread while the trainer forks its loader workers
        run_command(command)
    with fake_kaggle.serve() as kaggle:  # the user's credentials, Kaggle on loopback
        fake_kaggle.configure_client(monkeypatch, kaggle.base_url, new_user / "kaggle_config")
        for command in commands[first_kaggle:]:
            run_command(command)
    sent = Ledger(new_user / "submissions" / "ledger.sqlite").table("nexperia")
    assert len(sent) == 1 and sent["message"][0].startswith("first try | CV AUC ")
    assert sent["runs"].tolist() == [["cnn"]] and sent["postprocess"][0][0]["name"] == "leak-fix"
    assert [call.method for call in kaggle.calls].count("CreateSubmission") == 1
    assert (new_user / "submissions" / "files" / "report.html").is_file()
