"""Every command line under submissions/ and kernels/ ends through common.cli.run_cli: bad input is one
line and a non-zero exit, ``--debug`` shows the traceback instead."""
import importlib
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
USER_FOLDER = Path(tempfile.mkdtemp(prefix="user-folder-"))  # a folder of someone's files
(USER_FOLDER / "notes.txt").write_text("mine\n")
CLIS = ["submissions.blend", "submissions.validate", "submissions.submit", "submissions.leaderboard",
        "submissions.report", "kernels.pack_code", "kernels.build", "kernels.__main__"]


def test_every_cli_module_is_listed():
    found = {f"{p.parent.name}.{p.stem}" for folder in ("submissions", "kernels")
             for p in (REPO / folder).glob("*.py") if "\ndef main(" in p.read_text()}
    assert found - {"kernels.bootstrap"} == set(CLIS)  # bootstrap.main is the kernel's entry, not a CLI


@pytest.mark.parametrize("module", CLIS)
def test_ends_through_run_cli_and_documents_debug(module, capsys):
    source = Path(importlib.import_module(module).__file__).read_text()
    assert 'if __name__ == "__main__":\n    sys.exit(cli(main))' in source
    with pytest.raises(SystemExit) as exit_info:
        importlib.import_module(module).main(["--help"])
    assert exit_info.value.code == 0 and "--debug" in capsys.readouterr().out


def _run(*args, env=None):
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env=env)


@pytest.mark.parametrize("args", [
    ["submissions.validate", "/nonexistent/sub.csv", "--competition", "nexperia"],
    ["submissions.validate", "/nonexistent/sub.csv", "--competition", "no-such-competition"],
    ["submissions.blend", "--competition", "nexperia", "--runs", "/nonexistent/run"],
    ["submissions.report", "--runs-dir", "/nonexistent/runs", "--ledger", "/nonexistent/ledger.sqlite",
     "--files-root", "/nonexistent/files", "--out", "/proc/no-such-folder/report.html"],
    ["kernels.pack_code", "--owner", "me", "--out", str(USER_FOLDER)],
])
def test_bad_input_is_one_line_and_debug_gives_the_traceback(args):
    done = _run(*args)
    assert done.returncode in (1, 2), done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    debug = _run(*args, "--debug")
    assert debug.returncode not in (0,) and "Traceback" in debug.stderr, debug.stderr
    assert (USER_FOLDER / "notes.txt").read_text() == "mine\n"
