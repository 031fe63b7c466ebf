"""Re-predicting test from saved checkpoints with a chosen TTA, the submission file, the leak fix."""
import numpy as np
import pandas as pd
import pytest
import torch

from competitions.nexperia import predict, train
from competitions.nexperia.data import load_data
from competitions.nexperia.dedup import duplicates_of

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def run(nexperia_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    return train.main(["--data", str(nexperia_data), "--runs-dir", str(root / "runs"), "--cache-dir",
                       str(root / "cache"), "--name", "p", "--model", "resnet18", "--model-kwargs",
                       "{channels: [8, 16, 32, 64], stem_width: 8}", "--img-size", "32", "--epochs", "1",
                       "--batch-size", "32", "--n-splits", "4", "--workers", "0", "--threads", "1",
                       "--no-progress", "--gradcam", "0", "--tta", "flips", "--tta-compare", "flips"])


def test_same_tta_reproduces_the_runs_test_predictions(run, tmp_path):
    out = predict.main(["--run", str(run.root), "--tta", "flips", "--workers", "0", "--out", str(tmp_path / "s.csv")])
    submission = pd.read_csv(out, dtype={"id": str}).set_index("id")
    from_training = pd.read_csv(run.root / "test.csv", dtype={"id": str}).set_index("id")["pred"]
    np.testing.assert_allclose(submission.loc[from_training.index, "defect_score"], from_training, atol=2e-3)


def test_submission_has_the_sample_ids_in_order(run, nexperia_data, tmp_path):
    out = predict.main(["--run", str(run.root), "--tta", "d4", "--workers", "0", "--out", str(tmp_path / "d4.csv")])
    submission = pd.read_csv(out, dtype={"id": str})
    sample = pd.read_csv(nexperia_data / "submission_sample.csv", dtype={"id": str})
    assert list(submission.columns) == ["id", "defect_score"]
    assert list(submission["id"]) == list(sample["id"])
    assert submission["defect_score"].between(0, 1).all()
    flips = pd.read_csv(run.root / "test.csv", dtype={"id": str}).set_index("id")["pred"]
    assert not np.allclose(submission.set_index("id").loc[flips.index, "defect_score"], flips, atol=1e-6)


def test_leak_fix_uses_exact_train_duplicates(run, nexperia_data, tmp_path):
    out = predict.main(["--run", str(run.root), "--tta", "none", "--workers", "0", "--leak-fix",
                        "--out", str(tmp_path / "leak.csv")])
    submission = pd.read_csv(out, dtype={"id": str}).set_index("id")["defect_score"]
    data = load_data(nexperia_data, cache_dir=run.root.parent.parent.parent / "cache")
    leaks = duplicates_of(data).exact_test_labels()
    assert len(leaks)
    np.testing.assert_array_equal(submission.loc[leaks.index].to_numpy(), leaks.to_numpy().astype(float))


def test_checkpoint_of_another_architecture_is_refused(run):
    with pytest.raises(ValueError, match="trained with"):
        predict.main(["--run", str(run.root), "--model", "resnet10t", "--workers", "0"])


def test_missing_checkpoints_and_run(run, tmp_path):
    with pytest.raises(FileNotFoundError, match="fold3"):
        predict.main(["--run", str(run.root), "--folds", "3"])
    with pytest.raises(FileNotFoundError, match="config.yaml"):
        predict.main(["--run", str(tmp_path)])
