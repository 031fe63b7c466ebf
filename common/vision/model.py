"""timm models for 1-channel images with one logit, local pretrained weights and transfer-learning strategies.

Kaggle kernels have no internet: pretrained weights come as a local file attached to the kernel, or by a known
name whose weights install offline (``common.vision.weights``: ``efficientnet_lite0`` ... for timm's
``tf_efficientnet_lite0`` ...), handed to timm with ``pretrained_cfg_overlay=dict(file=PATH)``; timm then sums
the stem's RGB filters into one channel and drops the 1000-class head.

Freezing strategies (``--freeze``): ``none`` (fine-tune everything), ``head`` (train the classifier only, a
linear probe), ``lastN`` (train the last N stages and the head, e.g. ``last2``).
"""
from __future__ import annotations

import re
import logging
from pathlib import Path
from typing import Any

import timm
import torch
import yaml
from timm.models import group_parameters
from torch import nn

from common.errors import BadInput
from common.vision.weights import quiet_timm, resolve_pretrained

log = logging.getLogger(__name__)


def parse_model_kwargs(text: str | dict | None) -> dict[str, Any]:
    """Extra ``timm.create_model`` arguments given as a YAML mapping, e.g. ``"{channels: [16,32,64,128]}"``."""
    if text is None or text == "":
        return {}
    kwargs = text if isinstance(text, dict) else yaml.safe_load(text)
    if not isinstance(kwargs, dict):
        raise BadInput(f"model kwargs must be a YAML mapping such as '{{drop_rate: 0.2}}', got {text!r}")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}


def create_model(name: str, pretrained: str | Path | None = None, model_kwargs: dict | None = None) -> nn.Module:
    """A timm model with ``in_chans=1`` and ``num_classes=1``, optionally initialised from pretrained weights:
    a local weight file or a known name (``common.vision.weights.KNOWN_WEIGHTS``) made for this model."""
    if not timm.is_model(name):
        raise BadInput(f"unknown timm model {name!r}; list them with timm.list_models('*resnet*')")
    kwargs = dict(model_kwargs or {})
    if pretrained:
        weights = resolve_pretrained(str(pretrained))
        if weights.model not in (None, name):
            raise BadInput(f"--pretrained {weights.package} holds weights for {weights.model}, not {name} "
                             f"(use --model {weights.model}, or a weight file made for {name})")
        check_weight_file(weights.file, timm.create_model(name, in_chans=1, num_classes=1, **kwargs))
        kwargs.update(pretrained=True, pretrained_cfg_overlay=dict(file=str(weights.file)))
    with quiet_timm():
        model = timm.create_model(name, in_chans=1, num_classes=1, **kwargs)
    if pretrained:
        zero_head(model)
        log.info("weights %s loaded into %s: RGB stem summed to 1 channel, classifier replaced by a zeroed "
                 "1-logit head", weights.package or weights.file, name)
    return model



def zero_head(model: nn.Module) -> None:
    """Start the new one-logit head at zero (p = 0.5 for every image). Some timm inits scale a linear head by
    its fan-out, which is 1 here: EfficientNet's head would start at uniform(-1, 1) weights, logits of about
    +-20 on pretrained features and a first-epoch loss near 2 that wrecks the pretrained weights."""
    head = model.get_classifier()
    if isinstance(head, nn.Linear):
        nn.init.zeros_(head.weight)
        nn.init.zeros_(head.bias)


def check_weight_file(path: Path, model: nn.Module, show: int = 4) -> None:
    """Refuse a weight file that does not fit ``model``: every backbone tensor must be in the file with its
    shape (the stem may differ in its input channels: timm sums the RGB filters into one grey channel), and
    every backbone tensor of the file must be in the model. timm itself would load what matches and silently
    leave the rest random; the classifier is not compared (timm replaces it by the one-logit head)."""
    try:
        with quiet_timm():
            weights = timm.models.load_state_dict(str(path))
    except Exception as err:  # safetensors/pickle raise many types for a file that is no state dict
        raise BadInput(f"pretrained weight file {path} cannot be read as a state dict "
                         f"({type(err).__name__}: {str(err)[:200]})") from None
    head = model.pretrained_cfg.get("classifier") or ""
    stem = model.pretrained_cfg.get("first_conv") or ""
    heads = tuple(f"{h}." for h in ([head] if isinstance(head, str) else head) if h)

    def backbone(names):
        return {n for n in names if not n.startswith(heads) and not n.endswith("num_batches_tracked")}

    expected = {n: t.shape for n, t in model.state_dict().items() if n in backbone(model.state_dict())}
    found = backbone(weights)
    missing = sorted(set(expected) - found)
    extra = sorted(found - set(expected))
    shapes = sorted(n for n in set(expected) & found if tuple(weights[n].shape) != tuple(expected[n])
                    and not (n == f"{stem}.weight" and weights[n].shape[0] == expected[n][0]
                             and weights[n].shape[2:] == expected[n][2:]))
    if missing or extra or shapes:
        problems = [f"{len(items)} {what} (e.g. {items[:show]})" for items, what in (
            (missing, "model tensors missing from the file"), (extra, "file tensors the model lacks"),
            (shapes, "tensors of another shape")) if items]
        raise BadInput(f"pretrained weight file {path} does not fit model {type(model).__name__} "
                         f"({len(expected)} backbone tensors): {'; '.join(problems)}")


def model_groups(model: nn.Module) -> list[list[str]]:
    """Parameter names per coarse group (stem, stages..., head), in order, from timm's group matcher."""
    groups = group_parameters(model, model.group_matcher(coarse=True))
    return [groups[k] for k in sorted(groups)]


def apply_freeze(model: nn.Module, strategy: str) -> int:
    """Set ``requires_grad`` by strategy (``none``, ``head``, ``lastN``); returns the number of trainable tensors."""
    match = re.fullmatch(r"last(\d+)", strategy)
    if strategy not in ("none", "head") and not match:
        raise BadInput(f"unknown freeze strategy {strategy!r}; use none, head or lastN (e.g. last2)")
    groups = model_groups(model)
    n_train = 0 if strategy == "head" else len(groups) - 1 if strategy == "none" else int(match.group(1))
    trainable = {n for g in groups[max(0, len(groups) - 1 - n_train):] for n in g}
    trainable |= {f"{prefix}.{n}" if prefix else n
                  for prefix in [_module_name(model, model.get_classifier())]
                  for n, _ in model.get_classifier().named_parameters()}
    for name, param in model.named_parameters():
        param.requires_grad = name in trainable
    return sum(p.requires_grad for p in model.parameters())


def freeze_batchnorm_stats(model: nn.Module) -> int:
    """Put the BatchNorm layers whose parameters are all frozen in eval mode, so that their running
    statistics keep their pretrained values; call after every ``model.train()``. Returns their number."""
    count = 0
    for module in model.modules():
        params = list(module.parameters(recurse=False))
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and params and not any(p.requires_grad for p in params):
            module.eval()
            count += 1
    return count


def _module_name(model: nn.Module, module: nn.Module) -> str:
    return next(name for name, m in model.named_modules() if m is module)


def last_conv_stage(model: nn.Module) -> nn.Module:
    """The module producing the deepest feature map (Grad-CAM's target), from timm's ``feature_info``."""
    name = model.feature_info[-1]["module"]
    return model.get_submodule(name)


def load_weights(model: nn.Module, checkpoint: dict, path: Path, expected: dict) -> None:
    """Load a training checkpoint's weights, refusing one made for another architecture with a clear error."""
    saved = {k: checkpoint.get("model_spec", {}).get(k) for k in expected}
    if saved != expected:
        raise BadInput(f"checkpoint {path} was trained with {saved}, not {expected}: "
                         "pick the matching --model/--model-kwargs or another run")
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as err:
        raise BadInput(f"checkpoint {path} does not fit model {expected}: {str(err)[:500]}") from err


def to_device(model: nn.Module, device: torch.device, channels_last: bool) -> nn.Module:
    model = model.to(device)
    return model.to(memory_format=torch.channels_last) if channels_last else model
