"""``GBDTConfig``: the options of a gradient-boosted trees cross-validation run (LightGBM, XGBoost or
CatBoost, ``--model``); a study's options derive from it (``common.tabular.tune.GBDTTuneConfig``).

A competition's training config derives from it and adds its data options. The tree options carry
LightGBM's names; each library's engine translates those its library has (``OPTIONS_READ``) and a model
refuses an option it cannot read. ``--params FILE`` (the ``best_params.yaml`` of a study, or any YAML
mapping) overrides options as in every command (``common.tuning.params``), and its keys that are no option
go to the chosen library as parameters (``common.tabular.protocol.model_params``).

Making a config checks everything about it that does not depend on the machine, before any work and without
reading data (a command, and ``kernels.build`` for a kernel that runs elsewhere, through the script's parser):
the options a library cannot read, ``--device cuda`` with LightGBM, the ``--params`` file's values and keys
(:func:`check_params_file`). Whether this machine has the GPU that ``--device cuda`` asks for is the command's
own check (:func:`check_gpu`), when it starts and whenever an engine is made.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path

from common.errors import BadInput, MissingInput
from common.config import RunConfig, option, parse_folds, read_params
from common.device import require_gpu
from common.tabular.library_params import fixed_params, known_params, main_params
from common.tuning.params import check_option_values, did_you_mean, option_names

MODELS = ("lightgbm", "xgboost", "catboost")
DEFAULT_NAMES = {"lightgbm": "lgb", "xgboost": "xgb", "catboost": "catboost"}
DEVICES = ("cpu", "cuda")
_SHARED = ("learning_rate", "feature_fraction", "bagging_fraction", "lambda_l2", "max_bin")
# The tree options each library has an equivalent of (the rest are LightGBM's alone).
OPTIONS_READ = {
    "lightgbm": ("num_leaves", "max_depth", "min_data_in_leaf", "min_sum_hessian_in_leaf", "bagging_freq",
                 "lambda_l1", "min_gain_to_split", "extra_trees", *_SHARED),
    "xgboost": ("max_depth", "min_sum_hessian_in_leaf", "lambda_l1", "min_gain_to_split", *_SHARED),
    "catboost": ("max_depth", *_SHARED),
}


@dataclass
class GBDTConfig(RunConfig):
    """Gradient-boosted trees per fold with early stopping on the validation AUC."""
    name: str | None = option(None, help="run name: runs/<competition>/<name> (default lgb, xgb or catboost, "
                                         "after --model)")
    model: str = option("lightgbm", choices=MODELS, help="the library: lightgbm, xgboost (hist trees) or "
                                                         "catboost (symmetric trees, native categoricals)")
    device: str = option("cpu", choices=DEVICES, help="cuda: XGBoost's and CatBoost's GPU training "
                                                            "(LightGBM's pip build has none)")
    num_threads: int = option(2, min=0, volatile=True, help="threads (0: the library's default; 1 on a busy "
                                                            "machine: competing OpenMP threads slow it down badly)")
    learning_rate: float = option(0.03, min=0, min_exclusive=True, help="shrinkage per boosting round")
    num_leaves: int = option(31, min=2, help="most leaves per tree")
    max_depth: int = option(-1, min=-1, help="most tree depth (-1: no limit in LightGBM, 6 in XGBoost and "
                                             "CatBoost)")
    min_data_in_leaf: int = option(50, min=0, help="fewest rows per leaf")
    min_sum_hessian_in_leaf: float = option(1e-3, min=0, help="smallest hessian sum per leaf")
    feature_fraction: float = option(0.3, min=0, max=1, min_exclusive=True, help="share of features drawn per tree")
    bagging_fraction: float = option(0.9, min=0, max=1, min_exclusive=True,
                                     help="share of rows drawn per bagging round")
    bagging_freq: int = option(1, min=0, help="bag every n rounds (0: no bagging)")
    lambda_l1: float = option(0.0, min=0, help="L1 penalty on leaf values")
    lambda_l2: float = option(1.0, min=0, help="L2 penalty on leaf values")
    min_gain_to_split: float = option(0.0, min=0, help="smallest gain of a split")
    extra_trees: bool = option(False, help="LightGBM's extremely randomised trees: one random threshold per "
                                           "feature at each split (less alike the other runs, for the blend)")
    max_bin: int = option(255, min=2, help="histogram bins of the Dataset")
    num_boost_round: int = option(5000, min=1, help="most boosting rounds")
    early_stopping_rounds: int = option(100, min=1, help="stop after this many rounds without a better validation AUC")
    params: str | None = option(None, help="YAML of options (a study's best_params.yaml) overriding the above; "
                                           "keys that are no option go to the --model library as parameters")
    log_period: int = option(200, min=0, volatile=True, help="log the validation AUC every n rounds (0: never)")

    def __post_init__(self):
        super().__post_init__()
        parse_folds(self.fold, self.n_splits)  # a bad --fold fails before any data is read
        self.name = self.name or DEFAULT_NAMES[self.model]
        check_device(self.model, self.device)
        defaults = {f.name: f.default for f in fields(GBDTConfig)}
        unread = [name for name in OPTIONS_READ["lightgbm"]
                  if name not in OPTIONS_READ[self.model] and getattr(self, name) != defaults[name]]
        if unread:
            flag = "--" + unread[0].replace("_", "-")
            raise BadInput(f"option {flag}: --model {self.model} has no such parameter (it reads "
                             f"{', '.join(OPTIONS_READ[self.model])}; give its own parameters in a --params file)")
        if self.params:
            check_params_file(self)


def check_device(model: str, device: str) -> None:
    """LightGBM trains on the CPU only (its pip build has no GPU mode)."""
    if model == "lightgbm" and device != "cpu":
        raise BadInput("option --device cuda: LightGBM's pip build trains on the CPU only; "
                       "use --model xgboost or catboost on a GPU")


def check_params_file(cfg: GBDTConfig) -> None:
    """Each key of ``cfg``'s ``--params`` file is an option with a value it accepts, or a parameter of the file's
    (else ``cfg``'s) ``--model`` library that the library lets the file set; one line naming the first that is
    not, with the closest known name."""
    path = cfg.params
    if not Path(path).is_file():
        raise MissingInput(f"option --params: no such file: {path}")
    values = read_params(path)
    options = option_names(cfg)
    # each value checked with the other options as they are, without this file (whose check this is)
    check_option_values(replace(cfg, params=None), {k: v for k, v in values.items() if k in options}, path)
    model = values.get("model", cfg.model)
    library = known_params(model)
    unknown = [key for key in values if key not in options and key not in library]
    if unknown:
        hint = (did_you_mean(unknown[0], options | main_params(model)) or did_you_mean(unknown[0], library)
                or f" (see --help and {model}'s parameter list)")
        raise BadInput(f"params file {path}: {unknown[0]!r} is neither an option nor a {model} parameter{hint}")
    refused = sorted((set(values) - options) & fixed_params(model))
    if refused:
        raise BadInput(f"params file {path}: {refused} cannot be set: {model} fixes them when it bins the "
                       "data (set the bins with --max-bin)")


def check_gpu(cfg: GBDTConfig) -> None:
    """``--device cuda`` needs a GPU visible on this machine: XGBoost would train on the CPU while its params file
    says cuda, CatBoost fail mid-run. Not a check of the config: a kernel built here may run on Kaggle's GPU."""
    if cfg.device == "cuda":
        require_gpu("option --device cuda")
