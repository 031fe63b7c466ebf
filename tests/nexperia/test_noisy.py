"""The Nexperia audit command: planted flips from ``_truth.csv`` and the image grid of the suspects."""
from __future__ import annotations

import numpy as np
import pandas as pd

from common.noisy import SUSPECT_COLUMNS


def test_audit_command_on_dataset(nexperia_data, tmp_path):
    """OOF predictions that follow the planted truth: the audit ranks the planted flips first."""
    from competitions.nexperia.data import read_truth_file
    from competitions.nexperia.noisy import main

    truth = read_truth_file(nexperia_data)
    train = truth[truth["split"] == "train"].reset_index(drop=True)
    rng = np.random.default_rng(1)
    # A model that has learnt the true labels well, and is sure of the flipped defects.
    logit = 6.0 * (2 * train["label_true"] - 1) + rng.normal(0, 1.0, len(train))
    pred = 1 / (1 + np.exp(-np.where(train["flipped"] == 1, 9.0, logit)))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    pd.DataFrame({"id": train["id"], "fold": 0, "target": train["label_given"], "pred": pred}).to_csv(
        run_dir / "oof.csv", index=False)
    report = main(["--oof", str(run_dir), "--data", str(nexperia_data), "--cache-dir", str(tmp_path / "cache"),
                   "--grid", "6"])
    n_flips = int(train["flipped"].sum())
    assert report["n_planted_flips"] == n_flips > 0
    assert report["precision_at_k"] == 1.0
    suspects = pd.read_csv(run_dir / "audit" / "suspects.csv", dtype={"id": str})
    assert list(suspects.columns) == SUSPECT_COLUMNS
    assert set(suspects["id"][:n_flips]) == set(train.loc[train["flipped"] == 1, "id"])
    assert (run_dir / "audit" / "suspects.png").stat().st_size > 0
