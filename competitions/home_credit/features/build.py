"""Assemble the per-client feature matrix from the feature groups, caching each group as parquet.

A group's cache key hashes the source of its module (and of the shared code: aggregate.py, data.py,
schema.py) with the fingerprints (path, size, mtime) of its input CSVs, so a group is rebuilt only when
its code or its data changed; an unchanged group is read back from parquet without touching the CSVs.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from common.io import atomic_write_json, atomic_write_parquet, clean_leftovers
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
        raise ValueError(f"unknown feature group(s) {unknown}; known: {list(GROUPS)}")
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


def features_cache_dir(data_dir: str | Path) -> Path:
    """Cache folder of one data folder's feature groups."""
    digest = hashlib.sha1(str(Path(data_dir).resolve()).encode()).hexdigest()[:12]
    return cache_root() / "home_credit" / "features" / digest


def build_group(group: FeatureGroup, data_dir: str | Path, cache_dir: Path | None = None,
                rebuild: bool = False) -> pd.DataFrame:
    """One group's per-client features, from its parquet cache when code and inputs are unchanged."""
    folder = Path(cache_dir) if cache_dir is not None else features_cache_dir(data_dir)
    key = group_key(group, data_dir)
    path = folder / f"{group.name}-{key}.parquet"
    clean_leftovers(folder, depth=0)  # temp files of killed builds
    if path.is_file() and not rebuild:
        logger.info("features %s: cached %s", group.name, path.name)
        return pd.read_parquet(path)
    start = time.perf_counter()
    tables = data_module.load_tables(data_dir, group.tables)
    frame = group.build(*(tables[t] for t in group.tables))
    del tables
    if group.name != "application":
        frame = frame.rename_axis(KEY).reset_index()
    frame[KEY] = frame[KEY].astype("int32")
    atomic_write_parquet(path, frame)
    atomic_write_json(path.with_suffix(".json"), {"group": group.name, "key": key, "shape": list(frame.shape),
                                                  "seconds": round(time.perf_counter() - start, 2)})
    for stale in folder.glob(f"{group.name}-*.parquet"):
        if stale != path:
            stale.unlink(missing_ok=True)
            stale.with_suffix(".json").unlink(missing_ok=True)
    logger.info("features %s: built %s in %.1f s", group.name, frame.shape, time.perf_counter() - start)
    return frame


def cross_features(matrix: pd.DataFrame) -> pd.DataFrame:
    """Features mixing the application with other tables (added when both sides are present)."""
    pairs = {
        "BUREAU_DEBT_TO_INCOME": ("BUREAU_ACTIVE_AMT_CREDIT_SUM_DEBT_SUM", "AMT_INCOME_TOTAL"),
        "BUREAU_ANNUITY_TO_INCOME": ("BUREAU_ACTIVE_AMT_ANNUITY_SUM", "AMT_INCOME_TOTAL"),
        "BUREAU_CREDIT_TO_CREDIT": ("BUREAU_AMT_CREDIT_SUM_MEAN", "AMT_CREDIT"),
        "PREV_ANNUITY_TO_ANNUITY": ("PREV_AMT_ANNUITY_MEAN", "AMT_ANNUITY"),
        "PREV_CREDIT_TO_CREDIT": ("PREV_AMT_CREDIT_MEAN", "AMT_CREDIT"),
        "PREV_REMAINING_DEBT_TO_INCOME": ("PREV_REMAINING_DEBT_SUM", "AMT_INCOME_TOTAL"),
        "INST_PAYMENT_1Y_TO_INCOME": ("INST_1Y_AMT_PAYMENT_SUM", "AMT_INCOME_TOTAL"),
        "CC_BALANCE_TO_INCOME": ("CC_AMT_BALANCE_MEAN", "AMT_INCOME_TOTAL"),
    }
    out = {name: safe_ratio(matrix[a], matrix[b]) for name, (a, b) in pairs.items()
           if a in matrix and b in matrix}
    # Lateness pooled over every monthly/payment history the client has (each alone is noisy).
    for name, late, seen in (("ALL_LATE_SHARE", _LATE_SUMS, _SEEN_COUNTS), ("ALL_1Y_LATE_SHARE", _LATE_1Y, _SEEN_1Y),
                             ("ALL_OLD_LATE_SHARE", _LATE_OLD, _SEEN_OLD)):
        late = [c for c in late if c in matrix]
        seen = [c for c in seen if c in matrix]
        if len(late) > 1:
            out[name] = safe_ratio(matrix[late].sum(axis=1, min_count=1), matrix[seen].sum(axis=1, min_count=1))
    if "ALL_LATE_SHARE" in out and "ALL_1Y_LATE_SHARE" in out:
        out["ALL_1Y_MINUS_ALL_LATE_SHARE"] = out["ALL_1Y_LATE_SHARE"] - out["ALL_LATE_SHARE"]
    if "ALL_OLD_LATE_SHARE" in out and "ALL_1Y_LATE_SHARE" in out:
        out["ALL_1Y_MINUS_OLD_LATE_SHARE"] = out["ALL_1Y_LATE_SHARE"] - out["ALL_OLD_LATE_SHARE"]
    return pd.DataFrame(out, index=matrix.index)


_LATE_SUMS = ("INST_LATE_SUM", "POS_LATE_SUM", "CC_LATE_SUM", "BUREAU_BB_LATE_COUNT_SUM")
_SEEN_COUNTS = ("INST_COUNT", "POS_COUNT", "CC_COUNT", "BUREAU_BB_MONTHS_COUNT_SUM")
_LATE_1Y = ("INST_1Y_LATE_SUM", "POS_12M_LATE_SUM", "CC_12M_LATE_SUM")
_SEEN_1Y = ("INST_1Y_COUNT", "POS_12M_COUNT", "CC_12M_COUNT")
_LATE_OLD = ("INST_OLD_LATE_SUM", "POS_OLD_LATE_SUM")
_SEEN_OLD = ("INST_OLD_COUNT", "POS_OLD_COUNT")


def build_features(data_dir: str | Path, groups: list[str] | tuple[str, ...] = ALL_GROUPS,
                   cache_dir: Path | None = None, rebuild: bool = False) -> pd.DataFrame:
    """The feature matrix: one row per client of application_train then application_test.

    Columns: ``SK_ID_CURR``, ``TARGET`` (NaN on test rows) and float32 features.
    """
    names = check_groups(groups)
    for name in names:  # fail on a missing file before spending minutes on the others
        for table in GROUPS[name].tables:
            data_module.table_path(data_dir, table)
    matrix = build_group(GROUPS["application"], data_dir, cache_dir, rebuild)
    for name in names[1:]:
        frame = build_group(GROUPS[name], data_dir, cache_dir, rebuild)
        matrix = matrix.merge(frame, on=KEY, how="left")
    matrix = pd.concat([matrix, cross_features(matrix)], axis=1)
    logger.info("feature matrix: %d clients x %d columns (groups %s)", len(matrix), matrix.shape[1], names)
    return matrix


def feature_columns(matrix: pd.DataFrame) -> list[str]:
    """The model's input columns (everything but the id and the target)."""
    return [c for c in matrix.columns if c not in (KEY, "TARGET")]


@dataclass
class BuildConfig:
    """Build (or refresh) the cached Home Credit feature matrix."""
    data: str | None = None
    tables: list[str] = field(default_factory=lambda: list(ALL_GROUPS),
                              metadata={"help": "feature groups to build", "choices": ALL_GROUPS})
    rebuild: bool = field(default=False, metadata={"help": "rebuild the groups even when cached"})


def main(argv: list[str] | None = None) -> pd.DataFrame:
    """``python -m competitions.home_credit.features.build [--data DIR]``: build and cache the features."""
    from common.config import parse_config
    from common.paths import default_data_dir

    cfg = parse_config(BuildConfig, argv)
    start = time.perf_counter()
    matrix = build_features(cfg.data or default_data_dir("home_credit"), cfg.tables, rebuild=cfg.rebuild)
    print(f"feature matrix: {len(matrix):,} clients x {matrix.shape[1] - 2} features "
          f"in {time.perf_counter() - start:.1f} s")
    return matrix


if __name__ == "__main__":
    from common.cli import run_cli

    run_cli(main)
