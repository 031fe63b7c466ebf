"""VAE anomaly score: a VAE trained per fold on that fold's good training images scores every image.

The score is the negative ELBO of the posterior mean (summed squared reconstruction error plus KL), so
defects, which the VAE never saw, score high (``--score local``: the peak of the error map relative to
the good images' mean error map, for small defects). OOF scores are honest: fold ``k``'s VAE never trains on
fold ``k``. Predictions follow the kit's run contract (``runs/nexperia/<name>/oof.csv``, ``test.csv``);
``fold<k>/heatmaps.png`` shows images, reconstructions and error maps of the fold's highest scores.

    python competitions/nexperia/vae.py --arch fc             # the seeds' 32 px fully connected VAE, as they had it
    python competitions/nexperia/vae.py --config competitions/nexperia/configs/vae-fc.yaml    # + device band, stretch
    python competitions/nexperia/vae.py --config competitions/nexperia/configs/vae-conv.yaml --fold 0
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from common.config import config_to_dict, parse_config
from common.io import atomic_path, atomic_write_csv
from common.metrics import roc_auc
from common.paths import default_data_dir
from common.run import Run
from common.seed import seed_everything
from competitions.nexperia.data import NexperiaData, get_folds, load_data, load_truth, true_labels
from competitions.nexperia.noisy import label_aucs
from competitions.nexperia.vae_models import build_vae, vae_loss, vae_terms

ARCH_DEFAULTS = {"fc": {"image_size": 32, "latent_dim": 30}, "conv": {"image_size": 64, "latent_dim": 64}}
log = logging.getLogger(__name__)


@dataclass
class VAEConfig:
    """Train a VAE per fold on good training images; score = negative ELBO (anomaly score)."""
    arch: str = field(default="fc", metadata={"help": "fc: seeds' MLP VAE; conv: convolutional VAE",
                                              "choices": ["fc", "conv"]})
    name: str | None = field(default=None, metadata={"help": "run name (default vae-<arch>)"})
    data_dir: str | None = field(default=None, metadata={"help": "Nexperia data (default data/nexperia)"})
    cache_dir: str | None = None
    runs_dir: str | None = None
    fold: int | None = field(default=None, metadata={"help": "train this fold only (default: every fold)"})
    n_splits: int = 5
    folds_seed: int = 42
    image_size: int | None = field(default=None, metadata={"help": "side in pixels (default fc 32, conv 64)"})
    crop: list[int] | None = field(default=None, metadata={"help": "y0 y1 x0 x1: keep this region before "
                                                             "resizing (e.g. the device band 86 204 10 242)"})
    stretch: bool = field(default=False, metadata={"help": "stretch each image's 1st-99th percentile grey "
                                                   "levels to 0-255, so lighting does not dominate the error"})
    latent_dim: int | None = field(default=None, metadata={"help": "latent size (default fc 30, conv 64)"})
    hidden: int = field(default=400, metadata={"help": "hidden width of the fc VAE"})
    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 42
    threads: int = field(default=1, metadata={"help": "torch CPU threads (1 is fastest on a shared machine)"})
    device: str = field(default="auto", metadata={"help": "cpu, cuda or auto"})
    score: str = field(default="elbo", metadata={"help": "elbo: negative ELBO; local: peak of the "
                                                 "normalised error map", "choices": ["elbo", "local"]})
    heatmaps: int = field(default=8, metadata={"help": "images in each fold's heatmaps.png (0: none)"})
    blend_with: str | None = field(default=None, metadata={"help": "a run folder (e.g. the CNN's) to blend "
                                                           "with the VAE: paired DeLong test of blend vs it"})
    resume: bool = field(default=True, metadata={"help": "skip finished folds, continue from last epoch"})
    progress: bool = True

    def __post_init__(self):
        for key, value in ARCH_DEFAULTS[self.arch].items():
            if getattr(self, key) is None:
                setattr(self, key, value)
        self.name = self.name or f"vae-{self.arch}"


def resize_images(images: np.ndarray, size: int, crop: list[int] | None = None) -> np.ndarray:
    """``(N, H, W)`` uint8 images, cropped to rows ``y0:y1`` and columns ``x0:x1`` when ``crop`` is
    ``[y0, y1, x0, x1]``, then area-resized to ``(N, size, size)`` uint8."""
    if crop is not None and len(crop) != 4:
        raise ValueError(f"crop must be four numbers y0 y1 x0 x1, got {crop}")
    window = (slice(crop[0], crop[1]), slice(crop[2], crop[3])) if crop else (slice(None), slice(None))
    out = np.empty((len(images), size, size), dtype=np.uint8)
    for i in range(len(images)):
        image = np.asarray(images[i])[window]
        if image.size == 0:
            raise ValueError(f"crop {crop} leaves nothing of a {images.shape[1]}x{images.shape[2]} image")
        out[i] = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
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
              checkpoint: Path, log_fn=log.info) -> torch.nn.Module:
    """Train on ``images[rows]``, saving ``checkpoint`` after each epoch and resuming from it."""
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
        order = rows[np.random.default_rng([cfg.seed, epoch]).permutation(len(rows))]
        total, began = 0.0, time.perf_counter()
        batches = range(0, len(order), cfg.batch_size)
        for lo in tqdm(batches, desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False, disable=not cfg.progress):
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
    return model


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


def run_fold(cfg: VAEConfig, run: Run, data: NexperiaData, train_small: np.ndarray, test_small: np.ndarray,
             folds: pd.DataFrame, fold: int, device: torch.device, truth: pd.DataFrame | None) -> dict:
    """Train fold ``fold``'s VAE on the other folds' good images, score its fold and the test set."""
    seed_everything(cfg.seed + fold)
    in_fold = folds["fold"].to_numpy() == fold
    train_rows = np.flatnonzero(~in_fold & (data.train_labels == 0))
    run.log.info(f"fold {fold}: training the {cfg.arch} VAE on {len(train_rows)} good images "
                 f"at {cfg.image_size} px")
    model = train_vae(cfg, train_small, train_rows, device, run.fold_dir(fold) / "vae.pt", run.log.info)
    valid_rows = np.flatnonzero(in_fold)
    reference = mean_error_map(model, train_small[train_rows], device)
    all_scores = anomaly_scores(*error_maps(model, train_small[valid_rows], device), reference)
    scores = all_scores[cfg.score]
    oof = pd.DataFrame({"id": data.train_ids[valid_rows], "target": data.train_labels[valid_rows], "pred": scores})
    test = pd.DataFrame({"id": data.test_ids,
                         "pred": anomaly_scores(*error_maps(model, test_small, device), reference)[cfg.score]})
    if cfg.heatmaps > 0:
        top = valid_rows[np.argsort(-scores)[:cfg.heatmaps]]
        titles = [f"{data.train_ids[r][:18]} y={data.train_labels[r]} {s:.1f}"
                  for r, s in zip(top, np.sort(scores)[::-1])]
        plot_heatmaps(model, train_small[top], titles, run.fold_dir(fold) / "heatmaps.png", device)
    run.save_fold_predictions(fold, oof, test)
    aucs = label_aucs(oof, truth)
    aucs["auc_by_score"] = {name: label_aucs(oof.assign(pred=values), truth) for name, values in all_scores.items()}
    run.log.info(f"fold {fold}: AUC given labels {aucs['auc_given']['auc']:.4f}"
                 + (f", true labels {aucs['auc_true']['auc']:.4f}" if "auc_true" in aucs else ""))
    return run.update_metrics({"folds": {str(fold): aucs}})


def blend_report(base_dir: Path, vae_dir: Path, truth: pd.DataFrame | None, method: str = "weighted") -> dict:
    """Blend another run's OOF (e.g. the CNN's) with the VAE's and test the blend against that run alone.

    The blend's OOF (written to ``<vae run>/blend/oof.csv``, e.g. for ``noisy.py``) is nested over the
    shared folds (weights fitted on the other folds), so it is honest; with a single fold the weights are
    fitted on the rows they score (``nested: false``, optimistic). The paired DeLong test compares the
    blend with the base run on the same rows, against given and true labels.
    """
    from common.ensemble import align, blend_oof, make_blender
    from common.metrics import delong_test
    from common.run import load_predictions

    aligned = align({"base": load_predictions(base_dir)[0], "vae": load_predictions(vae_dir)[0]})
    blender = make_blender(method)
    nested = len(np.unique(aligned.folds)) > 1
    blend = blend_oof(blender, aligned, nested=nested)
    atomic_write_csv(vae_dir / "blend" / "oof.csv", pd.DataFrame(
        {"id": aligned.ids, "fold": aligned.folds, "target": aligned.y, "pred": blend}))
    report = {"base_run": str(base_dir), "method": method, "nested": nested,
              "weights_all_folds": blender.weights_.tolist()}
    targets = {"given": aligned.y}
    if truth is not None:
        targets["true"] = true_labels(truth, aligned.ids)
    for kind, y in targets.items():
        auc_blend, auc_base, z, p = delong_test(y, blend, aligned.oof[:, 0])
        report[kind] = {"auc_blend": auc_blend, "auc_base": auc_base, "auc_vae": roc_auc(y, aligned.oof[:, 1]),
                        "delong_z": z, "delong_p": p}
    return report


def main(argv: list[str] | None = None) -> dict:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    cfg = parse_config(VAEConfig, argv)
    torch.set_num_threads(cfg.threads)
    device = torch.device("cuda" if cfg.device == "auto" and torch.cuda.is_available()
                          else "cpu" if cfg.device == "auto" else cfg.device)
    data_dir = Path(cfg.data_dir) if cfg.data_dir else default_data_dir("nexperia")
    data = load_data(data_dir, Path(cfg.cache_dir) if cfg.cache_dir else None)
    folds = get_folds(data, cfg.n_splits, cfg.folds_seed, Path(cfg.runs_dir) if cfg.runs_dir else None)
    truth = load_truth(data_dir)
    run = Run.open("nexperia", cfg.name, cfg.runs_dir)
    run.save_config({k: v for k, v in config_to_dict(cfg).items() if k not in ("threads", "blend_with")})
    todo = [cfg.fold] if cfg.fold is not None else list(range(cfg.n_splits))
    if cfg.resume:
        todo = [k for k in todo if k not in run.completed_folds()]
    train_small = prepare_images(cfg, data.train_images)
    test_small = prepare_images(cfg, data.test_images)
    for fold in todo:
        run_fold(cfg, run, data, train_small, test_small, folds, fold, device, truth)
    oof = pd.read_csv(run.root / "oof.csv", dtype={"id": str})
    metrics = run.update_metrics({"oof": label_aucs(oof, truth), "completed_folds": run.completed_folds()})
    run.log.info(f"{cfg.name}: OOF AUC (folds {metrics['completed_folds']}) given labels "
                 f"{metrics['oof']['auc_given']['auc']:.4f}"
                 + (f", true labels {metrics['oof']['auc_true']['auc']:.4f}" if truth is not None else ""))
    if cfg.blend_with:
        report = blend_report(Path(cfg.blend_with), run.root, truth)
        run.log.info(f"blend with {cfg.blend_with}: {report}")
        metrics = run.update_metrics({"blend": report})
    return metrics


if __name__ == "__main__":
    main()
