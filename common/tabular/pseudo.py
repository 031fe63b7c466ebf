"""Pseudo-labels for gradient-boosted trees: the test rows a source run's fold k ranked at either end join
fold k's training rows as hard labels (``common.pseudo``: fold k's own test predictions, never the averaged
ones), weighted ``weight``; validation rows stay training clients only, so the OOF AUC is the source's kind.

Rows are picked by share of the ranking, not by probability: with a default rate of a few percent no test row
reaches a threshold like 0.95, while the ranking is what an AUC model gets right. The defaults, the lowest 30% as
repaid and the top 5% as defaults, are the setting whose OOF AUC held its source's best over two seeds of
``configs/lgb-xt.yaml`` (docs/results.md, "Pseudo-labels").

    labeller = PseudoLabeller("runs/home_credit/lgb-xt")
    rows, table = labeller.rows(matrix, fold)     # split.pseudo = rows; table -> fold<k>/pseudo.csv
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from common.errors import BadInput
from common.pseudo import read_source_fold
from common.tabular.matrix import PseudoRows, TabularMatrix

DEFAULT_NEGATIVES = 0.3   # --pseudo-negatives
DEFAULT_POSITIVES = 0.05  # --pseudo-positives


def select_shares(pred: np.ndarray, negatives: float, positives: float) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the ``negatives`` share of ``pred`` ranked lowest (label 0) and the ``positives`` share ranked
    highest (label 1), in increasing position order, and their labels; ties are broken by position."""
    if negatives < 0 or positives < 0 or negatives + positives > 1:
        raise BadInput(f"pseudo-label shares must be >= 0 and add up to at most 1, got {negatives} and {positives}")
    order = np.argsort(np.asarray(pred, np.float64), kind="stable")
    n_neg, n_pos = int(round(negatives * len(order))), int(round(positives * len(order)))
    labels = np.full(len(order), -1, np.int8)
    labels[order[:n_neg]] = 0
    if n_pos:
        labels[order[-n_pos:]] = 1
    rows = np.flatnonzero(labels >= 0)
    return rows, labels[rows].astype(np.int32)


@dataclass(frozen=True)
class PseudoLabeller:
    """Fold k's pseudo-labelled test rows from the finished run ``source``."""
    source: str
    negatives: float = DEFAULT_NEGATIVES
    positives: float = DEFAULT_POSITIVES
    weight: float = 1.0

    def rows(self, matrix: TabularMatrix, fold: int) -> tuple[PseudoRows, pd.DataFrame]:
        """The rows for ``fold`` and what they are (id, label, the source fold's prediction) for its
        ``pseudo.csv``."""
        if matrix.test is None:
            raise BadInput("option --pseudo-from: the data has no test rows to pseudo-label")
        ids = matrix.test[matrix.id_column].to_numpy()
        path, pred, _ = read_source_fold(self.source, fold, ids)
        known = np.flatnonzero(pred.notna().to_numpy())
        if len(known) < len(ids):
            raise BadInput(f"option --pseudo-from: {path} predicts {len(known)} of the {len(ids)} test rows")
        rows, labels = select_shares(pred.to_numpy(), self.negatives, self.positives)
        table = pd.DataFrame({"id": ids[rows], "label": labels, "pred": pred.to_numpy()[rows]})
        return PseudoRows(rows, labels, self.weight), table

    def summary(self) -> dict:
        return {"source": str(self.source), "negatives": self.negatives, "positives": self.positives,
                "weight": self.weight}
