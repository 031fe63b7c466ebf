"""Check a submission file against the competition's sample submission before anything is sent.

``python -m submissions.validate FILE --competition nexperia [--data DIR]``: exit status 0 when the
file is valid, 2 with ``error:`` and one line per problem otherwise.

Checked: the columns (names and order) of the sample submission; the exact id set and row count; no
duplicated id; every score a finite number inside the competition's score range. A file starting with a
UTF-8 byte order mark (BOM) is read without it but draws a one-line warning naming the file (the kit's
writers never write one). Whatever the file holds (truncated, binary, wrong encoding...), the outcome is
the file accepted or a ``SubmissionError`` naming the file: never a traceback.
"""
from __future__ import annotations

import csv
import io
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from common.cli import run_cli
from common.config import option, parse_config
from common.errors import BadInput, MissingInput
from common.paths import default_data_dir
from common.registry import Competition, get_competition


BOM = b"\xef\xbb\xbf"
logger = logging.getLogger(__name__)


class SubmissionError(BadInput):
    """A submission (or its sample) is not what the competition expects; the message lists every problem."""


def sample_path(competition: str, data_dir: str | Path | None = None) -> Path:
    spec = get_competition(competition)
    return Path(data_dir or default_data_dir(competition)) / spec.sample_submission


def read_sample(competition: str, data_dir: str | Path | None = None) -> pd.DataFrame:
    """The competition's sample submission, ids kept as text exactly as written."""
    spec = get_competition(competition)
    path = sample_path(competition, data_dir)
    if not path.is_file():
        raise MissingInput(
            f"sample submission not found: {path} (download the competition data into "
            f"{path.parent} or pass --data)")
    sample = pd.read_csv(path, dtype={spec.id_column: str})
    expected = [spec.id_column, spec.target_column]
    if list(sample.columns) != expected:
        raise SubmissionError(f"sample submission {path} has columns {list(sample.columns)}, expected {expected}")
    return sample


def read_submission(path: str | Path, spec: Competition) -> pd.DataFrame:
    """The submission file (ids as text); ``SubmissionError`` naming it when it is no readable CSV."""
    path = Path(path)
    if not path.is_file():
        raise MissingInput(f"submission file not found: {path}")
    data = path.read_bytes()
    if data.startswith(BOM):
        logger.warning("%s starts with a UTF-8 byte order mark (BOM): read without it, but write the "
                       "file without one (Kaggle may take the BOM as part of the first column's name)", path)
        data = data[len(BOM):]
    if not data.strip():
        raise SubmissionError(f"{path} is empty: expected the header {spec.id_column},{spec.target_column} "
                              "and one row per id")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SubmissionError(f"{path} is not UTF-8 text (byte {error.start}: {data[error.start:error.start + 1]!r})"
                              ) from None
    if "\0" in text:
        raise SubmissionError(f"{path} holds NUL bytes: not a CSV text file")
    try:
        sub = pd.read_csv(io.StringIO(text), dtype={spec.id_column: str})
    except (pd.errors.EmptyDataError, pd.errors.ParserError, csv.Error, ValueError) as error:
        raise SubmissionError(f"{path} is not a readable CSV file: {str(error).strip()}") from None
    return sub


def _examples(values: Sequence, k: int = 5) -> str:
    values = list(values)
    more = f" (+{len(values) - k} more)" if len(values) > k else ""
    return ", ".join(map(repr, values[:k])) + more


def find_problems(sub: pd.DataFrame, sample: pd.DataFrame, spec: Competition) -> list[str]:
    """Every way ``sub`` differs from what the competition accepts; empty when it is valid."""
    problems = []
    expected = [spec.id_column, spec.target_column]
    if list(sub.columns) != expected:
        problems.append(f"columns are {list(sub.columns)}, expected exactly {expected} in this order")
        if not set(expected) <= set(sub.columns):
            return problems
    ids = sub[spec.id_column].astype(str)
    if len(sub) != len(sample):
        problems.append(f"{len(sub)} rows, the sample submission has {len(sample)}")
    duplicated = ids[ids.duplicated()].unique()
    if len(duplicated):
        problems.append(f"{len(duplicated)} duplicated id(s): {_examples(duplicated)}")
    have, want = set(ids), set(sample[spec.id_column].astype(str))
    if missing := sorted(want - have):
        problems.append(f"{len(missing)} id(s) of the sample submission missing: {_examples(missing)}")
    if extra := sorted(have - want):
        problems.append(f"{len(extra)} id(s) not in the sample submission: {_examples(extra)}")
    scores = pd.to_numeric(sub[spec.target_column], errors="coerce").to_numpy(dtype=np.float64)
    raw = sub[spec.target_column]
    not_numbers = raw.notna().to_numpy() & np.isnan(scores)
    if not_numbers.any():
        problems.append(f"{int(not_numbers.sum())} {spec.target_column} value(s) are not numbers, for ids "
                        f"{_examples(ids[not_numbers])}")
    not_finite = ~np.isfinite(scores) & ~not_numbers
    if not_finite.any():
        problems.append(f"{int(not_finite.sum())} {spec.target_column} value(s) are NaN or inf, for ids "
                        f"{_examples(ids[not_finite])}")
    low, high = spec.score_range
    outside = np.isfinite(scores) & ((scores < low) | (scores > high))
    if outside.any():
        problems.append(f"{int(outside.sum())} {spec.target_column} value(s) outside [{low}, {high}], for ids "
                        f"{_examples(ids[outside])}")
    return problems


def check_submission(sub: pd.DataFrame, sample: pd.DataFrame, spec: Competition, what: str) -> None:
    """Raise ``SubmissionError`` listing every problem of ``sub`` (``what`` names it in the message)."""
    problems = find_problems(sub, sample, spec)
    if problems:
        raise SubmissionError(f"{what} is not a valid {spec.name} submission:\n  - " + "\n  - ".join(problems))


def validate_file(path: str | Path, competition: str, data_dir: str | Path | None = None) -> pd.DataFrame:
    """Read and check a submission file; return it, or raise ``SubmissionError``."""
    spec = get_competition(competition)
    sub = read_submission(path, spec)
    check_submission(sub, read_sample(competition, data_dir), spec, str(path))
    return sub


@dataclass
class ValidateOptions:
    """Check a submission file against the competition's sample submission before anything is sent."""
    file: str = option(positional=True, required=True, help="submission CSV")
    competition: str = option(required=True, help="the kit's competition name, e.g. nexperia")
    data: str | None = option(None, help="folder with the sample submission (default: the competition's data "
                                         "folder)")


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_config(ValidateOptions, argv)
    sub = validate_file(opts.file, opts.competition, opts.data)
    print(f"OK: {opts.file} is a valid {opts.competition} submission ({len(sub)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
