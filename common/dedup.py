"""Image duplicates: exact (md5 of the pixels) and near matches within and across train and test.

Groups of near-identical images feed stratified-group folds, so a duplicate never sits on both sides of a
train/validation split; exact train-test matches can hand their train label to the test prediction
(``apply_exact_matches``). Works on any ``(N, H, W)`` uint8 image arrays.

A near pair takes two measures. The dHash distance finds candidates within a threshold calibrated on the data set
(:func:`calibrate`): distinct photographs of one texture under one lamp can sit a few bits apart, while a
re-saved copy of a low-contrast image can move a dozen. The correlation of the pairs' detail (the gradients of
the images shrunk to 32x32, where a shared lighting falloff adds almost nothing) then confirms each candidate;
only confirmed pairs (and byte-identical images) form groups.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

HASH_SIZE = 16          # dHash of 16x16 bits: finer than the usual 8x8, as every device image looks alike
MAX_DISTANCE = 16       # the most differing bits of 256 a candidate pair may have, whatever the calibration says
DEDUP_VERSION = 3       # bumped whenever the hash's bits or the grouping rule change: cached tables are not reused
DETAIL_SIZE = 32        # the grid whose gradients the confirming correlation compares
MIN_CORRELATION = 0.95  # detail correlation that confirms a candidate pair (bench/dedup_margins.py)
NULL_PAIRS = 20_000     # random pairs whose distances show how close unrelated images of the data set come
NULL_QUANTILE = 0.01    # the threshold stays at half the distance that this share of unrelated pairs reach ...
COPY_IMAGES = 500       # ... unless a re-save of these many sampled images moves more bits than that
MIN_NULL_PAIRS = 500    # fewer unrelated pairs than this: too few to calibrate, MAX_DISTANCE is the threshold


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


def area_means(images: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """(N, rows, cols) float64 exact area means of each image's cells (see :func:`area_weights`)."""
    images = np.asarray(images)
    weights_rows, weights_cols = area_weights(images.shape[1], rows), area_weights(images.shape[2], cols).T
    scale = images.shape[1] * images.shape[2]
    return np.stack([weights_rows @ im.astype(np.float64) @ weights_cols for im in images]) / scale


def detail(images: np.ndarray, size: int = DETAIL_SIZE, chunk: int = 256) -> np.ndarray:
    """(N, 2 * size * (size - 1)) float32 unit vectors of each image's detail: the horizontal and vertical
    differences of its ``size x size`` area means, centred. A smooth lighting falloff shared by two photographs
    adds a near-constant to them, so their dot product (a Pearson correlation) measures content; a flat image
    gives zeros and correlates with nothing."""
    images = np.asarray(images)
    out = np.zeros((len(images), 2 * size * (size - 1)), np.float32)
    for start in range(0, len(images), chunk):
        grid = area_means(images[start:start + chunk], size, size)
        diffs = np.concatenate([np.diff(grid, axis=2).reshape(len(grid), -1),
                                np.diff(grid, axis=1).reshape(len(grid), -1)], axis=1)
        diffs -= diffs.mean(axis=1, keepdims=True)
        norm = np.linalg.norm(diffs, axis=1, keepdims=True)
        out[start:start + chunk] = np.divide(diffs, norm, out=np.zeros_like(diffs), where=norm > 1e-6)
    return out


def correlations(details: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Detail correlation of each index pair (rows of :func:`detail`)."""
    return np.einsum("ij,ij->i", details[pairs[:, 0]], details[pairs[:, 1]]) if len(pairs) else np.empty(0)


def hash_distances(hashes: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    return np.bitwise_count(hashes[pairs[:, 0]] ^ hashes[pairs[:, 1]]).sum(axis=1, dtype=np.int32)


def resaved(images: np.ndarray, seed: int = 0) -> np.ndarray:
    """The images as a re-save would give them: 2% brighter, 3 grey levels up and noise of 2 grey levels (in the
    issue's texture photographs this moves at least as many dHash bits as a JPEG re-encode at quality 90)."""
    noise = np.random.default_rng(seed).normal(0.0, 2.0, images.shape)
    return np.clip(images * 1.02 + 3.0 + noise + 0.5, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Threshold:
    """The dHash threshold of one data set and what chose it."""
    bits: int
    rule: str
    null_pairs: int = 0                   # unrelated random pairs measured
    null_quantile_bits: float | None = None  # NULL_QUANTILE of their distances
    copy_bits: float | None = None        # 99% of the bits a re-save moves


def random_pairs(n: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """Up to ``count`` distinct index pairs (i < j) of ``n`` items: all of them when there are fewer."""
    total = n * (n - 1) // 2
    if total <= count:
        return np.stack(np.triu_indices(n, 1), axis=1)
    i, j = rng.integers(0, n, count), rng.integers(0, n - 1, count)
    j = j + (j >= i)
    return np.unique(np.sort(np.stack([i, j], axis=1), axis=1), axis=0)


def calibrate(images: np.ndarray, hashes: np.ndarray, details: np.ndarray, md5: np.ndarray,
              min_correlation: float = MIN_CORRELATION, cap: int = MAX_DISTANCE, seed: int = 0) -> Threshold:
    """The dHash threshold of a data set: half the distance the closest 1% of its unrelated pairs reach (random
    pairs, leaving out byte-identical and confirmed ones), raised to the 99% of bits a re-save moves on its own
    images (so that copies stay candidates where the hash is fragile), and never above ``cap``."""
    rng = np.random.default_rng(seed)
    pairs = random_pairs(len(hashes), NULL_PAIRS, rng)
    if len(pairs):
        pairs = pairs[(md5[pairs[:, 0]] != md5[pairs[:, 1]]) & (correlations(details, pairs) < min_correlation)]
    if len(pairs) < MIN_NULL_PAIRS:
        return Threshold(cap, f"fixed at {cap} bits: {len(pairs)} unrelated pairs, too few to calibrate "
                              f"(< {MIN_NULL_PAIRS})", len(pairs))
    null = float(np.quantile(hash_distances(hashes, pairs), NULL_QUANTILE))
    sample = np.sort(rng.choice(len(images), min(COPY_IMAGES, len(images)), replace=False))
    moved = np.bitwise_count(hashes[sample] ^ dhash(resaved(np.asarray(images)[sample], seed))).sum(axis=1)
    copy = float(np.quantile(moved, 0.99))
    bits = int(min(cap, max(np.floor(null / 2), np.ceil(copy))))
    rule = (f"calibrated to {bits} bits: half of {null:g}, the {NULL_QUANTILE:.0%} quantile of {len(pairs)} "
            f"unrelated pairs' distances, at least {copy:g}, the 99% of bits a re-save moves, at most {cap}")
    return Threshold(bits, rule, len(pairs), null, copy)


@dataclass
class Duplicates:
    """One row per image (train first, then test): ``id, split, label, md5, group, group_size, exact_size``; and
    how near pairs were found (``calibration``: the threshold, its rule, candidate and confirmed pairs)."""
    table: pd.DataFrame
    calibration: dict = field(default_factory=dict)

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
        """What was grouped (counts, mixed-label groups, the largest group) and how (``calibration``)."""
        g = self.groups()
        train = g[g["split"] == "train"]
        return {
            "images": int(len(self.table)),
            "images_with_duplicates": int(len(g)),
            "groups": int(g["group"].nunique()),
            "largest_group": int(g["group_size"].max()) if len(g) else 0,
            "train_groups": int(train.groupby("group").size().gt(1).sum()),
            "train_groups_conflicting_labels": int(train.loc[train["conflicting_labels"], "group"].nunique()),
            "train_test_groups": int(g.loc[g["train_test"], "group"].nunique()),
            "exact_train_test_matches": int(len(self.exact_test_labels())),
            **self.calibration,
        }

    def warnings(self) -> list[str]:
        """Lines worth a WARNING: groups mixing train labels, and a large share of the images grouped."""
        s, out = self.summary(), []
        if s["train_groups_conflicting_labels"]:
            out.append(f"{s['train_groups_conflicting_labels']} duplicate group(s) mix train labels: copies labelled "
                       "both ways, or distinct images grouped; see conflicting_labels in the duplicates table")
        if s["images"] and s["images_with_duplicates"] > 0.2 * s["images"]:
            out.append(f"{s['images_with_duplicates']} of {s['images']} images are in duplicate groups (largest "
                       f"{s['largest_group']}); the folds keep each group together: if they are not copies, lower "
                       "--max-distance or raise --min-correlation")
        return out

    def exact_test_labels(self) -> pd.Series:
        """Test id -> train label for test images byte-identical to train images that agree on one label."""
        t = self.table[self.table["exact_size"] > 1]
        train = t[t["split"] == "train"].groupby("md5")["label"].agg(["nunique", "first"])
        agreed = train.loc[train["nunique"] == 1, "first"]
        test = t[(t["split"] == "test") & t["md5"].isin(agreed.index)]
        return pd.Series(test["md5"].map(agreed).astype(int).to_numpy(), index=test["id"].to_numpy(), name="label")


def find_duplicates(train_images: np.ndarray, train_ids: np.ndarray, train_labels: np.ndarray,
                    test_images: np.ndarray, test_ids: np.ndarray, max_distance: int | None = None,
                    min_correlation: float = MIN_CORRELATION) -> Duplicates:
    """Group train and test images linked by identical pixels, or by a dHash distance within the threshold
    (``max_distance``; None: :func:`calibrate` it on these images) confirmed by a detail correlation of at least
    ``min_correlation``."""
    images_n = len(train_images) + len(test_images)
    md5 = np.concatenate([md5_hashes(train_images), md5_hashes(test_images)])
    hashes = np.concatenate([dhash(train_images), dhash(test_images)]) if images_n else np.empty((0, 4), np.uint64)
    details = (np.concatenate([detail(train_images), detail(test_images)]) if images_n
               else np.empty((0, 2 * DETAIL_SIZE * (DETAIL_SIZE - 1)), np.float32))
    if max_distance is None:
        threshold = calibrate(np.concatenate([train_images, test_images]) if len(train_images) and len(test_images)
                              and train_images.shape[1:] == test_images.shape[1:] else train_images,
                              hashes, details, md5, min_correlation)
    else:
        threshold = Threshold(max_distance, f"set to {max_distance} bits (--max-distance)")
    candidates = near_pairs(hashes, threshold.bits)
    pairs = candidates[correlations(details, candidates) >= min_correlation]
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
    calibration = {"max_distance": threshold.bits, "threshold_rule": threshold.rule,
                   "null_pairs": threshold.null_pairs, "null_quantile_bits": threshold.null_quantile_bits,
                   "copy_bits": threshold.copy_bits, "min_correlation": min_correlation,
                   "candidate_pairs": int(len(candidates)), "confirmed_pairs": int(len(pairs))}
    return Duplicates(table, calibration)


def apply_exact_matches(test_pred: pd.DataFrame, dups: Duplicates, id_col: str = "id",
                        score_col: str = "pred") -> tuple[pd.DataFrame, int]:
    """Set the score of test images byte-identical to labelled train images to that label; returns (df, n set)."""
    labels = dups.exact_test_labels()
    out = test_pred.copy()
    hit = out[id_col].astype(str).isin(labels.index)
    out.loc[hit, score_col] = out.loc[hit, id_col].astype(str).map(labels).astype(float)
    return out, int(hit.sum())
