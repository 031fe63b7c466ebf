"""One error printer for every command line of the kit.

Bad input (a missing file, a wrong option, a column or id that does not fit) ends with one line,
``error: <what and where>``, and exit status 2; ``--debug`` anywhere on the command line shows the
traceback instead. A full disk ends the same way, ``error: no space left on device writing <path>``.
Anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import logging
import sys
from typing import Callable, TypeVar

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
