"""One option group says which timm model an image command builds, with one validation for every such CLI."""
import pytest

from common.config import parse_config
from common.vision.model_source import ModelSourceOptions
from common.vision.ssl import SSLConfig
from competitions.nexperia.adversarial import AdversarialConfig
from competitions.nexperia.recipe import TrainConfig
from competitions.nexperia.features import FeaturesConfig

CLIS = {"train": (TrainConfig, []), "pretrain": (SSLConfig, ["--method", "rotation"]),
        "features": (FeaturesConfig, []), "adversarial": (AdversarialConfig, ["--features", "run"])}


@pytest.mark.parametrize("cli", sorted(CLIS))
def test_every_image_cli_refuses_a_bad_model_source_in_the_same_words(cli):
    cls, base = CLIS[cli]
    assert issubclass(cls, ModelSourceOptions)
    cases = [(["--model", "resnet9000"], "option --model: unknown timm model 'resnet9000'"),
             (["--model-kwargs", "{channels: [16"], "option --model-kwargs: '{channels: [16' is not a YAML mapping"),
             (["--model", "resnet18", "--pretrained", "efficientnet_lite0"],
              "option --pretrained efficientnet_lite0 holds weights for tf_efficientnet_lite0, not --model resnet18")]
    for argv, message in cases:
        with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("{", r"\{")):
            parse_config(cls, [*base, *argv])


@pytest.mark.parametrize("cli", sorted(CLIS))
def test_known_weights_choose_the_model(cli):
    cls, base = CLIS[cli]
    cfg = parse_config(cls, [*base, "--pretrained", "efficientnet_lite1"])
    assert cfg.model == "tf_efficientnet_lite1"
