"""What a checkpoint needs to be used, stored in it: the model, its input and how it was trained.

timm resolves a model's input config once and keeps it with the model; the kit does the same: every checkpoint
the trainer writes holds ``card`` (:func:`card_of`): the input size, the normalisation with its numbers, the
channels and memory format, the augmentation preset it saw (which TTA views it knows), the TTA its run predicted
with, and the kit version. :func:`read_card` gives it back as a :class:`ModelCard`, so predicting, explaining or
embedding with a checkpoint needs no ``config.yaml``. Checkpoints written before cards existed are read from
their run's config (``fallback``).
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from common.errors import BadInput, MissingInput
from common.vision.checkpoints import load_checkpoint
from common.vision.data import ModelInput


def kit_version() -> str:
    try:
        return metadata.version("kaggle-kit")
    except metadata.PackageNotFoundError:  # the kit's files on the path without an install (a Kaggle kernel)
        return "unknown"


def card_of(inputs: ModelInput, *, channels_last: bool, augment: str, tta: str) -> dict:
    """The ``card`` entry of a checkpoint (plain types: it is read back with ``torch.load``)."""
    return {"img_size": inputs.img_size, "norm": "image" if inputs.per_image_norm else "fixed",
            "mean": float(inputs.mean), "std": float(inputs.std), "channels": 1, "channels_last": bool(channels_last),
            "augment": augment, "tta": tta, "kit_version": kit_version()}


@dataclass(frozen=True)
class ModelCard:
    model_spec: dict        # {model, model_kwargs}: what create_model builds
    inputs: ModelInput      # size and normalisation, with the numbers
    channels_last: bool
    augment: str            # the training augmentation preset (TTA may only use the views it showed)
    tta: str                # the TTA its run predicted with
    weights: str            # "ema" or "model": which weights the file holds
    kit_version: str


def read_card(path: str | Path, fallback: dict | None = None) -> ModelCard:
    """The card of checkpoint ``path``; one without a card (written before cards existed) is described by its
    run's ``config.yaml`` values ``fallback``, or refused naming what is missing."""
    checkpoint = load_checkpoint(path)
    spec = checkpoint.get("model_spec")
    if spec is None:
        raise BadInput(f"{path} is not a checkpoint of the kit's image trainer (no model_spec)")
    card = checkpoint.get("card")
    if card is not None:
        inputs = ModelInput(int(card["img_size"]), card["norm"] == "image", card["mean"], card["std"])
        return ModelCard(spec, inputs, card["channels_last"], card["augment"], card["tta"],
                         checkpoint.get("weights", "model"), card["kit_version"])
    if not fallback:
        raise MissingInput(f"{path} predates model cards and its run has no config.yaml to describe it: "
                                "retrain it, or put the run's config.yaml back")
    inputs = ModelInput.for_model(spec["model"], fallback["img_size"], fallback.get("norm", "fixed"))
    return ModelCard(spec, inputs, bool(fallback.get("channels_last", False)), fallback.get("augment") or "none",
                     fallback.get("tta", "none"), checkpoint.get("weights", "model"), "unknown")
