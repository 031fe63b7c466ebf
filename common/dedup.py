"""Image duplicates: exact (md5 of the pixels) and perceptual (dHash) matches within and across train and test.

Groups of near-identical images feed stratified-group folds, so a duplicate never sits on both sides of a
train/validation split; exact train-test matches can hand their train label to the test prediction
(``apply_exact_matches``). Works on any ``(N, H, W)`` uint8 image arrays.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

HASH_SIZE = 16          # dHash of 16x16 bits: finer than the usual 8x8, as every device image looks alike
MAX_DISTANCE = 16       # near duplicates: at most this many of the 256 bits differ (bench/dedup_margins.py)
DHASH_VERSION = 2       # bumped whenever the hash's bits change, so that cached duplicate tables are not reused


def md5_hashes(images: np.ndarray) -> np.ndarray:
    """md5 hex digest of each image's pixels (the same for byte-identical files)."""
    return np.array([hashlib.md5(np.ascontiguousarray(im).tobytes()).hexdigest() for im in images])


def area_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) integer overlap of each input pixel with each of ``n_out`` equal cells covering the axis.

    On a grid scaled by ``n_in * n_out``, pixel i spans [i*n_out, (i+1)*n_out) and cell o spans
    [o*n_in, (o+1)*n_in), so every cell's weights sum to ``n_in`` and a weighted sum is an exact area mean
    times a constant.
    """
    pix = np.arange(n_in)
    cell = np.arange(n_out)[:, None]
    overlap = np.minimum((pix + 1) * n_out, (cell + 1) * n_in) - np.maximum(pix * n_out, cell * n_in)
    return np.clip(overlap, 0, None).astype(np.float64)


def dhash(images: np.ndarray, hash_size: int = HASH_SIZE, chunk: int = 256) -> np.ndarray:
    """Difference hash per image: (N, hash_size**2 // 64) uint64 words of 'cell brighter than its right neighbour'.

    The (hash_size, hash_size + 1) grid is the exact mean over each cell's pixel area, computed in numpy
    rather than with an image library's resize, whose rounding differs between releases (OpenCV 4 and 5
    give other INTER_AREA grids) and would move duplicates across the threshold. Pixels and weights are
    integers and every sum stays below 2**53, so the float64 products are exact in any order.
    """
    images = np.asarray(images)
    bits = np.empty((len(images), hash_size * hash_size), dtype=bool)
    if len(images):
        rows = area_weights(images.shape[1], hash_size)
        cols = area_weights(images.shape[2], hash_size + 1).T
        for start in range(0, len(images), chunk):
            cells = rows @ images[start:start + chunk].astype(np.float64) @ cols
            bits[start:start + chunk] = (cells[:, :, 1:] > cells[:, :, :-1]).reshape(len(cells), -1)
    packed = np.packbits(bits, axis=1)
    packed = np.pad(packed, ((0, 0), (0, (-packed.shape[1]) % 8)))
    return packed.view(np.uint64)


def near_pairs(hashes: np.ndarray, max_distance: int = MAX_DISTANCE, chunk: int = 512) -> np.ndarray:
    """Index pairs (i < j) whose dHashes differ in at most ``max_distance`` bits (chunked brute force)."""
    pairs = []
    for start in range(0, len(hashes), chunk):
        block = hashes[start:start + chunk]
        rest = hashes[start:]
        dist = np.bitwise_count(block[:, None, :] ^ rest[None, :, :]).sum(axis=2, dtype=np.int32)
        i, j = np.nonzero(dist <= max_distance)
        keep = j > i
        pairs.append(np.stack([i[keep] + start, j[keep] + start], axis=1))
    return np.concatenate(pairs) if pairs else np.empty((0, 2), dtype=np.int64)


@dataclass
class Duplicates:
    """One row per image (train first, then test): ``id, split, label, md5, group, group_size, exact_size``."""
    table: pd.DataFrame

    def groups(self) -> pd.DataFrame:
        """Rows of images that have at least one duplicate, with the groups' flags."""
        dups = self.table[self.table["group_size"] > 1].copy()
        train = dups[dups["split"] == "train"]
        conflict = train.groupby("group")["label"].nunique() > 1
        splits = dups.groupby("group")["split"].nunique() > 1
        dups["conflicting_labels"] = dups["group"].map(conflict).fillna(False).astype(bool)
        dups["train_test"] = dups["group"].map(splits).astype(bool)
        return dups.sort_values(["group", "split", "id"]).reset_index(drop=True)

    def summary(self) -> dict:
        g = self.groups()
        train = g[g["split"] == "train"]
        return {
            "images_with_duplicates": int(len(g)),
            "groups": int(g["group"].nunique()),
            "train_groups": int(train.groupby("group").size().gt(1).sum()),
            "train_groups_conflicting_labels": int(train.loc[train["conflicting_labels"], "group"].nunique()),
            "train_test_groups": int(g.loc[g["train_test"], "group"].nunique()),
            "exact_train_test_matches": int(len(self.exact_test_labels())),
        }

    def exact_test_labels(self) -> pd.Series:
        """Test id -> train label for test images byte-identical to train images that agree on one label."""
        t = self.table[self.table["exact_size"] > 1]
        train = t[t["split"] == "train"].groupby("md5")["label"].agg(["nunique", "first"])
        agreed = train.loc[train["nunique"] == 1, "first"]
        test = t[(t["split"] == "test") & t["md5"].isin(agreed.index)]
        return pd.Series(test["md5"].map(agreed).astype(int).to_numpy(), index=test["id"].to_numpy(), name="label")


def find_duplicates(train_images: np.ndarray, train_ids: np.ndarray, train_labels: np.ndarray,
                    test_images: np.ndarray, test_ids: np.ndarray, max_distance: int = MAX_DISTANCE) -> Duplicates:
    """Group train and test images linked by identical pixels or dHash distance <= ``max_distance``."""
    images_n = len(train_images) + len(test_images)
    md5 = np.concatenate([md5_hashes(train_images), md5_hashes(test_images)])
    hashes = np.concatenate([dhash(train_images), dhash(test_images)]) if images_n else np.empty((0, 4), np.uint64)
    pairs = near_pairs(hashes, max_distance)
    exact = pd.Series(np.arange(images_n)).groupby(md5).transform("first").to_numpy()
    rows = np.concatenate([pairs[:, 0], np.arange(images_n)])
    cols = np.concatenate([pairs[:, 1], exact])
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(images_n, images_n))
    _, group = connected_components(graph, directed=False)
    table = pd.DataFrame({
        "id": np.concatenate([train_ids, test_ids]).astype(str),
        "split": ["train"] * len(train_ids) + ["test"] * len(test_ids),
        "label": np.concatenate([train_labels.astype(int), np.full(len(test_ids), -1)]),
        "md5": md5,
        "group": group,
    })
    table["group_size"] = table.groupby("group")["id"].transform("size")
    table["exact_size"] = table.groupby("md5")["id"].transform("size")
    return Duplicates(table)


def apply_exact_matches(test_pred: pd.DataFrame, dups: Duplicates, id_col: str = "id",
                        score_col: str = "pred") -> tuple[pd.DataFrame, int]:
    """Set the score of test images byte-identical to labelled train images to that label; returns (df, n set)."""
    labels = dups.exact_test_labels()
    out = test_pred.copy()
    hit = out[id_col].astype(str).isin(labels.index)
    out.loc[hit, score_col] = out.loc[hit, id_col].astype(str).map(labels).astype(float)
    return out, int(hit.sum())
