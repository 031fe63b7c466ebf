"""A run knows what each fold was made from: it never continues, merges or calls complete folds of other data or
other folds (issue 38), whatever the command (the toy tabular competition plays a real one here)."""
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from common.cv import FoldResult, run_folds
from common.errors import BadInput
from common.run import FAILED, Run, RunFolder
from submissions.blend import check_complete
from tests.toy import cancer

FAST = ["--num-boost-round", "20", "--learning-rate", "0.3", "--num-threads", "1", "--log-period", "0"]


def _train(data, runs, *args):
    return cancer.main(["--data", str(data), "--runs-dir", str(runs), "--name", "lgb", *FAST, *args])


@pytest.mark.slow
def test_new_data_after_moving_folds_away_is_refused_not_mixed(tmp_path):
    """Issue 38: folds 0-1 trained on data A, the data folder then rewritten with data B (other rows), folds.csv
    moved away as the error said, and the run continued: folds 2-4 of B were merged with 0-1 of A (duplicated,
    unknown ids) and the run called complete."""
    data = cancer.write_data(tmp_path / "data", seed=0)
    runs = tmp_path / "runs"
    _train(data, runs, "--fold", "0,1")
    run = RunFolder(runs / "toy_cancer" / "lgb")
    before = run.read_oof()
    cancer.write_data(data, seed=1)  # other test rows, so other training rows
    with pytest.raises(BadInput, match=r"fold file .* was made for other data.*move .* away"):
        _train(data, runs)
    (runs / "toy_cancer" / "folds.csv").rename(tmp_path / "old_folds.csv")
    with pytest.raises(BadInput, match=rf"^run {run.root}: folds \[0, 1\] were made from other data than this "
                                       r"command's \(the fold file and the training ids and labels differ\); give "
                                       r"the new data another --name, or train every fold again with --no-resume$"):
        _train(data, runs)
    assert run.completed_folds() == [0, 1]
    pd.testing.assert_frame_equal(run.read_oof(), before)  # nothing written
    _train(data, runs, "--no-resume")  # what the message says: every fold trained again on B
    status = run.status()
    assert status.complete and status.completed_folds == (0, 1, 2, 3, 4)
    train_b = pd.read_csv(data / "train.csv")
    oof = run.read_oof()
    assert sorted(oof["id"]) == sorted(train_b["row_id"].astype(str))
    assert (oof.set_index("id")["target"] == train_b.set_index(train_b["row_id"].astype(str))["malignant"]
            .reindex(oof["id"])).all()
    assert sorted(run.read_test()["id"]) == sorted(pd.read_csv(data / "test.csv")["row_id"].astype(str))


def test_relabelled_data_with_the_same_folds_is_refused(tmp_path):
    """Same ids, same fold file, other labels: folds trained on the old labels are not continued with the new."""
    data = cancer.write_data(tmp_path / "data")
    runs = tmp_path / "runs"
    _train(data, runs, "--fold", "0")
    train = pd.read_csv(data / "train.csv")
    flip = train.index[::25]
    train.loc[flip, "malignant"] = 1 - train.loc[flip, "malignant"]
    train.to_csv(data / "train.csv", index=False)
    with pytest.raises(BadInput, match=r"folds \[0\] were made from other data than this command's \(the training "
                                       r"ids and labels differ\)"):
        _train(data, runs, "--fold", "1")
    assert RunFolder(runs / "toy_cancer" / "lgb").completed_folds() == [0]


def test_n_splits_other_than_the_fold_files_is_refused_up_front(tmp_path):
    """Issue 38: ``--n-splits 3`` with a 5-fold folds.csv trained folds 0-2 of the 5-fold file and called the run
    complete over 60% of the rows (then the blend asked for folds --n-splits 3 refuses)."""
    a = cancer.write_data(tmp_path / "data")
    runs = tmp_path / "runs"
    _train(a, runs, "--fold", "0")
    folds = runs / "toy_cancer" / "folds.csv"
    with pytest.raises(BadInput, match=rf"^fold file {folds} holds 5 folds but --n-splits is 3: use --n-splits 5, "
                                       r"or give 3 folds their own runs folder \(--runs-dir DIR\)$"):
        _train(a, runs, "--n-splits", "3", "--name", "three")
    assert not (runs / "toy_cancer" / "three" / "oof.csv").exists()


def _fold(ids, y, test_ids, pred=0.5):
    return FoldResult(pd.DataFrame({"id": ids, "target": y, "pred": pred}),
                      pd.DataFrame({"id": test_ids, "pred": pred}))


def test_folds_copied_from_a_run_of_other_data_make_it_failed_not_complete(tmp_path):
    """Folds of two runs made from other test data, put together (as a copy or a kernel's output would): the
    merge refuses them, the status and the blend call the run failed."""
    y = np.tile([0, 1], 5)
    ids = [f"r{i}" for i in range(20)]
    first, second = Run(tmp_path / "a"), Run(tmp_path / "b")
    run_folds(first, [0, 1], lambda k: _fold(ids[k * 10:k * 10 + 10], y, ["t0", "t1"]), n_splits=2)
    run_folds(second, [0, 1], lambda k: _fold(ids[k * 10:k * 10 + 10], y, ["t0", "t9"]), n_splits=2)
    assert RunFolder(first.root).status().complete
    shutil.rmtree(first.fold_path(1))
    shutil.copytree(second.fold_path(1), first.fold_path(1))
    with pytest.raises(BadInput, match=r"folds \[1\] were made from other data than folds \[0\] \(the test ids "
                                       r"differ\): they cannot be merged"):
        first.merge_folds()
    status = RunFolder(first.root).status()
    assert status.state == FAILED and status.problems == (
        "folds [1] were made from other data than folds [0] (the test ids differ)",)
    with pytest.raises(BadInput, match=rf"run {first.root} is failed: folds \[1\] were made from other data"):
        check_complete([first.root], allow_partial=True)


def test_a_fold_of_other_test_data_is_refused_before_it_is_written(tmp_path):
    y = np.tile([0, 1], 5)
    ids = [f"r{i}" for i in range(20)]
    run = Run(tmp_path / "run")
    run_folds(run, [0], lambda k: _fold(ids[:10], y, ["t0", "t1"]), n_splits=2)
    with pytest.raises(BadInput, match=r"fold 1 was made from other data than its finished folds \[0\] \(the test "
                                       r"ids differ\)"):
        run_folds(run, [1], lambda k: _fold(ids[10:], y, ["t0", "t1", "t2"]), n_splits=2)
    with pytest.raises(BadInput, match=r"fold 1 predicts 3 id\(s\) that finished fold 0 holds"):
        run_folds(run, [1], lambda k: _fold(ids[7:17], y, ["t0", "t1"]), n_splits=2)
    assert run.completed_folds() == [0] and not run.fold_oof_path(1).exists()


def test_a_mixed_run_written_before_folds_recorded_their_data_is_failed(tmp_path):
    """A run mixed by an older kit (no ``made_from``): its oof.csv holds ids twice, so it is failed, not complete."""
    run = Run(tmp_path / "old")
    for k, ids in enumerate([["a", "b"], ["b", "c"]]):
        folder = run.fold_dir(k)
        pd.DataFrame({"id": ids, "fold": k, "target": [0, 1], "pred": 0.5}).to_csv(folder / "oof.csv", index=False)
        (folder / "done.json").write_text(json.dumps({"auc": 0.5}))
    pd.concat([pd.read_csv(run.fold_oof_path(k)) for k in (0, 1)]).to_csv(run.oof_path, index=False)
    status = RunFolder(run.root).status(2)
    assert status.state == FAILED and "1 duplicated id(s), e.g. ['b']" in status.problems[0]
    with pytest.raises(BadInput, match=r"folds \[0, 1\] hold 1 id\(s\) twice"):
        run.merge_folds()


def test_done_json_records_what_the_fold_was_made_from(tmp_path):
    y = np.tile([0, 1], 5)
    run = Run(tmp_path / "toy" / "run")
    pd.DataFrame({"id": [f"r{i}" for i in range(10)], "fold": 0}).to_csv(tmp_path / "toy" / "folds.csv", index=False)
    run_folds(run, [0], lambda k: _fold([f"r{i}" for i in range(10)], y, ["t1", "t0"]), n_splits=1)
    made_from = run.fold_made_from(0)
    assert set(made_from) == {"folds", "test"}  # no labels: this process read no fold file for data
    assert "made_from" not in run.fold_metrics(0) and "made_from" not in run.metrics()["folds"]["0"]
    other = Run(tmp_path / "other")
    run_folds(other, [0], lambda k: _fold([f"r{i}" for i in range(10)], y, ["t0", "t1"]), n_splits=1)
    assert other.fold_made_from(0) == {"test": made_from["test"]}  # test ids in another order: the same
