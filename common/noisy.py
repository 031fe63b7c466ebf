"""Noisy-label audit: rank training rows whose given label disagrees with out-of-fold evidence.

Confident learning (Northcutt et al., 2021) for two classes from OOF probabilities ``p`` of class 1:
- per-class thresholds ``t_c`` = mean predicted probability of class ``c`` over the rows labelled ``c``;
- a row is confidently of class ``j`` when ``P(j) >= t_j`` (the likelier class if both hold);
- the off-diagonal counts of that confident joint (given ``g``, confident ``j != g``), calibrated to
  the class sizes, say how many rows labelled ``g`` are suspects: those with the largest margin
  ``P(j) - P(g)`` (cleanlab's ``prune_by_noise_rate``);
- the suspects of both classes are ranked together by ``score = P(j) - t_j``, how far the evidence for
  the suggested class exceeds that class's threshold. Raw margins are not comparable across classes
  when the model is surer of one class than of the other: ranked by margin, true positives the model
  misses outrank positives labelled negative.
The suspects CSV (``id,given_label,suggested_label,margin,score,rank``) then feeds training through
``apply_audit``: drop, relabel or down-weight the suspects.

Any run's OOF predictions (images or tables), no images needed:

    python -m common.noisy --oof runs/home_credit/lgb [--out DIR] [--flipped known_flips.csv]

writes ``<run>/audit/suspects.csv`` and ``audit.json`` (thresholds, confident joint and, given a set of
known flipped ids, the precision of the top-k suspects). Scores outside [0, 1] (a VAE's, a blend's) are
Platt-scaled first (``as_probability``).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from common.errors import BadInput, MissingInput
from common.cli import run_cli
from common.config import option, parse_config
from common.io import atomic_write_csv, atomic_write_json, read_csv
from common.run import OOF_COLUMNS, RunFolder, read_predictions

SUSPECT_COLUMNS = ["id", "given_label", "suggested_label", "margin", "score", "rank"]
AUDIT_ACTIONS = ("drop", "relabel", "downweight")
CALIBRATIONS = ("auto", "platt", "none")
log = logging.getLogger(__name__)


# -- confident learning -----------------------------------------------------------------------------
def class_thresholds(labels: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """``t_c`` = mean predicted probability of class ``c`` over rows labelled ``c``: shape (2,)."""
    labels = np.asarray(labels).astype(int)
    proba = _two_class(prob)
    for c in (0, 1):
        if not (labels == c).any():
            raise BadInput(f"no row is labelled {c}: per-class thresholds need both classes")
    return np.array([proba[labels == c, c].mean() for c in (0, 1)])


def confident_labels(labels: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """Each row's confident class (-1 when no class reaches its threshold)."""
    proba = _two_class(prob)
    above = proba >= class_thresholds(labels, prob)[None, :]
    masked = np.where(above, proba, -np.inf)
    return np.where(above.any(axis=1), masked.argmax(axis=1), -1)


def confident_joint(labels: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """2x2 counts ``C[given, confident]`` over the rows with a confident class."""
    labels = np.asarray(labels).astype(int)
    conf = confident_labels(labels, prob)
    joint = np.zeros((2, 2), dtype=np.int64)
    counted = conf >= 0
    np.add.at(joint, (labels[counted], conf[counted]), 1)
    return joint


def find_suspects(ids: np.ndarray, labels: np.ndarray, prob: np.ndarray) -> pd.DataFrame:
    """Suspects, most suspicious first (``SUSPECT_COLUMNS``), by cleanlab's ``prune_by_noise_rate``.

    For given class ``g`` and other class ``j``, the confident joint's count ``C[g, j]``, calibrated to
    the ``n_g`` rows labelled ``g`` (``C[g, j] * n_g / sum_k C[g, k]``), says how many rows labelled
    ``g`` to flag; the flagged ones are those with the largest margin ``P(j) - P(g)``. Both classes'
    suspects are then ranked by ``score = P(j) - t_j`` (within a class, the same order as the margin).
    """
    labels = np.asarray(labels).astype(int)
    proba = _two_class(prob)
    thresholds = class_thresholds(labels, prob)
    joint = confident_joint(labels, prob)
    parts = []
    for given in (0, 1):
        other = 1 - given
        rows = np.flatnonzero(labels == given)
        counted = joint[given].sum()
        n_flag = int(round(joint[given, other] * len(rows) / counted)) if counted else 0
        margin = proba[rows, other] - proba[rows, given]
        top = np.argsort(-margin, kind="stable")[:n_flag]
        parts.append(pd.DataFrame({"id": np.asarray(ids)[rows[top]], "given_label": given,
                                   "suggested_label": other, "margin": margin[top],
                                   "score": proba[rows[top], other] - thresholds[other]}))
    suspects = pd.concat(parts, ignore_index=True)
    suspects = suspects.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    suspects["rank"] = np.arange(1, len(suspects) + 1)
    return suspects[SUSPECT_COLUMNS]


def _two_class(prob: np.ndarray) -> np.ndarray:
    """(n, 2) matrix ``[1 - p, p]`` from class-1 probabilities ``p`` in [0, 1]."""
    p = np.asarray(prob, dtype=np.float64)
    if p.ndim != 1:
        raise BadInput(f"probabilities must be 1-D, got shape {p.shape}")
    if not np.isfinite(p).all() or p.min() < 0 or p.max() > 1:
        raise BadInput("probabilities must be finite and in [0, 1]; Platt-scale other scores first (as_probability)")
    return np.column_stack([1.0 - p, p])


def as_probability(pred: np.ndarray, labels: np.ndarray, calibrate: str = "auto") -> np.ndarray:
    """Predictions as they are (``calibrate='none'``, or ``'auto'`` when in [0, 1]), else Platt-scaled
    (``'platt'``, or ``'auto'`` for scores outside [0, 1] such as a VAE's).

    Percentile ranks are no probabilities: with 20% defects, half of the good images would get a rank
    above 0.4. The logit of each score's percentile rank is fitted to the given ``labels`` by a
    two-parameter logistic regression: monotone (the ranking is kept), scale-free (heavy-tailed scores
    are fine) and calibrated to the class balance.
    """
    from sklearn.linear_model import LogisticRegression

    if calibrate not in CALIBRATIONS:
        raise BadInput(f"calibrate must be one of {CALIBRATIONS}, got {calibrate!r}")
    pred = np.asarray(pred, dtype=np.float64)
    if calibrate == "none" or (calibrate == "auto" and pred.min() >= 0 and pred.max() <= 1):
        return pred
    log.info("Platt-scaling the logit of the predictions' percentile ranks")
    rank = pd.Series(pred).rank(pct=True).to_numpy().clip(1e-6, 1 - 1e-6)
    logit = np.log(rank / (1 - rank))[:, None]
    platt = LogisticRegression(C=1e6).fit(logit, np.asarray(labels).astype(int))
    return platt.predict_proba(logit)[:, 1]


def top_k_precision(suspect_ids: pd.Series, flipped_ids: set, k: int) -> float | None:
    """Share of the first ``k`` suspects that are planted flips (None when there are none to find)."""
    if k <= 0:
        return None
    top = list(suspect_ids[:k])
    return sum(i in flipped_ids for i in top) / k


# -- training with the audit ------------------------------------------------------------------------
def read_suspects(path: Path) -> pd.DataFrame:
    """Read a suspects CSV; a clear error names the file and the missing columns."""
    path = Path(path)
    if not path.is_file():
        raise MissingInput(f"suspects file not found: {path}")
    suspects = read_csv(path, "pass the suspects.csv an audit wrote", dtype={"id": str})
    missing = [c for c in ("id", "suggested_label") if c not in suspects.columns]
    if missing:
        raise BadInput(f"suspects file {path} lacks column(s) {missing}; has {list(suspects.columns)}")
    return suspects


def apply_audit(ids: np.ndarray, labels: np.ndarray, suspects_csv: Path, action: str,
                weight: float = 0.3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply a suspects CSV to training labels: returns ``(labels, sample_weights, keep_mask)``.

    ``drop`` clears the suspects from ``keep_mask``; ``relabel`` sets their label to the suggested
    one; ``downweight`` gives them sample weight ``weight``. Other rows keep label, weight 1 and keep.
    Suspect ids absent from ``ids`` (e.g. images skipped as unreadable) are ignored with a warning.
    """
    if action not in AUDIT_ACTIONS:
        raise BadInput(f"unknown audit action {action!r}; choose one of {AUDIT_ACTIONS}")
    if action == "downweight" and not 0 <= weight <= 1:
        raise BadInput(f"suspect weight must be in [0, 1], got {weight}")
    labels = np.asarray(labels)
    if len(ids) != len(labels):
        raise ValueError(f"ids ({len(ids)}) and labels ({len(labels)}) differ in length")
    suspects = read_suspects(suspects_csv)
    position = pd.Series(np.arange(len(ids)), index=pd.Index(np.asarray(ids).astype(str)))
    known = suspects["id"].isin(position.index)
    if (~known).any():
        log.warning("%d suspect id(s) of %s are not among the training ids, e.g. %s",
                    int((~known).sum()), suspects_csv, suspects.loc[~known, "id"].head(3).tolist())
    rows = position.loc[suspects.loc[known, "id"]].to_numpy()
    new_labels = labels.copy()
    sample_weights = np.ones(len(labels), dtype=np.float32)
    keep_mask = np.ones(len(labels), dtype=bool)
    if action == "drop":
        keep_mask[rows] = False
    elif action == "relabel":
        new_labels[rows] = suspects.loc[known, "suggested_label"].to_numpy().astype(labels.dtype)
    else:
        sample_weights[rows] = weight
    return new_labels, sample_weights, keep_mask


# -- the audit of a run ------------------------------------------------------------------------------
def read_oof(path: Path) -> pd.DataFrame:
    """The OOF predictions of a run folder or of an ``oof.csv`` (a blend's, say), read and checked by
    ``common.run`` (ids as text)."""
    path = Path(path)
    if path.is_dir():
        return RunFolder(path).read_oof()
    if not path.is_file():
        raise MissingInput(f"no OOF predictions at {path}")
    return read_predictions(path, OOF_COLUMNS)


def audit(oof: pd.DataFrame, flipped: set[str] | None = None,
          calibrate: str = "auto") -> tuple[pd.DataFrame, dict]:
    """Suspects of an OOF table and the audit's numbers; with the ids known to be ``flipped`` (planted
    label noise), the precision of the top-k suspects (k = flips among the OOF rows) and their recall."""
    labels = oof["target"].to_numpy().astype(int)
    prob = as_probability(oof["pred"].to_numpy(), labels, calibrate)
    suspects = find_suspects(oof["id"].to_numpy(), labels, prob)
    report = {"n_rows": len(oof), "n_suspects": len(suspects),
              "thresholds": class_thresholds(labels, prob).tolist(),
              "confident_joint": confident_joint(labels, prob).tolist()}
    if flipped is not None:
        known = set(map(str, flipped)) & set(oof["id"])
        k = len(known)
        report.update({"n_planted_flips": k,
                       "precision_at_k": top_k_precision(suspects["id"], known, k),
                       "recall_all_suspects": (len(known & set(suspects["id"])) / k) if k else None})
    return suspects, report


def audit_dir(source: Path, out: str | None) -> Path:
    """Where an audit of ``source`` (a run folder or an OOF file) goes: ``out`` or ``<run>/audit``."""
    return Path(out) if out else (source if source.is_dir() else source.parent) / "audit"


def write_audit(out: Path, suspects: pd.DataFrame, report: dict) -> None:
    atomic_write_csv(out / "suspects.csv", suspects)
    atomic_write_json(out / "audit.json", report)


# -- command line -----------------------------------------------------------------------------------
@dataclass
class AuditConfig:
    """Rank training rows whose label disagrees with out-of-fold predictions (confident learning)."""
    oof: str = option(required=True, help="a run folder or its oof.csv (any model or a blend)")
    out: str | None = option(None, help="output folder (default: <run>/audit)")
    calibrate: str = option("auto", choices=CALIBRATIONS, help="Platt-scale the predictions first: auto "
                            "does it for scores outside [0, 1]; use platt for rank blends and other "
                            "uncalibrated scores in [0, 1]")


@dataclass
class GenericAuditConfig(AuditConfig):
    """Rank training rows of any run whose label disagrees with its out-of-fold predictions."""
    flipped: str | None = option(None, help="CSV with an id column: rows known to be mislabelled, to score "
                                            "the audit's precision")


def main(argv: list[str] | None = None) -> dict:
    cfg = parse_config(GenericAuditConfig, argv)
    source = Path(cfg.oof)
    flipped = None
    if cfg.flipped:
        flipped = set(read_csv(cfg.flipped, "pass a CSV with an id column", dtype={"id": str}, usecols=["id"])["id"])
    suspects, report = audit(read_oof(source), flipped, cfg.calibrate)
    out = audit_dir(source, cfg.out)
    write_audit(out, suspects, report)
    log.info("audit of %s: %s -> %s", source, report, out)
    return report


if __name__ == "__main__":
    run_cli(main)
