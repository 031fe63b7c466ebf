"""Configs as dataclasses: defaults from the class, then a YAML file (``--config``), then the command line.

The timm pattern: a first pass reads ``--config`` only, its YAML values become the argparse defaults,
and a second pass parses every field so anything on the command line wins.

Fields are declared with :func:`option`: ``help``, ``choices`` (checked for YAML values too),
``required`` (an error unless the command line or the YAML gives it) and ``volatile`` (may differ between
invocations writing into the same run, e.g. ``--fold 0`` then ``--fold 1``). :class:`RunConfig` holds the
fields every run has; each model's config derives from it.
"""
from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Sequence, TypeVar

import yaml

T = TypeVar("T")
_NO_DEFAULT = dataclasses.MISSING


def option(default: Any = _NO_DEFAULT, *, help: str = "", choices: Sequence | None = None,
           volatile: bool = False, required: bool = False, default_factory: Any = _NO_DEFAULT) -> Any:
    """A config field with its metadata. A ``required`` option defaults to None and must be given."""
    metadata = {"help": help, "volatile": volatile, "required": required}
    if choices is not None:
        metadata["choices"] = list(choices)
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
    n_splits: int = option(5, help="folds of the shared fold file")
    seed: int = option(42, help="seed of every random generator")
    runs_dir: str | None = option(None, volatile=True, help="default: $KIT_RUNS_ROOT or runs/")
    cache_dir: str | None = option(None, volatile=True, help="default: $KIT_CACHE_ROOT or cache/")
    device: str = option("auto", volatile=True, help="auto | cpu | cuda | cuda:1")
    threads: int = option(0, volatile=True, help="torch/LightGBM CPU threads (0: the library's default)")
    progress: bool = option(True, volatile=True, help="progress bars (quiet anyway when not a terminal)")
    resume: bool = option(True, volatile=True, help="skip finished folds and continue an unfinished one from "
                                                    "its last checkpoint (--no-resume: train them again)")

    def __post_init__(self):
        self.fold = str(self.fold)


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


def _parse_none(cast):
    def convert(text: str):
        return None if text.lower() in ("none", "null") else cast(text)
    convert.__name__ = getattr(cast, "__name__", "value")
    return convert


def load_yaml(path: str | Path) -> dict:
    """Read a YAML mapping; a clear error names the file when it is missing or not a mapping."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"config file {path} must hold a mapping of option: value, got {type(data).__name__}")
    return data


def build_parser(cls: type, description: str | None = None) -> argparse.ArgumentParser:
    """An argparse parser with one ``--option`` per dataclass field (underscores become dashes)."""
    parser = argparse.ArgumentParser(description=description or cls.__doc__,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--config", "-c", default=None, help="YAML file whose values override the defaults")
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        tp, is_list = _field_type(hints[field.name])
        flag = "--" + field.name.replace("_", "-")
        help_text = field.metadata.get("help", "") + (" (required)" if field.metadata.get("required") else "")
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        if tp is bool:
            parser.add_argument(flag, dest=field.name, action=argparse.BooleanOptionalAction,
                                default=default, help=help_text)
        else:
            cast = tp if tp in (int, float) else str
            if _is_optional(hints[field.name]):  # only there does "none" mean None; elsewhere it is a value
                cast = _parse_none(cast)
            parser.add_argument(flag, dest=field.name, type=cast, nargs="+" if is_list else None,
                                default=default, help=help_text, choices=field.metadata.get("choices"))
    return parser


def parse_config(cls: type[T], argv: Sequence[str] | None = None, description: str | None = None) -> T:
    """Fill dataclass ``cls`` from its defaults, an optional ``--config`` YAML file and the command line."""
    parser = build_parser(cls, description)
    pre, _ = parser.parse_known_args(argv)
    if pre.config:
        values = load_yaml(pre.config)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"config file {pre.config}: unknown option(s) {unknown}; known: {sorted(known)}")
        parser.set_defaults(**values)
    args = vars(parser.parse_args(argv))
    source = args.pop("config")
    check_values(cls, args, source)
    return cls(**args)


def check_values(cls: type, values: dict, source: str | None = None) -> None:
    """Required options given, values among their choices (YAML values too); the error names the option."""
    where = f" (from {source})" if source else ""
    for field in dataclasses.fields(cls):
        flag = "--" + field.name.replace("_", "-")
        value = values.get(field.name)
        if field.metadata.get("required") and value in (None, ""):
            raise ValueError(f"option {flag} is required{where}")
        choices = field.metadata.get("choices")
        if choices and value is not None:
            bad = [v for v in (value if isinstance(value, list) else [value]) if v not in choices]
            if bad:
                raise ValueError(f"option {flag}{where}: {bad[0]!r} is not one of {list(choices)}")


def config_to_dict(cfg: Any) -> dict:
    """Plain dict of a dataclass config, with paths as strings so it dumps as YAML."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(cfg).items()}


def config_to_yaml(cfg: Any) -> str:
    return yaml.safe_dump(config_to_dict(cfg) if dataclasses.is_dataclass(cfg) else cfg, sort_keys=False)
