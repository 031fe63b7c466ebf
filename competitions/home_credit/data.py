"""Load the eight Home Credit tables with explicit dtypes, schema checks and an Arrow cache.

Each CSV (or the one-file zip Kaggle ships it in) is parsed once by polars' multi-threaded reader into a
polars DataFrame (int32/float32 numbers, text as categories, missing values as nulls), a history table's rows
grouped by client (see :data:`CLIENT_HISTORIES`). A table is cached the second time its CSV is parsed (a
feature group rebuilt after a code change), as an uncompressed Arrow IPC file beside a fingerprint of the CSV
(size, mtime), and read from there afterwards (a memory map): the first parse is often the only one (a first
build, a Kaggle kernel), and writing the eight tables would add 2.5-3 s to a first build at real size that
nothing may ever read back. A CSV that fails its checks raises an error naming the file and column, and leaves
any earlier cache untouched.
"""
from __future__ import annotations

import hashlib
import logging
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from common.errors import BadInput, MissingInput
from common.io import DamagedFile, atomic_write_ipc, atomic_write_json, clean_leftovers, read_json
from common.paths import cache_root
from competitions.home_credit import schema

logger = logging.getLogger(__name__)

CACHE_VERSION = 3  # bump when the parsed form of a table changes
TABLES = tuple(name.removesuffix(".csv") for name in schema.table_names())
POLARS_TYPES = {"int32": pl.Int32, "float32": pl.Float32, "category": pl.Categorical}  # the schema's dtypes


# History tables aggregated per client: when parsed, their rows are sorted by client id (stably, so a client's
# rows keep the file's order). Kaggle's files list most of them in no client order, and polars' hash group-bys
# over rows in a random order ran 1.2-2.3x slower at real size (cache misses); the sort is paid once, before the
# table is cached, and makes the features independent of the order of clients in the files (which levels of a
# category come first, for one). bureau_balance, aggregated per bureau loan, only needs each loan's rows
# together, as Kaggle's file has them. (The id column is not flagged as sorted: see `_stably_sorted`.)
CLIENT_HISTORIES = ("bureau", "previous_application", "POS_CASH_balance", "installments_payments",
                    "credit_card_balance")


class SchemaError(BadInput):
    """A data file that does not match the competition's layout."""


def table_path(data_dir: str | Path, table: str) -> Path:
    """Path of ``<table>.csv`` in ``data_dir``, or of the zip Kaggle ships it in (``<table>.csv.zip``,
    ``<table>.zip``); a clear error names the missing file, and a zip that holds it unextracted."""
    folder = Path(data_dir)
    for name in (f"{table}.csv", f"{table}.csv.zip", f"{table}.zip"):
        if (folder / name).is_file():
            return folder / name
    message = f"Home Credit table {table}.csv not found in {data_dir} (expected {folder / f'{table}.csv'})"
    holder = _zip_holding(folder, f"{table}.csv")
    if holder is not None:
        message += f"; it is inside {holder}: unzip it there (unzip {holder} -d {folder})"
    raise MissingInput(message)


def csv_name(path: Path) -> str:
    """The competition's file name of a table stored at ``path`` (``bureau.csv.zip`` -> ``bureau.csv``)."""
    name = path.name.removesuffix(".zip")
    return name if name.endswith(".csv") else f"{name}.csv"


@contextmanager
def open_table(path: Path) -> Iterator:
    """The bytes of a table file: the CSV itself, or the single CSV inside a zip, streamed without extracting."""
    if path.suffix != ".zip":
        with path.open("rb") as handle:
            yield handle
        return
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as err:
        raise SchemaError(f"{path}: not a readable zip file ({err}): download it again or unzip it by hand") from err
    with archive:
        members = [m for m in archive.namelist() if m.endswith(".csv") and not _is_system_file(m)]
        if len(members) != 1:
            raise SchemaError(f"{path}: a zipped table must hold exactly one CSV file, found {members or 'none'}")
        with archive.open(members[0]) as handle:
            yield handle


def _is_system_file(member: str) -> bool:
    """macOS adds ``__MACOSX/._name`` copies when it zips a folder."""
    return member.startswith("__MACOSX/") or Path(member).name.startswith("._")


def _zip_holding(folder: Path, name: str) -> Path | None:
    """A zip in ``folder`` (e.g. the competition's whole download) that holds ``name``, if any."""
    for archive in sorted(folder.glob("*.zip")) if folder.is_dir() else []:
        try:
            with zipfile.ZipFile(archive) as z:
                if any(Path(m).name == name and not _is_system_file(m) for m in z.namelist()):
                    return archive
        except zipfile.BadZipFile:
            continue
    return None


def read_csv_checked(path: str | Path) -> pl.DataFrame:
    """Parse one competition CSV with its schema's dtypes; errors name the file and the column."""
    path = Path(path)
    spec = schema.dtypes(csv_name(path))
    header = _read_header(path)
    missing = [c for c in spec if c not in header]
    if missing:
        raise SchemaError(f"{path}: missing column(s) {missing} (has {len(header)} columns, e.g. {header[:5]})")
    try:
        with open_table(path) as handle:
            frame = pl.read_csv(handle if path.suffix == ".zip" else path, columns=list(spec),
                                schema_overrides={c: POLARS_TYPES[t] for c, t in spec.items()})
    except pl.exceptions.ComputeError as err:
        raise SchemaError(f"{path}: {_name_column(str(err))}") from err
    if frame.height == 0:
        raise SchemaError(f"{path}: the table is empty (header only)")
    _check_labels(path, frame)
    for column, dtype in spec.items():
        if dtype == "int32" and frame[column].null_count():
            # An integer column with missing values: keep the values as float32 rather than fail.
            logger.warning("%s: integer column %s has %d missing values; loaded as float32",
                           path.name, column, frame[column].null_count())
            frame = frame.with_columns(pl.col(column).cast(pl.Float32))
    return frame.select(list(spec))


def _cached_fingerprint(meta: Path) -> dict | None:
    """The fingerprint a table's cache was parsed from (None when damaged: the table is parsed again)."""
    try:
        return read_json(meta)
    except DamagedFile:
        return None


def load_table(data_dir: str | Path, table: str, cache_dir: str | Path | None = None) -> pl.DataFrame:
    """One table as a polars DataFrame: from the cache when the CSV is unchanged, else parsed (and cached if
    this same file was parsed before)."""
    csv = table_path(data_dir, table)
    folder = Path(cache_dir) if cache_dir is not None else tables_cache_dir(data_dir)
    cached, meta = folder / f"{table}.arrow", folder / f"{table}.json"
    fingerprint = file_fingerprint(csv)
    clean_leftovers(folder, depth=0)  # temp files of killed loads
    parsed_before = meta.is_file() and _cached_fingerprint(meta) == fingerprint
    if parsed_before and cached.is_file():
        return pl.read_ipc(cached)
    frame = grouped_by_owner(table, read_csv_checked(csv))
    if parsed_before:
        atomic_write_ipc(cached, frame)
    else:
        for earlier in (cached, cached.with_suffix(".parquet")):  # an earlier file's cache, or an older kit's
            earlier.unlink(missing_ok=True)
        atomic_write_json(meta, fingerprint)
    return frame


def grouped_by_owner(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """A client history sorted by client id, bureau_balance with each loan's rows together (both stable, both
    as they are when already so); the application tables as they are (their order is the submission's)."""
    if table in CLIENT_HISTORIES and not frame["SK_ID_CURR"].is_sorted():
        return _stably_sorted(frame, "SK_ID_CURR")
    if table == "bureau_balance" and not _consecutive(frame["SK_ID_BUREAU"]):
        return _stably_sorted(frame, "SK_ID_BUREAU")
    return frame


def _stably_sorted(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """``frame`` sorted by ``column`` (ties in their order), the column not flagged as sorted.

    Sorted by polars' streaming engine: twice as fast as ``DataFrame.sort`` over the parsed tables at real size
    (installments in Kaggle's order 0.45-0.64 s against 1.15-1.41 s, the same rows). A sort flags the column, and
    polars then groups every subset of the rows by slices: over the previous applications in Kaggle's order
    (5 rows a client) 4.0-4.3 s instead of 2.3-2.6 s (``features.aggregate.grouped`` flags the frames where
    slicing pays); the column's values computed again carry no flag."""
    dtype = frame.schema[column]
    return (frame.lazy().sort(column, maintain_order=True)
            .with_columns(pl.col(column) + pl.lit(0, dtype)).collect(engine="streaming"))


def _consecutive(ids: pl.Series) -> bool:
    """Whether every id's rows are next to each other (sorted or not)."""
    if ids.is_sorted():
        return True
    firsts = ids.filter(ids.ne_missing(ids.shift(1)))  # the id of each run of equal ids
    return firsts.n_unique() == firsts.len()


def load_tables(data_dir: str | Path, tables: list[str] | tuple[str, ...] = TABLES,
                cache_dir: str | Path | None = None) -> dict[str, pl.DataFrame]:
    """Several tables by name (without ``.csv``); every file is checked to exist before any is parsed."""
    unknown = [t for t in tables if t not in TABLES]
    if unknown:
        raise BadInput(f"unknown Home Credit table(s) {unknown}; known: {list(TABLES)}")
    for table in tables:
        table_path(data_dir, table)
    return {table: load_table(data_dir, table, cache_dir) for table in tables}


def file_fingerprint(path: Path) -> dict:
    """What identifies a CSV's content cheaply: its resolved path, size and modification time."""
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
            "cache_version": CACHE_VERSION}


def tables_cache_dir(data_dir: str | Path) -> Path:
    """Cache folder of one data folder's parsed tables."""
    digest = hashlib.sha1(str(Path(data_dir).resolve()).encode()).hexdigest()[:12]
    return cache_root() / "home_credit" / "tables" / digest


def _check_labels(path: Path, frame: pl.DataFrame, shown: int = 5) -> None:
    """Every row needs a valid label where the schema says so (``schema.LABEL_VALUES``): an empty TARGET
    would turn a train client into a test client. The error names the file, the count and a few ids."""
    for column, allowed in schema.LABEL_VALUES.get(csv_name(path), {}).items():
        values = pl.col(column)
        rows = frame.with_row_index("_row").filter(values.is_null() | ~values.is_in(list(allowed)))
        if rows.is_empty():
            continue
        ids = rows["SK_ID_CURR"].head(shown).to_list() if "SK_ID_CURR" in frame.columns else []
        lines = [int(i) + 2 for i in rows["_row"].head(shown)]  # header is line 1
        more = ", ..." if rows.height > shown else ""
        empty = frame[column].null_count()
        what = (f"{empty} empty" if empty == rows.height else
                f"{rows.height} missing or invalid ({empty} empty)")
        raise SchemaError(
            f"{path}: column {column} has {what} value(s) of {frame.height} rows, e.g. SK_ID_CURR "
            f"{', '.join(map(str, ids))}{more} (CSV lines {', '.join(map(str, lines))}{more}); every row "
            f"needs {column} in {list(allowed)}, or these clients would be taken for test rows: "
            f"fix the file or drop those rows")


def _read_header(path: Path) -> list[str]:
    with open_table(path) as handle:
        first = handle.readline().decode("utf-8-sig", errors="replace").strip()  # a BOM: saved by Excel
    if not first:
        raise SchemaError(f"{path}: the file is empty (no header)")
    return [name.strip().strip('"') for name in first.split(",")]


def _name_column(message: str) -> str:
    """Turn polars' "could not parse `x` as dtype `f32` at column 'NAME' (column number 14)" into a line
    naming the column."""
    first = message.strip().splitlines()[0]
    match = re.search(r"at column '([^']+)'", first)
    if match:
        return f"column {match.group(1)}: {first} (wrong type for {match.group(1)})"
    return first
