import cv2
import numpy as np
import pytest
import torch

from common.vision.augment import AUGMENT_PRESETS, build_transform


@pytest.fixture
def image():
    """A 267 x 275 grayscale image like Nexperia's, with structure so augmentations change it."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 60, (267, 275), dtype=np.uint8)
    img[80:200, 60:220] = 200
    return img


@pytest.mark.parametrize("preset", sorted(AUGMENT_PRESETS))
@pytest.mark.parametrize("train", [True, False])
def test_output_is_single_channel_float_tensor_in_unit_range(image, preset, train):
    out = build_transform(preset, (64, 80), train, seed=0)(image=image)["image"]
    assert isinstance(out, torch.Tensor)
    assert out.shape == (1, 64, 80) and out.dtype == torch.float32
    assert 0.0 <= out.min().item() and out.max().item() <= 1.0


def test_none_equals_plain_resize(image):
    out = build_transform("none", 96, train=True)(image=image)["image"][0].numpy()
    expected = cv2.resize(image, (96, 96), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_eval_transform_ignores_augmentations(image):
    heavy_eval = build_transform("heavy", 64, train=False)(image=image)["image"]
    none_eval = build_transform("none", 64, train=False)(image=image)["image"]
    assert torch.equal(heavy_eval, none_eval)


def test_mean_std_standardise(image):
    plain = build_transform("none", 64, False)(image=image)["image"]
    standard = build_transform("none", 64, False, mean=0.5, std=0.25)(image=image)["image"]
    torch.testing.assert_close(standard, (plain - 0.5) / 0.25)
    with pytest.raises(ValueError, match="both mean and std"):
        build_transform("none", 64, False, mean=0.5)


@pytest.mark.parametrize("preset", ["seed", "heavy"])
def test_augmentation_is_random_but_reproducible_under_seed(image, preset):
    first = build_transform(preset, 64, True, seed=7)
    second = build_transform(preset, 64, True, seed=7)
    outs_a = [first(image=image)["image"] for _ in range(4)]
    outs_b = [second(image=image)["image"] for _ in range(4)]
    assert all(torch.equal(a, b) for a, b in zip(outs_a, outs_b))
    assert not all(torch.equal(outs_a[0], o) for o in outs_a[1:])
    other = build_transform(preset, 64, True, seed=8)
    assert not all(torch.equal(a, other(image=image)["image"]) for a in outs_a)


def test_unknown_preset_lists_the_names():
    with pytest.raises(ValueError, match=r"unknown augmentation preset 'strong'; choose one of "
                                         r"\['heavy', 'light', 'medium', 'none', 'seed'\]"):
        build_transform("strong", 64, True)


@pytest.mark.parametrize("preset", sorted(AUGMENT_PRESETS))
def test_trained_views_match_the_flips_each_preset_applies(preset):
    from common.vision.augment import TRAINED_VIEWS

    kinds = {type(t).__name__ for t in AUGMENT_PRESETS[preset]()}
    hflip, vflip = "HorizontalFlip" in kinds, "VerticalFlip" in kinds
    expected = {"identity"} | ({"hflip"} if hflip else set()) | ({"vflip"} if vflip else set())
    expected |= {"hvflip"} if hflip and vflip else set()
    assert TRAINED_VIEWS[preset] == expected
