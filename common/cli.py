"""One error printer for every command line of the kit.

Bad input (a missing file, a wrong option, a column or id that does not fit) ends with one line,
``error: <what and where>``, and exit status 2; ``--debug`` anywhere on the command line shows the
traceback instead. A full disk ends the same way, ``error: no space left on device writing <path>``.
Anything else is a bug and keeps its traceback.

The CLIs of ``submissions/`` and ``kernels/`` end with ``sys.exit(cli(main))``: :func:`run_cli` plus the errors a
command reports itself (``FAILED: ...``, exit 1) through :func:`failed`, which re-raises instead when
``--debug`` was given; :func:`add_debug` documents ``--debug`` in their argparse help.
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable, Sequence, TypeVar

from common.io import DiskFullError, is_disk_full

T = TypeVar("T")
USER_ERRORS = (FileNotFoundError, FileExistsError, NotADirectoryError, ValueError, KeyError)


def run_cli(main: Callable[[list[str] | None], T], argv: list[str] | None = None) -> T:
    """Call ``main(argv)`` as a command line: logging set up, user errors as one line and exit 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    if debug:
        argv.remove("--debug")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        datefmt="%Y-%m-%d %H:%M:%S")
    try:
        return main(argv)
    except USER_ERRORS as err:
        if debug:
            raise
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
    except OSError as err:  # a full disk is the user's to fix too; the file written is named
        if debug or not is_disk_full(err):
            raise
        print(f"error: {err if isinstance(err, DiskFullError) else DiskFullError(err.filename or '?')}",
              file=sys.stderr)
        sys.exit(2)


_debug = False


def add_debug(parser: argparse.ArgumentParser) -> None:
    """Document ``--debug`` (``run_cli`` takes it off the command line before ``main`` parses it)."""
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")


def failed(prefix: str, error: BaseException, debug: bool = False) -> int:
    """Print ``PREFIX: error`` as one line and return exit status 1; with ``--debug``, re-raise ``error``."""
    if debug or _debug:
        raise error
    print(f"{prefix}: {error}", file=sys.stderr)
    return 1


def cli(main: Callable[[list[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Run ``main`` as a command line through :func:`run_cli`; its exit status."""
    global _debug
    argv = list(sys.argv[1:] if argv is None else argv)
    _debug = "--debug" in argv
    try:
        return run_cli(main, argv)
    finally:
        _debug = False
