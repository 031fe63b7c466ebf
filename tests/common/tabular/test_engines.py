"""XGBoost and CatBoost through the tabular engine on scikit-learn's breast cancer data: the same fold
driver, prediction files, model files and resume as LightGBM."""
from __future__ import annotations

import catboost
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.datasets import load_breast_cancer

from common.config import parse_config
from common.device import gpu_count
from common.folds import make_folds
from common.metrics import roc_auc
from common.run import OOF_COLUMNS, Run
from common.tabular.catboost_engine import MISSING_CODE, with_integer_codes
from common.tabular.config import GBDTConfig
from common.tabular.cross_validate import train_cv
from common.tabular.matrix import TabularMatrix
from common.tabular.protocol import model_params
from common.tabular.xgboost_engine import as_categories

FAST = ["--num-threads", "1", "--learning-rate", "0.2", "--max-depth", "3", "--num-boost-round", "30",
        "--early-stopping-rounds", "10", "--log-period", "0", "--n-splits", "3"]
MODEL_FILES = {"xgboost": "model.json", "catboost": "model.cbm"}
PARAMS_FILES = {"xgboost": "xgb_params.yaml", "catboost": "catboost_params.yaml"}


@pytest.fixture(scope="module")
def cancer() -> tuple[TabularMatrix, np.ndarray]:
    """400 labelled rows and 169 test rows, 30 features plus a category-code column, 3 folds."""
    data = load_breast_cancer(as_frame=True)
    frame = data.data.rename(columns=lambda c: c.replace(" ", "_")).assign(row=np.arange(len(data.data)))
    # a category whose codes carry the label in no order: code 2 and 0 mostly class 1, code 1 class 0
    rng = np.random.default_rng(0)
    code = np.where(data.target == 1, rng.choice([0, 2], len(frame)), 1).astype("float32")
    code[rng.random(len(frame)) < 0.3] = np.nan
    frame["grade"] = code
    frame["label"] = data.target.astype(float)
    frame.loc[400:, "label"] = np.nan
    matrix = TabularMatrix.from_frame(frame, "row", "label")
    matrix.categorical = ["grade"]
    return matrix, make_folds(matrix.ids, matrix.y, n_splits=3, seed=0)["fold"].to_numpy()


def _train(root, matrix, folds, model, *args) -> tuple[Run, dict]:
    cfg = parse_config(GBDTConfig, [*FAST, "--model", model, *args])
    run = Run.open("toy", cfg.name, root)
    run.save_config(cfg)
    return run, train_cv(run, cfg, matrix, folds, model_params(cfg), title="toy")


@pytest.mark.slow
@pytest.mark.parametrize("model", ["xgboost", "catboost"])
def test_each_library_writes_the_run_contract(cancer, tmp_path, model):
    matrix, folds = cancer
    run, metrics = _train(tmp_path, matrix, folds, model)
    assert run.root.name == {"xgboost": "xgb", "catboost": "catboost"}[model]  # the default name follows --model
    assert metrics["complete"] and metrics["model"] == model and metrics["n_features"] == 31
    assert metrics["importance_type"] == {"xgboost": "total_gain", "catboost": "PredictionValuesChange"}[model]
    assert metrics["oof"]["auc_given"]["auc"] > 0.95 and metrics["timing"][f"{model}_s"] > 0
    for fold in metrics["folds"].values():
        assert 1 <= fold["best_iteration"] <= 30
    oof = pd.read_csv(run.root / "oof.csv")
    assert list(oof.columns) == OOF_COLUMNS and sorted(oof["id"]) == list(range(400))
    test = pd.read_csv(run.root / "test.csv")
    assert sorted(test["id"]) == list(range(400, 569)) and test["pred"].between(0, 1).all()
    importance = pd.read_csv(run.root / "importance.csv")
    assert set(importance["feature"]) == set(matrix.features) and importance["importance_mean"].iloc[0] > 0
    for name in ("importance.png", "roc.png", PARAMS_FILES[model], "fold0/importance.csv", "fold0/done.json"):
        assert (run.root / name).is_file(), name

    # the model file holds the rounds up to the best one: it reproduces the fold's validation predictions
    valid = oof[oof["fold"] == 2]
    x = matrix.train.loc[valid["id"], matrix.features]
    path = run.root / "fold2" / MODEL_FILES[model]
    if model == "xgboost":
        booster = xgb.Booster(model_file=str(path))
        x, = as_categories([x], ["grade"])
        pred = booster.predict(xgb.DMatrix(x, enable_categorical=True))
        assert booster.num_boosted_rounds() == metrics["folds"]["2"]["best_iteration"]
    else:
        booster = catboost.CatBoost().load_model(str(path))
        pred = booster.predict(catboost.Pool(with_integer_codes(x, ["grade"]), cat_features=["grade"]),
                               prediction_type="Probability")[:, 1]
        assert booster.tree_count_ == metrics["folds"]["2"]["best_iteration"]
    np.testing.assert_allclose(pred, valid["pred"], rtol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["xgboost", "catboost"])
def test_a_run_stopped_after_a_fold_resumes_to_the_same_files(cancer, tmp_path, model):
    matrix, folds = cancer
    whole, _ = _train(tmp_path / "whole", matrix, folds, model)
    parted, _ = _train(tmp_path / "parted", matrix, folds, model, "--fold", "0")
    stamp = (parted.root / "fold0" / "oof.csv").stat().st_mtime_ns
    parted, metrics = _train(tmp_path / "parted", matrix, folds, model)
    assert metrics["timing"]["folds_trained"] == 2  # fold 0 kept
    assert (parted.root / "fold0" / "oof.csv").stat().st_mtime_ns == stamp
    same = ["oof.csv", "test.csv", "fold1/importance.csv"]
    if model == "xgboost":  # a CatBoost model file carries a random model_guid
        same.append("fold1/model.json")
    for name in same:
        assert (parted.root / name).read_bytes() == (whole.root / name).read_bytes(), name


def test_categories_share_levels_across_rows_and_catboost_codes_are_integers():
    train = pd.DataFrame({"c": [0.0, 2.0, np.nan], "x": [1.0, 2.0, 3.0]})
    test = pd.DataFrame({"c": [1.0, 2.0], "x": [0.0, 0.0]})
    a, b = as_categories([train, test], ["c"])
    assert list(a["c"].cat.categories) == list(b["c"].cat.categories) == [0, 1, 2]
    assert a["c"].cat.codes.tolist() == [0, 2, -1] and b["c"].cat.codes.tolist() == [1, 2]
    assert train["c"].dtype == np.float64  # the caller's frame untouched
    codes = with_integer_codes(train, ["c"])
    assert codes["c"].tolist() == [0, 2, MISSING_CODE] and codes["c"].dtype == np.int64


def test_options_a_library_cannot_read_and_cuda_lightgbm_are_refused():
    with pytest.raises(ValueError, match=r"option --num-leaves: --model xgboost has no such parameter"):
        parse_config(GBDTConfig, ["--model", "xgboost", "--num-leaves", "63"])
    with pytest.raises(ValueError, match=r"option --min-data-in-leaf: --model catboost has no such parameter"):
        parse_config(GBDTConfig, ["--model", "catboost", "--min-data-in-leaf", "5"])
    from common.tabular.tune import GBDTTuneConfig
    for cls in (GBDTConfig, GBDTTuneConfig):  # training and tuning alike
        with pytest.raises(ValueError, match="option --device cuda: LightGBM's pip build trains on the CPU only"):
            parse_config(cls, ["--device", "cuda"])
        with pytest.raises(ValueError, match=r"option --num-leaves: --model xgboost has no such parameter"):
            parse_config(cls, ["--model", "xgboost", "--num-leaves", "63"])


def test_the_tuning_options_are_the_training_options_with_a_studys_defaults():
    from dataclasses import fields

    from common.tabular.tune import GBDTTuneConfig
    training, tuning = ({f.name: f for f in fields(cls)} for cls in (GBDTConfig, GBDTTuneConfig))
    assert set(training) <= set(tuning)
    assert {name for name in training if tuning[name].default != training[name].default} == {
        "name", "learning_rate", "num_boost_round"}
    assert all(tuning[name].metadata == training[name].metadata for name in training if name != "name")


def test_options_become_each_librarys_parameters(tmp_path):
    extra = tmp_path / "params.yaml"
    extra.write_text("learning_rate: 0.07\nnum_boost_round: 50\ngrow_policy: lossguide\n")
    cfg = parse_config(GBDTConfig, ["--model", "xgboost", "--max-depth", "-1", "--lambda-l1", "0.5",
                                    "--params", str(extra)])
    from common.tuning.params import apply_params
    params = model_params(apply_params(cfg, others="xgboost parameters"))
    assert params["max_depth"] == 6 and params["alpha"] == 0.5 and params["eta"] == 0.07
    assert params["grow_policy"] == "lossguide" and "learning_rate" not in params  # an option, not passed raw
    # one rule for every library: the file's options are options, its other keys the library's parameters
    extra.write_text("learning_rate: 0.07\nnum_boost_round: 50\nextra_trees: true\n")
    lgb = model_params(apply_params(parse_config(GBDTConfig, ["--params", str(extra)]), others="lightgbm parameters"))
    assert lgb["learning_rate"] == 0.07 and lgb["extra_trees"] is True and "num_boost_round" not in lgb
    cat = model_params(parse_config(GBDTConfig, ["--model", "catboost", "--max-depth", "4", "--device", "cuda"]))
    assert cat["depth"] == 4 and cat["task_type"] == "GPU" and "rsm" not in cat


@pytest.mark.skipif(gpu_count() == 0, reason="needs a GPU")
@pytest.mark.parametrize("model", ["xgboost", "catboost"])
def test_gpu_training_matches_the_cpu_auc(cancer, tmp_path, model):
    matrix, folds = cancer
    _, cpu = _train(tmp_path / "cpu", matrix, folds, model)
    _, gpu = _train(tmp_path / "gpu", matrix, folds, model, "--device", "cuda")
    assert abs(gpu["oof"]["auc_given"]["auc"] - cpu["oof"]["auc_given"]["auc"]) < 0.02


@pytest.mark.slow
@pytest.mark.parametrize("model", ["xgboost", "catboost"])
def test_a_study_tunes_the_librarys_parameters_and_its_best_trains_that_library(cancer, tmp_path, model):
    import yaml

    from common.tabular.tune import GBDTTuneConfig, run_study, search_space
    from common.tuning.params import apply_params
    matrix, folds = cancer
    args = ["--model", model, "--tune-folds", "2", "--n-splits", "3", "--num-threads", "1", "--learning-rate",
            "0.3", "--num-boost-round", "15", "--early-stopping-rounds", "5", "--n-startup-trials", "1",
            "--n-warmup-steps", "0", "--no-progress", "--n-trials", "3"]
    cfg = parse_config(GBDTTuneConfig, args)
    run = Run.open("toy", cfg.name, tmp_path)
    result = run_study(run, cfg, lambda: (matrix, folds))
    assert result["finished_trials"] == 3 and len(result["fold_aucs"]) == 2 and result["cv_auc"] > 0.9
    best = yaml.safe_load((run.root / "best_params.yaml").read_text())["params"]
    assert best["model"] == model and set(best) - {"model", "learning_rate"} == set(search_space(model=model))

    trained = apply_params(parse_config(GBDTConfig, [*FAST, "--params", str(run.root / "best_params.yaml")]))
    assert trained.model == model and trained.max_depth == best["max_depth"]
    with pytest.raises(ValueError, match="search space key 'num_leaves'.*not a tunable option"):
        search_space({"num_leaves": {"type": "int", "low": 4, "high": 8}}, "tune.yaml", model)


@pytest.mark.slow
@pytest.mark.parametrize("model, fixed, searched", [
    ("lightgbm", ["--num-leaves", "5"], {"min_data_in_leaf": {"type": "int", "low": 5, "high": 40}}),
    ("xgboost", ["--lambda-l2", "3"], {"max_depth": {"type": "int", "low": 2, "high": 5}}),
    ("catboost", ["--bagging-fraction", "0.7"], {"max_depth": {"type": "int", "low": 3, "high": 5}}),
])
def test_a_trial_fits_the_model_its_best_params_train(cancer, tmp_path, model, fixed, searched):
    """Tuning and training share one fit path: a run trained with the best trial's ``best_params.yaml`` (the
    study's unsearched options included) scores the trial's exact fold AUCs on the tuning folds."""
    import yaml

    from common.tabular.tune import GBDTTuneConfig, run_study, search_space
    from common.tuning.params import apply_params
    matrix, folds = cancer
    rounds = ["--num-boost-round", "15", "--early-stopping-rounds", "5", "--num-threads", "1", "--n-splits", "3"]
    cfg = parse_config(GBDTTuneConfig, ["--model", model, "--tune-folds", "2", "--learning-rate", "0.3", *rounds,
                                        "--n-startup-trials", "1", "--no-progress", "--n-trials", "2", *fixed])
    run = Run.open("toy", cfg.name, tmp_path)
    run_study(run, cfg, lambda: (matrix, folds), space=search_space(searched, "test", model))
    best = yaml.safe_load((run.root / "best_params.yaml").read_text())
    assert set(searched) <= set(best["params"]) and best["params"][fixed[0][2:].replace("-", "_")] == float(fixed[1])

    trained = apply_params(parse_config(GBDTConfig, [*rounds, "--fold", "0,1", "--log-period", "0",
                                                     "--params", str(run.root / "best_params.yaml")]))
    train_run = Run.open("toy", trained.name, tmp_path / "trained")
    train_cv(train_run, trained, matrix, folds, model_params(trained), title="toy")
    oof = pd.read_csv(train_run.oof_path)
    assert [roc_auc(oof.loc[oof["fold"] == k, "target"], oof.loc[oof["fold"] == k, "pred"]) for k in (0, 1)] == \
        best["fold_aucs"]


def test_extra_trees_is_a_lightgbm_option_the_other_libraries_refuse(cancer, tmp_path):
    matrix, folds = cancer
    plain, _ = _train(tmp_path / "plain", matrix, folds, "lightgbm")
    extra, extra_result = _train(tmp_path / "extra", matrix, folds, "lightgbm", "--extra-trees")
    assert model_params(parse_config(GBDTConfig, ["--extra-trees"]))["extra_trees"] is True
    assert extra_result["oof"]["auc_given"]["auc"] > 0.95  # random thresholds still learn the data
    assert not (extra.root / "oof.csv").read_bytes() == (plain.root / "oof.csv").read_bytes()
    with pytest.raises(ValueError, match=r"option --extra-trees: --model xgboost has no such parameter"):
        parse_config(GBDTConfig, ["--model", "xgboost", "--extra-trees"])
