"""Adversarial validation on the Nexperia images: can a classifier tell training from test images?

    python competitions/nexperia/adversarial.py                                  # 32x32 pixels, logistic regression
    python competitions/nexperia/adversarial.py --features stats --classifier lgbm --name adv-stats
    python competitions/nexperia/adversarial.py --features run --checkpoint-run runs/nexperia/cnn --name adv-cnn
    python competitions/nexperia/adversarial.py --features run --model resnet18 --pretrained weights/r18.bin

Features: ``pixels`` (area-downsampled images, ``--pixel-size``), ``stats`` (brightness, contrast, grey-level
quantiles, a 4x4 grid of block means and the lighting gradient: named, so ``shifted_features.csv`` says which
moved) or ``run`` (penultimate-layer embeddings of a trained run's fold checkpoint, ``--checkpoint-run`` and
``--checkpoint-fold``, or of a timm ``--model`` with local ``--pretrained`` weights). Both CPU defaults need no
weights. Stratified K folds over train + test images (label: is test), duplicate images (the dHash groups of
``dedup.py``, exact and near, in train and test) in one fold; an AUC below 0.5 beyond its CI is reported as
leakage, not as a shift. Writes ``runs/nexperia/<name>/``:
``adversarial.json`` (AUC with DeLong 95% CI, n; on synthetic data made with ``--shift`` the recall of the
planted shifted test images among the most test-like ones), ``test_likeness.csv`` (training images: id,p_test),
``test_rows_likeness.csv``, ``weights.csv`` (id,weight = p/(1-p) clipped and normalised, the format of the
audit's down-weighting: the CNN trainer does not read it yet), ``test_like_train.png`` / ``test_like_test.png``
(the most test-like images) and, for ``stats``, ``shifted_features.csv/png``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pandas as pd

from common import adversarial as adv
from common.errors import BadInput, MissingInput
from common.cli import run_cli
from common.config import RunConfig, option, parse_config
from common.device import DeviceOptions, resolve_device, set_threads
from common.metrics import roc_auc
from common.paths import default_data_dir
from common.plots import plot_image_grid
from common.run import Run, RunFolder
from common.seeding import seed_everything
from common.vision.checkpoints import fold_checkpoint
from common.vision.model_source import ModelSourceOptions
from competitions.nexperia.data import NexperiaDataOptions, duplicates_of, load_configured, read_truth_file

COMPETITION = "nexperia"
FEATURE_KINDS = ("pixels", "stats", "run")
CLASSIFIERS = ("logreg", "lgbm")
QUANTILES = (1, 5, 25, 50, 75, 95, 99)


@dataclass
class AdversarialConfig(ModelSourceOptions, DeviceOptions, RunConfig, NexperiaDataOptions):
    """Adversarial validation (train vs test images) on pixels, image statistics or CNN embeddings."""
    name: str = option("adv", help="run name: runs/nexperia/<name>")
    features: str = option("pixels", choices=FEATURE_KINDS, help="what the classifier sees")
    classifier: str = option("logreg", choices=CLASSIFIERS, help="adversarial classifier")
    pixel_size: int = option(32, min=4, help="--features pixels: side of the downsampled image")
    checkpoint_run: str | None = option(None, help="--features run: train.py run folder (fold<k>/best.pt)")
    checkpoint_fold: int = option(0, min=0, help="--features run: fold whose checkpoint embeds the images "
                                                 "(without --checkpoint-run: --model/--pretrained at --img-size)")
    batch_size: int = option(64, min=1, help="images per embedding batch")
    c: float = option(0.1, min=0, min_exclusive=True, help="logistic regression inverse penalty")
    num_threads: int = option(1, min=0, volatile=True, help="LightGBM threads")
    top: int = option(16, min=1, help="images per grid and features in adversarial.json")
    weight_clip: float = option(10.0, min=1, help="weights.csv: p/(1-p) clipped to [1/clip, clip]")

    def __post_init__(self):
        super().__post_init__()
        if self.data and not Path(self.data).is_dir():
            raise MissingInput(f"option --data: no such folder: {self.data}")
        if self.features == "run":
            if self.checkpoint_run:
                ckpt = fold_checkpoint(RunFolder(self.checkpoint_run).fold_path(self.checkpoint_fold))
                if not Path(self.checkpoint_run).is_dir():
                    raise MissingInput(f"option --checkpoint-run: run folder not found: {self.checkpoint_run}")
                if not ckpt.is_file():
                    raise MissingInput(f"option --checkpoint-run: {ckpt} not found (train fold "
                                            f"{self.checkpoint_fold} of that run, or pick --checkpoint-fold)")
            else:
                self.check_model_source()
        elif self.checkpoint_run or self.pretrained or self.model or self.model_kwargs:
            raise BadInput("options --checkpoint-run/--model/--model-kwargs/--pretrained need --features run")


def pixel_features(images: np.ndarray, size: int, batch: int = 512) -> np.ndarray:
    """Area-downsampled images, flattened, in [0, 1]."""
    out = np.empty((len(images), size * size), np.float32)
    for start in range(0, len(images), batch):
        for i, img in enumerate(np.asarray(images[start:start + batch]), start):
            out[i] = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA).ravel() / 255.0
    return out


def stat_names() -> list[str]:
    return (["mean", "std", *[f"q{q:02d}" for q in QUANTILES], "gradient_x", "gradient_y"]
            + [f"block_{r}{c}" for r in range(4) for c in range(4)])


def stat_features(images: np.ndarray, batch: int = 512) -> pd.DataFrame:
    """Per image: mean, std, grey-level quantiles, the left-right and top-bottom lighting gradient and the
    means of a 4x4 grid of blocks."""
    rows = []
    for start in range(0, len(images), batch):
        chunk = np.asarray(images[start:start + batch], np.float32)
        flat = chunk.reshape(len(chunk), -1)
        n, h, w = chunk.shape
        bh, bw = h // 4, w // 4
        blocks = chunk[:, :4 * bh, :4 * bw].reshape(n, 4, bh, 4, bw).mean(axis=(2, 4)).reshape(n, 16)
        cols = chunk.mean(axis=1)  # (n, w)
        lines = chunk.mean(axis=2)  # (n, h)
        grad_x = cols[:, w // 2:].mean(axis=1) - cols[:, :w // 2].mean(axis=1)
        grad_y = lines[:, h // 2:].mean(axis=1) - lines[:, :h // 2].mean(axis=1)
        rows.append(np.column_stack([flat.mean(axis=1), flat.std(axis=1),
                                     np.percentile(flat, QUANTILES, axis=1).T, grad_x, grad_y, blocks]))
    return pd.DataFrame(np.concatenate(rows), columns=stat_names())


def embedding_features(cfg: AdversarialConfig, images_train: np.ndarray, images_test: np.ndarray):
    """Penultimate-layer features of a checkpoint or a timm model (``competitions.nexperia.features``)."""
    from common.vision.embed import embed
    from competitions.nexperia.backbones import cnn_inputs, cnn_model

    spec = SimpleNamespace(checkpoint_run=cfg.checkpoint_run, model=cfg.model, pretrained=cfg.pretrained,
                           model_kwargs=cfg.model_kwargs, img_size=cfg.img_size)
    model, inputs = cnn_model(spec, cfg.checkpoint_fold), cnn_inputs(spec)
    device = resolve_device(cfg.device)
    return (embed(model, images_train, inputs, device, cfg.batch_size, cfg.progress),
            embed(model, images_test, inputs, device, cfg.batch_size, cfg.progress))


def planted_truth(data_dir: Path, test_ids: np.ndarray, result: adv.AdversarialResult) -> dict | None:
    """On synthetic data made with ``--shift``: how well the test images' test-likeness finds the shifted ones."""
    truth = read_truth_file(data_dir)
    if truth is None:
        return None
    if "shifted" not in truth.columns:
        return {"shift": 0}
    flags = truth.set_index("id")["shifted"].reindex(pd.Index(test_ids).astype(str)).fillna(0).to_numpy(int)
    order = np.argsort(-result.p_test, kind="stable")
    k = int(flags.sum())
    out = {"n_shifted": k, "recall_at_n_shifted": float(flags[order[:k]].sum() / k) if k else None}
    if 0 < k < len(flags):
        out["shifted_vs_unshifted_test_auc"] = roc_auc(flags, result.p_test)
        out["recall_at_2n_shifted"] = float(flags[order[:2 * k]].sum() / k)
    return out


def _grid(images: np.ndarray, ids: np.ndarray, p: np.ndarray, top: int, path: Path) -> None:
    order = np.argsort(-p, kind="stable")[:top]
    plot_image_grid([np.asarray(images[i]) for i in order], [f"p_test {p[i]:.2f}\n{ids[i][:22]}" for i in order],
                    path, ncols=4)


def main(argv: list[str] | None = None) -> dict:
    cfg = parse_config(AdversarialConfig, argv)
    cfg.data = str(cfg.data or default_data_dir(COMPETITION))
    set_threads(cfg.threads)
    seed_everything(cfg.seed)
    run = Run.open(COMPETITION, cfg.name, cfg.runs_dir)
    data = load_configured(cfg)
    run.save_config(cfg)
    train_ids, test_ids = np.asarray(data.train_ids).astype(str), np.asarray(data.test_ids).astype(str)
    table = None
    if cfg.features == "pixels":
        x_train, x_test = pixel_features(data.train_images, cfg.pixel_size), pixel_features(data.test_images,
                                                                                             cfg.pixel_size)
    elif cfg.features == "stats":
        x_train, x_test = stat_features(data.train_images), stat_features(data.test_images)
    else:
        x_train, x_test = embedding_features(cfg, data.train_images, data.test_images)
    if cfg.classifier == "lgbm":
        x_train, x_test = (x if isinstance(x, pd.DataFrame) else pd.DataFrame(x).add_prefix("f")
                           for x in (x_train, x_test))
        fit_predict = adv.lgbm_fit_predict(num_threads=cfg.num_threads, seed=cfg.seed)
    else:
        fit_predict = adv.linear_fit_predict(cfg.c)
    run.log.info("adversarial validation: %d training vs %d test images, %s features (%d), %s", len(train_ids),
                 len(test_ids), cfg.features, x_train.shape[1], cfg.classifier)
    # duplicate images (exact and near, the kit's dHash groups) share a fold, as in training
    groups = duplicates_of(data).table["group"].to_numpy()
    result = adv.adversarial_cv(x_train, x_test, fit_predict, cfg.n_splits, cfg.seed, groups)
    if result.leak_warning:
        run.log.warning(result.leak_warning)
    if isinstance(x_train, pd.DataFrame) and cfg.features == "stats":
        table = adv.shifted_features(result, adv.univariate_auc(x_train, x_test, list(x_train.columns)))
    extra = {"feature_kind": cfg.features, "classifier": cfg.classifier, "n_features": int(x_train.shape[1]),
             "most_test_like_train": [{"id": train_ids[i], "p_test": float(result.p_train[i])}
                                      for i in np.argsort(-result.p_train, kind="stable")[:cfg.top]]}
    truth = planted_truth(Path(cfg.data), test_ids, result)
    if truth is not None:
        extra["truth"] = truth
    report = adv.write_outputs(run.root, result, train_ids, test_ids, features=table, weight_clip=cfg.weight_clip,
                               top=cfg.top, **extra)
    _grid(data.train_images, train_ids, result.p_train, cfg.top, run.root / "test_like_train.png")
    _grid(data.test_images, test_ids, result.p_test, cfg.top, run.root / "test_like_test.png")
    auc = result.auc
    if table is not None:
        title = f"Nexperia adversarial AUC {auc['auc']:.3f} ({auc['ci_low']:.3f}-{auc['ci_high']:.3f})"
        adv.plot_shifted_features(table, run.root / "shifted_features.png", cfg.top, title)
    print(f"adversarial AUC {auc['auc']:.4f} (95% CI {auc['ci_low']:.4f}-{auc['ci_high']:.4f}), n = {auc['n']}"
          + (f"; shifted test images found: {truth['recall_at_n_shifted']:.2f} of the top {truth['n_shifted']}"
             if truth and truth.get("n_shifted") else "") + f"; written to {run.root}")
    if result.leak_warning:
        print(f"warning: {result.leak_warning}")
    return report


if __name__ == "__main__":
    run_cli(main)
