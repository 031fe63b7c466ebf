"""train.py --seeds K on tiny synthetic data: seed runs, their average, the report and resuming a killed run."""
import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from competitions.nexperia import train
from competitions.nexperia.synth import generate
from tests.nexperia.helpers import tiny_cnn_args

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("seeds")
    return generate(root / "data", n_train=160, n_test=60, seed=0, progress=False), root / "runs", root / "cache"


@pytest.fixture(scope="module")
def two_seeds(env):
    data_dir, runs, cache = env
    return train.main(tiny_cnn_args(data_dir, runs, cache, "s2", "--seeds", "2"))


@pytest.mark.slow
def test_seed_runs_are_averaged_into_the_run(two_seeds, env):
    data_dir, runs, cache = env
    root = two_seeds.root
    seeds = [root / "seeds" / f"seed{s}" for s in (0, 1)]
    assert [yaml.safe_load((s / "config.yaml").read_text())["seed"] for s in seeds] == [42, 43]
    assert yaml.safe_load((root / "config.yaml").read_text())["seeds"] == 2
    for name in ("oof.csv", "test.csv"):
        mine = pd.read_csv(root / name)
        theirs = [pd.read_csv(s / name) for s in seeds]
        assert list(mine.columns) == list(theirs[0].columns)
        np.testing.assert_allclose(mine["pred"], (theirs[0]["pred"] + theirs[1]["pred"]) / 2, rtol=1e-6)
    assert not theirs[0]["pred"].equals(theirs[1]["pred"])  # two seeds, two models
    metrics = json.loads((root / "metrics.json").read_text())
    assert {"auc_given", "auc_true"} <= set(metrics["oof"]) and metrics["completed_folds"] == [0]
    assert set(metrics["folds"]["0"]["variants"]) == {"seed0", "seed1"}
    report = metrics["seeds"]
    assert report["seed_values"] == [42, 43] and set(report["oof"]) == {"seed0", "seed1"}
    gain = report["average"]["auc_true"] - report["mean_single"]["auc_true"]
    assert report["gain"]["auc_true"] == pytest.approx(gain)
    # seed 0 is the plain single-seed run
    single = train.main(tiny_cnn_args(data_dir, runs, cache, "single"))
    pd.testing.assert_frame_equal(pd.read_csv(single.root / "oof.csv"), pd.read_csv(seeds[0] / "oof.csv"))


@pytest.mark.slow
def test_a_killed_multi_seed_run_continues(two_seeds, env, monkeypatch):
    data_dir, runs, cache = env
    args = tiny_cnn_args(data_dir, runs, cache, "killed", "--seeds", "2")
    monkeypatch.setenv(train.STOP_ENV, "1")
    with pytest.raises(SystemExit, match="stopped after epoch 1"):
        train.main(args)
    killed = runs / "nexperia" / "killed"
    assert not (killed / "oof.csv").exists() and not (killed / "seeds" / "seed1").exists()
    monkeypatch.delenv(train.STOP_ENV)
    train.main(args)  # seed 0 continues from its last.pt, then seed 1, then the average
    for name in ("oof.csv", "test.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(killed / name), pd.read_csv(two_seeds.root / name))
    done = killed / "seeds" / "seed0" / "fold0" / "done.json"
    stamp = done.stat().st_mtime_ns
    train.main(args)  # finished: nothing retrained
    assert done.stat().st_mtime_ns == stamp
