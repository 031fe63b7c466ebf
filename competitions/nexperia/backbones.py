"""The CNN a Nexperia command embeds or explains images with: a ``train.py`` run's fold checkpoint, described by
its own model card (``common.vision.card``), or a timm model with optional weights; and how images become its input.

``cfg`` is any config with ``checkpoint_run``, ``model``, ``model_kwargs``, ``pretrained`` and ``img_size``.
"""
from __future__ import annotations

from pathlib import Path

import torch

from common.io import read_json
from common.errors import MissingInput
from common.run import RunFolder
from common.vision.card import ModelCard, read_card
from common.vision.checkpoints import BEST, fold_checkpoint
from common.vision.data import ModelInput
from common.vision.model import create_model, parse_model_kwargs
from common.vision.predict import load_model


def checkpoint_path(run: str | Path, fold: int) -> Path:
    """Fold ``fold``'s ``best.pt`` of a ``train.py`` run (an error says what to run when it is missing)."""
    path = fold_checkpoint(RunFolder(run).fold_path(fold))
    if not path.is_file():
        raise MissingInput(f"checkpoint not found: {path} (train fold {fold} of that run first)")
    return path


def run_card(run: str | Path) -> ModelCard:
    """The model card of a run's checkpoints (every fold of a run shares one), from its first trained fold."""
    folder = RunFolder(run)
    trained = folder.folds_with(BEST)
    if not trained:
        raise MissingInput(f"no fold<k>/{BEST} in {run}: train a fold of that run first")
    return read_card(fold_checkpoint(folder.fold_path(trained[0])), folder.config())


def cnn_inputs(cfg) -> ModelInput:
    """How the CNN sees images: as ``cfg.checkpoint_run`` was trained (its model card), else ``cfg.model``'s
    pretrained mean/std at ``cfg.img_size``, or each image standardised when the weights are a ``pretrain.py``
    encoder trained that way (its ``encoder.json``)."""
    if cfg.checkpoint_run:
        return run_card(cfg.checkpoint_run).inputs
    encoder = Path(cfg.pretrained).with_name("encoder.json") if cfg.pretrained else None
    norm = read_json(encoder).get("norm", "fixed") if encoder and encoder.is_file() else "fixed"
    return ModelInput.for_model(cfg.model, cfg.img_size, norm)


def cnn_model(cfg, fold: int | None, device: torch.device | str = "cpu") -> torch.nn.Module:
    """Fold ``fold``'s checkpoint of ``cfg.checkpoint_run`` (its inference weights), else ``cfg.model``
    [``cfg.pretrained``], in eval mode on ``device``."""
    if cfg.checkpoint_run:  # the checkpoint's card says its memory format
        return load_model(checkpoint_path(cfg.checkpoint_run, fold), torch.device(device))
    return create_model(cfg.model, cfg.pretrained, parse_model_kwargs(cfg.model_kwargs)).to(device).eval()
