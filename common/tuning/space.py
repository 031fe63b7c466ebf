"""Search spaces declared in a recipe YAML, checked against the engine's config before any work.

    search_space:
      lr: {type: float, low: 3.0e-4, high: 3.0e-3, log: true}
      epochs: {type: int, low: 2, high: 8, step: 2}
      augment: {type: categorical, choices: [light, seed]}
      crop: {type: categorical, choices: [[86, 204, 10, 242], null]}

Every key is an option of the engine's config (``ImageTrainConfig``, ``VAEConfig``, ``GBDTConfig``...);
``low``/``high`` and every choice must be a value that option accepts (its type, range, choices and
checks). A bad entry ends in one line naming the key and the file. Choices that Optuna cannot store
(lists) are kept in the study as their YAML text and decoded when sampled.
:func:`parse_with_space` reads a tuning command line whose ``--config`` YAML holds the recipe plus its
``search_space``.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence, TypeVar

import optuna
import yaml

from common.errors import BadInput
from common.config import check_values, load_yaml, parse_config

T = TypeVar("T")
SPACE_KEY = "search_space"
TYPES = ("float", "int", "categorical")
_KEYS = {"float": {"type", "low", "high", "log", "step"}, "int": {"type", "low", "high", "log", "step"},
         "categorical": {"type", "choices"}}


@dataclass(frozen=True)
class Dimension:
    """One searched option: a float or int range (``log``, ``step``) or categorical ``choices``."""
    name: str
    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple = ()

    def suggest(self, trial: optuna.Trial) -> Any:
        if self.type == "float":
            return trial.suggest_float(self.name, self.low, self.high, log=self.log, step=self.step)
        if self.type == "int":
            return trial.suggest_int(self.name, self.low, self.high, log=self.log, step=self.step or 1)
        return self.decode(trial.suggest_categorical(self.name, [_storable(c) for c in self.choices]))

    def decode(self, stored: Any) -> Any:
        """The option value of what the study stores (YAML text for list choices)."""
        if self.type != "categorical":
            return stored
        return next((c for c in self.choices if _storable(c) == stored), stored)


SearchSpace = dict[str, Dimension]


def _storable(choice: Any) -> Any:
    """Optuna stores None, bools, numbers and strings; a list is stored as its YAML text."""
    if choice is None or isinstance(choice, (bool, int, float, str)):
        return choice
    return yaml.safe_dump(choice, default_flow_style=True).strip()


def suggest(trial: optuna.Trial, space: SearchSpace) -> dict:
    """One value per dimension, drawn by the study's sampler."""
    return {name: dim.suggest(trial) for name, dim in space.items()}


def decode(space: SearchSpace, stored: dict) -> dict:
    """The option values of a finished trial's stored parameters."""
    return {name: space[name].decode(value) if name in space else value for name, value in stored.items()}


def parse_space(raw: Any, base: Any, source: str, allowed: Sequence[str] | None = None) -> SearchSpace:
    """Check ``raw`` (the ``search_space`` mapping of ``source``) against the options of ``base``, the
    engine config the trials start from (only ``allowed`` options when given); raise ValueError naming
    the key and the file."""
    if not isinstance(raw, dict) or not raw:
        raise BadInput(f"search space in {source} must be a mapping of option: {{type: ...}}, got {raw!r}")
    known = sorted(allowed if allowed is not None else (f.name for f in dataclasses.fields(base)))
    space = {}
    for key, entry in raw.items():
        def bad(why: str) -> ValueError:
            return ValueError(f"search space key {key!r} in {source}: {why}")
        if key not in known:
            raise bad(f"not a tunable option; known: {known}")
        if not isinstance(entry, dict) or entry.get("type") not in TYPES:
            raise bad(f"needs type: one of {list(TYPES)}, got {entry!r}")
        kind = entry["type"]
        extra = sorted(set(entry) - _KEYS[kind])
        if extra:
            raise bad(f"unknown field(s) {extra} for type {kind}; allowed: {sorted(_KEYS[kind])}")
        if kind == "categorical":
            choices = entry.get("choices")
            if not isinstance(choices, list) or not choices:
                raise bad(f"choices must be a non-empty list, got {choices!r}")
            dim = Dimension(key, kind, choices=tuple(choices))
            values = choices
        else:
            dim = _range(key, entry, bad)
            values = [dim.low, dim.high]
        for value in values:
            try:
                check_option(base, key, value)
            except ValueError as err:
                raise bad(str(err)) from None
        space[key] = dim
    return space


def _range(key: str, entry: dict, bad) -> Dimension:
    kind = entry["type"]
    cast = float if kind == "float" else int
    bounds = []
    for side in ("low", "high"):
        value = entry.get(side)
        try:  # PyYAML reads 3e-4 (no dot) as text
            if isinstance(value, bool) or (kind == "int" and isinstance(value, float) and not value.is_integer()):
                raise ValueError
            bounds.append(cast(value))
        except (TypeError, ValueError):
            raise bad(f"{side} must be {'an integer' if kind == 'int' else 'a number'}, got {value!r}") from None
    low, high = bounds
    if not low < high:
        raise bad(f"low must be below high, got low {low!r}, high {high!r}")
    log, step = entry.get("log", False), entry.get("step")
    if not isinstance(log, bool):
        raise bad(f"log must be true or false, got {log!r}")
    if log and low <= 0:
        raise bad(f"log needs low > 0, got {low!r}")
    if step is not None and (isinstance(step, bool) or not isinstance(step, (int, float)) or step <= 0
                             or (log and step)):
        raise bad(f"step must be a positive number (and no log), got {step!r}")
    return Dimension(key, kind, low, high, log, step)


def check_type(base: Any, key: str, value: Any) -> None:
    """``value`` has the type of option ``key`` of config ``base``; ValueError otherwise."""
    tp = typing.get_type_hints(type(base))[key]
    if not _has_type(value, tp):
        raise BadInput(f"{value!r} is not a value of type {_type_name(tp)}")


def check_options(base: Any, values: dict) -> None:
    """The options ``values`` (name -> value, of their types) pass their choices and ranges and, set together on
    ``base``, the config's own checks (``__post_init__``); ValueError otherwise."""
    check_values(type(base), {**dataclasses.asdict(base), **values})
    try:
        dataclasses.replace(base, **values)
    except FileNotFoundError as err:
        raise BadInput(str(err)) from None


def check_option(base: Any, key: str, value: Any) -> None:
    """``value`` has the type of option ``key`` of config ``base`` and passes its checks with the other options
    of ``base``; ValueError otherwise."""
    check_type(base, key, value)
    check_options(base, {key: value})


def _has_type(value: Any, tp: Any) -> bool:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_has_type(value, a) for a in args)
    if tp is type(None):
        return value is None
    if origin in (list, tuple):
        return isinstance(value, list) and all(_has_type(v, args[0]) for v in value)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, tp) if isinstance(tp, type) else True


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def parse_with_space(cls: type[T], argv: Sequence[str] | None) -> tuple[T, dict | None, str | None]:
    """``parse_config(cls, argv)`` where the ``--config`` YAML may also hold ``search_space`` (not an option):
    returns the config, the raw search space (None when the file has none) and the file's name."""
    argv = list(sys.argv[1:] if argv is None else argv)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config", "-c", default=None)
    known, _ = pre.parse_known_args(argv)
    if not known.config:
        return parse_config(cls, argv), None, None
    values = load_yaml(known.config)
    space = values.pop(SPACE_KEY, None)
    with tempfile.TemporaryDirectory(prefix="kit-tune-") as folder:
        rest = Path(folder) / Path(known.config).name
        rest.write_text(yaml.safe_dump(values, sort_keys=False))
        try:  # the last --config wins in argparse
            cfg = parse_config(cls, [*argv, "--config", str(rest)])
        except (ValueError, FileNotFoundError) as err:
            raise type(err)(str(err).replace(str(rest), known.config)) from None
    return cfg, space, known.config
