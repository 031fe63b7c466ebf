"""Feature correctness against plain per-client computations, the feature cache, and target encoding."""
from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from competitions.home_credit import data
from competitions.home_credit.features import (
    application, build, bureau, installments, pos_cash, previous)
from competitions.home_credit.features.target_encoding import target_encodings
from competitions.home_credit.schema import SENTINEL_DAYS
from tests.home_credit.helpers import kit_roots  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("kit_roots")


@pytest.fixture(scope="module")
def frames(home_credit_data, kit_roots):
    """The tables as the feature modules take them (polars)."""
    return data.load_tables(home_credit_data)


@pytest.fixture(scope="module")
def tables(frames):
    """The same tables in pandas, for the plain computations the features are checked against."""
    return {name: frame.to_pandas() for name, frame in frames.items()}


def by_client(features: pl.DataFrame) -> pd.DataFrame:
    return features.to_pandas().set_index("SK_ID_CURR")


@pytest.fixture(scope="module")
def matrix(home_credit_data, kit_roots):
    return build.build_features(home_credit_data)


@pytest.mark.slow
def test_matrix_has_one_row_per_client_and_hundreds_of_features(matrix, tables):
    train, test = tables["application_train"], tables["application_test"]
    assert matrix["SK_ID_CURR"].tolist() == train["SK_ID_CURR"].tolist() + test["SK_ID_CURR"].tolist()
    assert matrix["TARGET"].iloc[: len(train)].tolist() == train["TARGET"].tolist()
    assert matrix["TARGET"].iloc[len(train):].isna().all()
    features = [c for c in matrix.columns if c not in ("SK_ID_CURR", "TARGET")]
    assert len(features) >= 300
    assert (matrix[features].dtypes == "float32").all()
    prefixes = {name.split("_")[0] for name in features}
    assert {"BUREAU", "PREV", "INST", "POS", "CC", "EXT"} <= prefixes


def test_application_cleaning_and_ratios():
    app = pl.DataFrame({"SK_ID_CURR": [1, 2], "TARGET": [0, 1], "DAYS_EMPLOYED": [SENTINEL_DAYS, -1000],
                        "CODE_GENDER": ["XNA", "F"]},
                       schema={"SK_ID_CURR": pl.Int32, "TARGET": pl.Int32, "DAYS_EMPLOYED": pl.Int32,
                               "CODE_GENDER": pl.Categorical})
    cleaned = application.clean(app)
    assert cleaned["DAYS_EMPLOYED"].to_list() == [None, -1000]
    assert cleaned["DAYS_EMPLOYED_ANOM"].to_list() == [1.0, 0.0]
    assert cleaned["CODE_GENDER"].is_null().to_list() == [True, False]


def test_application_features_match_definitions(matrix, tables):
    train = tables["application_train"]
    row = matrix.iloc[: len(train)]
    expected = (train["AMT_CREDIT"] / train["AMT_ANNUITY"]).to_numpy(np.float32)
    np.testing.assert_allclose(row["CREDIT_TO_ANNUITY"], expected, rtol=1e-5)
    ext = train[["EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3"]].astype("float64")
    np.testing.assert_allclose(row["EXT_MEAN"], ext.mean(axis=1), rtol=1e-5)


def test_installment_lateness_matches_a_plain_groupby(tables, frames):
    inst = tables["installments_payments"]
    features = by_client(installments.build(frames["installments_payments"]))
    # Plain pandas, one instalment at a time: parts of a split payment summed, the first one dates it.
    parts = inst.astype({"AMT_PAYMENT": "float64", "DAYS_ENTRY_PAYMENT": "float64"})
    one = parts.groupby(["SK_ID_PREV", "NUM_INSTALMENT_NUMBER"]).agg(
        client=("SK_ID_CURR", "first"), due_day=("DAYS_INSTALMENT", "min"), first=("DAYS_ENTRY_PAYMENT", "min"),
        due=("AMT_INSTALMENT", "max"), paid=("AMT_PAYMENT", "sum"))
    assert len(one) < len(inst)  # the synthetic data splits some payments
    late = (one["first"] - one["due_day"]).clip(lower=0)
    plain = late.groupby(one["client"]).agg(["max", "sum"])
    np.testing.assert_allclose(features.loc[plain.index, "INST_DPD_MAX"], plain["max"], rtol=1e-5)
    np.testing.assert_allclose(features.loc[plain.index, "INST_DPD_SUM"], plain["sum"], rtol=1e-4)
    recent = one[one["due_day"] >= -365]
    ratio = (recent["paid"] / recent["due"]).replace(np.inf, np.nan)
    plain_1y = ratio.groupby(recent["client"]).mean().dropna()
    np.testing.assert_allclose(features.loc[plain_1y.index, "INST_1Y_PAYMENT_RATIO_MEAN"], plain_1y, rtol=1e-4)


@pytest.mark.parametrize("holes", [False, True])
def test_split_payments_merge_as_a_group_by_of_the_loan_and_instalment_number(frames, holes):
    """The sorted-runs reduction against polars' group-by of (client, loan, number), in a shuffled table with
    missing payments and, with ``holes``, missing instalment numbers (no such row in Kaggle's file): they must
    not merge the instalments of different loans."""
    inst = frames["installments_payments"]
    if holes:
        inst = inst.with_columns(pl.when(pl.int_range(pl.len()) % 50 == 0).then(None)
                                 .otherwise(pl.col("NUM_INSTALMENT_NUMBER")).cast(pl.Float32)
                                 .alias("NUM_INSTALMENT_NUMBER"))
    unpaid = pl.int_range(pl.len()) % 7 == 0
    inst = inst.with_columns(pl.when(unpaid).then(None).otherwise(pl.col(c)).alias(c)
                             for c in ("AMT_PAYMENT", "DAYS_ENTRY_PAYMENT")).sample(fraction=1.0, shuffle=True, seed=3)
    merged = installments.per_instalment(inst)
    oracle = inst.with_row_index("FIRST_ROW").group_by("SK_ID_CURR", "SK_ID_PREV", "NUM_INSTALMENT_NUMBER").agg(
        pl.col("DAYS_INSTALMENT").min(), pl.col("NUM_INSTALMENT_VERSION").max(), pl.col("AMT_INSTALMENT").max(),
        pl.col("AMT_PAYMENT").cast(pl.Float64).sum(), pl.col("DAYS_ENTRY_PAYMENT").min().alias("FIRST_ENTRY"),
        pl.col("DAYS_ENTRY_PAYMENT").max().alias("LAST_ENTRY"), pl.len().alias("PARTS"), pl.col("FIRST_ROW").min())
    assert merged.height == oracle.height < inst.height
    assert (merged["PARTS"] > 1).any() and merged["FIRST_ENTRY"].null_count() > 0
    assert merged.select(pl.col("SK_ID_CURR").is_sorted()).item()  # listed by client
    joined = merged.join(oracle, on="FIRST_ROW", suffix="_ORACLE")
    assert joined.height == merged.height
    for column in merged.columns:
        if column != "FIRST_ROW":
            ours, theirs = joined[column].cast(pl.Float64), joined[f"{column}_ORACLE"].cast(pl.Float64)
            np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-6, err_msg=column)
            assert ours.is_null().equals(theirs.is_null()), column


@pytest.mark.slow
def test_features_do_not_depend_on_the_order_of_clients_in_the_files(home_credit_data, matrix, tmp_path):
    """Kaggle's history files list clients' rows in another order than the generator's: with each client's
    rows moved as a block, the matrix is the same to the bit (the tables are grouped by client on loading)."""
    import shutil

    folder = tmp_path / "data"
    shutil.copytree(home_credit_data, folder)
    rng = np.random.default_rng(1)
    for table in ("installments_payments", "POS_CASH_balance", "previous_application", "credit_card_balance",
                  "bureau"):
        frame = pd.read_csv(folder / f"{table}.csv")
        block = frame.groupby("SK_ID_CURR", sort=False).ngroup().to_numpy()
        order = rng.permutation(block.max() + 1)
        frame.iloc[np.argsort(order[block], kind="stable")].to_csv(folder / f"{table}.csv", index=False)
    moved = build.build_features(folder, cache_dir=tmp_path / "features")
    pd.testing.assert_frame_equal(moved, matrix)


def test_bureau_balance_is_aggregated_per_loan_before_per_client(tables, frames):
    b, bb = tables["bureau"], tables["bureau_balance"]
    features = by_client(bureau.build(frames["bureau"], frames["bureau_balance"]))
    months = bb.groupby("SK_ID_BUREAU").size()
    per_client = b.assign(n=b["SK_ID_BUREAU"].map(months)).groupby("SK_ID_CURR")["n"].mean().dropna()
    np.testing.assert_allclose(features.loc[per_client.index, "BUREAU_BB_MONTHS_COUNT_MEAN"], per_client,
                               rtol=1e-5)
    active = b[b["CREDIT_ACTIVE"] == "Active"].groupby("SK_ID_CURR")["AMT_CREDIT_SUM_DEBT"].sum(min_count=1)
    active = active.dropna()
    np.testing.assert_allclose(features.loc[active.index, "BUREAU_ACTIVE_AMT_CREDIT_SUM_DEBT_SUM"], active,
                               rtol=1e-4)


def test_previous_split_and_last_application(tables, frames):
    prev = tables["previous_application"]
    features = by_client(previous.build(frames["previous_application"]))
    status = prev["NAME_CONTRACT_STATUS"].astype(str)
    refused = (status == "Refused").groupby(prev["SK_ID_CURR"]).sum()
    counts = prev.groupby("SK_ID_CURR").size()
    np.testing.assert_allclose(features.loc[counts.index, "PREV_COUNT"], counts)
    np.testing.assert_allclose(features.loc[refused.index, "PREV_REFUSED_COUNT"].fillna(0), refused)
    last = prev.sort_values("DAYS_DECISION").groupby("SK_ID_CURR").tail(1).set_index("SK_ID_CURR")
    np.testing.assert_allclose(features.loc[last.index, "PREV_LAST1_DAYS_DECISION_MEAN"], last["DAYS_DECISION"])


def test_annuity_rate_recovers_a_known_interest_rate():
    rate, months, credit = 0.015, np.array([12.0, 24.0, 36.0]), np.array([1e5, 2e5, 3e5])
    annuity = credit * rate / (1 - (1 + rate) ** -months)
    np.testing.assert_allclose(previous.annuity_rate(credit, annuity, months), rate, rtol=1e-4)
    assert np.isnan(previous.annuity_rate([1e5], [1e3], [12])).all()  # pays back less than borrowed


def test_annuity_rate_across_rates_and_terms_with_its_edges():
    rng = np.random.default_rng(0)
    rate = rng.uniform(1e-4, 0.2, 100_000)
    months = rng.integers(1, 400, rate.size).astype(float)
    credit = rng.uniform(1e3, 1e6, rate.size)
    annuity = credit * rate / (1 - (1 + rate) ** -months)
    np.testing.assert_allclose(previous.annuity_rate(credit, annuity, months), rate, rtol=1e-5)
    # repaid exactly what was borrowed: no interest; 30% a month over one month: above the cap of 1
    edges = previous.annuity_rate([1.2e5, 1e5], [1e4, 1.3e5], [12, 1])
    np.testing.assert_allclose(edges, [0.0, 0.3], atol=1e-9)
    assert previous.annuity_rate([1e5], [3e5], [1])[0] == 1.0  # 200% a month reads as the cap


def test_pos_latest_month_per_loan(tables, frames):
    pos = tables["POS_CASH_balance"]
    latest = pos_cash.latest_per_loan(pos_cash.prepare(frames["POS_CASH_balance"])).collect().to_pandas()
    assert latest["SK_ID_PREV"].is_unique
    expected = pos.groupby("SK_ID_PREV")["MONTHS_BALANCE"].max()
    assert (latest.set_index("SK_ID_PREV")["MONTHS_BALANCE"].loc[expected.index] == expected).all()


@pytest.mark.slow
def test_cached_groups_are_not_rebuilt_and_a_changed_table_rebuilds_only_its_group(
        home_credit_data, tmp_path, monkeypatch):
    import shutil

    folder = tmp_path / "data"
    shutil.copytree(home_credit_data, folder)
    cache = tmp_path / "features"
    monkeypatch.setenv("KIT_CACHE_ROOT", str(tmp_path / "tables"))
    groups = ["application", "installments", "pos_cash"]
    first = build.build_features(folder, groups, cache_dir=cache)
    built = []
    for name, group in build.GROUPS.items():
        def spy(*frames, _build=group.build, _name=name, **clients):
            built.append(_name)
            return _build(*frames, **clients)
        monkeypatch.setitem(build.GROUPS, name, build.FeatureGroup(name, group.tables, group.module, spy))
    second = build.build_features(folder, groups, cache_dir=cache)
    assert built == []
    pd.testing.assert_frame_equal(first, second)
    pos = pd.read_csv(folder / "POS_CASH_balance.csv")
    pos.iloc[: len(pos) // 2].to_csv(folder / "POS_CASH_balance.csv", index=False)
    third = build.build_features(folder, groups, cache_dir=cache)
    assert built == ["pos_cash"]
    assert not third["POS_COUNT"].equals(first["POS_COUNT"])


def test_target_encoding_never_sees_the_rows_own_label():
    rng = np.random.default_rng(0)
    n = 400
    y = rng.integers(0, 2, n)
    # A unique level per row: an in-sample encoding would reproduce the labels exactly.
    train = pd.DataFrame({"LEVEL": np.arange(n, dtype=np.float32)})
    valid = pd.DataFrame({"LEVEL": np.array([0, 1, n + 5], np.float32)})
    encoded, (valid_encoded,) = target_encodings(train, y, [valid], ["LEVEL"], seed=0)
    te = encoded["LEVEL_TE"].to_numpy()
    assert abs(np.corrcoef(te, y)[0, 1]) < 0.3
    assert np.allclose(valid_encoded["LEVEL_TE"].iloc[2], y.mean(), atol=0.05)  # unseen level: the prior


def test_missing_count_does_not_count_the_empty_target_of_test_rows(tables, matrix):
    """Found by adversarial validation: counting TARGET made every test client one missing value richer."""
    app = pd.concat([tables["application_train"], tables["application_test"]], ignore_index=True)
    app["DAYS_EMPLOYED"] = app["DAYS_EMPLOYED"].where(app["DAYS_EMPLOYED"] != SENTINEL_DAYS)
    app = app.mask(app.isin(["XNA"]))  # the cleaning: placeholders and sentinels are missing values
    expected = app.drop(columns="TARGET").isna().sum(axis=1).to_numpy()
    assert app["TARGET"].isna().sum() == len(tables["application_test"])
    np.testing.assert_array_equal(matrix["MISSING_COUNT"].to_numpy(), expected)


def test_a_cached_group_follows_the_clients_when_the_application_changes(home_credit_data, tmp_path, monkeypatch):
    """Groups are cached in the clients' order of the run that built them; a changed application file (other
    clients, another order) rebuilds only the application group, and the cached groups are laid out anew."""
    import shutil

    folder = tmp_path / "data"
    shutil.copytree(home_credit_data, folder)
    monkeypatch.setenv("KIT_CACHE_ROOT", str(tmp_path / "cache"))
    groups = ["application", "pos_cash"]
    build.build_features(folder, groups)
    test = pd.read_csv(folder / "application_test.csv")
    test.iloc[::-1].iloc[: len(test) // 2].to_csv(folder / "application_test.csv", index=False)
    changed = build.build_features(folder, groups)
    fresh = build.build_features(folder, groups, cache_dir=tmp_path / "fresh")
    pd.testing.assert_frame_equal(changed, fresh)
    assert changed["SK_ID_CURR"].iloc[-1] == test["SK_ID_CURR"].iloc[len(test) - len(test) // 2]
