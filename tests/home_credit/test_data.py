"""Loading the Home Credit tables: dtypes, row counts, the table cache and real reference rows."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from competitions.home_credit import data, schema

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / ".." / "shared" / "reference" / "home_credit"


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
            expected = {"category": pl.Categorical, "int32": pl.Int32, "float32": pl.Float32}[dtype]
            assert frame[column].dtype == expected, (name, column, frame[column].dtype)


def test_a_table_parsed_twice_is_cached_then_read_from_the_cache(home_credit_data, tmp_path, monkeypatch):
    first = data.load_table(home_credit_data, "bureau", cache_dir=tmp_path)
    assert not (tmp_path / "bureau.arrow").exists()  # a first parse is remembered, not cached
    second = data.load_table(home_credit_data, "bureau", cache_dir=tmp_path)
    assert (tmp_path / "bureau.arrow").is_file()

    def no_parsing(path):
        raise AssertionError(f"CSV parsed again: {path}")

    monkeypatch.setattr(data, "read_csv_checked", no_parsing)
    third = data.load_table(home_credit_data, "bureau", cache_dir=tmp_path)
    assert_frame_equal(first, second)
    assert_frame_equal(first, third)


def test_a_damaged_cache_record_is_parsed_again(home_credit_data, tmp_path):
    """The cache's fingerprint file cut short (a full disk, a copy): the table is parsed from its CSV again."""
    first = data.load_table(home_credit_data, "bureau", cache_dir=tmp_path)
    (tmp_path / "bureau.json").write_text('{"size": 12')
    assert_frame_equal(data.load_table(home_credit_data, "bureau", cache_dir=tmp_path), first)
    assert data.read_json(tmp_path / "bureau.json")["size"] > 0  # the record written anew


def test_a_parquet_table_cache_of_an_older_kit_is_removed(home_credit_data, tmp_path):
    """Tables were cached as parquet before the Arrow files (CACHE_VERSION 2): the first parse under the new
    version removes the old file instead of leaving gigabytes behind at real size."""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "bureau.parquet").write_bytes(b"old cache")
    (cache / "bureau_balance.parquet").write_bytes(b"another table's")
    data.load_table(home_credit_data, "bureau", cache_dir=cache)
    assert not (cache / "bureau.parquet").exists()
    assert (cache / "bureau_balance.parquet").exists()  # not this table's: left alone


def test_changed_csv_invalidates_the_cache(home_credit_data, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(home_credit_data / "bureau.csv", folder / "bureau.csv")
    cache = tmp_path / "cache"
    data.load_table(folder, "bureau", cache_dir=cache)
    before = data.load_table(folder, "bureau", cache_dir=cache)  # cached
    frame = pd.read_csv(folder / "bureau.csv")
    frame.head(10).to_csv(folder / "bureau.csv", index=False)
    after = data.load_table(folder, "bureau", cache_dir=cache)
    assert not (cache / "bureau.arrow").exists()  # the old file's cache is gone with it
    assert len(before) > 10 and len(after) == 10
    data.load_table(folder, "bureau", cache_dir=cache)
    assert len(data.load_table(folder, "bureau", cache_dir=cache)) == 10  # the new file's cache


def test_history_rows_in_kaggles_order_load_grouped_by_owner_in_file_order(home_credit_data, tmp_path):
    """Kaggle's history files list rows in no client order: loaded, each owner's rows come together, sorted by
    id, and keep the order they had in the file; a table whose owners' rows already come together is left as
    it is (bureau_balance in Kaggle's file)."""
    pos = pd.read_csv(home_credit_data / "POS_CASH_balance.csv")
    shuffled = pos.sample(frac=1.0, random_state=0)
    shuffled.to_csv(tmp_path / "POS_CASH_balance.csv", index=False)
    frame = data.load_table(tmp_path, "POS_CASH_balance", cache_dir=tmp_path / "cache")
    assert not frame["SK_ID_CURR"].flags["SORTED_ASC"]  # polars would group every subset by slices
    loaded = frame.to_pandas()
    expected = shuffled.sort_values("SK_ID_CURR", kind="stable")
    assert loaded["SK_ID_CURR"].tolist() == expected["SK_ID_CURR"].tolist()
    assert loaded["SK_ID_PREV"].tolist() == expected["SK_ID_PREV"].tolist()
    assert loaded["MONTHS_BALANCE"].tolist() == expected["MONTHS_BALANCE"].tolist()

    balance = pd.read_csv(home_credit_data / "bureau_balance.csv")
    blocks = balance.groupby("SK_ID_BUREAU", sort=False).ngroup()
    order = np.random.default_rng(0).permutation(blocks.max() + 1)  # loans in a random order, each one whole
    reordered = balance.iloc[np.argsort(order[blocks.to_numpy()], kind="stable")]
    assert not reordered["SK_ID_BUREAU"].is_monotonic_increasing
    reordered.to_csv(tmp_path / "bureau_balance.csv", index=False)
    loaded = data.load_table(tmp_path, "bureau_balance", cache_dir=tmp_path / "cache").to_pandas()
    assert loaded["SK_ID_BUREAU"].tolist() == reordered["SK_ID_BUREAU"].tolist()


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="../shared/reference not available")
def test_real_reference_rows_parse(tmp_path):
    for name in data.TABLES:
        shutil.copy(REFERENCE / f"{name}.head199.csv", tmp_path / f"{name}.csv")
    tables = data.load_tables(tmp_path, cache_dir=tmp_path / "cache")
    app = tables["application_train"]
    assert len(app) == 199 and app["TARGET"].dtype == pl.Int32
    assert app["DAYS_EMPLOYED"].max() == schema.SENTINEL_DAYS  # the sentinel is loaded as-is, cleaned later
    assert "XAP" in tables["previous_application"]["CODE_REJECT_REASON"].cast(pl.String).to_list()


def test_empty_target_is_an_error_naming_the_rows(home_credit_data, tmp_path):
    """Train clients with an empty TARGET would become test rows: loading refuses them, before any feature
    work, naming the file, the count and a few SK_ID_CURR; the cache of the good file is kept."""
    folder = tmp_path / "data"
    shutil.copytree(home_credit_data, folder)
    cache = tmp_path / "cache"
    data.load_table(folder, "application_train", cache_dir=cache)
    good = data.load_table(folder, "application_train", cache_dir=cache)
    cached = (cache / "application_train.arrow").read_bytes()
    frame = pd.read_csv(folder / "application_train.csv")
    blank = [3, 10, 11, 500, 1200, 1999]
    frame.loc[blank, "TARGET"] = None
    frame.to_csv(folder / "application_train.csv", index=False, float_format="%.10g")
    ids = frame.loc[blank, "SK_ID_CURR"].tolist()

    with pytest.raises(data.SchemaError) as err:
        data.load_table(folder, "application_train", cache_dir=cache)
    message = str(err.value)
    assert "application_train.csv" in message and "TARGET" in message
    assert f"6 empty value(s) of {len(frame)} rows" in message
    assert all(str(i) in message for i in ids[:5]) and str(ids[5]) not in message
    assert (cache / "application_train.arrow").read_bytes() == cached  # nothing written over
    assert len(good) == len(frame)


def test_empty_target_stops_the_command_before_features(home_credit_data, tmp_path, monkeypatch, capsys):
    from common.cli import run_cli
    from competitions.home_credit.features import build

    folder = tmp_path / "data"
    shutil.copytree(home_credit_data, folder)
    frame = pd.read_csv(folder / "application_train.csv")
    frame["TARGET"] = frame["TARGET"].astype("Int64")
    frame.loc[[0, 7], "TARGET"] = None  # empty cells, the other values still written as 0/1
    frame.to_csv(folder / "application_train.csv", index=False)
    monkeypatch.setenv("KIT_CACHE_ROOT", str(tmp_path / "cache"))
    with pytest.raises(SystemExit) as exit_:
        run_cli(build.main, ["--data", str(folder)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "TARGET" in err[-1]
    assert str(frame.loc[0, "SK_ID_CURR"]) in err[-1] and "2 empty" in err[-1]
    assert not list((tmp_path / "cache").rglob("*.arrow"))  # no features built


def test_tables_left_zipped_as_kaggle_ships_them_are_read(home_credit_data, tmp_path):
    """``<table>.csv.zip`` and ``<table>.zip`` (one CSV inside, a macOS ``__MACOSX`` copy beside it) read as the
    CSV does; a table only inside the competition's whole download is named with the command that unzips it."""
    import zipfile
    folder = tmp_path / "zipped"
    shutil.copytree(home_credit_data, folder)
    for table, name in (("bureau", "bureau.csv.zip"),):
        with zipfile.ZipFile(folder / name, "w", zipfile.ZIP_DEFLATED) as z:
            z.write(folder / f"{table}.csv", f"{table}.csv")
            z.writestr(f"__MACOSX/._{table}.csv", b"\x00\x05\x16\x07")
        (folder / f"{table}.csv").unlink()
    zipped = data.load_table(folder, "bureau", cache_dir=tmp_path / "cache")
    assert_frame_equal(zipped, data.load_table(home_credit_data, "bureau", cache_dir=tmp_path / "plain"))

    whole = tmp_path / "download"
    whole.mkdir()
    with zipfile.ZipFile(whole / "home-credit-default-risk.zip", "w") as z:
        z.write(home_credit_data / "bureau.csv", "bureau.csv")
    with pytest.raises(FileNotFoundError, match=r"inside .*home-credit-default-risk.zip: unzip it there \(unzip "):
        data.table_path(whole, "bureau")
    (folder / "bureau.csv.zip").write_bytes(b"not a zip")
    with pytest.raises(data.SchemaError, match=r"bureau.csv.zip: not a readable zip file"):
        data.load_table(folder, "bureau", cache_dir=tmp_path / "cache2")


def test_a_table_saved_with_a_bom_and_crlf_line_ends_loads_the_same(home_credit_data, tmp_path):
    """Excel's "CSV UTF-8" starts the file with a byte-order mark; Windows ends lines with CRLF."""
    folder = tmp_path / "data"
    folder.mkdir()
    raw = (home_credit_data / "bureau.csv").read_bytes()
    (folder / "bureau.csv").write_bytes(b"\xef\xbb\xbf" + raw.replace(b"\n", b"\r\n"))
    assert_frame_equal(data.read_csv_checked(folder / "bureau.csv"),
                       data.read_csv_checked(home_credit_data / "bureau.csv"))


COMMANDS = ["competitions/home_credit/train.py", "competitions/home_credit/features/build.py",
            "competitions/home_credit/adversarial.py", "competitions/home_credit/tune.py",
            "competitions/home_credit/select_features.py"]
SEEN_AT_EXIT = ("import atexit, os, runpy, sys\n"
                "atexit.register(lambda: print('allocator:', os.environ.get('_RJEM_MALLOC_CONF')))\n"
                "sys.argv = [sys.argv[1], '--help']\n"
                "runpy.run_path(sys.argv[0], run_name='__main__')\n")


@pytest.mark.slow
@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("user_setting", [None, "dirty_decay_ms:0"])
def test_a_command_keeps_polars_freed_memory_a_while_unless_the_user_set_it(command, user_setting):
    """A Home Credit command sets jemalloc's decay (the registry's environment) before polars is first imported;
    polars adds the variable after its own defaults (jemalloc takes the last value of an option), read once at
    that import. A value the user set wins."""
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    if user_setting:
        env["_RJEM_MALLOC_CONF"] = user_setting
    seen = subprocess.run([sys.executable, "-c", SEEN_AT_EXIT, command], cwd=REPO, env=env, capture_output=True,
                          text=True, check=True, timeout=120).stdout.strip().splitlines()[-1]
    expected = user_setting or "dirty_decay_ms:5000,muzzy_decay_ms:5000"
    assert seen == f"allocator: {expected}" or seen.endswith("," + expected)


@pytest.mark.slow
def test_importing_the_package_changes_no_environment():
    code = ("import os; before = dict(os.environ); import competitions.home_credit.data, polars; "
            "print(sorted(set(os.environ.items()) ^ set(before.items())))")
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    changed = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                             check=True, timeout=120).stdout.strip()
    assert "_RJEM_MALLOC_CONF" not in changed or "muzzy_decay_ms:5000" not in changed, changed
