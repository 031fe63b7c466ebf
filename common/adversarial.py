"""Adversarial validation: how well can a classifier tell training rows from test rows?

An AUC near 0.5 means the test rows look like the training rows; well above it means a covariate shift,
and then the adversarial model says where it is:

- ``adversarial_cv``: stratified K folds over the concatenated rows (label 1 = test), any classifier
  (``fit_predict(x_train, y_train, x_valid) -> (p_valid, importance or None)``); the out-of-fold
  probability of being test is every row's *test-likeness*; the AUC comes with its DeLong 95% CI.
  Copies (``groups``: duplicate images, identical rows) stay in one fold: a copy in another fold with the
  other label would be memorised and push the AUC *below* 0.5, which ``leak_warning`` then reports.
- ``exact_row_groups``: one group per set of identical rows, train and test together.
- ``lgbm_fit_predict`` (tabular: LightGBM, gain importance) and ``linear_fit_predict`` (standardised
  logistic regression, e.g. on image embeddings or pixels).
- ``univariate_auc``: per feature, the AUC of the feature alone (missing values lowest) as test score;
  ``shifted_features`` merges it with the adversarial model's gain into one ranked table.
- ``likeness_weights``: training-row weights ``w = p / (1 - p)`` (density ratio test/train), clipped
  around their median and normalised to mean 1: train where the test rows are.
- ``write_outputs`` / ``read_shifted_features`` / ``read_weights``: the run-folder files
  (``adversarial.json``, ``shifted_features.csv``, ``test_likeness.csv``, ``test_rows_likeness.csv``,
  ``weights.csv``) and reading them back for training.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from common.errors import BadInput, MissingInput
from common.io import atomic_write_csv, atomic_write_json, read_csv
from common.metrics import auc_summary, roc_auc

ADVERSARIAL_JSON = "adversarial.json"
SHIFTED_FEATURES = "shifted_features.csv"
TEST_LIKENESS = "test_likeness.csv"  # training rows: id,p_test
TEST_ROWS_LIKENESS = "test_rows_likeness.csv"  # test rows: id,p_test
META_FEATURES = "meta_features.csv"  # every row: id,adversarial_p_test (lgb_stack meta-feature)
WEIGHTS = "weights.csv"  # training rows: id,weight

FitPredict = Callable[[object, np.ndarray, object], tuple[np.ndarray, "pd.Series | None"]]


@dataclass
class AdversarialResult:
    """Out-of-fold test-likeness of every row and what the adversarial model saw."""
    p_train: np.ndarray  # OOF probability of being test, training rows
    p_test: np.ndarray  # OOF probability of being test, test rows
    auc: dict  # auc_summary of is_test vs the OOF probability (DeLong 95% CI)
    fold_aucs: list[float]
    importance: pd.Series | None = None  # mean gain share over folds, by feature (None: model without one)
    info: dict = field(default_factory=dict)

    @property
    def covers_half(self) -> bool:
        """Whether the 95% CI of the AUC covers 0.5 (no detectable shift)."""
        return self.auc["ci_low"] <= 0.5 <= self.auc["ci_high"]

    @property
    def leak_warning(self) -> str | None:
        """An AUC below 0.5 by more than its CI is no shift: rows of one fold predict their copies in another."""
        if self.auc["ci_high"] >= 0.5:
            return None
        return (f"adversarial AUC {self.auc['auc']:.4f} is below 0.5 beyond its 95% CI "
                f"({self.auc['ci_low']:.4f}-{self.auc['ci_high']:.4f}): that is leakage between the folds (copies "
                "of rows in other folds with the other label), not a shift; its test-likeness and weights "
                "mean nothing")


def _take(x, rows: np.ndarray):
    return x.iloc[rows] if isinstance(x, pd.DataFrame) else x[rows]


def _concat(train, test):
    if isinstance(train, pd.DataFrame):
        return pd.concat([train, test], ignore_index=True)
    return np.concatenate([np.asarray(train), np.asarray(test)])


def adversarial_cv(train, test, fit_predict: FitPredict, n_splits: int = 5, seed: int = 0,
                   groups: np.ndarray | None = None) -> AdversarialResult:
    """Stratified ``n_splits``-fold CV of ``fit_predict`` telling ``test`` rows (label 1) from ``train`` rows
    (label 0); ``train``/``test``: DataFrames with the same columns or 2-D arrays. ``groups`` (one label per
    row, training rows first): rows of one group, e.g. copies of one image in train and test, share a fold."""
    n_train, n_test = len(train), len(test)
    if n_train < n_splits or n_test < n_splits:
        raise BadInput(f"adversarial validation needs at least {n_splits} training and test rows "
                         f"(got {n_train} and {n_test})")
    x = _concat(train, test)
    y = np.r_[np.zeros(n_train, np.int32), np.ones(n_test, np.int32)]
    info = {"n_splits": n_splits, "seed": seed}
    if groups is not None:
        groups = np.asarray(groups)
        if len(groups) != len(y):
            raise BadInput(f"adversarial groups: {len(groups)} labels for {len(y)} rows")
        sizes = pd.Series(groups).value_counts()
        info["duplicate_groups"] = int((sizes > 1).sum())
        info["rows_in_duplicate_groups"] = int(sizes[sizes > 1].sum())
        splitter = StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed)
    else:
        splitter = StratifiedKFold(n_splits, shuffle=True, random_state=seed)
    oof = np.full(len(y), np.nan)
    importances, fold_aucs = [], []
    for train_rows, valid_rows in splitter.split(y, y, groups):
        pred, importance = fit_predict(_take(x, train_rows), y[train_rows], _take(x, valid_rows))
        oof[valid_rows] = pred
        fold_aucs.append(roc_auc(y[valid_rows], pred))
        if importance is not None:
            total = float(importance.sum())
            importances.append(importance / total if total > 0 else importance)
    mean_importance = (pd.concat(importances, axis=1).fillna(0.0).mean(axis=1).sort_values(ascending=False)
                       if importances else None)
    return AdversarialResult(oof[:n_train], oof[n_train:], auc_summary(y, oof), fold_aucs, mean_importance, info)


def exact_row_groups(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """A group label per row (training rows first): identical rows, in train, test or both, share one."""
    rows = pd.concat([train, test], ignore_index=True)
    return pd.factorize(pd.util.hash_pandas_object(rows, index=False))[0]


def lgbm_fit_predict(params: dict | None = None, num_boost_round: int = 300, num_threads: int = 1,
                     seed: int = 0) -> FitPredict:
    """LightGBM adversarial classifier on DataFrames; importance = total gain per feature."""
    import lightgbm as lgb

    full = {"objective": "binary", "learning_rate": 0.05, "num_leaves": 15, "min_data_in_leaf": 20,
            "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
            "num_threads": num_threads, "seed": seed, "verbose": -1, "force_col_wise": True, "deterministic": True,
            **(params or {})}

    def fit_predict(x_train: pd.DataFrame, y_train: np.ndarray, x_valid: pd.DataFrame):
        booster = lgb.train(full, lgb.Dataset(x_train, y_train, params={"verbose": -1, "num_threads": num_threads}),
                            num_boost_round=num_boost_round)
        importance = pd.Series(booster.feature_importance("gain"), index=booster.feature_name(), dtype=float)
        return booster.predict(x_valid), importance

    return fit_predict


def linear_fit_predict(c: float = 0.1, max_iter: int = 2000) -> FitPredict:
    """Standardised logistic regression on arrays (missing values -> column mean); no importance."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def fit_predict(x_train, y_train, x_valid):
        model = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(C=c, max_iter=max_iter))
        model.fit(np.asarray(x_train, np.float64), y_train)
        return model.predict_proba(np.asarray(x_valid, np.float64))[:, 1], None

    return fit_predict


def univariate_auc(train: pd.DataFrame, test: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """Per feature: the AUC of its value alone as a test score (missing values ranked lowest, so a change
    of the missing rate counts too) and ``strength = |AUC - 0.5| * 2`` (0: same distribution, 1: disjoint)."""
    y = np.r_[np.zeros(len(train), np.int32), np.ones(len(test), np.int32)]
    rows = []
    for name in features:
        v = np.r_[pd.to_numeric(train[name], errors="coerce").to_numpy(np.float64),
                  pd.to_numeric(test[name], errors="coerce").to_numpy(np.float64)]
        finite = np.isfinite(v)
        v = np.where(finite, v, (v[finite].min() - 1.0) if finite.any() else 0.0)
        auc = roc_auc(y, v)
        rows.append((name, auc, abs(auc - 0.5) * 2))
    return pd.DataFrame(rows, columns=["feature", "univariate_auc", "strength"])


def shifted_features(result: AdversarialResult, univariate: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per feature, most shifted first: ``rank``, ``feature``, ``gain`` (share of the adversarial
    model's gain, mean over folds), ``univariate_auc``, ``strength``, ``univariate_rank``. Ordered by gain when
    the model has one, else by the univariate strength."""
    table = pd.DataFrame({"feature": [], "gain": []})
    if result.importance is not None:
        table = result.importance.rename("gain").rename_axis("feature").reset_index()
    if univariate is not None:
        table = table.merge(univariate, on="feature", how="outer") if len(table) else univariate.assign(gain=np.nan)
        table["univariate_rank"] = table["strength"].rank(ascending=False, method="first").astype(int)
    keys = ["gain", "strength"] if result.importance is not None else ["strength"]
    table = table.sort_values(keys, ascending=False, na_position="last", kind="mergesort").reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    columns = ["rank", "feature", "gain", "univariate_auc", "strength", "univariate_rank"]
    return table[[c for c in columns if c in table.columns]]


def likeness_weights(p_test: np.ndarray, clip: float = 10.0, eps: float = 1e-6) -> np.ndarray:
    """Density-ratio weights of training rows, ``w = p / (1 - p)``, divided by their median, clipped to
    ``[1/clip, clip]`` (so a few very test-like rows cannot take over) and normalised to mean 1."""
    if clip < 1:
        raise BadInput(f"weight clip must be >= 1, got {clip}")
    p = np.clip(np.asarray(p_test, np.float64), eps, 1 - eps)
    w = p / (1 - p)
    w = np.clip(w / np.median(w), 1.0 / clip, clip)
    return w / w.mean()


def recall_at_k(ranked: Sequence, planted: Sequence, k: int | None = None) -> float:
    """Share of ``planted`` among the first ``k`` of ``ranked`` (``k`` defaults to how many are planted)."""
    planted = set(planted)
    if not planted:
        return float("nan")
    k = len(planted) if k is None else k
    return len(planted & set(list(ranked)[:k])) / len(planted)


def summary(result: AdversarialResult, n_train: int, n_test: int, features: pd.DataFrame | None = None,
            top: int = 20, **extra) -> dict:
    """The ``adversarial.json`` content."""
    out = {"auc": result.auc, "fold_aucs": result.fold_aucs, "covers_half": result.covers_half,
           "leak_warning": result.leak_warning, "n_train": n_train, "n_test": n_test, **result.info,
           "p_test_train_rows": _quantiles(result.p_train), "p_test_test_rows": _quantiles(result.p_test)}
    if features is not None:
        out["top_features"] = features.head(top).replace({np.nan: None}).to_dict(orient="records")
    out.update(extra)
    return out


def _quantiles(p: np.ndarray) -> dict:
    q = np.quantile(p, [0.0, 0.5, 0.9, 0.99, 1.0]) if len(p) else [np.nan] * 5
    return {"mean": float(np.mean(p)) if len(p) else None,
            **{k: float(v) for k, v in zip(("min", "median", "q90", "q99", "max"), q)}}


def write_outputs(folder: str | Path, result: AdversarialResult, train_ids, test_ids, *,
                  features: pd.DataFrame | None = None, weight_clip: float = 10.0, top: int = 20,
                  **extra) -> dict:
    """Write ``adversarial.json``, ``test_likeness.csv`` (training rows), ``test_rows_likeness.csv``,
    ``weights.csv`` (training rows, :func:`likeness_weights`), ``meta_features.csv`` (every row's test-likeness
    as ``adversarial_p_test``, for ``submissions.blend --method lgb_stack --meta-features``) and
    ``shifted_features.csv`` (when given)."""
    folder = Path(folder)
    atomic_write_csv(folder / TEST_LIKENESS, pd.DataFrame({"id": train_ids, "p_test": result.p_train}))
    atomic_write_csv(folder / TEST_ROWS_LIKENESS, pd.DataFrame({"id": test_ids, "p_test": result.p_test}))
    atomic_write_csv(folder / META_FEATURES, pd.DataFrame({
        "id": np.concatenate([np.asarray(train_ids), np.asarray(test_ids)]),
        "adversarial_p_test": np.concatenate([result.p_train, result.p_test])}))
    weights = likeness_weights(result.p_train, weight_clip)
    atomic_write_csv(folder / WEIGHTS, pd.DataFrame({"id": train_ids, "weight": weights}))
    if features is not None:
        atomic_write_csv(folder / SHIFTED_FEATURES, features)
    report = summary(result, len(train_ids), len(test_ids), features, top,
                     weights={"clip": weight_clip, "min": float(weights.min()), "max": float(weights.max()),
                              "effective_share": float(weights.sum() ** 2 / (weights ** 2).sum() / len(weights))},
                     **extra)
    atomic_write_json(folder / ADVERSARIAL_JSON, report)
    return report


def _run_file(source: str | Path, name: str, option: str) -> Path:
    path = Path(source)
    if path.is_dir():
        path = path / name
        if not path.is_file():
            raise MissingInput(f"option {option}: {path} not found (run the adversarial validation first)")
    elif not path.is_file():
        raise MissingInput(f"option {option}: no such file or run folder: {source}")
    return path


def read_shifted_features(source: str | Path, top: int = 0, option: str = "--drop-features") -> list[str]:
    """Feature names from an adversarial run folder or a CSV with a ``feature`` column (its first ``top``
    rows; 0: all), or a text file with one name per line."""
    path = _run_file(source, SHIFTED_FEATURES, option)
    if path.suffix == ".csv":
        table = read_csv(path, f"fix the file given to {option}")
        if "feature" not in table.columns:
            raise BadInput(f"option {option}: {path} has no 'feature' column (columns: {list(table.columns)[:8]})")
        names = table["feature"].astype(str).tolist()
    else:
        names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not names:
        raise BadInput(f"option {option}: {path} lists no features")
    return names[:top] if top > 0 else names


def read_weights(source: str | Path, ids, option: str = "--adversarial-weights") -> np.ndarray:
    """Weights of ``ids`` (in that order) from an adversarial run folder or an ``id,weight`` CSV."""
    path = _run_file(source, WEIGHTS, option)
    table = read_csv(path, f"fix the file given to {option}")
    if not {"id", "weight"} <= set(table.columns):
        raise BadInput(f"option {option}: {path} needs columns id,weight (has {list(table.columns)[:8]})")
    lookup = pd.Series(table["weight"].to_numpy(np.float64), index=table["id"].astype(str).to_numpy())
    keys = pd.Index(np.asarray(ids).astype(str))
    missing = keys[~keys.isin(lookup.index)]
    if len(missing):
        raise BadInput(f"option {option}: {path} has no weight for {len(missing)} training id(s), e.g. "
                         f"{list(missing[:3])} (made on another dataset?)")
    weights = lookup.reindex(keys).to_numpy()
    if not np.all(np.isfinite(weights)) or (weights < 0).any():
        raise BadInput(f"option {option}: {path} has negative or non-finite weights")
    return weights


def plot_shifted_features(table: pd.DataFrame, path: str | Path, top: int = 25, title: str = "") -> Path:
    """Two bar panels of the ``top`` features of :func:`shifted_features`: the adversarial model's gain share
    and the univariate strength ``|AUC - 0.5| * 2``."""
    from common.plots import _save, plt

    head = table.head(top)[::-1]
    panels = [c for c in ("gain", "strength") if c in head.columns and head[c].notna().any()]
    if head.empty or not panels:
        raise BadInput("no shifted features to plot")
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 0.28 * len(head) + 1.2), squeeze=False)
    for ax, column in zip(axes[0], panels):
        ax.barh(head["feature"].astype(str), head[column].fillna(0.0),
                color="tab:red" if column == "gain" else "tab:blue")
        ax.set(xlabel={"gain": "share of adversarial gain", "strength": "univariate |AUC - 0.5| x 2"}[column])
        ax.tick_params(axis="y", labelsize=7)
    fig.suptitle(title or f"most shifted features (top {len(head)})", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)
