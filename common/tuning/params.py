"""``--params FILE`` means one thing in every command: a study's ``best_params.yaml`` (its ``params`` mapping) or
any YAML mapping of the command's options, whose values override the command line and ``--config``. A command
that trains a library (gradient-boosted trees: ``common.tabular.protocol.model_params``) passes the file's other
keys to it as parameters (:func:`other_params`); any other command refuses them.

    cfg = apply_params(parse_config(TrainConfig, argv))   # cfg.params names the file
"""
from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from common.errors import BadInput
from common.config import read_params
from common.tuning.space import check_option

T = TypeVar("T")


def apply_params(cfg: T, field: str = "params", others: str | None = None) -> T:
    """``cfg`` with the options of its ``--params`` file (``cfg.<field>``) overriding its values; a value the
    option refuses ends in one line naming the key and the file, and so does a key that is no option unless
    ``others`` says where such keys go (e.g. "LightGBM parameters")."""
    path = getattr(cfg, field)
    if not path:
        return cfg
    values = read_params(path)
    options = {f.name for f in dataclasses.fields(cfg)} - {field}
    unknown = [key for key in values if key not in options]
    if unknown and others is None:
        raise BadInput(f"params file {path}: {unknown[0]!r} is not an option of this command")
    for key, value in values.items():
        if key not in options:
            continue
        try:
            check_option(cfg, key, value)
        except ValueError as err:
            raise BadInput(f"params file {path}: {key}: {err}") from None
    return dataclasses.replace(cfg, **{key: value for key, value in values.items() if key in options})


def other_params(cfg: Any, field: str = "params") -> dict:
    """The keys of ``cfg``'s ``--params`` file (``cfg.<field>``) that are no option of ``cfg``, with their values:
    what :func:`apply_params` leaves to the library the command trains."""
    path = getattr(cfg, field)
    options = {f.name for f in dataclasses.fields(cfg)}
    return {key: value for key, value in (read_params(path) if path else {}).items() if key not in options}


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
