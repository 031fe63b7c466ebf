"""The Home Credit matrix in the tabular engine: keyed like its features, its target encoding a fold-local
transform adding only its columns, and LightGBM on the matrix binned once scoring as per-fold binning."""
from __future__ import annotations

import numpy as np
import pytest

from common.config import parse_config
from common.metrics import roc_auc
from common.tabular.lgbm import LightGBMEngine, lgb_params
from common.tabular.matrix import split_fold
from common.tabular.timing import Timings
from competitions.home_credit.features.build import ALL_GROUPS, features_key
from competitions.home_credit.features.target_encoding import TE_COLUMNS
from competitions.home_credit.matrix import fold_transform, load_matrix, shared_folds
from competitions.home_credit.recipe import TrainConfig
from tests.common.tabular.test_binned import per_fold_binning
from tests.home_credit.helpers import kit_roots  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("kit_roots")

# Models steadier than helpers.FAST (which stop after a handful of rounds): no early stopping, small leaves.
STEADY = ["--num-threads", "1", "--learning-rate", "0.05", "--num-boost-round", "150", "--early-stopping-rounds",
          "1000", "--num-leaves", "7", "--min-data-in-leaf", "60", "--feature-fraction", "0.9", "--log-period", "0"]


def test_the_matrix_is_keyed_like_its_features_and_the_encoding_adds_only_its_columns(home_credit_data):
    matrix = load_matrix(home_credit_data, ["application"])
    assert matrix.cache_key == features_key(home_credit_data, ["application"])
    assert matrix.cache_key != features_key(home_credit_data, ALL_GROUPS)
    cfg = parse_config(TrainConfig, ["--data", str(home_credit_data)])
    transform = fold_transform(cfg, cfg.seed)
    assert transform.reads == tuple(TE_COLUMNS)
    split = split_fold(matrix, shared_folds(matrix, None, cfg.n_splits, cfg.seed), 0, transform)
    assert split.added_names == [f"{c}_TE" for c in TE_COLUMNS] and split.keeps_all
    assert split.features == [*matrix.features, *split.added_names]
    assert split.values("valid").shape == (len(split.valid_rows), len(split.features))


@pytest.mark.slow
def test_fold_aucs_match_per_fold_binning(home_credit_data):
    """Bins of all 2,000 training clients differ from bins of a fold's 1,600 (far more than at full size, where
    both come from a 200k-row sample), so the models differ by noise: each fold's AUC within 0.03 of per-fold
    binning (its DeLong standard error is about 0.03 at 400 clients) and no shift on average."""
    cfg = parse_config(TrainConfig, ["--data", str(home_credit_data), *STEADY])
    matrix = load_matrix(cfg.data, cfg.tables)
    folds = shared_folds(matrix, None, cfg.n_splits, cfg.seed)
    transform = fold_transform(cfg, cfg.seed)
    engine = LightGBMEngine.from_config(cfg, lgb_params(cfg), [])
    differences = []
    for k in range(cfg.n_splits):
        binned_once = engine.fit(engine.inputs(split_fold(matrix, folds, k, transform), Timings())).valid_pred
        per_fold, _ = per_fold_binning(matrix, folds, k, transform, cfg)
        y = matrix.y[folds == k]
        differences.append(roc_auc(y, binned_once) - roc_auc(y, per_fold))
    assert max(np.abs(differences)) < 0.03 and abs(np.mean(differences)) < 0.005, differences
