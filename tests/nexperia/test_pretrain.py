"""pretrain.py on the tiny synthetic set: both pretext tasks end to end, a killed run resumed to the same encoder,
train.py fine-tuning from the encoder, and bad options as one error line before any work."""
from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
import yaml

from common.cli import run_cli
from competitions.nexperia import pretrain, train
from tests.nexperia.helpers import TINY_MODEL, tiny_cnn_args

torch.set_num_threads(1)  # a crowded 2-core machine runs one thread far faster than two


def pretrain_args(data_dir, runs, cache, method, *extra) -> list[str]:
    """A narrow resnet18 at 32 px for 2 epochs on all 300 images, linear probe over 4 folds."""
    return ["--data", str(data_dir), "--runs-dir", str(runs), "--cache-dir", str(cache), "--method", method,
            "--model", "resnet18", "--model-kwargs", TINY_MODEL, "--img-size", "32", "--norm", "fixed",
            "--epochs", "2", "--batch-size", "32", "--lr", "0.003", "--n-splits", "4", "--threads", "1",
            "--no-progress", *extra]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretrain")
    return root / "runs", root / "cache"


@pytest.fixture(scope="module")
def runs_of(nexperia_data, env):
    """The finished run of each method (made once)."""
    made = {}

    def get(method):
        if method not in made:
            made[method] = pretrain.main(pretrain_args(nexperia_data, *env, method))
        return made[method]
    return get


@pytest.mark.slow
@pytest.mark.parametrize("method", ["rotation", "simclr"])
def test_both_methods_write_the_encoder_files_and_a_linear_probe(runs_of, method):
    run = runs_of(method)
    assert run.root.name == f"ssl-{method}"
    for name in ("encoder.pth", "encoder.json", "summary.csv", "loss.png", "last.pt", "config.yaml", "metrics.json"):
        assert (run.root / name).is_file(), name
    info = json.loads((run.root / "encoder.json").read_text())
    assert {k: info[k] for k in ("model", "model_kwargs", "img_size", "norm", "method", "epochs")} == {
        "model": "resnet18", "model_kwargs": TINY_MODEL, "img_size": 32, "norm": "fixed", "method": method,
        "epochs": 2}
    assert info["images"] == 300  # train and test images, labels unused
    assert {k: info["card"][k] for k in ("img_size", "norm", "channels")} == {"img_size": 32, "norm": "fixed",
                                                                              "channels": 1}
    assert 0 < info["card"]["mean"] < 1 and 0 < info["card"]["std"] < 1  # the numbers, not only the name
    summary = pd.read_csv(run.root / "summary.csv")
    assert summary["epoch"].tolist() == [1, 2] and summary["loss"].gt(0).all()
    assert ("pretext_accuracy" in summary) == (method == "rotation")
    if method == "rotation":
        assert summary["pretext_accuracy"].between(0, 1).all()
    probe = run.metrics()["linear_probe"]
    assert probe["auc_given"]["n"] == 240 and 0 <= probe["auc_given"]["auc"] <= 1
    assert "auc_true" in probe and set(probe["folds"]) == {"0", "1", "2", "3"}
    assert yaml.safe_load((run.root / "config.yaml").read_text())["method"] == method


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_encoder(runs_of, nexperia_data, env, monkeypatch):
    full = runs_of("simclr")
    args = pretrain_args(nexperia_data, *env, "simclr", "--name", "killed")
    monkeypatch.setenv(pretrain.STOP_ENV, "1")
    with pytest.raises(SystemExit, match="stopped after epoch 1"):
        pretrain.main(args)
    killed = full.root.parent / "killed"
    assert len(pd.read_csv(killed / "summary.csv")) == 1 and not (killed / "encoder.pth").exists()
    monkeypatch.delenv(pretrain.STOP_ENV)
    pretrain.main(args)
    assert (killed / "encoder.pth").read_bytes() == (full.root / "encoder.pth").read_bytes()
    columns = ["epoch", "lr", "loss"]
    pd.testing.assert_frame_equal(pd.read_csv(killed / "summary.csv")[columns],
                                  pd.read_csv(full.root / "summary.csv")[columns])
    rerun = pretrain.main(args)  # a finished run: nothing trained again, the same probe
    assert len(pd.read_csv(rerun.root / "summary.csv")) == 2
    assert rerun.metrics()["linear_probe"] == full.metrics()["linear_probe"]

    with pytest.raises(ValueError, match=r"last.pt was trained with other options \(differs in \['epochs'\]\)"):
        pretrain.main([*args, "--epochs", "3"])
    again = pretrain.main([*args, "--epochs", "3", "--no-resume"])  # starts over with the new options
    assert pd.read_csv(again.root / "summary.csv")["epoch"].tolist() == [1, 2, 3]
    assert json.loads((again.root / "encoder.json").read_text())["epochs"] == 3


@pytest.mark.slow
def test_train_fine_tunes_from_the_encoder(runs_of, nexperia_data, env):
    encoder = runs_of("rotation").root / "encoder.pth"
    runs, cache = env
    # a learning rate too small to move the weights: the fine-tuned model's weights are the encoder's
    run = train.main(tiny_cnn_args(nexperia_data, runs, cache, "from-rotation", "--pretrained", str(encoder),
                                   "--epochs", "1", "--lr", "1e-9"))
    assert run.metrics()["completed_folds"] == [0]
    tuned = torch.load(run.root / "fold0" / "best.pt", weights_only=False)["model"]
    weights = torch.load(encoder)
    for name in ("conv1.weight", "layer3.1.conv2.weight", "layer4.0.bn1.weight"):
        torch.testing.assert_close(tuned[name], weights[name], rtol=0, atol=1e-6)


@pytest.mark.parametrize("argv, message", [
    (["--method", "jigsaw"], "option --method: 'jigsaw' is not one of ['rotation', 'simclr']"),
    ([], "option --method is required"),
    (["--method", "simclr", "--img-size", "16"], "option --img-size: 16 must be >= 32"),
    (["--method", "rotation", "--model", "resnet9000"], "option --model: unknown timm model 'resnet9000'"),
    (["--method", "simclr", "--batch-size", "1"], "option --batch-size: 1 must be >= 2"),
    (["--method", "simclr", "--temperature", "0"], "option --temperature: 0.0 must be > 0"),
    (["--method", "simclr", "--model-kwargs", "{a: [1"], "option --model-kwargs: '{a: [1' is not a YAML mapping"),
], ids=["method", "no-method", "img-size", "model", "batch-size", "temperature", "model-kwargs"])
def test_bad_options_are_one_line_before_any_work(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        run_cli(pretrain.main, ["--data", str(tmp_path / "no-data-needed"), "--runs-dir", str(tmp_path / "runs"),
                                "--cache-dir", str(tmp_path / "cache"), *argv])
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(lines) == 1 and lines[0].startswith(f"error: {message}"), lines
    assert not (tmp_path / "runs").exists() and not (tmp_path / "cache").exists()


def test_batch_larger_than_the_images_is_refused(nexperia_data, tmp_path, capsys):
    with pytest.raises(SystemExit):
        run_cli(pretrain.main, pretrain_args(nexperia_data, tmp_path / "runs", tmp_path / "cache", "rotation",
                                             "--batch-size", "500"))
    assert capsys.readouterr().err.strip().splitlines()[-1] == "error: option --batch-size 500 exceeds the 300 images"


@pytest.mark.slow
def test_pretraining_can_start_from_imagenet_weights(nexperia_data, tmp_path):
    """--pretrained (the option group every image CLI shares) starts the encoder from the ImageNet weights
    installed with the kit: its first convolution begins as theirs, summed to one channel."""
    import timm
    import torch

    from common.vision.model import create_model
    args = ["--data", str(nexperia_data), "--runs-dir", str(tmp_path / "runs"), "--cache-dir", str(tmp_path / "c"),
            "--method", "rotation", "--pretrained", "efficientnet_lite0", "--img-size", "32", "--epochs", "1",
            "--lr", "1e-9", "--batch-size", "32", "--n-splits", "2", "--threads", "1", "--no-progress",
            "--name", "ssl-lite0"]
    run = pretrain.main(args)
    info = json.loads((run.root / "encoder.json").read_text())
    assert info["model"] == "tf_efficientnet_lite0" and info["pretrained"] == "efficientnet_lite0"
    encoder = torch.load(run.root / "encoder.pth", map_location="cpu")
    imagenet = create_model("tf_efficientnet_lite0", "efficientnet_lite0").state_dict()
    scratch = timm.create_model("tf_efficientnet_lite0", in_chans=1, num_classes=1).state_dict()
    stem = "conv_stem.weight"
    assert torch.allclose(encoder[stem], imagenet[stem], atol=1e-4)  # lr 1e-9: still the ImageNet stem
    assert not torch.allclose(encoder[stem], scratch[stem], atol=1e-4)
