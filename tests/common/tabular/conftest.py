"""The tabular engine tests' shared data: scikit-learn's breast cancer data as a matrix with test rows."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from common.folds import make_folds
from common.tabular.matrix import TabularMatrix


@pytest.fixture(scope="module")
def cancer() -> tuple[TabularMatrix, np.ndarray]:
    """400 labelled rows and 169 test rows (ids 0..568), 30 features, and 3 stratified folds."""
    data = load_breast_cancer(as_frame=True)
    frame = data.data.rename(columns=lambda c: c.replace(" ", "_")).assign(row=np.arange(len(data.data)))
    frame["label"] = data.target.astype(float)
    frame.loc[400:, "label"] = np.nan
    matrix = TabularMatrix.from_frame(frame, "row", "label")
    return matrix, make_folds(matrix.ids, matrix.y, n_splits=3, seed=0)["fold"].to_numpy()
