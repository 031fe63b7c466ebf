from dataclasses import dataclass, field

import pytest
import yaml

from common.config import config_to_yaml, parse_config


@dataclass
class Cfg:
    model: str = "resnet18"
    epochs: int = 3
    lr: float = 1e-3
    amp: bool = True
    views: list[str] = field(default_factory=lambda: ["identity"])
    checkpoint: str | None = None


def test_defaults_when_nothing_given():
    assert parse_config(Cfg, []) == Cfg()


def test_yaml_supplies_defaults_and_command_line_wins(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"model": "convnext_tiny", "epochs": 7, "amp": False}))
    cfg = parse_config(Cfg, ["--config", str(path), "--epochs", "9", "--views", "identity", "hflip"])
    assert cfg == Cfg(model="convnext_tiny", epochs=9, amp=False, views=["identity", "hflip"])


def test_bool_flags_and_none():
    cfg = parse_config(Cfg, ["--no-amp", "--checkpoint", "none", "--lr", "0.5"])
    assert cfg.amp is False and cfg.checkpoint is None and cfg.lr == 0.5


def test_unknown_yaml_key_names_key_and_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("epochz: 3\n")
    with pytest.raises(ValueError, match=r"bad.yaml.*epochz"):
        parse_config(Cfg, ["--config", str(path)])


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        parse_config(Cfg, ["--config", str(tmp_path / "nope.yaml")])


def test_resolved_config_round_trips_through_yaml(tmp_path):
    cfg = parse_config(Cfg, ["--epochs", "4"])
    path = tmp_path / "resolved.yaml"
    path.write_text(config_to_yaml(cfg))
    assert parse_config(Cfg, ["--config", str(path)]) == cfg


def test_none_is_a_value_for_fields_that_cannot_be_none():
    @dataclass
    class Choice:
        preset: str = field(default="light", metadata={"choices": ["none", "light"]})
        weights: str | None = "w.bin"

    cfg = parse_config(Choice, ["--preset", "none", "--weights", "none"])
    assert cfg.preset == "none" and cfg.weights is None


def test_run_config_fields_volatile_and_required_options(tmp_path):
    from common.config import RunConfig, option, volatile_options

    @dataclass
    class Model(RunConfig):
        model: str = option("resnet18", choices=["resnet18", "resnet34"])
        source: str | None = option(required=True, help="a run folder")
        workers: int = option(2, volatile=True)

    assert {"fold", "resume", "device", "threads", "progress", "workers"} <= volatile_options(Model)
    assert not {"model", "seed", "data", "name"} & volatile_options(Model)
    with pytest.raises(ValueError, match="option --source is required"):
        parse_config(Model, [])
    cfg = parse_config(Model, ["--source", "runs/x", "--fold", "2"])
    assert cfg.source == "runs/x" and cfg.fold == "2" and cfg.resume is True
    yaml_file = tmp_path / "recipe.yaml"
    yaml_file.write_text("model: weird\nsource: runs/x\n")
    with pytest.raises(ValueError, match=r"option --model \(from .*recipe.yaml\): 'weird' is not one of"):
        parse_config(Model, ["--config", str(yaml_file)])
