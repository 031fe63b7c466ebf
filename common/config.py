"""Configs as dataclasses: defaults from the class, then a YAML file (``--config``), then the command line.

The timm pattern: a first pass reads ``--config`` only, its YAML values become the argparse defaults,
and a second pass parses every field so anything on the command line wins.

Fields are declared with :func:`option`: ``help``, ``choices`` (checked for YAML values too),
``required`` (an error unless the command line or the YAML gives it), a range (``min``/``max``, exclusive
with ``min_exclusive``/``max_exclusive``; checked for YAML values too, before any work) and ``volatile``
(may differ between invocations writing into the same run, e.g. ``--fold 0`` then ``--fold 1``). A bad
value ends in one line naming the option, the value and, when it came from there, the YAML file.
The command line's shape: ``positional`` (``FILE`` rather than ``--file``), ``short`` (``-m`` beside
``--message``), ``append`` (a list given one ``--post NAME`` at a time); :func:`parse_subcommand` picks one
of several option dataclasses by the command line's first word (``sync``, ``report``...). Every parser
lists ``--debug``, which ``common.cli.run_cli`` takes off the command line, and ignores it.
:class:`RunConfig` holds the fields every run has; each model's config derives from it.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import types
import typing
from pathlib import Path
from typing import Any, Sequence, TypeVar

import yaml

from common.cli import DEBUG_FLAG
from common.errors import BadInput, MissingInput

T = TypeVar("T")
_NO_DEFAULT = dataclasses.MISSING


def option(default: Any = _NO_DEFAULT, *, help: str = "", choices: Sequence | None = None,
           volatile: bool = False, required: bool = False, default_factory: Any = _NO_DEFAULT,
           min: float | None = None, max: float | None = None, min_exclusive: bool = False,
           max_exclusive: bool = False, positional: bool = False, short: str | None = None,
           append: bool = False, metavar: str | None = None) -> Any:
    """A config field with its metadata. A ``required`` option defaults to None and must be given.

    ``min``/``max`` bound a number (each item of a list); ``min_exclusive``/``max_exclusive`` make the bound
    strict (``lr > 0``: ``min=0, min_exclusive=True``). None passes (it means "not set").
    ``positional``: given without a flag (``FILE``; a list takes the remaining words); ``short``: a one-letter
    flag beside the long one (``"-m"``); ``append``: a list field given one item per flag (``--post a --post
    b``), the command line's items replacing the default's; ``metavar``: the value's name in ``--help``."""
    metadata = {"help": help, "volatile": volatile, "required": required, "positional": positional,
                "short": short, "append": append, "metavar": metavar}
    if choices is not None:
        metadata["choices"] = list(choices)
    if min is not None or max is not None:
        metadata["range"] = (min, max, min_exclusive, max_exclusive)
    if required and default is _NO_DEFAULT and default_factory is _NO_DEFAULT:
        default = None
    if default_factory is not _NO_DEFAULT:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def volatile_options(cls_or_cfg: Any) -> frozenset[str]:
    """Names of the fields declared ``volatile`` (allowed to change between invocations of one run)."""
    return frozenset(f.name for f in dataclasses.fields(cls_or_cfg) if f.metadata.get("volatile"))


@dataclasses.dataclass
class RunConfig:
    """The fields every run has; a model's config derives from it and adds its own."""
    data: str | None = option(None, help="data folder (default data/<competition>; in a Kaggle kernel the "
                                         "attached competition)")
    name: str = option("run", help="run name: runs/<competition>/<name>")
    fold: str = option("all", volatile=True, help="fold to run: a number, a comma list, or all")
    n_splits: int = option(5, min=2, help="folds of the shared fold file")
    seed: int = option(42, min=0, max=2**31 - 1, help="seed of every random generator (0..2**31-1, what "
                                                       "LightGBM and NumPy accept)")
    runs_dir: str | None = option(None, volatile=True, help="default: $KIT_RUNS_ROOT or runs/")
    cache_dir: str | None = option(None, volatile=True, help="default: $KIT_CACHE_ROOT or cache/")
    progress: bool = option(True, volatile=True, help="progress bars (quiet anyway when not a terminal)")
    resume: bool = option(True, volatile=True, help="skip finished folds and continue an unfinished one from "
                                                    "its last checkpoint (--no-resume: train them again)")

    def __post_init__(self):
        self.fold = str(self.fold)
        parse_folds(self.fold, self.n_splits)  # a bad --fold fails before any data is read


def parse_folds(spec: str | int, n_splits: int) -> list[int]:
    """``--fold``: 'all', one fold number or a comma list, each within 0..n_splits-1."""
    text = str(spec).strip().lower()
    if text == "all":
        return list(range(n_splits))
    try:
        folds = [int(part) for part in text.split(",")]
    except ValueError:
        raise BadInput(f"option --fold must be 'all', a fold number or a comma list, got {spec!r}") from None
    bad = [k for k in folds if not 0 <= k < n_splits]
    if bad:
        raise BadInput(f"option --fold {bad} outside 0..{n_splits - 1} (--n-splits {n_splits})")
    return list(dict.fromkeys(folds))


def _field_type(tp: Any) -> tuple[Any, bool]:
    """Return (scalar type, is_list) for a dataclass field annotation, unwrapping Optional."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _field_type(args[0])
    if origin in (list, tuple, Sequence):
        return typing.get_args(tp)[0], True
    return tp, False


def _is_optional(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp)


def _optional_lists(cls: type) -> list[str]:
    hints = typing.get_type_hints(cls)
    return [f.name for f in dataclasses.fields(cls) if _is_optional(hints[f.name]) and _field_type(hints[f.name])[1]]


def _parse_none(cast):
    def convert(text: str):
        return None if text.lower() in ("none", "null") else cast(text)
    convert.__name__ = getattr(cast, "__name__", "value")
    return convert


def load_yaml(path: str | Path) -> dict:
    """Read a YAML mapping; a clear error names the file when it is missing or not a mapping."""
    path = Path(path)
    if not path.is_file():
        raise MissingInput(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise BadInput(f"config file {path} is not valid YAML: {where}{problem}") from None
    if not isinstance(data, dict):
        raise BadInput(f"config file {path} must hold a mapping of option: value, got {type(data).__name__}")
    return data


def read_params(path: str) -> dict:
    """The options of a ``--params`` file: its ``params`` mapping (a study's ``best_params.yaml``), else
    the whole file."""
    values = load_yaml(path)
    params = values.get("params", values)
    if not isinstance(params, dict):
        raise BadInput(f"params file {path}: params must be a mapping of option: value, got {params!r}")
    return dict(params)


def flag_of(field: dataclasses.Field) -> str:
    """How a field is written on the command line: ``--n-splits``, or ``FILE`` for a positional one."""
    if field.metadata.get("positional"):
        return field.name.upper()
    return "--" + field.name.replace("_", "-")


class _AppendReplacingDefault(argparse.Action):
    """``action="append"`` whose first item replaces the default (the class's or the YAML's) instead of
    adding to it, so the command line wins like it does for every other option."""

    def __call__(self, parser, namespace, values, option_string=None):
        current = getattr(namespace, self.dest, None)
        items = [] if current is self.default or current is None else list(current)
        setattr(namespace, self.dest, items + [values])


def build_parser(cls: type, description: str | None = None, prog: str | None = None) -> argparse.ArgumentParser:
    """An argparse parser with one ``--option`` per dataclass field (underscores become dashes)."""
    parser = argparse.ArgumentParser(prog=prog, description=description or cls.__doc__,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--config", "-c", default=None, help="YAML file whose values override the defaults")
    add_debug_flag(parser)
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        tp, is_list = _field_type(hints[field.name])
        meta = field.metadata
        help_text = meta.get("help", "") + (" (required)" if meta.get("required") else "")
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        if meta.get("positional"):
            names, where = [field.name], {"metavar": meta.get("metavar") or flag_of(field),
                                          "nargs": "*" if is_list else "?"}
        else:
            names = [meta["short"], flag_of(field)] if meta.get("short") else [flag_of(field)]
            where = {"dest": field.name, "metavar": meta.get("metavar")}
        if tp is bool:
            parser.add_argument(*names, dest=field.name, action=argparse.BooleanOptionalAction,
                                default=default, help=help_text)
            continue
        cast = tp if tp in (int, float) else str
        if _is_optional(hints[field.name]):  # only there does "none" mean None; elsewhere it is a value
            cast = _parse_none(cast)
        if meta.get("append"):
            where["action"] = _AppendReplacingDefault
        elif is_list and not meta.get("positional"):
            where["nargs"] = "+"
        parser.add_argument(*names, type=cast, default=default, help=help_text, choices=meta.get("choices"),
                            **where)
    return parser


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    """List ``--debug`` in ``--help`` (``run_cli`` takes it off the command line; a direct ``main(argv)``
    call may still hold it, so the parser accepts it and nothing reads it)."""
    parser.add_argument(DEBUG_FLAG, action="store_true", help="show the traceback of an error instead of one "
                                                             "line (taken by common.cli.run_cli)")


def parse_config(cls: type[T], argv: Sequence[str] | None = None, description: str | None = None,
                 prog: str | None = None) -> T:
    """Fill dataclass ``cls`` from its defaults, an optional ``--config`` YAML file and the command line."""
    parser = build_parser(cls, description, prog)
    pre, _ = parser.parse_known_args(argv)
    from_file: set[str] = set()
    if pre.config:
        values = load_yaml(pre.config)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise BadInput(f"config file {pre.config}: unknown option(s) {unknown}; known: {sorted(known)}")
        parser.set_defaults(**_typed_yaml_values(cls, values, pre.config))
        from_file = set(values) - _given_on_command_line(cls, argv, description)
    args = vars(parser.parse_args(argv))
    source = args.pop("config")
    args.pop("debug")
    for name in _optional_lists(cls):  # "--crop none" parses as [None]: the option unset
        if args[name] == [None]:
            args[name] = None
    check_values(cls, args, source, from_file)
    return cls(**args)


def parse_subcommand(commands: dict[str, type], argv: Sequence[str] | None = None, description: str | None = None,
                     prog: str | None = None) -> tuple[str, Any]:
    """``(name, config)`` of a command line whose first word picks one of ``commands`` (name -> option
    dataclass, e.g. ``python -m submissions.leaderboard sync --competition C``); the rest of the command line
    is parsed by :func:`parse_config` for that dataclass, ``--config`` included."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_debug_flag(parser)
    choices = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(commands) + "}")
    for name, cls in commands.items():
        choices.add_parser(name, add_help=False, help=(cls.__doc__ or "").strip().splitlines()[0])
    words = [word for word in argv if word != DEBUG_FLAG]
    if not words or words[0] not in commands:
        parser.parse_args(words)  # --help, or a usage error naming the commands (both exit)
        raise BadInput(f"give a command first: one of {list(commands)}")
    return words[0], parse_config(commands[words[0]], words[1:], prog=f"{parser.prog} {words[0]}")


_UNSET = object()


def _typed_yaml_values(cls: type, values: dict, source: str) -> dict:
    """The YAML values, numbers given as text converted; a value of the wrong type names option, value
    and file (argparse would only say 'invalid int value', without the file)."""
    hints = typing.get_type_hints(cls)
    out = dict(values)
    for field in dataclasses.fields(cls):
        if field.name not in values or values[field.name] is None:
            continue
        tp, is_list = _field_type(hints[field.name])
        value = values[field.name]
        items = value if is_list and isinstance(value, list) else [value]
        flag = flag_of(field)
        converted = []
        for item in items:
            if tp is bool and not isinstance(item, bool):
                raise BadInput(f"option {flag} (from {source}): {item!r} is not true or false")
            if tp in (int, float):
                try:
                    if isinstance(item, bool) or (tp is int and isinstance(item, float) and not item.is_integer()):
                        raise ValueError
                    item = tp(item)
                except (TypeError, ValueError):
                    raise BadInput(f"option {flag} (from {source}): {item!r} is not "
                                   f"{'an integer' if tp is int else 'a number'}") from None
            converted.append(item)
        out[field.name] = converted if is_list and isinstance(value, list) else converted[0]
    return out


def _given_on_command_line(cls: type, argv: Sequence[str] | None, description: str | None) -> set[str]:
    """Names of the fields the command line sets (whatever the YAML file says)."""
    parser = build_parser(cls, description)
    parser.set_defaults(**{f.name: _UNSET for f in dataclasses.fields(cls)})
    args = vars(parser.parse_args(argv))
    return {name for name, value in args.items() if value is not _UNSET and name not in ("config", "debug")}


def check_values(cls: type, values: dict, source: str | None = None, from_file: set[str] | None = None) -> None:
    """Required options given, values among their choices and within their range (YAML values too); the
    error names the option, the value and, for a value from the YAML file ``source``, that file.

    ``from_file``: the options whose value came from ``source`` (default: all of them when ``source``)."""
    for field in dataclasses.fields(cls):
        flag = flag_of(field)
        value = values.get(field.name)
        where = f" (from {source})" if source and (from_file is None or field.name in from_file) else ""
        if field.metadata.get("required") and (value in (None, "") or value == []):
            raise BadInput(f"option {flag} is required{where}")
        choices = field.metadata.get("choices")
        if choices and value is not None:
            bad = [v for v in (value if isinstance(value, list) else [value]) if v not in choices]
            if bad:
                raise BadInput(f"option {flag}{where}: {bad[0]!r} is not one of {list(choices)}")
        bounds = field.metadata.get("range")
        if bounds and value is not None:
            for item in value if isinstance(value, (list, tuple)) else [value]:
                problem = _out_of_range(item, *bounds)
                if problem:
                    raise BadInput(f"option {flag}{where}: {item!r} {problem}")


def _out_of_range(value: Any, low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    """Why ``value`` is outside the range (empty when it is inside)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "is not a number"
    if value != value:  # NaN
        return "is not a number"
    if low is not None and (value <= low if low_open else value < low):
        return f"must be {'>' if low_open else '>='} {low}"
    if high is not None and (value >= high if high_open else value > high):
        return f"must be {'<' if high_open else '<='} {high}"
    return ""


def config_to_dict(cfg: Any) -> dict:
    """Plain dict of a dataclass config, with paths as strings so it dumps as YAML."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(cfg).items()}
