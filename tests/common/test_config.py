from dataclasses import dataclass, field

import pytest
import yaml

from common.config import config_to_dict, option, parse_config, parse_subcommand
from common.errors import BadInput


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
    path.write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))  # as Run.save_config writes it
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

    assert {"fold", "resume", "progress", "runs_dir", "cache_dir", "workers"} <= volatile_options(Model)
    assert not {"model", "seed", "data", "name"} & volatile_options(Model)
    with pytest.raises(ValueError, match="option --source is required"):
        parse_config(Model, [])
    cfg = parse_config(Model, ["--source", "runs/x", "--fold", "2"])
    assert cfg.source == "runs/x" and cfg.fold == "2" and cfg.resume is True
    yaml_file = tmp_path / "recipe.yaml"
    yaml_file.write_text("model: weird\nsource: runs/x\n")
    with pytest.raises(ValueError, match=r"option --model \(from .*recipe.yaml\): 'weird' is not one of"):
        parse_config(Model, ["--config", str(yaml_file)])


# -- ranges, malformed YAML, a failed start's config (Trust issue, item 1) ---------------------------------
@dataclass
class Ranged:
    epochs: int = field(default=3, metadata={"range": (1, None, False, False)})
    lr: float = field(default=1e-3, metadata={"range": (0, None, True, False)})
    decay: float = field(default=0.9, metadata={"range": (0, 1, True, True)})
    crop: list[int] | None = field(default=None, metadata={"range": (0, None, False, False)})
    limit: float | None = field(default=None, metadata={"range": (0, None, True, False)})


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "0"], "option --epochs: 0 must be >= 1"),
    (["--lr", "-1"], "option --lr: -1.0 must be > 0"),
    (["--lr", "0"], "option --lr: 0.0 must be > 0"),
    (["--decay", "1"], "option --decay: 1.0 must be < 1"),
    (["--decay", "0"], "option --decay: 0.0 must be > 0"),
    (["--crop", "1", "-2"], "option --crop: -2 must be >= 0"),
    (["--lr", "nan"], "option --lr: nan is not a number"),
])
def test_out_of_range_command_line_values_name_option_and_value(argv, message):
    with pytest.raises(ValueError) as err:
        parse_config(Ranged, argv)
    assert str(err.value) == message  # one line, no file: the value came from the command line


def test_range_bounds_and_none_pass():
    cfg = parse_config(Ranged, ["--epochs", "1", "--lr", "1e-9", "--decay", "0.999", "--crop", "0", "5",
                                "--limit", "none"])
    assert cfg.epochs == 1 and cfg.limit is None


def test_out_of_range_yaml_value_names_the_file_but_a_command_line_fix_wins(tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text("epochs: 0\nlr: 0.01\n")
    with pytest.raises(ValueError, match=rf"^option --epochs \(from {path}\): 0 must be >= 1$"):
        parse_config(Ranged, ["--config", str(path)])
    assert parse_config(Ranged, ["--config", str(path), "--epochs", "2"]).epochs == 2
    # a bad command-line value over a good YAML: the message does not blame the file
    with pytest.raises(ValueError, match=r"^option --lr: -1.0 must be > 0$"):
        parse_config(Ranged, ["--config", str(path), "--epochs", "2", "--lr", "-1"])
    path.write_text("epochs: many\n")
    with pytest.raises(ValueError, match=rf"^option --epochs \(from {path}\): 'many' is not an integer$"):
        parse_config(Ranged, ["--config", str(path)])
    path.write_text("lr: '1e-3'\nepochs: 2.0\n")  # numbers as text (YAML 1.1 reads 1e-3 as text) still work
    assert parse_config(Ranged, ["--config", str(path)]).lr == 1e-3


def test_option_declares_range_metadata():
    from common.config import option

    @dataclass
    class Model:
        lr: float = option(1e-3, min=0, min_exclusive=True)
        frac: float = option(0.5, min=0, max=1, min_exclusive=True)

    with pytest.raises(ValueError, match=r"option --frac: 1.5 must be <= 1"):
        parse_config(Model, ["--frac", "1.5"])
    with pytest.raises(ValueError, match=r"option --lr: 0.0 must be > 0"):
        parse_config(Model, ["--lr", "0"])


@pytest.mark.parametrize("text, where", [
    ("epochs: 3\nlr: [1, 2\n", "line 3, column 1"),
    ("epochs: 3\n  lr: 2\n", "line 2, column 5"),
    ("a: b: c\n", "line 1, column 5"),
])
def test_malformed_yaml_names_the_file_and_the_place(tmp_path, text, where):
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as err:
        parse_config(Ranged, ["--config", str(path)])
    message = str(err.value)
    assert message.startswith(f"config file {path} is not valid YAML: {where}: ")
    assert "\n" not in message


@pytest.mark.parametrize("argv, message", [
    (["--n-splits", "1"], "option --n-splits: 1 must be >= 2"),
    (["--seed", "-3"], "option --seed: -3 must be >= 0"),
    (["--seed", str(2**31)], f"option --seed: {2**31} must be <= {2**31 - 1}"),
    (["--fold", "9"], r"option --fold [9] outside 0..4 (--n-splits 5)"),
])
def test_run_config_ranges(argv, message):
    from common.config import RunConfig
    with pytest.raises(ValueError) as err:
        parse_config(RunConfig, argv)
    assert str(err.value) == message


def test_device_options_ranges():
    from common.config import RunConfig
    from common.device import DeviceOptions

    @dataclass
    class TorchRun(DeviceOptions, RunConfig):
        pass

    with pytest.raises(ValueError) as err:
        parse_config(TorchRun, ["--threads", "-1"])
    assert str(err.value) == "option --threads: -1 must be >= 0"


@dataclass
class SubmitLike:
    """Send a file."""
    file: str | None = option(None, positional=True, help="the file")
    message: str = option(required=True, short="-m", help="what it tries")
    post: list[str] = option(default_factory=list, append=True, help="repeatable")
    runs: list[str] = option(default_factory=lambda: ["a"], help="several at once")
    dry_run: bool = option(False, help="record only")


def test_positional_short_append_and_list_options():
    cfg = parse_config(SubmitLike, ["sub.csv", "-m", "msg", "--post", "leak-fix", "--post", "clip",
                                    "--runs", "x", "y", "--dry-run"])
    assert cfg == SubmitLike("sub.csv", "msg", ["leak-fix", "clip"], ["x", "y"], True)
    assert parse_config(SubmitLike, ["--message", "m"]) == SubmitLike(None, "m", [], ["a"], False)


def test_appended_items_replace_the_yaml_default(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("post: [from-yaml]\nmessage: hi\n")
    assert parse_config(SubmitLike, ["-c", str(path)]).post == ["from-yaml"]
    assert parse_config(SubmitLike, ["-c", str(path), "--post", "cli"]).post == ["cli"]


def test_a_required_positional_is_named_when_missing():
    @dataclass
    class Validate:
        file: str = option(positional=True, required=True)

    assert parse_config(Validate, ["x.csv"]).file == "x.csv"
    with pytest.raises(BadInput, match=r"^option FILE is required$"):
        parse_config(Validate, [])


def test_debug_is_listed_in_help_and_ignored(capsys):
    assert parse_config(SubmitLike, ["--debug", "-m", "m"]).message == "m"
    with pytest.raises(SystemExit) as exit_info:
        parse_config(SubmitLike, ["--help"], prog="python -m submit")
    out = capsys.readouterr().out
    assert exit_info.value.code == 0 and "--debug" in out and "-m MESSAGE, --message MESSAGE" in out
    assert "usage: python -m submit [-h] [--config CONFIG] [--debug]" in out and "[FILE]" in out


@dataclass
class SyncLike:
    """Track the submissions."""
    competition: str = option(required=True)


@dataclass
class ReportLike:
    """Print the ledger."""
    competition: list[str] | None = option(None, append=True)


def test_subcommand_picks_its_dataclass_and_parses_the_rest(tmp_path, capsys):
    commands = {"sync": SyncLike, "report": ReportLike}
    assert parse_subcommand(commands, ["sync", "--competition", "c"]) == ("sync", SyncLike("c"))
    assert parse_subcommand(commands, ["--debug", "report"]) == ("report", ReportLike(None))
    path = tmp_path / "r.yaml"
    path.write_text("competition: [a, b]\n")
    assert parse_subcommand(commands, ["report", "--config", str(path)])[1] == ReportLike(["a", "b"])
    with pytest.raises(BadInput, match="option --competition is required"):
        parse_subcommand(commands, ["sync"])
    with pytest.raises(SystemExit) as exit_info:
        parse_subcommand(commands, ["--help"], prog="python -m ledger")
    out = capsys.readouterr().out
    assert exit_info.value.code == 0 and "{sync,report}" in out and "Track the submissions." in out
    assert "--debug" in out
    for argv in ([], ["final"]):
        with pytest.raises(SystemExit) as exit_info:
            parse_subcommand(commands, argv)
        assert exit_info.value.code == 2
