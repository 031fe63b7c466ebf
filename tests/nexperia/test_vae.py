"""VAE: the loss equals the negative-ELBO formula by hand; architectures; a tiny end-to-end fold run."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from competitions.nexperia.vae_models import ConvVAE, FCVAE, build_vae, vae_loss, vae_terms


def test_loss_equals_formula_by_hand():
    x = torch.tensor([[[[0.0, 1.0], [0.5, 0.25]]], [[[1.0, 1.0], [0.0, 0.0]]]])
    recon = torch.tensor([[[[0.5, 0.5], [0.5, 0.5]]], [[[1.0, 0.0], [0.0, 0.5]]]])
    mu = torch.tensor([[0.0, 0.0], [1.0, -2.0]])
    logvar = torch.tensor([[0.0, math.log(2.0)], [0.0, 0.0]])
    # image 0: SSE = .25 + .25 + 0 + .0625; KL = 0 + -0.5 * (1 + ln 2 - 0 - 2) = 0.5 * (1 - ln 2)
    # image 1: SSE = 0 + 1 + 0 + .25;       KL = 0.5 * (1 + 4) = 2.5
    sse0, kl0 = 0.5625, 0.5 * (1 - math.log(2.0))
    sse1, kl1 = 1.25, 2.5
    sse, kl = vae_terms(x, recon, mu, logvar)
    np.testing.assert_allclose(sse.numpy(), [sse0, sse1], rtol=1e-6)
    np.testing.assert_allclose(kl.numpy(), [kl0, kl1], rtol=1e-6)
    assert vae_loss(x, recon, mu, logvar).item() == pytest.approx((sse0 + kl0 + sse1 + kl1) / 2, rel=1e-6)


def test_loss_matches_numpy_on_random_batch():
    rng = np.random.default_rng(0)
    x, recon = rng.random((5, 1, 8, 8)), rng.random((5, 1, 8, 8))
    mu, logvar = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    expected = ((x - recon) ** 2).sum(axis=(1, 2, 3)) + 0.5 * (mu ** 2 + np.exp(logvar) - 1 - logvar).sum(axis=1)
    got = vae_loss(*(torch.tensor(a) for a in (x, recon, mu, logvar)))
    assert got.item() == pytest.approx(expected.mean(), rel=1e-10)


def test_fc_vae_is_the_seeds_architecture():
    model = FCVAE()
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    shapes = [(m.in_features, m.out_features) for m in linears]
    assert shapes == [(1024, 400), (400, 400), (400, 30), (400, 30), (30, 400), (400, 400), (400, 1024)]
    recon, mu, logvar = model(torch.rand(3, 1, 32, 32))
    assert recon.shape == (3, 1, 32, 32) and mu.shape == logvar.shape == (3, 30)
    assert 0 <= recon.min() and recon.max() <= 1


@pytest.mark.parametrize("size", [32, 64, 96])
def test_conv_vae_shapes(size):
    model = build_vae("conv", size, latent_dim=8)
    assert isinstance(model, ConvVAE)
    model.eval()
    x = torch.rand(2, 1, size, size)
    recon, mu, _ = model(x, sample=False)
    assert recon.shape == x.shape and mu.shape == (2, 8)
    # sample=False decodes the posterior mean: deterministic.
    torch.testing.assert_close(model(x, sample=False)[0], recon)


def test_conv_vae_rejects_bad_size():
    with pytest.raises(ValueError, match="image size"):
        ConvVAE(image_size=50)


@pytest.mark.slow
def test_vae_fold_run_end_to_end(nexperia_data, tmp_path):
    from common.run import Run
    from competitions.nexperia.data import read_truth_file
    from competitions.nexperia.vae import main

    common = ["--data", str(nexperia_data), "--runs-dir", str(tmp_path / "runs"),
              "--cache-dir", str(tmp_path / "cache"), "--epochs", "2", "--no-progress", "--heatmaps", "4",
              "--threads", "1"]
    metrics = main([*common, "--arch", "fc", "--fold", "0", "--hidden", "64"])
    run_dir = tmp_path / "runs" / "nexperia" / "vae-fc"
    oof = pd.read_csv(run_dir / "oof.csv", dtype={"id": str})
    folds = pd.read_csv(tmp_path / "runs" / "nexperia" / "folds.csv", dtype={"id": str})
    assert set(oof["id"]) == set(folds.loc[folds["fold"] == 0, "id"])
    assert np.isfinite(oof["pred"]).all() and (oof["pred"] > 0).all()
    assert (run_dir / "fold0" / "heatmaps.png").stat().st_size > 0
    assert (run_dir / "fold0" / "vae.pt").is_file()
    assert 0 <= metrics["oof"]["auc_given"]["auc"] <= 1 and metrics["completed_folds"] == [0]
    test = pd.read_csv(run_dir / "test.csv")
    assert len(test) > 0 and np.isfinite(test["pred"]).all()
    assert set(metrics["folds"]["0"]["variants"]) == {"elbo", "local"}  # both scores' AUCs, fold by fold
    # The log and metrics.json say what the VAE saw: the device band of the read images, resized to 32 px.
    assert "VAE input: 267x275 px read, crop y 86-204, x 10-242" in (run_dir / "log.txt").read_text()
    assert metrics["input"]["crop"] == [86, 204, 10, 242] and metrics["input"]["image_size"] == 32
    assert "warning" not in metrics["input"]
    # Resuming skips the finished fold: its predictions stay as they are.
    before = (run_dir / "fold0" / "oof.csv").stat().st_mtime_ns
    main([*common, "--arch", "fc", "--fold", "0", "--hidden", "64"])
    assert (run_dir / "fold0" / "oof.csv").stat().st_mtime_ns == before
    # An unfinished fold (killed after its last checkpoint) continues from vae.pt instead of training again.
    (run_dir / "fold0" / "done.json").unlink()
    checkpoint = (run_dir / "fold0" / "vae.pt").stat().st_mtime_ns
    main([*common, "--arch", "fc", "--fold", "0", "--hidden", "64"])
    assert (run_dir / "fold0" / "vae.pt").stat().st_mtime_ns == checkpoint  # no epoch left to train
    assert (run_dir / "fold0" / "oof.csv").stat().st_mtime_ns != before and (run_dir / "fold0" / "done.json").is_file()
    assert "resuming" in (run_dir / "log.txt").read_text()
    # --blend-with a run of every fold: blended on the VAE's rows (one fold: weights scored in-sample).
    base = Run(tmp_path / "runs" / "nexperia" / "cnn")
    rng = np.random.default_rng(0)
    for k in range(5):
        rows = folds[folds["fold"] == k]
        target = read_truth_file(nexperia_data).set_index("id").loc[rows["id"], "label_given"].to_numpy()
        base.save_fold_predictions(k, pd.DataFrame({"id": rows["id"], "target": target,
                                                    "pred": target + rng.normal(0, 0.5, len(rows))}), None)
    blended = main([*common, "--arch", "fc", "--fold", "0", "--hidden", "64", "--blend-with", str(base.root)])
    report = blended["blend"]
    assert report["cv"]["kind"].startswith("in-sample") and report["cv"]["n"] == len(oof)
    assert [r["name"] for r in report["runs"]] == ["base", "vae"] and "true_labels" in report
    assert len(pd.read_csv(run_dir / "blend" / "oof.csv")) == len(oof)


def test_local_score_prefers_a_concentrated_error():
    from competitions.nexperia.anomaly import anomaly_scores

    reference = np.full((16, 16), 0.01, np.float32)
    spread = np.full((16, 16), 0.02, np.float32)  # total error 5.12, spread evenly
    spot = np.zeros((16, 16), np.float32)
    spot[4:9, 4:9] = 5.12 / 25  # the same total error in one 5x5 patch
    scores = anomaly_scores(np.stack([spread, spot]), np.array([1.0, 1.0]), reference)
    np.testing.assert_allclose(scores["elbo"], [5.12 + 1, 5.12 + 1], rtol=1e-5)
    assert scores["local"][1] > 5 * scores["local"][0]


def test_blend_report_on_two_runs(tmp_path):
    """The VAE's blend report is common.ensemble.evaluate_blend's, with the true-label comparison."""
    from common.ensemble import align, evaluate_blend
    from common.run import Run, RunFolder
    from competitions.nexperia.anomaly import blend_report

    rng = np.random.default_rng(0)
    n = 600
    y = (rng.random(n) < 0.3).astype(int)
    ids = np.array([f"i{k}" for k in range(n)])
    folds = np.arange(n) % 5
    preds = {"cnn": 1.5 * y + rng.normal(size=n), "vae": 0.8 * y + rng.normal(size=n)}
    for name, pred in preds.items():
        run = Run(tmp_path / name)
        for k in range(5):
            rows = folds == k
            run.save_fold_predictions(k, pd.DataFrame({"id": ids[rows], "target": y[rows], "pred": pred[rows]}), None)
    truth = pd.Series(y, index=ids)
    report = blend_report(tmp_path / "cnn", tmp_path / "vae", lambda i: truth.loc[i].to_numpy())
    assert "nested" in report["cv"]["kind"]
    for r in (report, report["true_labels"]):
        vs = r["vs_best_run"]
        assert vs["best_run"] == "base" and 0 <= vs["p"] <= 1
        # Two independent informative scores: the honest blend beats the stronger one.
        auc_vae = r["runs"][1]["auc"]
        assert vs["auc_blend"] > vs["auc_best"] > auc_vae > 0.6
    assert len(report["weights"]) == 2
    blend = pd.read_csv(tmp_path / "vae" / "blend" / "oof.csv")
    assert list(blend.columns) == ["id", "fold", "target", "pred"] and len(blend) == n
    shared = evaluate_blend(align({"base": RunFolder(tmp_path / "cnn").read_oof(),
                                   "vae": RunFolder(tmp_path / "vae").read_oof()}), "weighted")
    assert report["cv"] == shared.report["cv"] and report["weights"] == shared.report["weights"]


def test_resize_images_crops_then_resizes():
    from competitions.nexperia.anomaly import resize_images

    images = np.zeros((2, 20, 30), np.uint8)
    images[:, 10:20, 10:20] = 200  # the crop window below is all 200
    out = resize_images(images, 4, crop=[10, 20, 10, 20])
    assert out.shape == (2, 4, 4) and (out == 200).all()
    assert resize_images(images, 5).shape == (2, 5, 5)
    with pytest.raises(ValueError, match="leaves nothing"):
        resize_images(images, 4, crop=[25, 30, 0, 5])


def test_stretch_contrast_maps_each_images_percentiles_to_full_range():
    from competitions.nexperia.anomaly import stretch_contrast

    ramp = np.arange(101, dtype=np.float32).reshape(1, 1, 101)
    dim = 50 + ramp  # grey 50..150: percentile 1 = 51, percentile 99 = 149
    bright = 20 + 2 * ramp  # the same pattern under other lighting: 20..220
    out = stretch_contrast(np.concatenate([dim, bright]).astype(np.uint8))
    assert out.dtype == np.uint8 and out.shape == (2, 1, 101)
    assert out[:, 0, 0].tolist() == [0, 0] and out[:, 0, -1].tolist() == [255, 255]  # clipped tails
    assert np.abs(out[0].astype(int) - out[1].astype(int)).max() <= 1  # lighting removed
    assert out[0, 0, 50] == 128  # the middle grey stays in the middle
    flat = stretch_contrast(np.full((1, 4, 4), 7, np.uint8))
    assert (flat == 0).all()  # no division by zero on a constant image


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["fc", "conv"])
def test_killed_and_resumed_run_writes_the_uninterrupted_files(nexperia_data, tmp_path, monkeypatch, arch):
    """Trust issue, item 3: a VAE run stopped after epoch 1 (``KIT_STOP_AFTER_EPOCH``) and run again with the
    same command resumes from ``fold<k>/vae.pt`` and writes byte-identical oof.csv/test.csv."""
    from common.run import STOP_ENV
    from competitions.nexperia.vae import main

    def command(runs):
        return ["--data", str(nexperia_data), "--runs-dir", str(runs), "--cache-dir", str(tmp_path / "cache"),
                "--arch", arch, "--epochs", "3", "--fold", "0,1", "--n-splits", "4", "--no-progress",
                "--heatmaps", "0", "--threads", "1", "--batch-size", "32",
                *(["--hidden", "32", "--latent-dim", "4"] if arch == "fc" else ["--image-size", "16",
                                                                                 "--latent-dim", "4"])]

    monkeypatch.delenv(STOP_ENV, raising=False)
    main(command(tmp_path / "straight"))
    monkeypatch.setenv(STOP_ENV, "1")
    with pytest.raises(SystemExit, match="stopped after epoch 1"):
        main(command(tmp_path / "killed"))
    killed = tmp_path / "killed" / "nexperia" / f"vae-{arch}"
    assert (killed / "fold0" / "vae.pt").is_file() and not (killed / "fold0" / "done.json").exists()
    assert torch.load(killed / "fold0" / "vae.pt")["epoch"] == 0
    monkeypatch.delenv(STOP_ENV)
    main(command(tmp_path / "killed"))
    assert "resuming" in (killed / "log.txt").read_text()
    straight = tmp_path / "straight" / "nexperia" / f"vae-{arch}"
    for name in ("oof.csv", "test.csv", "fold0/oof.csv", "fold1/test.csv"):
        assert (killed / name).read_bytes() == (straight / name).read_bytes(), name


def _textures(n: int, shape=(267, 275), seed: int = 0) -> np.ndarray:
    """Full-frame smooth random textures: content everywhere, no plain margins."""
    import cv2
    rng = np.random.default_rng(seed)
    return np.stack([cv2.GaussianBlur(rng.integers(0, 256, shape).astype(np.uint8), (0, 0), 3) for _ in range(n)])


@pytest.mark.slow
def test_crop_check_warns_on_full_frame_textures_not_on_nexperia_devices(nexperia_data):
    from competitions.nexperia.anomaly import DEVICE_BAND, crop_check
    from competitions.nexperia.data import load_data

    devices = crop_check(load_data(nexperia_data, None).train_images, DEVICE_BAND)
    assert "warning" not in devices and devices["std_outside"] < devices["std_inside"]
    textures = crop_check(_textures(8), DEVICE_BAND)
    assert "--crop none" in textures["warning"] and textures["kept_fraction"] == pytest.approx(0.37, abs=0.01)
    assert crop_check(_textures(2), None) == {"crop": None}


def test_vae_run_logs_its_crop_and_warns_on_textures(tmp_path):
    from common.run import Run
    from competitions.nexperia.anomaly import VAEConfig
    from competitions.nexperia.vae import log_input

    run = Run.open("nexperia", "vae", tmp_path)
    log_input(run, VAEConfig(), _textures(4))
    text = (run.root / "log.txt").read_text()
    assert "VAE input: 267x275 px read, crop y 86-204, x 10-242 (37% kept), resized to 64 px" in text
    assert "WARNING --crop 86 204 10 242 keeps 37%" in text
    assert "--crop none" in run.metrics()["input"]["warning"]
