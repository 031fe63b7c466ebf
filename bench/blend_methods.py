"""Every blend method of the kit over the runs a play kept: the honest CV the tail compares (nested OOF AUC: weights
fitted on the other folds) beside the test AUC against a synthetic data set's planted truth.

The tail of ``kit play`` keeps the plan's method of the best nested CV; this shows whether that choice carries to
the test rows. Reads the play's ``decisions.jsonl`` (its kept candidates) and their run folders; writes nothing.

    python bench/blend_methods.py --play /tmp/bench-hc15b/plays/home_credit/budget-15m \\
        --truth /tmp/bench-hc15b/data/_truth_test.csv --id-column SK_ID_CURR
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from common.ensemble.methods import BLENDERS, make_blender
from common.ensemble.nested import nested_oof
from common.metrics import roc_auc
from common.play.decisions import DecisionLog
from common.run import RunFolder


def kept_runs(play: Path) -> tuple[str, list[str]]:
    """The play's competition and the runs its candidates kept, in the order they finished."""
    log = DecisionLog(play / "decisions.jsonl")
    competition = next(r["competition"] for r in log.records if r.get("event") == "play")
    runs = [c["run"] for r in log.finished() for c in r.get("candidates", []) if c.get("kept", True)]
    return competition, list(dict.fromkeys(runs))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--play", type=Path, required=True, help="a play's folder (with decisions.jsonl)")
    parser.add_argument("--truth", type=Path, required=True, help="CSV of the test rows' planted outcome")
    parser.add_argument("--id-column", default="id")
    parser.add_argument("--target-column", default="TARGET")
    opts = parser.parse_args(argv)

    if not (opts.play / "decisions.jsonl").is_file():
        sys.exit(f"--play: no decisions.jsonl in {opts.play} (a folder of kit play)")
    if not opts.truth.is_file():
        sys.exit(f"--truth: no such file: {opts.truth}")
    competition, runs = kept_runs(opts.play)
    truth = pd.read_csv(opts.truth, usecols=[opts.id_column, opts.target_column], dtype={opts.id_column: str})
    truth = truth.set_index(opts.id_column)[opts.target_column].astype(int)
    folders = [RunFolder(opts.play / "runs" / competition / run) for run in runs]
    oofs = [f.read_oof().set_index("id") for f in folders]
    ids = oofs[0].index
    y, folds = oofs[0]["target"].to_numpy(), oofs[0]["fold"].to_numpy()
    P = np.column_stack([o["pred"].reindex(ids).to_numpy() for o in oofs])
    T = np.column_stack([f.read_test().set_index("id")["pred"].reindex(truth.index).to_numpy() for f in folders])
    if np.isnan(P).any() or np.isnan(T).any():
        sys.exit("the runs do not cover the same OOF ids and every test id of the truth")
    rows = [(run, "run", roc_auc(y, P[:, j]), roc_auc(truth.to_numpy(), T[:, j])) for j, run in enumerate(runs)]
    for method in BLENDERS:
        nested, _ = nested_oof(make_blender(method), P, y, folds)
        fitted = make_blender(method).fit(P, y, folds)
        rows.append((method, "blend (nested OOF)", roc_auc(y, nested), roc_auc(truth.to_numpy(), fitted.predict(T))))
    print(f"{opts.play}: {len(runs)} kept runs, {len(y)} OOF rows, {len(truth)} test rows with their truth\n")
    print("| runs or method | kind | CV AUC | test AUC (truth) |\n| --- | --- | --- | --- |")
    for name, kind, cv, test in rows:
        print(f"| {name} | {kind} | {cv:.5f} | {test:.5f} |")


if __name__ == "__main__":
    main()
