"""Nexperia throughput: the data pipeline (decoding each time vs the memory-mapped cache) and CNN steps.

    python bench/nexperia.py [--data data/nexperia] [--batches 3] [--batch-size 16] [--device auto]

Prints images/s of (1) decode + augment from the BMP files, (2) the cached memmap + augment, through a
DataLoader with 0 and 2 workers, and (3) training and inference steps of resnet18 at 224 px in fp32 vs
bf16/AMP autocast, NCHW vs channels_last, then whether the loader keeps up with the fastest training step.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from common.vision.data import ImageDataset, make_transform
from common.vision.distributed import amp_dtype
from common.vision.model import create_model
from competitions.nexperia.data import find_layout, load_data

TIMM_PUBLISHED = "timm's published figure: resnet18 training at 224 px, AMP + channels_last, RTX 3090: 3,482 img/s"


class DecodingDataset(Dataset):
    """Decodes the BMP file at every access: what the cache avoids."""

    def __init__(self, paths: list[Path], transform):
        self.paths, self.transform = paths, transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        image = cv2.imread(str(self.paths[i]), cv2.IMREAD_GRAYSCALE)
        return self.transform(image=image)["image"], np.float32(0), np.float32(1)


def loader_rate(dataset: Dataset, batch_size: int, workers: int, n_images: int) -> float:
    """Images/s of iterating a shuffled loader over ``n_images`` images (after one warm-up batch)."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers,
                        generator=torch.Generator().manual_seed(0))
    it = iter(loader)
    next(it)
    seen, start = 0, time.perf_counter()
    for x, _, _ in it:
        seen += len(x)
        if seen >= n_images:
            break
    return seen / (time.perf_counter() - start)


def step_rate(model_name: str, device: torch.device, img_size: int, batch_size: int, batches: int,
              amp: bool, channels_last: bool, train: bool) -> float:
    """Images/s of training (forward, backward, AdamW step) or inference steps on random batches."""
    torch.manual_seed(0)
    model = create_model(model_name).to(device)
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

    def step():
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None), torch.set_grad_enabled(train):
            out = model(x).view(-1)
        if train:
            loss = torch.nn.functional.binary_cross_entropy_with_logits(out.float(), y)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()

    step()  # warm-up (oneDNN/cuDNN kernel selection)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(batches):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batches * batch_size / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("data/nexperia"))
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--img-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--batches", type=int, default=2, help="timed batches per variant")
    parser.add_argument("--loader-images", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    print(f"device {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else f'{args.threads} threads'}), "
          f"torch {torch.__version__}, {args.model} at {args.img_size} px, batch {args.batch_size}")

    data = load_data(args.data)
    layout = find_layout(args.data)
    paths = sorted((p for folder in layout.train_dirs.values() for p in folder.iterdir()), key=lambda p: p.stem)
    transform = make_transform("light", args.img_size, train=True)
    cached = ImageDataset(data.train_images, np.arange(len(data.train_ids)), transform=transform)
    decoding = DecodingDataset(paths, transform)
    print("\nimage access alone (no transform), one process, images/s:")
    for name, read in (("decode BMP", lambda i: cv2.imread(str(paths[i]), cv2.IMREAD_GRAYSCALE)),
                       ("memmap cache", lambda i: np.array(data.train_images[i]))):
        order = np.random.default_rng(0).permutation(len(paths))[:args.loader_images]
        start = time.perf_counter()
        for i in order:
            read(i)
        print(f"  {name:18s} {len(order) / (time.perf_counter() - start):8.0f}")
    print(f"\ndata pipeline ({data.image_shape[0]}x{data.image_shape[1]} BMP -> resize {args.img_size} + 'light' "
          f"augmentation), images/s:")
    loader = {}
    for workers in (0, 2):
        for name, ds in (("decode each time", decoding), ("memmap cache", cached)):
            rate = loader_rate(ds, args.batch_size, workers, args.loader_images)
            loader[(name, workers)] = rate
            print(f"  {name:18s} workers={workers}: {rate:8.0f}")

    print(f"\n{args.model} steps at {args.img_size} px, images/s ({args.batches} timed batches each):")
    print(f"  {'variant':32s} {'train':>8s} {'infer':>8s}")
    best_train = 0.0
    for amp in (False, True):
        for channels_last in (False, True):
            train = step_rate(args.model, device, args.img_size, args.batch_size, args.batches, amp, channels_last, True)
            infer = step_rate(args.model, device, args.img_size, args.batch_size, args.batches, amp, channels_last,
                              False)
            label = f"{'bf16/AMP' if amp else 'fp32'} {'channels_last' if channels_last else 'NCHW'}"
            print(f"  {label:32s} {train:8.1f} {infer:8.1f}")
            best_train = max(best_train, train) if train == train else best_train
    print(f"\n{TIMM_PUBLISHED}")
    cache_rate = max(loader[("memmap cache", 0)], loader[("memmap cache", 2)])
    verdict = "keeps up" if cache_rate > best_train else "IS THE BOTTLENECK"
    print(f"loader (cache) {cache_rate:.0f} img/s vs fastest training step {best_train:.1f} img/s: "
          f"the loader {verdict} ({cache_rate / best_train:.1f}x)")


if __name__ == "__main__":
    main()
