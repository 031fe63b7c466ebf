"""One error printer for every CLI: one line and exit 2 for bad input, the traceback with --debug."""
import pytest

from common.cli import run_cli


def main(argv):
    if argv and argv[0] == "missing":
        raise FileNotFoundError("data folder not found: /nowhere")
    if argv and argv[0] == "bug":
        raise ZeroDivisionError("a bug")
    return argv


def test_user_error_is_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(main, ["missing"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err == "error: data folder not found: /nowhere\n"


def test_debug_shows_the_traceback_and_is_not_passed_on():
    with pytest.raises(FileNotFoundError):
        run_cli(main, ["missing", "--debug"])
    assert run_cli(main, ["ok", "--debug"]) == ["ok"]


def test_bugs_keep_their_traceback():
    with pytest.raises(ZeroDivisionError):
        run_cli(main, ["bug"])
