"""The one exit wrapper of every command line of the kit (the policy: ``common.errors``).

``run_cli(main)`` calls ``main(argv)``: a :class:`~common.errors.KitError` (bad input, a bad option, a locked
run, a quota, a full disk...) ends with one line, ``error: <what and where>``, and exit status 2; ``--debug``
anywhere on the command line shows its traceback instead. Anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import logging
import sys
from typing import Callable, TypeVar

from common.errors import KitError
from common.io import DiskFullError, is_disk_full

T = TypeVar("T")
DEBUG_FLAG = "--debug"


def run_cli(main: Callable[[list[str]], T], argv: list[str] | None = None) -> T:
    """Call ``main(argv)`` as a command line (logging set up) and return what it returns; a ``KitError`` is
    printed as one line with exit status 2 (with ``--debug``: raised)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in argv
    if debug:
        argv.remove(DEBUG_FLAG)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        datefmt="%Y-%m-%d %H:%M:%S")
    try:
        return main(argv)
    except KitError as err:
        if debug:
            raise
        _exit_with(err)
    except OSError as err:  # a library's own words for a full disk: the user's to fix too
        if debug or not is_disk_full(err):
            raise
        _exit_with(DiskFullError(err.filename or "?"))


def _exit_with(error: KitError) -> None:
    print(f"error: {error}", file=sys.stderr)
    sys.exit(2)
