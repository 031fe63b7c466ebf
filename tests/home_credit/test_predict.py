"""predict.py: the submission holds exactly the sample submission's ids, in its order, with no NaN."""
from __future__ import annotations

import pandas as pd
import pytest

from common.paths import runs_root
from competitions.home_credit import predict, train
from tests.home_credit.helpers import FAST, kit_roots  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("kit_roots")


@pytest.fixture(scope="module")
def run_dir(home_credit_data, kit_roots):
    train.main(["--data", str(home_credit_data), "--name", "sub", "--tables", "application", *FAST])
    return runs_root() / "home_credit" / "sub"


def test_submission_matches_the_sample(run_dir, home_credit_data):
    path = predict.main(["--run", str(run_dir)])
    assert path == run_dir / "submission.csv"
    submission = pd.read_csv(path)
    sample = pd.read_csv(home_credit_data / "sample_submission.csv")
    assert list(submission.columns) == ["SK_ID_CURR", "TARGET"]
    assert submission["SK_ID_CURR"].tolist() == sample["SK_ID_CURR"].tolist()
    assert submission["TARGET"].notna().all() and submission["TARGET"].between(0, 1).all()
    test = pd.read_csv(run_dir / "test.csv").set_index("id")["pred"]
    pd.testing.assert_series_equal(submission.set_index("SK_ID_CURR")["TARGET"], test.loc[sample["SK_ID_CURR"]],
                                   check_names=False, check_index_type=False)


def test_submission_follows_the_sample_order_not_the_prediction_order():
    sample = pd.DataFrame({"SK_ID_CURR": [30, 10, 20], "TARGET": 0.5})
    test = pd.DataFrame({"id": [10, 20, 30], "pred": [0.1, 0.2, 0.3]})
    out = predict.make_submission(test, sample)
    assert out["SK_ID_CURR"].tolist() == [30, 10, 20] and out["TARGET"].tolist() == [0.3, 0.1, 0.2]


@pytest.mark.parametrize("test, message", [
    (pd.DataFrame({"id": [10, 20], "pred": [0.1, 0.2]}), "no prediction.*30"),
    (pd.DataFrame({"id": [10, 20, 30], "pred": [0.1, float("nan"), 0.3]}), "NaN.*20"),
    (pd.DataFrame({"id": [10, 20, 30], "pred": [0.1, 1.5, 0.3]}), "outside.*20"),
    (pd.DataFrame({"id": [10, 20, 20, 30], "pred": [0.1, 0.2, 0.2, 0.3]}), "duplicated.*20"),
])
def test_bad_predictions_are_refused(test, message):
    sample = pd.DataFrame({"SK_ID_CURR": [10, 20, 30], "TARGET": 0.5})
    with pytest.raises(ValueError, match=message):
        predict.make_submission(test, sample)
