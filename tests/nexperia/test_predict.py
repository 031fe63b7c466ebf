"""Re-predicting a finished run's folds from their checkpoints with another TTA, as a derived run."""
import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from competitions.nexperia import predict, train

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def run(nexperia_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    return train.main(["--data", str(nexperia_data), "--runs-dir", str(root / "runs"), "--cache-dir",
                       str(root / "cache"), "--name", "p", "--model", "resnet18", "--model-kwargs",
                       "{channels: [8, 16, 32, 64], stem_width: 8}", "--img-size", "32", "--epochs", "2",
                       "--batch-size", "32", "--n-splits", "4", "--workers", "0", "--threads", "1",
                       "--no-progress", "--gradcam", "0", "--tta", "flips", "--tta-compare", "none", "flips"])


@pytest.fixture(autouse=True)
def runs_root(run, monkeypatch):
    """The runs root of the module's run: derived runs go there."""
    monkeypatch.setenv("KIT_RUNS_ROOT", str(run.root.parent.parent))
    return run.root.parent.parent


def _files(root):
    return {p.relative_to(root): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_same_tta_reproduces_the_runs_predictions(run):
    before = _files(run.root)
    derived = predict.main(["--run", str(run.root), "--tta", "flips", "--workers", "0", "--no-progress"])
    assert derived.root == run.root.parent / "p-tta-flips"
    for name in ("oof.csv", "test.csv"):
        new, old = (pd.read_csv(r.root / name, dtype={"id": str}) for r in (derived, run))
        assert list(new["id"]) == list(old["id"])
        np.testing.assert_allclose(new["pred"], old["pred"], atol=2e-3)
    config = yaml.safe_load((derived.root / "config.yaml").read_text())
    assert config["run"] == str(run.root.resolve()) and config["source_config"]["name"] == "p"
    assert _files(run.root) == before  # the source run is read, never written (not even its log)


@pytest.mark.slow
def test_checkpoints_describe_themselves_and_predict_without_config_yaml(run, nexperia_data, tmp_path, monkeypatch):
    """A checkpoint carries its model card (input size, normalisation with its numbers, memory format, the
    augmentation it saw, its run's TTA, the kit version): a copy of the run without config.yaml predicts the same."""
    import shutil

    from common.vision.card import read_card
    from common.vision.checkpoints import load_checkpoint
    card = load_checkpoint(run.root / "fold0" / "best.pt")["card"]
    assert card["img_size"] == 32 and card["norm"] == "fixed" and card["channels"] == 1
    assert card["mean"] == pytest.approx(0.449, abs=1e-3) and card["std"] == pytest.approx(0.226, abs=1e-3)
    assert card["augment"] == "light" and card["tta"] == "flips" and card["kit_version"] == "0.1.0"
    assert read_card(run.root / "fold0" / "last.pt").inputs == read_card(run.root / "fold0" / "best.pt").inputs
    bare = tmp_path / "runs" / "nexperia" / "bare"
    shutil.copytree(run.root, bare, ignore=shutil.ignore_patterns("config.yaml", ".lock"))
    monkeypatch.setenv("KIT_CACHE_ROOT", str(tmp_path / "cache"))
    derived = predict.main(["--run", str(bare), "--data", str(nexperia_data), "--workers", "0", "--no-progress"])
    assert derived.root.name == "bare-tta-flips"  # the run's own TTA, read from the card
    for name in ("oof.csv", "test.csv"):
        new, old = (pd.read_csv(folder / name, dtype={"id": str}) for folder in (derived.root, run.root))
        assert list(new["id"]) == list(old["id"])
        np.testing.assert_allclose(new["pred"], old["pred"], atol=2e-3)


@pytest.mark.slow
def test_a_copied_runs_derived_run_goes_under_the_runs_root(run, runs_root, tmp_path):
    """Issue 38: a derived run of a run copied elsewhere was written under the copy's grandparent."""
    import shutil

    copy = tmp_path / "elsewhere" / "copy"
    shutil.copytree(run.root, copy, ignore=shutil.ignore_patterns(".lock"))
    derived = predict.main(["--run", str(copy), "--fold", "0", "--workers", "0", "--no-progress"])
    assert derived.root == runs_root / "nexperia" / "copy-tta-flips" and derived.completed_folds() == [0]
    assert not (tmp_path / "nexperia").exists()
    other = predict.main(["--run", str(copy), "--fold", "0", "--workers", "0", "--no-progress", "--runs-dir",
                          str(tmp_path / "mine")])
    assert other.root == tmp_path / "mine" / "nexperia" / "copy-tta-flips"


def test_another_tta_gives_the_variant_the_run_reported(run):
    derived = predict.main(["--run", str(run.root), "--tta", "none", "--workers", "0", "--no-progress"])
    before = json.loads((run.root / "metrics.json").read_text())["folds"]["0"]
    after = json.loads((derived.root / "metrics.json").read_text())["folds"]["0"]
    assert after["tta"] == "none" and after["checkpoint"] == "best"
    assert after["auc_given"]["auc"] == pytest.approx(before["variants"]["none"]["auc_given"])
    assert not np.allclose(pd.read_csv(derived.root / "test.csv")["pred"], pd.read_csv(run.root / "test.csv")["pred"])


def test_last_and_averaged_checkpoints(run):
    last = predict.main(["--run", str(run.root), "--checkpoint", "last", "--workers", "0", "--no-progress"])
    avg = predict.main(["--run", str(run.root), "--checkpoint", "avg", "--workers", "0", "--no-progress"])
    assert last.root.name == "p-tta-flips-last" and avg.root.name == "p-tta-flips-avg"  # the run's TTA
    preds = [pd.read_csv(r.root / "oof.csv")["pred"] for r in (last, avg)]
    assert preds[0].between(0, 1).all() and not np.allclose(preds[0], preds[1])


def test_checkpoint_of_another_architecture_is_refused(run):
    with pytest.raises(ValueError, match="trained with"):
        predict.main(["--run", str(run.root), "--model", "resnet10t", "--workers", "0", "--name", "other"])


def test_missing_folds_and_run(run, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"fold\(s\) \[3\]"):
        predict.main(["--run", str(run.root), "--fold", "3"])
    with pytest.raises(FileNotFoundError, match="config.yaml"):
        predict.main(["--run", str(tmp_path)])
