"""The parameter names each gradient-boosted trees library accepts, read from the library itself (aliases
included), and those a ``--params`` file may not set; ``common.tabular.config.check_params_file`` refuses a key
that is neither an option nor one of them before any work (LightGBM ignores an unknown key without a word,
CatBoost ends in a traceback mid-run).

Each library is imported only when its names are asked for (each is a large import), once per process.
"""
from __future__ import annotations

import inspect
import json
from functools import lru_cache

# LightGBM's Dataset parameters are fixed when the matrix is binned once for every fold and trial
# (common.tabular.binned): a --params file cannot change them (max_bin is the --max-bin option).
DATASET_PARAMS = ("max_bin", "min_data_in_bin", "bin_construct_sample_cnt", "feature_pre_filter")


@lru_cache(maxsize=None)
def known_params(model: str) -> frozenset[str]:
    """Every parameter name (and alias) of the ``--model`` library."""
    return frozenset({"lightgbm": _lightgbm_names, "xgboost": _xgboost_names, "catboost": _catboost_names}[model]())


@lru_cache(maxsize=None)
def main_params(model: str) -> frozenset[str]:
    """The parameter names of the ``--model`` library without the aliases LightGBM lists beside them (what a
    suggestion names first: ``num_leaves`` rather than its alias ``num_leaf``)."""
    return frozenset(_lightgbm_aliases()) if model == "lightgbm" else known_params(model)


@lru_cache(maxsize=None)
def fixed_params(model: str) -> frozenset[str]:
    """The library parameters of ``model`` a ``--params`` file may not set, under every alias."""
    if model != "lightgbm":
        return frozenset()
    aliases = _lightgbm_aliases()
    return frozenset(name for param in DATASET_PARAMS for name in aliases[param])


def _lightgbm_aliases() -> dict[str, list[str]]:
    """LightGBM's parameters, each with its aliases (itself included): the table its C library dumps
    (``LGBM_DumpParamAliases``), as read by ``lightgbm.basic``, LightGBM's only list of them."""
    from lightgbm.basic import _ConfigAliases

    return _ConfigAliases._get_all_param_aliases()


def _lightgbm_names() -> set[str]:
    return {name for aliases in _lightgbm_aliases().values() for name in aliases}


def _xgboost_names() -> set[str]:
    """XGBoost publishes no list: the names in the configuration of a booster of each kind (tree, dart, linear)
    for the binary objective, which XGBoost writes with every parameter it reads (aliases included), its global
    ones, and ``eval_metric`` (kept there as ``metrics``)."""
    import numpy as np
    import xgboost as xgb

    data = xgb.DMatrix(np.zeros((2, 1)), np.array([0.0, 1.0]))
    names = set(xgb.get_config()) | {"eval_metric"}
    for booster in ("gbtree", "dart", "gblinear"):
        model = xgb.Booster({"booster": booster, "objective": "binary:logistic", "nthread": 1}, [data])
        names |= _keys(json.loads(model.save_config()))
    return names


def _keys(config) -> set[str]:
    """The names of the values in XGBoost's nested JSON configuration."""
    if isinstance(config, list):
        return {key for item in config for key in _keys(item)}
    if not isinstance(config, dict):
        return set()
    return {key for key, value in config.items() if not isinstance(value, (dict, list))} | {
        key for value in config.values() for key in _keys(value)}


def _catboost_names() -> set[str]:
    """The arguments of CatBoost's classifier, which its ``CatBoost(params)`` reads (aliases included)."""
    from catboost import CatBoostClassifier

    return set(inspect.signature(CatBoostClassifier.__init__).parameters) - {"self"}
