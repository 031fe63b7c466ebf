"""Nexperia's train-test leak fix, the ``leak-fix`` post-processing of ``submissions.blend --post leak-fix``.

Test images byte-identical to train images whose labels agree get that label as their score.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from common.dedup import apply_exact_matches
from competitions.nexperia.data import duplicates_of, load_data


def leak_fix(test: pd.DataFrame, data_dir: Path) -> tuple[pd.DataFrame, dict]:
    """``test`` (``id,pred``) with exact train duplicates set to the train label, and what changed."""
    fixed, n_set = apply_exact_matches(test, duplicates_of(load_data(Path(data_dir))))
    changed = fixed["pred"].to_numpy() != test["pred"].to_numpy()
    return fixed, {"n_exact_matches": n_set, "n_changed": int(changed.sum())}
