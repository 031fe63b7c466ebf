"""tune.py --family cnn|vae: studies on tiny data whose best parameters train.py / vae.py take, pruning per
epoch, a killed worker's trial failed and retried, two workers on one SQLite study, bad search spaces."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import optuna
import pytest
import torch
import yaml
from optuna.trial import TrialState

from competitions.nexperia import train, tune, vae
from competitions.nexperia.synth import generate
from tests.tune_workers import finish, gated_tune, start_together, start_worker

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[2]
TINY_CNN = ["--model", "resnet18", "--model-kwargs", "{channels: [8, 16, 32, 64], stem_width: 8}", "--img-size",
            "32", "--epochs", "3", "--batch-size", "32", "--workers", "0", "--threads", "1", "--no-progress"]
CNN_SPACE = """search_space:
  lr: {type: float, low: 3e-4, high: 3e-3, log: true}
  augment: {type: categorical, choices: [light, seed]}
"""
VAE_SPACE = """search_space:
  latent_dim: {type: int, low: 4, high: 16}
  crop: {type: categorical, choices: [[86, 204, 10, 242], null]}
  score: {type: categorical, choices: [elbo, local]}
"""
HEARTBEAT = ["--heartbeat-interval", "1", "--grace-period", "2"]
# A worker process: the real command line with two test hooks. HANG_MARKER: the first trial's epoch 2
# announces itself in that file and hangs (a trial "running" when the test kills the process).
# START_GATE: it waits, imports done, until that file exists (so two workers start together).
# Each trial records the worker's pid.
WORKER = """
import os, sys, time
from common.tuning import study
from common.vision import trainer
marker, real_epoch, real_budget = os.environ.get("HANG_MARKER"), trainer.FoldTrainer.train_epoch, study.within_budget
def train_epoch(self, epoch):
    if marker and epoch == 2 and not os.path.exists(marker):
        with open(marker, "w") as handle:
            handle.write(str(os.getpid()))
        time.sleep(600)
    return real_epoch(self, epoch)
def within_budget(objective, n_trials):
    guarded = real_budget(objective, n_trials)
    def tagged(trial):
        trial.set_user_attr("pid", os.getpid())
        return guarded(trial)
    return tagged
trainer.FoldTrainer.train_epoch, study.within_budget = train_epoch, within_budget
""" + gated_tune("nexperia")


@pytest.fixture(scope="module")
def roots(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("tune")
    data = generate(root / "data", n_train=160, n_test=40, seed=0, progress=False)
    (root / "cnn.yaml").write_text(CNN_SPACE)
    (root / "vae.yaml").write_text(VAE_SPACE)
    return {"root": root, "data": data, "runs": root / "runs", "cache": root / "cache"}


def _args(roots: dict, family: str, name: str, n_trials: int, *extra: str) -> list[str]:
    tiny = TINY_CNN if family == "cnn" else ["--epochs", "2", "--stretch", "--no-progress"]
    return ["--family", family, "--config", str(roots["root"] / f"{family}.yaml"), "--data", str(roots["data"]),
            "--runs-dir", str(roots["runs"]), "--cache-dir", str(roots["cache"]), "--name", name,
            "--tune-folds", "1", "--n-trials", str(n_trials), *tiny, *extra]


def _trials(roots: dict, name: str, family: str = "cnn") -> list[optuna.trial.FrozenTrial]:
    storage = f"sqlite:///{roots['runs'] / 'nexperia' / name / 'study.db'}"
    return optuna.load_study(study_name=f"nexperia_{family}", storage=storage).trials


@pytest.mark.slow
def test_cnn_study_prunes_resumes_and_feeds_train(roots):
    first = tune.main(_args(roots, "cnn", "cnn", 2))
    study = roots["runs"] / "nexperia" / "cnn"
    best = yaml.safe_load((study / "best_params.yaml").read_text())
    assert best["tuned"] == ["augment", "lr"] and best["finished_trials"] == 2 == first["finished_trials"]
    assert best["params"]["img_size"] == 32 and 3e-4 <= best["params"]["lr"] <= 3e-3  # recipe + tuned values
    assert {"history.png", "slice.png"} <= set(first["plots"]) and (study / "history.png").is_file()
    log = (study / "log.txt").read_text()
    assert "optimistic" in log and f"train.py --data {roots['data']} --params {study / 'best_params.yaml'}" in log

    # resumed with a pruner that prunes every trial after its first epoch: the fold is left unfinished
    second = tune.main(_args(roots, "cnn", "cnn", 3, "--prune-below", "1.1", "--n-warmup-steps", "1"))
    trials = _trials(roots, "cnn")
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2 + [TrialState.PRUNED]
    pruned = study / "trials" / "2" / "fold0"
    assert len((pruned / "summary.csv").read_text().splitlines()) == 2 and not (pruned / "done.json").exists()
    assert second["finished_trials"] == 3 and second["trial"] in (0, 1)

    tuned = train.main(["--data", str(roots["data"]), "--runs-dir", str(roots["runs"]), "--cache-dir",
                        str(roots["cache"]), "--params", str(study / "best_params.yaml"), "--name", "tuned",
                        "--fold", "0", "--gradcam", "0", *TINY_CNN[:2], "--workers", "0", "--threads", "1",
                        "--no-progress"])
    config = yaml.safe_load((tuned.root / "config.yaml").read_text())
    assert config["lr"] == best["params"]["lr"] and config["augment"] == best["params"]["augment"]
    assert config["img_size"] == 32 and (tuned.root / "fold0" / "done.json").is_file()


@pytest.mark.slow
def test_vae_study_feeds_vae(roots):
    result = tune.main(_args(roots, "vae", "vae", 2, "--n-warmup-steps", "0"))
    best = yaml.safe_load((roots["runs"] / "nexperia" / "vae" / "best_params.yaml").read_text())
    assert best["tuned"] == ["crop", "latent_dim", "score"] and result["finished_trials"] == 2
    assert best["params"]["crop"] in ([86, 204, 10, 242], None)  # a list choice comes back as a list
    assert all(len(t.intermediate_values) == 2 for t in _trials(roots, "vae", "vae"))  # one report per epoch
    vae.main(["--data", str(roots["data"]), "--runs-dir", str(roots["runs"]), "--cache-dir", str(roots["cache"]),
              "--params", str(roots["runs"] / "nexperia" / "vae" / "best_params.yaml"), "--name", "vae-tuned",
              "--fold", "0", "--no-progress", "--heatmaps", "0"])
    config = yaml.safe_load((roots["runs"] / "nexperia" / "vae-tuned" / "config.yaml").read_text())
    assert {k: config[k] for k in ("latent_dim", "crop", "score")} == {k: best["params"][k]
                                                                        for k in ("latent_dim", "crop", "score")}


@pytest.mark.parametrize("family", tune.FAMILIES)
def test_shipped_recipes_hold_valid_search_spaces(family):
    recipe = ROOT / "competitions" / "nexperia" / "configs" / f"tune-{family}.yaml"
    found, cfg, _, _, space = tune.read_study(["--family", family, "--config", str(recipe)])
    assert found == family and cfg.study_name == f"nexperia_{family}" and len(space) >= 4


def test_params_file_refuses_what_is_no_option(roots, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("params: {lr: 0.01, n_trials: 5}\n")
    with pytest.raises(ValueError, match=f"params file {bad}: 'n_trials' is not an option"):
        train.main(["--data", str(roots["data"]), "--params", str(bad)])
    bad.write_text("params: {latent_dim: 0}\n")
    with pytest.raises(ValueError, match="latent_dim: option --latent-dim: 0 must be >= 1"):
        vae.main(["--data", str(roots["data"]), "--params", str(bad)])


@pytest.mark.parametrize("family, entry, key", [
    ("cnn", "nope: {type: float, low: 0.1, high: 1}", "nope"),
    ("cnn", "n_trials: {type: int, low: 1, high: 3}", "n_trials"),
    ("cnn", "lr: {type: uniform, low: 0.1, high: 1}", "lr"),
    ("cnn", "lr: {type: float, low: 0.1, high: 0.1}", "lr"),
    ("cnn", "lr: {type: float, low: -1.0, high: 0.1}", "lr"),
    ("cnn", "augment: {type: categorical, choices: []}", "augment"),
    ("cnn", "augment: {type: categorical, choices: [light, bogus]}", "augment"),
    ("cnn", "img_size: {type: categorical, choices: [32, big]}", "img_size"),
    ("cnn", "freeze: {type: categorical, choices: [none, top]}", "freeze"),
    ("vae", "crop: {type: categorical, choices: [[1, 2, 3], null]}", "crop"),
    ("vae", "latent_dim: {type: int, low: 0.5, high: 8}", "latent_dim"),
])
def test_bad_search_space_entry_is_one_line_naming_key_and_file(roots, tmp_path, family, entry, key):
    space = tmp_path / "space.yaml"
    space.write_text(f"search_space:\n  {entry}\n")
    args = _args(roots, family, "bad", 1)
    args[args.index("--config") + 1] = str(space)
    args[args.index("--data") + 1] = str(tmp_path / "no-data")  # checked before any work
    with pytest.raises(ValueError) as err:
        tune.main(args)
    message = str(err.value)
    assert "\n" not in message and f"search space key {key!r} in {space}" in message, message
    assert not (roots["runs"] / "nexperia" / "bad").exists()


@pytest.mark.slow
def test_killed_worker_trial_is_failed_and_retried(roots, tmp_path):
    args = _args(roots, "cnn", "killed", 3, *HEARTBEAT)
    tune.main(_args(roots, "cnn", "killed", 1, *HEARTBEAT))
    marker = tmp_path / "hanging"
    proc = start_worker(WORKER, args, HANG_MARKER=str(marker))
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()[0][-3000:]
        assert time.monotonic() < deadline, "the worker never reached epoch 2"
        time.sleep(0.2)
    killed = [t for t in _trials(roots, "killed") if t.state == TrialState.RUNNING]
    assert len(killed) == 1
    time.sleep(1.5)  # at least one heartbeat recorded
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    time.sleep(2.5)  # past the grace period: the dead worker's trial is stale

    result = tune.main(args)
    trials = _trials(roots, "killed")
    assert {t.number: t.state for t in trials}[killed[0].number] == TrialState.FAIL
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == killed[0].number]
    assert len(retried) == 1 and retried[0].state == TrialState.COMPLETE
    assert retried[0].params == killed[0].params
    assert len([t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]) == 3
    assert result["finished_trials"] == 3


@pytest.mark.slow
def test_two_workers_share_a_sqlite_study(roots, tmp_path):
    gate = tmp_path / "go"
    tune.main(_args(roots, "cnn", "pair", 1))  # cache and folds made before the race
    procs = [start_worker(WORKER, _args(roots, "cnn", "pair", 5), START_GATE=str(gate)) for _ in range(2)]
    start_together(procs, gate)
    for proc in procs:
        finish(proc)
    trials = _trials(roots, "pair")
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 5 and not [t for t in trials if t.state == TrialState.RUNNING]
    params = [tuple(sorted(map(str, t.params.items()))) for t in finished]
    assert len(set(params)) == len(params), "two trials ran the same parameters"
    assert len({t.user_attrs["pid"] for t in finished if "pid" in t.user_attrs}) == 2, "one worker ran them all"
