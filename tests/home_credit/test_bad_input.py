"""Bad input: clear errors naming the file, column or id, or data handled; nothing earlier clobbered."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from common.paths import runs_root
from competitions.home_credit import data, train
from competitions.home_credit.features import build
from tests.home_credit.helpers import FAST, kit_roots  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("kit_roots")


@pytest.fixture
def copy(home_credit_data, tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(home_credit_data, folder)
    return folder


def _snapshot(folder):
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_missing_table_is_named_before_any_work(copy, tmp_path):
    (copy / "bureau_balance.csv").unlink()
    with pytest.raises(FileNotFoundError, match="bureau_balance.csv"):
        build.build_features(copy, cache_dir=tmp_path / "features")
    assert not (tmp_path / "features").exists()  # failed before building even the application group


def test_renamed_column_names_file_and_column_and_keeps_the_cache(copy, tmp_path):
    cache = tmp_path / "features"
    build.build_features(copy, ["application", "bureau"], cache_dir=cache)
    before = _snapshot(cache) | _snapshot(data.tables_cache_dir(copy))
    bureau = pd.read_csv(copy / "bureau.csv").rename(columns={"AMT_CREDIT_SUM_DEBT": "AMT_DEBT"})
    bureau.to_csv(copy / "bureau.csv", index=False)
    with pytest.raises(data.SchemaError, match=r"bureau.csv.*AMT_CREDIT_SUM_DEBT"):
        build.build_features(copy, ["application", "bureau"], cache_dir=cache)
    assert _snapshot(cache) | _snapshot(data.tables_cache_dir(copy)) == before


def test_text_in_a_number_column_names_the_column(copy):
    prev = pd.read_csv(copy / "previous_application.csv")
    prev["AMT_CREDIT"] = prev["AMT_CREDIT"].astype(object)
    prev.loc[7, "AMT_CREDIT"] = "12 000"
    prev.to_csv(copy / "previous_application.csv", index=False)
    with pytest.raises(data.SchemaError, match=r"previous_application.csv.*column AMT_CREDIT"):
        data.read_csv_checked(copy / "previous_application.csv")


def test_empty_table_is_refused(copy):
    header = (copy / "credit_card_balance.csv").read_text().splitlines()[0]
    (copy / "credit_card_balance.csv").write_text(header + "\n")
    with pytest.raises(data.SchemaError, match="credit_card_balance.csv.*empty"):
        data.read_csv_checked(copy / "credit_card_balance.csv")


@pytest.mark.slow
def test_all_nan_columns_and_an_unseen_test_category_are_handled(copy):
    for name in ("application_train.csv", "application_test.csv"):
        app = pd.read_csv(copy / name)
        app["EXT_SOURCE_1"] = np.nan
        if name == "application_test.csv":
            app.loc[0, "ORGANIZATION_TYPE"] = "Never seen in training"
        app.to_csv(copy / name, index=False)
    bureau = pd.read_csv(copy / "bureau.csv")
    bureau["AMT_ANNUITY"] = np.nan
    bureau.to_csv(copy / "bureau.csv", index=False)

    metrics = train.main(["--data", str(copy), "--name", "odd", "--tables", "application", "bureau",
                          "--fold", "0", *FAST])
    assert np.isfinite(metrics["folds"]["0"]["auc_given"]["auc"])
    matrix = build.build_features(copy, ["application", "bureau"])
    n_train = matrix["TARGET"].notna().sum()
    assert matrix["EXT_SOURCE_1"].isna().all() and matrix["BUREAU_AMT_ANNUITY_SUM"].isna().all()
    unseen = matrix["ORGANIZATION_TYPE"].iloc[n_train]
    assert not np.isnan(unseen) and unseen not in set(matrix["ORGANIZATION_TYPE"].iloc[:n_train])
    test = pd.read_csv(runs_root() / "home_credit" / "odd" / "test.csv").set_index("id")["pred"]
    first_test_id = int(matrix["SK_ID_CURR"].iloc[n_train])
    assert 0 <= test.loc[first_test_id] <= 1


@pytest.mark.slow
def test_run_started_with_another_config_is_not_mixed(copy):
    train.main(["--data", str(copy), "--name", "mixed", "--tables", "application", "--fold", "0", *FAST])
    oof = (runs_root() / "home_credit" / "mixed" / "oof.csv").read_bytes()
    with pytest.raises(ValueError, match="another config"):
        train.main(["--data", str(copy), "--name", "mixed", "--tables", "application", "--fold", "1",
                    *FAST, "--num-leaves", "5"])
    assert (runs_root() / "home_credit" / "mixed" / "oof.csv").read_bytes() == oof


@pytest.mark.slow
def test_n_splits_other_than_the_shared_fold_files_is_refused(copy, tmp_path):
    """Issue 38: --n-splits 3 with a 5-fold folds.csv trained folds 0-2 of the 5-fold file and called the run
    complete over 60% of the clients."""
    runs = tmp_path / "runs"
    train.main(["--data", str(copy), "--runs-dir", str(runs), "--tables", "application", "--fold", "0", *FAST])
    folds = runs / "home_credit" / "folds.csv"
    with pytest.raises(ValueError, match=f"^fold file {folds} holds 5 folds but --n-splits is 3: use --n-splits 5"):
        train.main(["--data", str(copy), "--runs-dir", str(runs), "--tables", "application", "--n-splits", "3",
                    "--name", "three", *FAST])
    assert not (runs / "home_credit" / "three" / "oof.csv").exists()
