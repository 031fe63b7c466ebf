"""The timm image engine: train a binary CNN on each fold of any uint8 (N,H,W) image set, the timm way.

    run = Run.open("nexperia", cfg.name, cfg.runs_dir)
    train_folds(cfg, data, fold_of_row, run, d, truth=..., callbacks=[RocPlot(), GradCamGrid(8)])

``data`` is any :class:`ImageData`; ``fold_of_row[i]`` is the fold of training image i. Per fold
``<run>/fold<k>/``: ``last.pt`` (resume point), ``best.pt`` and the top-K epochs' ``checkpoint-<epoch>.pt``
(:mod:`common.vision.checkpoints`), ``summary.csv`` (one row per epoch), whatever the callbacks write;
the OOF/test predictions and ``metrics.json`` come from :func:`common.cv.run_folds`.
AdamW without weight decay on biases and norms (optional layer-wise LR decay), per-batch cosine schedule
with warm-up, optional EMA of the weights (``timm.utils.ModelEmaV3``) and top-K averaging, AMP/bf16 with
channels_last, BatchNorm statistics averaged over ranks (``timm.utils.distribute_bn``), early stopping.
``--grad-accum-steps K`` is timm's: the optimizer steps every K batches (the loss scaled by 1/K, the schedule
counted in optimizer steps, DDP's gradient all-reduce only on the batch that steps), so batch B x K trains as
batch B*K in the memory of B. ``--time-limit MINUTES`` stops at an epoch boundary when the next epoch (with a
fold's predictions after its last) would end past the limit: ``last.pt`` and the run's files are written, one
line says what is left and the command exits 0; the same command continues.
Every epoch is seeded from ``(seed, epoch)``: a killed run resumed from ``last.pt`` writes the same files.
Set ``KIT_STOP_AFTER_EPOCH=k`` to stop after epoch k as if killed.
"""
from __future__ import annotations

import re
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np
import pandas as pd
import torch
from timm.utils import ModelEmaV3, distribute_bn

from common.errors import BadInput, MissingInput
from common.config import RunConfig, config_to_dict, option
from common.cv import FoldResult, Truth, run_folds
from common.device import DeviceOptions
from common.io import atomic_write_csv
from common.metrics import roc_auc
from common.progress import progress_bar
from common.run import Run, stop_if_asked
from common.seeding import seed_everything
from common.vision.augment import AUGMENT_PRESETS
from common.vision.callbacks import Callback, FoldEnd
from common.vision.card import card_of
from common.vision.checkpoints import (CheckpointSaver, DamagedCheckpoint, average_checkpoints, fold_checkpoint,
                                      kept_checkpoints, load_checkpoint, save_checkpoint, set_aside)
from common.vision.data import ImageBatches, ModelInput, batch_loader, train_sampler
from common.vision.distributed import Dist, amp_dtype, barrier, gather
from common.vision.gpu_stats import GpuMonitor
from common.vision.losses import LOSSES, BinaryLoss
from common.vision.model import apply_freeze, create_model, freeze_batchnorm_stats, parse_model_kwargs, to_device
from common.vision.model_source import ModelSourceOptions
from common.vision.optim import cosine_with_warmup, create_optimizer
from common.vision.predict import predict_images
from common.vision.time_budget import TimeBudget, TimeLimitReached
from common.vision.tta import TTA_PRESETS



class ImageData(Protocol):
    """What the engine trains on: ids and {0,1} labels of the training images, uint8 (N,H,W) arrays."""
    train_ids: np.ndarray
    train_labels: np.ndarray
    train_images: np.ndarray
    test_ids: np.ndarray
    test_images: np.ndarray
    # optional: ``cache_dir`` (a folder for the images resized to the training size; else resized in memory),
    # ``train_weights`` (per-row sample weights)


@dataclass(frozen=True)
class SizedImages:
    """The train and test images at the training size (uint8 (N,S,S)), made once for every fold."""
    train: np.ndarray
    test: np.ndarray

    @classmethod
    def of(cls, data: ImageData, inputs: ModelInput, progress: bool = False) -> "SizedImages":
        return cls(sized_split(data, "train", inputs, progress), sized_split(data, "test", inputs, progress))


def sized_split(data: ImageData, split: str, inputs: ModelInput, progress: bool = False) -> np.ndarray:
    """``data``'s ``split`` images (``train`` or ``test``) at the input size: cached beside a memory-mapped image
    set (``<cache_dir>/<split>/``, shared by every run and command on it), resized in memory otherwise."""
    # only a memmap is a cached image set; arrays built in memory (pseudo-labels) are resized in memory
    cache = getattr(data, "cache_dir", None) if isinstance(data.train_images, np.memmap) else None
    return inputs.resized(getattr(data, f"{split}_images"), cache and Path(cache) / split, progress)


@dataclass
class ImageTrainConfig(ModelSourceOptions, DeviceOptions, RunConfig):
    """Train a timm CNN with one logit on 1-channel images, fold by fold."""
    freeze: str = option("none", help="none | head | lastN (train last N stages + head)")
    epochs: int = option(10, min=1, help="most training epochs")
    batch_size: int = option(64, min=1, help="images per training batch (per process under torchrun)")
    grad_accum_steps: int = option(1, min=1, help="optimizer step every K batches, the loss scaled by 1/K and "
                                                  "the schedule in optimizer steps (timm's): batch B x K trains "
                                                  "as batch B*K in the memory of B")
    time_limit: float | None = option(None, volatile=True, min=0, min_exclusive=True,
                                      help="minutes from the start of training: stop at an epoch boundary "
                                           "before them (checkpoint written, exit 0); the same command "
                                           "continues; none: no limit")
    lr: float = option(1e-3, min=0, min_exclusive=True, help="peak learning rate")
    weight_decay: float = option(1e-4, min=0, help="AdamW weight decay (never on biases and norm weights)")
    layer_decay: float | None = option(None, min=0, max=1, min_exclusive=True,
                                       help="layer-wise LR decay: each layer group towards the stem "
                                            "learns this factor slower (timm); none: off")
    warmup_epochs: float = option(1.0, min=0, help="linear LR warm-up, in epochs")
    min_lr_ratio: float = option(0.01, min=0, max=1, help="final LR of the cosine schedule, as a fraction of --lr")
    loss: str = option("bce", choices=LOSSES)
    label_smoothing: float = option(0.1, min=0, max=1, max_exclusive=True, help="label smoothing of --loss smooth")
    focal_gamma: float = option(2.0, min=0, help="gamma of --loss focal")
    gce_q: float = option(0.7, min=0, max=1, min_exclusive=True, help="q of --loss gce")
    balanced_sampler: bool = False
    augment: str = option("light", choices=list(AUGMENT_PRESETS), help="common.vision.augment preset")
    norm: str = option("fixed", choices=["fixed", "image"], help="fixed grey mean/std, or each image standardised")
    tta: str = option("hflip", choices=list(TTA_PRESETS), help="TTA of the OOF/test predictions: views the "
                      "training augmentation covers (common.vision.augment.TRAINED_VIEWS)")
    tta_compare: list[str] = option(default_factory=lambda: ["none", "hflip", "flips"], choices=list(TTA_PRESETS),
                                    help="TTA presets whose validation AUC is reported (metrics.json variants)")
    patience: int = option(5, min=1, help="early stopping: epochs without a better val AUC")
    ema: bool = option(False, help="keep an EMA of the weights (timm ModelEmaV3, decay warm-up); validate, "
                                   "checkpoint and predict with it")
    ema_decay: float = option(0.998, min=0, max=1, min_exclusive=True, max_exclusive=True,
                              help="EMA decay (reached after a warm-up of the decay, as timm's use_warmup)")
    checkpoint_hist: int = option(3, min=0,
                                  help="keep the weights of the K best epochs (fold<k>/checkpoint-<epoch>.pt)")
    avg_checkpoints: bool = option(False, help="predict with the mean of the kept epochs' weights "
                                               "(BatchNorm statistics averaged too) instead of best.pt")
    amp: bool = option(True, help="autocast: fp16/bf16 on CUDA, bf16 on CPU if supported")
    channels_last: bool = True
    compile: bool = option(False, help="torch.compile the model for training (CUDA: faster after a one-off "
                                       "compilation of tens of seconds)")
    workers: int = option(2, volatile=True, min=0, help="data loader worker processes (they only copy uint8 "
                                                        "batches: augmentation runs on the training device)")
    suspects: str | None = option(None, help="suspect-label CSV of a noisy-label audit (common.noisy)")
    suspect_action: str = option("drop", choices=["drop", "relabel", "downweight"])
    suspect_weight: float = option(0.2, min=0, help="sample weight of suspects with --suspect-action downweight")

    def __post_init__(self):
        super().__post_init__()
        if self.avg_checkpoints and self.checkpoint_hist < 1:
            raise BadInput("option --avg-checkpoints needs --checkpoint-hist >= 1")
        if not re.fullmatch(r"none|head|last\d+", self.freeze):
            raise BadInput(f"option --freeze: {self.freeze!r} is not none, head or lastN (e.g. last2)")
        self.check_model_source()
        if self.suspects and not Path(self.suspects).is_file():
            raise MissingInput(f"suspects file not found: {self.suspects} (option --suspects)")


class FoldTrainer:
    """One fold: its split, model (and EMA), optimiser and schedule, checkpoints, training and predictions."""

    def __init__(self, cfg: ImageTrainConfig, data: ImageData, fold_of_row: np.ndarray, fold: int, run: Run,
                 d: Dist, truth: Truth | None = None, callbacks: Sequence[Callback] = (),
                 images: SizedImages | None = None, budget: TimeBudget | None = None):
        self.cfg, self.data, self.fold, self.run, self.d = cfg, data, fold, run, d
        self.budget = budget or TimeBudget(None)
        self.val_seconds = 0.0  # of the last validation in this process: the fold's predictions scale with it
        self.callbacks = list(callbacks)
        self.dir = run.fold_dir(fold)
        self.inputs = ModelInput.for_model(cfg.model, cfg.img_size, cfg.norm)
        self.images = images or SizedImages.of(data, self.inputs)
        self.valid_rows = np.flatnonzero(fold_of_row == fold)
        self.train_rows, self.train_labels, weights = self._training_rows(np.flatnonzero(fold_of_row != fold))
        self.valid_ids = np.asarray(data.train_ids)[self.valid_rows]
        self.valid_truth = truth(self.valid_ids) if truth is not None else None
        self.sampler = train_sampler(self.train_labels.round().astype(int), cfg.balanced_sampler, cfg.seed,
                                     d.world, d.rank)
        # made once: its workers (when any) live across epochs; the sampler's set_epoch reorders each epoch. A last
        # batch of one image is left out: BatchNorm cannot train on it (torch raises), whatever the fold's size.
        self.train_loader = batch_loader(ImageBatches(self.images.train, self.train_rows, self.train_labels, weights),
                                         cfg.batch_size, cfg.workers, self.sampler, persistent=True,
                                         drop_last=len(self.sampler) % cfg.batch_size == 1)
        self.augment = self.inputs.augmenter(cfg.augment, train=True).to(d.device)  # draws on the device
        if d.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed input sizes: let cuDNN pick the fastest kernels once
        self.amp = amp_dtype(d.device, cfg.amp)
        self.spec = {"model": cfg.model, "model_kwargs": parse_model_kwargs(cfg.model_kwargs)}
        self.card = card_of(self.inputs, channels_last=cfg.channels_last, augment=cfg.augment, tta=cfg.tta)
        seed_everything(cfg.seed)
        model = create_model(cfg.model, cfg.pretrained, self.spec["model_kwargs"])
        apply_freeze(model, cfg.freeze)
        self.model = to_device(model, d.device, cfg.channels_last)
        self.ddp = (torch.nn.parallel.DistributedDataParallel(self.model, device_ids=[d.device.index]
                                                              if d.device.type == "cuda" else None)
                    if d.world > 1 else None)
        self.net = self.ddp or self.model
        if cfg.compile:
            self.net = torch.compile(self.net)
        self.ema = ModelEmaV3(self.model, decay=cfg.ema_decay, use_warmup=True) if cfg.ema else None
        self.optimizer = create_optimizer(self.model, cfg.lr, cfg.weight_decay, cfg.layer_decay)
        steps = -(-len(self.train_loader) // cfg.grad_accum_steps)  # optimizer steps per epoch
        self.scheduler = cosine_with_warmup(self.optimizer, steps * cfg.epochs,
                                            int(round(cfg.warmup_epochs * steps)), cfg.min_lr_ratio)
        self.scaler = torch.amp.GradScaler(d.device.type, enabled=self.amp == torch.float16)
        self.loss = BinaryLoss(cfg.loss, cfg.label_smoothing, cfg.focal_gamma, cfg.gce_q)
        self.state = {"epoch": 0, "best_epoch": 0, "bad_epochs": 0, "finished": False, "summary": [],
                      "checkpoints": []}
        self.saver = CheckpointSaver(self.dir, cfg.checkpoint_hist, write=d.main)

    def _training_rows(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The fold's training rows, labels and sample weights, after the noisy-label audit if one is given."""
        cfg, data = self.cfg, self.data
        labels = np.asarray(data.train_labels, np.float32)
        weights = np.ones(len(labels), np.float32)
        if cfg.suspects:
            from common.noisy import apply_audit
            # on the whole training set: suspects among this fold's validation rows are expected, not unknown
            labels, weights, keep = apply_audit(data.train_ids, labels, Path(cfg.suspects), cfg.suspect_action,
                                                cfg.suspect_weight)
            rows = rows[keep[rows]]
            self.run.log.info("fold %d: suspects %s (%s): %d training images kept", self.fold, cfg.suspects,
                              cfg.suspect_action, len(rows))
        row_weights = getattr(data, "train_weights", None)  # optional per-row sample weights of the data object
        if row_weights is not None:                         # (e.g. pseudo-labelled rows: common.vision.pseudo)
            weights = weights * np.asarray(row_weights, np.float32)
        return rows, np.asarray(labels[rows], np.float32), np.asarray(weights[rows], np.float32)

    @property
    def eval_model(self) -> torch.nn.Module:
        """The weights that are validated, checkpointed and predicted with: the EMA when kept."""
        return self.ema.module if self.ema is not None else self.model

    # -- checkpoints
    def weights_checkpoint(self, epoch: int, metric: float) -> dict:
        return {"model": self.eval_model.state_dict(), "model_spec": self.spec, "card": self.card, "epoch": epoch,
                "val_auc": metric, "weights": "ema" if self.ema is not None else "model"}

    def resume_checkpoint(self) -> dict:
        ckpt = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
                "state": {**self.state, "checkpoints": self.saver.history}, "model_spec": self.spec,
                "card": self.card, "weights": "ema" if self.ema is not None else "model",
                "config": config_to_dict(self.cfg)}
        if self.ema is not None:
            ckpt["ema"] = self.ema.module.state_dict()
        return ckpt

    def restore(self, path: Path) -> None:
        """Continue from a resume checkpoint (``last.pt``)."""
        ckpt = load_checkpoint(path, self.d.device)
        if ckpt.get("model_spec") != self.spec:
            raise BadInput(f"{path} was trained with {ckpt.get('model_spec')}, not {self.spec}: "
                           "use another --name or --no-resume")
        self.model.load_state_dict(ckpt["model"])
        if self.ema is not None:
            if "ema" not in ckpt:
                raise BadInput(f"{path} was trained without --ema: use --no-ema, another --name or --no-resume")
            self.ema.module.load_state_dict(ckpt["ema"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        self.scaler.load_state_dict(ckpt["scaler"])
        self.state = ckpt["state"]
        self.saver.history = [list(h) for h in self.state["checkpoints"]]

    def clear(self) -> None:
        """Remove a previous attempt's checkpoints (``--no-resume``)."""
        if self.d.main:
            for path in [*kept_checkpoints(self.dir), *(fold_checkpoint(self.dir, w) for w in ("best", "last"))]:
                path.unlink(missing_ok=True)
        barrier(self.d)

    # -- loops
    def train_epoch(self, epoch: int) -> float:
        cfg, d = self.cfg, self.d
        seed = (cfg.seed * 1000 + epoch) % 2**32  # numpy seeds must be below 2**32; same value for small seeds
        seed_everything(seed)  # also seeds the device-side augmentation
        self.sampler.set_epoch(epoch)
        self.net.train()
        if cfg.freeze != "none":
            freeze_batchnorm_stats(self.model)
        # summed on the device: reading the loss every step would make the CPU wait for the GPU each step
        total, count = torch.zeros((), dtype=torch.float32, device=d.device), 0
        show = cfg.progress and d.main
        bar = progress_bar(self.train_loader, enabled=show, desc=f"fold {self.fold} epoch {epoch}", leave=False)
        batches, accum = len(self.train_loader), cfg.grad_accum_steps
        self.optimizer.zero_grad(set_to_none=True)
        for step, (x, y, w) in enumerate(bar):
            x = self.augment(x.to(d.device, non_blocking=True))
            if cfg.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            y, w = y.to(d.device, non_blocking=True), w.to(d.device, non_blocking=True)
            update = step % accum == accum - 1 or step == batches - 1
            group = min(accum, batches - (step - step % accum))  # the epoch's last group may be shorter (timm)
            # the ranks' gradients are all-reduced only on the batch that steps; DDP needs the forward inside too
            with self.ddp.no_sync() if self.ddp is not None and not update else nullcontext():
                with torch.autocast(d.device.type, dtype=self.amp, enabled=self.amp is not None):
                    logits = self.net(x).view(-1)
                loss = self.loss(logits.float(), y, w)
                self.scaler.scale(loss / group).backward()
            if update:
                self.scaler.step(self.optimizer)
                self.scaler.update()
                self.optimizer.zero_grad(set_to_none=True)
                self.scheduler.step()
                if self.ema is not None:
                    self.ema.update(self.model, step=self.scheduler.last_epoch)
            total += loss.detach().float() * len(y)
            count += len(y)
            if show and step % 20 == 0:
                bar.set_postfix(loss=f"{total.item() / count:.4f}")
        if d.world > 1:  # each rank updated BatchNorm statistics on its own batches: average them
            distribute_bn(self.model, d.world, reduce=True)
            if self.ema is not None:
                distribute_bn(self.ema.module, d.world, reduce=True)
        sums = gather((total.item(), count), d)
        return sum(s for s, _ in sums) / max(1, sum(c for _, c in sums))

    def predict(self, images: np.ndarray, rows: np.ndarray | None, tta: str,
                model: torch.nn.Module | None = None) -> np.ndarray:
        """Probabilities of ``images[rows]`` (images at the training size, e.g. ``self.images.train``)."""
        cfg = self.cfg
        return predict_images(model or self.eval_model, images, rows, tta, inputs=self.inputs,
                              batch_size=cfg.batch_size * 2, workers=cfg.workers, amp_dtype=self.amp,
                              progress=cfg.progress, d=self.d)

    def model_inputs(self, rows: np.ndarray) -> torch.Tensor:
        """The model's un-augmented input for training-set ``rows``, on the training device (for callbacks)."""
        return torch.cat(list(self.inputs.batches(self.images.train, rows, self.d.device, self.cfg.batch_size * 2)))

    def validate(self) -> dict:
        preds = self.predict(self.images.train, self.valid_rows, "none")
        y = np.asarray(self.data.train_labels)[self.valid_rows]
        p = np.clip(preds.astype(np.float64), 1e-6, 1 - 1e-6)
        out = {"val_loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))), "val_auc": roc_auc(y, preds)}
        if self.valid_truth is not None:
            out["val_auc_true"] = roc_auc(self.valid_truth, preds)
        return out

    def prediction_seconds(self) -> float:
        """The fold's final predictions (every TTA view of the validation rows, the test images), estimated
        from the last validation, which is one view of the validation rows."""
        cfg = self.cfg
        views = sum(len(TTA_PRESETS[tta]) for tta in dict.fromkeys([cfg.tta, *cfg.tta_compare]))
        test = len(TTA_PRESETS[cfg.tta]) * len(self.data.test_ids) / max(1, len(self.valid_rows))
        return self.val_seconds * (views + test)

    def check_time(self, epoch: int) -> None:
        """Raise ``TimeLimitReached`` when epoch ``epoch`` (and the predictions after the last) would not end
        before ``--time-limit``; the main process decides for every rank."""
        if self.cfg.time_limit is None:
            return
        after = self.prediction_seconds() if epoch >= self.cfg.epochs else 0.0
        if not gather(self.budget.fits(after), self.d)[0]:
            raise TimeLimitReached(self.fold, epoch, self.budget.seconds_left(), self.budget.epoch_seconds)

    def fit(self) -> None:
        """Train until ``--epochs`` or early stopping, checkpointing every epoch."""
        cfg, st = self.cfg, self.state
        while not st["finished"]:
            epoch = st["epoch"] + 1
            self.check_time(epoch)
            start = time.perf_counter()
            train_loss = self.train_epoch(epoch)  # ends with a device sync (the loss is read)
            trained = time.perf_counter()
            scores = self.validate()
            validated = time.perf_counter()
            self.budget.record_epoch(validated - start)
            self.val_seconds = validated - trained
            improved = self.saver.update(epoch, scores["val_auc"], self.weights_checkpoint(epoch, scores["val_auc"]))
            st.update(epoch=epoch, bad_epochs=0 if improved else st["bad_epochs"] + 1)
            if improved:
                st["best_epoch"] = epoch
            row = {"epoch": epoch, "lr": max(g["lr"] for g in self.optimizer.param_groups), "train_loss": train_loss,
                   "val_loss": scores["val_loss"], "val_auc": scores["val_auc"]}
            if "val_auc_true" in scores:
                row["val_auc_true"] = scores["val_auc_true"]
            row.update(weights="ema" if self.ema is not None else "model", seconds=round(validated - start, 2),
                       train_img_s=round(len(self.sampler) * self.d.world / (trained - start), 1),
                       val_seconds=round(validated - trained, 2))
            st["finished"] = epoch >= cfg.epochs or st["bad_epochs"] >= cfg.patience
            if self.d.main:
                for callback in self.callbacks:
                    callback.on_validation_end(self, row)
                st["summary"].append(row)
                save_checkpoint(fold_checkpoint(self.dir, "last"), self.resume_checkpoint())
                atomic_write_csv(self.dir / "summary.csv", pd.DataFrame(st["summary"]))
                self.run.log.info("fold %d epoch %d/%d: train_loss %.4f val_loss %.4f val_auc %.5f%s (%.0fs)%s",
                                  self.fold, epoch, cfg.epochs, train_loss, row["val_loss"], row["val_auc"],
                                  f" val_auc_true {row['val_auc_true']:.5f}" if "val_auc_true" in row else "",
                                  row["seconds"], " *" if improved else "")
                for callback in self.callbacks:
                    callback.on_epoch_end(self, row)
            stop_if_asked(epoch, st["finished"])

    def final_weights(self) -> tuple[dict, str]:
        """best.pt's weights, or the mean of the kept epochs' weights (``--avg-checkpoints``)."""
        barrier(self.d)  # the main process has written the files
        if self.cfg.avg_checkpoints:
            epochs = [epoch for _, epoch in self.saver.history[:self.cfg.checkpoint_hist]]
            return average_checkpoints(self.saver.paths(), self.d.device), f"mean of epochs {epochs}"
        best = load_checkpoint(fold_checkpoint(self.dir, "best"), self.d.device)["model"]
        return best, f"epoch {self.state['best_epoch']}"

    def finish(self) -> FoldResult | None:
        """The final weights' OOF and test predictions (TTA) and their variants; callbacks' ``on_fold_end``."""
        cfg, data = self.cfg, self.data
        weights, which = self.final_weights()
        self.model.load_state_dict(weights)
        preds = {tta: self.predict(self.images.train, self.valid_rows, tta, self.model)
                 for tta in dict.fromkeys([cfg.tta, *cfg.tta_compare])}
        test = self.predict(self.images.test, None, cfg.tta, self.model) if len(data.test_ids) else None
        if not self.d.main:
            return None
        labels = np.asarray(data.train_labels)[self.valid_rows]
        end = FoldEnd(self.fold, self.dir, self.valid_ids, labels, self.valid_truth, preds, cfg.tta,
                      self.model.eval(), lambda positions: self.model_inputs(self.valid_rows[positions]))
        for callback in self.callbacks:
            callback.on_fold_end(self, end)
        info = {"best_epoch": self.state["best_epoch"], "epochs_run": self.state["epoch"], "tta": cfg.tta,
                "weights": ("ema " if self.ema is not None else "") + which}
        return FoldResult(oof=pd.DataFrame({"id": self.valid_ids, "target": labels, "pred": preds[cfg.tta]}),
                          test=None if test is None else pd.DataFrame({"id": data.test_ids, "pred": test}),
                          info=info, variants=preds)


def fit_fold(cfg: ImageTrainConfig, data: ImageData, fold_of_row: np.ndarray, fold: int, run: Run, d: Dist,
             truth: Truth | None = None, callbacks: Sequence[Callback] = (),
             images: SizedImages | None = None, budget: TimeBudget | None = None) -> FoldResult | None:
    """Train (or, with ``--resume``, continue from ``last.pt``) and predict one fold."""
    trainer = FoldTrainer(cfg, data, fold_of_row, fold, run, d, truth, callbacks, images, budget)
    last = fold_checkpoint(trainer.dir, "last")
    if cfg.resume and last.is_file() and resumed(trainer, last):
        if d.main:
            run.log.info("fold %d: resumed after epoch %d", fold, trainer.state["epoch"])
    else:
        trainer.clear()
    with GpuMonitor(d.device) as gpu:
        trainer.fit()
    if d.main:
        run.log.info("fold %d: %s", fold, throughput(trainer.state["summary"], gpu.summary()))
    return trainer.finish()


def resumed(trainer: FoldTrainer, last: Path) -> bool:
    """Continue from ``last.pt``; a damaged one (truncated, not a torch file) is set aside, said in the log, and the
    fold starts again from scratch (its epochs are seeded: it writes what an uninterrupted run writes)."""
    try:
        trainer.restore(last)
        return True
    except DamagedCheckpoint as damaged:
        if trainer.d.main:
            aside = set_aside(last)
            trainer.run.log.warning("fold %d: %s is damaged (%s); set aside as %s, the fold starts again from "
                                    "scratch", trainer.fold, last.name, damaged.reason, aside.name)
        barrier(trainer.d)
        return False


def throughput(summary: list[dict], gpu: str | None) -> str:
    """The fold's training speed over its epochs (all ranks' images), and the GPU's figures on CUDA."""
    images = sum(row["train_img_s"] * (row["seconds"] - row["val_seconds"]) for row in summary)
    seconds = sum(row["seconds"] - row["val_seconds"] for row in summary)
    return f"training {images / max(seconds, 1e-9):.1f} images/s over {len(summary)} epoch(s)" + (
        f"; {gpu}" if gpu else "")


def left_to_do(stop: TimeLimitReached, folds: Sequence[int], run: Run, epochs: int) -> str:
    """One line: where ``--time-limit`` stopped the run and what the next session continues."""
    later = [k for k in folds if k != stop.fold and k not in run.completed_folds()]
    left = [f"fold {stop.fold} from epoch {stop.epoch} of {epochs}"] + (
        [f"fold{'s' if len(later) > 1 else ''} {', '.join(map(str, later))}"] if later else [])
    return (f"time limit: stopped before fold {stop.fold} epoch {stop.epoch} ({stop.seconds_left / 60:.1f} min "
            f"left, an epoch takes about {stop.epoch_seconds / 60:.1f} min); left: {'; '.join(left)}; run the "
            "same command again to continue")


def train_folds(cfg: ImageTrainConfig, data: ImageData, fold_of_row: np.ndarray, folds: Sequence[int], run: Run,
                d: Dist, truth: Truth | None = None, callbacks: Sequence[Callback] = (),
                finish: Callable[[FoldResult], FoldResult] | None = None) -> dict:
    """Every fold of ``folds`` through :func:`common.cv.run_folds` (finished ones skipped with ``--resume``).

    ``finish`` (optional) adjusts each fold's result before it is written on the main process, e.g. to
    give skipped test images a fallback score."""
    fold_of_row = np.asarray(fold_of_row)
    if len(fold_of_row) != len(data.train_ids):
        raise ValueError(f"{len(fold_of_row)} fold numbers for {len(data.train_ids)} training images")

    sized: list[SizedImages] = []  # made when the first unfinished fold starts, then shared
    budget = TimeBudget(cfg.time_limit)

    def fit(k: int) -> FoldResult | None:
        if not sized:
            inputs = ModelInput.for_model(cfg.model, cfg.img_size, cfg.norm)
            if d.world > 1 and d.main:  # the main process builds the resized cache, the other ranks then read it
                SizedImages.of(data, inputs, cfg.progress)
            barrier(d)
            sized.append(SizedImages.of(data, inputs, cfg.progress and d.main and d.world == 1))
        result = fit_fold(cfg, data, fold_of_row, k, run, d, truth, callbacks, sized[0], budget)
        return finish(result) if finish is not None and result is not None else result

    try:
        return run_folds(run, folds, fit, n_splits=cfg.n_splits, resume=cfg.resume, truth=truth,
                         main_process=d.main)
    except TimeLimitReached as stop:
        if d.main:
            run.log.info(left_to_do(stop, folds, run, cfg.epochs))
        raise SystemExit(0) from None
