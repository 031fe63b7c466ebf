"""LightGBM's binned Dataset of a matrix: every training row of its features, binned once per matrix, feature
set and Dataset parameters, and each fold's training and validation Datasets taken from it as subsets.

Binning finds each feature's histogram bin edges from its values and stores every value as its bin; it reads
no label and no weight. Edges found on every training row therefore tell a fold's model nothing about the
labels of its validation rows (they shift slightly from edges found on the fold's training rows alone, so
predictions may differ slightly from per-fold binning; where both see the same distinct values they are
identical: tests/common/tabular/test_binned.py). The labels ride along (a subset takes its rows' labels);
the weights do not: they are set on each fold's training subset, so the validation rows stay unweighted and
the binned content does not depend on them.

Columns a fold-local transform adds (target encodings: a few, different in every fold) are binned per fold
on the fold's training rows, and the validation rows' with the same edges (``reference=``), then joined to
the fold's subsets (``add_features_from``): the model sees the matrix features, then the added columns.

With ``matrix.cache_key`` set, the Dataset is written with ``save_binary`` to
``<cache root>/lightgbm/datasets/<key>.bin`` (atomically; a full disk is the kit's one-line error) and later
runs, folds and trials read it instead of binning; the key hashes ``cache_key``, the feature list, the Dataset
parameters that change the bins (not ``num_threads``, ``verbose``), the LightGBM version and the row count.
The :data:`KEEP_FILES` most recently used files are kept.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np

from common.errors import BadInput
from common.io import atomic_path, clean_leftovers
from common.paths import cache_root
from common.tabular.matrix import FoldSplit, TabularMatrix, float32_values

logger = logging.getLogger(__name__)

NOT_CONTENT = ("num_threads", "verbose")  # Dataset parameters that leave the bins as they are
KEEP_FILES = 8
# What add_features_from warns on every join: the kit frees raw data on purpose (it predicts from its own
# arrays) and sets no categorical feature (LightGBM reads category codes as numbers here).
JOIN_WARNINGS = ("Cannot add features from", "Resetting categorical features")


def lightgbm_names(names: list[str]) -> list[str]:
    """Feature names as a LightGBM Dataset keeps them (a space becomes an underscore)."""
    return [str(name).replace(" ", "_") for name in names]


def datasets_dir() -> Path:
    return cache_root() / "lightgbm" / "datasets"


def cache_path(matrix: TabularMatrix, params: dict, folder: Path | None = None) -> Path | None:
    """The cache file of ``matrix``'s Dataset binned with ``params`` (None: the matrix has no ``cache_key``)."""
    if matrix.cache_key is None:
        return None
    spec = {"matrix": matrix.cache_key, "features": list(matrix.features), "rows": len(matrix.train),
            "params": {k: v for k, v in params.items() if k not in NOT_CONTENT}, "lightgbm": lgb.__version__}
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:20]
    return (folder or datasets_dir()) / f"{digest}.bin"


@dataclass
class BinnedMatrix:
    """Every training row of ``matrix``'s features (with their labels) as one constructed LightGBM Dataset."""
    matrix: TabularMatrix
    features: list[str]
    params: dict
    dataset: lgb.Dataset

    @classmethod
    def of(cls, matrix: TabularMatrix, params: dict, folder: Path | None = None) -> "BinnedMatrix":
        """``matrix`` binned with the Dataset ``params``: read from its cache file when there is one, else
        binned (and written to the cache when the matrix has a ``cache_key``)."""
        path = cache_path(matrix, params, folder)
        dataset = _read(path, matrix, params) if path is not None and path.is_file() else None
        if dataset is None:
            dataset = bin_matrix(matrix, params)
            if path is not None:
                dataset = _write(dataset, path, params)
                logger.info("binned %d rows x %d features for LightGBM: %s", len(matrix.train),
                            len(matrix.features), path)
        return cls(matrix, list(matrix.features), params, dataset)

    def serves(self, matrix: TabularMatrix) -> bool:
        """Whether this is ``matrix``'s Dataset (its features unchanged since)."""
        return matrix is self.matrix and list(matrix.features) == self.features

    def rows(self, rows: np.ndarray) -> lgb.Dataset:
        """The constructed subset of the training rows at positions ``rows`` (increasing), with their labels."""
        rows = np.asarray(rows)
        if len(rows) > 1 and not (np.diff(rows) > 0).all():
            raise BadInput("rows of a binned subset must be increasing positions")
        return self.dataset.subset(rows.astype(np.int32)).construct()

    def fold(self, split: FoldSplit) -> tuple[lgb.Dataset, lgb.Dataset]:
        """The fold's training and validation Datasets: subsets of the matrix's, joined with the columns the
        fold-local transform added (binned here on the fold's training rows); the training rows carry their
        weights, the validation rows none."""
        if not self.serves(split.matrix) or not split.keeps_all:
            raise ValueError("a fold that chooses its own features (or of another matrix) cannot use the binned "
                             "matrix: bin it on its own rows")
        train, valid = self.rows(split.train_rows), self.rows(split.valid_rows)
        if split.added_names:
            added = lgb.Dataset(split.added.train.to_numpy(np.float32), split.y_train, feature_name=split.added_names,
                                params=self.params).construct()
            added_valid = lgb.Dataset(split.added.others[0].to_numpy(np.float32), split.y_valid, reference=added,
                                      params=self.params).construct()
            _join(train, added)
            _join(valid, added_valid)
        if split.w_train is not None:
            train.set_weight(split.w_train)
        return train, valid


def bin_matrix(matrix: TabularMatrix, params: dict) -> lgb.Dataset:
    """Every training row of the matrix's features binned (float32 in, the raw values freed once binned)."""
    return lgb.Dataset(float32_values(matrix.train, matrix.features), matrix.y, feature_name=list(matrix.features),
                       params=params).construct()


def _join(dataset: lgb.Dataset, added: lgb.Dataset) -> None:
    """``dataset.add_features_from(added)``, without the warnings it gives every time (:data:`JOIN_WARNINGS`;
    a run's log drops them too: ``common.tabular.lgbm.LightGBMLog``)."""
    with warnings.catch_warnings():
        for text in JOIN_WARNINGS:
            warnings.filterwarnings("ignore", message=text)
        dataset.add_features_from(added)


def _read(path: Path, matrix: TabularMatrix, params: dict) -> lgb.Dataset | None:
    """The cached Dataset, or None (with a warning) when it cannot be read or is not this matrix's."""
    try:
        dataset = lgb.Dataset(str(path), params=params).construct()
    except lgb.basic.LightGBMError as err:
        logger.warning("cannot read the binned Dataset %s (%s): binning again", path, str(err).splitlines()[0])
        return None
    if (dataset.num_data() != len(matrix.train) or dataset.get_feature_name() != lightgbm_names(matrix.features)
            or not np.array_equal(dataset.get_label(), matrix.y)):
        logger.warning("the binned Dataset %s holds other rows, features or labels: binning again", path)
        return None
    os.utime(path)  # recently used: the pruning keeps it
    logger.info("binned Dataset of %d rows x %d features read from %s", dataset.num_data(),
                dataset.num_feature(), path)
    return dataset


def _write(dataset: lgb.Dataset, path: Path, params: dict) -> lgb.Dataset:
    """Write ``dataset`` to ``path`` atomically and return it as read back from there: a file cut short (a full
    disk LightGBM's writer does not report) fails before it takes the cache's name."""
    clean_leftovers(path.parent, depth=0)  # temporary files of killed writers
    with atomic_path(path) as tmp:
        tmp.unlink()  # LightGBM does not write over an existing file (it only warns)
        dataset.save_binary(tmp)
        saved = lgb.Dataset(str(tmp), params=params).construct()
        if saved.num_data() != dataset.num_data() or saved.num_feature() != dataset.num_feature():
            raise OSError(f"the binned Dataset written to {path} reads back as another one")
    _prune(path.parent, KEEP_FILES)
    return saved


def _prune(folder: Path, keep: int) -> None:
    """Remove all but the ``keep`` most recently used Dataset files of ``folder``."""
    def last_used(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except FileNotFoundError:  # removed meanwhile by another run
            return 0.0
    for old in sorted(folder.glob("*.bin"), key=last_used, reverse=True)[keep:]:
        old.unlink(missing_ok=True)
