"""``--params FILE`` means one thing in every command: a study's ``best_params.yaml`` (its ``params`` mapping) or
any YAML mapping of the command's options, whose values override the command line and ``--config``. A command
that trains a library (gradient-boosted trees: ``common.tabular.protocol.model_params``) passes the file's other
keys to it as parameters (:func:`other_params`; each checked against the library's names when its config is
made: ``common.tabular.config.check_params_file``); any other command refuses them, naming the closest option.

    cfg = apply_params(parse_config(TrainConfig, argv))   # cfg.params names the file
"""
from __future__ import annotations

import dataclasses
import difflib
from typing import Any, Collection, TypeVar

from common.errors import BadInput
from common.config import check_values, read_params
from common.tuning.space import check_options, check_type

T = TypeVar("T")


def apply_params(cfg: T, field: str = "params", others: str | None = None) -> T:
    """``cfg`` with the options of its ``--params`` file (``cfg.<field>``) overriding its values; a value the
    option refuses ends in one line naming the key and the file, and so does a key that is no option (with the
    closest option) unless ``others`` says where such keys go (e.g. "LightGBM parameters")."""
    path = getattr(cfg, field)
    if not path:
        return cfg
    values = read_params(path)
    options = option_names(cfg, field)
    unknown = [key for key in values if key not in options]
    if unknown and others is None:
        raise BadInput(f"params file {path}: {unknown[0]!r} is not an option of this command"
                       f"{did_you_mean(unknown[0], options)}")
    chosen = {key: value for key, value in values.items() if key in options}
    check_option_values(cfg, chosen, path)
    return dataclasses.replace(cfg, **chosen)


def option_names(cfg: Any, field: str = "params") -> set[str]:
    """The options a ``--params`` file (``cfg.<field>``) may set: every option of ``cfg`` but the file's own."""
    return {f.name for f in dataclasses.fields(cfg)} - {field}


def check_option_values(cfg: Any, values: dict, path: str) -> None:
    """The option values of the params file ``path`` have their options' types and pass their checks, taken
    together (``model: xgboost`` with ``device: cuda`` is checked as a pair, not against the other option's old
    value); one line naming the file, and the key where one value alone is wrong, otherwise."""
    for key, value in values.items():
        try:
            check_type(cfg, key, value)
            check_values(type(cfg), {**dataclasses.asdict(cfg), key: value})  # its choices and range, named
        except ValueError as err:
            raise BadInput(f"params file {path}: {key}: {err}") from None
    try:
        check_options(cfg, values)
    except ValueError as err:
        raise BadInput(f"params file {path}: {err}") from None


def did_you_mean(key: str, names: Collection[str]) -> str:
    """`` (did you mean 'x'?)`` with the name closest to the unknown ``key``, or nothing when none is close."""
    close = difflib.get_close_matches(key, sorted(names), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


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
