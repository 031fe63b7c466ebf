"""The synthetic Nexperia generator: layout and formats of the real contest, determinism, planted truth."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.metrics import roc_auc_score

import competitions.nexperia.synth.writer as writer
from competitions.nexperia.synth import generate
from competitions.nexperia.synth.render import DEFECT_TYPES
from competitions.nexperia.synth.scene import BAND
from tests.nexperia.conftest import TINY

ID_PATTERN = re.compile(r"^[A-Z]{3}\d{6}[A-Z]\d[A-Z]_\d{2}-\d[A-Z]{2}-[A-Z]{5}\d{2}-\d_\d+_\d+$")
FOLDERS = {"good_all": "train/train_contest/good_all", "defect": "train/train_contest/defect",
           "test": "test/test_contest/test"}


def _truth(data: Path) -> pd.DataFrame:
    return pd.read_csv(data / "_truth.csv", keep_default_na=False)


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): _md5(p) for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout_matches_contest(nexperia_data: Path) -> None:
    truth = _truth(nexperia_data)
    stems = {k: sorted(p.stem for p in (nexperia_data / f).iterdir()) for k, f in FOLDERS.items()}
    assert all(p.suffix == ".bmp" for f in FOLDERS.values() for p in (nexperia_data / f).iterdir())
    train = truth[truth["split"] == "train"]
    assert stems["good_all"] == sorted(train.loc[train["label_given"] == "0", "id"])
    assert stems["defect"] == sorted(train.loc[train["label_given"] == "1", "id"])
    assert stems["test"] == sorted(truth.loc[truth["split"] == "test", "id"])
    assert len(stems["good_all"]) + len(stems["defect"]) == TINY["n_train"]
    assert len(stems["test"]) == TINY["n_test"]
    all_ids = [i for s in stems.values() for i in s]
    assert len(set(all_ids)) == len(all_ids)
    assert all(ID_PATTERN.match(i) for i in all_ids), [i for i in all_ids if not ID_PATTERN.match(i)][:3]


def test_images_are_8bit_single_channel_bmp(nexperia_data: Path) -> None:
    paths = [next((nexperia_data / f).iterdir()) for f in FOLDERS.values()]
    for path in paths:
        raw = path.read_bytes()
        assert raw[:2] == b"BM" and int.from_bytes(raw[28:30], "little") == 8  # bits per pixel
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert img.shape == (267, 275) and img.dtype == np.uint8
        with Image.open(path) as im:
            assert im.mode == "L" and im.size == (275, 267)
            assert np.array_equal(np.asarray(im), img)


def test_csv_files_match_contest(nexperia_data: Path) -> None:
    area = pd.read_csv(nexperia_data / "defect_area.csv")
    sub = pd.read_csv(nexperia_data / "submission_sample.csv")
    assert list(area.columns) == ["id", "x_1", "y_1", "x_2", "y_2"]
    assert list(sub.columns) == ["id", "defect_score"]
    test_stems = {p.stem for p in (nexperia_data / FOLDERS["test"]).iterdir()}
    assert len(sub) == len(test_stems) and set(sub["id"]) == test_stems
    defect_stems = {p.stem for p in (nexperia_data / FOLDERS["defect"]).iterdir()}
    assert set(area["id"]) <= defect_stems
    assert 0.85 <= len(area) / len(defect_stems) < 1.0  # most labelled defects have a box, not all
    x1, y1, x2, y2 = (area[c] for c in ["x_1", "y_1", "x_2", "y_2"])
    assert ((BAND[0] <= x1) & (x1 < x2) & (x2 <= BAND[2]) & (BAND[1] <= y1) & (y1 < y2) & (y2 <= BAND[3])).all()


def test_labels_types_and_boxes(nexperia_data: Path) -> None:
    truth = _truth(nexperia_data)
    for split in ("train", "test"):
        assert 0.15 <= truth.loc[truth["split"] == split, "label_true"].mean() <= 0.25
    defects = truth[truth["label_true"] == 1]
    assert set(defects["defect_type"]) <= set(DEFECT_TYPES) and defects["defect_type"].nunique() >= 6
    assert (defects[["x_1", "y_1", "x_2", "y_2"]] != "").all().all()
    assert (truth.loc[truth["label_true"] == 0, ["defect_type", "x_1"]] == "").all().all()
    assert (truth.loc[truth["split"] == "test", "label_given"] == "").all()
    area = pd.read_csv(nexperia_data / "defect_area.csv").set_index("id")
    boxes = defects.set_index("id").loc[area.index, ["x_1", "y_1", "x_2", "y_2"]].astype(int)
    assert boxes.equals(area)


def test_planted_label_noise(nexperia_data: Path) -> None:
    truth = _truth(nexperia_data)
    flipped = truth[truth["flipped"] == 1]
    true_train_defects = ((truth["split"] == "train") & (truth["label_true"] == 1)).sum()
    assert len(flipped) == round(TINY["noise_rate"] * true_train_defects) >= 1
    assert (flipped["split"] == "train").all() and (flipped["label_true"] == 1).all()
    assert (flipped["label_given"] == "0").all()
    assert all((nexperia_data / FOLDERS["good_all"] / f"{i}.bmp").exists() for i in flipped["id"])
    unflipped = truth[(truth["split"] == "train") & (truth["flipped"] == 0)]
    assert (unflipped["label_given"].astype(int) == unflipped["label_true"]).all()


def test_planted_duplicates(nexperia_data: Path) -> None:
    truth = _truth(nexperia_data)
    dups = truth[truth["dup_group"] >= 0]
    assert set(dups["dup_kind"]) == {"exact", "near"}
    groups = list(dups.groupby("dup_group"))
    assert any(set(g["split"]) == {"train", "test"} for _, g in groups)
    assert any(g["label_given"].isin(["0"]).any() and g["label_given"].isin(["1"]).any() for _, g in groups)
    pixels = {i: cv2.imread(str(nexperia_data / p), cv2.IMREAD_UNCHANGED).astype(np.float32)
              for i, p in zip(dups["id"], dups["path"])}
    for _, g in groups:
        assert g["dup_kind"].nunique() == 1 and g["label_true"].nunique() == 1 and len(g) >= 2
        digests = {_md5(nexperia_data / p) for p in g["path"]}
        first, *rest = (pixels[i] for i in g["id"])
        if g["dup_kind"].iloc[0] == "exact":
            assert len(digests) == 1
        else:
            assert len(digests) == len(g)
            for other in rest:
                assert 0 < np.abs(first - other).mean() < 10
                assert np.corrcoef(first.ravel(), other.ravel())[0, 1] > 0.97
    unrelated = truth[(truth["dup_group"] < 0)].head(2)["path"]
    a, b = (cv2.imread(str(nexperia_data / p), cv2.IMREAD_UNCHANGED).astype(np.float32) for p in unrelated)
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] < 0.97


@pytest.mark.slow
def test_same_seed_same_bytes_whatever_workers(tmp_path: Path) -> None:
    small = {"n_train": 60, "n_test": 12, "noise_rate": 0.05, "progress": False}
    a = _tree_digest(generate(tmp_path / "a", seed=3, **small))
    b = _tree_digest(generate(tmp_path / "b", seed=3, workers=2, chunk_size=16, **small))
    c = _tree_digest(generate(tmp_path / "c", seed=4, **small))
    assert a == b
    assert len(a) == 72 + 4  # images, defect_area, submission_sample, _truth, _synth.json
    assert a.keys() != c.keys()
    assert a["_truth.csv"] != c["_truth.csv"]


@pytest.mark.slow
def test_resume_and_refusals(tmp_path: Path) -> None:
    small = {"n_train": 60, "n_test": 12, "progress": False}
    out = generate(tmp_path / "d", seed=1, **small)
    reference = _tree_digest(out)
    some_image = next((out / FOLDERS["test"]).iterdir())
    some_image.unlink()
    (out / "_synth.json").write_text((out / "_synth.json").read_text().replace('"complete": true', '"complete": false'))
    generate(out, seed=1, **small)  # incomplete: redone, same files
    assert _tree_digest(out) == reference
    with pytest.raises(FileExistsError, match="other parameters"):
        generate(out, seed=2, **small)
    generate(out, seed=2, overwrite=True, **small)
    assert _tree_digest(out) != reference
    real = tmp_path / "real"
    (real / "train/train_contest/good_all").mkdir(parents=True)
    with pytest.raises(FileExistsError, match="not made by this generator"):
        generate(real, seed=1, **small)


@pytest.mark.slow
def test_killed_run_resumes_from_finished_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    small = {"n_train": 60, "n_test": 12, "seed": 5, "chunk_size": 20, "progress": False}
    reference = _tree_digest(generate(tmp_path / "ref", **small))
    real_render_chunk, calls = writer.render_chunk, []

    def dies_on_third_chunk(out: Path, tasks: list) -> pd.DataFrame:
        calls.append(len(tasks))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_render_chunk(out, tasks)

    monkeypatch.setattr(writer, "render_chunk", dies_on_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        generate(tmp_path / "run", **small)
    assert len(list((tmp_path / "run" / "_parts").iterdir())) == 2
    calls.clear()
    generate(tmp_path / "run", **small)
    assert calls == [20, 12]  # only the two chunks not finished before the kill
    assert _tree_digest(tmp_path / "run") == reference


def _band(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)[80:210, 4:248].astype(np.float32)
    img = (img - img.mean()) / (img.std() + 1e-6)
    return cv2.resize(img, (122, 65), interpolation=cv2.INTER_AREA)


@pytest.mark.slow
def test_defects_are_a_real_local_signal(nexperia_data: Path) -> None:
    """A nearest-good-neighbour detector finds the defects: align each image to 8 images labelled good of
    the same product (product code from the id), keep the smallest absolute difference per pixel and
    score the image by its largest smoothed residual. Needs no training, so it works on 300 images."""
    truth = _truth(nexperia_data)
    product = truth["id"].str.split("_").str[1]
    bands = [_band(nexperia_data / p) for p in truth["path"]]
    good = np.flatnonzero(((truth["split"] == "train") & (truth["label_given"] == "0")).to_numpy())
    window = cv2.createHanningWindow((122, 65), cv2.CV_32F)
    rng = np.random.default_rng(0)
    scores = []
    for i in range(len(truth)):
        pool = [j for j in good if j != i and product[j] == product[i]]
        residuals = []
        for j in rng.choice(pool, 8, replace=False):
            (dx, dy), _ = cv2.phaseCorrelate(bands[j], bands[i], window)
            moved = cv2.warpAffine(bands[j], np.float32([[1, 0, dx], [0, 1, dy]]), (122, 65),
                                   borderMode=cv2.BORDER_REFLECT)
            residuals.append(np.abs(bands[i] - moved))
        scores.append(cv2.GaussianBlur(np.min(residuals, 0), (0, 0), 1)[4:-4, 4:-4].max())
    assert roc_auc_score(truth["label_true"], scores) > 0.8  # 0.87-0.92 over seeds 0-3


@pytest.mark.slow
def test_shift_option_is_deterministic_and_off_by_default(tmp_path: Path) -> None:
    """--shift 0 writes exactly the default files; a shift gives the same bytes whatever the workers, changes
    only the flagged test images (no train-test duplicates among them) and records them in _truth.csv."""
    small = {"n_train": 60, "n_test": 20, "noise_rate": 0.05, "progress": False, "seed": 3}
    plain = _tree_digest(generate(tmp_path / "plain", **small))
    assert _tree_digest(generate(tmp_path / "zero", shift=0.0, **small)) == plain
    a = _tree_digest(generate(tmp_path / "a", shift=0.5, **small))
    assert _tree_digest(generate(tmp_path / "b", shift=0.5, workers=2, chunk_size=16, **small)) == a
    truth = pd.read_csv(tmp_path / "a" / "_truth.csv")
    shifted = truth[truth["shifted"] == 1]
    assert len(shifted) == 10 and (shifted["split"] == "test").all() and (shifted["dup_group"] < 0).all()
    changed = {k for k in a if a[k] != plain.get(k)}
    assert changed == {*shifted["path"], "_truth.csv", "_synth.json"}
    for rel in shifted["path"].head(3):
        before = cv2.imread(str(tmp_path / "plain" / rel), cv2.IMREAD_UNCHANGED).astype(np.float32)
        after = cv2.imread(str(tmp_path / "a" / rel), cv2.IMREAD_UNCHANGED).astype(np.float32)
        assert after.std() < before.std() and after.mean() > before.mean()  # lower contrast, brighter
    with pytest.raises(ValueError, match="shift"):
        generate(tmp_path / "bad", shift=2.0, **small)
