"""Augmentation throughput: DeviceAugment on uint8 batches vs the albumentations pipeline image by image.

    python bench/augment.py [--presets light medium] [--size 128] [--batch-size 32] [--batches 30]
                            [--threads 1] [--device cpu|cuda]

Both paths start from uint8 images already at ``--size`` and end at a standardised float32 batch: albumentations
runs the kit's former training pipeline (``build_transform(preset, size, train=True)`` with the grey mean/std;
its resize is a no-op at this size) on each image, then stacks the batch, as a loader worker and its collate
did; DeviceAugment runs on the whole batch on ``--device``. Prints images/s of each and per CPU-second of the
process (medians of 3 timed rounds) and the ratio of the images/s.
"""
from __future__ import annotations

import argparse
import time
from typing import Callable

import cv2
import numpy as np
import torch

from common.vision.augment import build_transform
from common.vision.data import GRAY_MEAN, GRAY_STD
from common.vision.device_augment import DeviceAugment


def smooth_images(n: int, size: int, seed: int = 0) -> np.ndarray:
    """uint8 (n, size, size): random low-frequency fields plus pixel noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (n, 8, 8)).astype(np.float32)
    fields = [cv2.resize(c, (size, size), interpolation=cv2.INTER_CUBIC) for c in coarse]
    return np.clip(np.stack(fields) + rng.normal(0, 8, (n, size, size)), 0, 255).astype(np.uint8)


def images_per_second(run_batch: Callable[[int], object], batches: int, batch_size: int, sync: Callable[[], None],
                      rounds: int = 3) -> tuple[float, float]:
    """Images per wall-clock second and per CPU-second of this process (medians of ``rounds``); the second
    holds on a machine shared with other work, and for a GPU run it is the host's cost of launching."""
    run_batch(0)  # warm-up: first-call allocations, kernel selection
    sync()
    wall, cpu = [], []
    for _ in range(rounds):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        for b in range(batches):
            run_batch(b)
        sync()
        wall.append(time.perf_counter() - start_wall)
        cpu.append(time.process_time() - start_cpu)
    return batches * batch_size / float(np.median(wall)), batches * batch_size / float(np.median(cpu))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["light", "medium"])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1, help="torch and OpenCV threads")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    images = smooth_images(8 * args.batch_size, args.size)
    batches = [torch.from_numpy(images[i:i + args.batch_size])[:, None]
               for i in range(0, len(images), args.batch_size)]
    device_batches = [b.to(device) for b in batches]
    print(f"{args.size} px, batches of {args.batch_size}, {args.threads} thread(s); DeviceAugment on {device}")
    print(f"{'':>8} {'albumentations':>27} {'DeviceAugment':>27} {'ratio':>7}")
    print(f"{'preset':>8} {'img/s':>13} {'img/CPU-s':>13} {'img/s':>13} {'img/CPU-s':>13} {'(img/s)':>7}")
    for preset in args.presets:
        transform = build_transform(preset, args.size, train=True, mean=GRAY_MEAN, std=GRAY_STD, seed=0)
        augment = DeviceAugment(preset, mean=GRAY_MEAN, std=GRAY_STD).to(device)

        def per_image(b: int) -> torch.Tensor:
            batch = batches[b % len(batches)][:, 0].numpy()
            return torch.stack([transform(image=image)["image"] for image in batch])

        torch.manual_seed(0)
        cpu_wall, cpu_cpu = images_per_second(per_image, args.batches, args.batch_size, lambda: None)
        dev_wall, dev_cpu = images_per_second(lambda b: augment(device_batches[b % len(device_batches)]),
                                              args.batches, args.batch_size, sync)
        print(f"{preset:>8} {cpu_wall:>13,.0f} {cpu_cpu:>13,.0f} {dev_wall:>13,.0f} {dev_cpu:>13,.0f} "
              f"{dev_wall / cpu_wall:>7.2f}")

if __name__ == "__main__":
    main()
