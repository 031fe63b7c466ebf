"""adversarial.py on tiny synthetic images, with and without a planted acquisition shift of test images."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from common.cli import run_cli
from competitions.nexperia import adversarial
from competitions.nexperia.synth import generate
from tests.nexperia.conftest import TINY


@pytest.fixture(scope="module")
def roots(tmp_path_factory) -> list[str]:
    root = tmp_path_factory.mktemp("nx_adv")
    return ["--runs-dir", str(root / "runs"), "--cache-dir", str(root / "cache"), "--no-progress"]


@pytest.fixture(scope="module")
def shifted_data(tmp_path_factory) -> Path:
    """The tiny dataset with half of its test images shot with a changed acquisition."""
    return generate(tmp_path_factory.mktemp("nx_shift") / "data", progress=False, shift=0.5, **TINY)


def run_dir(roots: list[str], name: str) -> Path:
    return Path(roots[1]) / "nexperia" / name


@pytest.mark.slow
def test_planted_shift_is_found(shifted_data, roots):
    report = adversarial.main(["--data", str(shifted_data), "--name", "stats", "--features", "stats",
                               "--n-splits", "3", *roots])
    assert report["auc"]["ci_low"] > 0.6, report["auc"]
    assert report["truth"]["n_shifted"] == 30
    assert report["truth"]["recall_at_n_shifted"] >= 0.7, report["truth"]
    assert report["truth"]["shifted_vs_unshifted_test_auc"] > 0.85
    run = run_dir(roots, "stats")
    for name in ("adversarial.json", "test_likeness.csv", "test_rows_likeness.csv", "weights.csv",
                 "test_like_train.png", "test_like_test.png", "shifted_features.csv", "shifted_features.png"):
        assert (run / name).is_file(), name
    truth = pd.read_csv(shifted_data / "_truth.csv")
    weights = pd.read_csv(run / "weights.csv")
    assert list(weights.columns) == ["id", "weight"]
    assert sorted(weights["id"]) == sorted(truth.loc[truth["split"] == "train", "id"])
    assert weights["weight"].mean() == pytest.approx(1.0) and (weights["weight"] > 0).all()
    assert len(pd.read_csv(run / "test_rows_likeness.csv")) == 60


@pytest.mark.slow
def test_pixels_with_lightgbm(shifted_data, roots):
    report = adversarial.main(["--data", str(shifted_data), "--name", "pix", "--classifier", "lgbm",
                               "--pixel-size", "8", "--n-splits", "3", *roots])
    assert report["n_features"] == 64 and report["auc"]["auc"] > 0.55
    assert json.loads((run_dir(roots, "pix") / "adversarial.json").read_text())["classifier"] == "lgbm"


@pytest.mark.slow
def test_without_shift_the_ci_covers_one_half(nexperia_data, roots):
    report = adversarial.main(["--data", str(nexperia_data), "--name", "noshift", "--features", "stats",
                               "--n-splits", "3", *roots])
    assert report["covers_half"], report["auc"]
    assert report["truth"] == {"shift": 0}


@pytest.mark.slow
@pytest.mark.parametrize("extra,expected", [
    (["--features", "run", "--checkpoint-run", "no/such/run"], "run folder not found"),
    (["--pretrained", "w.bin"], "need --features run"),
])
def test_bad_input_is_one_line(nexperia_data, roots, capsys, extra, expected):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(adversarial.main, ["--data", str(nexperia_data), "--name", "bad", *roots, *extra])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and expected in err[0], err


@pytest.mark.slow
def test_test_images_copied_from_training_images_give_one_half(nexperia_data, roots, tmp_path):
    """The probe: the test folder holds copies of a random quarter of the training images (so both sets come from
    one distribution). The kit's duplicate groups put each copy in its twin's fold: the AUC's CI covers 0.5 and
    no leak is reported."""
    import shutil

    import numpy as np
    copied = tmp_path / "copied"
    shutil.copytree(nexperia_data, copied)
    test_dir = copied / "test" / "test_contest" / "test"
    shutil.rmtree(test_dir)
    test_dir.mkdir()
    train = sorted((copied / "train" / "train_contest").glob("*/*.bmp"))
    picked = np.random.default_rng(0).choice(len(train), size=60, replace=False)
    for i, image in enumerate(train[j] for j in picked):
        shutil.copy(image, test_dir / f"copy{i:03d}.bmp")
    (copied / "submission_sample.csv").unlink(missing_ok=True)
    report = adversarial.main(["--data", str(copied), "--name", "copies", "--features", "stats", "--n-splits", "3",
                               *roots])
    assert report["covers_half"] and report["leak_warning"] is None, report["auc"]
    assert report["duplicate_groups"] >= 55  # a copy of an image of a planted group joins that group
