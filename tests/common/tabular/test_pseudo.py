"""Pseudo-labels for the tabular engines (common.tabular.pseudo): rows picked by share of a source fold's own
ranking, joined to that fold's training rows only, for every library."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from common.config import parse_config
from common.errors import BadInput, MissingInput
from common.run import Run
from common.tabular.config import GBDTConfig
from common.tabular.cross_validate import train_cv
from common.tabular.matrix import FoldColumns, FoldTransform, PseudoRows, split_fold
from common.tabular.protocol import model_params
from common.tabular.pseudo import PseudoLabeller, select_shares

FAST = ["--num-threads", "1", "--learning-rate", "0.2", "--max-depth", "3",
        "--num-boost-round", "30", "--early-stopping-rounds", "10", "--log-period", "0", "--n-splits", "3"]


def train(root, matrix, folds, name, *args, pseudo=None, transform=None) -> tuple[Run, dict]:
    cfg = parse_config(GBDTConfig, [*FAST, "--name", name, *args])
    run = Run.open("toy", cfg.name, root)
    run.save_config(cfg)
    return run, train_cv(run, cfg, matrix, folds, model_params(cfg), transform=transform, pseudo=pseudo,
                         title="toy")


def test_shares_take_either_end_of_the_ranking():
    pred = np.array([0.5, 0.1, 0.9, 0.2, 0.8, 0.3, 0.7, 0.4, 0.6, 0.05])
    rows, labels = select_shares(pred, negatives=0.3, positives=0.2)
    assert rows.tolist() == [1, 2, 3, 4, 9]                 # positions in order: 0.05, 0.1, 0.2 low; 0.9, 0.8 high
    assert labels.tolist() == [0, 1, 0, 1, 0]
    assert select_shares(pred, 0.0, 0.0)[0].size == 0
    with pytest.raises(BadInput, match="add up to at most 1"):
        select_shares(pred, 0.8, 0.3)


def test_pseudo_rows_follow_the_training_rows_of_every_view(cancer):
    matrix, folds = cancer

    def encode(x_train, y_train, others):  # an added column, fitted on the fold's own training rows
        mean = float(x_train["mean_radius"].mean())
        centred = [pd.DataFrame({"centred": (x["mean_radius"] - mean).to_numpy()}) for x in (x_train, *others)]
        return FoldColumns(centred[0], centred[1:])

    transform = FoldTransform(encode, reads=("mean_radius",))
    plain = split_fold(matrix, folds, 1, transform)
    split = split_fold(matrix, folds, 1, transform)
    split.pseudo = PseudoRows(np.array([3, 7, 100]), np.array([1, 0, 1]), weight=0.25)
    n = len(plain.train_rows)
    values = split.values("train")
    np.testing.assert_array_equal(values[:n], plain.values("train"))
    np.testing.assert_array_equal(values[n:], plain.values("test")[[3, 7, 100]])  # the test rows, with their column
    assert values.flags.f_contiguous and values.dtype == np.float32
    frame = split.frame("train")
    np.testing.assert_array_equal(frame.to_numpy(np.float32), values)
    assert split.y_train.tolist() == plain.y_train.tolist() + [1, 0, 1]
    assert split.w_train.tolist() == [1.0] * n + [0.25] * 3
    np.testing.assert_array_equal(split.values("valid"), plain.values("valid"))   # validation: training clients only
    assert split.y_valid.tolist() == plain.y_valid.tolist()


@pytest.mark.parametrize("model", ["lightgbm", "xgboost", "catboost"])
def test_each_fold_learns_from_its_own_source_fold_and_validates_on_clients_only(cancer, tmp_path, model):
    matrix, folds = cancer
    source, _ = train(tmp_path, matrix, folds, "source")
    # fold 2's own file says the opposite of the fold-averaged one: the pseudo-labels must follow fold 2's
    fold2 = pd.read_csv(source.fold_path(2) / "test.csv")
    fold2["pred"] = 1 - fold2["pred"]
    fold2.to_csv(source.fold_path(2) / "test.csv", index=False)
    labeller = PseudoLabeller(str(source.root), negatives=0.4, positives=0.2, weight=0.5)
    run, metrics = train(tmp_path, matrix, folds, f"pseudo-{model}", "--model", model, pseudo=labeller)
    test_ids = matrix.test["row"].to_numpy()
    for fold in range(3):
        own = pd.read_csv(source.fold_path(fold) / "test.csv").set_index("id")["pred"].loc[test_ids].to_numpy()
        rows, labels = select_shares(own, 0.4, 0.2)
        written = pd.read_csv(run.fold_path(fold) / "pseudo.csv")
        assert written["id"].tolist() == test_ids[rows].tolist() and written["label"].tolist() == labels.tolist()
        assert metrics["folds"][str(fold)]["pseudo"] == {"rows": len(rows), "defaults": int(labels.sum())}
    oof = pd.read_csv(run.root / "oof.csv")
    assert sorted(oof["id"]) == list(range(400))                           # pseudo rows are never validated
    assert metrics["pseudo"] == {"source": str(source.root), "negatives": 0.4, "positives": 0.2, "weight": 0.5}
    assert metrics["oof"]["auc_given"]["auc"] > 0.95


def test_a_source_without_the_fold_is_refused_in_one_line(cancer, tmp_path):
    matrix, folds = cancer
    source, _ = train(tmp_path, matrix, folds, "partial", "--fold", "0")
    labeller = PseudoLabeller(str(source.root))
    with pytest.raises(MissingInput, match=r"fold 1 is not finished there .*train fold 1 of the source run first"):
        labeller.rows(matrix, 1)
