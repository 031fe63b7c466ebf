"""``--params``: the file's options override the command's, checked together, one line naming the file."""
import pytest

from common.config import parse_config
from common.tabular.config import GBDTConfig
from common.tuning.params import apply_params


def params_file(tmp_path, text: str) -> str:
    path = tmp_path / "best_params.yaml"
    path.write_text(text)
    return str(path)


def test_options_that_only_fit_together_are_checked_together(tmp_path):
    """``device: cuda`` alone is refused with LightGBM, the command's model; with ``model: xgboost`` beside it
    the file is one consistent recipe."""
    cfg = parse_config(GBDTConfig, ["--params", params_file(tmp_path, "model: xgboost\ndevice: cuda\n")])
    applied = apply_params(cfg, others="xgboost parameters")
    assert (applied.model, applied.device) == ("xgboost", "cuda")


def test_a_value_that_is_wrong_alone_names_its_key_and_the_file(tmp_path):
    path = params_file(tmp_path, "num_leaves: 1\n")
    with pytest.raises(ValueError, match=f"^params file {path}: num_leaves: option --num-leaves: 1 must be >= 2$"):
        apply_params(parse_config(GBDTConfig, ["--params", path]))


def test_a_pair_that_does_not_fit_names_the_file(tmp_path):
    path = params_file(tmp_path, "device: cuda\n")
    with pytest.raises(ValueError, match=f"^params file {path}: .*cuda"):
        apply_params(parse_config(GBDTConfig, ["--params", path]))
