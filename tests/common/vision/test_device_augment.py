"""DeviceAugment against the albumentations presets it mirrors: evaluation output, value ranges, output
distribution, the flip views each preset produces, seeding, normalisation and CUDA."""
import albumentations as A
import cv2
import numpy as np
import pytest
import torch

from common.vision.augment import AUGMENT_PRESETS, TRAINED_VIEWS, build_transform
from common.vision.tta import VIEWS
from common.vision.device_augment import (DEVICE_PRESETS, CoarseDropout, DeviceAugment, GaussNoise,
                                         RandomApplyOne, brightness_contrast)

torch.set_num_threads(1)  # a crowded 2-core machine runs one thread far faster than two
PRESETS = sorted(DEVICE_PRESETS)
MEAN, STD = 0.449, 0.226


def smooth_images(n: int, size: int, seed: int = 0, mirrored: bool = False) -> np.ndarray:
    """uint8 (n, size, size): random low-frequency fields plus pixel noise (``mirrored``: symmetric under both
    flips, so that a flip changes nothing and any change is the other augmentations')."""
    rng = np.random.default_rng(seed)
    side = size // 2 if mirrored else size
    out = []
    for coarse in rng.integers(0, 256, (n, 4, 4)).astype(np.float32):
        image = cv2.resize(coarse, (side, side), interpolation=cv2.INTER_CUBIC) + rng.normal(0, 8, (side, side))
        image = np.clip(image, 0, 255).astype(np.uint8)
        out.append(np.block([[image, image[:, ::-1]], [image[::-1], image[::-1, ::-1]]]) if mirrored else image)
    return np.stack(out)


def albumentations_batch(images: np.ndarray, preset: str, train: bool, repeats: int = 1, seed: int = 0,
                         mean: float | None = None, std: float | None = None) -> torch.Tensor:
    transform = build_transform(preset, images.shape[-1], train, mean=mean, std=std, seed=seed)
    return torch.stack([transform(image=image)["image"] for _ in range(repeats) for image in images])


def device_batch(images: np.ndarray, preset: str, train: bool, repeats: int = 1, seed: int = 0,
                 **kwargs) -> torch.Tensor:
    torch.manual_seed(seed)
    augment = DeviceAugment(preset, train=train, **kwargs)
    x = torch.from_numpy(images)[:, None]
    return torch.cat([augment(x) for _ in range(repeats)])


def test_presets_match_common_augment_one_to_one():
    assert DEVICE_PRESETS.keys() == AUGMENT_PRESETS.keys()
    for preset in PRESETS:
        assert len(DEVICE_PRESETS[preset]()) == len(AUGMENT_PRESETS[preset]()), preset


@pytest.mark.parametrize("preset", PRESETS)
def test_evaluation_equals_the_albumentations_evaluation_pipeline(preset):
    images = smooth_images(8, 40)
    expected = albumentations_batch(images, "none", train=False, mean=MEAN, std=STD)
    torch.testing.assert_close(device_batch(images, preset, train=False, mean=MEAN, std=STD), expected)
    augment = DeviceAugment(preset, mean=MEAN, std=STD).eval()
    torch.testing.assert_close(augment(torch.from_numpy(images)[:, None]), expected)


def test_preset_none_trains_without_augmenting():
    images = smooth_images(8, 40)
    torch.testing.assert_close(device_batch(images, "none", train=True),
                               albumentations_batch(images, "none", train=False))


@pytest.mark.parametrize("preset", PRESETS)
def test_training_output_is_float_in_unit_range_like_the_cpu_path(preset):
    images = smooth_images(16, 40)
    out, cpu = device_batch(images, preset, train=True), albumentations_batch(images, preset, train=True)
    assert out.shape == cpu.shape == (16, 1, 40, 40) and out.dtype == cpu.dtype == torch.float32
    assert 0.0 <= out.min().item() and out.max().item() <= 1.0


@pytest.mark.parametrize("preset", [p for p in PRESETS if p != "none"])
def test_output_distribution_matches_albumentations(preset):
    """Over 64 images drawn 4 times: the mean and spread of the pixels, the spread of the per-image means
    (brightness) and, on flip-symmetric images, the mean change of a pixel (the geometric and intensity
    augmentations' strength) agree with the albumentations preset's."""
    images = smooth_images(64, 64, mirrored=True)
    device = device_batch(images, preset, train=True, repeats=4)
    cpu = albumentations_batch(images, preset, train=True, repeats=4)
    source = torch.from_numpy(images)[:, None].float().div(255).repeat(4, 1, 1, 1)
    assert device.mean().item() == pytest.approx(cpu.mean().item(), abs=0.02)
    assert device.std().item() == pytest.approx(cpu.std().item(), rel=0.05)
    assert device.mean((1, 2, 3)).std().item() == pytest.approx(cpu.mean((1, 2, 3)).std().item(), rel=0.2)
    # albumentations truncates translations to whole pixels (int(U(-0.03, 0.03) * 64) is at most 1 px), kornia
    # does not: at this size 'light' changes the device images about a third more
    assert (device - source).abs().mean().item() == pytest.approx((cpu - source).abs().mean().item(), rel=0.4)


def albumentations_each(transform: A.BasicTransform, images: np.ndarray) -> torch.Tensor:
    """``transform`` applied to each uint8 image, as a float (N, 1, H, W) batch in [0, 1]."""
    pipeline = A.Compose([transform], seed=0)
    return torch.stack([torch.from_numpy(pipeline(image=image)["image"]) for image in images])[:, None] / 255.0


def test_brightness_contrast_draws_like_albumentations():
    images = smooth_images(256, 32)
    x = torch.from_numpy(images)[:, None] / 255.0
    torch.manual_seed(0)
    device = brightness_contrast(0.25, 0.25, p=1.0)(x)
    cpu = albumentations_each(A.RandomBrightnessContrast(brightness_limit=0.25, contrast_limit=0.25, p=1.0), images)
    assert 0.0 <= device.min().item() and device.max().item() <= 1.0
    shift, cpu_shift = (device - x).mean((1, 2, 3)), (cpu - x).mean((1, 2, 3))
    assert shift.std().item() == pytest.approx(cpu_shift.std().item(), rel=0.1)
    assert (device - x).abs().mean().item() == pytest.approx((cpu - x).abs().mean().item(), rel=0.1)


def test_gauss_noise_draws_like_albumentations():
    images = np.full((256, 32, 32), 128, np.uint8)
    x = torch.from_numpy(images)[:, None] / 255.0
    torch.manual_seed(0)
    noise_std = (GaussNoise((0.01, 0.05))(x) - x).std((1, 2, 3))
    cpu_std = (albumentations_each(A.GaussNoise(std_range=(0.01, 0.05), p=1.0), images) - x).std((1, 2, 3))
    assert noise_std.mean().item() == pytest.approx(cpu_std.mean().item(), rel=0.05)
    assert noise_std.std().item() == pytest.approx(cpu_std.std().item(), rel=0.15)
    assert 0.009 < noise_std.min().item() and noise_std.max().item() < 0.052


def test_coarse_dropout_draws_like_albumentations():
    images = np.full((256, 50, 50), 255, np.uint8)
    x = torch.from_numpy(images)[:, None] / 255.0
    torch.manual_seed(0)
    erased = (CoarseDropout((1, 4), (0.04, 0.2), (0.04, 0.2))(x) == 0).float().mean((1, 2, 3))
    cpu = albumentations_each(A.CoarseDropout(num_holes_range=(1, 4), hole_height_range=(0.04, 0.2),
                                              hole_width_range=(0.04, 0.2), fill=0, p=1.0), images)
    cpu_erased = (cpu == 0).float().mean((1, 2, 3))
    assert erased.min().item() > 0
    assert erased.mean().item() == pytest.approx(cpu_erased.mean().item(), rel=0.1)
    assert erased.max().item() == pytest.approx(cpu_erased.max().item(), rel=0.25)


def test_random_apply_one_applies_one_augmentation_with_probability_p():
    class Add(torch.nn.Module):
        def __init__(self, value: float):
            super().__init__()
            self.value = value

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + self.value

    torch.manual_seed(0)
    out = RandomApplyOne(0.4, Add(1.0), Add(2.0))(torch.zeros(20_000, 1, 2, 2))
    assert torch.equal(out, out[:, :, :1, :1].expand_as(out))  # whole samples, never part of one
    shares = torch.bincount(out[:, 0, 0, 0].long(), minlength=3) / len(out)
    torch.testing.assert_close(shares, torch.tensor([0.6, 0.2, 0.2]), atol=0.015, rtol=0)


def flip_views_of(out: torch.Tensor, image: torch.Tensor) -> set[str]:
    """For each augmented image: the flip of ``image`` it correlates with best."""
    names = ["identity", "hflip", "vflip", "hvflip"]
    refs = torch.stack([VIEWS[name](image).flatten() for name in names])
    refs = (refs - refs.mean(1, keepdim=True)) / refs.std(1, keepdim=True)
    flat = out.flatten(1)
    flat = (flat - flat.mean(1, keepdim=True)) / flat.std(1, keepdim=True).clamp_min(1e-6)
    return {names[i] for i in (flat @ refs.T).argmax(1).tolist()}


@pytest.mark.parametrize("preset", PRESETS)
def test_flip_views_produced_are_the_trained_views(preset):
    image = np.zeros((32, 32), np.uint8)  # four quadrants of different grey: every flip looks different
    image[:16, :16], image[:16, 16:], image[16:, :16], image[16:, 16:] = 230, 150, 100, 20
    out = device_batch(np.repeat(image[None], 64, 0), preset, train=True, repeats=4)
    assert flip_views_of(out, torch.from_numpy(image).float()) == TRAINED_VIEWS[preset]


@pytest.mark.parametrize("preset", [p for p in PRESETS if p != "none"])
def test_same_seed_same_output_and_draws_differ(preset):
    images = smooth_images(16, 32)
    first, again = device_batch(images, preset, True, seed=5), device_batch(images, preset, True, seed=5)
    assert torch.equal(first, again)
    assert not torch.equal(first, device_batch(images, preset, True, seed=6))
    x = torch.from_numpy(images)[:, None]
    augment = DeviceAugment(preset)
    assert not torch.equal(augment(x), augment(x))


@pytest.mark.parametrize("preset", ["none", "heavy"])
def test_per_image_norm_standardises_each_image_like_image_dataset(preset):
    images = smooth_images(8, 32)
    out = device_batch(images, preset, train=True, per_image_norm=True)
    torch.testing.assert_close(out.mean((1, 2, 3)), torch.zeros(8), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.std((1, 2, 3)), torch.ones(8))
    if preset == "none":  # per-image standardisation of the CPU pipeline's output
        cpu = albumentations_batch(images, "none", train=False, mean=MEAN, std=STD)
        expected = torch.stack([(x - x.mean()) / x.std().clamp_min(1e-6) for x in cpu])
        torch.testing.assert_close(device_batch(images, "none", True, mean=MEAN, std=STD, per_image_norm=True),
                                   expected)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match=r"unknown augmentation preset 'strong'; choose one of \['heavy'"):
        DeviceAugment("strong")
    with pytest.raises(ValueError, match="both mean and std"):
        DeviceAugment("light", mean=0.5)
    with pytest.raises(ValueError, match="expected a uint8 batch"):
        DeviceAugment("light")(torch.zeros(2, 1, 8, 8))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("preset", PRESETS)
def test_runs_on_cuda(preset):
    images = smooth_images(16, 40)
    x = torch.from_numpy(images)[:, None].cuda()
    out = DeviceAugment(preset).cuda()(x)
    assert out.device.type == "cuda" and out.dtype == torch.float32 and out.shape == x.shape
    assert 0.0 <= out.min().item() and out.max().item() <= 1.0
    evaluation = DeviceAugment(preset, train=False, mean=MEAN, std=STD).cuda()(x)
    torch.testing.assert_close(evaluation.cpu(), albumentations_batch(images, "none", False, mean=MEAN, std=STD))
    torch.manual_seed(1)
    first = DeviceAugment(preset).cuda()(x)
    torch.manual_seed(1)
    assert torch.equal(first, DeviceAugment(preset).cuda()(x))
