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


def test_train_defaults_are_the_documented_demo_recipe(tmp_path):
    """docs/nexperia.md: train.py without --config trains configs/demo.yaml's recipe. Every option demo.yaml
    sets (but the run's name and the machine's loader settings) is the default, autocast as resolved on the CPU
    (off: bf16 trained slower there) and on CUDA (on)."""
    import torch
    import yaml

    from common.vision.distributed import amp_dtype

    demo = parse_config(TrainConfig, ["--config", str(CONFIGS / "demo.yaml"), "--data", str(tmp_path)])
    default = parse_config(TrainConfig, ["--data", str(tmp_path)])
    keys = set(yaml.safe_load((CONFIGS / "demo.yaml").read_text())) - {"name", "workers", "threads", "gradcam"}
    differ = {k: (getattr(default, k), getattr(demo, k)) for k in keys - {"amp"}
              if getattr(default, k) != getattr(demo, k)}
    assert differ == {}
    cpu = torch.device("cpu")
    assert amp_dtype(cpu, default.amp) is amp_dtype(cpu, demo.amp) is None
    assert amp_dtype(torch.device("cuda"), default.amp) is not None
    doc = (Path(__file__).resolve().parents[2] / "docs" / "nexperia.md").read_text()
    assert f"{demo.epochs} epochs at {demo.img_size} px, batch {demo.batch_size}, {demo.tta} TTA" in doc
