"""Loading the Home Credit tables: dtypes, row counts, the parquet cache and real reference rows."""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from competitions.home_credit import data, schema

REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "home_credit"


def _line_count(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle) - 1


def test_tables_load_with_schema_dtypes(home_credit_data, tmp_path):
    tables = data.load_tables(home_credit_data, cache_dir=tmp_path)
    assert set(tables) == set(data.TABLES)
    for name, frame in tables.items():
        spec = schema.dtypes(f"{name}.csv")
        assert list(frame.columns) == list(spec), name
        assert len(frame) == _line_count(home_credit_data / f"{name}.csv"), name
        for column, dtype in spec.items():
            if dtype == "category":
                assert isinstance(frame[column].dtype, pd.CategoricalDtype), (name, column)
            else:
                assert str(frame[column].dtype) == dtype, (name, column, frame[column].dtype)


def test_second_load_reads_the_parquet_cache(home_credit_data, tmp_path, monkeypatch):
    first = data.load_table(home_credit_data, "bureau", cache_dir=tmp_path)
    assert (tmp_path / "bureau.parquet").is_file()

    def no_parsing(path):
        raise AssertionError(f"CSV parsed again: {path}")

    monkeypatch.setattr(data, "read_csv_checked", no_parsing)
    second = data.load_table(home_credit_data, "bureau", cache_dir=tmp_path)
    pd.testing.assert_frame_equal(first, second)


def test_changed_csv_invalidates_the_cache(home_credit_data, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(home_credit_data / "bureau.csv", folder / "bureau.csv")
    cache = tmp_path / "cache"
    before = data.load_table(folder, "bureau", cache_dir=cache)
    frame = pd.read_csv(folder / "bureau.csv")
    frame.head(10).to_csv(folder / "bureau.csv", index=False)
    after = data.load_table(folder, "bureau", cache_dir=cache)
    assert len(before) > 10 and len(after) == 10


def test_sample_submission_lists_the_test_ids(home_credit_data):
    sample = data.read_sample_submission(home_credit_data)
    test = pd.read_csv(home_credit_data / "application_test.csv", usecols=["SK_ID_CURR"])
    assert sample["SK_ID_CURR"].tolist() == test["SK_ID_CURR"].tolist()


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="../shared/reference not available")
def test_real_reference_rows_parse(tmp_path):
    for name in data.TABLES:
        shutil.copy(REFERENCE / f"{name}.head199.csv", tmp_path / f"{name}.csv")
    tables = data.load_tables(tmp_path, cache_dir=tmp_path / "cache")
    app = tables["application_train"]
    assert len(app) == 199 and app["TARGET"].dtype == "int32"
    assert app["DAYS_EMPLOYED"].max() == schema.SENTINEL_DAYS  # the sentinel is loaded as-is, cleaned later
    assert "XAP" in tables["previous_application"]["CODE_REJECT_REASON"].cat.categories
