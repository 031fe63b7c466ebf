"""Train a timm CNN on one fold (or all folds) of the Nexperia data and write the run's prediction files.

    python competitions/nexperia/train.py --config competitions/nexperia/configs/demo.yaml --fold 0
    torchrun --nproc_per_node 2 competitions/nexperia/train.py --fold all ...     # several GPUs (or CPU gloo)

Per fold ``runs/nexperia/<name>/fold<k>/``: ``last.pt`` (resume point, every epoch), ``best.pt`` (best
validation AUC), ``summary.csv`` (one row per epoch), ``gradcam.png``, ``roc.png``; then ``oof.csv`` and
``test.csv`` (best checkpoint, with TTA) through :class:`common.run.Run`, and AUCs in ``metrics.json``.
Set ``KIT_STOP_AFTER_EPOCH=k`` to stop after epoch k as if killed (to try ``--resume``).
"""
from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from common.config import config_to_dict, parse_config
from common.paths import default_data_dir
from common.io import atomic_path, atomic_write_csv
from common.metrics import auc_summary, roc_auc
from common.run import Run
from common.seed import seed_everything
from common.tta import TTA_PRESETS, predict_loader, warn_untrained_views
from competitions.nexperia.data import NexperiaData, get_folds, load_data, load_truth, true_labels
from common.vision.data import ImageDataset, make_loader, make_transform, train_sampler
from common.vision.losses import LOSSES, BinaryLoss
from common.vision.model import (apply_freeze, create_model, freeze_batchnorm_stats, load_weights,
                                         parse_model_kwargs, to_device)

STOP_ENV = "KIT_STOP_AFTER_EPOCH"


@dataclass
class TrainConfig:
    """Train a timm CNN on Nexperia folds."""
    data: str | None = field(default=None, metadata={
        "help": "data folder (2020 or older contest layout); default data/nexperia, in a Kaggle kernel the "
                "attached competition"})
    name: str = field(default="cnn", metadata={"help": "run name: runs/nexperia/<name>"})
    fold: str = field(default="0", metadata={"help": "fold number or 'all'"})
    n_splits: int = 5
    model: str = field(default="resnet18", metadata={"help": "any timm model name"})
    model_kwargs: str | None = field(default=None, metadata={"help": "YAML mapping of extra timm kwargs, "
                                                             "e.g. '{channels: [16,32,64,128], stem_width: 16}'"})
    pretrained: str | None = field(default=None, metadata={"help": "local weight file for the model"})
    freeze: str = field(default="none", metadata={"help": "none | head | lastN (train last N stages + head)"})
    img_size: int = 128
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_epochs: float = 1.0
    min_lr_ratio: float = 0.01
    loss: str = field(default="bce", metadata={"choices": list(LOSSES)})
    label_smoothing: float = 0.1
    focal_gamma: float = 2.0
    gce_q: float = 0.7
    balanced_sampler: bool = False
    augment: str = field(default="light", metadata={"help": "common.augment preset"})
    norm: str = field(default="fixed", metadata={"choices": ["fixed", "image"],
                                                 "help": "fixed grey mean/std, or each image standardised"})
    tta: str = field(default="hflip", metadata={"choices": list(TTA_PRESETS), "help": "views the training "
                                                "augmentation covers (common.augment.TRAINED_VIEWS); with "
                                                "--resume, finished folds are predicted again"})
    tta_compare: list[str] = field(default_factory=lambda: ["none", "hflip", "flips"],
                                   metadata={"help": "TTA presets whose validation AUC is reported"})
    patience: int = field(default=5, metadata={"help": "early stopping: epochs without a better val AUC"})
    seed: int = 42
    amp: bool = field(default=True, metadata={"help": "autocast: fp16/bf16 on CUDA, bf16 on CPU if supported"})
    channels_last: bool = True
    workers: int = 2
    threads: int = field(default=0, metadata={"help": "torch CPU threads (0: torch's default); 1 is fastest "
                                                     "on a crowded machine"})
    device: str = field(default="auto", metadata={"help": "auto | cpu | cuda | cuda:1"})
    resume: bool = field(default=False, metadata={"help": "continue from the folds' last.pt"})
    progress: bool = True
    gradcam: int = field(default=8, metadata={"help": "validation images in the Grad-CAM grid (0: none)"})
    skip_bad: bool = field(default=False, metadata={"help": "skip unreadable/wrongly sized images"})
    suspects: str | None = field(default=None, metadata={"help": "suspect-label CSV (noisy.py audit)"})
    suspect_action: str = field(default="drop", metadata={"choices": ["drop", "relabel", "downweight"]})
    suspect_weight: float = 0.2
    runs_dir: str | None = field(default=None, metadata={"help": "default: $KIT_RUNS_ROOT or runs/"})
    cache_dir: str | None = None

    def __post_init__(self):
        self.fold = str(self.fold)


# -- devices and distribution ---------------------------------------------------------------------
@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: str) -> Dist:
    """Single process, or one process per rank under ``torchrun`` (NCCL on GPUs, gloo on CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    want_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if world == 1:
        return Dist(0, 1, torch.device(device if device != "auto" else ("cuda" if want_cuda else "cpu")))
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if want_cuda else "gloo")
    if want_cuda:
        torch.cuda.set_device(local)
    return Dist(rank, world, torch.device(f"cuda:{local}" if want_cuda else "cpu"))


def gather(obj, d: Dist) -> list:
    """Every rank's ``obj``, on every rank."""
    if d.world == 1:
        return [obj]
    out = [None] * d.world
    dist.all_gather_object(out, obj)
    return out


def amp_dtype(device: torch.device, enabled: bool) -> torch.dtype | None:
    """bf16 where the device runs it (CPU with bf16 kernels, recent GPUs), else fp16 on CUDA, else none."""
    if not enabled:
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            torch.nn.functional.conv2d(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 3, 3))
        return torch.bfloat16
    except RuntimeError:
        return None


# -- schedule -------------------------------------------------------------------------------------
def cosine_with_warmup(optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int,
                       min_ratio: float) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up to the base LR, then cosine decay to ``min_ratio`` of it, stepped per batch."""
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


# -- one fold -------------------------------------------------------------------------------------
class FoldTrainer:
    """Everything one fold needs: data split, model, optimiser, checkpoints, predictions."""

    def __init__(self, cfg: TrainConfig, data: NexperiaData, folds: pd.DataFrame, fold: int, run: Run, d: Dist):
        self.cfg, self.data, self.fold, self.run, self.d = cfg, data, fold, run, d
        self.dir = run.fold_dir(fold) if d.main else run.root / f"fold{fold}"
        fold_of = folds["fold"].to_numpy()
        self.valid_rows = np.flatnonzero(fold_of == fold)
        train_rows = np.flatnonzero(fold_of != fold)
        labels, weights = data.train_labels.astype(np.float32), np.ones(len(data.train_ids), np.float32)
        if cfg.suspects:
            from competitions.nexperia.noisy import apply_audit
            # on the whole training set: suspects among this fold's validation rows are expected, not unknown
            labels, weights, keep = apply_audit(data.train_ids, labels, Path(cfg.suspects),
                                                cfg.suspect_action, cfg.suspect_weight)
            train_rows = train_rows[keep[train_rows]]
            run.log.info("fold %d: suspects %s (%s): %d training images kept", fold, cfg.suspects,
                         cfg.suspect_action, len(train_rows))
        labels, weights = labels[train_rows], weights[train_rows]
        self.train_rows, self.train_labels = train_rows, np.asarray(labels, np.float32)
        self.train_set = ImageDataset(data.train_images, train_rows, self.train_labels, weights,
                                      make_transform(cfg.augment, cfg.img_size, train=True), cfg.norm == "image")
        self.valid_set = ImageDataset(data.train_images, self.valid_rows, data.train_labels[self.valid_rows],
                                      transform=make_transform("none", cfg.img_size, train=False),
                                      per_image_norm=cfg.norm == "image")
        self.sampler = train_sampler(self.train_labels.round().astype(int), cfg.balanced_sampler, cfg.seed,
                                     d.world, d.rank)
        self.amp = amp_dtype(d.device, cfg.amp)
        self.spec = {"model": cfg.model, "model_kwargs": parse_model_kwargs(cfg.model_kwargs)}
        seed_everything(cfg.seed)
        model = create_model(cfg.model, cfg.pretrained, self.spec["model_kwargs"])
        apply_freeze(model, cfg.freeze)
        self.model = to_device(model, d.device, cfg.channels_last)
        self.net = (torch.nn.parallel.DistributedDataParallel(self.model, device_ids=[d.device.index]
                                                              if d.device.type == "cuda" else None)
                    if d.world > 1 else self.model)
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        steps = len(self.sampler) // cfg.batch_size + (len(self.sampler) % cfg.batch_size > 0)
        self.scheduler = cosine_with_warmup(self.optimizer, steps * cfg.epochs,
                                            int(round(cfg.warmup_epochs * steps)), cfg.min_lr_ratio)
        self.scaler = torch.amp.GradScaler(d.device.type, enabled=self.amp == torch.float16)
        self.loss = BinaryLoss(cfg.loss, cfg.label_smoothing, cfg.focal_gamma, cfg.gce_q)
        self.state = {"epoch": 0, "best_auc": -1.0, "best_epoch": 0, "bad_epochs": 0, "finished": False,
                      "summary": []}
        truth = load_truth(data.data_dir)
        self.valid_truth = None if truth is None else true_labels(truth, data.train_ids[self.valid_rows])

    # -- checkpoints
    def checkpoint(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
                "state": self.state, "model_spec": self.spec, "config": config_to_dict(self.cfg)}

    def save(self, name: str) -> None:
        if self.d.main:
            with atomic_path(self.dir / name) as tmp:
                torch.save(self.checkpoint(), tmp)

    def restore(self, path: Path) -> None:
        ckpt = torch.load(path, map_location=self.d.device, weights_only=False)
        load_weights(self.model, ckpt, path, self.spec)
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        self.scaler.load_state_dict(ckpt["scaler"])
        self.state = ckpt["state"]

    # -- loops
    def train_epoch(self, epoch: int) -> float:
        cfg, d = self.cfg, self.d
        seed_everything(cfg.seed * 1000 + epoch)
        self.sampler.set_epoch(epoch)
        self.train_set.reseed(cfg.seed * 1000 + epoch)
        loader = make_loader(self.train_set, cfg.batch_size, cfg.workers, self.sampler, seed=cfg.seed * 1000 + epoch)
        self.net.train()
        if cfg.freeze != "none":
            freeze_batchnorm_stats(self.model)
        total, count = torch.zeros((), dtype=torch.float64), 0
        bar = tqdm(loader, desc=f"fold {self.fold} epoch {epoch}", disable=not (cfg.progress and d.main), leave=False)
        for x, y, w in bar:
            x = x.to(d.device, non_blocking=True)
            if cfg.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            y, w = y.to(d.device), w.to(d.device)
            with torch.autocast(d.device.type, dtype=self.amp, enabled=self.amp is not None):
                logits = self.net(x).view(-1)
            loss = self.loss(logits.float(), y, w)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            total += loss.detach().double().cpu() * len(y)
            count += len(y)
            bar.set_postfix(loss=f"{total.item() / count:.4f}")
        if d.world > 1:  # each rank updated BatchNorm statistics on its own batches: keep rank 0's, as saved
            for buffer in self.model.buffers():
                dist.broadcast(buffer, 0)
        sums = gather((total.item(), count), d)
        return sum(s for s, _ in sums) / max(1, sum(c for _, c in sums))

    def predict(self, images: np.ndarray, rows: np.ndarray, tta: str) -> np.ndarray:
        """Probabilities for ``rows`` of ``images``; the ranks share the work and gather the result."""
        mine = np.arange(len(rows))[self.d.rank::self.d.world]
        dataset = ImageDataset(images, rows[mine], transform=make_transform("none", self.cfg.img_size, False),
                               per_image_norm=self.cfg.norm == "image")
        loader = make_loader(dataset, self.cfg.batch_size * 2, self.cfg.workers)
        preds = predict_loader(self.model, loader, tta, device=self.d.device, amp_dtype=self.amp,
                               progress=self.cfg.progress and self.d.main)
        out = np.empty(len(rows), np.float32)
        for idx, part in gather((mine, preds), self.d):
            out[idx] = part
        return out

    def validate(self) -> tuple[float, float, float | None, np.ndarray]:
        preds = self.predict(self.data.train_images, self.valid_rows, "none")
        y = self.data.train_labels[self.valid_rows]
        eps = 1e-6
        p = np.clip(preds.astype(np.float64), eps, 1 - eps)
        val_loss = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
        auc_true = roc_auc(self.valid_truth, preds) if self.valid_truth is not None else None
        return roc_auc(y, preds), val_loss, auc_true, preds

    def fit(self) -> None:
        cfg, log = self.cfg, self.run.log
        stop_after = int(os.environ.get(STOP_ENV, "0"))
        while not self.state["finished"]:
            epoch = self.state["epoch"] + 1
            start = time.time()
            train_loss = self.train_epoch(epoch)
            auc, val_loss, auc_true, _ = self.validate()
            st = self.state
            improved = auc > st["best_auc"]
            st.update(epoch=epoch, bad_epochs=0 if improved else st["bad_epochs"] + 1)
            if improved:
                st.update(best_auc=auc, best_epoch=epoch)
            row = {"epoch": epoch, "lr": self.optimizer.param_groups[0]["lr"], "train_loss": train_loss,
                   "val_loss": val_loss, "val_auc": auc, "seconds": round(time.time() - start, 2)}
            if auc_true is not None:
                row["val_auc_true"] = auc_true
            st["summary"].append(row)
            st["finished"] = epoch >= cfg.epochs or st["bad_epochs"] >= cfg.patience
            if improved:
                self.save("best.pt")
            self.save("last.pt")
            if self.d.main:
                atomic_write_csv(self.dir / "summary.csv", pd.DataFrame(st["summary"]))
                log.info("fold %d epoch %d/%d: train_loss %.4f val_loss %.4f val_auc %.5f%s (%.0fs)%s",
                         self.fold, epoch, cfg.epochs, train_loss, val_loss, auc,
                         f" val_auc_true {auc_true:.5f}" if auc_true is not None else "", row["seconds"],
                         " *" if improved else "")
            if stop_after and epoch >= stop_after and not st["finished"]:
                raise SystemExit(f"stopped after epoch {epoch} ({STOP_ENV}={stop_after}); continue with --resume")

    def finish(self) -> dict:
        """Best checkpoint -> OOF and test predictions (TTA), metrics, Grad-CAM grid."""
        cfg, data = self.cfg, self.data
        if self.d.world > 1:
            dist.barrier()  # rank 0 has written best.pt
        ckpt = torch.load(self.dir / "best.pt", map_location=self.d.device, weights_only=False)
        load_weights(self.model, ckpt, self.dir / "best.pt", self.spec)
        y = data.train_labels[self.valid_rows]
        compare = {}
        for tta in dict.fromkeys([cfg.tta, *cfg.tta_compare]):
            preds = self.predict(data.train_images, self.valid_rows, tta)
            compare[tta] = preds
        oof_pred = compare[cfg.tta]
        test_pred = self.predict(data.test_images, np.arange(len(data.test_ids)), cfg.tta)
        if not self.d.main:
            return {}
        metrics = {"best_epoch": self.state["best_epoch"], "epochs_run": self.state["epoch"], "tta": cfg.tta,
                   "auc_given": auc_summary(y, oof_pred),
                   "tta_auc_given": {k: roc_auc(y, v) for k, v in compare.items()}}
        if self.valid_truth is not None:
            metrics["auc_true"] = auc_summary(self.valid_truth, oof_pred)
            metrics["tta_auc_true"] = {k: roc_auc(self.valid_truth, v) for k, v in compare.items()}
        oof = pd.DataFrame({"id": data.train_ids[self.valid_rows], "target": y, "pred": oof_pred})
        test = pd.DataFrame({"id": data.test_ids, "pred": test_pred})
        self.run.save_fold_predictions(self.fold, oof, test if len(test) else None)
        self._plots(y, compare)
        return metrics

    def _plots(self, y: np.ndarray, compare: dict[str, np.ndarray]) -> None:
        from common.plots import plot_roc
        from common.vision.gradcam import pick_examples, save_gradcam_grid

        target = self.valid_truth if self.valid_truth is not None else y
        plot_roc(target, {f"tta={k}": v for k, v in compare.items()}, self.dir / "roc.png", band_boot=0,
                 title=f"fold {self.fold} vs {'true' if self.valid_truth is not None else 'given'} labels")
        if self.cfg.gradcam and (y == 1).any():
            pos, kinds = pick_examples(y, compare[self.cfg.tta], self.cfg.gradcam)
            images = torch.stack([self.valid_set[i][0] for i in pos])
            save_gradcam_grid(self.model, images, self.data.train_ids[self.valid_rows][pos], kinds,
                              self.dir / "gradcam.png")


def train_fold(cfg: TrainConfig, data: NexperiaData, folds: pd.DataFrame, fold: int, run: Run, d: Dist) -> dict:
    trainer = FoldTrainer(cfg, data, folds, fold, run, d)
    last = trainer.dir / "last.pt"
    if last.is_file():
        if not cfg.resume:
            raise FileExistsError(f"{last} exists: pass --resume to continue that run, or use another --name")
        trainer.restore(last)
        run.log.info("fold %d: resumed after epoch %d", fold, trainer.state["epoch"])
    trainer.fit()
    metrics = trainer.finish()
    if d.main:
        run.update_metrics({f"fold{fold}": metrics})
        run.log.info("fold %d: best epoch %d, val AUC (given labels) %.5f%s, TTA %s", fold, metrics["best_epoch"],
                     metrics["auc_given"]["auc"],
                     f", vs true labels {metrics['auc_true']['auc']:.5f}" if "auc_true" in metrics else "",
                     {k: round(v, 5) for k, v in metrics["tta_auc_given"].items()})
    return metrics


def overall_metrics(run: Run, data_dir: Path) -> dict:
    """AUC of the run's merged OOF predictions, against given and (synthetic data) true labels."""
    oof = pd.read_csv(run.root / "oof.csv", dtype={"id": str})
    out = {"oof_auc_given": auc_summary(oof["target"], oof["pred"]), "folds_done": sorted(oof["fold"].unique().tolist())}
    ttas = {k: run.metrics().get(f"fold{k}", {}).get("tta") for k in out["folds_done"]}
    if len(set(ttas.values())) > 1:
        run.log.warning("the folds were predicted with different TTA %s: run --fold all --resume --tta X to "
                        "predict them alike", ttas)
    truth = load_truth(data_dir)
    if truth is not None:
        out["oof_auc_true"] = auc_summary(true_labels(truth, oof["id"]), oof["pred"])
    return out


def main(argv: list[str] | None = None) -> Run:
    cfg = parse_config(TrainConfig, argv)
    cfg.data = cfg.data or str(default_data_dir("nexperia"))
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    d = setup_distributed(cfg.device)
    try:
        data = load_data(Path(cfg.data), Path(cfg.cache_dir) if cfg.cache_dir else None, skip_bad=cfg.skip_bad)
        folds = get_folds(data, n_splits=cfg.n_splits, runs_dir=cfg.runs_dir) if d.main else None
        if d.world > 1:
            dist.barrier()
            folds = get_folds(data, n_splits=cfg.n_splits, runs_dir=cfg.runs_dir)
        fold_list = list(range(cfg.n_splits)) if cfg.fold == "all" else [int(cfg.fold)]
        if any(not 0 <= k < cfg.n_splits for k in fold_list):
            raise ValueError(f"--fold must be 0..{cfg.n_splits - 1} or 'all', got {cfg.fold}")
        run = Run.open("nexperia", cfg.name, cfg.runs_dir)
        if d.main:
            warn_untrained_views(cfg.tta, cfg.augment, run.log)
            run.save_config(cfg)
            if len(data.skipped):
                atomic_write_csv(run.root / "skipped_images.csv", data.skipped)
            run.log.info("data %s: %d train (%d defects), %d test, %s px; device %s x%d, amp %s", cfg.data,
                         len(data.train_ids), int(data.train_labels.sum()), len(data.test_ids),
                         "x".join(map(str, data.image_shape)), d.device, d.world, amp_dtype(d.device, cfg.amp))
        for fold in fold_list:
            train_fold(cfg, data, folds, fold, run, d)
        if d.main:
            run.update_metrics(overall_metrics(run, Path(cfg.data)))
        return run
    finally:
        if d.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":
    main()
