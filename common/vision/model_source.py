"""The options that say which timm model an image command builds, and their one validation.

``ModelSourceOptions`` is a dataclass mixin (``--model``, ``--model-kwargs``, ``--pretrained``, ``--img-size``)
for every image CLI that builds a model from a name: training, self-supervised pretraining, deep features,
adversarial validation. :meth:`ModelSourceOptions.check_model_source` refuses, before any data is read, a
``--model-kwargs`` that is no YAML mapping, an unknown timm model and weights that do not fit it, and fills
``--model`` from known ``--pretrained`` weights (else resnet18).
"""
from __future__ import annotations

from dataclasses import dataclass

import yaml

from common.errors import BadInput
from common.config import option
from common.vision.model import parse_model_kwargs
from common.vision.weights import check_pretrained_option, default_model


@dataclass
class ModelSourceOptions:
    model: str | None = option(None, help="any timm model name (default: the model of a --pretrained weight "
                                          "package, else resnet18)")
    model_kwargs: str | None = option(None, help="YAML mapping of extra timm kwargs, "
                                                 "e.g. '{channels: [16,32,64,128], stem_width: 16}'")
    pretrained: str | None = option(None, help="ImageNet weights installed with the kit (efficientnet_lite0, "
                                               "efficientnet_lite1, efficientnet_lite2: they choose --model and "
                                               "the input mean/std), or a local weight file for --model")
    img_size: int = option(128, min=8, help="square input size (images are resized)")

    def check_model_source(self) -> None:
        import timm

        try:  # a malformed mapping fails before any data is read
            parse_model_kwargs(self.model_kwargs)
        except yaml.YAMLError as err:
            problem = " ".join(str(err).split())  # YAML's message spans lines: keep the error to one
            raise BadInput(f"option --model-kwargs: {self.model_kwargs!r} is not a YAML mapping "
                             f"({problem})") from None
        self.model = self.model or default_model(self.pretrained)
        if not timm.is_model(self.model):
            raise BadInput(f"option --model: unknown timm model {self.model!r}; list them with "
                             "timm.list_models('*resnet*')")
        check_pretrained_option(self.pretrained, self.model)
