"""The VAE anomaly score behind ``vae.py`` and ``tune.py --family vae``: its options, the images it sees
(device-band crop, contrast stretch, resize), per-fold training on the fold's good images (resumable,
seeded per epoch), the scores (negative ELBO and the local error-map peak), heatmaps and the blend report.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np
import pandas as pd
import torch

from common.errors import BadInput
from common.config import RunConfig, option
from common.device import DeviceOptions
from common.cv import FoldResult, Truth
from common.ensemble import align, evaluate_blend
from common.io import atomic_path, atomic_write_csv
from common.metrics import roc_auc
from common.progress import progress_bar
from common.run import Run, RunFolder, stop_if_asked
from common.seeding import seed_everything
from competitions.nexperia.data import NexperiaData, NexperiaDataOptions, fill_skipped_test
from competitions.nexperia.vae_models import _halvings, build_vae, vae_loss, vae_terms

VAE_FILE = "vae.pt"  # a fold's trained VAE, in fold<k>/
DEVICE_BAND = [86, 204, 10, 242]  # y0 y1 x0 x1 of the 267x275 images where the defect boxes lie
# crop_check warns above this std ratio outside/inside the band: 0.56 on the synthetic Nexperia images (margins
# around the device), about 1 on full-frame textures
CROP_MARGIN_RATIO = 0.8
# fc: the seeds' VAE (150 epochs to converge); conv: the better and faster one (docs/analysis.md)
ARCH_DEFAULTS = {"fc": {"image_size": 32, "latent_dim": 30, "epochs": 150},
                 "conv": {"image_size": 64, "latent_dim": 64, "epochs": 5}}
log = logging.getLogger(__name__)


@dataclass
class VAEConfig(DeviceOptions, RunConfig, NexperiaDataOptions):
    """Train a VAE per fold on good training images; score = negative ELBO (anomaly score)."""
    arch: str = option("conv", choices=["fc", "conv"], help="conv: convolutional VAE; fc: seeds' MLP VAE")
    name: str | None = option(None, help="run name (default vae-<arch>)")
    threads: int = option(1, volatile=True, min=0, help="torch CPU threads (1 is fastest on a shared machine)")
    image_size: int | None = option(None, min=8, help="side in pixels (default fc 32, conv 64)")
    crop: list[int] | None = option(default_factory=lambda: list(DEVICE_BAND), min=0,
                                       help="y0 y1 x0 x1: keep this region before resizing (default the device "
                                            "band; none: the whole image)")
    stretch: bool = option(True, help="stretch each image's 1st-99th percentile grey levels to 0-255, so "
                                      "lighting does not dominate the error")
    latent_dim: int | None = option(None, min=1, help="latent size (default fc 30, conv 64)")
    hidden: int = option(400, min=1, help="hidden width of the fc VAE")
    epochs: int | None = option(None, min=1, help="training epochs per fold (default fc 150, conv 5)")
    batch_size: int = option(64, min=1, help="images per batch")
    lr: float = option(1e-3, min=0, min_exclusive=True, help="Adam learning rate")
    score: str = option("local", choices=["elbo", "local"], help="the run's prediction: elbo (negative ELBO) "
                        "or local (peak of the normalised error map); both are in metrics.json as variants")
    heatmaps: int = option(8, min=0, help="images in each fold's heatmaps.png (0: none)")
    blend_with: str | None = option(None, volatile=True, help="a run folder (e.g. the CNN's) to blend with "
                                                              "the VAE: paired DeLong test of blend vs it")
    params: str | None = option(None, help="YAML of options (a study's best_params.yaml, tune.py --family vae); "
                                           "they override the above")

    def __post_init__(self):
        super().__post_init__()
        for key, value in ARCH_DEFAULTS[self.arch].items():
            if getattr(self, key) is None:
                setattr(self, key, value)
        self.name = self.name or f"vae-{self.arch}"
        if self.crop is not None and (len(self.crop) != 4 or self.crop[0] >= self.crop[1]
                                      or self.crop[2] >= self.crop[3]):
            raise BadInput(f"option --crop: {self.crop} is not four numbers y0 y1 x0 x1 with y0 < y1, x0 < x1")
        if self.arch == "conv":
            try:  # the conv VAE's size rule fails here, before any data is read
                _halvings(self.image_size)
            except ValueError as err:
                raise BadInput(f"option --image-size: {err}") from None


def resize_images(images: np.ndarray, size: int, crop: list[int] | None = None) -> np.ndarray:
    """``(N, H, W)`` uint8 images, cropped to rows ``y0:y1`` and columns ``x0:x1`` when ``crop`` is
    ``[y0, y1, x0, x1]``, then area-resized to ``(N, size, size)`` uint8."""
    if crop is not None and len(crop) != 4:
        raise BadInput(f"crop must be four numbers y0 y1 x0 x1, got {crop}")
    window = (slice(crop[0], crop[1]), slice(crop[2], crop[3])) if crop else (slice(None), slice(None))
    out = np.empty((len(images), size, size), dtype=np.uint8)
    for i in range(len(images)):
        image = np.asarray(images[i])[window]
        if image.size == 0:
            raise BadInput(f"crop {crop} leaves nothing of a {images.shape[1]}x{images.shape[2]} image")
        out[i] = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return out


def crop_check(images: np.ndarray, crop: list[int] | None, sample: int = 64) -> dict:
    """What ``crop`` keeps of the images: the fraction of their pixels and the mean per-image grey-level std
    inside and outside the band, on the first ``sample`` images. ``warning`` is set when the pixels thrown away
    vary about as much as the kept ones (a full-frame texture rather than a device on plain margins)."""
    if crop is None:
        return {"crop": None}
    x = np.asarray(images[:sample], dtype=np.float32)
    band = np.zeros(x.shape[1:], dtype=bool)
    band[crop[0]:crop[1], crop[2]:crop[3]] = True
    kept = float(band.mean())
    inside = float(x[:, band].std(axis=1).mean())
    outside = float(x[:, ~band].std(axis=1).mean()) if kept < 1 else 0.0
    out = {"crop": list(crop), "kept_fraction": round(kept, 4), "std_inside": round(inside, 2),
           "std_outside": round(outside, 2)}
    if outside >= CROP_MARGIN_RATIO * inside:
        out["warning"] = (f"--crop {' '.join(map(str, crop))} keeps {kept:.0%} of each image, but the pixels it "
                          f"throws away vary as much as the kept ones (grey-level std {outside:.1f} outside vs "
                          f"{inside:.1f} inside): these images have content outside the band; try --crop none")
    return out


def stretch_contrast(images: np.ndarray, low: float = 1, high: float = 99) -> np.ndarray:
    """Map each image's ``low``-th..``high``-th percentile grey levels linearly onto 0..255 (uint8, clipped)."""
    x = images.astype(np.float32)
    lo = np.percentile(x, low, axis=(1, 2), keepdims=True)
    hi = np.percentile(x, high, axis=(1, 2), keepdims=True)
    return np.clip((x - lo) * (255.0 / np.maximum(hi - lo, 1.0)), 0, 255).round().astype(np.uint8)


def prepare_images(cfg: VAEConfig, images: np.ndarray) -> np.ndarray:
    """The VAE's input: cropped, resized and (with ``cfg.stretch``) contrast-stretched uint8 images."""
    small = resize_images(images, cfg.image_size, cfg.crop)
    return stretch_contrast(small) if cfg.stretch else small


def _batch(images: np.ndarray, rows: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(images[rows]).to(device).float().div_(255.0).unsqueeze(1)


def train_vae(cfg: VAEConfig, images: np.ndarray, rows: np.ndarray, device: torch.device,
              checkpoint: Path, log_fn=log.info, fold: int = 0,
              on_epoch: Callable[[int, torch.nn.Module], None] | None = None) -> torch.nn.Module:
    """Train on ``images[rows]``, saving ``checkpoint`` after each epoch and resuming from it.

    Every epoch is seeded from ``(seed, fold, epoch)`` (the batch order and torch's generator, which draws
    the reparameterisation noise), and the checkpoint holds the model and the optimizer: a run killed after
    any epoch and resumed writes the same files as an uninterrupted one. ``KIT_STOP_AFTER_EPOCH=k`` stops
    after epoch k (checkpoint written) as if killed."""
    model = build_vae(cfg.arch, cfg.image_size, cfg.latent_dim, cfg.hidden).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    start = 0
    if cfg.resume and checkpoint.is_file():
        state = torch.load(checkpoint, map_location=device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start = state["epoch"] + 1
        log_fn(f"resuming {checkpoint} after epoch {start}")
    for epoch in range(start, cfg.epochs):
        model.train()
        seed_everything(_epoch_seed(cfg.seed, fold, epoch))
        order = rows[np.random.default_rng([cfg.seed, epoch]).permutation(len(rows))]
        total, began = 0.0, time.perf_counter()
        batches = range(0, len(order), cfg.batch_size)
        for lo in progress_bar(batches, enabled=cfg.progress, desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False):
            x = _batch(images, order[lo:lo + cfg.batch_size], device)
            loss = vae_loss(x, *model(x))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(x)
        log_fn(f"epoch {epoch + 1}/{cfg.epochs}: loss {total / len(order):.2f} "
               f"({time.perf_counter() - began:.1f} s)")
        with atomic_path(checkpoint) as tmp:
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}, tmp)
        if on_epoch is not None:
            on_epoch(epoch + 1, model)
        stop_if_asked(epoch + 1, epoch + 1 >= cfg.epochs)
    return model


def _epoch_seed(seed: int, fold: int, epoch: int) -> int:
    """The seed of one fold's epoch (independent of where a run was interrupted)."""
    return int(np.random.SeedSequence([seed, fold, epoch]).generate_state(1)[0])


@torch.no_grad()
def _error_batches(model: torch.nn.Module, images: np.ndarray, device: torch.device,
                   batch_size: int = 256) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Batches of (squared-error maps ``(B, S, S)``, KL ``(B,)``) of the posterior-mean reconstruction."""
    model.eval()
    for lo in range(0, len(images), batch_size):
        x = _batch(images, np.arange(lo, min(lo + batch_size, len(images))), device)
        recon, mu, logvar = model(x, sample=False)
        yield (recon - x).pow(2)[:, 0].cpu().numpy(), vae_terms(x, recon, mu, logvar)[1].cpu().numpy()


def error_maps(model: torch.nn.Module, images: np.ndarray, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """Squared-error maps ``(N, S, S)`` and KL ``(N,)`` of every image."""
    maps, kls = zip(*_error_batches(model, images, device)) if len(images) else ((), ())
    size = images.shape[1:]
    return (np.concatenate(maps) if maps else np.empty((0, *size), np.float32),
            np.concatenate(kls) if kls else np.empty(0, np.float32))


def mean_error_map(model: torch.nn.Module, images: np.ndarray, device: torch.device) -> np.ndarray:
    """Mean squared-error map over ``images`` (without holding every map in memory)."""
    total = np.zeros(images.shape[1:], np.float64)
    for maps, _ in _error_batches(model, images, device):
        total += maps.sum(axis=0)
    return (total / max(1, len(images))).astype(np.float32)


def anomaly_scores(maps: np.ndarray, kl: np.ndarray, reference: np.ndarray, window: int = 5) -> dict[str, np.ndarray]:
    """``elbo``: negative ELBO (summed squared error + KL). ``local``: the largest ``window``-pixel mean of
    the error map divided by ``reference``, the mean error map of good training images, so that a
    small defect stands out where good images reconstruct well."""
    elbo = maps.reshape(len(maps), -1).sum(axis=1) + kl
    ratio = maps / (reference[None] + reference.mean() * 0.1)
    pooled = torch.nn.functional.avg_pool2d(torch.from_numpy(ratio)[:, None], window, stride=1)
    return {"elbo": elbo, "local": pooled.flatten(1).max(dim=1).values.numpy()}


@torch.no_grad()
def plot_heatmaps(model: torch.nn.Module, images: np.ndarray, titles: list[str], path: Path,
                  device: torch.device) -> None:
    """One row per image: the input, its reconstruction and the squared-error map (one RGB montage)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model.eval()
    x = _batch(images, np.arange(len(images)), device)
    recon = model(x, sample=False)[0]
    x, recon = x[:, 0].cpu().numpy(), recon[:, 0].cpu().numpy()
    error = (recon - x) ** 2
    gray = lambda a: np.repeat(a[..., None], 3, axis=-1)  # noqa: E731
    heat = plt.get_cmap("inferno")(error / max(float(error.max()), 1e-12))[..., :3]
    montage = np.concatenate([np.concatenate([gray(x[i]), gray(recon[i]), heat[i]], axis=1)
                              for i in range(len(images))], axis=0)
    size = images.shape[1]
    fig, ax = plt.subplots(figsize=(6, 2 * len(images)))
    ax.imshow(montage, interpolation="nearest")
    for i, title in enumerate(titles):
        ax.text(0, i * size + 1, title, color="yellow", fontsize=7, va="top")
    ax.set_title("image | reconstruction | squared error", fontsize=8)
    ax.axis("off")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)


def score_rows(model: torch.nn.Module, train_small: np.ndarray, train_rows: np.ndarray, rows: np.ndarray,
               device: torch.device) -> dict[str, np.ndarray]:
    """Every anomaly score of ``train_small[rows]``, the good training images ``train_rows`` as reference."""
    reference = mean_error_map(model, train_small[train_rows], device)
    return anomaly_scores(*error_maps(model, train_small[rows], device), reference)


def fit_fold(cfg: VAEConfig, run: Run, data: NexperiaData, train_small: np.ndarray, test_small: np.ndarray,
             fold_of: np.ndarray, fold: int, device: torch.device,
             on_epoch_auc: Callable[[int, float], None] | None = None) -> FoldResult:
    """Train fold ``fold``'s VAE on the other folds' good images (continuing from ``fold<k>/vae.pt`` when
    resuming), score its fold and the test set; every score is a variant, ``cfg.score`` the prediction.
    ``on_epoch_auc(epoch, auc)``: after each epoch, the fold's validation AUC of ``cfg.score`` (tuning)."""
    seed_everything(cfg.seed + fold)
    in_fold = fold_of == fold
    train_rows = np.flatnonzero(~in_fold & (data.train_labels == 0))
    valid_rows = np.flatnonzero(in_fold)
    run.log.info(f"fold {fold}: training the {cfg.arch} VAE on {len(train_rows)} good images "
                 f"at {cfg.image_size} px")
    def report(epoch: int, model: torch.nn.Module) -> None:
        scores = score_rows(model, train_small, train_rows, valid_rows, device)[cfg.score]
        on_epoch_auc(epoch, roc_auc(data.train_labels[valid_rows], scores))

    model = train_vae(cfg, train_small, train_rows, device, run.fold_dir(fold) / VAE_FILE, run.log.info, fold,
                      on_epoch=report if on_epoch_auc is not None else None)
    reference = mean_error_map(model, train_small[train_rows], device)
    variants = anomaly_scores(*error_maps(model, train_small[valid_rows], device), reference)
    scores = variants[cfg.score]
    oof = pd.DataFrame({"id": data.train_ids[valid_rows], "target": data.train_labels[valid_rows], "pred": scores})
    test = pd.DataFrame({"id": data.test_ids,
                         "pred": anomaly_scores(*error_maps(model, test_small, device), reference)[cfg.score]})
    if cfg.heatmaps > 0:
        top = valid_rows[np.argsort(-scores)[:cfg.heatmaps]]
        titles = [f"{data.train_ids[r][:18]} y={data.train_labels[r]} {s:.1f}"
                  for r, s in zip(top, np.sort(scores)[::-1])]
        plot_heatmaps(model, train_small[top], titles, run.fold_dir(fold) / "heatmaps.png", device)
    return fill_skipped_test(FoldResult(oof, test, {"score": cfg.score}, variants), data, run.log)


def blend_report(base_dir: Path, vae_dir: Path, truth: Truth | None = None, method: str = "weighted") -> dict:
    """Blend another run's OOF (e.g. the CNN's) with the VAE's on the VAE's rows (``common.ensemble``).

    The blend's OOF (written to ``<vae run>/blend/oof.csv``, e.g. for ``noisy.py``) is nested over the
    folds (weights fitted on the other folds) when the VAE has several; with one fold the weights are
    fitted on the rows they score (the CV kind says so). ``truth`` (ids -> true labels) adds the same
    comparison against the true labels.
    """
    base, vae = RunFolder(base_dir).read_oof(), RunFolder(vae_dir).read_oof()
    aligned = align({"base": base[base["id"].isin(vae["id"])], "vae": vae})
    result = evaluate_blend(aligned, method, truth(aligned.ids) if truth is not None else None)
    atomic_write_csv(vae_dir / "blend" / "oof.csv", pd.DataFrame(
        {"id": aligned.ids, "fold": aligned.folds, "target": aligned.y, "pred": result.oof}))
    return {"base_run": str(base_dir), **result.report}
