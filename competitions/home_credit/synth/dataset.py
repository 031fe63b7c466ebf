"""Generate a synthetic Home Credit dataset: every competition file plus the known truth behind TARGET.

Clients are made in fixed-size chunks, each from its own seeded generator, so the output is the same
for a seed whatever the number of worker processes. Each chunk is formatted to CSV text (in a worker)
and appended to a temporary file per table; the files take their real names only when all chunks are in,
so a killed run leaves any earlier complete files intact (run the same command again to redo it).
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from common.errors import BadInput
from common.io import atomic_path, atomic_write_csv, atomic_write_json

from common.progress import progress_bar
from competitions.home_credit.schema import DESCRIPTION_FILE, SAMPLE_SUBMISSION_COLUMNS, columns, table_names
from competitions.home_credit.synth.application import SHIFT, sample_application
from competitions.home_credit.synth.behaviour import (INTERCEPT, SIDE_CENTRES, SIDE_WEIGHTS, client_behaviour,
                                                      side_logit_parts)
from competitions.home_credit.synth.bureau import sample_bureau
from competitions.home_credit.synth.describe import write_descriptions
from competitions.home_credit.synth.monthly import sample_credit_card, sample_installments, sample_pos_cash
from competitions.home_credit.synth.previous import sample_previous
from competitions.home_credit.synth.row_order import ROW_ORDERS, kaggle_row_order
from competitions.home_credit.synth.rows import logistic
from competitions.home_credit.synth.traits import sample_traits

CHUNK_CLIENTS = 5000
FIRST_CLIENT_ID = 100001
FIRST_BUREAU_ID = 5000000
FIRST_PREVIOUS_ID = 1000001
TRUTH_CSV = "_truth.csv"
TRUTH_JSON = "_truth.json"
TRUTH_TEST_CSV = "_truth_test.csv"  # test clients' truth, written only with a covariate shift (--shift)
SHIFT_STREAM = 7  # the shift's own random stream per chunk: [seed, chunk + 1, SHIFT_STREAM]
SAMPLE_SUBMISSION = "sample_submission.csv"


@dataclass(frozen=True)
class ChunkJob:
    """Everything a worker needs to make one chunk."""

    seed: int
    index: int
    n_chunks: int
    ids: np.ndarray
    is_test: np.ndarray
    shift: float = 0.0  # share of test clients drawn from the shifted distribution (0: none)


def _split_clients(n_clients: int, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """All SK_ID_CURR in order and which of them are test clients (spread at random like the real ids)."""
    total = n_clients + n_test
    ids = FIRST_CLIENT_ID + np.arange(total, dtype=np.int64)
    is_test = np.zeros(total, dtype=bool)
    is_test[np.random.default_rng([seed, 0]).choice(total, size=n_test, replace=False)] = True
    return ids, is_test


def _interleaved_ids(local: pd.Series, first: int, job: ChunkJob) -> np.ndarray:
    """Globally unique ids without knowing other chunks' sizes: chunk c's k-th row gets first + k*n_chunks + c."""
    return first + local.to_numpy() * job.n_chunks + job.index


def make_chunk(job: ChunkJob) -> tuple[dict[str, str], pd.DataFrame]:
    """CSV text (no header) of every table for one chunk of clients, and the train clients' truth rows."""
    rng = np.random.default_rng([job.seed, job.index + 1])
    traits = sample_traits(rng, job.ids.size)
    shifted, shift_rng = None, None
    if job.shift > 0:  # its own stream: the main one (and so every unshifted value) stays as without shift
        shift_rng = np.random.default_rng([job.seed, job.index + 1, SHIFT_STREAM])
        shifted = job.is_test & (shift_rng.random(job.ids.size) < job.shift)
    application, applicants = sample_application(rng, job.ids, job.is_test, traits, shifted, shift_rng)
    bureau, balance = sample_bureau(rng, job.ids, traits, applicants)
    previous, loans = sample_previous(rng, job.ids, traits)
    pos = sample_pos_cash(rng, job.ids, traits, loans)
    installments = sample_installments(rng, job.ids, traits, loans)
    card = sample_credit_card(rng, job.ids, traits, loans)

    side = side_logit_parts(client_behaviour(job.ids, bureau, previous, pos, installments, card))
    logit = INTERCEPT + applicants.app_logit + sum(side.values())
    p_true = logistic(logit)
    target = (rng.random(job.ids.size) < p_true).astype(np.int64)
    application["TARGET"] = target

    bureau["SK_ID_BUREAU"] = _interleaved_ids(bureau["SK_ID_BUREAU"], FIRST_BUREAU_ID, job)
    balance["SK_ID_BUREAU"] = _interleaved_ids(balance["SK_ID_BUREAU"], FIRST_BUREAU_ID, job)
    for frame in (previous, pos, installments, card):
        frame["SK_ID_PREV"] = _interleaved_ids(frame["SK_ID_PREV"], FIRST_PREVIOUS_ID, job)

    train = ~job.is_test
    tables = {
        "application_train.csv": application[train],
        "application_test.csv": application[job.is_test].drop(columns="TARGET"),
        "bureau.csv": bureau, "bureau_balance.csv": balance, "previous_application.csv": previous,
        "POS_CASH_balance.csv": pos, "installments_payments.csv": installments, "credit_card_balance.csv": card,
    }
    # pandas writes floats in their shortest round-trip form, like the real files ("202500.0", "0.0188").
    text = {name: frame.to_csv(index=False, header=False, lineterminator="\n")
            for name, frame in tables.items()}
    text[SAMPLE_SUBMISSION] = "".join(f"{i},0.5\n" for i in job.ids[job.is_test])
    truth = pd.DataFrame({"SK_ID_CURR": job.ids, "TARGET": target, "p_true": p_true,
                          "logit_application": applicants.app_logit, **side})
    if shifted is None:
        return text, truth[train]
    return text, truth.assign(shifted=shifted.astype(np.int8), _test=job.is_test)


def _headers() -> dict[str, str]:
    heads = {name: ",".join(columns(name)) + "\n" for name in table_names()}
    heads[SAMPLE_SUBMISSION] = ",".join(SAMPLE_SUBMISSION_COLUMNS) + "\n"
    return heads


def generate(out: str | os.PathLike, n_clients: int = 20000, n_test: int = 5000, seed: int = 0,
             workers: int = 1, shift: float = 0.0, row_order: str = "client") -> Path:
    """Write the synthetic competition files into `out` and return its path.

    n_clients: train clients (rows of application_train.csv); n_test: test clients; workers: processes that
    make chunks in parallel (the output does not depend on it); shift: share of test clients drawn from a
    covariate-shifted distribution of a few application columns (``application.SHIFT``; 0: none, and the
    files are exactly those made without the option). With a shift, ``_truth_test.csv`` gives every test
    client's TARGET, p_true and ``shifted`` flag, and ``_truth.json`` a ``shift`` entry.
    row_order: "client" writes the history tables client by client in increasing SK_ID_CURR; "kaggle" then
    rewrites them in the row order of the real files (``row_order.kaggle_row_order``, shuffled from `seed`), for
    benchmarks and tests of the loader against files ordered like Kaggle's.
    """
    if n_clients < 1 or n_test < 0:
        raise BadInput(f"need n_clients >= 1 and n_test >= 0, got {n_clients} and {n_test}")
    if not 0 <= shift <= 1:
        raise BadInput(f"shift must be in [0, 1] (the share of shifted test clients), got {shift}")
    if row_order not in ROW_ORDERS:
        raise BadInput(f"row_order must be one of {', '.join(ROW_ORDERS)}, got {row_order!r}")
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    ids, is_test = _split_clients(n_clients, n_test, seed)
    bounds = range(0, ids.size, CHUNK_CLIENTS)
    jobs = [ChunkJob(seed, k, len(bounds), ids[s:s + CHUNK_CLIENTS], is_test[s:s + CHUNK_CLIENTS], shift)
            for k, s in enumerate(bounds)]

    truths = []
    with contextlib.ExitStack() as stack:  # every file appears under its real name only if all chunks succeed
        handles = {name: stack.enter_context(stack.enter_context(atomic_path(out_dir / name)).open("w", newline=""))
                   for name in _headers()}
        for name, head in _headers().items():
            handles[name].write(head)
        pool = stack.enter_context(multiprocessing.get_context("fork").Pool(workers)) if workers > 1 else None
        chunks = pool.imap(make_chunk, jobs) if pool else map(make_chunk, jobs)
        for text, truth in progress_bar(chunks, total=len(jobs), unit="chunk", desc=f"home_credit synth ({ids.size:,} clients)"):
            for name, chunk_text in text.items():
                handles[name].write(chunk_text)
            truths.append(truth)
    if row_order == "kaggle":
        kaggle_row_order(out_dir, seed)
    with atomic_path(out_dir / DESCRIPTION_FILE) as tmp:
        write_descriptions(tmp)
    truth = pd.concat(truths, ignore_index=True)
    shift_summary = None
    if shift > 0:
        is_test_row = truth.pop("_test").to_numpy()
        test_truth, truth = truth[is_test_row].reset_index(drop=True), truth[~is_test_row].drop(columns="shifted")
        atomic_write_csv(out_dir / TRUTH_TEST_CSV, test_truth)
        shift_summary = {
            "share": shift, "n_shifted": int(test_truth["shifted"].sum()), "n_test": int(len(test_truth)),
            "columns": SHIFT, "test_truth": TRUTH_TEST_CSV,
            "note": "a share `share` of the test clients (flag `shifted` in _truth_test.csv) is drawn with the "
                    "changes in `columns`; TARGET follows the same model of the shifted columns (covariate "
                    "shift). Independently of --shift, EXT_SOURCE_1 is missing less often in test (42.7%) than "
                    "in train (56.4%), as in the real data."}
    summary = _write_truth(out_dir, truth.reset_index(drop=True), seed, n_clients, n_test, shift_summary)
    print(f"Bayes-optimal AUC {summary['bayes_auc']:.4f} (application part alone {summary['application_part_auc']:.4f}); "
          f"TARGET rate {summary['target_rate']:.4f}; written to {out_dir}")
    return out_dir


def _write_truth(out_dir: Path, truth: pd.DataFrame, seed: int, n_clients: int, n_test: int,
                 shift: dict | None = None) -> dict:
    """`_truth.csv` (per train client) and `_truth.json` (summary); returns the summary."""
    target = truth.pop("TARGET").to_numpy()
    both = target.min() != target.max()
    summary = {
        "seed": seed, "n_clients": n_clients, "n_test": n_test, "target_rate": float(target.mean()),
        "bayes_auc": float(roc_auc_score(target, truth["p_true"])) if both else None,
        "application_part_auc": float(roc_auc_score(target, truth["logit_application"])) if both else None,
        "intercept": INTERCEPT, "side_weights": SIDE_WEIGHTS,
        "side_centres": SIDE_CENTRES,
        "note": "p_true = logistic(intercept + logit_application + sum of logit_<name>); logit_application uses "
                "application columns before missing values were punched in; logit_<name> = side_weights[name] * "
                "(aggregate - side_centres[name]), where the aggregate is computed from the side tables as written "
                "(synth.behaviour.client_behaviour).",
    }
    if shift is not None:
        summary["shift"] = shift
    atomic_write_csv(out_dir / TRUTH_CSV, truth)
    atomic_write_json(out_dir / TRUTH_JSON, summary)
    return summary
