"""Target encoding of category codes, fitted out-of-fold so no row ever sees its own label.

Inside one outer fold, training rows get values from an inner cross-fitting (scikit-learn's
``TargetEncoder.fit_transform``) over splits of the training rows only, and validation and test rows get
the encoder fitted on all training rows. Application rows are one per client, so the splits are grouped
by SK_ID_CURR by construction.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import TargetEncoder

MISSING_CODE = -1.0
# The application's high-cardinality categories, encoded by default.
TE_COLUMNS = ["ORGANIZATION_TYPE", "OCCUPATION_TYPE", "NAME_INCOME_TYPE", "NAME_EDUCATION_TYPE"]


def target_encodings(train: pd.DataFrame, y: np.ndarray, others: list[pd.DataFrame], columns: list[str],
                     seed: int, inner_splits: int = 5) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """The ``<column>_TE`` columns of ``train`` (cross-fitted) and of each of ``others`` (fitted on ``train``),
    row for row (same index); none for the ``columns`` the frames lack."""
    columns = [c for c in columns if c in train.columns]
    names = [f"{c}_TE" for c in columns]
    if not columns:
        return pd.DataFrame(index=train.index), [pd.DataFrame(index=o.index) for o in others]
    encoder = TargetEncoder(target_type="binary",
                            cv=StratifiedKFold(inner_splits, shuffle=True, random_state=seed))
    encoded = encoder.fit_transform(_codes(train, columns), np.asarray(y))
    return (pd.DataFrame(encoded.astype(np.float32), columns=names, index=train.index),
            [pd.DataFrame(encoder.transform(_codes(o, columns)).astype(np.float32), columns=names, index=o.index)
             for o in others])


def _codes(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Category codes as integers, missing as its own level (unseen levels fall back to the prior)."""
    return frame[columns].fillna(MISSING_CODE).to_numpy(np.int64)
