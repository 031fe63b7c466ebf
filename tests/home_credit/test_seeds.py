"""train.py --seeds K on tiny synthetic data: LightGBM seed runs averaged into one run; a killed run continues."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from common.paths import runs_root
from competitions.home_credit import train
from tests.home_credit.helpers import FAST, kit_roots  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("kit_roots")
# bagging and feature sampling make the seeds differ
SAMPLED = [*FAST, "--feature-fraction", "0.5", "--bagging-fraction", "0.7", "--bagging-freq", "1"]


@pytest.fixture(scope="module")
def two_seeds(home_credit_data, kit_roots):
    train.main(["--data", str(home_credit_data), "--name", "seeds2", "--fold", "0", "--seeds", "2", *SAMPLED])
    return runs_root() / "home_credit" / "seeds2"


@pytest.mark.slow
def test_seed_runs_are_averaged_into_the_run(two_seeds, home_credit_data):
    seeds = [two_seeds / "seeds" / f"seed{s}" for s in (0, 1)]
    assert [yaml.safe_load((s / "config.yaml").read_text())["seed"] for s in seeds] == [42, 43]
    for name in ("oof.csv", "test.csv"):
        mine = pd.read_csv(two_seeds / name)
        theirs = [pd.read_csv(s / name) for s in seeds]
        np.testing.assert_allclose(mine["pred"], (theirs[0]["pred"] + theirs[1]["pred"]) / 2, rtol=1e-9)
        assert not np.allclose(theirs[0]["pred"], theirs[1]["pred"])
    for s in seeds:
        assert (s / "fold0" / "model.txt").is_file() and (s / "importance.csv").is_file()
    metrics = json.loads((two_seeds / "metrics.json").read_text())
    assert metrics["completed_folds"] == [0] and "auc_given" in metrics["oof"] and "tables" in metrics
    assert set(metrics["folds"]["0"]["variants"]) == {"seed0", "seed1"}
    report = metrics["seeds"]
    assert report["seed_values"] == [42, 43]
    assert report["average"]["auc_given"] == pytest.approx(metrics["oof"]["auc_given"]["auc"])
    assert report["gain"]["auc_given"] == pytest.approx(report["average"]["auc_given"] -
                                                        np.mean([v["auc_given"] for v in report["oof"].values()]))
    # seed 0 is the plain single-seed run
    train.main(["--data", str(home_credit_data), "--name", "seed1x", "--fold", "0", *SAMPLED])
    pd.testing.assert_frame_equal(pd.read_csv(runs_root() / "home_credit" / "seed1x" / "oof.csv"),
                                  pd.read_csv(seeds[0] / "oof.csv"))


@pytest.mark.slow
def test_a_killed_multi_seed_run_continues(two_seeds, home_credit_data, monkeypatch):
    args = ["--data", str(home_credit_data), "--name", "killed", "--fold", "0", "--seeds", "2", *SAMPLED]
    real = train.train_cv

    def dies_on_seed_43(run, cfg, *a, **k):
        if cfg.seed == 43:
            raise KeyboardInterrupt("killed")
        return real(run, cfg, *a, **k)

    monkeypatch.setattr(train, "train_cv", dies_on_seed_43)
    with pytest.raises(KeyboardInterrupt):
        train.main(args)
    killed = runs_root() / "home_credit" / "killed"
    done = killed / "seeds" / "seed0" / "fold0" / "done.json"
    assert done.is_file() and not (killed / "oof.csv").exists()
    stamp = done.stat().st_mtime_ns
    monkeypatch.setattr(train, "train_cv", real)
    train.main(args)
    assert done.stat().st_mtime_ns == stamp  # seed 0's fold was finished: skipped
    for name in ("oof.csv", "test.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(killed / name), pd.read_csv(two_seeds / name))
