"""The synthetic Home Credit generator: real layout and codes, linked ids, determinism, known truth, signal."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from competitions.home_credit import schema
from competitions.home_credit.synth import generate
from competitions.home_credit.synth.__main__ import main
from competitions.home_credit.synth.rows import logistic
from competitions.home_credit.synth.behaviour import INTERCEPT, SIDE_WEIGHTS, client_behaviour, side_logit_parts

REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "home_credit"
needs_reference = pytest.mark.skipif(not REFERENCE.is_dir(), reason="../shared/reference/home_credit is absent")
TABLES = schema.table_names()
# Larger real samples where the reference has them (value distributions), else the first 199 rows.
SAMPLES = {"bureau.csv": "random_rows/bureau.random20000.csv",
           "bureau_balance.csv": "random_rows/bureau_balance.random20000.csv",
           "POS_CASH_balance.csv": "random_rows/POS_CASH_balance.random20000.csv",
           "credit_card_balance.csv": "random_rows/credit_card_balance.random20000.csv",
           "installments_payments.csv": "random_rows/installments_payments.random20000.csv",
           "previous_application.csv": "random_rows/previous_application.head10000.csv"}
# Real rows per client (all 356,255 application clients).
REAL_ROWS_PER_CLIENT = {"bureau.csv": 4.82, "bureau_balance.csv": 76.6, "previous_application.csv": 4.69,
                        "POS_CASH_balance.csv": 28.1, "installments_payments.csv": 38.2, "credit_card_balance.csv": 10.8}


def reference_sample(table: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / SAMPLES.get(table, table.replace(".csv", ".head199.csv")))


def read(folder: Path, table: str, **kwargs) -> pd.DataFrame:
    return pd.read_csv(folder / table, **kwargs)


def test_every_file_is_written(home_credit_data):
    expected = {*TABLES, "sample_submission.csv", schema.DESCRIPTION_FILE, "_truth.csv", "_truth.json"}
    assert {p.name for p in home_credit_data.iterdir()} == expected


@pytest.mark.parametrize("table", TABLES)
def test_header_matches_schema(home_credit_data, table):
    with open(home_credit_data / table) as handle:
        assert handle.readline().rstrip("\n").split(",") == schema.columns(table)


@needs_reference
@pytest.mark.parametrize("table", TABLES)
def test_header_matches_the_real_file(home_credit_data, table):
    real = REFERENCE / table.replace(".csv", ".head199.csv")
    with open(home_credit_data / table) as mine, open(real) as theirs:
        assert mine.readline().strip() == theirs.readline().strip()


@needs_reference
@pytest.mark.parametrize("table", TABLES)
def test_value_kinds_match_the_real_file(home_credit_data, table):
    """Integer, float and text columns come out as the same kind as in the real file, and every frequent
    real code appears while unknown codes stay rare."""
    mine, real = read(home_credit_data, table), reference_sample(table)
    kinds = {c: (mine[c].dtype.kind, real[c].dtype.kind) for c in real.columns}
    assert {c: k for c, k in kinds.items() if k[0] != k[1]} == {}
    for column in real.columns[real.dtypes.map(lambda d: d.kind == "O" or str(d) == "str")]:
        real_share = real[column].value_counts(normalize=True)
        mine_share = mine[column].value_counts(normalize=True)
        frequent = set(real_share[real_share >= 0.03].index)
        assert frequent <= set(mine_share.index), (table, column, frequent - set(mine_share.index))
        unseen = mine_share[~mine_share.index.isin(real_share.index)]
        assert unseen.sum() < 0.08, (table, column, unseen.to_dict())  # 199 real rows miss some codes


@needs_reference
@pytest.mark.parametrize("table", TABLES)
def test_missing_rates_are_like_the_real_ones(home_credit_data, table):
    mine, real = read(home_credit_data, table), reference_sample(table)
    gap = (mine.isna().mean() - real.isna().mean()).abs()
    # 199 real application rows leave a sampling error of a few percent.
    assert gap.max() < (0.15 if table.startswith("application") else 0.1), gap[gap >= 0.1].to_dict()


def test_loads_with_the_schema_dtypes(home_credit_data):
    for table in TABLES:
        frame = read(home_credit_data, table, dtype=schema.dtypes(table))
        assert list(frame.columns) == schema.columns(table)


def test_day_sentinel_where_the_real_data_has_it(home_credit_data):
    app = read(home_credit_data, "application_train.csv")
    pensioner_share = (app["DAYS_EMPLOYED"] == schema.SENTINEL_DAYS).mean()
    assert 0.13 < pensioner_share < 0.24
    assert (app.loc[app["DAYS_EMPLOYED"] == schema.SENTINEL_DAYS, "ORGANIZATION_TYPE"] == "XNA").all()
    assert (app.loc[app["DAYS_EMPLOYED"] != schema.SENTINEL_DAYS, "DAYS_EMPLOYED"] <= 0).all()
    previous = read(home_credit_data, "previous_application.csv")
    for column in schema.SENTINEL_COLUMNS["previous_application.csv"]:
        assert (previous[column] == schema.SENTINEL_DAYS).any(), column
        assert (previous[column].dropna() < 1000).any(), column


def test_ids_link_like_the_real_tables(home_credit_data):
    train = read(home_credit_data, "application_train.csv", usecols=["SK_ID_CURR", "TARGET"])
    test = read(home_credit_data, "application_test.csv", usecols=["SK_ID_CURR"])
    clients = set(train["SK_ID_CURR"]) | set(test["SK_ID_CURR"])
    assert train["SK_ID_CURR"].is_unique and test["SK_ID_CURR"].is_unique
    assert len(clients) == len(train) + len(test)
    bureau = read(home_credit_data, "bureau.csv", usecols=["SK_ID_CURR", "SK_ID_BUREAU"])
    balance = read(home_credit_data, "bureau_balance.csv", usecols=["SK_ID_BUREAU", "MONTHS_BALANCE"])
    previous = read(home_credit_data, "previous_application.csv", usecols=["SK_ID_PREV", "SK_ID_CURR"])
    assert bureau["SK_ID_BUREAU"].is_unique and previous["SK_ID_PREV"].is_unique
    assert set(bureau["SK_ID_CURR"]) <= clients and set(previous["SK_ID_CURR"]) <= clients
    assert set(balance["SK_ID_BUREAU"]) <= set(bureau["SK_ID_BUREAU"])
    assert not balance.duplicated().any()
    owner = previous.set_index("SK_ID_PREV")["SK_ID_CURR"]
    for table in ("POS_CASH_balance.csv", "installments_payments.csv", "credit_card_balance.csv"):
        rows = read(home_credit_data, table, usecols=["SK_ID_PREV", "SK_ID_CURR"])
        assert rows["SK_ID_PREV"].isin(owner.index).all(), table
        assert (owner.loc[rows["SK_ID_PREV"]].to_numpy() == rows["SK_ID_CURR"].to_numpy()).all(), table
    submission = read(home_credit_data, "sample_submission.csv")
    assert list(submission.columns) == ["SK_ID_CURR", "TARGET"]
    assert submission["SK_ID_CURR"].tolist() == test["SK_ID_CURR"].tolist()
    assert (submission["TARGET"] == 0.5).all()


def test_side_table_sizes_follow_the_real_ratios(home_credit_data):
    n_clients = sum(len(read(home_credit_data, t, usecols=["SK_ID_CURR"]))
                    for t in ("application_train.csv", "application_test.csv"))
    for table, real_ratio in REAL_ROWS_PER_CLIENT.items():
        with open(home_credit_data / table) as handle:
            ratio = (sum(1 for _ in handle) - 1) / n_clients
        assert 0.7 * real_ratio < ratio < 1.3 * real_ratio, (table, ratio, real_ratio)


def test_truth_is_recorded_and_consistent(home_credit_data):
    train = read(home_credit_data, "application_train.csv", usecols=["SK_ID_CURR", "TARGET"])
    truth = read(home_credit_data, "_truth.csv")
    summary = json.loads((home_credit_data / "_truth.json").read_text())
    assert truth["SK_ID_CURR"].tolist() == train["SK_ID_CURR"].tolist()
    parts = [c for c in truth.columns if c.startswith("logit_")]
    assert parts == ["logit_application", *(f"logit_{name}" for name in SIDE_WEIGHTS)]
    np.testing.assert_allclose(truth["p_true"], logistic(INTERCEPT + truth[parts].sum(axis=1)), rtol=1e-9)
    assert summary["bayes_auc"] == pytest.approx(roc_auc_score(train["TARGET"], truth["p_true"]))
    assert summary["application_part_auc"] == pytest.approx(roc_auc_score(train["TARGET"], truth["logit_application"]))
    assert summary["bayes_auc"] > summary["application_part_auc"] + 0.05
    assert 0.05 < train["TARGET"].mean() < 0.12
    assert summary["target_rate"] == pytest.approx(train["TARGET"].mean())


def test_side_part_of_the_truth_is_recomputed_from_the_written_tables(home_credit_data):
    """The behaviour the target depends on is what the side tables show: aggregating the files gives it back."""
    truth = read(home_credit_data, "_truth.csv")
    tables = {name: read(home_credit_data, f"{name}.csv")
              for name in ("bureau", "previous_application", "POS_CASH_balance", "installments_payments",
                           "credit_card_balance")}
    behaviour = client_behaviour(truth["SK_ID_CURR"].to_numpy(), tables["bureau"], tables["previous_application"],
                                 tables["POS_CASH_balance"], tables["installments_payments"],
                                 tables["credit_card_balance"])
    side = side_logit_parts(behaviour)
    for name, part in side.items():
        np.testing.assert_allclose(truth[name], part, rtol=1e-9, atol=1e-12, err_msg=name)
        assert np.std(part) > 0.05, name  # every aggregate moves the logit
    p_true = logistic(INTERCEPT + truth["logit_application"] + sum(side.values()))
    np.testing.assert_allclose(truth["p_true"], p_true, rtol=1e-9)


def test_description_file_has_the_real_layout_in_own_words(home_credit_data):
    mine = read(home_credit_data, schema.DESCRIPTION_FILE)
    assert list(mine.columns) == ["Unnamed: 0", "Table", "Row", "Description", "Special"]
    for table in TABLES:
        label = "application_{train|test}.csv" if table.startswith("application") else table
        assert set(schema.columns(table)) <= set(mine.loc[mine["Table"] == label, "Row"]), table
    if REFERENCE.is_dir():
        real = pd.read_csv(REFERENCE / schema.DESCRIPTION_FILE)
        assert list(real.columns) == list(mine.columns)
        shared = set(mine["Description"].str.lower()) & set(real["Description"].str.strip().str.lower())
        assert shared == set()


@pytest.mark.slow
def test_same_seed_same_bytes_whatever_the_workers(tmp_path):
    main(["--out", str(tmp_path / "a"), "--n-clients", "300", "--n-test", "100", "--seed", "3"])
    generate(tmp_path / "b", n_clients=300, n_test=100, seed=3, workers=2)
    generate(tmp_path / "c", n_clients=300, n_test=100, seed=4)
    for name in (*TABLES, "sample_submission.csv", "_truth.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "bureau.csv").read_bytes() != (tmp_path / "c" / "bureau.csv").read_bytes()
    assert not list((tmp_path / "a").glob(".*.tmp"))


def _client_features(folder: Path) -> pd.DataFrame:
    """A few application columns plus one aggregate per behaviour the target depends on."""
    app = read(folder, "application_train.csv").set_index("SK_ID_CURR")
    base = pd.DataFrame({"ext_mean": app[["EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3"]].mean(axis=1),
                         "age": app["DAYS_BIRTH"], "annuity_income": app["AMT_ANNUITY"] / app["AMT_INCOME_TOTAL"]})
    ins = read(folder, "installments_payments.csv")
    late = (ins["DAYS_ENTRY_PAYMENT"] - ins["DAYS_INSTALMENT"]).clip(lower=0).groupby(ins["SK_ID_CURR"]).mean()
    previous = read(folder, "previous_application.csv", usecols=["SK_ID_CURR", "NAME_CONTRACT_STATUS"])
    refused = (previous["NAME_CONTRACT_STATUS"] == "Refused").groupby(previous["SK_ID_CURR"]).mean()
    bureau = read(folder, "bureau.csv", usecols=["SK_ID_CURR", "AMT_CREDIT_SUM_DEBT", "AMT_CREDIT_SUM"])
    debt = (bureau["AMT_CREDIT_SUM_DEBT"] / bureau["AMT_CREDIT_SUM"]).groupby(bureau["SK_ID_CURR"]).mean()
    side = pd.DataFrame({"late_days": np.log1p(late), "refused_share": refused, "debt_ratio": debt})
    frame = base.join(side)
    return frame.fillna(frame.median()).assign(target=app["TARGET"])


def test_side_tables_carry_signal_beyond_the_application(home_credit_data):
    frame = _client_features(home_credit_data)
    y = frame.pop("target").to_numpy()
    model = make_pipeline(StandardScaler(), LogisticRegression())
    folds = StratifiedKFold(5, shuffle=True, random_state=0)

    def cv_auc(columns: list[str]) -> float:
        return roc_auc_score(y, cross_val_predict(model, frame[columns], y, cv=folds, method="predict_proba")[:, 1])

    application_only = cv_auc(["ext_mean", "age", "annuity_income"])
    with_side = cv_auc(list(frame.columns))
    assert application_only > 0.62
    assert with_side > application_only + 0.03


def test_a_failed_run_keeps_the_earlier_files(tmp_path, monkeypatch):
    import competitions.home_credit.synth.dataset as dataset_module

    generate(tmp_path, n_clients=200, n_test=50, seed=1)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(dataset_module, "sample_credit_card", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        generate(tmp_path, n_clients=200, n_test=50, seed=2)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    with pytest.raises(ValueError, match="n_clients"):
        generate(tmp_path, n_clients=0, n_test=5)


@pytest.mark.slow
def test_shift_option_is_deterministic_and_off_by_default(tmp_path):
    """--shift 0 writes exactly the default files; a shift gives the same bytes whatever --workers, flags
    test clients in _truth_test.csv and records the changed columns in _truth.json."""
    generate(tmp_path / "plain", n_clients=300, n_test=100, seed=3)
    main(["--out", str(tmp_path / "zero"), "--n-clients", "300", "--n-test", "100", "--seed", "3", "--shift", "0"])
    for name in (*TABLES, "sample_submission.csv", "_truth.csv", "_truth.json"):
        assert (tmp_path / "plain" / name).read_bytes() == (tmp_path / "zero" / name).read_bytes(), name
    assert not (tmp_path / "zero" / "_truth_test.csv").exists()
    a = generate(tmp_path / "a", n_clients=300, n_test=100, seed=3, shift=0.5)
    b = generate(tmp_path / "b", n_clients=300, n_test=100, seed=3, shift=0.5, workers=2)
    for name in (*TABLES, "sample_submission.csv", "_truth.csv", "_truth.json", "_truth_test.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    shift = json.loads((a / "_truth.json").read_text())["shift"]
    assert shift["share"] == 0.5 and set(shift["columns"]) == {"AMT_INCOME_TOTAL", "DAYS_BIRTH", "NAME_HOUSING_TYPE"}
    test_truth = pd.read_csv(a / "_truth_test.csv")
    test_ids = read(a, "application_test.csv", usecols=["SK_ID_CURR"])["SK_ID_CURR"]
    assert list(test_truth["SK_ID_CURR"]) == list(test_ids)
    assert 0.3 < test_truth["shifted"].mean() < 0.7 and shift["n_shifted"] == test_truth["shifted"].sum()
    assert set(test_truth["TARGET"]) <= {0, 1} and test_truth["p_true"].between(0, 1).all()
    # the shifted clients are younger and richer than the others
    app = read(a, "application_test.csv").set_index("SK_ID_CURR").loc[test_truth["SK_ID_CURR"]]
    flag = test_truth["shifted"].to_numpy() == 1
    assert app["DAYS_BIRTH"][flag].mean() > app["DAYS_BIRTH"][~flag].mean()
    assert app["AMT_INCOME_TOTAL"][flag].median() > app["AMT_INCOME_TOTAL"][~flag].median()
    with pytest.raises(ValueError, match="shift"):
        generate(tmp_path / "bad", n_clients=300, n_test=100, shift=1.5)


HISTORY = ("bureau.csv", "bureau_balance.csv", "previous_application.csv", "POS_CASH_balance.csv",
           "installments_payments.csv", "credit_card_balance.csv")


def _ids_in_blocks(ids: np.ndarray) -> bool:
    """Whether the rows of each id are consecutive."""
    return 1 + np.count_nonzero(ids[1:] != ids[:-1]) == np.unique(ids).size


@pytest.mark.slow
def test_kaggle_row_order_moves_whole_lines_like_the_real_files(tmp_path):
    """--row-order kaggle keeps every line's text and the other files' bytes; rows of the monthly and previous
    tables are scattered, bureau's client blocks and bureau_balance's loan blocks move whole; same seed, same bytes."""
    client = generate(tmp_path / "client", n_clients=300, n_test=100, seed=3)
    main(["--out", str(tmp_path / "a"), "--n-clients", "300", "--n-test", "100", "--seed", "3",
          "--row-order", "kaggle"])
    b = generate(tmp_path / "b", n_clients=300, n_test=100, seed=3, row_order="kaggle", workers=2)
    a = tmp_path / "a"
    for name in {p.name for p in client.iterdir()}:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
        if name not in HISTORY:
            assert (a / name).read_bytes() == (client / name).read_bytes(), name
    assert not list(a.glob(".*.tmp"))
    for name in HISTORY:
        mine, theirs = (a / name).read_text().splitlines(), (client / name).read_text().splitlines()
        assert mine[0] == theirs[0] and sorted(mine[1:]) == sorted(theirs[1:]) and mine != theirs, name
    for name in ("previous_application.csv", "POS_CASH_balance.csv", "installments_payments.csv",
                 "credit_card_balance.csv"):
        ids = read(a, name, usecols=["SK_ID_CURR"])["SK_ID_CURR"].to_numpy()
        assert (np.diff(ids) < 0).any() and not _ids_in_blocks(ids), name
    for name, key in (("bureau.csv", "SK_ID_CURR"), ("bureau_balance.csv", "SK_ID_BUREAU")):
        moved, kept = read(a, name), read(client, name)
        ids = moved[key].to_numpy()
        assert (np.diff(ids) < 0).any() and _ids_in_blocks(ids), name
        # each id's rows keep their order: sorting the moved file by id alone (stable) gives the client order
        pd.testing.assert_frame_equal(moved.sort_values(key, kind="stable", ignore_index=True),
                                      kept.sort_values(key, kind="stable", ignore_index=True), obj=name)
        assert (kept[key].diff().dropna() >= 0).all(), name
    with pytest.raises(SystemExit) as bad_option:  # argparse's usage error
        main(["--out", str(tmp_path / "bad"), "--n-clients", "300", "--row-order", "sorted"])
    assert bad_option.value.code == 2
    with pytest.raises(ValueError, match="row_order"):
        generate(tmp_path / "bad", n_clients=300, n_test=100, row_order="sorted")
