"""tune.py: a resumable Optuna study over a matrix binned once, whose best parameters train.py accepts."""
from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml

from common.paths import runs_root
from common.tabular import binned as tabular_binned
from common.tabular import tune as tabular_tune
from common.tabular.library_params import DATASET_PARAMS
from common.tuning.space import parse_with_space
from competitions.home_credit import train, tune
from tests.home_credit.helpers import kit_roots  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("kit_roots")

TUNE_FAST = ["--tables", "application", "--tune-folds", "2", "--num-threads", "1", "--learning-rate", "0.2",
             "--num-boost-round", "20", "--early-stopping-rounds", "5", "--n-startup-trials", "1",
             "--n-warmup-steps", "3"]


@pytest.mark.slow
def test_study_resumes_reuses_datasets_and_feeds_train(home_credit_data, monkeypatch, tmp_path):
    binned, folds = [], []
    real_bin, real_fold = tabular_binned.bin_matrix, tabular_binned.BinnedMatrix.fold

    def counting_bin(matrix, params):
        binned.append(len(matrix.train))
        return real_bin(matrix, params)

    def counting_fold(self, split):
        folds.append(split.fold)
        return real_fold(self, split)

    monkeypatch.setattr(tabular_binned, "bin_matrix", counting_bin)
    monkeypatch.setattr(tabular_binned.BinnedMatrix, "fold", counting_fold)
    monkeypatch.setattr(tabular_binned, "datasets_dir", lambda: tmp_path / "datasets")  # no other test's file
    args = ["--data", str(home_credit_data), "--name", "study", *TUNE_FAST]
    first = tune.main([*args, "--n-trials", "2"])
    assert binned == [2000] and folds == [0, 1]  # the matrix binned once, one Dataset pair per fold, both trials
    assert len(list((tmp_path / "datasets").glob("*.bin"))) == 1
    run = runs_root() / "home_credit" / "study"
    storage = f"sqlite:///{run / 'study.db'}"
    trials = optuna.load_study(study_name="home_credit_lgb", storage=storage).trials
    assert len(trials) == 2

    second = tune.main([*args, "--n-trials", "3"])  # resumes: keeps the 2 trials, adds 1
    assert binned == [2000] and folds == [0, 1, 0, 1]  # the binned matrix read back from its cache file
    resumed = optuna.load_study(study_name="home_credit_lgb", storage=storage).trials
    assert len(resumed) == 3 and [t.params for t in resumed[:2]] == [t.params for t in trials]
    assert resumed[2].params not in [t.params for t in trials]  # a resumed study draws new parameters
    assert second["finished_trials"] == 3 and second["cv_auc"] >= first["cv_auc"]

    best = yaml.safe_load((run / "best_params.yaml").read_text())
    assert not set(best["params"]) & set(DATASET_PARAMS)
    assert 0.5 < best["cv_auc"] <= 1 and len(best["fold_aucs"]) == 2
    metrics = train.main(["--data", str(home_credit_data), "--name", "tuned", "--tables", "application",
                          "--fold", "0", "--num-threads", "1", "--num-boost-round", "20",
                          "--params", str(run / "best_params.yaml")])
    used = yaml.safe_load((runs_root() / "home_credit" / "tuned" / "lgb_params.yaml").read_text())
    assert used["num_leaves"] == best["params"]["num_leaves"]
    assert metrics["folds"]["0"]["auc_given"]["auc"] > 0.5


@pytest.mark.slow
def test_finished_study_runs_no_more_trials(home_credit_data, monkeypatch):
    args = ["--data", str(home_credit_data), "--name", "done", *TUNE_FAST, "--n-trials", "2"]
    tune.main(args)
    monkeypatch.setattr(tune, "load_matrix", lambda *a, **k: pytest.fail("features loaded for no trial"))
    assert tune.main(args)["finished_trials"] == 2


def test_heartbeat_options_are_checked(home_credit_data):
    with pytest.raises(ValueError, match="--grace-period"):
        tune.main(["--data", str(home_credit_data), "--name", "hb", *TUNE_FAST, "--heartbeat-interval", "5",
                   "--grace-period", "5"])


@pytest.mark.parametrize("url, message", [
    ("postgress://kit@localhost/optuna", "unknown database 'postgress'"),
    ("not a url", "is not a database URL (e.g. postgresql://"),
    ("sqlite:////nonexistent/x.db", "folder /nonexistent does not exist"),
    ("journal:/nonexistent/study.log", "folder /nonexistent does not exist"),
    ("mysql://kit@localhost/optuna", "its driver mysqldb is not installed"),
    ("postgresql://kit:hunter2@127.0.0.1:1/optuna", "cannot connect to the database (connection failed"),
])
def test_a_storage_url_that_cannot_work_is_one_line_before_any_run_folder(home_credit_data, url, message, capsys):
    from common.cli import run_cli
    with pytest.raises(SystemExit) as exit_:
        run_cli(tune.main, ["--data", str(home_credit_data), "--name", "bad-storage", *TUNE_FAST, "--storage", url])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    shown = url.replace("hunter2", "***")  # a password is never shown
    assert len(err) == 1 and err[0].startswith(f"error: --storage {shown!r}") and message in err[0], err
    assert not (runs_root() / "home_credit" / "bad-storage").exists()


def test_the_postgresql_driver_comes_with_the_kit():
    from common.tuning.study import check_storage
    with pytest.raises(ValueError) as error:  # no server there: the driver imported and tried to connect
        check_storage("postgresql://kit@127.0.0.1:1/optuna")
    assert "cannot connect to the database" in str(error.value) and "driver" not in str(error.value)


def test_a_trial_beyond_n_trials_is_refused_before_training(tmp_path):
    """Two workers may both start a trial after the other's check: the one numbered beyond ``n_trials``
    finished-or-running trials fails at once (not counted) and stops its worker."""
    from common.tabular.tune import GBDTTuneConfig, make_objective
    from common.tuning.study import SurplusTrial, within_budget

    cfg = GBDTTuneConfig(n_trials=1)
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'race.db'}", direction="maximize")
    study.ask()  # the other worker's trial, still running
    late = study.ask()
    with pytest.raises(SurplusTrial):
        within_budget(make_objective(cfg, folds=[], categorical=[]), cfg.n_trials)(late)
    assert late.user_attrs["surplus"] is True


def test_shipped_recipe_holds_the_default_space():
    recipe = Path(tune.__file__).parent / "configs" / "tune.yaml"
    cfg, raw, source = parse_with_space(tune.TuneConfig, ["--config", str(recipe)])
    assert cfg.study_name == "home_credit_lgb" and tabular_tune.search_space(raw, source) == tabular_tune.search_space()


@pytest.mark.slow
def test_search_space_comes_from_the_recipe(home_credit_data, tmp_path):
    recipe = tmp_path / "tune.yaml"
    recipe.write_text("search_space:\n  num_leaves: {type: int, low: 4, high: 16}\n")
    best = tune.main(["--data", str(home_credit_data), "--name", "recipe", *TUNE_FAST, "--n-trials", "1",
                      "--config", str(recipe)])
    assert best["tuned"] == ["num_leaves"] and 4 <= best["params"]["num_leaves"] <= 16
    recipe.write_text("search_space:\n  max_bin: {type: int, low: 4, high: 16}\n")
    with pytest.raises(ValueError, match=f"'max_bin' in {recipe}"):
        tune.main(["--data", str(home_credit_data), "--name", "recipe2", *TUNE_FAST, "--config", str(recipe)])


@pytest.mark.slow
@pytest.mark.parametrize("model", ["xgboost", "catboost"])
def test_shipped_recipes_of_the_other_libraries_tune_them(home_credit_data, model):
    recipe = Path(tune.__file__).parent / "configs" / f"tune_{model}.yaml"
    cfg, raw, source = parse_with_space(tune.TuneConfig, ["--config", str(recipe)])
    assert cfg.model == model
    assert tabular_tune.search_space(raw, source, model) == tabular_tune.search_space(model=model)
    best = tune.main(["--data", str(home_credit_data), "--config", str(recipe), *TUNE_FAST, "--n-trials", "1",
                      "--num-boost-round", "10"])
    assert best["params"]["model"] == model and best["finished_trials"] == 1
    metrics = train.main(["--data", str(home_credit_data), "--tables", "application", "--fold", "0", "--name",
                          f"tuned-{model}", "--num-threads", "1", "--log-period", "0", "--num-boost-round", "10",
                          "--params", str(runs_root() / "home_credit" / cfg.name / "best_params.yaml")])
    assert metrics["model"] == model


def test_a_mistyped_library_parameter_or_cuda_without_a_gpu_is_refused_before_any_work(tmp_path, monkeypatch):
    params = tmp_path / "bad.yaml"
    params.write_text(yaml.safe_dump({"num_leafs": 15}))
    args = ["--data", str(tmp_path / "no-data"), "--name", "tune-refused", *TUNE_FAST]
    with pytest.raises(ValueError, match=r"'num_leafs' is neither an option nor a lightgbm parameter "
                                         r"\(did you mean 'num_leaves'\?\)"):
        tune.main([*args, "--params", str(params)])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with pytest.raises(ValueError, match=r"^option --device cuda: no GPU is visible here"):
        tune.main([*args, "--model", "xgboost", "--device", "cuda"])
    assert not (runs_root() / "home_credit" / "tune-refused").exists()
