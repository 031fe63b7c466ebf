"""The kit's error policy: what the user must fix is a :class:`KitError`, anything else is a bug.

A command line (``common.cli.run_cli``) prints a ``KitError`` as one line, ``error: <what and where>``, and exits
with status 2; every other exception keeps its traceback, so a bug inside the kit, pandas or numpy is never
mistaken for bad input. Each subclass also derives from the builtin it replaces (``BadInput`` is a
``ValueError``, ``MissingInput`` a ``FileNotFoundError``...), so code and tests catching the builtin still work.
"""
from __future__ import annotations


class KitError(Exception):
    """Something the user must fix (an option, a file, a folder, credentials, a quota): one line, exit 2."""


class BadInput(KitError, ValueError):
    """An option, a config value or a file's content that does not fit (named in the message)."""


class MissingInput(KitError, FileNotFoundError):
    """A file or folder the command needs is not there (named in the message)."""


class InputExists(KitError, FileExistsError):
    """The command would overwrite something it must not (named in the message, with what to do)."""
