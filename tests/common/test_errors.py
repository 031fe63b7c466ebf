"""The error policy: what the user must fix is a KitError (one line, exit 2); anything else is a bug and keeps its
traceback, a KeyError inside a competition's hook included."""
import subprocess
import sys
from pathlib import Path

import pytest

from common.errors import KitError
from common.io import DiskFullError
from common.kaggle_client import KaggleError, MissingCredentials
from common.run import RunLockedError
from competitions.home_credit.data import SchemaError
from competitions.nexperia.data import BadImagesError
from kernels.pack_code import PackingError
from submissions.quota import QuotaReached
from submissions.submit import AlreadySent
from submissions.validate import SubmissionError

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("error", [SubmissionError, QuotaReached, AlreadySent, PackingError, KaggleError,
                                   MissingCredentials, RunLockedError, DiskFullError, BadImagesError, SchemaError])
def test_every_error_the_user_must_fix_is_a_kit_error(error):
    assert issubclass(error, KitError)


PLANTED = """
import sys
from common.cli import run_cli
from common.errors import BadInput
from common.registry import Competition, register, truth_of

register(Competition(name="planted", slug="planted", marker_file="x", sample_submission="x", id_column="id",
                     target_column="y", truth="planted_hook:truth"))

def main(argv):
    if argv == ["user"]:
        raise BadInput("option --thing: 'x' is not a thing")
    return truth_of("planted", "data")  # the hook's bug: a KeyError

run_cli(main, sys.argv[1:])
"""


def run_planted(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    (tmp_path / "planted_hook.py").write_text("def truth(data_dir):\n    return {}['label_true']\n")
    (tmp_path / "planted.py").write_text(PLANTED)
    return subprocess.run([sys.executable, str(tmp_path / "planted.py"), *args], capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": f"{tmp_path}:{REPO}", "PATH": "/usr/bin:/bin"})


def test_a_key_error_inside_a_hook_shows_its_traceback(tmp_path):
    done = run_planted(tmp_path)
    assert done.returncode == 1, done.stderr
    assert "Traceback" in done.stderr and "planted_hook.py" in done.stderr
    assert done.stderr.rstrip().splitlines()[-1] == "KeyError: 'label_true'"


@pytest.mark.slow
def test_a_kit_error_is_one_line_and_exit_2_and_debug_shows_its_traceback(tmp_path):
    done = run_planted(tmp_path, "user")
    assert (done.returncode, done.stderr) == (2, "error: option --thing: 'x' is not a thing\n")
    debug = run_planted(tmp_path, "user", "--debug")
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "BadInput" in debug.stderr
