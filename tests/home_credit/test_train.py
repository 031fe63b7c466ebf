"""train.py end to end on tiny synthetic data: the prediction-file contract, folds, resume, overrides."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from common.folds import load_folds
from common.paths import runs_root
from common.run import OOF_COLUMNS
from competitions.home_credit import train
from competitions.home_credit.features.build import ALL_GROUPS
from tests.home_credit.helpers import FAST, kit_roots  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("kit_roots")


@pytest.fixture(scope="module")
def full_run(home_credit_data, kit_roots):
    metrics = train.main(["--data", str(home_credit_data), "--name", "full", *FAST])
    return runs_root() / "home_credit" / "full", metrics


@pytest.mark.slow
def test_all_folds_write_the_prediction_contract(full_run, home_credit_data):
    run, metrics = full_run
    app = pd.read_csv(home_credit_data / "application_train.csv", usecols=["SK_ID_CURR", "TARGET"])
    test_ids = pd.read_csv(home_credit_data / "application_test.csv", usecols=["SK_ID_CURR"])["SK_ID_CURR"]
    oof = pd.read_csv(run / "oof.csv")
    assert list(oof.columns) == OOF_COLUMNS
    assert sorted(oof["id"]) == sorted(app["SK_ID_CURR"])
    folds = load_folds(runs_root() / "home_credit" / "folds.csv", oof["id"])
    assert (folds["fold"].to_numpy() == oof["fold"].to_numpy()).all()
    merged = oof.merge(app, left_on="id", right_on="SK_ID_CURR")
    assert (merged["target"] == merged["TARGET"]).all()
    test = pd.read_csv(run / "test.csv")
    assert sorted(test["id"]) == sorted(test_ids) and test["pred"].between(0, 1).all()
    assert set(metrics["folds"]) == {"0", "1", "2", "3", "4"}
    assert all(fold["best_iteration"] >= 1 for fold in metrics["folds"].values())
    oof_auc = metrics["oof"]["auc_given"]
    assert metrics["complete"] and oof_auc["ci_low"] < oof_auc["auc"] < oof_auc["ci_high"]
    assert oof_auc["auc"] > 0.65  # the synthetic target is learnable
    assert metrics["timing"]["lightgbm_s"] > 0 and metrics["timing"]["overhead_ratio"] >= 0
    assert metrics["n_features"] >= 300 and metrics["tables"] == list(ALL_GROUPS)
    importance = pd.read_csv(run / "importance.csv")
    assert importance["importance_mean"].iloc[0] > 0 and len(importance) == metrics["n_features"]
    for name in ("importance.png", "roc.png", "fold0/model.txt", "config.yaml", "log.txt"):
        assert (run / name).is_file(), name


@pytest.mark.slow
def test_single_folds_reproduce_the_full_run_and_resume(full_run, home_credit_data):
    run, _ = full_run
    args = ["--data", str(home_credit_data), "--name", "byfold", *FAST]
    train.main([*args, "--fold", "0"])
    byfold = runs_root() / "home_credit" / "byfold"
    first = pd.read_csv(byfold / "oof.csv")
    assert set(first["fold"]) == {0}
    full = pd.read_csv(run / "oof.csv")
    expected = full[full["fold"] == 0].set_index("id")["pred"]
    np.testing.assert_allclose(first.set_index("id")["pred"].loc[expected.index], expected, rtol=1e-6)
    stamp = (byfold / "fold0" / "oof.csv").stat().st_mtime_ns
    metrics = train.main([*args, "--fold", "0,1"])
    assert (byfold / "fold0" / "oof.csv").stat().st_mtime_ns == stamp  # fold 0 resumed, not retrained
    assert set(pd.read_csv(byfold / "oof.csv")["fold"]) == {0, 1}
    assert metrics["completed_folds"] == [0, 1] and not metrics["complete"]


@pytest.mark.slow
def test_application_only_and_params_file(home_credit_data, tmp_path):
    params = tmp_path / "best_params.yaml"
    params.write_text(yaml.safe_dump({"params": {"num_leaves": 3, "lambda_l2": 2.5}}))
    metrics = train.main(["--data", str(home_credit_data), "--name", "app", "--tables", "application",
                          "--fold", "0", "--params", str(params), *FAST])
    run = runs_root() / "home_credit" / "app"
    used = yaml.safe_load((run / "lgb_params.yaml").read_text())
    assert used["num_leaves"] == 3 and used["lambda_l2"] == 2.5
    assert 100 < metrics["n_features"] < 250 and metrics["tables"] == ["application"]
    features = pd.read_csv(run / "importance.csv")["feature"]
    assert not features.str.startswith(("BUREAU", "PREV", "INST", "POS", "CC")).any()


@pytest.mark.slow
def test_params_file_sets_the_bins_as_an_option_and_no_other_dataset_parameter(home_credit_data, tmp_path):
    """``max_bin`` is an option (``--max-bin``, the binned matrix's); LightGBM's other Dataset parameters are
    fixed when the matrix is binned: refused in one line before any feature is built."""
    params = tmp_path / "bad.yaml"
    params.write_text(yaml.safe_dump({"min_data_in_bin": 5}))
    with pytest.raises(ValueError, match=r"params file .*bad.yaml: \['min_data_in_bin'\] cannot be set"):
        train.main(["--data", str(home_credit_data), "--name", "bad", "--params", str(params), *FAST])
    assert not (runs_root() / "home_credit" / "bad").exists()
    params.write_text(yaml.safe_dump({"max_bin": 15}))
    train.main(["--data", str(home_credit_data), "--name", "bins", "--tables", "application", "--fold", "0",
                "--params", str(params), *FAST])
    model = (runs_root() / "home_credit" / "bins" / "fold0" / "model.txt").read_text()
    assert "[max_bin: 15]" in model and yaml.safe_load((runs_root() / "home_credit" / "bins" / "config.yaml")
                                                        .read_text())["max_bin"] == 15


@pytest.mark.parametrize("spec", ["5", "x", "-1"])
def test_bad_fold_option(home_credit_data, spec):
    with pytest.raises(ValueError, match="fold"):
        train.main(["--data", str(home_credit_data), "--name", "badfold", "--tables", "application",
                    "--fold", spec, *FAST])


@pytest.mark.slow
def test_params_means_what_it_means_everywhere_options_first(home_credit_data, tmp_path):
    """--params overrides options as in every command (config.yaml shows the values used); a key that is no
    option goes to LightGBM as a parameter."""
    params = tmp_path / "best_params.yaml"
    params.write_text(yaml.safe_dump({"params": {"num_leaves": 5, "extra_trees": True}}))
    train.main(["--data", str(home_credit_data), "--name", "opts", "--tables", "application", "--fold", "0",
                "--num-leaves", "63", "--params", str(params), *FAST])
    run = runs_root() / "home_credit" / "opts"
    assert yaml.safe_load((run / "config.yaml").read_text())["num_leaves"] == 5
    used = yaml.safe_load((run / "lgb_params.yaml").read_text())
    assert used["num_leaves"] == 5 and used["extra_trees"] is True


@pytest.mark.slow
@pytest.mark.parametrize("model, model_file", [("xgboost", "model.json"), ("catboost", "model.cbm")])
def test_other_libraries_train_on_the_shared_folds_with_native_categoricals(home_credit_data, model, model_file):
    from competitions.home_credit.matrix import load_matrix
    fast = ["--num-threads", "1", "--learning-rate", "0.2", "--num-boost-round", "25",
            "--early-stopping-rounds", "10", "--log-period", "0"]
    metrics = train.main(["--data", str(home_credit_data), "--model", model, "--tables", "application",
                          "--fold", "0,1", *fast])
    run = runs_root() / "home_credit" / {"xgboost": "xgb", "catboost": "catboost"}[model]
    assert metrics["model"] == model and metrics["completed_folds"] == [0, 1]
    assert yaml.safe_load((run / "config.yaml").read_text())["model"] == model
    oof = pd.read_csv(run / "oof.csv")
    shared = pd.read_csv(runs_root() / "home_credit" / "folds.csv").set_index("id")["fold"]
    assert (shared.loc[oof["id"]].to_numpy() == oof["fold"].to_numpy()).all()  # the folds every model shares
    assert (run / "fold1" / model_file).is_file() and pd.read_csv(run / "test.csv")["pred"].between(0, 1).all()
    categorical = load_matrix(home_credit_data, ["application"]).categorical
    assert {"CODE_GENDER", "NAME_CONTRACT_TYPE", "OCCUPATION_TYPE"} <= set(categorical)
    importance = pd.read_csv(run / "importance.csv").set_index("feature")["importance_mean"]
    assert set(categorical) <= set(importance.index)


def test_every_shipped_recipe_parses_with_its_command():
    from pathlib import Path

    from common.config import parse_config
    from common.tuning.space import parse_with_space
    from competitions.home_credit import tune
    from competitions.home_credit.recipe import TrainConfig
    configs = Path(train.__file__).parent / "configs"
    for path in sorted(configs.glob("*.yaml")):
        if path.stem.startswith("tune"):
            cfg, raw, source = parse_with_space(tune.TuneConfig, ["--config", str(path)])
            if raw:  # a bad key raises, naming the file
                tune.search_space(raw, source, cfg.model)
        else:
            cfg = parse_config(TrainConfig, ["--config", str(path)])
        assert cfg.name, path
    for model, name in (("xgboost", "xgb"), ("catboost", "catboost")):
        cfg = parse_config(TrainConfig, ["--config", str(configs / f"{model}.yaml")])
        assert (cfg.model, cfg.name) == (model, name)


@pytest.mark.parametrize("model", ["lightgbm", "xgboost", "catboost"])
def test_a_mistyped_library_parameter_is_one_line_before_any_work(tmp_path, capsys, model):
    """``num_leafs`` was passed to LightGBM, which ignored it while lgb_params.yaml recorded it as used (and
    CatBoost ended in a traceback): now one line naming the key and the closest name, before the data is read."""
    from common.cli import run_cli
    params = tmp_path / "bad.yaml"
    params.write_text(yaml.safe_dump({"num_leafs": 15}))
    with pytest.raises(SystemExit) as exit_:
        run_cli(train.main, ["--data", str(tmp_path / "no-data"), "--model", model, "--name", "typo",
                             "--params", str(params), *FAST[:2]])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: params file {params}: 'num_leafs' is neither an option nor a {model} parameter "
                   "(did you mean 'num_leaves'?)"]
    assert not (runs_root() / "home_credit" / "typo").exists()


@pytest.mark.parametrize("model", ["xgboost", "catboost"])
def test_cuda_without_a_visible_gpu_is_refused_before_any_work(tmp_path, monkeypatch, model):
    """XGBoost trained on the CPU while its params file recorded cuda, CatBoost failed with a CUDA traceback."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # no GPU visible, on any machine
    with pytest.raises(ValueError, match=r"^option --device cuda: no GPU is visible here"):
        train.main(["--data", str(tmp_path / "no-data"), "--model", model, "--device", "cuda", "--name", "gpu"])
    assert not (runs_root() / "home_credit" / "gpu").exists()


@pytest.mark.slow
def test_pseudo_labels_of_a_finished_run_train_a_second_round(full_run, home_credit_data):
    run, _ = full_run
    metrics = train.main(["--data", str(home_credit_data), "--name", "pseudo", *FAST, "--pseudo-from", "full",
                          "--pseudo-negatives", "0.4", "--pseudo-positives", "0.05"])
    second = runs_root() / "home_credit" / "pseudo"
    for fold in range(5):
        source = pd.read_csv(run / f"fold{fold}" / "test.csv")
        picked = pd.read_csv(second / f"fold{fold}" / "pseudo.csv")
        assert len(picked) == round(0.4 * len(source)) + round(0.05 * len(source))
        ranked = source.sort_values("pred", kind="stable")["id"].tolist()   # the lowest as repaid, the highest defaults
        assert set(picked.loc[picked["label"] == 1, "id"]) == set(ranked[-round(0.05 * len(source)):])
    assert metrics["pseudo"]["source"] == str(run) and metrics["complete"]
    assert sorted(pd.read_csv(second / "oof.csv")["id"]) == sorted(pd.read_csv(run / "oof.csv")["id"])


@pytest.mark.parametrize("args, message", [
    (["--pseudo-weight", "0.5"], r"^option --pseudo-weight needs --pseudo-from RUN$"),
    (["--pseudo-from", "nowhere"], r"^option --pseudo-from: run 'nowhere' not found"),
    (["--pseudo-from", "full", "--pseudo-negatives", "0.9", "--pseudo-positives", "0.2"],
     r"^options --pseudo-negatives and --pseudo-positives: 0.9 \+ 0.2 of the test clients is more than all"),
    (["--pseudo-from", "full", "--n-splits", "3"], r"that run has --n-splits 5, this one 3: the folds must be"),
])
def test_pseudo_options_are_checked_before_any_work(full_run, tmp_path, args, message):
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        train.main(["--data", str(tmp_path / "no-data"), "--name", "bad-pseudo", *FAST, *args])
    assert not (runs_root() / "home_credit" / "bad-pseudo").exists()
