"""Self-supervised pretraining of a timm backbone on unlabelled uint8 (N,H,W) images: an encoder for a supervised
run to start from (``--pretrained <run>/encoder.pth``), learnt from every image, test images included.

Two pretext tasks (``--method``):
- ``rotation`` (RotNet): each image turned by 0, 90, 180 or 270 degrees at random; a 4-class linear head on the
  backbone's pooled features predicts which;
- ``simclr``: two augmented views of each image; lightly's SimCLR projection head and NT-Xent loss pull the two
  views of an image together and push the batch's other images away.
Views are made on whole batches (kornia: random resized crop, horizontal flip, brightness, contrast, blur) in
[0, 1], then scaled as the supervised pipeline scales its inputs (``ModelInput.normalise``, ``--norm``), so the
encoder's features are those fine-tuning sees. No vertical flips: on oriented parts an upside-down image may
be the defect (``common.vision.augment.TRAINED_VIEWS``).

The run folder gets ``encoder.pth`` (the backbone's state dict in timm's naming without the classifier: what
``common.vision.model.create_model`` and ``check_weight_file`` load), ``encoder.json`` (what made it),
``summary.csv`` and ``loss.png`` (one row / point per epoch) and ``last.pt`` (the resume point: model, head,
optimiser, schedule, epoch). Every epoch is seeded from ``(seed, epoch)``, so a killed run continued from
``last.pt`` writes the same encoder; ``KIT_STOP_AFTER_EPOCH=k`` stops after epoch k as if killed.
:func:`linear_probe` measures an encoder: logistic regression on its features over given folds.
"""
from __future__ import annotations

import io
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import kornia.augmentation as K
import numpy as np
import pandas as pd
import torch
from lightly.loss import NTXentLoss
from lightly.models.modules import SimCLRProjectionHead
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn
from torch.utils.data import Dataset, DistributedSampler

from common.errors import BadInput
from common.config import RunConfig, config_to_dict, option, volatile_options
from common.cv import auc_block
from common.device import DeviceOptions, resolve_device
from common.io import atomic_path, atomic_write_bytes, atomic_write_csv, atomic_write_json
from common.progress import progress_bar
from common.run import Run, changed_options, stop_if_asked
from common.seeding import seed_everything
from common.vision.checkpoints import load_checkpoint, save_checkpoint
from common.vision.card import card_of
from common.vision.data import ModelInput, batch_loader
from common.vision.embed import pooled_features
from common.vision.distributed import amp_dtype
from common.vision.model import create_model, parse_model_kwargs, to_device
from common.vision.model_source import ModelSourceOptions
from common.vision.optim import cosine_with_warmup, create_optimizer

SSL_METHODS = ("rotation", "simclr")
ENCODER_FILE, ENCODER_INFO, LAST_FILE, SUMMARY_FILE, CURVE_FILE = (
    "encoder.pth", "encoder.json", "last.pt", "summary.csv", "loss.png")
MIN_IMG_SIZE = 32


@dataclass
class SSLConfig(ModelSourceOptions, DeviceOptions, RunConfig):
    """Self-supervised pretraining of a timm backbone on unlabelled images."""
    method: str | None = option(required=True, help=f"pretext task: {' or '.join(SSL_METHODS)} (predict the "
                                                    "0/90/180/270-degree turn, or contrast two augmented views)")
    name: str | None = option(None, help="run name: runs/<competition>/<name> (default ssl-<method>)")
    fold: str = option("all", volatile=True, help="folds of the linear probe: a number, a comma list, or all")
    img_size: int = option(64, min=MIN_IMG_SIZE, help="square input size (images are resized)")
    norm: str = option("image", choices=["fixed", "image"],
                       help="input scaling, as the supervised run will use it: fixed grey mean/std, or each "
                            "image standardised")
    epochs: int = option(10, min=1, help="training epochs")
    batch_size: int = option(128, min=2, help="images per batch (simclr: two views each, the batch's other "
                                              "images are an image's negatives)")
    lr: float = option(3e-3, min=0, min_exclusive=True, help="peak learning rate (AdamW)")
    weight_decay: float = option(1e-4, min=0, help="AdamW weight decay (never on biases and norm weights)")
    warmup_epochs: float = option(0.5, min=0, help="linear LR warm-up, in epochs")
    min_lr_ratio: float = option(0.01, min=0, max=1, help="final LR of the cosine schedule, as a fraction of --lr")
    crop_scale: float = option(0.8, min=0, max=1, min_exclusive=True,
                               help="smallest area share of the random resized crop of a view")
    temperature: float = option(0.5, min=0, min_exclusive=True, help="NT-Xent temperature (simclr)")
    proj_dim: int = option(128, min=1, help="output size of the SimCLR projection head (simclr)")
    amp: bool = option(True, help="autocast: fp16/bf16 on CUDA, bf16 on CPU if supported")
    channels_last: bool = True
    workers: int = option(0, volatile=True, min=0, help="data loader worker processes")

    def __post_init__(self):
        super().__post_init__()
        if self.method not in SSL_METHODS:  # here, not argparse's choices: one error line, not usage + error
            raise BadInput(f"option --method: {self.method!r} is not one of {list(SSL_METHODS)}")
        self.name = self.name or f"ssl-{self.method}"
        self.check_model_source()
        model_input(self)  # the model's input mean/std are known (timm's pretrained config)


def model_input(cfg: SSLConfig) -> ModelInput:
    """The input size and scaling of ``cfg``'s model: those the supervised run fine-tuning the encoder uses."""
    return ModelInput.for_model(cfg.model, cfg.img_size, cfg.norm)


# -- inputs ---------------------------------------------------------------------------------------
class StackedImages(Dataset):
    """Several uint8 ``(N_i, S, S)`` arrays (memmaps are fine) seen as one: ``dataset[positions]`` is the uint8
    batch ``(B, 1, S, S)`` of those positions (use it with :func:`common.vision.data.batch_loader`)."""

    def __init__(self, arrays: Sequence[np.ndarray]):
        self.arrays = list(arrays)
        self.starts = np.cumsum([0] + [len(a) for a in self.arrays])

    def __len__(self) -> int:
        return int(self.starts[-1])

    def __getitem__(self, positions: Sequence[int]) -> torch.Tensor:
        positions = np.asarray(positions, dtype=np.int64)
        which = np.searchsorted(self.starts, positions, side="right") - 1
        out = np.empty((len(positions), *self.arrays[0].shape[1:]), np.uint8)
        for i, images in enumerate(self.arrays):
            slots = np.flatnonzero(which == i)
            rows = positions[slots] - self.starts[i]
            order = np.argsort(rows, kind="stable")  # read the memmap in file order
            out[slots[order]] = images[rows[order]]
        return torch.from_numpy(out).unsqueeze(1)


def view_augmentation(img_size: int, crop_scale: float) -> K.AugmentationSequential:
    """One random view per image of a [0, 1] batch, drawn independently per image from torch's generator."""
    blur = max(3, img_size // 10 | 1)  # an odd kernel, about a tenth of the image
    return K.AugmentationSequential(
        K.RandomResizedCrop((img_size, img_size), scale=(crop_scale, 1.0)),
        K.RandomHorizontalFlip(),
        K.RandomBrightness((0.8, 1.2), p=0.8),
        K.RandomContrast((0.8, 1.2), p=0.8),
        K.RandomGaussianBlur((blur, blur), (0.1, 2.0), p=0.5),
    )


def rotate_batch(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each image of ``x`` ``(B,C,S,S)`` turned by ``label * 90`` degrees counter-clockwise, ``label`` drawn
    uniformly from 0..3; returns the turned batch and the labels."""
    labels = torch.randint(0, 4, (len(x),), device=x.device)
    turned = torch.empty_like(x)
    for k in range(4):
        rows = labels == k
        turned[rows] = torch.rot90(x[rows], k, dims=(-2, -1))
    return turned, labels


# -- the model ------------------------------------------------------------------------------------
def feature_dim(model: nn.Module, img_size: int) -> int:
    """The size of :func:`pooled_features` (a model's ``num_features`` is not always it)."""
    was_training = model.training
    with torch.no_grad():
        dim = pooled_features(model.eval(), torch.zeros(1, 1, img_size, img_size)).shape[-1]
    model.train(was_training)
    return int(dim)


def make_head(method: str, dim: int, proj_dim: int) -> nn.Module:
    """The pretext head: a 4-way linear layer (rotation) or lightly's SimCLR projection MLP."""
    return nn.Linear(dim, 4) if method == "rotation" else SimCLRProjectionHead(dim, dim, proj_dim)


def encoder_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The backbone's tensors in timm's naming, the classifier's left out (timm gives the fine-tuned model its
    own one-logit head)."""
    classifier = model.get_classifier()
    prefix = next(name for name, module in model.named_modules() if module is classifier)
    head = {f"{prefix}.{n}" for n in classifier.state_dict()}
    return {n: t.detach().cpu().clone() for n, t in model.state_dict().items() if n not in head}


# -- training -------------------------------------------------------------------------------------
class SSLTrainer:
    """One pretraining run: backbone and head, optimiser and schedule, epochs, resume point and encoder files."""

    def __init__(self, cfg: SSLConfig, arrays: Sequence[np.ndarray], run: Run):
        self.cfg, self.run = cfg, run
        self.device = resolve_device(cfg.device)
        self.inputs = model_input(cfg)
        self.dataset = StackedImages([self.inputs.resized(images) for images in arrays])
        self.steps = len(self.dataset) // cfg.batch_size  # the last, partial batch is dropped
        seed_everything(cfg.seed)
        model = create_model(cfg.model, cfg.pretrained, parse_model_kwargs(cfg.model_kwargs))  # e.g. from ImageNet
        self.dim = feature_dim(model, cfg.img_size)
        self.model = to_device(model, self.device, cfg.channels_last)
        self.head = make_head(cfg.method, self.dim, cfg.proj_dim).to(self.device)
        self.views = view_augmentation(cfg.img_size, cfg.crop_scale).to(self.device)  # draws on the device
        self.nt_xent = NTXentLoss(temperature=cfg.temperature)
        self.amp = amp_dtype(self.device, cfg.amp)
        self.optimizer = create_optimizer(nn.ModuleDict({"backbone": self.model, "head": self.head}), cfg.lr,
                                          cfg.weight_decay)
        self.scheduler = cosine_with_warmup(self.optimizer, self.steps * cfg.epochs,
                                            int(round(cfg.warmup_epochs * self.steps)), cfg.min_lr_ratio)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp == torch.float16)
        self.epoch, self.summary = 0, []

    # -- resume point
    def checkpoint(self) -> dict:
        return {"model": self.model.state_dict(), "head": self.head.state_dict(),
                "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict(), "epoch": self.epoch, "summary": self.summary,
                "config": config_to_dict(self.cfg)}

    def restore(self, ckpt: dict) -> None:
        self.model.load_state_dict(ckpt["model"])
        self.head.load_state_dict(ckpt["head"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        self.scaler.load_state_dict(ckpt["scaler"])
        self.epoch, self.summary = ckpt["epoch"], ckpt["summary"]

    # -- epochs
    def loss(self, batch: torch.Tensor) -> tuple[torch.Tensor, int]:
        """The pretext loss of a uint8 batch and, for rotation, how many turns the head got right."""
        cfg = self.cfg
        x = batch.float() / 255.0

        def embed(views: torch.Tensor) -> torch.Tensor:
            views = self.inputs.normalise(views)
            if cfg.channels_last:
                views = views.contiguous(memory_format=torch.channels_last)
            with torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None):
                return self.head(pooled_features(self.model, views)).float()

        if cfg.method == "rotation":
            turned, labels = rotate_batch(self.views(x))
            logits = embed(turned)
            return nn.functional.cross_entropy(logits, labels), int((logits.argmax(1) == labels).sum())
        return self.nt_xent(embed(self.views(x)), embed(self.views(x))), 0

    def train_epoch(self, epoch: int) -> dict:
        cfg = self.cfg
        seed = (cfg.seed * 1000 + epoch) % 2**32  # as common.vision.trainer: the epoch's draws from (seed, epoch)
        seed_everything(seed)
        sampler = DistributedSampler(range(len(self.dataset)), num_replicas=1, rank=0, shuffle=True, seed=seed)
        loader = batch_loader(self.dataset, cfg.batch_size, cfg.workers, sampler, drop_last=True)
        self.model.train()
        self.head.train()
        start, total, correct, count = time.time(), 0.0, 0, 0
        bar = progress_bar(loader, enabled=cfg.progress, desc=f"{cfg.method} epoch {epoch}", leave=False)
        for x in bar:
            loss, right = self.loss(x.to(self.device, non_blocking=True))
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            total += loss.item() * len(x)
            correct += right
            count += len(x)
            bar.set_postfix(loss=f"{total / count:.4f}")
        row = {"epoch": epoch, "lr": max(g["lr"] for g in self.optimizer.param_groups), "loss": total / count}
        if cfg.method == "rotation":
            row["pretext_accuracy"] = correct / count
        return {**row, "seconds": round(time.time() - start, 2)}

    def fit(self) -> None:
        """Train the epochs not done yet, saving the resume point, the summary and the curve after each."""
        while self.epoch < self.cfg.epochs:
            row = self.train_epoch(self.epoch + 1)
            self.epoch = row["epoch"]
            self.summary.append(row)
            save_checkpoint(self.run.root / LAST_FILE, self.checkpoint())
            atomic_write_csv(self.run.root / SUMMARY_FILE, pd.DataFrame(self.summary))
            plot_curve(self.summary, self.run.root / CURVE_FILE, self.cfg.method)
            self.run.log.info("%s epoch %d/%d: loss %.4f%s (%.0fs)", self.cfg.method, self.epoch, self.cfg.epochs,
                              row["loss"], f" pretext accuracy {row['pretext_accuracy']:.4f}"
                              if "pretext_accuracy" in row else "", row["seconds"])
            stop_if_asked(self.epoch, self.epoch >= self.cfg.epochs)

    def save_encoder(self) -> Path:
        """``encoder.pth`` and ``encoder.json`` of the trained backbone."""
        cfg = self.cfg
        path = self.run.root / ENCODER_FILE
        buffer = io.BytesIO()  # torch.save names its archive after the file: a temporary name would vary
        torch.save(encoder_state(self.model), buffer)
        atomic_write_bytes(path, buffer.getvalue())
        atomic_write_json(self.run.root / ENCODER_INFO, {
            "model": cfg.model, "model_kwargs": cfg.model_kwargs, "pretrained": cfg.pretrained,
            "img_size": cfg.img_size, "norm": cfg.norm,
            "method": cfg.method, "epochs": self.epoch, "feature_dim": self.dim, "images": len(self.dataset),
            "seed": cfg.seed,
            # what a model built on these weights needs (common.vision.card): the input the encoder learned on
            "card": card_of(model_input(cfg), channels_last=cfg.channels_last, augment="none", tta="none")})
        return path


def check_resumable(cfg: SSLConfig, ckpt: dict, path: Path) -> None:
    """Refuse to continue a resume point made with other options (only the volatile ones may change)."""
    changed = changed_options(ckpt["config"], config_to_dict(cfg), volatile_options(cfg))
    if changed:
        raise BadInput(f"{path} was trained with other options (differs in {changed}): "
                         "use another --name or --no-resume")


def pretrain(cfg: SSLConfig, arrays: Sequence[np.ndarray], run: Run) -> nn.Module:
    """Pretrain on every image of ``arrays`` (or continue ``run``'s ``last.pt``; ``--no-resume`` starts over),
    write the encoder files into ``run`` and return the backbone (its classifier untrained)."""
    images = sum(len(a) for a in arrays)
    if images < cfg.batch_size:
        raise BadInput(f"option --batch-size {cfg.batch_size} exceeds the {images} images")
    with run.lock():
        last = run.root / LAST_FILE
        ckpt = load_checkpoint(last, "cpu") if cfg.resume and last.is_file() else None
        if ckpt is not None:
            check_resumable(cfg, ckpt, last)
        else:  # a fresh start leaves nothing of an earlier one behind
            for name in (LAST_FILE, ENCODER_FILE, ENCODER_INFO, SUMMARY_FILE, CURVE_FILE):
                (run.root / name).unlink(missing_ok=True)
        run.save_config(cfg)
        trainer = SSLTrainer(cfg, arrays, run)
        if ckpt is not None:
            trainer.restore(ckpt)
            run.log.info("resumed after epoch %d of %d", trainer.epoch, cfg.epochs)
        run.log.info("%s pretraining of %s on %d images at %d px, %d batches of %d per epoch, device %s, amp %s",
                     cfg.method, cfg.model, len(trainer.dataset), cfg.img_size, trainer.steps, cfg.batch_size,
                     trainer.device, trainer.amp)
        trainer.fit()
        trainer.save_encoder()
        return trainer.model.eval()


def plot_curve(summary: list[dict], path: Path, method: str) -> None:
    """The loss per epoch and, for rotation, the pretext accuracy on a second axis."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = pd.DataFrame(summary)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(table["epoch"], table["loss"], "o-", color="tab:blue", label="loss")
    ax.set(xlabel="epoch", ylabel=f"{method} loss", title=f"{method} pretraining")
    if "pretext_accuracy" in table:
        twin = ax.twinx()
        twin.plot(table["epoch"], table["pretext_accuracy"], "s--", color="tab:red")
        twin.set_ylabel("pretext accuracy (red)")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)


# -- measuring an encoder -------------------------------------------------------------------------
def linear_probe(features: np.ndarray, labels: np.ndarray, fold_of: np.ndarray, folds: Sequence[int],
                 true_labels: np.ndarray | None = None) -> dict:
    """Logistic regression on standardised ``features``, fold k fitted on the other folds' rows: the AUC of
    the out-of-fold scores over ``folds`` (vs the given and, when known, the true labels), overall and per fold."""
    labels, fold_of = np.asarray(labels).astype(int), np.asarray(fold_of)
    scores = np.full(len(labels), np.nan)
    per_fold = {}
    for k in folds:
        fit, valid = fold_of != k, fold_of == k
        probe = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000))
        scores[valid] = probe.fit(features[fit], labels[fit]).predict_proba(features[valid])[:, 1]
        true = None if true_labels is None else true_labels[valid]
        per_fold[str(k)] = {kind: block["auc"] for kind, block in auc_block(labels[valid], scores[valid], true).items()}
    rows = np.isin(fold_of, list(folds))
    overall = auc_block(labels[rows], scores[rows], None if true_labels is None else true_labels[rows])
    return {**overall, "folds": per_fold, "classifier": "standardised features, logistic regression C=0.1",
            "n_features": int(features.shape[1])}
