"""Configs as dataclasses: defaults from the class, then a YAML file (``--config``), then the command line.

The timm pattern: a first pass reads ``--config`` only, its YAML values become the argparse defaults,
and a second pass parses every field so anything on the command line wins.
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
        help_text = field.metadata.get("help", "")
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
    args.pop("config")
    return cls(**args)


def config_to_dict(cfg: Any) -> dict:
    """Plain dict of a dataclass config, with paths as strings so it dumps as YAML."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(cfg).items()}


def config_to_yaml(cfg: Any) -> str:
    return yaml.safe_dump(config_to_dict(cfg) if dataclasses.is_dataclass(cfg) else cfg, sort_keys=False)
