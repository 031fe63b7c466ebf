"""Honest OOF scores of a blender: refitted on the other folds, scored on the held-out one.

Weights searched on the same OOF rows they are scored on are optimistic; ``nested_oof`` fits a fresh copy of
the blender for each fold on the other folds' rows and predicts that fold. Rank features are computed once over
all OOF rows (no label is used) and the fold copies take them as they are (``taking_features``): ranking each
held-out fold on its own would remove the offsets between folds, which alone raises the pooled AUC of any single
run, so the blend's CV would not be comparable with the runs' OOF AUCs (nor would the DeLong test). With these
global ranks, the nested OOF of a "blend" of one run (or of copies of it) has exactly that run's pooled OOF AUC.
"""
from __future__ import annotations

import numpy as np

from common.ensemble.blenders import Blender, as_matrix


def nested_oof(blender: Blender, P, y, folds, meta=None) -> tuple[np.ndarray, dict[int, Blender]]:
    """The blend's OOF scores, each fold's predicted by a copy of ``blender`` (its parameters, unfitted) fitted
    on the other folds' rows (their folds and meta-features with them), and those fitted copies by fold."""
    P, y, folds = as_matrix(P), np.asarray(y), np.asarray(folds)
    if not (len(P) == len(y) == len(folds)):
        raise ValueError(f"P, y and folds have {len(P)}, {len(y)} and {len(folds)} rows")
    X, meta = blender.transform(P), None if meta is None else np.asarray(meta)
    out = np.empty(len(P), dtype=np.float64)
    models = {}
    for k in np.unique(folds):
        train, held = folds != k, folds == k
        model = blender.taking_features().fit(X[train], y[train], folds[train], None if meta is None else meta[train])
        out[held] = model.predict(X[held], None if meta is None else meta[held])
        models[int(k)] = model
    return out, models
