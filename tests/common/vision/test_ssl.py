"""Self-supervised pretraining engine: rotation targets, input scaling as the supervised pipeline's, NT-Xent
learning on a tiny set, the encoder file timm loads (and a file missing a tensor refused), the linear probe."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from common.run import Run
from common.vision.data import ModelInput
from common.vision.model import create_model, parse_model_kwargs
from common.vision.embed import embed
from common.vision.ssl import ENCODER_FILE, SUMMARY_FILE, SSLConfig, StackedImages, linear_probe, pretrain, rotate_batch

torch.set_num_threads(1)
TINY_MODEL = "{channels: [8, 16, 32, 64], stem_width: 8}"


def test_rotation_labels_say_how_each_image_was_turned():
    torch.manual_seed(0)
    x = torch.zeros(32, 1, 8, 8)
    x[:, :, 0, 0] = 1.0  # one bright corner: where it ends up shows the turn
    turned, labels = rotate_batch(x)
    assert set(labels.tolist()) == {0, 1, 2, 3}
    corner = {0: (0, 0), 1: (7, 0), 2: (7, 7), 3: (0, 7)}  # counter-clockwise quarter turns of the top-left pixel
    for image, label in zip(turned, labels.tolist()):
        assert image[0].nonzero().tolist() == [list(corner[label])]
    content = torch.rand(32, 1, 8, 8)
    turned, labels = rotate_batch(content)
    back = torch.stack([torch.rot90(t, -k, dims=(-2, -1)) for t, k in zip(turned, labels.tolist())])
    assert torch.equal(back, content)


@pytest.mark.parametrize("model", ["resnet18", "tf_efficientnet_lite0"])
@pytest.mark.parametrize("norm", ["fixed", "image"])
def test_views_are_scaled_as_the_supervised_pipeline_scales_its_batches(model, norm):
    inputs = ModelInput.for_model(model, 16, norm)
    batch = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (4, 1, 16, 16), dtype=np.uint8))
    torch.testing.assert_close(inputs.normalise(batch.float() / 255.0), inputs.augmenter()(batch))


def test_stacked_images_read_the_right_rows_of_each_array():
    a = np.arange(3)[:, None, None].repeat(4, 1).repeat(4, 2).astype(np.uint8)
    b = (10 + np.arange(2))[:, None, None].repeat(4, 1).repeat(4, 2).astype(np.uint8)
    stacked = StackedImages([a, b])
    assert len(stacked) == 5
    batch = stacked[[4, 0, 3, 2]]
    assert batch.shape == (4, 1, 4, 4) and batch.dtype == torch.uint8
    assert batch[:, 0, 0, 0].tolist() == [11, 0, 10, 2]


def stripes(n: int, size: int = 40, seed: int = 0) -> np.ndarray:
    """Distinct images: sine stripes of random angle, frequency and phase, one pattern each."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size
    images = []
    for _ in range(n):
        angle, freq, phase = rng.uniform(0, np.pi), rng.uniform(1, 6), rng.uniform(0, 2 * np.pi)
        images.append(127.5 + 127.5 * np.sin(2 * np.pi * freq * (np.cos(angle) * xx + np.sin(angle) * yy) + phase))
    return np.stack(images).astype(np.uint8)


@pytest.fixture(scope="module")
def simclr_run(tmp_path_factory):
    """SimCLR for 8 epochs of 4 batches on 64 tiny images (two arrays, as train and test)."""
    cfg = SSLConfig(method="simclr", model="resnet18", model_kwargs=TINY_MODEL, img_size=32, epochs=8,
                    batch_size=16, lr=3e-3, warmup_epochs=0, progress=False)
    run = Run(tmp_path_factory.mktemp("ssl") / "run")
    images = stripes(64)
    encoder = pretrain(cfg, [images[:48], images[48:]], run)
    return cfg, run, encoder, images


@pytest.mark.slow
def test_nt_xent_decreases_on_a_tiny_set(simclr_run):
    _, run, _, _ = simclr_run
    loss = pd.read_csv(run.root / SUMMARY_FILE)["loss"]
    assert len(loss) == 8
    # the epochs' losses are noisy (16 images per batch): compare the first and the last three
    assert loss.iloc[-3:].mean() < loss.iloc[:3].mean() - 0.1, loss.tolist()


@pytest.mark.slow
def test_encoder_file_loads_into_create_model(simclr_run):
    cfg, run, encoder, images = simclr_run
    path = run.root / ENCODER_FILE
    saved = torch.load(path)
    kwargs = parse_model_kwargs(cfg.model_kwargs)
    model = create_model(cfg.model, path, kwargs)  # check_weight_file passes: every backbone tensor, no extra
    state = model.state_dict()
    assert set(state) - set(saved) == {"fc.weight", "fc.bias"}  # the fine-tuned model's own one-logit head
    assert all(torch.equal(state[name], tensor) for name, tensor in saved.items())
    # the features the fine-tuned model starts from are the pretrained encoder's
    inputs = ModelInput.for_model(cfg.model, cfg.img_size, cfg.norm)
    np.testing.assert_allclose(embed(model, images[:8], inputs), embed(encoder, images[:8], inputs),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("change, message", [
    ("drop", "1 model tensors missing from the file"),
    ("add", "1 file tensors the model lacks"),
])
def test_encoder_file_missing_or_adding_a_tensor_is_refused(simclr_run, tmp_path, change, message):
    cfg, run, _, _ = simclr_run
    saved = torch.load(run.root / ENCODER_FILE)
    if change == "drop":
        del saved["layer2.0.conv1.weight"]
    else:
        saved["layer5.conv.weight"] = torch.zeros(1)
    broken = tmp_path / "broken.pth"
    torch.save(saved, broken)
    with pytest.raises(ValueError, match=message):
        create_model(cfg.model, broken, parse_model_kwargs(cfg.model_kwargs))


def test_linear_probe_scores_separable_features_over_folds():
    rng = np.random.default_rng(0)
    labels = (rng.random(400) < 0.3).astype(int)
    true = labels.copy()
    labels[:20] = 1 - labels[:20]  # some given labels wrong
    features = rng.normal(size=(400, 8)) + 2.0 * true[:, None] * (np.arange(8) < 2)
    fold_of = np.arange(400) % 4
    probe = linear_probe(features, labels, fold_of, [0, 1, 2, 3], true)
    assert probe["auc_true"]["auc"] > 0.9 and probe["auc_true"]["auc"] > probe["auc_given"]["auc"]
    assert probe["auc_given"]["n"] == 400 and set(probe["folds"]) == {"0", "1", "2", "3"}
    one = linear_probe(features, labels, fold_of, [2])
    assert one["auc_given"]["n"] == 100 and "auc_true" not in one
    assert one["auc_given"]["auc"] == pytest.approx(probe["folds"]["2"]["auc_given"])
