"""Duplicate detection against the generator's planted exact and near duplicates; the leak fix hook."""
import json

import numpy as np
import pandas as pd
import pytest

from common.dedup import apply_exact_matches, dhash, near_pairs
from competitions.nexperia.data import duplicates_of, load_data, read_truth_file
from competitions.nexperia.dedup import main
from competitions.nexperia.leak import leak_fix


@pytest.fixture(scope="module")
def data(nexperia_data, tmp_path_factory):
    return load_data(nexperia_data, cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def dups(data):
    return duplicates_of(data)


def test_groups_equal_the_planted_duplicates(data, dups, nexperia_data):
    truth = read_truth_file(nexperia_data).set_index("id")
    table = dups.table.set_index("id")
    found = {frozenset(g.index) for _, g in table[table["group_size"] > 1].groupby("group")}
    planted = {frozenset(g.index) for _, g in truth[truth["dup_group"] >= 0].groupby("dup_group")}
    assert found == planted
    exact = {frozenset(g.index) for _, g in table[table["exact_size"] > 1].groupby("md5")}
    assert exact == {frozenset(g.index) for _, g in truth[truth["dup_kind"] == "exact"].groupby("dup_group")}


def test_report_flags_conflicts_and_train_test_matches(data, dups, nexperia_data):
    truth = read_truth_file(nexperia_data)
    report = dups.groups()
    planted = truth[truth["dup_group"] >= 0]
    conflicting = planted[planted["split"] == "train"].groupby("dup_group")["label_given"].nunique().gt(1).sum()
    across = planted.groupby("dup_group")["split"].nunique().gt(1).sum()
    summary = dups.summary()
    assert summary["train_groups_conflicting_labels"] == conflicting >= 1
    assert summary["train_test_groups"] == across >= 1
    assert report.loc[report["conflicting_labels"], "split"].eq("train").any()
    assert set(report.columns) >= {"id", "split", "label", "group", "conflicting_labels", "train_test"}


def test_leak_fix_sets_exact_train_test_matches_to_the_train_label(data, dups, nexperia_data):
    truth = read_truth_file(nexperia_data)
    exact = truth[truth["dup_kind"] == "exact"]
    expected = {}
    for _, g in exact.groupby("dup_group"):
        train_labels = g.loc[g["split"] == "train", "label_given"].unique()
        if len(train_labels) == 1:
            expected.update({i: float(train_labels[0]) for i in g.loc[g["split"] == "test", "id"]})
    assert expected
    test = pd.DataFrame({"id": data.test_ids, "pred": 0.5})
    fixed, n = apply_exact_matches(test, dups)
    assert n == len(expected)
    got = fixed.set_index("id")["pred"]
    for i, label in expected.items():
        assert got[i] == label
    assert (got.drop(list(expected)) == 0.5).all()
    hooked, info = leak_fix(test, nexperia_data)  # the registry's leak-fix hook does the same
    pd.testing.assert_frame_equal(hooked, fixed)
    assert info == {"n_exact_matches": len(expected), "n_changed": len(expected)}


def test_dhash_is_stable_under_noise_and_differs_between_images(data):
    rng = np.random.default_rng(0)
    image = data.train_images[0]
    noisy = np.clip(image.astype(int) + rng.integers(-3, 4, image.shape), 0, 255).astype(np.uint8)
    hashes = dhash(np.stack([image, noisy, data.train_images[1], image[:, ::-1]]))
    assert hashes.shape == (4, 4) and hashes.dtype == np.uint64
    dist = np.bitwise_count(hashes[0] ^ hashes).sum(axis=1)
    assert dist[1] <= 16 < dist[2] and dist[3] > 16
    assert near_pairs(hashes, 16).tolist() == [[0, 1]]


def test_command_line_writes_the_report(nexperia_data, data, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KIT_CACHE_ROOT", str(tmp_path / "cache"))
    out = tmp_path / "dups.csv"
    main(["--data", str(nexperia_data), "--out", str(out)])
    report = pd.read_csv(out)
    assert report["group"].nunique() == read_truth_file(nexperia_data).query("dup_group >= 0")["dup_group"].nunique()
    printed = capsys.readouterr().out
    assert "train_test_groups" in printed and "threshold_rule" in printed
    summary = json.loads((tmp_path / "dedup_summary.json").read_text())
    assert summary["groups"] == report["group"].nunique()
    assert summary["largest_group"] == report.groupby("group").size().max()
    assert summary["train_groups_conflicting_labels"] >= 1
    assert any(line.startswith("WARNING:") and "mix train labels" in line for line in printed.splitlines())


def test_the_synthetic_devices_keep_the_threshold_of_16_bits(dups):
    # unrelated synthetic devices lie 39 bits and more apart (bench/dedup_margins.py): calibration changes nothing
    summary = dups.summary()
    assert summary["max_distance"] == 16 and summary["null_quantile_bits"] >= 32
    assert "calibrated to 16 bits" in summary["threshold_rule"]
    assert summary["confirmed_pairs"] == summary["candidate_pairs"]
