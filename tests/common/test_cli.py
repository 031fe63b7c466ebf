"""One error printer for every CLI: a KitError is one line and exit 2, a bug keeps its traceback, --debug
shows the traceback of a KitError too."""
import pytest

from common.cli import run_cli
from common.errors import MissingInput


def main(argv):
    if argv and argv[0] == "missing":
        raise MissingInput("data folder not found: /nowhere")
    if argv and argv[0] == "bug":
        raise KeyError("x")  # a bug, though KeyError is what a missing column raises in pandas
    if argv and argv[0] == "builtin":
        raise FileNotFoundError("a builtin error is not the user's to fix")
    return argv


def test_user_error_is_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(main, ["missing"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err == "error: data folder not found: /nowhere\n"


def test_debug_shows_the_traceback_and_is_not_passed_on():
    with pytest.raises(MissingInput):
        run_cli(main, ["missing", "--debug"])
    assert run_cli(main, ["ok", "--debug"]) == ["ok"]


@pytest.mark.parametrize("argv, error", [(["bug"], KeyError), (["builtin"], FileNotFoundError)])
def test_bugs_keep_their_traceback(argv, error):
    with pytest.raises(error):
        run_cli(main, argv)
