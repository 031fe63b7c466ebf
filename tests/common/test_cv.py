"""The fold driver: finished folds skipped, --no-resume retrains, one metrics schema, truth and variants."""
import json

import numpy as np
import pandas as pd
import pytest

from common.config import parse_folds
from common.cv import FoldResult, run_folds
from common.run import Run

N, K = 120, 3


def _data(seed=0):
    rng = np.random.default_rng(seed)
    ids = np.array([f"r{i:03d}" for i in range(N)])
    y = (np.arange(N) % 4 == 0).astype(int)
    folds = np.arange(N) % K
    score = y + rng.normal(0, 0.8, N)
    return ids, y, folds, score


class CountingModel:
    """fit_fold of a model whose score is the target plus noise; counts the folds it fitted."""

    def __init__(self):
        self.ids, self.y, self.folds, self.score = _data()
        self.fitted = []

    def __call__(self, fold):
        self.fitted.append(fold)
        rows = self.folds == fold
        oof = pd.DataFrame({"id": self.ids[rows], "target": self.y[rows], "pred": self.score[rows]})
        test = pd.DataFrame({"id": ["t0", "t1"], "pred": [fold, fold + 1.0]})
        return FoldResult(oof, test, info={"best_epoch": fold + 1}, variants={"neg": -self.score[rows]})


def truth_of(ids):
    """A 'planted truth' that differs from the given labels on every 10th row."""
    index = np.array([int(i[1:]) for i in ids])
    y = (index % 4 == 0).astype(int)
    return np.where(index % 10 == 0, 1 - y, y)


def test_parse_folds():
    assert parse_folds("all", 3) == [0, 1, 2]
    assert parse_folds("2,0,2", 3) == [2, 0]
    assert parse_folds(1, 3) == [1]
    with pytest.raises(ValueError, match=r"--fold \[3\] outside 0..2"):
        parse_folds("3", 3)
    with pytest.raises(ValueError, match="--fold must be"):
        parse_folds("first", 3)


def test_metrics_schema_with_truth_and_variants(tmp_path):
    run = Run.open("toy", "m", tmp_path)
    model = CountingModel()
    metrics = run_folds(run, [0, 1, 2], model, n_splits=K, truth=truth_of)
    assert metrics == json.loads(run.metrics_path.read_text())
    assert metrics["completed_folds"] == [0, 1, 2] and metrics["complete"] is True and metrics["n_splits"] == K
    fold1 = metrics["folds"]["1"]
    rows = model.folds == 1
    from common.metrics import roc_auc
    assert fold1["auc_given"]["auc"] == pytest.approx(roc_auc(model.y[rows], model.score[rows]))
    assert fold1["auc_true"]["auc"] == pytest.approx(roc_auc(truth_of(model.ids[rows]), model.score[rows]))
    assert fold1["auc_given"]["ci_low"] < fold1["auc_given"]["auc"] < fold1["auc_given"]["ci_high"]
    assert fold1["variants"]["neg"]["auc_given"] == pytest.approx(1 - fold1["auc_given"]["auc"])
    assert fold1["best_epoch"] == 2 and fold1["seconds"] >= 0
    assert metrics["oof"]["auc_given"]["auc"] == pytest.approx(roc_auc(model.y, model.score))
    assert metrics["oof"]["auc_true"]["auc"] == pytest.approx(roc_auc(truth_of(model.ids), model.score))
    test = pd.read_csv(run.root / "test.csv")
    assert test.set_index("id")["pred"].to_dict() == pytest.approx({"t0": 1.0, "t1": 2.0})


def test_pooled_auc_below_every_fold_is_reported_beside_the_mean_fold_auc(tmp_path):
    """Folds scoring on shifted scales (fold k's scores + 3k) pool worse than any one fold: metrics.json holds
    the mean fold AUC beside the pooled one and the log warns, pointing to rank-normalised blending."""
    model = CountingModel()
    shifted = lambda k: FoldResult(model(k).oof.assign(pred=lambda df: df["pred"] + 3 * k))  # noqa: E731
    run = Run(tmp_path / "run")
    metrics = run_folds(run, range(K), shifted, n_splits=K)
    fold_aucs = [metrics["folds"][str(k)]["auc_given"]["auc"] for k in range(K)]
    assert metrics["oof"]["auc_given"]["auc"] < min(fold_aucs)
    assert metrics["mean_fold_auc"] == pytest.approx(np.mean(fold_aucs))
    log = (run.root / "log.txt").read_text()
    assert "WARNING pooled OOF AUC" in log and "rank-normalised" in log
    plain = run_folds(Run(tmp_path / "plain"), range(K), CountingModel(), n_splits=K)  # one scale: no warning
    assert plain["oof"]["auc_given"]["auc"] >= min(plain["folds"][str(k)]["auc_given"]["auc"] for k in range(K))
    assert "WARNING" not in (tmp_path / "plain" / "log.txt").read_text()


def test_finished_folds_are_skipped_and_no_resume_retrains(tmp_path):
    run = Run.open("toy", "m", tmp_path)
    model = CountingModel()
    first = run_folds(run, [0], model, n_splits=K)
    assert first["complete"] is False and first["completed_folds"] == [0] and "auc_true" not in first["oof"]
    run_folds(run, [0, 1, 2], model, n_splits=K)
    assert model.fitted == [0, 1, 2]
    run_folds(run, [0, 1, 2], model, n_splits=K, resume=False)
    assert model.fitted == [0, 1, 2, 0, 1, 2]


def test_a_fold_killed_before_its_done_record_is_not_finished(tmp_path):
    run = Run.open("toy", "m", tmp_path)
    model = CountingModel()
    run_folds(run, [0, 1], model, n_splits=K)
    (run.root / "fold1" / "done.json").unlink()  # as if killed after writing oof.csv, before the record
    assert run.completed_folds() == [0]
    run.merge_folds()
    assert set(pd.read_csv(run.root / "oof.csv")["fold"]) == {0}
    run_folds(run, [0, 1], model, n_splits=K)
    assert model.fitted == [0, 1, 1]


def test_an_error_in_a_fold_keeps_the_finished_ones(tmp_path):
    run = Run.open("toy", "m", tmp_path)
    model = CountingModel()

    def failing(fold):
        if fold == 1:
            raise ValueError("fold 1 broke")
        return model(fold)

    with pytest.raises(ValueError, match="fold 1 broke"):
        run_folds(run, [0, 1], failing, n_splits=K)
    assert run.completed_folds() == [0]
    assert set(pd.read_csv(run.root / "oof.csv")["fold"]) == {0}


# -- one writer per run: two real processes on one run name -----------------------------------------
TRAIN = """
import sys, time
import numpy as np, pandas as pd
from common.cli import run_cli
from common.cv import FoldResult, run_folds
from common.run import Run

def main(argv):
    root, folds, pause = argv[0], [int(k) for k in argv[1].split(",")], float(argv[2])
    rng = np.random.default_rng(0)

    def fit_fold(k):
        print(f"fitting {k}", flush=True)
        time.sleep(pause)
        ids = np.array([f"r{k}_{i}" for i in range(40)])
        y = (np.arange(40) % 4 == 0).astype(int)
        return FoldResult(pd.DataFrame({"id": ids, "target": y, "pred": y + rng.normal(0, 1, 40)}))

    metrics = run_folds(Run(root), folds, fit_fold, n_splits=3)
    print("completed", metrics["completed_folds"], flush=True)

run_cli(main)
"""


@pytest.mark.slow
def test_a_second_training_process_on_one_run_is_refused(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    root = tmp_path / "comp" / "shared-name"
    first = subprocess.Popen([sys.executable, "-c", TRAIN, str(root), "0,1", "60"], cwd=repo,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert first.stdout.readline().strip() == "fitting 0"
        second = subprocess.run([sys.executable, "-c", TRAIN, str(root), "2", "0"], cwd=repo,
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 2
        last = second.stderr.strip().splitlines()[-1]
        assert last == (f"error: run {root} is being written by another process (pid {first.pid}); "
                        "wait for it to finish, or use another --name")
        assert "Traceback" not in second.stderr and "fitting" not in second.stdout
        assert not (root / "fold2").exists() and not (root / "metrics.json").exists()  # it wrote nothing
    finally:
        first.kill()  # dies holding the lock: the lock must not outlive it
        first.wait()
    again = subprocess.run([sys.executable, "-c", TRAIN, str(root), "2", "0"], cwd=repo,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "completed [2]" in again.stdout
    metrics = json.loads((root / "metrics.json").read_text())
    oof = pd.read_csv(root / "oof.csv")
    assert metrics["completed_folds"] == sorted(oof["fold"].unique().tolist()) == [2]
