"""--grad-accum-steps (timm's meaning) and --time-limit in the image engine, on the tiny planted-signal set."""
import pandas as pd
import pytest
import torch

from common.vision.checkpoints import load_checkpoint
from common.vision.time_budget import TimeBudget
from tests.common.vision.test_trainer import assert_killed_run_resumes_to_the_same_predictions, config, make_squares, train

# LayerNorm only: a batch of 32 normalises as its half of a batch of 64 would
VIT = "{img_size: 32, patch_size: 8, embed_dim: 32, depth: 1, num_heads: 2}"


def vit_config(tmp_path, name, **extra):
    return config(tmp_path, name, model="vit_tiny_patch16_224", model_kwargs=VIT, augment="none", amp=False,
                  epochs=2, warmup_epochs=0.5, **extra)


def test_batch_32_times_2_trains_the_weights_of_batch_64(tmp_path):
    data = make_squares(n_train=256)  # fold 0 trains on 128 images: 2 optimizer steps an epoch either way
    whole, _ = train(vit_config(tmp_path, "b64", batch_size=64), data)
    accum, _ = train(vit_config(tmp_path, "b32x2", batch_size=32, grad_accum_steps=2), data)
    plain, _ = train(vit_config(tmp_path, "b32", batch_size=32), data)
    weights = {run: load_checkpoint(run.root / "fold0" / "last.pt") for run in (whole, accum, plain)}
    for key, value in weights[whole]["model"].items():
        torch.testing.assert_close(weights[accum]["model"][key], value, rtol=1e-4, atol=1e-5)
    assert weights[accum]["scheduler"]["last_epoch"] == weights[whole]["scheduler"]["last_epoch"] == 4
    assert weights[plain]["scheduler"]["last_epoch"] == 8  # without accumulation: twice the steps ...
    key = "head.weight"
    assert not torch.allclose(weights[plain]["model"][key], weights[whole]["model"][key], atol=1e-3)  # ... other weights


@pytest.mark.slow
def test_an_uneven_last_group_steps_and_a_killed_run_resumes(tmp_path, monkeypatch):
    # 32 training images: 2 batches, 1 step an epoch
    whole = assert_killed_run_resumes_to_the_same_predictions(tmp_path, monkeypatch, batch_size=16,
                                                              grad_accum_steps=3, epochs=3)
    assert load_checkpoint(whole.root / "fold0" / "last.pt")["scheduler"]["last_epoch"] == 3


@pytest.mark.slow
def test_time_limit_stops_at_an_epoch_boundary_and_the_same_command_continues(tmp_path, capsys):
    whole, data = train(config(tmp_path, "whole", epochs=3))
    cfg = config(tmp_path, "limited", epochs=3, time_limit=1e-4)  # 6 ms: only the first epoch, never estimated
    with pytest.raises(SystemExit) as stop:
        train(cfg, data)
    assert stop.value.code == 0
    fold = tmp_path / "squares" / "limited" / "fold0"
    assert load_checkpoint(fold / "last.pt")["state"]["epoch"] == 1
    assert len(pd.read_csv(fold / "summary.csv")) == 1 and not (fold / "done.json").exists()
    line = [x for x in capsys.readouterr().err.splitlines() if "time limit" in x]
    assert len(line) == 1 and "stopped before fold 0 epoch 2" in line[0]
    assert "left: fold 0 from epoch 2 of 3; run the same command again to continue" in line[0]
    cfg.time_limit = None  # volatile: the next session's own limit
    limited, _ = train(cfg, data)
    for name in ("oof.csv", "test.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(limited.root / name), pd.read_csv(whole.root / name))


def test_the_budget_keeps_the_longest_epoch_and_the_time_after_it():
    now = [0.0]
    budget = TimeBudget(10, clock=lambda: now[0])
    assert budget.fits(10_000)  # no epoch yet: nothing to estimate from
    budget.record_epoch(120)
    budget.record_epoch(60)
    now[0] = 400.0  # 200 s left
    assert budget.fits(80) and not budget.fits(81)
    assert budget.seconds_left() == 200 and TimeBudget(None).fits(1e9)
