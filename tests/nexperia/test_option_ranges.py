"""Options outside their range, malformed YAML and failed starts (Trust issue, item 1), for every Nexperia CLI.

Each probe must end in one line ``error: option --x: <value> ...`` (exit 2) before any data is read or any
file written, and must leave an existing run of the same name exactly as it was."""
from __future__ import annotations

import importlib

import pytest
import yaml

from common.cli import run_cli

# (CLI module, its required arguments)
CLIS = {
    "train": [],
    "vae": [],
    "baseline": [],
    "features": [],
    "predict": ["--run", "RUN"],
    "noisy": ["--oof", "RUN"],
}
PROBES = [
    ("train", ["--epochs", "0"], "option --epochs: 0 must be >= 1"),
    ("train", ["--lr", "-1"], "option --lr: -1.0 must be > 0"),
    ("train", ["--img-size", "0"], "option --img-size: 0 must be >= 8"),
    ("train", ["--batch-size", "0"], "option --batch-size: 0 must be >= 1"),
    ("train", ["--n-splits", "1"], "option --n-splits: 1 must be >= 2"),
    ("train", ["--patience", "0"], "option --patience: 0 must be >= 1"),
    ("train", ["--weight-decay", "-0.1"], "option --weight-decay: -0.1 must be >= 0"),
    ("train", ["--ema-decay", "1"], "option --ema-decay: 1.0 must be < 1"),
    ("train", ["--label-smoothing", "1"], "option --label-smoothing: 1.0 must be < 1"),
    ("train", ["--workers", "-1"], "option --workers: -1 must be >= 0"),
    ("train", ["--threads", "-2"], "option --threads: -2 must be >= 0"),
    ("train", ["--warmup-epochs", "-1"], "option --warmup-epochs: -1.0 must be >= 0"),
    ("train", ["--freeze", "top3"], "option --freeze: 'top3' is not none, head or lastN (e.g. last2)"),
    ("train", ["--model", "resnet9000"], "option --model: unknown timm model 'resnet9000'"),
    ("train", ["--fold", "5"], "option --fold [5] outside 0..4 (--n-splits 5)"),
    ("vae", ["--epochs", "0"], "option --epochs: 0 must be >= 1"),
    ("vae", ["--lr", "-1"], "option --lr: -1.0 must be > 0"),
    ("vae", ["--image-size", "0"], "option --image-size: 0 must be >= 8"),
    ("vae", ["--batch-size", "0"], "option --batch-size: 0 must be >= 1"),
    ("vae", ["--arch", "conv", "--image-size", "50"], "option --image-size: conv VAE image size must be"),
    ("vae", ["--crop", "10", "5", "0", "20"], "option --crop: [10, 5, 0, 20] is not four numbers"),
    ("vae", ["--hidden", "0"], "option --hidden: 0 must be >= 1"),
    ("baseline", ["--size", "0"], "option --size: 0 must be >= 2"),
    ("baseline", ["--C", "0"], "option --C: 0.0 must be > 0"),
    ("baseline", ["--n-splits", "1"], "option --n-splits: 1 must be >= 2"),
    ("features", ["--img-size", "0"], "option --img-size: 0 must be >= 8"),
    ("features", ["--batch-size", "0"], "option --batch-size: 0 must be >= 1"),
    ("predict", ["--batch-size", "0"], "option --batch-size: 0 must be >= 1"),
    ("predict", ["--workers", "-1"], "option --workers: -1 must be >= 0"),
    ("noisy", ["--grid", "-1"], "option --grid: -1 must be >= 0"),
]


def _main(cli: str):
    return importlib.import_module(f"competitions.nexperia.{cli}").main


def _existing_run(tmp_path):
    """A run folder with a config, a checkpoint and predictions that no failed start may touch."""
    root = tmp_path / "runs" / "nexperia" / "keep"
    (root / "fold0").mkdir(parents=True)
    files = {"config.yaml": "name: keep\nepochs: 3\n", "fold0/last.pt": "weights", "oof.csv": "id,fold,target,pred\n",
             "fold0/done.json": "{}"}
    for name, text in files.items():
        (root / name).write_text(text)
    return root, {name: (root / name).read_bytes() for name in files}


def _run(cli, argv, tmp_path, capsys):
    args = [a if a != "RUN" else str(tmp_path / "runs" / "nexperia" / "keep") for a in CLIS[cli]]
    args += ["--data", str(tmp_path / "no-data-needed"), *argv]
    if cli != "predict":  # predict reads the source run's cache folder
        args += ["--cache-dir", str(tmp_path / "cache")]
    if cli not in ("predict", "noisy"):
        args += ["--runs-dir", str(tmp_path / "runs"), "--name", "keep"]
    with pytest.raises(SystemExit) as exit_:
        run_cli(_main(cli), args)
    assert exit_.value.code == 2
    return capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("cli, argv, message", PROBES, ids=[f"{c}{' '.join(a)}" for c, a, _ in PROBES])
def test_out_of_range_option_is_one_line_before_any_work(cli, argv, message, tmp_path, capsys):
    root, before = _existing_run(tmp_path)
    lines = _run(cli, argv, tmp_path, capsys)
    assert len(lines) == 1 and lines[0].startswith(f"error: {message}"), lines
    assert not (tmp_path / "cache").exists()  # no data was read
    assert {name: (root / name).read_bytes() for name in before} == before  # nothing written was changed
    assert sorted(p.name for p in (tmp_path / "runs" / "nexperia").iterdir()) == ["keep"]


@pytest.mark.parametrize("cli", sorted(CLIS))
def test_yaml_out_of_range_names_the_file(cli, tmp_path, capsys):
    key, value = {"train": ("epochs", 0), "vae": ("lr", -1.5), "baseline": ("n_splits", 1), "features": ("img_size", 0),
                  "predict": ("batch_size", 0), "noisy": ("grid", -5)}[cli]
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({key: value}))
    root, before = _existing_run(tmp_path)
    lines = _run(cli, ["--config", str(recipe)], tmp_path, capsys)
    flag = "--" + key.replace("_", "-")
    assert len(lines) == 1 and lines[0].startswith(f"error: option {flag} (from {recipe}): {value!r} must be"), lines
    assert {name: (root / name).read_bytes() for name in before} == before


@pytest.mark.parametrize("cli", sorted(CLIS))
def test_malformed_yaml_names_the_file(cli, tmp_path, capsys):
    recipe = tmp_path / "broken.yaml"
    recipe.write_text("epochs: 3\nlr: [0.1\n")
    root, before = _existing_run(tmp_path)
    lines = _run(cli, ["--config", str(recipe)], tmp_path, capsys)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: config file {recipe} is not valid YAML: line 3, column 1: ")
    assert {name: (root / name).read_bytes() for name in before} == before


def test_tabular_configs_declare_ranges(tmp_path):
    from common.config import parse_config
    from common.tabular.config import GBDTConfig
    from common.tabular.tune import GBDTTuneConfig

    for cls, argv, message in [
        (GBDTConfig, ["--learning-rate", "0"], "option --learning-rate: 0.0 must be > 0"),
        (GBDTConfig, ["--num-leaves", "1"], "option --num-leaves: 1 must be >= 2"),
        (GBDTConfig, ["--feature-fraction", "0"], "option --feature-fraction: 0.0 must be > 0"),
        (GBDTConfig, ["--bagging-fraction", "1.5"], "option --bagging-fraction: 1.5 must be <= 1"),
        (GBDTConfig, ["--num-boost-round", "0"], "option --num-boost-round: 0 must be >= 1"),
        (GBDTConfig, ["--lambda-l2", "-1"], "option --lambda-l2: -1.0 must be >= 0"),
        (GBDTConfig, ["--num-threads", "-1"], "option --num-threads: -1 must be >= 0"),
        (GBDTTuneConfig, ["--n-trials", "0"], "option --n-trials: 0 must be >= 1"),
        (GBDTTuneConfig, ["--learning-rate", "-0.1"], "option --learning-rate: -0.1 must be > 0"),
        (GBDTTuneConfig, ["--timeout", "0"], "option --timeout: 0.0 must be > 0"),
        (GBDTTuneConfig, ["--max-bin", "1"], "option --max-bin: 1 must be >= 2"),
    ]:
        with pytest.raises(ValueError) as err:
            parse_config(cls, argv)
        assert str(err.value) == message
    assert parse_config(GBDTConfig, ["--feature-fraction", "1", "--max-depth", "-1"]).feature_fraction == 1


def test_failed_start_after_config_does_not_lock_the_corrected_command(nexperia_data, tmp_path, monkeypatch):
    """A start that dies after writing config.yaml (before any fold or checkpoint) no longer refuses the
    corrected command; once a fold holds a checkpoint, a changed config is refused as before."""
    from competitions.nexperia import train

    common = ["--data", str(nexperia_data), "--runs-dir", str(tmp_path / "runs"), "--cache-dir",
              str(tmp_path / "cache"), "--n-splits", "4", "--name", "r", "--no-progress"]

    def crash(*args, **kwargs):
        raise FileNotFoundError("something the first command got wrong")

    monkeypatch.setattr(train, "train_cnn", crash)
    with pytest.raises(FileNotFoundError):
        train.main(common + ["--epochs", "1"])
    root = tmp_path / "runs" / "nexperia" / "r"
    assert yaml.safe_load((root / "config.yaml").read_text())["epochs"] == 1
    monkeypatch.setattr(train, "train_cnn", lambda *a, **k: None)
    train.main(common + ["--epochs", "2"])
    assert yaml.safe_load((root / "config.yaml").read_text())["epochs"] == 2
    assert "replacing it with this command's config" in (root / "log.txt").read_text()

    (root / "fold0").mkdir(exist_ok=True)
    (root / "fold0" / "last.pt").write_bytes(b"a checkpoint")
    before = (root / "config.yaml").read_bytes()
    with pytest.raises(ValueError, match=r"started with another config \(differs in \['epochs'\]\)"):
        train.main(common + ["--epochs", "3"])
    assert (root / "config.yaml").read_bytes() == before
    assert (root / "fold0" / "last.pt").read_bytes() == b"a checkpoint"
