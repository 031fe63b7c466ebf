"""common.multi_seed: K seed runs averaged into one run (fold files, metrics, resume), with a fake model."""
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from common.config import RunConfig, parse_config
from common.cv import FoldResult, run_folds
from common.run import Run
from common.multi_seed import n_seeds_of, seed_config, seed_dir, seeds_option, train_seeds

IDS = np.array([f"r{i}" for i in range(40)])
FOLD_OF = np.arange(40) % 4
TARGET = (np.arange(40) % 3 == 0).astype(int)
TEST_IDS = np.array([f"t{i}" for i in range(10)])


@dataclass
class Cfg(RunConfig):
    seeds: int | None = seeds_option()


def fake_model(seed: int, fold: int) -> FoldResult:
    """Noisy scores of the fold's rows: a different noise per seed."""
    rng = np.random.default_rng(seed * 10 + fold)
    rows = FOLD_OF == fold
    pred = 1 / (1 + np.exp(-(2 * TARGET[rows] + rng.normal(0, 1.5, rows.sum()))))
    return FoldResult(oof=pd.DataFrame({"id": IDS[rows], "target": TARGET[rows], "pred": pred}),
                      test=pd.DataFrame({"id": TEST_IDS, "pred": rng.uniform(0, 1, len(TEST_IDS))}),
                      info={"best_iteration": seed + fold})


TRUE = dict(zip(IDS, TARGET))


def truth(ids):
    return np.array([TRUE[i] for i in ids]) if set(ids) <= set(IDS) else None


def trainer(calls: list, fail_seed: int | None = None):
    def train_one(cfg: Cfg, run: Run) -> None:
        run.save_config(cfg)

        def fit(k):
            if cfg.seed == fail_seed:
                raise KeyboardInterrupt("killed")
            calls.append((cfg.seed, k))
            return fake_model(cfg.seed, k)

        run_folds(run, [int(f) for f in cfg.fold.split(",")], fit, n_splits=4, resume=cfg.resume, truth=truth)
    return train_one


def test_option_and_seed_config():
    cfg = parse_config(Cfg, ["--seeds", "3", "--seed", "7"])
    assert n_seeds_of(cfg) == 3 and n_seeds_of(parse_config(Cfg, [])) == 1
    two = seed_config(cfg, 2)
    assert two.seed == 9 and two.seeds is None and cfg.seed == 7
    with pytest.raises(ValueError, match="--seeds"):
        parse_config(Cfg, ["--seeds", "0"])


def test_parent_is_the_mean_of_the_seeds_with_the_common_schema(tmp_path):
    cfg = parse_config(Cfg, ["--seeds", "3", "--fold", "0,1", "--seed", "5"])
    parent = Run(tmp_path / "avg")
    calls = []
    metrics = train_seeds(parent, cfg, trainer(calls), [0, 1], n_splits=4, truth=truth)
    assert sorted(calls) == [(s, k) for s in (5, 6, 7) for k in (0, 1)]
    seeds = [Run(seed_dir(parent, s)) for s in range(3)]
    for k in (0, 1):
        oofs = [pd.read_csv(r.root / f"fold{k}" / "oof.csv") for r in seeds]
        mine = pd.read_csv(parent.root / f"fold{k}" / "oof.csv")
        np.testing.assert_allclose(mine["pred"], np.mean([o["pred"] for o in oofs], axis=0))
        tests = [pd.read_csv(r.root / f"fold{k}" / "test.csv") for r in seeds]
        np.testing.assert_allclose(pd.read_csv(parent.root / f"fold{k}" / "test.csv")["pred"],
                                   np.mean([t["pred"] for t in tests], axis=0))
        fold = metrics["folds"][str(k)]
        assert {"auc_given", "auc_true", "variants", "per_seed", "seconds"} <= set(fold)
        assert set(fold["variants"]) == {"seed0", "seed1", "seed2"}
        single = json.loads((seeds[1].root / f"fold{k}" / "done.json").read_text())["auc_given"]["auc"]
        assert fold["variants"]["seed1"]["auc_given"] == pytest.approx(single)
        assert fold["per_seed"]["seed2"]["best_iteration"] == 7 + k
    assert metrics["completed_folds"] == [0, 1] and "auc_true" in metrics["oof"]
    report = metrics["seeds"]
    assert report["n_seeds"] == 3 and report["seed_values"] == [5, 6, 7]
    assert report["runs"] == ["seeds/seed0", "seeds/seed1", "seeds/seed2"]
    for s, run in enumerate(seeds):
        assert json.loads((run.root / "metrics.json").read_text())["oof"]["auc_given"]["auc"] == \
            pytest.approx(report["oof"][f"seed{s}"]["auc_given"])
    mean = np.mean([report["oof"][f"seed{s}"]["auc_given"] for s in range(3)])
    assert report["mean_single"]["auc_given"] == pytest.approx(mean)
    assert report["average"]["auc_given"] == pytest.approx(metrics["oof"]["auc_given"]["auc"])
    assert report["gain"]["auc_given"] == pytest.approx(report["average"]["auc_given"] - mean)
    gain = report["average"]["auc_true"] - report["mean_single"]["auc_true"]
    assert report["gain"]["auc_true"] == pytest.approx(gain)
    merged = pd.read_csv(parent.root / "test.csv")
    assert list(merged.columns) == ["id", "pred"] and len(merged) == len(TEST_IDS)


def test_a_killed_multi_seed_run_continues(tmp_path):
    cfg = parse_config(Cfg, ["--seeds", "3", "--fold", "0,1"])
    parent = Run(tmp_path / "killed")
    calls = []
    with pytest.raises(KeyboardInterrupt):
        train_seeds(parent, cfg, trainer(calls, fail_seed=43), [0, 1], n_splits=4, truth=truth)
    assert calls == [(42, 0), (42, 1)] and not (parent.root / "oof.csv").exists()
    train_seeds(parent, cfg, trainer(calls), [0, 1], n_splits=4, truth=truth)
    assert calls[2:] == [(43, 0), (43, 1), (44, 0), (44, 1)]  # seed 42's folds were finished: skipped
    fresh = Run(tmp_path / "fresh")
    train_seeds(fresh, cfg, trainer([]), [0, 1], n_splits=4, truth=truth)
    for name in ("oof.csv", "test.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(parent.root / name), pd.read_csv(fresh.root / name))
    calls.clear()
    train_seeds(parent, cfg, trainer(calls), [0, 1], n_splits=4, truth=truth)
    assert calls == []  # all finished: only the average is rebuilt


def test_a_seed_without_the_fold_is_a_clear_error(tmp_path):
    cfg = parse_config(Cfg, ["--seeds", "2", "--fold", "0"])
    parent = Run(tmp_path / "gap")

    def lazy(seed_cfg, run):  # seed 1 trains nothing
        if seed_cfg.seed == 42:
            run_folds(run, [0], lambda k: fake_model(42, k), n_splits=4)

    with pytest.raises(FileNotFoundError, match="no finished fold 0"):
        train_seeds(parent, cfg, lazy, [0], n_splits=4)
