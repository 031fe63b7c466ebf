"""The columnar building blocks of the feature modules: recency ranks and the per-client join."""
from __future__ import annotations

import numpy as np
import polars as pl
import polars.testing
import pytest

from competitions.home_credit.features import aggregate
from competitions.home_credit.features.aggregate import (
    KEY, grouped, join_all, per_client, row_count, with_recency_rank)


@pytest.fixture
def history():
    """Rows of 300 clients in a random order, with tied and missing times."""
    rng = np.random.default_rng(0)
    n = 5000
    days = rng.integers(-40, 0, n).astype(np.float32)
    days[rng.random(n) < 0.1] = np.nan
    return pl.DataFrame({KEY: rng.integers(0, 300, n).astype(np.int32), "DAYS": days,
                         "VALUE": rng.random(n).astype(np.float32)}).with_columns(pl.col("DAYS").fill_nan(None))


@pytest.mark.parametrize("first", [False, True])
def test_recency_rank_is_polars_ordinal_rank_per_client(history, first):
    """Same ranks as ``rank("ordinal").over(client)``: ties in the table's order, none without a time."""
    ranked = with_recency_rank(history, "DAYS", first=first)["_RANK"]
    oracle = history.select(pl.col("DAYS").rank("ordinal", descending=not first).over(KEY) - 1).to_series()
    assert ranked.null_count() == history["DAYS"].null_count() > 0
    assert ranked.cast(pl.Int64).equals(oracle.cast(pl.Int64), null_equal=True)
    assert history.select(pl.col("DAYS").n_unique()).item() < 50  # ties did occur


def test_recency_rank_breaks_ties_by_the_ties_column(history):
    """Rows listed in another order with their original positions as ``ties``: the ranks of the table's order."""
    shuffled = history.with_row_index("ROW").sample(fraction=1.0, shuffle=True, seed=1)
    ranked = with_recency_rank(shuffled, "DAYS", ties="ROW").sort("ROW")["_RANK"]
    assert ranked.equals(with_recency_rank(history, "DAYS")["_RANK"], null_equal=True)
    assert not with_recency_rank(shuffled, "DAYS").sort("ROW")["_RANK"].equals(ranked, null_equal=True)


def test_recency_rank_of_an_expression_ranks_only_the_rows_it_keeps(history):
    kept = pl.col("VALUE") > 0.5
    ranked = with_recency_rank(history, pl.when(kept).then(pl.col("DAYS")), name="_KEPT")
    subset = with_recency_rank(history.filter(kept), "DAYS", name="_KEPT")
    assert ranked.filter(kept)["_KEPT"].equals(subset["_KEPT"], null_equal=True)
    assert ranked.filter(~kept)["_KEPT"].null_count() == ranked.filter(~kept).height


@pytest.mark.parametrize("rows_per_group, sliced", [(10, True), (20, False)])
def test_grouped_slices_sorted_frames_with_many_rows_a_client_to_the_same_values(history, rows_per_group, sliced):
    """300 clients, 5000 rows: ~17 a client. Sorted by client, the frame is grouped by slices when that is at
    least ``rows_per_group``; an unsorted or lazy frame never is; the aggregations are the same either way."""
    ordered = history.sort(KEY)
    aggs = [pl.len(), pl.col("VALUE").sum(), pl.col("DAYS").max(), pl.col("VALUE").std().alias("STD")]
    for rows, flagged in ((ordered, sliced), (history, False), (ordered.lazy(), False)):
        query = grouped(rows, rows_per_group=rows_per_group).agg(aggs)
        assert ("set_sorted" in query.explain()) == flagged
        expected = history.group_by(KEY).agg(aggs).sort(KEY)
        pl.testing.assert_frame_equal(query.collect().sort(KEY), expected, rel_tol=1e-6)


def test_join_all_groups_each_subset_once_and_keeps_the_listed_order(history, monkeypatch):
    recent = history.lazy().filter(pl.col("DAYS") >= -10)
    features = [
        per_client(history, row_count("N")),
        per_client(recent, pl.col("VALUE").mean().alias("RECENT_MEAN")),
        per_client(history, pl.col("VALUE").max().alias("MAX")),
        per_client(recent, row_count("RECENT_N")),
    ]
    queries = []
    monkeypatch.setattr(aggregate, "grouped", lambda rows, by: queries.append(by) or grouped(rows, by))
    clients = pl.DataFrame({KEY: [5, 299, 1000, 0]}, schema={KEY: pl.Int32})  # 1000 has no rows
    out = join_all(features, clients)
    assert queries == [KEY, KEY]  # two subsets, one group-by each
    assert out.columns == [KEY, "N", "RECENT_MEAN", "MAX", "RECENT_N"]
    assert out[KEY].to_list() == [5, 299, 1000, 0]
    for row in out.iter_rows(named=True):
        rows = history.filter(pl.col(KEY) == row[KEY])
        recent_rows = rows.filter(pl.col("DAYS") >= -10)
        assert row["N"] == (rows.height or None)
        assert row["MAX"] == rows["VALUE"].max()
        assert row["RECENT_N"] == (recent_rows.height or None)
        assert row["RECENT_MEAN"] == pytest.approx(recent_rows["VALUE"].mean(), nan_ok=True)


def test_join_all_without_clients_lists_every_client_with_rows_by_id(history):
    out = join_all([per_client(history, row_count("N"))])
    assert out[KEY].to_list() == sorted(history[KEY].unique().to_list())
