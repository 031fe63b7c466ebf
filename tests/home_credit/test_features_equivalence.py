"""The polars feature code against the pandas code it replaced, column by column, on the synthetic default
(20,000 + 5,000 clients): same columns in the same order, same missing values, values equal to float32
tolerance."""
from __future__ import annotations

import numpy as np
import pytest

from competitions.home_credit.features import build
from competitions.home_credit.synth import generate
from tests.home_credit.pandas_features import pipeline


@pytest.fixture(scope="module")
def default_data(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("home_credit_default") / "data", n_clients=20000, n_test=5000, seed=0)


def test_polars_features_equal_the_pandas_ones_column_by_column(default_data, tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_CACHE_ROOT", str(tmp_path / "cache"))
    new = build.build_features(default_data)
    old = pipeline.build_features(default_data)
    assert list(new.columns) == list(old.columns)
    assert new["SK_ID_CURR"].tolist() == old["SK_ID_CURR"].tolist()
    assert (new.dtypes.iloc[1:] == "float32").all()
    for column in old.columns:
        a, b = old[column].to_numpy(np.float64), new[column].to_numpy(np.float64)
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=f"missing values of {column}")
        present = ~np.isnan(a)
        scale = max(1.0, float(np.abs(a[present]).max(initial=0)))
        np.testing.assert_allclose(b[present], a[present], rtol=1e-5, atol=1e-6 * scale, err_msg=column)
