"""The generic image engine on a tiny planted-signal dataset (no competition code): optimizer groups, EMA,
averaged checkpoints, callbacks, the fold driver's skip and --no-resume."""
import ast
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from common.run import STOP_ENV, Run
from common.vision.callbacks import Callback
from common.vision.checkpoints import load_checkpoint
from common.vision.data import ModelInput
from common.vision.distributed import Dist, amp_dtype
from common.vision.model import apply_freeze, create_model, parse_model_kwargs
from common.vision.optim import create_optimizer
from common.vision.predict import load_model, predict_images
from common.vision.trainer import ImageTrainConfig, train_folds

torch.set_num_threads(1)
TINY_MODEL = "{channels: [8, 16, 32, 64], stem_width: 8}"


@dataclass
class Squares:
    """Noise images; label 1 has a bright square somewhere."""
    train_ids: np.ndarray
    train_labels: np.ndarray
    train_images: np.ndarray
    test_ids: np.ndarray
    test_images: np.ndarray


def make_squares(n_train: int = 64, n_test: int = 8, size: int = 36) -> Squares:
    rng = np.random.default_rng(0)
    labels = np.arange(n_train + n_test) % 2
    images = rng.integers(0, 120, (n_train + n_test, size, size), dtype=np.uint8)
    for i in np.flatnonzero(labels):
        r, c = rng.integers(0, size - 8, 2)
        images[i, r:r + 8, c:c + 8] = 250
    ids = np.array([f"im{i:03d}" for i in range(n_train + n_test)])
    return Squares(ids[:n_train], labels[:n_train].astype(np.int8), images[:n_train], ids[n_train:], images[n_train:])


def fold_of(data: Squares) -> np.ndarray:
    return np.arange(len(data.train_ids)) // 2 % 2


class Recorder(Callback):
    def __init__(self):
        self.rows, self.ends = [], []

    def on_epoch_end(self, trainer, row):
        self.rows.append(row)

    def on_fold_end(self, trainer, end):
        self.ends.append(end)


def config(tmp_path, name, **extra) -> ImageTrainConfig:
    values = dict(name=name, fold="0", n_splits=2, runs_dir=str(tmp_path), model_kwargs=TINY_MODEL, img_size=32,
                  epochs=2, batch_size=16, lr=0.003, workers=0, progress=False, threads=1, tta="none",
                  tta_compare=["none", "hflip"], patience=5, device="cpu")
    return ImageTrainConfig(**{**values, **extra})


def train(cfg, data=None, callbacks=()):
    data = data or make_squares()
    run = Run.open("squares", cfg.name, cfg.runs_dir)
    train_folds(cfg, data, fold_of(data), [0], run, Dist(), callbacks=callbacks)
    return run, data


def test_optimizer_groups_skip_weight_decay_on_biases_and_norms_and_frozen_layers():
    model = create_model("resnet18", None, parse_model_kwargs(TINY_MODEL))
    apply_freeze(model, "last1")
    optimizer = create_optimizer(model, lr=1e-3, weight_decay=0.05)
    norms = {id(p) for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d) for p in m.parameters()}
    biases = {id(p) for n, p in model.named_parameters() if n.endswith(".bias")}
    grouped = {id(p): g["weight_decay"] for g in optimizer.param_groups for p in g["params"]}
    assert set(grouped) == {id(p) for p in model.parameters() if p.requires_grad}  # frozen layers left out
    assert all((wd == 0) == (key in norms | biases) for key, wd in grouped.items())
    assert set(grouped.values()) == {0.0, 0.05}
    decayed = create_optimizer(model, lr=1e-3, weight_decay=0.05, layer_decay=0.5)
    lrs = sorted({g["lr"] for g in decayed.param_groups})
    assert lrs[-1] == pytest.approx(1e-3) and lrs[0] < 1e-3


def test_ema_weights_are_validated_and_predicted_with(tmp_path):
    run, data = train(config(tmp_path, "ema", ema=True, ema_decay=0.9, checkpoint_hist=2))
    fold = run.root / "fold0"
    last, second = load_checkpoint(fold / "last.pt"), load_checkpoint(fold / "checkpoint-2.pt")
    key = "conv1.weight"
    assert not torch.equal(last["ema"][key], last["model"][key])
    assert torch.equal(second["model"][key], last["ema"][key]) and second["weights"] == "ema"
    summary = pd.read_csv(fold / "summary.csv")
    assert set(summary["weights"]) == {"ema"}
    oof = pd.read_csv(run.root / "oof.csv")
    model = load_model(fold / "best.pt", torch.device("cpu"))
    again = predict_images(model, data.train_images, np.flatnonzero(fold_of(data) == 0), "none",
                           inputs=ModelInput.for_model("resnet18", 32, "fixed"),
                           amp_dtype=amp_dtype(torch.device("cpu"), True))
    np.testing.assert_allclose(oof["pred"], again, atol=2e-3)
    metrics = json.loads(run.metrics_path.read_text())["folds"]["0"]
    assert metrics["weights"].startswith("ema epoch")


def test_averaged_checkpoints_predict_with_the_mean_weights(tmp_path):
    recorder = Recorder()
    run, _ = train(config(tmp_path, "avg", checkpoint_hist=2, avg_checkpoints=True), callbacks=[recorder])
    fold = run.root / "fold0"
    kept = [load_checkpoint(fold / f"checkpoint-{e}.pt")["model"] for e in (1, 2)]
    final = recorder.ends[0].model.state_dict()
    for key in ("conv1.weight", "bn1.running_mean"):
        torch.testing.assert_close(final[key], (kept[0][key] + kept[1][key]) / 2)
    assert json.loads(run.metrics_path.read_text())["folds"]["0"]["weights"] in ("mean of epochs [1, 2]",
                                                                                 "mean of epochs [2, 1]")


def test_callbacks_are_called_and_finished_folds_are_skipped(tmp_path):
    recorder = Recorder()
    cfg = config(tmp_path, "cb", checkpoint_hist=1)
    run, data = train(cfg, callbacks=[recorder])
    assert [r["epoch"] for r in recorder.rows] == [1, 2] and len(recorder.ends) == 1
    end = recorder.ends[0]
    assert set(end.preds) == {"none", "hflip"} and list(end.ids) == list(data.train_ids[fold_of(data) == 0])
    assert end.truth is None and end.folder == run.root / "fold0"
    train(cfg, data, callbacks=[recorder])  # finished: skipped
    assert len(recorder.ends) == 1
    (run.root / "fold0" / "checkpoint-9.pt").write_bytes(b"stale")
    cfg.resume = False
    train(cfg, data, callbacks=[recorder])  # trained again from scratch
    assert len(recorder.ends) == 2 and [r["epoch"] for r in recorder.rows] == [1, 2, 1, 2]
    assert sorted(p.name for p in (run.root / "fold0").glob("checkpoint-*.pt")) == [
        f"checkpoint-{json.loads(run.metrics_path.read_text())['folds']['0']['best_epoch']}.pt"]


def test_avg_checkpoints_needs_a_history():
    with pytest.raises(ValueError, match="--checkpoint-hist"):
        ImageTrainConfig(avg_checkpoints=True, checkpoint_hist=0)


def test_common_vision_imports_no_competition():
    for path in Path("common/vision").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(m.startswith("competitions") for m in modules), path


def assert_killed_run_resumes_to_the_same_predictions(tmp_path, monkeypatch, **options):
    """A run killed after epoch 1 and run again writes the predictions of the run that was never killed;
    returns that run."""
    whole, _ = train(config(tmp_path, "whole", **options))
    monkeypatch.setenv(STOP_ENV, "1")
    with pytest.raises(SystemExit, match="stopped after epoch 1"):
        train(config(tmp_path, "killed", **options))
    monkeypatch.delenv(STOP_ENV)
    killed, _ = train(config(tmp_path, "killed", **options))
    for name in ("oof.csv", "test.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(killed.root / name), pd.read_csv(whole.root / name))
    return whole


@pytest.mark.slow
def test_a_damaged_last_checkpoint_is_set_aside_and_the_fold_trains_again(tmp_path, monkeypatch, caplog):
    """A killed run whose ``last.pt`` was then cut short (a copy or a download): the rerun says so in the log,
    keeps the damaged file aside and trains the fold again from scratch, to the uninterrupted run's files."""
    whole, _ = train(config(tmp_path, "whole"))
    monkeypatch.setenv(STOP_ENV, "1")
    with pytest.raises(SystemExit, match="stopped after epoch 1"):
        train(config(tmp_path, "killed"))
    monkeypatch.delenv(STOP_ENV)
    last = tmp_path / "squares" / "killed" / "fold0" / "last.pt"
    last.write_bytes(last.read_bytes()[:1000])
    killed, _ = train(config(tmp_path, "killed"))
    for name in ("oof.csv", "test.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(killed.root / name), pd.read_csv(whole.root / name))
    aside = list(last.parent.glob("last.damaged-*.pt"))
    assert len(aside) == 1 and aside[0].stat().st_size == 1000
    log = (killed.root / "log.txt").read_text()
    assert "fold 0: last.pt is damaged (" in log and f"set aside as {aside[0].name}, the fold starts again" in log


@pytest.mark.slow
def test_killed_run_with_ema_and_averaging_resumes_to_the_same_predictions(tmp_path, monkeypatch):
    assert_killed_run_resumes_to_the_same_predictions(tmp_path, monkeypatch, ema=True, ema_decay=0.9,
                                                      checkpoint_hist=2, avg_checkpoints=True, epochs=3)


def test_a_weight_package_chooses_the_model_and_its_normalisation():
    cfg = ImageTrainConfig(pretrained="efficientnet_lite0")
    assert cfg.model == "tf_efficientnet_lite0"
    inputs = ModelInput.for_model(cfg.model, 64, cfg.norm)
    assert (inputs.mean, inputs.std) == (0.5, 0.5)  # timm's pretrained cfg of the EfficientNet-Lite weights
    assert ImageTrainConfig().model == "resnet18"
    assert ModelInput.for_model("resnet18", 64, "fixed").mean == pytest.approx(0.449, abs=1e-3)
    with pytest.raises(ValueError, match="holds weights for tf_efficientnet_lite0, not --model resnet18"):
        ImageTrainConfig(model="resnet18", pretrained="efficientnet_lite0")
    with pytest.raises(ValueError, match="'efficientnet_lite9' is neither a weight file nor a known weight package"):
        ImageTrainConfig(pretrained="efficientnet_lite9")
