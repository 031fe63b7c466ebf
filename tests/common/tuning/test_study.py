"""The study driver on a toy objective: trial budget, best parameters, plots (skipped while too few trials)."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import optuna
import pytest
import yaml

from common.config import RunConfig
from common.run import Run
from common.tuning.plots import save_plots
from common.tuning.study import TuneOptions, run_study


@dataclass
class ToyTune(TuneOptions, RunConfig):
    pass


def _objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -2, 2)
    for step in range(1, 4):
        trial.report(-x * x, step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return -x * x


@pytest.mark.slow
def test_study_writes_best_params_and_plots_and_resumes(tmp_path):
    run = Run(tmp_path / "study")
    cfg = ToyTune(n_trials=4, n_startup_trials=2, progress=False)
    made = []
    result = run_study(run, cfg, lambda: made.append(1) or _objective,
                       lambda t: {"x": round(t.params["x"], 3)}, final_command="python train.py --params X")
    assert result["finished_trials"] == 4 and result["params"]["x"] == pytest.approx(
        yaml.safe_load((run.root / "best_params.yaml").read_text())["params"]["x"])
    assert set(result["plots"]) == {"history.png", "importance.png", "slice.png"}
    assert all((run.root / name).stat().st_size > 0 for name in result["plots"])
    again = run_study(run, cfg, lambda: pytest.fail("objective made for no trial"), lambda t: t.params)
    assert again["finished_trials"] == 4 and made == [1]


def test_all_pruned_study_says_so(tmp_path):
    cfg = ToyTune(n_trials=1, prune_below=1.0, n_warmup_steps=1, progress=False)
    with pytest.raises(ValueError, match="no completed trial"):
        run_study(Run(tmp_path / "pruned"), cfg, lambda: _objective, lambda t: t.params)


def test_plots_skip_what_too_few_trials_allow(tmp_path):
    study = optuna.create_study(direction="maximize")
    assert save_plots(study, tmp_path, logging.getLogger("t")) == []
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert save_plots(study, tmp_path, logging.getLogger("t")) == ["history.png", "slice.png"]


def test_best_params_say_how_long_a_fold_of_the_best_trial_took(tmp_path):
    """What the autopilot projects the run with the best parameters from (common.play.steps.study_pace)."""
    import time

    def slow(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -2, 2)
        time.sleep(0.3 if x * x < 1 else 0.6)
        return -x * x

    cfg = ToyTune(n_trials=3, n_startup_trials=3, tune_folds=3, progress=False)
    result = run_study(Run(tmp_path / "study"), cfg, lambda: slow, lambda t: t.params)
    best_x = result["params"]["x"]
    assert result["seconds_per_fold"] == pytest.approx((0.3 if best_x * best_x < 1 else 0.6) / 3, abs=0.05)
