"""A ``--params`` file is checked when the config is made, before any work: each key is an option of the command
or a parameter of its ``--model`` library (from the library's own list), else one line names the key and the
closest known name."""
from __future__ import annotations

import pytest
import yaml

from common.config import parse_config
from common.errors import BadInput
from common.tabular.config import GBDTConfig
from common.tabular.library_params import known_params
from common.tabular.tune import GBDTTuneConfig


def _params(tmp_path, values: dict) -> str:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(values))
    return str(path)


@pytest.mark.parametrize("model, typo, meant", [
    ("lightgbm", "num_leafs", "num_leaves"),
    ("xgboost", "colsample_bytre", "colsample_bytree"),
    ("catboost", "l2_leaf_regg", "l2_leaf_reg"),
    ("catboost", "learning_rat", "learning_rate"),  # the closest name may be an option
])
@pytest.mark.parametrize("cls", [GBDTConfig, GBDTTuneConfig])  # training and tuning alike
def test_a_mistyped_key_is_one_line_naming_it_and_the_closest_name(tmp_path, cls, model, typo, meant):
    path = _params(tmp_path, {typo: 15})
    with pytest.raises(BadInput) as err:
        parse_config(cls, ["--model", model, "--params", path])
    message = str(err.value)
    assert message == (f"params file {path}: {typo!r} is neither an option nor a {model} parameter "
                       f"(did you mean {meant!r}?)")


def test_the_library_is_the_params_files_own_model(tmp_path):
    """A study's best_params.yaml names its model: its keys are checked against that library's names."""
    path = _params(tmp_path, {"params": {"model": "xgboost", "grow_policy": "lossguide"}})
    parse_config(GBDTConfig, ["--params", path])  # LightGBM has no grow_policy, XGBoost has
    path = _params(tmp_path, {"params": {"model": "catboost", "grow_policy": "Lossguide", "num_leafs": 3}})
    with pytest.raises(BadInput, match="'num_leafs' is neither an option nor a catboost parameter"):
        parse_config(GBDTConfig, ["--params", path])


def test_a_key_far_from_every_name_is_refused_without_a_guess(tmp_path):
    path = _params(tmp_path, {"zzzz_qqqq": 1})
    with pytest.raises(BadInput, match=r"'zzzz_qqqq' is neither an option nor a lightgbm parameter \(see "):
        parse_config(GBDTConfig, ["--params", path])


@pytest.mark.parametrize("model, names", [
    ("lightgbm", {"extra_trees", "num_leaves", "bagging_seed", "verbose", "force_col_wise", "min_data_in_bin"}),
    ("xgboost", {"grow_policy", "max_leaves", "eta", "learning_rate", "scale_pos_weight", "eval_metric",
                 "rate_drop", "verbosity"}),
    ("catboost", {"random_strength", "l2_leaf_reg", "one_hot_max_size", "od_wait", "rsm", "task_type"}),
])
def test_each_librarys_names_come_from_the_library(model, names):
    from common.tabular import catboost_engine, lgbm, xgboost_engine
    cfg = GBDTConfig(model=model)
    made = {"lightgbm": lgbm.lgb_params, "xgboost": xgboost_engine.xgb_params,
            "catboost": catboost_engine.catboost_params}[model](cfg)
    assert names | set(made) <= known_params(model)  # every parameter the engine itself sets is known too
    assert "num_leafs" not in known_params(model)


def test_lightgbms_dataset_parameters_are_refused_under_every_alias(tmp_path):
    """They are fixed when the matrix is binned once; ``max_bin`` itself is the --max-bin option."""
    for key in ("min_data_in_bin", "max_bins", "subsample_for_bin"):
        path = _params(tmp_path, {key: 5})
        with pytest.raises(BadInput, match=rf"params file .*: \['{key}'\] cannot be set: lightgbm fixes them"):
            parse_config(GBDTConfig, ["--params", path])
    assert parse_config(GBDTConfig, ["--params", _params(tmp_path, {"max_bin": 15})]).max_bin == 255  # applied later


def test_a_bad_value_or_a_missing_file_is_refused_when_the_config_is_made(tmp_path):
    with pytest.raises(BadInput, match=r"params file .*: num_leaves: option --num-leaves: 1 must be >= 2"):
        parse_config(GBDTConfig, ["--params", _params(tmp_path, {"num_leaves": 1})])
    with pytest.raises(FileNotFoundError, match="option --params: no such file: .*nothing.yaml"):
        parse_config(GBDTConfig, ["--params", str(tmp_path / "nothing.yaml")])
