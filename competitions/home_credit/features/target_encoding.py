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


def add_target_encoding(train: pd.DataFrame, y: np.ndarray, others: list[pd.DataFrame], columns: list[str],
                        seed: int, inner_splits: int = 5) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """Append ``<column>_TE`` to ``train`` (cross-fitted) and to each of ``others`` (fitted on ``train``)."""
    columns = [c for c in columns if c in train.columns]
    if not columns:
        return train, others
    encoder = TargetEncoder(target_type="binary",
                            cv=StratifiedKFold(inner_splits, shuffle=True, random_state=seed))
    names = [f"{c}_TE" for c in columns]
    encoded = encoder.fit_transform(_codes(train, columns), np.asarray(y))
    train = train.assign(**dict(zip(names, encoded.astype(np.float32).T)))
    others = [o.assign(**dict(zip(names, encoder.transform(_codes(o, columns)).astype(np.float32).T)))
              for o in others]
    return train, others


def _codes(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Category codes as integers, missing as its own level (unseen levels fall back to the prior)."""
    return frame[columns].fillna(MISSING_CODE).to_numpy(np.int64)
