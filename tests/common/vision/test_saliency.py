"""Saliency maps on a model whose answer is known, and the box scores on hand-computed maps and boxes."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from common.vision.data import ModelInput
from common.vision.saliency import (box_coverage, energy_in_box, pointing_hit, saliency_maps, scale_boxes,
                                    score_maps)

torch.set_num_threads(1)
SIZE = 32
BRIGHT_BOXES = [(18, 8, 26, 16), (4, 20, 12, 28)]  # x_1, y_1, x_2, y_2 of each image's bright patch


class BrightPatchSum(nn.Module):
    """logit = sum over pixels of ``relu(3x3 mean - 0.5)``: only the bright patch counts, whatever else is
    brighter than the background."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
        nn.init.constant_(self.conv.weight, 1 / 9)

    def forward(self, x):
        return F.relu(self.conv(x) - 0.5).sum(dim=(1, 2, 3))[:, None]  # (N, 1), like the kit's timm models


def bright_patch_images() -> torch.Tensor:
    """Noisy dark background in [0, 0.2], a bright patch (1.0) in each BRIGHT_BOXES box and a dim one (0.3)
    of the same size elsewhere: a map of brightness alone would spread over the dim patch too."""
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(len(BRIGHT_BOXES), 1, SIZE, SIZE, generator=gen) * 0.2
    for image, (x1, y1, x2, y2), dim in zip(x, BRIGHT_BOXES, [(22, 2), (4, 20)]):  # dim: (row, column)
        image[0, y1:y2, x1:x2] = 1.0
        image[0, dim[0]:dim[0] + 8, dim[1]:dim[1] + 8] = 0.3
    return x


def grown(box, by):
    x1, y1, x2, y2 = box
    return (x1 - by, y1 - by, x2 + by, y2 + by)


@pytest.mark.parametrize("method", ["vanilla", "smoothgrad"])
def test_gradient_maps_concentrate_in_the_bright_patch(method):
    maps = saliency_maps(BrightPatchSum(), bright_patch_images(), method, samples=16, noise=0.15)
    assert maps.shape == (len(BRIGHT_BOXES), SIZE, SIZE)
    assert maps.min() >= 0 and np.allclose(maps.max(axis=(1, 2)), 1)
    table, means = score_maps(maps, [np.array(b) for b in BRIGHT_BOXES])
    # the 3x3 kernel spreads the gradient one pixel beyond the patch, and nowhere further
    assert (table["energy_in_box"] > 0.8).all() and table["pointing_hit"].all()
    assert all(energy_in_box(m, grown(b, 1)) > 0.99 for m, b in zip(maps, BRIGHT_BOXES))
    assert means["chance_energy"] == pytest.approx(64 / SIZE**2)
    assert means["pointing_accuracy"] == 1 and means["n_images"] == 2


def test_vanilla_map_is_the_absolute_input_gradient():
    model, x = BrightPatchSum(), bright_patch_images()
    x.requires_grad_(True)
    model(x).sum().backward()
    expected = x.grad[:, 0].abs()
    expected = expected / expected.amax(dim=(1, 2), keepdim=True)
    assert np.allclose(saliency_maps(model, x, "vanilla"), expected.numpy(), atol=1e-6)


def test_smoothgrad_noise_is_seeded_and_leaves_torch_generator_alone():
    model, x = BrightPatchSum(), bright_patch_images()
    before = torch.get_rng_state()
    first = saliency_maps(model, x, "smoothgrad", samples=4, noise=0.5, seed=1)
    assert torch.equal(torch.get_rng_state(), before)
    assert np.array_equal(first, saliency_maps(model, x, "smoothgrad", samples=4, noise=0.5, seed=1))
    assert not np.allclose(first, saliency_maps(model, x, "smoothgrad", samples=4, noise=0.5, seed=2))
    assert not np.allclose(first, saliency_maps(model, x, "vanilla"))  # the noise changes which windows fire


def test_gradcam_goes_through_the_kit_class_and_points_at_the_patch():
    model = BrightPatchSum()
    maps = saliency_maps(model, bright_patch_images(), "gradcam", layer=model.conv)
    assert maps.shape == (len(BRIGHT_BOXES), SIZE, SIZE) and maps.min() >= 0 and maps.max() <= 1 + 1e-6
    assert all(pointing_hit(m, b) for m, b in zip(maps, BRIGHT_BOXES))


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown saliency method 'lime'"):
        saliency_maps(BrightPatchSum(), bright_patch_images(), "lime")


def hand_map():
    saliency = np.zeros((4, 4))
    saliency[1, 1], saliency[1, 2], saliency[3, 3] = 2, 1, 1
    return saliency


def test_energy_in_box_on_hand_computed_maps():
    saliency = hand_map()
    assert energy_in_box(saliency, (1, 1, 3, 2)) == pytest.approx(3 / 4)      # pixels (1,1) and (1,2)
    assert energy_in_box(saliency, (1.5, 1, 2.5, 2)) == pytest.approx(1.5 / 4)  # half of each
    assert energy_in_box(saliency, [(0, 0, 2, 2), (3, 3, 4, 4)]) == pytest.approx(3 / 4)  # a union of two
    assert energy_in_box(np.ones((4, 4)), (1, 1, 3, 2)) == pytest.approx(2 / 16)  # uniform map: the chance level
    assert energy_in_box(np.zeros((4, 4)), (0, 0, 4, 4)) == 0
    with pytest.raises(ValueError, match="non-negative"):
        energy_in_box(-saliency, (0, 0, 4, 4))


def test_pointing_game_with_and_without_margin():
    saliency = hand_map()  # maximum at row 1, column 1
    assert pointing_hit(saliency, (1, 1, 2, 2))
    assert not pointing_hit(saliency, (2, 0, 4, 4))
    assert pointing_hit(saliency, (2, 0, 4, 4), margin=0.5) and pointing_hit(saliency, (2, 0, 4, 4), margin=1)
    assert not pointing_hit(saliency, (3, 0, 4, 4), margin=1)  # column 1 is two pixels away
    assert not pointing_hit(np.zeros((4, 4)), (0, 0, 4, 4))
    table, means = score_maps([saliency, saliency], [np.array((2, 0, 4, 4)), np.array((0, 0, 2, 2))], margin=1)
    assert table["pointing_hit"].tolist() == [True, True]
    assert table["box_share"].tolist() == pytest.approx([8 / 16, 4 / 16])
    assert table["pointing_chance"].tolist() == pytest.approx([12 / 16, 9 / 16])  # boxes grown by a pixel
    assert means["energy_in_box"] == pytest.approx((1 / 4 + 3 / 4) / 2)
    assert means["chance_pointing"] == pytest.approx((12 / 16 + 9 / 16) / 2)
    with pytest.raises(ValueError, match="2 maps for 1 boxes"):
        score_maps([saliency, saliency], [np.array((0, 0, 1, 1))])


def test_box_coverage_is_fractional_at_the_edges():
    cover = box_coverage((3, 4), (0.5, 1, 2.25, 3))
    assert cover[0].tolist() == [0, 0, 0, 0]
    assert cover[1].tolist() == pytest.approx([0.5, 1, 0.25, 0])
    assert cover.sum() == pytest.approx((2.25 - 0.5) * 2)


def test_boxes_scale_from_original_pixels_to_the_resized_input():
    """A bright rectangle of a non-square original image, resized as the trainer does: its scaled box holds it."""
    height, width, box = 267, 275, (200, 20, 260, 60)
    assert scale_boxes([[0, 0, 137.5, 133.5]], (height, width), (96, 96))[0] == pytest.approx([0, 0, 48, 48])
    original = np.zeros((height, width), np.uint8)
    original[box[1]:box[3], box[0]:box[2]] = 255
    resized = ModelInput(96).resized(original[None])[0].astype(np.float32)
    brightness = resized - resized.min()
    scaled = scale_boxes(box, (height, width), (96, 96))
    assert scaled == pytest.approx([200 * 96 / 275, 20 * 96 / 267, 260 * 96 / 275, 60 * 96 / 267])
    assert energy_in_box(brightness, scaled) > 0.94  # only the edge pixels that INTER_AREA mixes lie outside
    assert energy_in_box(brightness, grown(scaled, 1)) > 0.999
    swapped = scale_boxes(box, (width, height), (96, 96))  # height and width mixed up: misses part of it
    assert energy_in_box(brightness, swapped) < energy_in_box(brightness, scaled) - 0.05
    assert box_coverage((96, 96), scaled).mean() == pytest.approx(60 * 40 / (height * width))
