"""The front door: ``kit <command> [<competition>]`` reaches every command line of the kit, typos end in one line."""
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from common.registry import get_competition, known_competitions
from kit import cli

REPO = Path(__file__).resolve().parents[2]


def kit(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kit", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300, **kwargs)


def every_command() -> list[tuple[str, str | None, str]]:
    """(command, competition or None, module) of every command kit offers."""
    found = [(command, competition, module) for command, offered in cli.competition_commands().items()
             for competition, module in offered.items()]
    found += [(command, None, shared.module) for command, shared in cli.SHARED.items()]
    return found + [("kernel", None, module) for module in cli.KERNEL_MODULES.values()]


@pytest.mark.slow
@pytest.mark.e2e
def test_help_lists_every_command_of_every_competition_by_workflow_step():
    done = kit("--help")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for command, competition, _ in every_command():
        shown = f"{command} {competition}" if competition else command
        assert any(line.strip().startswith(shown + " ") for line in lines), f"{shown} missing from kit --help"
    # in workflow order: the data before training, training before blending, blending before the leaderboard
    order = [next(i for i, line in enumerate(lines) if line.strip().startswith(word))
             for word in ("synth nexperia", "train nexperia", "blend", "leaderboard")]
    assert order == sorted(order)


@pytest.mark.parametrize("command, competition, module", every_command(), ids=lambda v: str(v))
def test_every_command_module_has_a_main(command, competition, module):
    assert callable(importlib.import_module(module).main), module


def test_every_registered_command_is_a_module_of_its_competition():
    for name in known_competitions():
        for command, module in get_competition(name).commands.items():
            assert module.startswith(f"competitions.{name}."), (name, command, module)


@pytest.mark.slow
@pytest.mark.parametrize("args, says", [
    (["trian", "nexperia"], "unknown command 'trian'; did you mean 'train'?"),
    (["train"], "kit train needs a competition"),
    (["train", "--fold", "0"], "kit train needs a competition"),
    (["train", "titanic"], "unknown competition 'titanic'"),
    (["dedup", "home_credit"], "competition home_credit has no command 'dedup'; it is offered for ['nexperia']"),
    (["synth", "nexperia", "--n-train", "-3"], "option --n-train: -3 must be >= 1"),
])
@pytest.mark.e2e
def test_a_wrong_command_line_is_one_line_and_exit_2(args, says):
    done = kit(*args)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and says in done.stderr, done.stderr
    assert "Traceback" in kit(*args, "--debug").stderr


@pytest.mark.slow
@pytest.mark.e2e
def test_a_competition_command_runs_as_its_script_does(tmp_path):
    """``kit synth home_credit`` writes byte for byte what ``python -m competitions.home_credit.synth`` writes."""
    args = ["--n-clients", "300", "--n-test", "100", "--seed", "3"]
    assert kit("synth", "home_credit", "--out", str(tmp_path / "kit"), *args).returncode == 0
    subprocess.run([sys.executable, "-m", "competitions.home_credit.synth", "--out", str(tmp_path / "module"), *args],
                   cwd=REPO, check=True, capture_output=True, timeout=300)
    written = sorted(p.name for p in (tmp_path / "kit").iterdir())
    assert "application_train.csv" in written and written == sorted(p.name for p in (tmp_path / "module").iterdir())
    for name in written:
        assert (tmp_path / "kit" / name).read_bytes() == (tmp_path / "module" / name).read_bytes(), name


@pytest.mark.slow
@pytest.mark.e2e
def test_a_command_names_itself_as_typed_in_its_help():
    done = kit("train", "nexperia", "--help")
    assert done.returncode == 0 and done.stdout.startswith("usage: kit train nexperia "), done.stdout[:200]


def test_a_competition_name_after_a_shared_command_is_its_competition():
    assert cli.resolve(["blend", "nexperia", "--runs", "cnn"])[:2] == (
        "submissions.blend", ["--competition", "nexperia", "--runs", "cnn"])
    assert cli.resolve(["leaderboard", "sync", "home_credit"])[:2] == (
        "submissions.leaderboard", ["sync", "--competition", "home_credit"])
    assert cli.resolve(["kernel", "build", "nexperia-train", "--fold", "0"])[:2] == (
        "kernels.build", ["nexperia-train", "--fold", "0"])
    assert cli.resolve(["kernel", "status", "me/kit-x"])[:2] == ("kernels.__main__", ["status", "me/kit-x"])
    assert cli.resolve(["report"])[:2] == ("submissions.report.__main__", [])


def test_the_console_script_is_declared():
    assert "kit = kit.cli:main" in (REPO / "setup.cfg").read_text()
