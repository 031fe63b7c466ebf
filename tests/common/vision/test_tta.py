import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from common.vision.tta import TTA_PRESETS, VIEWS, predict_loader, resolve_views, tta_predict

torch.set_num_threads(1)


class MeanModel(nn.Module):
    """Logit = mean pixel: invariant under every view."""

    def forward(self, x):
        return x.mean(dim=(1, 2, 3))


class LeftHalfModel(nn.Module):
    """Logit = sum of the left half of the image, as (N, 1): changes when the image is flipped left-right."""

    def forward(self, x):
        return x[..., : x.shape[-1] // 2].sum(dim=(1, 2, 3)).unsqueeze(1)


def _sigmoid(v: float) -> float:
    return 1 / (1 + math.exp(-v))


def test_d4_views_are_eight_distinct_symmetries():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    outs = {name: tuple(VIEWS[name](x).flatten().tolist()) for name in TTA_PRESETS["d4"]}
    assert len(TTA_PRESETS["d4"]) == 8 and len(set(outs.values())) == 8
    assert torch.equal(VIEWS["hvflip"](x), torch.rot90(x, 2, dims=(-2, -1)))
    assert torch.equal(VIEWS["rot270"](VIEWS["rot90"](x)), x)


def test_invariant_model_gives_same_output_for_all_views():
    x = torch.rand(5, 1, 8, 8)
    plain = tta_predict(MeanModel(), x, "none")
    for preset in ("flips", "d4"):
        torch.testing.assert_close(tta_predict(MeanModel(), x, preset), plain)
    torch.testing.assert_close(plain, torch.sigmoid(x.mean(dim=(1, 2, 3))))


def test_flip_sensitive_model_averages_views_by_hand():
    x = torch.zeros(1, 1, 2, 2)
    x[0, 0, :, 0] = 1.0  # left column ones: left-half sum 2, after hflip 0
    model = LeftHalfModel()
    prob = tta_predict(model, x, ["identity", "hflip"], merge="prob")
    logit = tta_predict(model, x, ["identity", "hflip"], merge="logit")
    assert prob.shape == (1,)
    assert abs(prob.item() - (_sigmoid(2.0) + _sigmoid(0.0)) / 2) < 1e-6  # 0.690399
    assert abs(logit.item() - _sigmoid(1.0)) < 1e-6  # 0.731059: differs from prob averaging
    raw = tta_predict(model, x, ["identity", "hflip"], activation=None)
    assert abs(raw.item() - 1.0) < 1e-6


def test_bad_views_and_shapes_raise():
    with pytest.raises(ValueError, match="unknown TTA preset 'd8'"):
        resolve_views("d8")
    with pytest.raises(ValueError, match=r"unknown TTA view\(s\) \['rot45'\]"):
        resolve_views(["identity", "rot45"])
    with pytest.raises(ValueError, match=r"need square images, got H x W = 4 x 6"):
        tta_predict(MeanModel(), torch.rand(2, 1, 4, 6), "d4")
    tta_predict(MeanModel(), torch.rand(2, 1, 4, 6), "flips")  # flips are fine on rectangles
    with pytest.raises(ValueError, match=r"must output \(N,\) or \(N, 1\)"):
        tta_predict(nn.Flatten(), torch.rand(2, 1, 4, 4))


def test_predict_loader_matches_batchwise_tta_and_accepts_tuples():
    torch.manual_seed(0)
    x = torch.rand(10, 1, 6, 6)
    y = torch.zeros(10)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 16, 1))
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    preds = predict_loader(model, loader, "d4", merge="logit", progress=False)
    assert preds.shape == (10,) and preds.dtype == np.float32
    np.testing.assert_allclose(preds, tta_predict(model, x, "d4", merge="logit").numpy(), rtol=1e-5)
    bf16 = predict_loader(model, DataLoader(x, batch_size=4), "flips", amp_dtype=torch.bfloat16, progress=False)
    np.testing.assert_allclose(bf16, tta_predict(model, x, "flips").numpy(), atol=2e-2)


def test_untrained_views_name_what_the_augmentation_never_showed(caplog):
    import logging

    from common.vision.tta import untrained_views, warn_untrained_views

    assert untrained_views("hflip", "light") == []
    assert untrained_views("flips", "light") == ["vflip", "hvflip"]
    assert untrained_views("flips", "medium") == []
    assert untrained_views("d4", "heavy") == ["rot90", "rot270", "transpose", "antitranspose"]
    assert untrained_views(["identity"], "none") == []
    with pytest.raises(ValueError, match="unknown augmentation preset 'bogus'"):
        untrained_views("none", "bogus")
    logger = logging.getLogger("test-tta")
    with caplog.at_level(logging.WARNING, logger="test-tta"):
        assert warn_untrained_views("hflip", "seed", logger) == []
        assert caplog.text == ""
        warn_untrained_views("flips", "seed", logger)
    assert "['vflip', 'hvflip']" in caplog.text and "'seed'" in caplog.text
