"""Deep features + classical models: classifiers on separable features, and a tiny end-to-end run."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from common.metrics import roc_auc
from competitions.nexperia.features import CLASSIFIERS, make_classifier, truth_kinds


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classifiers_separate_shifted_classes(name):
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.25).astype(int)
    x = rng.normal(size=(400, 16)) + 1.5 * y[:, None] * (np.arange(16) < 4)
    model = make_classifier(name, seed=0, threads=1).fit(x[:300], y[:300])
    prob = model.predict_proba(x[300:])[:, 1]
    assert ((0 <= prob) & (prob <= 1)).all()
    assert roc_auc(y[300:], prob) > 0.9


def test_truth_kinds():
    truth = pd.DataFrame({"id": ["a", "b", "c"], "label_true": [0, 1, 1], "flipped": [0, 0, 1]})
    np.testing.assert_array_equal(truth_kinds(np.array(["c", "a", "b"]), truth), ["flipped", "good", "defect"])
    assert truth_kinds(np.array(["a"]), None) is None


@pytest.mark.slow
def test_features_run_end_to_end(nexperia_data, tmp_path):
    from competitions.nexperia.features import main

    runs = tmp_path / "runs"
    metrics = main(["--data", str(nexperia_data), "--runs-dir", str(runs), "--cache-dir", str(tmp_path / "c"),
                    "--model", "resnet18", "--model-kwargs", "{channels: [8, 8, 16, 16], stem_width: 8}",
                    "--img-size", "32", "--classifiers", "logreg", "lda", "--threads", "1", "--no-progress"])
    folds = pd.read_csv(runs / "nexperia" / "folds.csv", dtype={"id": str})
    for name in ("logreg", "lda"):
        oof = pd.read_csv(runs / "nexperia" / f"feat-{name}" / "oof.csv", dtype={"id": str})
        assert sorted(oof["id"]) == sorted(folds["id"])
        assert ((oof["pred"] >= 0) & (oof["pred"] <= 1)).all()
        assert (runs / "nexperia" / f"feat-{name}" / "test.csv").is_file()
        assert 0 <= metrics["classifier_auc"][name]["auc_given"] <= 1
    logreg = json.loads((runs / "nexperia" / "feat-logreg" / "metrics.json").read_text())  # the fold driver's
    assert logreg["complete"] and logreg["completed_folds"] == [0, 1, 2, 3, 4] and "auc_true" in logreg["oof"]
    nc = metrics["neural_collapse"]["mean"]
    assert set(nc) == {"nc1", "equal_norms", "equal_angles", "max_angle"} and nc["nc1"] > 0
    assert (runs / "nexperia" / "feat" / "pca.png").is_file() and (runs / "nexperia" / "feat" / "tsne.png").is_file()
    # Training with an audit: a separate run per classifier, features reused from the cache.
    suspects = tmp_path / "suspects.csv"
    pd.DataFrame({"id": folds["id"][:5], "suggested_label": 1}).to_csv(suspects, index=False)
    features_file = runs / "nexperia" / "feat" / "features.npz"
    before = features_file.stat().st_mtime_ns
    audited = main(["--data", str(nexperia_data), "--runs-dir", str(runs), "--cache-dir", str(tmp_path / "c"),
                    "--model", "resnet18", "--model-kwargs", "{channels: [8, 8, 16, 16], stem_width: 8}",
                    "--img-size", "32", "--classifiers", "logreg", "--threads", "1", "--no-progress", "--no-plots",
                    "--suspects", str(suspects), "--suspect-action", "relabel"])
    assert "logreg" in audited["classifier_auc-audit-relabel"]
    assert (runs / "nexperia" / "feat-logreg-audit-relabel" / "oof.csv").is_file()
    assert features_file.stat().st_mtime_ns == before


# -- backbones: scattering, VAE latents, a norm:image checkpoint; the settings-checked cache; refusals ------
def _common(data, tmp_path, *extra) -> list[str]:
    return ["--data", str(data), "--runs-dir", str(tmp_path / "runs"), "--cache-dir", str(tmp_path / "cache"),
            "--threads", "1", "--no-progress", "--classifiers", "lda", *extra]


@pytest.mark.slow
def test_scattering_backbone_and_its_settings_checked_cache(nexperia_data, tmp_path):
    from competitions.nexperia.features import main
    from common.vision.scattering import n_coefficients

    args = _common(nexperia_data, tmp_path, "--backbone", "scattering", "--img-size", "32", "--scattering-j", "2",
                   "--scattering-l", "4", "--scattering-log", "--name", "scat")
    metrics = main(args)
    run = tmp_path / "runs" / "nexperia" / "scat"
    cache = dict(np.load(run / "features.npz"))  # read now: the file is overwritten below
    assert cache["train"].shape == (240, n_coefficients(2, 4)) and cache["test"].shape == (60, n_coefficients(2, 4))
    assert np.isfinite(cache["train"]).all()
    assert 0 <= metrics["classifier_auc"]["lda"]["auc_true"] <= 1
    for png in ("pca.png", "tsne.png", "mds.png"):
        assert (run / png).stat().st_size > 0
    settings = json.loads((run / "features.json").read_text())
    assert settings["backbone"] == "scattering" and (settings["J"], settings["L"], settings["log"]) == (2, 4, True)
    # Same settings: the cache is read back, not embedded again.
    before = (run / "features.npz").stat().st_mtime_ns
    main([*args, "--no-plots"])
    assert (run / "features.npz").stat().st_mtime_ns == before
    # A cache recorded with other settings, or with no record (made before records), is embedded again.
    for stale in ({**settings, "J": 3}, None):
        if stale is None:
            (run / "features.json").unlink()
        else:
            (run / "features.json").write_text(json.dumps(stale))
        np.savez(run / "features.npz", train=np.zeros((240, 3)), test=np.zeros((60, 3)))
        main([*args, "--no-plots"])
        np.testing.assert_allclose(np.load(run / "features.npz")["train"], cache["train"], rtol=1e-6)
        assert json.loads((run / "features.json").read_text()) == settings
    assert "embedding again" in (run / "log.txt").read_text()


@pytest.mark.slow
def test_vae_backbone_embeds_each_fold_with_its_own_latent_means(nexperia_data, tmp_path):
    import torch

    from competitions.nexperia.anomaly import prepare_images
    from competitions.nexperia.data import load_data
    from competitions.nexperia.features import main, vae_run_config
    from competitions.nexperia.vae import main as vae_main
    from competitions.nexperia.vae_models import build_vae

    vae_args = ["--data", str(nexperia_data), "--runs-dir", str(tmp_path / "runs"), "--cache-dir",
                str(tmp_path / "cache"), "--arch", "fc", "--image-size", "16", "--hidden", "32", "--latent-dim", "4",
                "--crop", "86", "204", "10", "242", "--stretch", "--epochs", "1", "--fold", "0", "--heatmaps", "0",
                "--threads", "1", "--no-progress"]
    vae_main(vae_args)
    vae_run = tmp_path / "runs" / "nexperia" / "vae-fc"
    metrics = main(_common(nexperia_data, tmp_path, "--backbone", "vae", "--vae-run", str(vae_run), "--fold", "0",
                           "--name", "feat-vae"))
    run = tmp_path / "runs" / "nexperia" / "feat-vae"
    cache = np.load(run / "fold0" / "features.npz")
    # The features are the latent means of fold 0's VAE on the images prepared as that VAE saw them.
    vae_cfg = vae_run_config(vae_run)
    assert (vae_cfg.image_size, vae_cfg.crop, vae_cfg.stretch) == (16, [86, 204, 10, 242], True)
    model = build_vae("fc", 16, 4, 32)
    model.load_state_dict(torch.load(vae_run / "fold0" / "vae.pt")["model"])
    data = load_data(nexperia_data, tmp_path / "cache")
    with torch.no_grad():
        expected = model.eval().encode(torch.from_numpy(prepare_images(vae_cfg, data.train_images)).float()
                                       .div(255)[:, None])[0].numpy()
    assert cache["train"].shape == (240, 4) and cache["test"].shape == (60, 4)
    np.testing.assert_allclose(cache["train"], expected, rtol=1e-5, atol=1e-6)
    assert json.loads((run / "fold0" / "features.json").read_text())["weights_sha256"]
    assert metrics["classifier_auc"]["lda"]["auc_given"] > 0
    for png in ("pca.png", "tsne.png", "mds.png"):
        assert (run / png).stat().st_size > 0
    # A fold the VAE run has not finished is refused before any work.
    with pytest.raises(FileNotFoundError, match="fold 1 of VAE run .* is not finished"):
        main(_common(nexperia_data, tmp_path, "--backbone", "vae", "--vae-run", str(vae_run), "--fold", "0,1",
                     "--name", "feat-vae2"))
    assert not (tmp_path / "runs" / "nexperia" / "feat-vae2").exists()


@pytest.mark.slow
def test_checkpoint_features_use_the_runs_per_image_norm(nexperia_data, tmp_path):
    """A run trained with ``norm: image`` saw each image standardised: its features must too."""
    import cv2
    import torch

    from common.vision.model import create_model, load_weights
    from common.vision.weights import grey_mean_std
    from competitions.nexperia.data import load_data
    from competitions.nexperia.features import main
    from competitions.nexperia.train import main as train_main
    from tests.nexperia.helpers import tiny_cnn_args

    runs, cache = tmp_path / "runs", tmp_path / "cache"
    train_main(tiny_cnn_args(nexperia_data, runs, cache, "cnn-img", "--norm", "image", "--fold", "0",
                             "--epochs", "1"))
    cnn = runs / "nexperia" / "cnn-img"
    main(_common(nexperia_data, tmp_path, "--checkpoint-run", str(cnn), "--fold", "0", "--n-splits", "4",
                 "--no-plots", "--name", "feat-img"))
    features = np.load(runs / "nexperia" / "feat-img" / "fold0" / "features.npz")["train"]

    ckpt = torch.load(cnn / "fold0" / "best.pt", map_location="cpu", weights_only=False)
    model = create_model(ckpt["model_spec"]["model"], None, ckpt["model_spec"]["model_kwargs"])
    load_weights(model, ckpt, cnn / "fold0" / "best.pt", ckpt["model_spec"])
    images = load_data(nexperia_data, cache).train_images
    x = torch.from_numpy(np.stack([cv2.resize(np.asarray(im), (32, 32), interpolation=cv2.INTER_AREA)
                                   for im in images])).float()[:, None] / 255
    model.eval()

    def pooled(batch):
        with torch.no_grad():
            return model.forward_head(model.forward_features(batch), pre_logits=True).numpy()

    standardised = pooled((x - x.mean(dim=(1, 2, 3), keepdim=True)) / x.std(dim=(1, 2, 3), keepdim=True))
    mean, std = grey_mean_std("resnet18")
    fixed = pooled((x - mean) / std)
    np.testing.assert_allclose(features, standardised, rtol=1e-4, atol=1e-5)
    assert np.abs(features - fixed).max() > 1e-2  # the fixed grey scaling alone gives other features
    settings = json.loads((runs / "nexperia" / "feat-img" / "fold0" / "features.json").read_text())
    assert settings["inputs"]["per_image_norm"] and settings["inputs"]["img_size"] == 32


def test_a_checkpoint_run_with_other_folds_is_refused(tmp_path):
    from competitions.nexperia.features import check_held_out

    (tmp_path / "fold0").mkdir()
    pd.DataFrame({"id": ["a", "b"], "fold": 0, "target": 0, "pred": 0.1}).to_csv(tmp_path / "fold0" / "oof.csv",
                                                                                 index=False)
    check_held_out(tmp_path, 0, np.array(["b", "a"]))
    with pytest.raises(ValueError, match="trained on 1 images of this run's fold 0"):
        check_held_out(tmp_path, 0, np.array(["a", "c"]))


@pytest.mark.parametrize("extra,message", [
    (["--vae-run", "runs/x"], "--vae-run needs --backbone vae"),
    (["--backbone", "vae"], "--backbone vae needs --vae-run"),
    (["--backbone", "scattering", "--checkpoint-run", "runs/x"], "--checkpoint-run needs --backbone cnn"),
    (["--backbone", "scattering", "--pretrained", "w.bin"], "--pretrained needs --backbone cnn"),
    (["--scattering-j", "2"], "--scattering-j needs --backbone scattering"),
    (["--scattering-log"], "--scattering-log needs --backbone scattering"),
    (["--checkpoint-run", "runs/x", "--pretrained", "w.bin"], "contradict"),
    (["--backbone", "scattering", "--img-size", "16", "--scattering-j", "5"], "needs --img-size >= 2\\*\\*J = 32"),
])
def test_contradictory_options_are_refused(extra, message, tmp_path):
    from common.config import parse_config
    from competitions.nexperia.features import FeaturesConfig

    with pytest.raises(ValueError, match=message):
        parse_config(FeaturesConfig, ["--runs-dir", str(tmp_path), *extra])


def test_refusal_is_one_line_before_any_work(tmp_path, capsys):
    from common.cli import run_cli
    from competitions.nexperia.features import main

    with pytest.raises(SystemExit) as stop:
        run_cli(main, ["--runs-dir", str(tmp_path), "--vae-run", str(tmp_path)])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: option --vae-run needs --backbone vae (got --backbone cnn)"]
    assert not any(tmp_path.iterdir())


def test_colourings_add_truth_and_defect_type():
    from competitions.nexperia.features import colourings

    truth = pd.DataFrame({"id": ["a", "b", "c"], "label_true": [0, 1, 1], "flipped": [0, 0, 1],
                          "defect_type": [np.nan, "scratch", "chipping"]})
    panels = colourings(np.array(["c", "a", "b"]), np.array([0, 0, 1]), truth)
    assert [p.name for p in panels] == ["given label", "planted truth", "defect type"]
    assert panels[2].values.tolist() == ["chipping", "", "scratch"]
    assert panels[2].resolved_styles()[""].text == "good"
    assert [p.name for p in colourings(np.array(["a"]), np.array([0]), None)] == ["given label"]
