"""Reading the contest layouts into the memory-mapped cache, and the duplicate-aware folds."""
import os
import re
import shutil

import cv2
import numpy as np
import pandas as pd
import pytest

import competitions.nexperia.data as nd
from competitions.nexperia.data import get_folds, load_data, read_truth_file, train_groups


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def test_load_data_matches_the_files_and_the_truth(nexperia_data, cache):
    data = load_data(nexperia_data, cache_dir=cache)
    truth = read_truth_file(nexperia_data).set_index("id")
    train_truth = truth[truth["split"] == "train"]
    assert sorted(data.train_ids) == list(data.train_ids) == sorted(train_truth.index)
    assert sorted(data.test_ids) == sorted(truth.index[truth["split"] == "test"])
    assert data.train_labels.dtype == np.int8
    np.testing.assert_array_equal(data.train_labels, train_truth.loc[data.train_ids, "label_given"].to_numpy())
    assert data.train_images.shape == (len(data.train_ids), 267, 275) and data.image_shape == (267, 275)
    assert isinstance(data.train_images, np.memmap) and data.train_images.dtype == np.uint8
    for split, ids, images, rel in (("train", data.train_ids, data.train_images, None),
                                    ("test", data.test_ids, data.test_images, None)):
        k = len(ids) // 2
        path = nexperia_data / truth.loc[ids[k], "path"]
        np.testing.assert_array_equal(images[k], cv2.imread(str(path), cv2.IMREAD_GRAYSCALE))
    assert list(data.defect_boxes.columns) == ["id", "x_1", "y_1", "x_2", "y_2"]
    assert set(data.defect_boxes["id"]) <= set(data.train_ids[data.train_labels == 1]) | set(train_truth.index)
    assert list(data.sample_submission.columns) == ["id", "defect_score"]
    assert set(data.sample_submission["id"]) == set(data.test_ids)
    assert len(data.skipped) == 0


def test_cache_is_reused_and_renewed_when_a_file_changes(nexperia_data, cache, tmp_path, monkeypatch):
    first = load_data(nexperia_data, cache_dir=cache)

    def no_decoding(path):
        raise AssertionError(f"decoded {path} although the cache exists")

    monkeypatch.setattr(nd, "_decode", no_decoding)
    again = load_data(nexperia_data, cache_dir=cache)
    assert again.cache_dir == first.cache_dir
    np.testing.assert_array_equal(again.train_images[:5], first.train_images[:5])
    monkeypatch.undo()

    copy = tmp_path / "data"
    shutil.copytree(nexperia_data, copy)
    assert load_data(copy, cache_dir=cache).cache_dir == load_data(copy, cache_dir=cache).cache_dir
    before = load_data(copy, cache_dir=cache).cache_dir
    some = next((copy / "test" / "test_contest" / "test").iterdir())
    os.utime(some, ns=(1_000_000_000, 1_000_000_000))
    assert load_data(copy, cache_dir=cache).cache_dir != before


def test_older_layout_with_jpgs(nexperia_data, cache, tmp_path):
    data = load_data(nexperia_data, cache_dir=cache)
    old = tmp_path / "old"
    for folder in ("train/good_0", "train/bad_1", "test/all_tests"):
        (old / folder).mkdir(parents=True)
    picks = list(range(0, len(data.train_ids), 12))
    for i in picks:
        label_dir = "bad_1" if data.train_labels[i] else "good_0"
        cv2.imwrite(str(old / "train" / label_dir / f"{data.train_ids[i]}.jpg"), data.train_images[i][:224, :224])
    for i in range(6):
        cv2.imwrite(str(old / "test" / "all_tests" / f"t{i}.jpg"), data.test_images[i][:224, :224])
    pd.DataFrame({"id": [f"t{i}.jpg" for i in range(6)], "label": 0}).to_csv(old / "sample_submission.csv",
                                                                             index=False)
    loaded = load_data(old, cache_dir=cache)
    assert loaded.image_shape == (224, 224)
    np.testing.assert_array_equal(loaded.train_ids, data.train_ids[picks])
    np.testing.assert_array_equal(loaded.train_labels, data.train_labels[picks])
    assert list(loaded.test_ids) == [f"t{i}" for i in range(6)]
    assert list(loaded.sample_submission.columns) == ["id", "label"]
    assert list(loaded.sample_submission["id"]) == [f"t{i}.jpg" for i in range(6)]  # kept as written
    assert len(loaded.defect_boxes) == 0 and read_truth_file(old) is None
    assert loaded.sample_submission["id"].map(nd.id_of).tolist() == list(loaded.test_ids)  # ids without extension


def test_folds_keep_duplicate_groups_whole_and_are_saved(nexperia_data, cache, tmp_path):
    data = load_data(nexperia_data, cache_dir=cache)
    folds = get_folds(data, n_splits=4, runs_dir=tmp_path)
    assert (tmp_path / "nexperia" / "folds.csv").is_file()
    assert list(folds["id"]) == list(data.train_ids)
    truth = read_truth_file(nexperia_data).set_index("id").loc[data.train_ids]
    fold_of = folds.set_index("id")["fold"]
    for _, members in truth[truth["dup_group"] >= 0].groupby("dup_group"):
        assert fold_of.loc[members.index].nunique() == 1
    for k in range(4):
        assert data.train_labels[folds["fold"].to_numpy() == k].sum() > 0
    groups = train_groups(data)
    assert len(groups) == len(data.train_ids) and len(np.unique(groups)) < len(groups)
    pd.testing.assert_frame_equal(get_folds(data, n_splits=4, runs_dir=tmp_path), folds)


def test_true_labels_follow_the_ids_and_name_unknown_ones():
    import pandas as pd
    import pytest

    from competitions.nexperia.data import planted_labels

    truth = pd.DataFrame({"id": ["a", "b", "c"], "label_true": [1, 0, 1]})
    assert planted_labels(truth, ["c", "a", "b"]).tolist() == [1, 1, 0]
    with pytest.raises(ValueError, match=r"1 ids are missing from the truth file, e.g. \['zz'\]"):
        planted_labels(truth, ["a", "zz"])


def test_skipped_images_carry_split_id_and_label_even_in_a_cache_of_a_copy(nexperia_data, tmp_path):
    """``data.skipped`` says which split, id and given label each bad image had (for the shared folds and the
    test fallback), also when the cache was written for another copy of the same files."""
    first = tmp_path / "a"
    shutil.copytree(nexperia_data, first)
    bad_defect = sorted((first / "train" / "train_contest" / "defect").iterdir())[0]
    bad_test = sorted((first / "test" / "test_contest" / "test").iterdir())[0]
    for path in (bad_defect, bad_test):
        path.write_bytes(b"junk")
    second = tmp_path / "b"
    shutil.copytree(first, second, copy_function=shutil.copy2)  # same names, sizes and times: same cache key
    cached = load_data(first, cache_dir=tmp_path / "cache", skip_bad=True).cache_dir
    data = load_data(second, cache_dir=tmp_path / "cache", skip_bad=True)
    assert data.cache_dir == cached and str(first) in data.skipped["path"].iloc[0]  # the first copy's paths
    table = data.skipped.set_index("id")
    assert table.loc[bad_defect.stem, ["split", "label"]].tolist() == ["train", 1]
    assert table.loc[bad_test.stem, ["split", "label"]].tolist() == ["test", -1]
    assert data.skipped_ids("train").tolist() == [bad_defect.stem]
    assert data.skipped_ids("test").tolist() == [bad_test.stem]
    folds = get_folds(data, n_splits=4, runs_dir=tmp_path / "runs")
    saved = pd.read_csv(tmp_path / "runs" / "nexperia" / "folds.csv", dtype={"id": str})
    assert folds["id"].tolist() == data.train_ids.tolist()
    assert bad_defect.stem in set(saved["id"]) and len(saved) == len(data.train_ids) + 1


def test_a_killed_decode_leaves_nothing_behind(nexperia_data, tmp_path):
    """A ``<key>.tmp-<pid>`` folder of a decode whose process died is removed when the data is next loaded."""
    cache = tmp_path / "cache"
    load_data(nexperia_data, cache_dir=cache)
    dead = cache / "0123456789abcdef.tmp-999999999"  # no such process
    (dead / "part").mkdir(parents=True)
    load_data(nexperia_data, cache_dir=cache)
    assert not dead.exists()


def test_files_a_mac_or_windows_leaves_are_ignored_and_counted(nexperia_data, tmp_path, caplog):
    """``._X.bmp`` AppleDouble copies, ``.DS_Store`` and ``Thumbs.db`` beside the images are no images: left out
    (with a count in the log), so no run carries an id ``._X``; the data loads as the clean copy does."""
    clean = load_data(nexperia_data, cache_dir=tmp_path / "clean")
    mac = tmp_path / "mac"
    shutil.copytree(nexperia_data, mac)
    test_dir = mac / "test" / "test_contest" / "test"
    first = sorted(test_dir.iterdir())[0]
    (test_dir / f"._{first.name}").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X")
    (test_dir / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (mac / "train" / "train_contest" / "defect" / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    with caplog.at_level("INFO", logger=nd.log.name):
        data = load_data(mac, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(data.test_ids, clean.test_ids)
    np.testing.assert_array_equal(data.train_ids, clean.train_ids)
    assert not any(i.startswith(".") for i in data.test_ids) and data.skipped.empty
    assert f"ignored 2 hidden/system file(s) in {test_dir} (e.g. .DS_Store, ._{first.name})" in caplog.text
    assert "ignored 1 hidden/system file(s)" in caplog.text


def test_one_id_with_two_image_files_is_refused_naming_both(nexperia_data, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(nexperia_data, data)
    test_dir = data / "test" / "test_contest" / "test"
    first = sorted(test_dir.iterdir())[0]
    cv2.imwrite(str(first.with_suffix(".png")), cv2.imread(str(first), cv2.IMREAD_GRAYSCALE))
    message = f"1 image id(s) in {test_dir} have two files, e.g. {first.stem}.bmp and {first.stem}.png: keep one"
    with pytest.raises(ValueError, match=re.escape(message)):
        load_data(data, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_no_defect_images_is_named_as_a_data_problem(nexperia_data, tmp_path):
    data_dir = tmp_path / "data"
    shutil.copytree(nexperia_data, data_dir)
    defect = data_dir / "train" / "train_contest" / "defect"
    for image in defect.iterdir():
        image.unlink()
    data = load_data(data_dir, cache_dir=tmp_path / "cache")
    with pytest.raises(ValueError, match=rf"no training images of class \[1\] in {re.escape(str(defect))}: ROC-AUC "
                                         "needs both good and defect images"):
        get_folds(data, runs_dir=tmp_path / "runs")
    assert not (tmp_path / "runs" / "nexperia" / "folds.csv").exists()


def test_a_folds_file_of_other_data_says_how_to_go_on(nexperia_data, tmp_path):
    data = load_data(nexperia_data, cache_dir=tmp_path / "cache")
    runs = tmp_path / "runs"
    (runs / "nexperia").mkdir(parents=True)
    other = pd.DataFrame({"id": [f"other{i}" for i in range(10)], "fold": [0, 1] * 5})
    other.to_csv(runs / "nexperia" / "folds.csv", index=False)
    path = runs / "nexperia" / "folds.csv"
    with pytest.raises(ValueError, match=re.escape(f"fold file {path} was made for other data: ") + ".*" + re.escape(
            f"give this data its own runs folder (--runs-dir DIR), or move {path} away to make new folds")):
        get_folds(data, runs_dir=runs)
    assert pd.read_csv(path).equals(other)  # left as it was
