"""timm model creation for 1-channel input, local pretrained weights, freezing strategies, Grad-CAM."""
import numpy as np
import pytest
import timm
import torch

from common.vision.gradcam import GradCAM, overlay, pick_examples, save_gradcam_grid
from common.vision.model import (apply_freeze, create_model, freeze_batchnorm_stats, last_conv_stage,
                                         load_weights, parse_model_kwargs)

TINY = {"channels": (8, 16, 32, 64), "stem_width": 8}
torch.set_num_threads(1)


def test_one_channel_in_one_logit_out():
    model = create_model("resnet18", model_kwargs=TINY).eval()
    assert model(torch.randn(3, 1, 32, 40)).shape == (3, 1)
    assert model.conv1.weight.shape[1] == 1


def test_model_kwargs_parse_yaml():
    assert parse_model_kwargs("{channels: [8, 16, 32, 64], stem_width: 8}") == TINY
    assert parse_model_kwargs(None) == {}
    with pytest.raises(ValueError, match="mapping"):
        parse_model_kwargs("[1, 2]")


def test_local_pretrained_file_is_adapted_to_one_channel(tmp_path):
    torch.manual_seed(0)
    rgb = timm.create_model("resnet18", **TINY)  # 3 channels, 1000 classes: an ImageNet-style checkpoint
    path = tmp_path / "resnet18_tiny.pth"
    torch.save(rgb.state_dict(), path)
    model = create_model("resnet18", pretrained=path, model_kwargs=TINY)
    assert torch.allclose(model.conv1.weight, rgb.conv1.weight.sum(dim=1, keepdim=True), atol=1e-6)
    assert torch.equal(model.layer3[0].conv1.weight, rgb.layer3[0].conv1.weight)
    assert model.fc.weight.shape == (1, 64)  # the 1000-class head was dropped, not loaded
    assert not model.fc.weight.any() and not model.fc.bias.any()  # the new head starts at p = 0.5
    scratch = create_model("resnet18", model_kwargs=TINY)
    assert not torch.equal(scratch.layer3[0].conv1.weight, rgb.layer3[0].conv1.weight)
    assert scratch.fc.weight.any()  # from scratch: timm's own initialisation


def test_loading_weights_logs_one_line_of_the_kits_and_none_of_timms(tmp_path, caplog):
    path = tmp_path / "resnet18_tiny.pth"
    torch.save(timm.create_model("resnet18", **TINY).state_dict(), path)
    with caplog.at_level("INFO"):
        create_model("resnet18", pretrained=path, model_kwargs=TINY)
    assert [r.name for r in caplog.records if r.name.startswith("timm")] == []  # "Loaded  from checkpoint", ...
    (line,) = [r.getMessage() for r in caplog.records]
    assert line == (f"weights {path} loaded into resnet18: RGB stem summed to 1 channel, classifier replaced by "
                    "a zeroed 1-logit head")


def test_unknown_model_name():
    with pytest.raises(ValueError, match="unknown timm model"):
        create_model("resnet_does_not_exist")


@pytest.mark.parametrize("strategy,trainable_prefixes", [
    ("head", {"fc"}),
    ("last1", {"layer4", "fc"}),
    ("last2", {"layer3", "layer4", "fc"}),
    ("none", {"conv1", "bn1", "layer1", "layer2", "layer3", "layer4", "fc"}),
])
def test_freeze_strategies(strategy, trainable_prefixes):
    model = create_model("resnet18", model_kwargs=TINY)
    apply_freeze(model, strategy)
    trainable = {name.split(".")[0] for name, p in model.named_parameters() if p.requires_grad}
    frozen = {name.split(".")[0] for name, p in model.named_parameters() if not p.requires_grad}
    assert trainable == trainable_prefixes
    assert not trainable & frozen


def test_freeze_head_leaves_head_on_other_architectures():
    model = create_model("efficientnet_b0")
    apply_freeze(model, "head")
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(n.startswith("classifier") for n in trainable)
    with pytest.raises(ValueError, match="freeze strategy"):
        apply_freeze(model, "most")


def test_frozen_batchnorm_keeps_its_running_statistics():
    model = create_model("resnet18", model_kwargs=TINY)
    apply_freeze(model, "last1")
    before = {n: b.clone() for n, b in model.named_buffers() if n.endswith("running_mean")}
    model.train()
    assert freeze_batchnorm_stats(model) == sum(isinstance(m, torch.nn.BatchNorm2d) for n, m in model.named_modules()
                                                if not n.startswith("layer4"))
    model(torch.rand(4, 1, 32, 32) * 3)
    after = dict(model.named_buffers())
    changed = {n.split(".")[0] for n in before if not torch.equal(before[n], after[n])}
    assert changed == {"layer4"}  # only the trained stage's BatchNorm layers follow the new data


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    small = create_model("resnet18", model_kwargs=TINY)
    ckpt = {"model": small.state_dict(), "model_spec": {"model": "resnet18", "model_kwargs": TINY}}
    other = create_model("resnet10t")
    with pytest.raises(ValueError, match="trained with .*resnet18"):
        load_weights(other, ckpt, tmp_path / "best.pt", {"model": "resnet10t", "model_kwargs": {}})
    # same name, other widths: the state dict does not fit
    spec = {"model": "resnet18", "model_kwargs": {}}
    with pytest.raises(ValueError, match="does not fit"):
        load_weights(create_model("resnet18"), {**ckpt, "model_spec": spec}, tmp_path / "best.pt", spec)


def test_gradcam_localises_a_bright_patch(tmp_path):
    """A conv net whose logit is the mean brightness of its last stage: the CAM must peak on the patch."""
    torch.manual_seed(0)
    model = create_model("resnet18", model_kwargs=TINY).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Conv2d):
                m.weight.abs_()
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.fill_(1.0)  # timm zero-initialises the last BN of each block
        model.fc.weight.fill_(1.0)
    x = torch.zeros(2, 1, 128, 128)
    x[0, :, 96:120, 8:32] = 3.0    # bottom-left patch
    x[1, :, 8:32, 96:120] = 3.0    # top-right patch
    hooks_before = len(last_conv_stage(model)._forward_hooks)
    cams, probs = GradCAM(model)(x)
    assert cams.shape == (2, 128, 128) and probs.shape == (2,)
    assert cams.min() >= 0 and np.isclose(cams.max(), 1.0)
    assert len(last_conv_stage(model)._forward_hooks) == hooks_before
    bottom_left, top_right = (slice(64, None), slice(None, 64)), (slice(None, 64), slice(64, None))
    assert cams[0][bottom_left].mean() > 1.5 * cams[0][top_right].mean()
    assert cams[1][top_right].mean() > 1.5 * cams[1][bottom_left].mean()
    path = save_gradcam_grid(model, x, ["a", "b"], ["confident", "missed"], tmp_path / "cam.png", ncols=2)
    assert path.stat().st_size > 1000
    assert overlay(x[0, 0].numpy(), cams[0]).shape == (128, 128, 3)


def test_pick_examples_takes_confident_and_missed_defects():
    labels = np.array([0, 1, 1, 0, 1, 1, 1])
    preds = np.array([0.9, 0.8, 0.1, 0.2, 0.95, 0.3, 0.5])
    pos, kinds = pick_examples(labels, preds, 4)
    assert pos.tolist() == [4, 1, 2, 5] and kinds == ["confident"] * 2 + ["missed"] * 2


def test_weight_file_of_another_architecture_is_refused_naming_tensors(tmp_path):
    """timm alone would load the matching tensors and leave the others random without an error."""
    deeper = timm.create_model("resnet34", **TINY)
    path = tmp_path / "resnet34.pth"
    torch.save(deeper.state_dict(), path)
    with pytest.raises(ValueError, match=r"resnet34.pth does not fit model ResNet .*file tensors the model lacks "
                                         r"\(e\.g\. \['layer1\.2\."):
        create_model("resnet18", pretrained=path, model_kwargs=TINY)
    narrow = timm.create_model("resnet18", channels=(4, 8, 16, 32), stem_width=4)
    torch.save(narrow.state_dict(), path)
    with pytest.raises(ValueError, match="tensors of another shape"):
        create_model("resnet18", pretrained=path, model_kwargs=TINY)
    vit = timm.create_model("vit_tiny_patch16_224", img_size=32, depth=1)
    torch.save(vit.state_dict(), path)
    with pytest.raises(ValueError, match=r"model tensors missing from the file \(e\.g\. \['bn1\."):
        create_model("resnet18", pretrained=path, model_kwargs=TINY)


def test_junk_weight_file_is_refused_naming_the_file(tmp_path):
    for name, content in (("junk.safetensors", b"not a safetensors file at all"), ("junk.pth", b"\x00" * 64)):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ValueError, match=f"pretrained weight file .*{name} cannot be read as a state dict"):
            create_model("resnet18", pretrained=path, model_kwargs=TINY)
