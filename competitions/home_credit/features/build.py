"""Assemble the per-client feature matrix from the feature groups, caching each group as an Arrow file.

A group's cache key hashes the source of its module (and of the shared code: aggregate.py, data.py,
schema.py) with the fingerprints (path, size, mtime) of its input CSVs, so a group is rebuilt only when
its code or its data changed; an unchanged group is read back (a memory map) without touching the CSVs.
Groups are computed by polars queries that use every core; with four cores or more two groups are built at
once (``workers``), which overlaps their serial parts (on two cores it saved 4% of the time for 0.5 GiB more
memory at real size, so there they run one after the other). A group built is written to its cache and
dropped; the matrix is assembled at the end from the cached files (memory maps), a float32 block per group,
never held twice and never as float64: holding each group's block while the next ones were built kept up to
0.8 GiB more memory through the largest tables at real size.
"""
from __future__ import annotations

if __name__ == "__main__":  # before polars is first imported: its allocator reads the competition's setting once
    from common.registry import prepare_environment
    prepare_environment("home_credit")

import hashlib
import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd
import polars as pl

from common.errors import BadInput
from common.config import option
from common.io import atomic_write_ipc, atomic_write_json, clean_leftovers
from common.paths import cache_root
from competitions.home_credit import data as data_module
from competitions.home_credit import schema
from competitions.home_credit.features import (
    aggregate, application, bureau, credit_card, installments, pos_cash, previous)
from competitions.home_credit.features.aggregate import KEY, safe_ratio

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeatureGroup:
    """Features computed from some tables by one module's ``build(*tables)``, cached together."""
    name: str
    tables: tuple[str, ...]
    module: object
    build: Callable[..., pd.DataFrame]


GROUPS = {
    g.name: g for g in (
        FeatureGroup("application", ("application_train", "application_test"), application, application.build),
        FeatureGroup("bureau", ("bureau", "bureau_balance"), bureau, bureau.build),
        FeatureGroup("previous", ("previous_application",), previous, previous.build),
        FeatureGroup("installments", ("installments_payments",), installments, installments.build),
        FeatureGroup("pos_cash", ("POS_CASH_balance",), pos_cash, pos_cash.build),
        FeatureGroup("credit_card", ("credit_card_balance",), credit_card, credit_card.build),
    )
}
ALL_GROUPS = tuple(GROUPS)
_SHARED_CODE = (aggregate, data_module, schema)


def check_groups(groups: list[str] | tuple[str, ...]) -> list[str]:
    """The requested groups in canonical order; 'application' is always included (it holds the ids)."""
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise BadInput(f"unknown feature group(s) {unknown}; known: {list(GROUPS)}")
    return [g for g in ALL_GROUPS if g in groups or g == "application"]


def group_key(group: FeatureGroup, data_dir: str | Path) -> str:
    """Hash of the group's code and its input files' fingerprints."""
    digest = hashlib.sha256()
    for module in (group.module, *_SHARED_CODE):
        digest.update(Path(module.__file__).read_bytes())
    for table in group.tables:
        fingerprint = data_module.file_fingerprint(data_module.table_path(data_dir, table))
        digest.update(json.dumps(fingerprint, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def features_key(data_dir: str | Path, groups: list[str] | tuple[str, ...] = ALL_GROUPS) -> str:
    """Hash of the whole matrix's code and inputs (the keys of its groups and the cross features' code):
    what a cache of anything derived from the matrix (LightGBM's binned Dataset) is keyed by."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for name in check_groups(groups):
        digest.update(group_key(GROUPS[name], data_dir).encode())
    return digest.hexdigest()[:16]


def features_cache_dir(data_dir: str | Path) -> Path:
    """Cache folder of one data folder's feature groups."""
    digest = hashlib.sha1(str(Path(data_dir).resolve()).encode()).hexdigest()[:12]
    return cache_root() / "home_credit" / "features" / digest


def cached_group(group: FeatureGroup, data_dir: str | Path, cache_dir: Path | None = None,
                 rebuild: bool = False, ids: pl.DataFrame | None = None) -> Path:
    """The Arrow file of one group's per-client features (``SK_ID_CURR`` first, missing values as NaN), built
    first unless code and inputs are unchanged. Built with ``ids`` (the application's clients), it holds a row
    for each, in their order, so a later read is the matrix's block as it is."""
    folder = Path(cache_dir) if cache_dir is not None else features_cache_dir(data_dir)
    key = group_key(group, data_dir)
    path = folder / f"{group.name}-{key}.arrow"
    clean_leftovers(folder, depth=0)  # temp files of killed builds
    if path.is_file() and not rebuild:
        logger.info("features %s: cached %s", group.name, path.name)
        return path
    start = time.perf_counter()
    tables = data_module.load_tables(data_dir, group.tables)
    inputs = [tables[t] for t in group.tables]
    del tables
    frame = group.build(*inputs) if ids is None else group.build(*inputs, clients=ids)
    del inputs
    if ids is not None:
        frame = in_client_order(frame, ids)
    # NaN rather than null: numpy then takes the columns as they are (converting nulls cost 1 s at real size)
    frame = frame.select(pl.col(KEY).cast(pl.Int32), pl.exclude(KEY).fill_null(float("nan")))
    atomic_write_ipc(path, frame)
    atomic_write_json(path.with_suffix(".json"), {"group": group.name, "key": key, "shape": list(frame.shape),
                                                  "seconds": round(time.perf_counter() - start, 2)})
    for stale in folder.glob(f"{group.name}-*"):  # earlier keys' caches and notes (.parquet: older versions')
        if stale.suffix in (".arrow", ".json", ".parquet") and stale.stem != path.stem:
            stale.unlink(missing_ok=True)
    logger.info("features %s: built %s in %.1f s", group.name, frame.shape, time.perf_counter() - start)
    return path


_RATIOS = {
    "BUREAU_DEBT_TO_INCOME": ("BUREAU_ACTIVE_AMT_CREDIT_SUM_DEBT_SUM", "AMT_INCOME_TOTAL"),
    "BUREAU_ANNUITY_TO_INCOME": ("BUREAU_ACTIVE_AMT_ANNUITY_SUM", "AMT_INCOME_TOTAL"),
    "BUREAU_CREDIT_TO_CREDIT": ("BUREAU_AMT_CREDIT_SUM_MEAN", "AMT_CREDIT"),
    "PREV_ANNUITY_TO_ANNUITY": ("PREV_AMT_ANNUITY_MEAN", "AMT_ANNUITY"),
    "PREV_CREDIT_TO_CREDIT": ("PREV_AMT_CREDIT_MEAN", "AMT_CREDIT"),
    "PREV_REMAINING_DEBT_TO_INCOME": ("PREV_REMAINING_DEBT_SUM", "AMT_INCOME_TOTAL"),
    "INST_PAYMENT_1Y_TO_INCOME": ("INST_1Y_AMT_PAYMENT_SUM", "AMT_INCOME_TOTAL"),
    "CC_BALANCE_TO_INCOME": ("CC_AMT_BALANCE_MEAN", "AMT_INCOME_TOTAL"),
}
# Lateness pooled over every monthly/payment history the client has (each alone is noisy): late rows / rows.
_LATE_SHARES = {
    "ALL_LATE_SHARE": (("INST_LATE_SUM", "POS_LATE_SUM", "CC_LATE_SUM", "BUREAU_BB_LATE_COUNT_SUM"),
                       ("INST_COUNT", "POS_COUNT", "CC_COUNT", "BUREAU_BB_MONTHS_COUNT_SUM")),
    "ALL_1Y_LATE_SHARE": (("INST_1Y_LATE_SUM", "POS_12M_LATE_SUM", "CC_12M_LATE_SUM"),
                          ("INST_1Y_COUNT", "POS_12M_COUNT", "CC_12M_COUNT")),
    "ALL_OLD_LATE_SHARE": (("INST_OLD_LATE_SUM", "POS_OLD_LATE_SUM"), ("INST_OLD_COUNT", "POS_OLD_COUNT")),
}
CROSS_INPUTS = frozenset([c for pair in _RATIOS.values() for c in pair] +
                         [c for late, seen in _LATE_SHARES.values() for c in (*late, *seen)])


def cross_features(columns: list[str]) -> list[pl.Expr]:
    """Features mixing the application with other tables (added when both sides are present)."""
    present = set(columns)
    out = {name: safe_ratio(pl.col(a), pl.col(b)) for name, (a, b) in _RATIOS.items() if a in present and b in present}
    for name, (late, seen) in _LATE_SHARES.items():
        late = [c for c in late if c in present]
        seen = [c for c in seen if c in present]
        if len(late) > 1:
            out[name] = safe_ratio(_sum_present(late), _sum_present(seen))
    if "ALL_LATE_SHARE" in out and "ALL_1Y_LATE_SHARE" in out:
        out["ALL_1Y_MINUS_ALL_LATE_SHARE"] = out["ALL_1Y_LATE_SHARE"] - out["ALL_LATE_SHARE"]
    if "ALL_OLD_LATE_SHARE" in out and "ALL_1Y_LATE_SHARE" in out:
        out["ALL_1Y_MINUS_OLD_LATE_SHARE"] = out["ALL_1Y_LATE_SHARE"] - out["ALL_OLD_LATE_SHARE"]
    return [expr.cast(pl.Float32).alias(name) for name, expr in out.items()]


def _sum_present(columns: list[str]) -> pl.Expr:
    """Row-wise sum of the values present; missing when none is."""
    return pl.when(pl.any_horizontal(pl.col(columns).is_not_null())).then(pl.sum_horizontal(columns))


def build_features(data_dir: str | Path, groups: list[str] | tuple[str, ...] = ALL_GROUPS,
                   cache_dir: Path | None = None, rebuild: bool = False,
                   workers: int | None = None) -> pd.DataFrame:
    """The feature matrix: one row per client of application_train then application_test.

    Columns: ``SK_ID_CURR``, ``TARGET`` (NaN on test rows) and float32 features. ``workers`` groups are
    built at once (each holds its tables in memory); every group is cached when built, and the matrix laid
    out from the cached files once all are, so the whole matrix is never held twice.
    """
    names = check_groups(groups)
    for name in names:  # fail on a missing file before spending minutes on the others
        for table in GROUPS[name].tables:
            data_module.table_path(data_dir, table)
    # the application group first: it checks the labels and holds the ids
    paths = {"application": cached_group(GROUPS["application"], data_dir, cache_dir, rebuild)}
    ids = pl.read_ipc(paths["application"], columns=[KEY])
    with ThreadPoolExecutor(workers or default_workers()) as pool:
        futures = {pool.submit(cached_group, GROUPS[name], data_dir, cache_dir, rebuild, ids): name
                   for name in names[1:]}
        try:
            for future in as_completed(futures):
                paths[futures[future]] = future.result()
        except BaseException:
            for future in futures:  # a bad table stops the groups not yet started
                future.cancel()
            raise
    matrix = pd.concat([client_block(pl.read_ipc(paths[name]), ids) for name in names], axis=1)
    inputs = pl.from_pandas(matrix[[c for c in matrix.columns if c in CROSS_INPUTS]])
    cross = inputs.select(cross_features(inputs.columns))
    matrix = pd.concat([ids.to_pandas(), matrix, *([float_block(cross)] if cross.width else [])], axis=1)
    logger.info("feature matrix: %d clients x %d columns (groups %s)", len(matrix), matrix.shape[1], names)
    return matrix


def default_workers() -> int:
    """Feature groups built at once: two where the cores allow, else one."""
    return 2 if (os.cpu_count() or 1) >= 4 else 1


def in_client_order(frame: pl.DataFrame, ids: pl.DataFrame) -> pl.DataFrame:
    """``frame``'s rows in the order of the clients ``ids``, one per client (missing where ``frame`` has none);
    ``frame`` itself when it is already so."""
    if frame.height == ids.height and frame[KEY].equals(ids[KEY]):
        return frame
    return ids.join(frame, on=KEY, how="left", maintain_order="left")


def client_block(frame: pl.DataFrame, ids: pl.DataFrame) -> pd.DataFrame:
    """A group's float32 columns in the order of the clients ``ids``, as a pandas block."""
    return float_block(in_client_order(frame, ids).drop(KEY))


def float_block(frame: pl.DataFrame) -> pd.DataFrame:
    """Float32 columns (missing values as NaN) as one column-major block handed to pandas without a copy."""
    values = frame.to_numpy(order="fortran")  # (rows, columns) laid out column by column; nulls become NaN
    return pd.DataFrame(values, columns=frame.columns, copy=False)


@dataclass
class BuildConfig:
    """Build (or refresh) the cached Home Credit feature matrix."""
    data: str | None = None
    tables: list[str] = field(default_factory=lambda: list(ALL_GROUPS),
                              metadata={"help": "feature groups to build", "choices": ALL_GROUPS})
    rebuild: bool = field(default=False, metadata={"help": "rebuild the groups even when cached"})
    workers: int | None = option(None, min=1, help="feature groups built at once, each holding its tables in "
                                                   "memory (default: 2 with 4 cores or more, else 1)")


def main(argv: list[str] | None = None) -> pd.DataFrame:
    """``python -m competitions.home_credit.features.build [--data DIR]``: build and cache the features."""
    from common.config import parse_config
    from common.paths import default_data_dir

    cfg = parse_config(BuildConfig, argv)
    start = time.perf_counter()
    matrix = build_features(cfg.data or default_data_dir("home_credit"), cfg.tables, rebuild=cfg.rebuild,
                            workers=cfg.workers)
    print(f"feature matrix: {len(matrix):,} clients x {matrix.shape[1] - 2} features "
          f"in {time.perf_counter() - start:.1f} s")
    return matrix


if __name__ == "__main__":
    from common.cli import run_cli

    run_cli(main)
