"""Duplicate finding on plain arrays: exact and near groups, exact train-test labels, the leak fix."""
import numpy as np
import pandas as pd

from common.dedup import apply_exact_matches, find_duplicates


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
