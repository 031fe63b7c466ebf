"""Nexperia throughput: image access, bare CNN steps, and a real training epoch against the bare step.

    python bench/nexperia.py [--data data/nexperia] [--model resnet18 --img-size 224 --batch-size 64]
    python bench/nexperia.py --e2e [--device cpu|cuda] [--model M --img-size S --batch-size B] [--workers W]

Without ``--e2e``: images/s of reading training images (decoding each BMP, the memory-mapped cache, the cache
resized to the training size), then training and inference steps of the model in fp32 vs bf16/AMP,
NCHW vs channels_last.

``--e2e``: the bare training step (forward, backward, AdamW step on one random batch already on the device,
bf16/AMP + channels_last like the trainer) against epochs of the kit's own trainer
(``common.vision.trainer.FoldTrainer.fit``, what ``train.py`` runs: batch sampler over the resized uint8 cache,
pinned transfer, augmentation preset on the device, loss, schedule) on generated 267x275 images. The trainer's
``summary.csv`` gives the training phase's images/s (loader, transfer and augmentation included) and the
validation seconds; the first epoch (cuDNN autotuning, worker start) is reported apart. On CUDA the GPU's
utilisation is sampled with nvidia-smi while the trainer runs. The last line is
``end-to-end train N img/s vs bare step M img/s: ratio R``.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from common.run import Run
from common.vision.data import ModelInput
from common.vision.distributed import Dist, amp_dtype
from common.vision.model import create_model, parse_model_kwargs
from common.vision.trainer import FoldTrainer, ImageTrainConfig

TIMM_PUBLISHED = "timm's published figure: resnet18 training at 224 px, AMP + channels_last, RTX 3090: 3,482 img/s"


def step_rate(model_name: str, device: torch.device, img_size: int, batch_size: int, batches: int,
              amp: bool, channels_last: bool, train: bool, model_kwargs: dict | None = None) -> float:
    """Images/s of training (forward, backward, AdamW step) or inference steps on one random batch."""
    torch.manual_seed(0)
    model = create_model(model_name, None, model_kwargs).to(device)
    x = torch.randn(batch_size, 1, img_size, img_size, device=device)
    y = torch.randint(0, 2, (batch_size,), device=device).float()
    if channels_last:
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    dtype = amp_dtype(device, amp)
    if amp and dtype is None:
        return float("nan")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    model.train(train)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True

    def step():
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None), torch.set_grad_enabled(train):
            out = model(x).view(-1)
        if train:
            loss = torch.nn.functional.binary_cross_entropy_with_logits(out.float(), y)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()

    for _ in range(3 if device.type == "cuda" else 1):  # warm-up (oneDNN/cuDNN kernel selection)
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(batches):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batches * batch_size / (time.perf_counter() - start)


@dataclass
class GeneratedData:
    """Random-textured 267x275 uint8 images with a bright blob on the 'defects', as the trainer's ImageData."""
    n: int
    seed: int = 0
    train_ids: np.ndarray = field(init=False)
    train_labels: np.ndarray = field(init=False)
    train_images: np.ndarray = field(init=False)
    test_ids: np.ndarray = field(init=False)
    test_images: np.ndarray = field(init=False)

    def __post_init__(self):
        rng = np.random.default_rng(self.seed)
        self.train_images = rng.integers(60, 120, size=(self.n, 267, 275), dtype=np.uint8)
        self.train_labels = (rng.random(self.n) < 0.2).astype(np.int8)
        for i in np.flatnonzero(self.train_labels):
            y, x = rng.integers(20, 240, size=2)
            self.train_images[i, y:y + 12, x:x + 12] = 230
        self.train_ids = np.array([f"img{i:06d}" for i in range(self.n)])
        self.test_ids, self.test_images = self.train_ids[:0], self.train_images[:0]


class GpuSampler:
    """Samples the GPU's utilisation (%) with nvidia-smi every 200 ms in a thread, until stopped."""

    def __init__(self, index: int):
        self.samples: list[tuple[float, float]] = []
        self.proc = subprocess.Popen(["nvidia-smi", f"--id={index}", "--query-gpu=utilization.gpu",
                                      "--format=csv,noheader,nounits", "-lms", "200"],
                                     stdout=subprocess.PIPE, text=True)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            if line.strip().isdigit():
                self.samples.append((time.perf_counter(), float(line)))

    def stop(self) -> list[tuple[float, float]]:
        self.proc.terminate()
        self.thread.join(timeout=2)
        return self.samples


def e2e(args: argparse.Namespace, device: torch.device) -> None:
    kwargs = parse_model_kwargs(args.model_kwargs)
    bare = step_rate(args.model, device, args.img_size, args.batch_size, args.batches, True, True, True, kwargs)
    print(f"bare step: {args.model} at {args.img_size} px, batch {args.batch_size}, bf16/AMP + channels_last: "
          f"{bare:.0f} img/s")
    data = GeneratedData(args.images)
    root = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    try:
        cfg = ImageTrainConfig(model=args.model, model_kwargs=args.model_kwargs, img_size=args.img_size,
                               batch_size=args.batch_size, epochs=args.epochs, patience=args.epochs,
                               augment=args.augment, norm=args.norm, workers=args.workers, compile=args.compile,
                               tta="none", tta_compare=["none"], runs_dir=str(root), progress=False,
                               device=str(device))
        run = Run.open("bench", "e2e", root)
        fold_of = np.arange(data.n) % 5
        start = time.perf_counter()
        trainer = FoldTrainer(cfg, data, fold_of, 0, run, Dist(device=device))
        setup = time.perf_counter() - start
        sampler = GpuSampler(device.index or 0) if device.type == "cuda" and shutil.which("nvidia-smi") else None
        trainer.fit()
        samples = sampler.stop() if sampler else []
        summary = pd.read_csv(trainer.dir / "summary.csv")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"trainer: {len(trainer.train_rows)} training + {len(trainer.valid_rows)} validation images per epoch, "
          f"augment {args.augment!r}, {args.workers} workers; set-up (resize to {args.img_size} px, model) "
          f"{setup:.1f} s")
    print(summary[["epoch", "train_img_s", "val_seconds", "seconds"]].to_string(index=False))
    steady = summary.iloc[1:] if len(summary) > 1 else summary
    rate = statistics.median(steady["train_img_s"])
    if samples:
        busy = [u for _, u in samples]
        print(f"GPU utilisation while the trainer ran (nvidia-smi every 200 ms, {len(busy)} samples, validation "
              f"included): mean {statistics.mean(busy):.0f}%, median {statistics.median(busy):.0f}%")
    print(f"end-to-end train {rate:.0f} img/s vs bare step {bare:.0f} img/s: ratio {rate / bare:.2f}")


def access_rates(data_dir: Path, img_size: int, n: int) -> None:
    from competitions.nexperia.data import find_layout, load_data

    data = load_data(data_dir)
    layout = find_layout(data_dir)
    paths = sorted((p for folder in layout.train_dirs.values() for p in folder.iterdir()), key=lambda p: p.stem)
    resized = ModelInput(img_size).resized(data.train_images, Path(data.cache_dir) / "train")
    order = np.random.default_rng(0).permutation(len(paths))[:n]
    print("image access, one process, images/s:")
    for name, read in (("decode BMP", lambda rows: [cv2.imread(str(paths[i]), cv2.IMREAD_GRAYSCALE) for i in rows]),
                       ("memmap cache", lambda rows: [np.array(data.train_images[i]) for i in rows]),
                       ("resized cache, batch", lambda rows: resized[np.sort(rows)])):
        start = time.perf_counter()
        read(order)
        print(f"  {name:22s} {len(order) / (time.perf_counter() - start):10.0f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--e2e", action="store_true", help="the trainer's epoch against the bare step")
    parser.add_argument("--data", type=Path, default=Path("data/nexperia"), help="without --e2e: image access")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--model-kwargs", default=None, help="YAML mapping of timm kwargs")
    parser.add_argument("--img-size", type=int, default=None, help="default 224 on CUDA, 128 on the CPU")
    parser.add_argument("--batch-size", type=int, default=None, help="default 256 on CUDA, 32 on the CPU")
    parser.add_argument("--batches", type=int, default=None, help="timed bare steps (default 30 CUDA, 4 CPU)")
    parser.add_argument("--images", type=int, default=None, help="--e2e: generated images (default 12800 CUDA, "
                                                                 "640 CPU); 80%% train each epoch")
    parser.add_argument("--epochs", type=int, default=3, help="--e2e: trainer epochs (the first is warm-up)")
    parser.add_argument("--augment", default="medium", help="--e2e: augmentation preset")
    parser.add_argument("--norm", default="fixed", choices=["fixed", "image"])
    parser.add_argument("--workers", type=int, default=None, help="--e2e: loader workers (default 6 CUDA, 0 CPU)")
    parser.add_argument("--compile", action="store_true", help="--e2e: torch.compile the trainer's model")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda" if cuda else "cpu")
    defaults = dict(img_size=(224, 128), batch_size=(256, 32), batches=(30, 4), images=(12800, 640), workers=(6, 0))
    for key, (gpu, cpu) in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, gpu if cuda else cpu)
    name = torch.cuda.get_device_name(device) if cuda else f"CPU, {args.threads} threads"
    print(f"device {device} ({name}), torch {torch.__version__}, {args.model} at {args.img_size} px, "
          f"batch {args.batch_size}")
    if args.e2e:
        e2e(args, device)
        return
    access_rates(args.data, args.img_size, 256)
    print(f"\n{args.model} steps at {args.img_size} px, images/s ({args.batches} timed batches each):")
    print(f"  {'variant':32s} {'train':>8s} {'infer':>8s}")
    kwargs = parse_model_kwargs(args.model_kwargs)
    for amp in (False, True):
        for channels_last in (False, True):
            rates = [step_rate(args.model, device, args.img_size, args.batch_size, args.batches, amp, channels_last,
                               train, kwargs) for train in (True, False)]
            label = f"{'bf16/AMP' if amp else 'fp32'} {'channels_last' if channels_last else 'NCHW'}"
            print(f"  {label:32s} {rates[0]:8.1f} {rates[1]:8.1f}")
    print(f"\n{TIMM_PUBLISHED}")


if __name__ == "__main__":
    main()
