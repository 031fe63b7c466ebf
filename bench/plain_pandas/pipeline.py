"""The old pipeline end to end: pyarrow-parsed pandas tables, the pandas feature groups, merged per client."""
from __future__ import annotations

import logging
import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from competitions.home_credit import schema
from competitions.home_credit.data import SchemaError, csv_name, open_table
from tests.home_credit.pandas_features import (
    application, bureau, credit_card, installments, pos_cash, previous)
from tests.home_credit.pandas_features.aggregate import KEY, safe_ratio

logger = logging.getLogger(__name__)
_ARROW_TYPES = {"int32": pa.int32(), "float32": pa.float32(), "category": pa.dictionary(pa.int32(), pa.string())}
GROUPS = {
    "application": (("application_train", "application_test"), application.build),
    "bureau": (("bureau", "bureau_balance"), bureau.build),
    "previous": (("previous_application",), previous.build),
    "installments": (("installments_payments",), installments.build),
    "pos_cash": (("POS_CASH_balance",), pos_cash.build),
    "credit_card": (("credit_card_balance",), credit_card.build),
}


def build_features(data_dir) -> pd.DataFrame:
    matrix = None
    for name, (tables, build) in GROUPS.items():
        frame = build(*(read_csv_checked(Path(data_dir) / f"{t}.csv") for t in tables))
        if name != "application":
            frame = frame.rename_axis(KEY).reset_index()
        frame[KEY] = frame[KEY].astype("int32")
        matrix = frame if matrix is None else matrix.merge(frame, on=KEY, how="left")
    return pd.concat([matrix, cross_features(matrix)], axis=1)


def read_csv_checked(path: str | Path) -> pd.DataFrame:
    """Parse one competition CSV with its schema's dtypes; errors name the file and the column."""
    path = Path(path)
    spec = schema.dtypes(csv_name(path))
    header = _read_header(path)
    missing = [c for c in spec if c not in header]
    if missing:
        raise SchemaError(f"{path}: missing column(s) {missing} (has {len(header)} columns, e.g. {header[:5]})")
    try:
        with open_table(path) as handle:
            table = pacsv.read_csv(
                handle,
                convert_options=pacsv.ConvertOptions(
                    column_types={c: _ARROW_TYPES[t] for c, t in spec.items()},
                    include_columns=list(spec),
                    strings_can_be_null=True,
                ),
            )
    except pa.ArrowInvalid as err:
        raise SchemaError(f"{path}: {_name_column(str(err), header)}") from err
    if table.num_rows == 0:
        raise SchemaError(f"{path}: the table is empty (header only)")
    frame = table.to_pandas()
    for column, dtype in spec.items():
        if dtype == "int32" and frame[column].dtype != "int32":
            # An integer column with missing values: keep the values as float32 rather than fail.
            logger.warning("%s: integer column %s has %d missing values; loaded as float32",
                           path.name, column, int(frame[column].isna().sum()))
            frame[column] = frame[column].astype("float32")
    return frame


def _read_header(path: Path) -> list[str]:
    with open_table(path) as handle:
        first = handle.readline().decode("utf-8", errors="replace").strip()
    if not first:
        raise SchemaError(f"{path}: the file is empty (no header)")
    return [name.strip().strip('"') for name in first.split(",")]


def _name_column(message: str, header: list[str]) -> str:
    """Turn pyarrow's 'In CSV column #14: ...' into a message naming the column."""
    match = re.search(r"CSV column #(\d+)", message)
    if match and int(match.group(1)) < len(header):
        name = header[int(match.group(1))]
        return f"column {name}: {message} (wrong type for {name})"
    return message


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


