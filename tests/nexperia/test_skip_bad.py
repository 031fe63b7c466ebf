"""Bad images are no dead end (Trust issue, item 2): with --skip-bad, a corrupt TRAIN image keeps the shared
folds.csv (it trains and validates nowhere), a corrupt TEST image gets the documented fallback score (the
mean test prediction of the fold) so test.csv keeps every test id, and every image CLI takes --skip-bad."""
from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from competitions.nexperia import baseline, features, noisy, predict, train, vae
from competitions.nexperia.data import TEST_FALLBACK, BadImagesError, get_folds, load_data
from competitions.nexperia.synth import generate


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("skipbad") / "data", n_train=120, n_test=30, seed=0, progress=False)


@pytest.fixture
def setup(clean, tmp_path):
    """A copy of the data, the shared folds.csv made on the clean data, then one train and one test .bmp
    overwritten with junk bytes."""
    data = tmp_path / "data"
    shutil.copytree(clean, data)
    runs, cache = tmp_path / "runs", tmp_path / "cache"
    folds_before = get_folds(load_data(data, cache), n_splits=3, runs_dir=runs)
    bad_train = sorted((data / "train" / "train_contest" / "good_all").iterdir())[3]
    bad_test = sorted((data / "test" / "test_contest" / "test").iterdir())[5]
    for path in (bad_train, bad_test):
        path.write_bytes(b"BM junk, not a bitmap" * 3)
    return {"clean": clean, "data": data, "runs": runs, "cache": cache,
            "bad_train": bad_train.stem, "bad_test": bad_test.stem,
            "folds_before": folds_before, "folds_bytes": (runs / "nexperia" / "folds.csv").read_bytes(),
            "common": ["--data", str(data), "--runs-dir", str(runs), "--cache-dir", str(cache), "--n-splits", "3",
                       "--no-progress"]}


def _check_run(root, s, fold_ids=None):
    """The run keeps the shared folds, leaves the bad train image out, scores every test id."""
    oof = pd.read_csv(root / "oof.csv", dtype={"id": str})
    test = pd.read_csv(root / "test.csv", dtype={"id": str})
    assert (s["runs"] / "nexperia" / "folds.csv").read_bytes() == s["folds_bytes"]  # the shared folds unchanged
    assert s["bad_train"] not in set(oof["id"])
    folds = s["folds_before"].set_index("id")["fold"]
    expected = set(folds.index[folds.isin(oof["fold"].unique())]) - {s["bad_train"]}
    assert set(oof["id"]) == expected
    assert len(test) == 30 and test["id"].is_unique and s["bad_test"] in set(test["id"])
    others = test.loc[test["id"] != s["bad_test"], "pred"]
    fallback = test.loc[test["id"] == s["bad_test"], "pred"].item()
    assert fallback == pytest.approx(others.mean(), rel=1e-6)  # the folds' means, averaged
    skipped = pd.read_csv(root / "skipped_images.csv", dtype={"id": str})
    assert sorted(skipped["id"]) == sorted([s["bad_train"], s["bad_test"]])
    assert skipped.set_index("id").loc[s["bad_test"], "fallback"] == TEST_FALLBACK
    metrics = json.loads((root / "metrics.json").read_text())
    assert metrics["skipped_images"] == {"train": [s["bad_train"]], "test": [s["bad_test"]],
                                         "test_fallback": TEST_FALLBACK}
    assert metrics["folds"]["0"]["test_fallback"]["ids"] == [s["bad_test"]]
    return oof, test


@pytest.mark.slow
def test_without_skip_bad_the_error_recommends_an_option_every_cli_has(setup):
    for main, extra in [(baseline.main, []), (vae.main, ["--epochs", "1", "--threads", "1"]),
                        (train.main, ["--epochs", "1", "--threads", "1"])]:
        with pytest.raises(BadImagesError, match="2 bad image.*--skip-bad"):
            main(setup["common"] + extra)
    assert (setup["runs"] / "nexperia" / "folds.csv").read_bytes() == setup["folds_bytes"]
    assert not (setup["runs"] / "nexperia" / "logreg").exists()  # no config.yaml left behind to lock the name


@pytest.mark.slow
def test_baseline_skip_bad_keeps_folds_and_scores_every_test_id(setup):
    run = baseline.main(setup["common"] + ["--skip-bad", "--fold", "all"])
    _check_run(run.root, setup)


@pytest.mark.slow
def test_vae_skip_bad(setup):
    vae.main(setup["common"] + ["--skip-bad", "--epochs", "1", "--heatmaps", "0", "--threads", "1"])
    _check_run(setup["runs"] / "nexperia" / "vae-conv", setup)


@pytest.mark.slow
def test_train_and_predict_skip_bad(setup):
    small = ["--epochs", "1", "--img-size", "32", "--batch-size", "32", "--workers", "0", "--gradcam", "0",
             "--model", "resnet18", "--model-kwargs", "{channels: [8, 8, 8, 8]}", "--tta-compare", "none",
             "--tta", "none"]
    run = train.main(setup["common"] + ["--skip-bad", "--name", "cnn", "--threads", "1"] + small)
    _check_run(run.root, setup)
    derived = predict.main(["--run", str(run.root), "--tta", "hflip", "--workers", "0", "--no-progress",
                            "--skip-bad"])
    _check_run(derived.root, setup)


@pytest.mark.slow
def test_features_and_noisy_skip_bad(setup):
    features.main(setup["common"] + ["--skip-bad", "--img-size", "32", "--classifiers", "logreg", "--no-plots",
                                     "--model-kwargs", "{channels: [8, 8, 8, 8]}"])
    oof, _ = _check_run(setup["runs"] / "nexperia" / "feat-logreg", setup)
    run = setup["runs"] / "nexperia" / "feat-logreg"
    report = noisy.main(["--oof", str(run), "--data", str(setup["data"]), "--cache-dir", str(setup["cache"]),
                         "--skip-bad", "--grid", "4"])
    assert report["n_rows"] == len(oof)  # every OOF row audited, the bad train image among none of them
    suspects = pd.read_csv(run / "audit" / "suspects.csv", dtype={"id": str})
    assert len(suspects) == report["n_suspects"] and setup["bad_train"] not in set(suspects["id"])
    assert set(suspects["id"]) <= set(oof["id"])
    if report["n_suspects"]:  # the grid leaves the bad image out and still draws the others
        assert (run / "audit" / "suspects.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_folds_first_made_by_a_skip_bad_run_include_the_bad_image(setup, tmp_path):
    """A fold file made while an image was unreadable still fits once the image is repaired."""
    (setup["runs"] / "nexperia" / "folds.csv").unlink()
    data = load_data(setup["data"], setup["cache"], skip_bad=True)
    folds = get_folds(data, n_splits=3, runs_dir=setup["runs"])
    assert folds["id"].tolist() == data.train_ids.tolist()
    saved = pd.read_csv(setup["runs"] / "nexperia" / "folds.csv", dtype={"id": str})
    assert setup["bad_train"] in set(saved["id"]) and len(saved) == 120
    saved_bytes = (setup["runs"] / "nexperia" / "folds.csv").read_bytes()
    name = f"train/train_contest/good_all/{setup['bad_train']}.bmp"
    shutil.copy(setup["clean"] / name, setup["data"] / name)  # the image repaired
    with pytest.raises(BadImagesError, match="1 bad image"):  # the test image is still bad
        load_data(setup["data"], setup["cache"])
    data = load_data(setup["data"], setup["cache"], skip_bad=True)  # only the test image is skipped now
    assert setup["bad_train"] in set(data.train_ids)
    folds = get_folds(data, n_splits=3, runs_dir=setup["runs"])
    assert (setup["runs"] / "nexperia" / "folds.csv").read_bytes() == saved_bytes
    assert len(folds) == 120


def test_a_truly_unknown_id_in_the_fold_file_is_still_named(setup):
    path = setup["runs"] / "nexperia" / "folds.csv"
    folds = pd.read_csv(path, dtype={"id": str})
    pd.concat([folds, pd.DataFrame({"id": ["stranger"], "fold": [0]})]).to_csv(path, index=False)
    data = load_data(setup["data"], setup["cache"], skip_bad=True)
    with pytest.raises(ValueError, match=r"1 unknown ids \(e.g. \['stranger'\]\)"):
        get_folds(data, n_splits=3, runs_dir=setup["runs"])
