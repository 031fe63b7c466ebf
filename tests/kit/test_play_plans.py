"""The competitions' plans: every step's command line parses with the command's own options (so a play never
fails on a typo an hour in), and with CUDA Nexperia's image steps train on the GPU in a lane of their own after the
duplicate check, while on the CPU every step runs in one lane with the CPU's settings."""
import importlib

import pytest

from common.config import parse_config
from common.play.steps import Folds, Once, Tune
from competitions.home_credit.play import play_plan as home_credit_plan
from competitions.nexperia.play import play_plan as nexperia_plan

CONFIG_OF = {"competitions.nexperia.train": "competitions.nexperia.recipe:TrainConfig",
             "competitions.nexperia.vae": "competitions.nexperia.anomaly:VAEConfig",
             "competitions.nexperia.baseline": "competitions.nexperia.baseline:BaselineConfig",
             "competitions.nexperia.features": "competitions.nexperia.features:FeaturesConfig",
             "competitions.home_credit.train": "competitions.home_credit.train:TrainConfig"}


def config_class(module: str):
    where, name = CONFIG_OF[module].split(":")
    return getattr(importlib.import_module(where), name)


def fixed_commands(plan):
    for step in plan.steps:
        if isinstance(step, (Folds, Once, Tune)) and isinstance(step.args, list) and step.module in CONFIG_OF:
            yield step, step.args


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_nexperia_steps_parse_with_their_commands_options(device, tmp_path):
    plan = nexperia_plan(tmp_path, device)
    checked = 0
    for step, args in fixed_commands(plan):
        cfg = parse_config(config_class(step.module), [*args, "--data", str(tmp_path), "--name", step.name])
        if hasattr(cfg, "device"):
            assert cfg.device == device, step.name
        checked += 1
    assert checked >= 5


def test_home_credit_steps_parse_with_their_commands_options(tmp_path):
    (tmp_path / "application_train.csv").write_text("SK_ID_CURR,TARGET\n1,0\n")
    checked = 0
    for step, args in fixed_commands(home_credit_plan(tmp_path)):
        parse_config(config_class(step.module), [*args, "--data", str(tmp_path), "--name", step.name])
        checked += 1
    assert checked >= 4


def test_with_cuda_the_image_steps_have_a_lane_of_their_own_after_the_duplicate_check(tmp_path):
    gpu, cpu = nexperia_plan(tmp_path, "cuda"), nexperia_plan(tmp_path, "cpu")
    lanes = {s.name: s.lane for s in gpu.steps}
    assert lanes["duplicates"] == lanes["pixels"] == "cpu"
    image_steps = [s for s in gpu.steps if s.name not in ("duplicates", "pixels")]
    assert image_steps and all(s.lane == "device" and s.after == ("duplicates",) for s in image_steps)
    assert {s.lane for s in cpu.steps} == {"cpu"} and all(not s.after for s in cpu.steps)
    cnn = next(s for s in gpu.steps if s.name == "cnn")
    assert cnn.args[cnn.args.index("--workers") + 1] != "0"  # the GPU is fed by loader workers
    assert {s.name for s in gpu.steps} > {s.name for s in cpu.steps}  # the GPU's second CNN recipe


def test_each_home_credit_study_parses_for_the_library_of_the_family_it_tunes(tmp_path):
    from common.tabular.tune import search_space
    from common.tuning.space import parse_with_space
    from competitions.home_credit.play import CONFIGS, TUNE_CONFIG, library
    from competitions.home_credit.tune import TuneConfig
    for family, config in TUNE_CONFIG.items():
        cfg, raw, source = parse_with_space(TuneConfig, ["--config", str(CONFIGS / config), "--model", library(family),
                                                         "--data", str(tmp_path)])
        assert cfg.model == library(family) and search_space(raw, source, cfg.model), family
    study, raw, _ = parse_with_space(TuneConfig, ["--config", str(CONFIGS / TUNE_CONFIG["lightgbm-xt"])])
    assert study.extra_trees and study.model == "lightgbm" and "extra_trees" not in raw  # fixed, not searched


def test_home_credit_pseudo_labels_repeat_the_best_default_run_and_must_beat_it(tmp_path):
    from types import SimpleNamespace

    from common.play.steps import Candidate, StepContext
    from competitions.home_credit.play import family_args
    (tmp_path / "application_train.csv").write_text("SK_ID_CURR,TARGET\n1,0\n")
    pseudo = next(s for s in home_credit_plan(tmp_path).steps if s.name == "pseudo")
    runs = {"lgb-fast": ("lightgbm-fast", 0.83), "lgb-xt": ("lightgbm-xt", 0.82), "xgb": ("xgboost", 0.81)}
    play = SimpleNamespace(runs_dir=tmp_path / "runs", candidates=lambda: [
        Candidate(run, family, run, family_args(family), {"auc": auc}) for run, (family, auc) in runs.items()])
    ctx = StepContext(play, pseudo, allowance=60, replay=None)
    args = pseudo.args(ctx)
    assert args == [*family_args("lightgbm-xt"), "--pseudo-from", str(tmp_path / "runs" / "home_credit" / "lgb-xt")]
    assert pseudo.keep_if_beats(ctx).run == "lgb-xt"        # the quick LightGBM is no source: seeds skip it too
    cfg = parse_config(config_class(pseudo.module), [*args, "--data", str(tmp_path), "--name", "pseudo"])
    assert cfg.pseudo_from and cfg.extra_trees
    assert pseudo.args(StepContext(SimpleNamespace(runs_dir=tmp_path, candidates=list), pseudo, 60, None)) is None


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_nexperia_deep_features_embed_with_the_best_cnn_run_and_blend_its_classifier_run(tmp_path, device):
    from types import SimpleNamespace

    from common.play.steps import Candidate, StepContext
    features = next(s for s in nexperia_plan(tmp_path, device).steps if s.name == "features")
    runs = {"pixels": ("pixels", 0.9), "cnn": ("cnn", 0.95), "cnn-fast": ("cnn-fast", 0.93)}
    play = SimpleNamespace(runs_dir=tmp_path / "runs", candidates=lambda: [
        Candidate(run, family, run, [], {"auc": auc}) for run, (family, auc) in runs.items()])
    (tmp_path / "runs" / "nexperia" / "cnn").mkdir(parents=True)
    args = features.args(StepContext(play, features, allowance=60, replay=None))
    assert args[args.index("--checkpoint-run") + 1] == str(tmp_path / "runs" / "nexperia" / "cnn")
    cfg = parse_config(config_class(features.module), [*args, "--data", str(tmp_path), "--name", features.name])
    assert cfg.classifiers == ["logreg"] and not cfg.plots and cfg.device == device
    assert features.writes == f"{features.name}-logreg"      # the run features.py writes for its --name


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_nexperia_tunes_around_its_cnn_recipe_and_trains_the_best_parameters(tmp_path, device):
    """The study's command parses with tune.py's options and search space on the play's device, starts once the
    recipe's run measured its folds, and its best parameters train the recipe's run again (``--params``)."""
    from types import SimpleNamespace

    from common.play.decisions import DecisionLog
    from common.play.steps import Candidate, StepContext
    from competitions.nexperia.tune import read_study
    plan = nexperia_plan(tmp_path, device)
    tune, tuned = (next(s for s in plan.steps if s.name == name) for name in ("tune", "tuned"))
    assert tune.then == "tuned" and tuned.study == "tune" and tuned.family == "cnn-tuned"
    assert [s.name for s in plan.steps].index("tuned") < [s.name for s in plan.steps].index("seeds")
    decisions = DecisionLog(tmp_path / "decisions.jsonl")
    play = SimpleNamespace(runs_dir=tmp_path / "runs", decisions=decisions, candidates=list)
    assert tune.args(StepContext(play, tune, 60, None)) is None          # no recipe run to tune around yet
    play.candidates = lambda: [Candidate("cnn", "cnn", "cnn", [], {"auc": 0.95})]
    args = tune.args(StepContext(play, tune, 60, None))
    family, cfg, base, _, space = read_study([*args, "--data", str(tmp_path), "--name", "tune"])
    assert family == "cnn" and cfg.device == device and cfg.tune_folds == tune.trial_folds == 1
    assert {"lr", "weight_decay", "augment", "loss", "ema"} <= set(space)
    assert tuned.args(StepContext(play, tuned, 60, None)) is None        # no study finished yet
    best = tmp_path / "best_params.yaml"
    best.write_text("lr: 0.0021\nloss: smooth\n")
    decisions.append({"event": "finish", "step": "tune", "status": "done", "notes": {"best_params": str(best)}})
    cfg = parse_config(config_class(tuned.module), [*tuned.args(StepContext(play, tuned, 60, None)),
                                                    "--data", str(tmp_path), "--name", "tuned"])
    assert cfg.params == str(best) and cfg.device == device
