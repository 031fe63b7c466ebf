"""select_features.py end to end on tiny synthetic data: the recipe of a run, the selection file that
train.py reads, the nested run, a rerun that keeps what is done."""
from __future__ import annotations

import pandas as pd
import pytest
import yaml

from common.paths import runs_root
from competitions.home_credit import select_features, train
from tests.home_credit.helpers import FAST, kit_roots  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("kit_roots")
SELECT_FAST = ["--selection-rounds", "20", "--null-runs", "2", "--no-progress"]


@pytest.mark.slow
def test_selection_serves_a_runs_recipe_and_feeds_train(home_credit_data):
    train.main(["--data", str(home_credit_data), "--name", "base", "--tables", "application", "bureau",
                "--fold", "0,1", *FAST])
    metrics = select_features.main(["--run", "base", *SELECT_FAST])
    run = runs_root() / "home_credit" / "base-null-importance"
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["tables"] == ["application", "bureau"] and config["num_leaves"] == 7  # the recipe of "base"
    assert config["method"] == "null-importance" and config["run"].endswith("base")
    table = pd.read_csv(run / "features.csv")
    selection = metrics["selection"]
    assert selection["n_features"] == len(table) and 0 < selection["n_selected"] < len(table)
    assert set(selection["n_selected_per_fold"]) == {0, 1} and metrics["completed_folds"] == [0, 1]
    assert (run / "fold0" / "selection.csv").is_file() and (run / "oof.csv").is_file()
    assert 0 <= selection["vs_source"]["p_value"] <= 1 and selection["vs_source"]["n"] > 0
    encoded = yaml.safe_load((run / "config.yaml").read_text())["te_columns"]
    kept = set(table.loc[table["selected"], "feature"])
    assert set(encoded) <= kept  # the target encoding's inputs stay

    stamp = (run / "features.csv").stat().st_mtime_ns
    select_features.main(["--run", "base", *SELECT_FAST])  # a rerun keeps the selection and the folds
    assert (run / "features.csv").stat().st_mtime_ns == stamp

    chosen = train.main(["--data", str(home_credit_data), "--name", "chosen", "--tables", "application", "bureau",
                         "--fold", "0", "--features-file", str(run), *FAST])
    assert chosen["features_file"]["n_features"] == len(kept)
    importance = pd.read_csv(runs_root() / "home_credit" / "chosen" / "importance.csv")
    assert set(importance["feature"]) - {f"{c}_TE" for c in encoded} <= kept


def test_a_run_without_a_recipe_is_named(home_credit_data, tmp_path):
    with pytest.raises(FileNotFoundError, match="option --run: run 'nowhere' not found"):
        select_features.main(["--run", "nowhere", *SELECT_FAST])
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="has no config.yaml"):
        select_features.main(["--run", str(tmp_path / "empty"), *SELECT_FAST])


def test_a_features_file_naming_unknown_features_is_refused_before_training(home_credit_data, tmp_path):
    listed = tmp_path / "features.csv"
    pd.DataFrame({"feature": ["AMT_CREDIT", "NOT_A_FEATURE"], "selected": [True, True]}).to_csv(listed, index=False)
    with pytest.raises(ValueError, match=r"option --features-file: 1 feature\(s\) not in the feature matrix, e.g. "
                                         r"\['NOT_A_FEATURE'\]"):
        train.main(["--data", str(home_credit_data), "--name", "listed", "--tables", "application",
                    "--features-file", str(listed), *FAST])
    assert not (runs_root() / "home_credit" / "listed" / "config.yaml").exists()
    with pytest.raises(FileNotFoundError, match="option --features-file: no such file or run folder"):
        train.main(["--data", str(home_credit_data), "--features-file", str(tmp_path / "none.csv"), *FAST])
