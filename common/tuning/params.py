"""``--params FILE``: a study's ``best_params.yaml`` (its ``params`` mapping) or any YAML mapping of options,
whose values override a config's (as LightGBM's ``--params`` overrides its parameters).

    cfg = apply_params(parse_config(TrainConfig, argv))   # cfg.params names the file
"""
from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from common.config import read_params
from common.tuning.space import check_option

T = TypeVar("T")


def apply_params(cfg: T, field: str = "params") -> T:
    """``cfg`` with the options of its ``--params`` file (``cfg.<field>``) overriding its values; a key that is
    no option, or a value the option refuses, ends in one line naming the key and the file."""
    path = getattr(cfg, field)
    if not path:
        return cfg
    values = read_params(path)
    options = {f.name for f in dataclasses.fields(cfg)} - {field}
    for key, value in values.items():
        if key not in options:
            raise ValueError(f"params file {path}: {key!r} is not an option of this command")
        try:
            check_option(cfg, key, value)
        except ValueError as err:
            raise ValueError(f"params file {path}: {key}: {err}") from None
    return dataclasses.replace(cfg, **values)


IDENTITY = ("name", "data", "fold", "params")  # where and what a run trains, not how


def recipe_params(cfg: Any, cls: type) -> dict:
    """The options of ``cfg`` that a run of config ``cls`` needs to train the same way: those that differ from
    ``cls``'s defaults, except the volatile ones and the run's identity (:data:`IDENTITY`)."""
    skip = set(IDENTITY) | {f.name for f in dataclasses.fields(cls) if f.metadata.get("volatile")}
    out = {}
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if f.name not in skip and hasattr(cfg, f.name) and getattr(cfg, f.name) != default:
            out[f.name] = getattr(cfg, f.name)
    return out
