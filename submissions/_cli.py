"""The command-line ending shared by the CLIs of ``submissions/`` and ``kernels/``.

Each such module ends with ``sys.exit(cli(main))``: ``common.cli.run_cli`` (logging, user errors as one
line ``error: ...`` and exit 2, ``--debug`` for the traceback) plus the errors a command reports itself
(``FAILED: ...``, exit 1) through :func:`failed`, which re-raises instead when ``--debug`` was given.
"""
from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from common.cli import run_cli

_debug = False


def add_debug(parser: argparse.ArgumentParser) -> None:
    """Document ``--debug`` (``run_cli`` takes it off the command line before ``main`` parses it)."""
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")


def failed(prefix: str, error: BaseException, debug: bool = False) -> int:
    """Print ``PREFIX: error`` as one line and return exit status 1; with ``--debug``, re-raise ``error``."""
    if debug or _debug:
        raise error
    text = str(error)
    print(f"{prefix}: {text}", file=sys.stderr)
    return 1


def cli(main: Callable[[list[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Run ``main`` as a command line through ``common.cli.run_cli``; its exit status."""
    global _debug
    argv = list(sys.argv[1:] if argv is None else argv)
    _debug = "--debug" in argv
    try:
        return run_cli(main, argv)
    finally:
        _debug = False
