"""Rewrite the synthetic history tables in the row order of Kaggle's real files (``generate(row_order="kaggle")``).

The generator writes every table client by client in increasing SK_ID_CURR. The real files are not in that
order, and the kit's loader is sensitive to row order for speed, so its benchmarks and tests need files in
Kaggle's order: previous_application, POS_CASH_balance, installments_payments and credit_card_balance list
their rows in no client order; bureau keeps each client's rows together but clients in no sorted order;
bureau_balance keeps each loan's months together (0, -1, -2, ...) with loans in no sorted order.

Files are shuffled as bytes: whole lines (or blocks of consecutive lines with the same key) are moved, so the
text of every row stays exactly as written. One table at a time is held in memory (its text plus a few bytes a
line: about 1.5 GB for the real installments_payments).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import polars as pl

from common.errors import BadInput
from common.io import atomic_path

# Table -> column whose consecutive rows move together (None: every row alone). Order fixes the random streams.
BLOCKS = {"bureau.csv": "SK_ID_CURR", "bureau_balance.csv": "SK_ID_BUREAU", "previous_application.csv": None,
          "POS_CASH_balance.csv": None, "installments_payments.csv": None, "credit_card_balance.csv": None}
ROW_ORDERS = ("client", "kaggle")
ROW_ORDER_STREAM = 8  # random streams [seed, 0, ROW_ORDER_STREAM, table index], apart from the generator's
WRITE_BATCH = 1 << 16  # blocks joined per write


def kaggle_row_order(folder: str | Path, seed: int) -> None:
    """Rewrite the six history tables in `folder` in Kaggle's row order, deterministically from `seed`."""
    for index, (name, key) in enumerate(BLOCKS.items()):
        start = time.perf_counter()
        n_rows, n_blocks = shuffle_blocks(Path(folder) / name, key,
                                          np.random.default_rng([seed, 0, ROW_ORDER_STREAM, index]))
        what = f"{n_blocks:,} {key} blocks" if key else "rows shuffled"
        print(f"row order kaggle: {name} ({n_rows:,} rows, {what}) in {time.perf_counter() - start:.1f}s")


def shuffle_blocks(path: Path, key: str | None, rng: np.random.Generator) -> tuple[int, int]:
    """Rewrite the CSV at `path` (atomically) with its header first, then its blocks of lines in a random
    order: each line alone, or with `key` each run of lines with the same key, which must hold all of its rows.
    Returns the numbers of rows and blocks."""
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        data += b"\n"
    line_ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n")) + 1
    row_starts = line_ends[:-1]  # line 0 is the header
    n_rows = row_starts.size
    if key is None:
        block_starts = row_starts
    else:
        keys = pl.read_csv(path, columns=[key], infer_schema=False)[key]
        if keys.len() != n_rows:
            raise BadInput(f"{path}: {keys.len()} rows but {n_rows} lines (a quoted line break?)")
        first = (keys != keys.shift(1)).fill_null(True).to_numpy()
        if first.sum() != keys.n_unique():
            raise BadInput(f"{path}: rows of one {key} are not all consecutive")
        block_starts = row_starts[first]
    block_ends = np.append(block_starts[1:], len(data))
    order = rng.permutation(block_starts.size)
    with atomic_path(path) as tmp, tmp.open("wb") as out:
        out.write(data[:line_ends[0]])
        for batch in range(0, order.size, WRITE_BATCH):
            take = order[batch:batch + WRITE_BATCH]
            out.write(b"".join([data[s:e] for s, e in zip(block_starts[take].tolist(), block_ends[take].tolist())]))
    return n_rows, block_starts.size
