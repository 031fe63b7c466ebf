"""A kernel's script arguments, parsed when the kernel is built exactly as the script will parse them on Kaggle.

The script's own option dataclass (``KernelTarget.config``) reads them through ``common.config.parse_config``, then
its ``--params`` file (``common.tuning.params``; a GBDT script's library parameters too), so an unknown option, a
value out of range or not among the choices, a missing required option and the config's own checks end the build
in one line, before anything is written, instead of the Kaggle session.

- ``{input:REL}`` (a file of an attached dataset or kernel output) and ``/kaggle/input/...`` are read as REL where
  it is here (the current folder or the kit), else as an empty stand-in file; ``{input_dir:REL}`` as a folder.
- The files the script reads its options from (``--config``, ``--params``, a ``params:`` of the YAML) are read
  here and travel inside ``run.py`` (:attr:`ScriptCall.files`): the script gets ``{file:NAME}``, which ``run.py``
  writes into ``/kaggle/working``. A path of this machine would not be found there.
- Any other argument naming a path of this machine is refused: it is not on Kaggle.
"""
from __future__ import annotations

import contextlib
import io
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from common.config import parse_config
from common.errors import BadInput, KitError, MissingInput
from common.tabular.config import GBDTConfig
from common.tabular.protocol import model_params
from common.tuning.params import apply_params
from kernels import bootstrap
from kernels.pack_code import KIT_ROOT

OPTION_FILES = {"--config": "--config", "-c": "--config", "--params": "--params"}  # flag -> option it sets
KAGGLE_INPUT = "/kaggle/input/"
FILE_PLACEHOLDER = "{file:%s}"


@dataclass
class ScriptCall:
    args: list[str]        # what run.py passes the script (placeholders kept)
    files: dict[str, str]  # name -> text: written by run.py into /kaggle/working, named by {file:NAME} in args
    config: Any            # the script's config, as the script will make it from args


def parse_script_call(config_class: type, args: Sequence[str], script: str) -> ScriptCall:
    """``args`` checked by the script's parser (``config_class``) as on Kaggle; the files they read, packed.
    ``script`` names the script in the error (one line: what it would refuse, and why)."""
    args, files = pack_option_files(args)
    refuse_local_paths(args)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            config = parse_as_on_kaggle(config_class, args, files, Path(tmp), script)
            args, files = pack_yaml_params(config, args, files)
        except KitError as err:
            raise BadInput(f"{script} would refuse it on Kaggle: {err}") from None
    return ScriptCall(args, files, config)


def pack_option_files(args: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """``args`` with the value of each ``--config``/``--params`` replaced by ``{file:NAME}``; NAME -> text."""
    out, files, words = [], {}, list(args)
    i = 0
    while i < len(words):
        flag, equals, value = words[i].partition("=")
        if flag in OPTION_FILES and (equals or i + 1 < len(words)):
            if not equals:
                value, i = words[i + 1], i + 1
            name = add_file(files, option_file(value, OPTION_FILES[flag]))
            out += [flag, FILE_PLACEHOLDER % name]
        else:
            out.append(words[i])
        i += 1
    return out, files


def option_file(value: str, option: str) -> Path:
    """The file of a ``--config``/``--params`` value here: ``{input:REL}`` read as REL; relative to the current
    folder, else to the kit."""
    placeholder = bootstrap.PLACEHOLDER.fullmatch(value)
    relative = placeholder.group(2) if placeholder else value
    for path in (Path(relative), KIT_ROOT / relative):
        if path.is_file():
            return path
    raise MissingInput(f"{option} {value}: {relative} is neither here nor in the kit; the build reads it to check "
                       "the options as the script will, and packs it into the kernel")


def add_file(files: dict[str, str], path: Path) -> str:
    """Add ``path``'s text to ``files`` under a name of its own (its file name, numbered when taken)."""
    text, name, n = path.read_text(), path.name, 1
    while name in files and files[name] != text:
        n += 1
        name = f"{n}-{path.name}"
    files[name] = text
    return name


def refuse_local_paths(args: Sequence[str]) -> None:
    """A value naming a file or folder of this machine (``runs/...``, ``w.pth``) is not on Kaggle: refused."""
    for word in args:
        value = word.partition("=")[2] if word.startswith("--") else word
        if not value or bootstrap.PLACEHOLDER.search(value) or value.startswith(KAGGLE_INPUT):
            continue
        if ("/" in value or Path(value).suffix) and Path(value).exists():
            raise BadInput(f"{value} is a path of this machine: on Kaggle the script runs in /kaggle/working, "
                           f"where it is not; attach it (a dataset or a kernel's output) and give {{input:{value}}}")


def parse_as_on_kaggle(config_class: type, args: Sequence[str], files: dict[str, str], tmp: Path,
                       script: str | None = None) -> Any:
    """The script's config from ``args``: placeholders read as stand-ins in ``tmp``, argparse's own errors (an
    unknown option, a value not among the choices) turned into :class:`BadInput`."""
    for name, text in files.items():
        (tmp / "files").mkdir(exist_ok=True)
        (tmp / "files" / name).write_text(text)
    local = [stand_in(word, tmp) for word in args]
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            config = parse_config(config_class, local, prog=script)
    except SystemExit as exit_:
        if exit_.code == 0:  # --help after --: the script's help was printed
            raise
        lines = stderr.getvalue().strip().splitlines()
        raise BadInput(re.sub(r"^.*?error: ", "", lines[-1] if lines else "bad arguments")) from None
    if getattr(config, "params", None):
        is_gbdt = isinstance(config, GBDTConfig)
        config = apply_params(config, others="parameters of the library" if is_gbdt else None)
        if is_gbdt:
            model_params(config)
    return config


def stand_in(word: str, tmp: Path) -> str:
    """``word`` with its placeholders replaced by paths here (the file itself where it is here)."""
    def replace(match: re.Match) -> str:
        kind, relative = match.groups()
        if kind == "file":
            return str(tmp / "files" / relative)
        path = next((p for p in (Path(relative), KIT_ROOT / relative) if p.exists()), None)
        if path is None:
            path = tmp / "input" / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        return str(path if kind == "input" else path.parents[len(Path(relative).parts) - 1])

    if word.startswith(KAGGLE_INPUT):
        word = "{input:%s}" % word[len(KAGGLE_INPUT):]
    return bootstrap.PLACEHOLDER.sub(replace, word)


def pack_yaml_params(config: Any, args: list[str], files: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """A ``params:`` file the ``--config`` YAML names (not the command line) packed as well, given as
    ``--params {file:NAME}`` so the script reads the same file on Kaggle."""
    path = getattr(config, "params", None)
    if not path or any(word.partition("=")[0] == "--params" for word in args):
        return args, files
    files = dict(files)
    return [*args, "--params", FILE_PLACEHOLDER % add_file(files, option_file(path, "params"))], files
