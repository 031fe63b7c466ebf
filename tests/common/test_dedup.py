"""Duplicate finding on plain arrays: the dHash grid, exact and near groups, exact train-test labels, the leak fix."""
import pytest
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd

from common.dedup import apply_exact_matches, dhash, find_duplicates


def hash_bits(hashes: np.ndarray, n_bits: int) -> list[int]:
    return np.unpackbits(hashes.view(np.uint8), axis=1)[:, :n_bits].tolist()


def test_dhash_of_an_image_worked_by_hand():
    # 3x4 pixels -> a 2x3 grid: each cell is 1.5 rows by 4/3 columns. Cell (0, 0) takes row 0 whole and half
    # of row 1, column 0 whole and a third of column 1: (0 + 90/3 + 30/2 + 30/6) / (1.5 * 4/3) = 25.
    # The grid's means: [[25, 60, 42.5], [40, 40, 62.5]]; a bit is 'right cell brighter': 1 0 / 0 1 (40 = 40: 0).
    image = np.array([[0, 90, 30, 60],
                      [30, 30, 90, 0],
                      [60, 0, 60, 90]], np.uint8)
    hashes = dhash(image[None], hash_size=2)
    assert hashes.shape == (1, 1) and hashes.dtype == np.uint64
    assert hash_bits(hashes, 4) == [[1, 0, 0, 1]]


def exact_area_means(image: np.ndarray, rows: int, cols: int) -> list[list[Fraction]]:
    """The mean of each cell of a rows x cols grid over the pixels' exact areas, in rational numbers."""
    h, w = image.shape

    def overlap(pixel: int, n_in: int, cell: int, n_out: int) -> Fraction:
        lo = max(Fraction(pixel), Fraction(cell * n_in, n_out))
        hi = min(Fraction(pixel + 1), Fraction((cell + 1) * n_in, n_out))
        return max(hi - lo, Fraction(0))

    return [[sum(overlap(y, h, r, rows) * overlap(x, w, c, cols) * int(image[y, x]) for y in range(h) for x in range(w))
             / (Fraction(h, rows) * Fraction(w, cols)) for c in range(cols)] for r in range(rows)]


def test_dhash_grid_is_the_exact_area_mean_on_sizes_that_do_not_divide():
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (3, 13, 11), dtype=np.uint8)
    images[2] = 100
    images[2, :, 6] = 101  # one grey level brighter: 0.6 of it in cell 2 (x 4.4-6.6), 0.4 in cell 3 (x 6.6-8.8)
    hashes = dhash(images, hash_size=4)
    for image, got in zip(images, hash_bits(hashes, 16)):
        means = exact_area_means(image, 4, 5)
        assert got == [int(row[c + 1] > row[c]) for row in means for c in range(4)]
    assert hash_bits(hashes, 16)[2] == [0, 1, 0, 0] * 4


@pytest.mark.slow
def test_dedup_needs_no_image_library():
    # OpenCV's and Pillow's resize round differently between releases; the hash must not ride on either
    code = "import sys, common.dedup; print(sorted(m for m in ('cv2', 'PIL') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[2], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_find_duplicates_on_arrays():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 255, (4, 40, 44), dtype=np.uint8)
    test = images[[2]].copy()
    dups = find_duplicates(images, np.array(["a", "b", "c", "d"]), np.array([0, 1, 1, 0]), test, np.array(["t"]))
    assert dups.exact_test_labels().to_dict() == {"t": 1}
    assert dups.summary()["images_with_duplicates"] == 2


def test_near_duplicates_group_but_only_exact_matches_hand_over_labels():
    rng = np.random.default_rng(2)
    images = rng.integers(0, 255, (3, 40, 44), dtype=np.uint8)
    near = np.clip(images[0].astype(int) + 2, 0, 255).astype(np.uint8)  # a brightness change: near, not exact
    test = np.stack([near, images[1]])
    dups = find_duplicates(images, np.array(["a", "b", "c"]), np.array([1, 0, 1]), test, np.array(["n", "e"]))
    table = dups.table.set_index("id")
    assert table.loc["n", "group"] == table.loc["a", "group"] and table.loc["n", "exact_size"] == 1
    assert dups.summary()["train_test_groups"] == 2
    fixed, n_set = apply_exact_matches(pd.DataFrame({"id": ["n", "e"], "pred": [0.3, 0.7]}), dups)
    assert n_set == 1 and fixed["pred"].tolist() == [0.3, 0.0]


def test_conflicting_train_labels_give_no_test_label():
    image = np.full((1, 20, 20), 7, np.uint8)
    dups = find_duplicates(np.concatenate([image, image]), np.array(["a", "b"]), np.array([0, 1]), image,
                           np.array(["t"]))
    assert dups.exact_test_labels().empty and dups.summary()["train_groups_conflicting_labels"] == 1
