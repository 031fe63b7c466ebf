"""Every recipe shipped in competitions/nexperia/configs/ parses with the command it is written for."""
from pathlib import Path

import pytest

from common.config import parse_config
from common.vision.ssl import SSLConfig
from competitions.nexperia.anomaly import VAEConfig
from competitions.nexperia.recipe import TrainConfig

CONFIGS = Path(__file__).resolve().parents[2] / "competitions" / "nexperia" / "configs"
COMMAND = {"cpu": TrainConfig, "cpu-ema": TrainConfig, "default": TrainConfig, "demo": TrainConfig,
           "pretrained": TrainConfig, "pretrain-cpu": SSLConfig, "vae-conv": VAEConfig, "vae-demo": VAEConfig,
           "vae-fc": VAEConfig}


@pytest.mark.parametrize("name", sorted(COMMAND))
def test_recipe_parses(name, tmp_path):
    extra = ["--method", "rotation"] if COMMAND[name] is SSLConfig else []
    cfg = parse_config(COMMAND[name], ["--config", str(CONFIGS / f"{name}.yaml"), "--data", str(tmp_path), *extra])
    assert cfg.data == str(tmp_path)


def test_every_training_recipe_is_listed():
    tuning = {p.stem for p in CONFIGS.glob("tune-*.yaml")}  # parsed by tests/nexperia/test_tune.py
    assert {p.stem for p in CONFIGS.glob("*.yaml")} - tuning == set(COMMAND)


def test_the_pretrained_recipe_fine_tunes_the_installed_imagenet_weights(tmp_path):
    cfg = parse_config(TrainConfig, ["--config", str(CONFIGS / "pretrained.yaml"), "--data", str(tmp_path)])
    assert (cfg.pretrained, cfg.model) == ("efficientnet_lite0", "tf_efficientnet_lite0")


def test_vae_defaults_are_the_measured_conv_recipe(tmp_path):
    """vae.py without --config trains vae-conv.yaml's recipe (the best VAE of docs/analysis.md), and
    ``--crop none`` scores the whole image."""
    recipe = parse_config(VAEConfig, ["--config", str(CONFIGS / "vae-conv.yaml"), "--data", str(tmp_path)])
    default = parse_config(VAEConfig, ["--data", str(tmp_path)])
    assert default == recipe
    assert parse_config(VAEConfig, ["--data", str(tmp_path), "--crop", "none"]).crop is None
    assert parse_config(VAEConfig, ["--data", str(tmp_path), "--arch", "fc"]).epochs == 150


def test_pretrain_defaults_are_the_measured_cpu_recipe_on_any_model(tmp_path):
    """pretrain.py without --config uses pretrain-cpu.yaml's training settings (the model stays the user's)."""
    args = ["--data", str(tmp_path), "--method", "simclr"]
    recipe = parse_config(SSLConfig, ["--config", str(CONFIGS / "pretrain-cpu.yaml"), *args])
    default = parse_config(SSLConfig, args)
    for key in ("img_size", "norm", "epochs", "batch_size", "lr", "warmup_epochs", "crop_scale", "temperature"):
        assert getattr(default, key) == getattr(recipe, key), key
