"""Binary losses: each against its formula, sample weights, bad parameters."""
import pytest
import torch
import torch.nn.functional as F

from common.vision.losses import BinaryLoss

LOGITS = torch.tensor([-3.0, -0.5, 0.0, 0.7, 2.5, 4.0])
TARGET = torch.tensor([0.0, 1.0, 0.0, 1.0, 1.0, 0.0])


def test_bce_matches_torch():
    assert torch.allclose(BinaryLoss("bce")(LOGITS, TARGET), F.binary_cross_entropy_with_logits(LOGITS, TARGET))


def test_label_smoothing_pulls_targets_to_half():
    expected = F.binary_cross_entropy_with_logits(LOGITS, TARGET * 0.8 + 0.1)
    assert torch.allclose(BinaryLoss("smooth", smoothing=0.2)(LOGITS, TARGET), expected)


def test_focal_reduces_to_bce_at_gamma_zero_and_downweights_easy_examples():
    assert torch.allclose(BinaryLoss("focal", gamma=0.0)(LOGITS, TARGET), BinaryLoss("bce")(LOGITS, TARGET))
    p_t = torch.where(TARGET == 1, torch.sigmoid(LOGITS), 1 - torch.sigmoid(LOGITS))
    bce = F.binary_cross_entropy_with_logits(LOGITS, TARGET, reduction="none")
    focal = BinaryLoss("focal", gamma=2.0).per_sample(LOGITS, TARGET)
    assert torch.allclose(focal, (1 - p_t) ** 2 * bce, atol=1e-6)
    ratio = focal / bce
    assert ratio[p_t.argmax()] < ratio[p_t.argmin()]


def test_gce_formula_and_limits():
    p_t = torch.where(TARGET == 1, torch.sigmoid(LOGITS), 1 - torch.sigmoid(LOGITS))
    gce = BinaryLoss("gce", q=0.7).per_sample(LOGITS, TARGET)
    assert torch.allclose(gce, (1 - p_t ** 0.7) / 0.7, atol=1e-6)
    # q -> 0 gives cross-entropy; q = 1 gives the mean absolute error 1 - p_t
    assert torch.allclose(BinaryLoss("gce", q=1e-4).per_sample(LOGITS, TARGET),
                          F.binary_cross_entropy_with_logits(LOGITS, TARGET, reduction="none"), atol=1e-2)
    assert torch.allclose(BinaryLoss("gce", q=1.0).per_sample(LOGITS, TARGET), 1 - p_t, atol=1e-6)


def test_sample_weights_give_a_weighted_mean():
    weights = torch.tensor([1.0, 0.2, 1.0, 1.0, 0.0, 1.0])
    per = BinaryLoss("bce").per_sample(LOGITS, TARGET)
    assert torch.allclose(BinaryLoss("bce")(LOGITS, TARGET, weights), (per * weights).sum() / weights.sum())


def test_losses_backpropagate():
    for name in ("bce", "smooth", "focal", "gce"):
        x = LOGITS.clone().requires_grad_(True)
        BinaryLoss(name)(x, TARGET).backward()
        assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.parametrize("kwargs", [{"name": "hinge"}, {"smoothing": 1.0}, {"gamma": -1.0}, {"q": 0.0}])
def test_bad_parameters_raise(kwargs):
    with pytest.raises(ValueError):
        BinaryLoss(**kwargs)
