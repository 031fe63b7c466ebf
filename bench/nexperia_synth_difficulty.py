"""How hard is the synthetic Nexperia data? Logistic regression on pixels vs a small CNN.

Both models train on the train split's given (noisy) labels and are scored by ROC-AUC on the test
split's true labels from ``_truth.csv``. The LR sees 32x32 pixels; the CNN sees ``--size`` px and
runs on the CPU with ``--threads`` threads. Also prints the CNN's AUC per defect type (each type's
defects against all good test images) and for the subtle defects.

    python bench/nexperia_synth_difficulty.py --data data/nexperia [--size 64 --epochs 10 --batch 32]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn


def load(data: Path, truth: pd.DataFrame, size: int) -> np.ndarray:
    return np.stack([cv2.resize(cv2.imread(str(data / p), cv2.IMREAD_GRAYSCALE), (size, size),
                                interpolation=cv2.INTER_AREA) for p in truth["path"]])


def small_cnn() -> nn.Module:
    def block(i: int, o: int) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2))
    # global max pooling: a defect is a local event anywhere in the image
    return nn.Sequential(block(1, 16), block(16, 32), block(32, 48), block(48, 64),
                         nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveMaxPool2d(1), nn.Flatten(),
                         nn.Linear(64, 1))


def train_cnn(x: np.ndarray, y: np.ndarray, epochs: int, seed: int, batch: int,
              x_val: np.ndarray, y_val: np.ndarray) -> nn.Module:
    cpu = time.process_time()
    torch.manual_seed(seed)
    model = small_cnn()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    steps = epochs * int(np.ceil(len(x) / batch))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.15)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.float32))
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        model.train()
        order = rng.permutation(len(x))
        total = 0.0
        for i in range(0, len(x), batch):
            idx = order[i:i + batch]
            xb = xt[idx]
            if rng.random() < 0.5:
                xb = xb.flip(3)
            loss = nn.functional.binary_cross_entropy_with_logits(model(xb).squeeze(1), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        val_auc = roc_auc_score(y_val, predict(model, x_val))
        print(f"  epoch {epoch + 1}/{epochs} loss {total / len(x):.4f} test AUC {val_auc:.4f} "
              f"({time.process_time() - cpu:.0f} s CPU so far)", flush=True)
    return model


def predict(model: nn.Module, x: np.ndarray) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        return torch.cat([model(torch.from_numpy(x[i:i + 256])).squeeze(1) for i in range(0, len(x), 256)]).numpy()


def to_tensor(imgs: np.ndarray) -> np.ndarray:
    x = imgs.astype(np.float32) / 255
    x = (x - x.mean(axis=(1, 2), keepdims=True)) / (x.std(axis=(1, 2), keepdims=True) + 1e-6)
    return x[:, None]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="folder written by competitions.nexperia.synth")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    truth = pd.read_csv(args.data / "_truth.csv", keep_default_na=False)
    train, test = truth[truth["split"] == "train"], truth[truth["split"] == "test"]
    y_train, y_test = train["label_given"].astype(int).to_numpy(), test["label_true"].to_numpy()
    print(f"train {len(train)} ({y_train.mean():.1%} labelled defect), test {len(test)} ({y_test.mean():.1%} defect)")

    t = time.perf_counter()
    lr = make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=2000))
    lr.fit(load(args.data, train, 32).reshape(len(train), -1) / 255, y_train)
    lr_auc = roc_auc_score(y_test, lr.predict_proba(load(args.data, test, 32).reshape(len(test), -1) / 255)[:, 1])
    print(f"LR on 32x32 pixels: test AUC {lr_auc:.4f} ({time.perf_counter() - t:.0f} s)")

    t, cpu = time.perf_counter(), time.process_time()
    x_train, x_test = to_tensor(load(args.data, train, args.size)), to_tensor(load(args.data, test, args.size))
    model = train_cnn(x_train, y_train, args.epochs, args.seed, args.batch, x_test, y_test)
    pred = predict(model, x_test)
    print(f"small CNN on {args.size}x{args.size}, {args.epochs} epochs, {args.threads} threads: "
          f"test AUC {roc_auc_score(y_test, pred):.4f} ({time.perf_counter() - t:.0f} s wall, "
          f"{time.process_time() - cpu:.0f} s CPU)")
    good = y_test == 0
    for name, sel in [*((k, (test["defect_type"] == k).to_numpy()) for k in sorted(set(test["defect_type"]) - {""})),
                      ("subtle (all types)", (test["subtle"] == 1).to_numpy())]:
        if sel.sum():
            auc = roc_auc_score(np.r_[np.zeros(good.sum()), np.ones(sel.sum())], np.r_[pred[good], pred[sel]])
            print(f"  {name:20s} n={sel.sum():3d} AUC {auc:.3f}")


if __name__ == "__main__":
    main()
