"""The options of a Nexperia CNN run (a timm CNN from ``common.vision`` plus Nexperia's own) and the checks they
need before any data is read, shared by ``train.py``, ``tune.py`` and ``kernels.build``; :mod:`cnn` trains them."""
from __future__ import annotations

from dataclasses import dataclass

from common.config import option, parse_folds
from common.errors import BadInput
from common.multi_seed import seeds_option
from common.pseudo import resolve_source
from common.vision.pseudo import DEFAULT_THRESHOLD as PSEUDO_THRESHOLD
from common.vision.trainer import ImageTrainConfig
from common.vision.tta import TTA_PRESETS
from competitions.nexperia.data import NexperiaDataOptions

# The measured best recipe for `train.py --fold 0` without --config (configs/demo.yaml, docs/results.md):
# fine-tune the ImageNet EfficientNet-Lite0 installed with the kit, 3 epochs at 128 px.
DEFAULT_WEIGHTS = "efficientnet_lite0"


def default_weights(model: str | None, pretrained: str | None) -> str | None:
    """The ``--pretrained`` a training run uses: the given one; with neither it nor ``--model``, DEFAULT_WEIGHTS
    (kernels.build asks the same to attach the weights a kernel will need)."""
    return DEFAULT_WEIGHTS if model is None and pretrained is None else pretrained


@dataclass
class TrainConfig(ImageTrainConfig, NexperiaDataOptions):
    """Train a timm CNN on Nexperia folds."""
    pretrained: str | None = option(None, help="ImageNet weights installed with the kit (efficientnet_lite0, "
                                               "efficientnet_lite1, efficientnet_lite2: they choose --model and "
                                               "the input mean/std), or a local weight file for --model (default: "
                                               f"{DEFAULT_WEIGHTS} unless --model is given, which then trains from "
                                               "scratch)")
    # CPU default off, measured: bf16 autocast trained the demo recipe slower (42 vs 53.5 images/s, same fold)
    amp: bool | None = option(None, help="autocast: fp16/bf16 on CUDA, bf16 on CPU if supported (default: on "
                                         "CUDA, off on the CPU, where it trains slower)")
    epochs: int = option(3, min=1, help="most training epochs")
    batch_size: int = option(32, min=1, help="images per training batch")
    warmup_epochs: float = option(0.5, min=0, help="linear LR warm-up, in epochs")
    tta_compare: list[str] = option(default_factory=lambda: ["none", "hflip"], choices=list(TTA_PRESETS),
                                    help="TTA presets whose validation AUC is reported (metrics.json variants)")
    name: str = option("cnn", help="run name: runs/nexperia/<name>")
    fold: str = option("0", volatile=True, help="fold to run: a number, a comma list, or all")
    gradcam: int = option(8, volatile=True, min=0, help="validation images in the Grad-CAM grid (0: none)")
    nc_images: int = option(256, volatile=True, min=0,
                            help="training images whose neural collapse (NC1, NC3, NC4) is measured after each "
                                 "epoch: summary.csv columns and neural_collapse.png (0: none)")
    params: str | None = option(None, help="YAML of options (a study's best_params.yaml, tune.py --family cnn); "
                                           "they override the above")
    seeds: int | None = seeds_option()
    pseudo_from: str | None = option(None, help="pseudo-labels: a finished run whose fold k's confident test "
                                                "predictions (<run>/fold<k>/test.csv) train this run's fold k")
    pseudo_threshold: float | None = option(None, min=0.5, max=1, min_exclusive=True,
                                            help="with --pseudo-from: test images with p >= T become defects, "
                                                 f"p <= 1-T good (default {PSEUDO_THRESHOLD})")
    adversarial_weights: str | None = option(None, help="weight training images by test-likeness: an adversarial "
                                                        "run (adversarial.py) or an id,weight CSV")
    pseudo_weight: float | None = option(None, min=0, min_exclusive=True,
                                         help="with --pseudo-from: sample weight of the pseudo-labelled images "
                                              "(default 1)")

    def __post_init__(self):
        self.pretrained = default_weights(self.model, self.pretrained)
        super().__post_init__()
        if self.nc_images == 1:
            raise BadInput("option --nc-images: one image cannot hold both classes; use 0 (off) or at least 2")


def check_pseudo_options(cfg: TrainConfig) -> None:
    """``--pseudo-*`` options: the threshold and weight need ``--pseudo-from``, whose run must have finished
    every fold this command trains (fold k's pseudo-labels come from that fold's own model)."""
    source = resolve_source(cfg.pseudo_from, "nexperia", cfg.runs_dir, parse_folds(cfg.fold, cfg.n_splits),
                            cfg.n_splits, {"--pseudo-threshold": cfg.pseudo_threshold,
                                           "--pseudo-weight": cfg.pseudo_weight})
    if source is not None:
        cfg.pseudo_from = str(source)
