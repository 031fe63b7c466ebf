"""Every command line under submissions/ and kernels/ is parsed by the kit's typed parser and ends through
common.cli.run_cli: ``--debug`` is in its ``--help``, bad input is one line ``error: ...`` with exit status 2, and
``--debug`` shows the traceback instead."""
import importlib
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from kernels.build import BUILD_ROOT

REPO = Path(__file__).resolve().parents[2]
USER_FOLDER = Path(tempfile.mkdtemp(prefix="user-folder-"))  # a folder of someone's files
(USER_FOLDER / "notes.txt").write_text("mine\n")
CLIS = ["submissions.blend", "submissions.validate", "submissions.submit", "submissions.leaderboard",
        "submissions.report.__main__", "kernels.pack_code", "kernels.build", "kernels.__main__"]
ENDING = 'if __name__ == "__main__":\n    sys.exit(run_cli(main))\n'


def test_every_cli_module_is_listed():
    found = {".".join(p.relative_to(REPO).with_suffix("").parts) for folder in ("submissions", "kernels")
             for p in (REPO / folder).rglob("*.py")
             if not p.relative_to(REPO).is_relative_to(BUILD_ROOT) and "\ndef main(" in p.read_text()}
    assert found - {"kernels.bootstrap"} == set(CLIS)  # bootstrap.main is the kernel's entry, not a CLI


@pytest.mark.parametrize("module", CLIS)
def test_ends_through_run_cli_and_documents_debug(module, capsys):
    source = Path(importlib.import_module(module).__file__).read_text()
    assert source.endswith(ENDING) and ("parse_config(" in source or "parse_subcommand(" in source)
    with pytest.raises(SystemExit) as exit_info:
        importlib.import_module(module).main(["--help"])
    assert exit_info.value.code == 0 and "--debug" in capsys.readouterr().out


@pytest.mark.parametrize("module, argv", [("submissions.leaderboard", ["final", "--help"]),
                                          ("kernels.__main__", ["push", "--help"])])
def test_each_sub_command_documents_debug(module, argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        importlib.import_module(module).main(argv)
    assert exit_info.value.code == 0 and "--debug" in capsys.readouterr().out


def _run(*args, env=None):
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env=env)


@pytest.mark.slow
@pytest.mark.parametrize("args", [
    ["submissions.validate", "/nonexistent/sub.csv", "--competition", "nexperia"],
    ["submissions.validate", "/nonexistent/sub.csv", "--competition", "no-such-competition"],
    ["submissions.blend", "--competition", "nexperia", "--runs", "/nonexistent/run"],
    ["submissions.submit", "--competition", "nexperia", "-m", "x"],
    ["submissions.leaderboard", "final", "--competition", "no-such-competition"],
    ["submissions.report", "--runs-dir", "/nonexistent/runs", "--ledger", "/nonexistent/ledger.sqlite",
     "--files-root", "/nonexistent/files", "--out", "/proc/no-such-folder/report.html"],
    ["kernels.pack_code", "--owner", "me", "--out", str(USER_FOLDER)],
    ["kernels.build", "no-such-target", "--owner", "me"],
    ["kernels", "push-dataset", str(USER_FOLDER)],
])
def test_bad_input_is_one_line_exit_2_and_debug_gives_the_traceback(args):
    done = _run(*args)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    debug = _run(*args, "--debug")
    assert debug.returncode == 1 and "Traceback" in debug.stderr, debug.stderr
    assert (USER_FOLDER / "notes.txt").read_text() == "mine\n"
