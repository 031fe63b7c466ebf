"""What a gradient-boosted trees library brings to the tabular engine: an :class:`Engine` that fits one fold and
predicts its rows (``lgbm``, ``xgboost_engine``, ``catboost_engine``), and the one way a config becomes that
library's parameters (:func:`model_params`).

Cross-validation (``common.tabular.cross_validate``) and tuning (``common.tabular.tune``) both go through it:
``inputs`` once per fold, then ``fit`` (per fold in a run, per fold and trial in a study).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

import numpy as np
import pandas as pd

from common.registry import load_hook
from common.tabular.config import GBDTConfig, check_gpu
from common.tabular.matrix import FoldSplit
from common.tabular.timing import Timings
from common.tuning.params import other_params

OnRound = Callable[[int, float], None]  # (boosting round from 0, validation AUC after it); may raise to stop


@dataclass
class FittedModel:
    """One fold's early-stopped model: its best iteration (rounds kept), its predictions of the fold's
    validation and test rows, importance per feature (of the engine's ``importance_type``) and the model
    file's bytes."""
    best_iteration: int
    valid_pred: np.ndarray
    test_pred: np.ndarray | None  # None when the matrix has no test rows
    importance: pd.DataFrame  # feature, importance
    model_bytes: bytes


class Engine(Protocol):
    """Fits one fold with a library (``params``: that library's parameters) and predicts its rows."""
    name: str             # the --model choice; its time goes to ``<name>_s`` in metrics.json
    model_file: str       # in fold<k>/
    params_file: str      # in the run folder
    seed_param: str       # the seed's name in ``params``
    importance_type: str  # what ``FittedModel.importance`` measures, in the library's words
    reports_rounds: bool  # whether ``fit`` calls ``on_round`` after each boosting round (else none: per fold)

    @classmethod
    def options_params(cls, cfg: GBDTConfig) -> dict: ...  # cfg's options under the library's names

    @classmethod
    def from_config(cls, cfg: GBDTConfig, params: dict, categorical: list[str]) -> "Engine": ...

    def route_log(self, log) -> None:
        """Send the library's own messages to ``log`` (a run's logger) while this engine trains."""

    def inputs(self, split: FoldSplit, timings: Timings) -> Any:
        """The library's inputs of one fold, their time under ``fold_inputs_s`` (and LightGBM's binning under
        ``binning_s``); what folds of one matrix share is built for the first and kept."""

    def fit(self, inputs: Any, on_round: OnRound | None = None) -> FittedModel:
        """The model of one fold's inputs and its predictions; with ``reports_rounds``, ``on_round`` sees the
        validation AUC after every boosting round (a study's pruning)."""


# imported only when chosen: each library is a large import
ENGINES = {"lightgbm": "common.tabular.lgbm:LightGBMEngine", "xgboost": "common.tabular.xgboost_engine:XGBoostEngine",
           "catboost": "common.tabular.catboost_engine:CatBoostEngine"}


def engine_class(model: str) -> type[Engine]:
    return load_hook(ENGINES[model])


def model_params(cfg: GBDTConfig) -> dict:
    """The ``--model`` library's parameters of ``cfg``, by one rule for every library: its options under the
    library's names, then the keys of its ``--params`` file that are no option, as they are (the file's options
    are ``cfg``'s already: ``common.tuning.params.apply_params``; its other keys were checked against the
    library's names when ``cfg`` was made: ``common.tabular.config.check_params_file``)."""
    return {**engine_class(cfg.model).options_params(cfg), **other_params(cfg)}


def make_engine(cfg: GBDTConfig, params: dict, categorical: list[str]) -> Engine:
    """The ``--model`` engine of ``cfg``; ``--device cuda`` without a visible GPU is refused (a command checks it
    first thing: ``common.tabular.config.check_gpu``)."""
    check_gpu(cfg)
    return engine_class(cfg.model).from_config(cfg, params, categorical)
