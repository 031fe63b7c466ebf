"""Do the generator's planted duplicates lie clearly inside the dHash threshold, and unrelated images outside?

For each dataset size and seed it draws the synthetic Nexperia data (or reads ``--data``), hashes every
image with ``common.dedup.dhash`` and prints, against the threshold ``common.dedup.calibrate`` chooses on it
(at most ``MAX_DISTANCE``): the largest distance inside a planted near-duplicate group (must be <= the
threshold), the smallest distance between two images of different planted groups (must be > the threshold),
the nearest such pair, and the confirming detail correlation: the smallest inside planted near groups (must be
>= ``MIN_CORRELATION``) and the largest between unrelated images.

    python bench/dedup_margins.py                      # tiny test set and demo default, seeds 0-2
    python bench/dedup_margins.py --data data/nexperia # an existing synthetic dataset
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from common.dedup import MAX_DISTANCE, MIN_CORRELATION, calibrate, detail, dhash, md5_hashes
from competitions.nexperia.data import load_data, read_truth_file
from competitions.nexperia.synth import generate

SIZES = {"tiny": (240, 60), "default": (3000, 750)}  # tests/nexperia/conftest.py TINY; make demo


def distances(hashes: np.ndarray, chunk: int = 512) -> np.ndarray:
    """Full (N, N) dHash bit distances."""
    out = np.empty((len(hashes), len(hashes)), np.int16)
    for start in range(0, len(hashes), chunk):
        out[start:start + chunk] = np.bitwise_count(hashes[start:start + chunk, None] ^ hashes[None]).sum(axis=2)
    return out


def margins(data_dir: Path, cache: Path) -> dict:
    data = load_data(data_dir, cache_dir=cache)
    truth = read_truth_file(data_dir).set_index("id")
    ids = np.concatenate([data.train_ids, data.test_ids])
    images = np.concatenate([data.train_images, data.test_images])
    hashes, details = dhash(images), detail(images)
    dist = distances(hashes)
    corr = details @ details.T
    group = truth.loc[ids, "dup_group"].to_numpy()
    kind = truth.loc[ids, "dup_kind"].fillna("").to_numpy()
    own = np.where(group >= 0, group, -1 - np.arange(len(ids)))  # unplanted images form groups of one
    same = own[:, None] == own[None, :]
    near = same & (kind[:, None] == "near") & ~np.eye(len(ids), dtype=bool)
    unrelated = np.where(same, np.iinfo(np.int16).max, dist)
    i, j = np.unravel_index(np.argmin(unrelated), unrelated.shape)
    threshold = calibrate(images, hashes, details, md5_hashes(images))
    return {"images": len(ids), "near_groups": len(set(group[kind == "near"])), "threshold": threshold.bits,
            "near_max": int(dist[near].max()) if near.any() else None,
            "unrelated_min": int(unrelated[i, j]), "nearest_unrelated": (ids[i], ids[j]),
            "near_corr_min": float(corr[near].min()) if near.any() else float("nan"),
            "unrelated_corr_max": float(corr[~same].max())}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", choices=sorted(SIZES), default=["tiny", "default"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--data", type=Path, help="measure this synthetic dataset instead of drawing new ones")
    ap.add_argument("--workers", type=int, default=2, help="processes drawing the images")
    args = ap.parse_args(argv)
    print(f"dHash threshold calibrated per data set, at most MAX_DISTANCE = {MAX_DISTANCE} bits of 256; "
          f"detail correlation >= {MIN_CORRELATION} confirms")
    print(f"{'data':<22} {'images':>6} {'near groups':>11} {'threshold':>9} {'near max':>8} {'unrelated min':>13} "
          f"{'near corr min':>13} {'unrelated corr max':>18}  nearest unrelated pair")
    with tempfile.TemporaryDirectory() as tmp:
        cases = ([(str(args.data), args.data)] if args.data else
                 [(f"{size} seed {seed}", None, size, seed) for size in args.sizes for seed in args.seeds])
        for name, path, *plan in cases:
            if path is None:
                size, seed = plan
                n_train, n_test = SIZES[size]
                path = generate(Path(tmp) / name.replace(" ", "-"), n_train=n_train, n_test=n_test, seed=seed,
                                workers=args.workers, progress=False)
            m = margins(path, Path(tmp) / "cache" / name.replace(" ", "-").replace("/", "_"))
            print(f"{name:<22} {m['images']:>6} {m['near_groups']:>11} {m['threshold']:>9} {m['near_max']:>8} "
                  f"{m['unrelated_min']:>13} {m['near_corr_min']:>13.4f} {m['unrelated_corr_max']:>18.4f}  "
                  + " / ".join(m["nearest_unrelated"]))


if __name__ == "__main__":
    main()
