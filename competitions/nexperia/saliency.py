"""Where a train.py fold's model looks: saliency maps of its validation defects, scored against their boxes.

    python competitions/nexperia/saliency.py --run runs/nexperia/cnn --fold 0 [--methods gradcam vanilla smoothgrad]

Fold k's final model (``<run>/fold<k>/best.pt``) explains its validation images that have a box in the data's
``defect_area.csv`` (scaled from original pixels to the model's input size), with the maps of
:mod:`common.vision.saliency`: Grad-CAM, the vanilla gradient and SmoothGrad. Writes, replacing earlier ones:
- ``<run>/fold<k>/saliency_<method>.png``: the first ``--n`` images, each with its box, and the map over it;
- ``<run>/fold<k>/saliency_scores.csv``: ``id,method,energy_in_box,pointing_hit,box_share,pointing_chance``
  (the box's area share is energy_in_box's chance level, that of the box grown by ``--margin`` the pointing
  game's);
- ``saliency`` in the run's ``metrics.json``: per fold and method the means, chance levels and image count.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from common.errors import BadInput, MissingInput
from common.cli import run_cli
from common.config import option, parse_config
from common.device import resolve_device, set_threads
from common.io import atomic_write_csv
from common.paths import default_data_dir
from common.run import DONE_FILE, Run, RunFolder
from common.vision.card import read_card
from common.vision.checkpoints import BEST, fold_checkpoint
from common.vision.predict import load_model
from common.vision.saliency import (METHODS, SCORE_COLUMNS, save_saliency_grid, saliency_maps, scale_boxes,
                                    score_maps)
from common.vision.trainer import sized_split
from competitions.nexperia.anomaly import VAE_FILE
from competitions.nexperia.data import BOX_COLUMNS, NexperiaData, NexperiaDataOptions, load_data

CSV_COLUMNS = ["id", "method", *SCORE_COLUMNS]


@dataclass
class SaliencyConfig(NexperiaDataOptions):
    """Saliency maps (Grad-CAM, vanilla gradient, SmoothGrad) of a train.py fold's model on its boxed validation
    defects, scored by energy in the box and the pointing game."""
    run: str = option(required=True, help="train.py run folder, e.g. runs/nexperia/cnn")
    fold: int = option(0, min=0, help="the fold whose final model (fold<k>/best.pt) and validation images are used")
    methods: list[str] = option(default_factory=lambda: list(METHODS), help=f"maps to make, of {list(METHODS)}")
    n: int = option(8, min=1, help="images in each method's PNG grid")
    smoothgrad_samples: int = option(25, min=1, help="SmoothGrad: noisy copies averaged per image")
    noise: float = option(0.15, min=0, help="SmoothGrad: noise standard deviation as a share of each image's "
                                            "value range (Smilkov et al.: 0.1-0.2)")
    margin: float = option(0.0, min=0, help="pointing game: tolerance around the box, in input pixels")
    batch_size: int = option(32, min=1, help="images per batch")
    data: str | None = option(None, help="default: the run's data folder")
    cache_dir: str | None = option(None, help="default: the run's decoded-image cache")
    seed: int = option(0, min=0, max=2**31 - 1, help="seed of SmoothGrad's noise")
    device: str = option("auto", help="auto | cpu | cuda | cuda:1")
    threads: int = option(0, min=0, help="torch CPU threads (0: torch's default)")


def check_methods(methods: list[str]) -> None:
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise BadInput(f"option --methods: {unknown[0]!r} is not one of {list(METHODS)}")


def trained_fold(source: Path, fold: int) -> Path:
    """``<run>/fold<k>``, refused unless the run folder exists and that fold finished with a ``best.pt``."""
    if not source.is_dir():
        raise MissingInput(f"run folder not found: {source}")
    run = RunFolder(source)
    folder, finished = run.fold_path(fold), run.is_finished(fold)
    if finished and not fold_checkpoint(folder).is_file():
        is_vae = (folder / VAE_FILE).is_file()
        kind = f"a vae.py run (its model is fold<k>/{VAE_FILE})" if is_vae else "not a train.py run"
        raise BadInput(f"{source} is {kind}: saliency explains the CNN checkpoint (fold<k>/{BEST}) of a "
                         "train.py run; pass such a run to --run")
    if not finished or not fold_checkpoint(folder).is_file():
        trained = [f"fold{k}" for k in run.completed_folds()]
        raise MissingInput(f"fold {fold} of run {source} is not trained (no {folder / DONE_FILE} and "
                                f"{BEST}); trained: {trained or 'none'}")
    return folder


def main(argv: list[str] | None = None) -> Path:
    cfg = parse_config(SaliencyConfig, argv)
    check_methods(cfg.methods)
    source = Path(cfg.run)
    folder = trained_fold(source, cfg.fold)
    src = RunFolder(source).config()
    checkpoint = fold_checkpoint(folder)
    card = read_card(checkpoint, src)
    set_threads(cfg.threads)
    data_dir = Path(cfg.data or src.get("data") or default_data_dir("nexperia"))
    cache_dir = cfg.cache_dir or src.get("cache_dir")
    data = load_data(data_dir, Path(cache_dir) if cache_dir else None,
                     skip_bad=cfg.skip_bad or bool(src.get("skip_bad", False)))
    inputs = card.inputs  # as the trainer made them
    valid_ids = RunFolder(source).read_fold_oof(cfg.fold)["id"]
    boxed, rows, boxes = boxed_images(valid_ids, data, data_dir, inputs.img_size, folder)
    device = resolve_device(cfg.device)
    sized = sized_split(data, "train", inputs)
    images = torch.cat(list(inputs.batches(sized, rows, torch.device("cpu"), cfg.batch_size)))
    model = load_model(checkpoint, device, channels_last=card.channels_last)
    run = Run(source)
    with run.lock():
        run.log.info("saliency of fold %d (%s): %d boxed validation images of %d, methods %s", cfg.fold,
                     checkpoint, len(boxed), len(valid_ids), cfg.methods)
        tables, summary = [], {}
        for method in dict.fromkeys(cfg.methods):
            table, means, shown = explain(model, images, boxes, method, cfg)
            tables.append(table.assign(id=boxed, method=method)[CSV_COLUMNS])
            summary[method] = {**means, "margin": cfg.margin,
                               **({"samples": cfg.smoothgrad_samples, "noise": cfg.noise}
                                  if method == "smoothgrad" else {})}
            save_saliency_grid([images[i, 0].numpy() for i in range(len(shown))], shown, boxes[:len(shown)],
                               boxed[:len(shown)], folder / f"saliency_{method}.png", margin=cfg.margin)
            run.log.info("fold %d %s: energy in box %.3f (chance %.3f), pointing game %.3f (chance %.3f), %d images",
                         cfg.fold, method, means["energy_in_box"], means["chance_energy"],
                         means["pointing_accuracy"], means["chance_pointing"], means["n_images"])
        atomic_write_csv(folder / "saliency_scores.csv", pd.concat(tables, ignore_index=True))
        run.update_metrics({"saliency": {str(cfg.fold): summary}})
    return folder


def boxed_images(valid_ids: pd.Series, data: NexperiaData, data_dir: Path, img_size: int,
                 folder: Path) -> tuple[list[str], np.ndarray, list[np.ndarray]]:
    """The validation ids with a defect box (sorted), their rows in the training images and their boxes
    ``(K, 4)`` in the pixels of the model's ``img_size`` input; refused when there are none."""
    row_of = pd.Series(np.arange(len(data.train_ids)), index=pd.Index(data.train_ids).astype(str))
    unknown = [i for i in valid_ids if i not in row_of.index]
    if unknown:
        raise BadInput(f"the run was trained on other data: {len(unknown)} of the {len(valid_ids)} validation ids "
                         f"of {folder} are not training images of {data_dir} (e.g. {unknown[:3]}); pass --data with "
                         "the data the run was trained on")
    if not len(data.defect_boxes):
        raise MissingInput(f"data {data_dir} has no defect boxes (defect_area.csv missing or empty)")
    boxed = sorted(set(valid_ids) & set(data.defect_boxes["id"]))
    if not boxed:
        raise BadInput(f"none of the {len(valid_ids)} validation images of {folder} has a box in "
                         f"{data_dir / 'defect_area.csv'}")
    boxes_of = data.defect_boxes.groupby("id")[BOX_COLUMNS[1:]]
    boxes = [scale_boxes(boxes_of.get_group(i).to_numpy(), data.image_shape, (img_size, img_size)) for i in boxed]
    return boxed, row_of[boxed].to_numpy(), boxes


def explain(model: torch.nn.Module, images: torch.Tensor, boxes: list[np.ndarray], method: str,
            cfg: SaliencyConfig) -> tuple[pd.DataFrame, dict, np.ndarray]:
    """``method``'s scores of every model-ready image (a table and its means) and the maps of the first
    ``cfg.n``."""
    maps = []
    for start in range(0, len(images), cfg.batch_size):
        batch = images[start:start + cfg.batch_size]
        maps.append(saliency_maps(model, batch, method, samples=cfg.smoothgrad_samples, noise=cfg.noise,
                                  seed=cfg.seed + start))  # a batch's noise depends on its place only
    maps = np.concatenate(maps)
    table, means = score_maps(maps, boxes, cfg.margin)
    return table, means, maps[:cfg.n]


if __name__ == "__main__":
    run_cli(main)
