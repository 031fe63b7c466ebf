"""docs/options.md is generated from the option dataclasses, covers every command line and must match the code."""
import pytest
import ast
from pathlib import Path

from common import options_doc
from kernels.build import BUILD_ROOT

ENTRIES_NOT_COMMANDS = {Path("kernels/bootstrap.py")}  # bootstrap.main is the Kaggle kernel's entry


@pytest.mark.slow
def test_docs_options_md_is_up_to_date():
    assert options_doc.DOC.read_text() == options_doc.render(), \
        "docs/options.md is stale: run python -m common.options_doc"


@pytest.mark.slow
def test_every_module_with_a_main_is_documented():
    with_main = set()
    for folder in ("common", "competitions", "submissions", "kernels"):
        for path in (options_doc.ROOT / folder).rglob("*.py"):
            if path.relative_to(options_doc.ROOT).is_relative_to(BUILD_ROOT):
                continue  # the kernels `make demo` built: their run.py is the kernel's, not a kit command
            tree = ast.parse(path.read_text())
            if any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body):
                with_main.add(path.relative_to(options_doc.ROOT))
    documented = {command for command, _ in options_doc.commands()}
    missing = [str(rel) for rel in sorted(with_main - ENTRIES_NOT_COMMANDS)
               if not any(c == options_doc.command_name(rel) or c.startswith(options_doc.command_name(rel) + " ")
                          for c in documented)]
    assert not missing, f"command lines without their options in docs/options.md: {missing}"


@pytest.mark.slow
def test_every_dataclass_command_line_is_documented_with_its_defaults():
    commands = dict(options_doc.commands())
    assert {"python competitions/nexperia/train.py", "python competitions/home_credit/train.py",
            "python competitions/nexperia/tune.py --family cnn", "python competitions/home_credit/tune.py",
            "python -m competitions.home_credit.features.build", "python -m submissions.blend",
            "python -m submissions.leaderboard sync", "python -m submissions.report", "python -m kernels push",
            "python -m kernels.build"} <= set(commands)
    text = options_doc.render()
    assert "| `--pretrained` | none |" in text and "| `--lr` | 0.001 | > 0 |" in text
    assert "| `--seed` | 42 | >= 0 and <= 2147483647 |" in text
    # positionals, short flags, repeatable options and sub-commands
    assert "| `FILE` (positional) | none |  |  | submission CSV (required) |" in text
    assert "| `-m, --message` | none |  |  | what this submission tries (required) |" in text
    assert "| `--post` (repeatable) | (empty) |" in text
    assert "## `python -m submissions.leaderboard final`\n\nThe two final submissions to select, picked on CV." in text


def test_command_names_are_how_the_commands_start():
    assert options_doc.command_name(Path("competitions/nexperia/train.py")) == "python competitions/nexperia/train.py"
    assert options_doc.command_name(Path("competitions/nexperia/synth/__main__.py")) == \
        "python -m competitions.nexperia.synth"
    assert options_doc.command_name(Path("kernels/__main__.py")) == "python -m kernels"
    assert options_doc.command_name(Path("submissions/report/__main__.py")) == "python -m submissions.report"


@pytest.mark.slow
def test_check_says_when_the_page_is_stale(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "options.md"
    stale.write_text("# old\n")
    monkeypatch.setattr(options_doc, "DOC", stale)
    assert options_doc.main(["--check"]) == 1
    assert "is stale: run python -m common.options_doc" in capsys.readouterr().err
    assert options_doc.main([]) == 0 and options_doc.main(["--check"]) == 0


def test_every_competition_command_is_documented_under_its_kit_name():
    text = options_doc.render()
    kit_names = options_doc.kit_commands()
    assert kit_names["competitions.nexperia.train"] == "kit train nexperia"
    for module, kit_name in kit_names.items():
        assert f" (`{kit_name}" in text, f"{kit_name} ({module}) has no section in docs/options.md"
    assert "## `python competitions/nexperia/tune.py --family vae` (`kit tune nexperia --family vae`)" in text
