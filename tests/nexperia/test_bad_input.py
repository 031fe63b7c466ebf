"""Bad input gets a clear error naming the file: corrupt, empty or wrongly sized images, missing folders,
a missing weight file; with --skip-bad the bad images are left out and listed."""
import shutil

import cv2
import numpy as np
import pandas as pd
import pytest

from competitions.nexperia import train
from competitions.nexperia.data import BadImagesError, get_folds, load_data


@pytest.fixture
def copy(nexperia_data, tmp_path):
    target = tmp_path / "data"
    shutil.copytree(nexperia_data, target)
    return target


def _some_images(folder, n):
    return sorted(folder.iterdir())[:n]


def test_corrupt_empty_and_wrongly_sized_images_are_named(copy, tmp_path):
    good = copy / "train" / "train_contest" / "good_all"
    corrupt, empty, small = _some_images(good, 3)
    corrupt.write_bytes(b"BM this is not a bitmap")
    empty.write_bytes(b"")
    cv2.imwrite(str(small), np.zeros((100, 120), np.uint8))
    with pytest.raises(BadImagesError) as err:
        load_data(copy, cache_dir=tmp_path / "cache")
    message = str(err.value)
    assert "3 bad image(s)" in message and "--skip-bad" in message
    assert f"{corrupt}: unreadable image" in message
    assert f"{empty}: empty file" in message
    assert f"{small}: size 100x120, expected 267x275" in message
    assert not list((tmp_path / "cache").glob("*/meta.json"))  # nothing half-written was kept

    data = load_data(copy, cache_dir=tmp_path / "cache", skip_bad=True)
    assert len(data.train_ids) == len(list(good.iterdir())) + len(list((good.parent / "defect").iterdir())) - 3
    assert not {p.stem for p in (corrupt, empty, small)} & set(data.train_ids)
    assert sorted(data.skipped["path"]) == sorted(map(str, (corrupt, empty, small)))
    assert (data.cache_dir / "skipped.csv").is_file()


def test_skip_bad_run_lists_skipped_images(copy, tmp_path, monkeypatch):
    test_dir = copy / "test" / "test_contest" / "test"
    (bad,) = _some_images(test_dir, 1)
    bad.write_bytes(b"\x00" * 50)
    monkeypatch.setattr(train, "train_cnn", lambda *a, **k: None)
    with pytest.raises(BadImagesError, match=bad.name):
        train.main(["--data", str(copy), "--runs-dir", str(tmp_path / "runs"), "--cache-dir", str(tmp_path / "c"),
                    "--n-splits", "4"])
    run = train.main(["--data", str(copy), "--runs-dir", str(tmp_path / "runs"), "--cache-dir", str(tmp_path / "c"),
                      "--n-splits", "4", "--skip-bad"])
    skipped = pd.read_csv(run.root / "skipped_images.csv")
    assert skipped["path"].tolist() == [str(bad)]
    # a bad TEST image gets the documented fallback score rather than leaving the submission short of an id
    assert skipped["split"].tolist() == ["test"] and skipped["fallback"].tolist() == ["mean test prediction of the fold"]
    assert run.metrics()["skipped_images"]["test"] == [bad.stem]


def test_missing_folders(copy, tmp_path):
    with pytest.raises(FileNotFoundError, match="data folder not found"):
        load_data(tmp_path / "nowhere", cache_dir=tmp_path / "cache")
    shutil.rmtree(copy / "test" / "test_contest" / "test")
    with pytest.raises(FileNotFoundError, match="test_contest/test"):
        load_data(copy, cache_dir=tmp_path / "cache")
    shutil.rmtree(copy / "train")
    with pytest.raises(FileNotFoundError, match="no Nexperia layout .*good_all"):
        load_data(copy, cache_dir=tmp_path / "cache")


def test_missing_weight_file(nexperia_data, tmp_path):
    missing = tmp_path / "resnet18.a1_in1k.safetensors"
    with pytest.raises(FileNotFoundError, match=f"--pretrained: weight file not found: {missing}"):
        train.main(["--data", str(nexperia_data), "--runs-dir", str(tmp_path / "runs"), "--cache-dir",
                    str(tmp_path / "cache"), "--n-splits", "4", "--pretrained", str(missing), "--no-progress"])


def test_bad_fold_and_config(nexperia_data, tmp_path):
    common = ["--data", str(nexperia_data), "--runs-dir", str(tmp_path / "runs"), "--cache-dir", str(tmp_path / "c"),
              "--n-splits", "4"]
    with pytest.raises(ValueError, match=r"--fold \[7\] outside 0..3"):
        train.main(common + ["--fold", "7"])
    config = tmp_path / "bad.yaml"
    config.write_text("img_sise: 64\n")
    with pytest.raises(ValueError, match="img_sise"):
        train.main(common + ["--config", str(config)])


@pytest.mark.slow
def test_n_splits_other_than_the_shared_fold_files_is_refused(nexperia_data, tmp_path):
    """Issue 38: --n-splits 3 with a 4-fold folds.csv trained folds 0-2 of the 4-fold file."""
    runs = tmp_path / "runs"
    get_folds(load_data(nexperia_data, cache_dir=tmp_path / "c"), n_splits=4, runs_dir=runs)
    folds = runs / "nexperia" / "folds.csv"
    with pytest.raises(ValueError, match=f"^fold file {folds} holds 4 folds but --n-splits is 3: use --n-splits 4"):
        train.main(["--data", str(nexperia_data), "--runs-dir", str(runs), "--cache-dir", str(tmp_path / "c"),
                    "--n-splits", "3", "--name", "three", "--no-progress", "--fold", "0", "--model", "resnet18",
                    "--model-kwargs", "{channels: [8, 16, 32, 64], stem_width: 8}", "--img-size", "32", "--epochs",
                    "1", "--workers", "0", "--threads", "1", "--gradcam", "0", "--tta-compare", "none"])
    assert not (runs / "nexperia" / "three").exists()
