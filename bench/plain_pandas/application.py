"""Features of the application tables (train and test together): cleaning, ratios, EXT_SOURCE mixes.

Categories are coded over train and test at once, so a level seen only in test still gets a code
(it never appeared in training, so LightGBM sends it down the default branch).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from bench.plain_pandas.aggregate import KEY, missing_as_nan, safe_ratio
from competitions.home_credit.schema import SENTINEL_DAYS

EXT = ["EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3"]


def combine(train: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """Train and test applications in one frame; TARGET is NaN on test rows."""
    both = pd.concat([train, test], ignore_index=True)[list(train.columns)]  # test rows: TARGET NaN
    both["TARGET"] = both["TARGET"].astype("float32")
    duplicated = both[KEY][both[KEY].duplicated()]
    if len(duplicated):
        raise ValueError(f"SK_ID_CURR present twice in application_train/test, e.g. {duplicated.head(3).tolist()}")
    return both


def clean(app: pd.DataFrame) -> pd.DataFrame:
    """Sentinel days and placeholder codes become missing values, with flags where they carry meaning."""
    app = app.copy()
    app["DAYS_EMPLOYED_ANOM"] = (app["DAYS_EMPLOYED"] == SENTINEL_DAYS).astype("float32")
    app["DAYS_EMPLOYED"] = app["DAYS_EMPLOYED"].astype("float32").where(app["DAYS_EMPLOYED"] != SENTINEL_DAYS)
    for col in app.columns:
        if not pd.api.types.is_numeric_dtype(app[col]):
            app[col] = missing_as_nan(app[col], ("XNA",))
    return app


def encode_categories(app: pd.DataFrame) -> pd.DataFrame:
    """Text columns as float32 integer codes (sorted levels; missing stays NaN)."""
    app = app.copy()
    for col in app.columns:
        if col != KEY and not pd.api.types.is_numeric_dtype(app[col]):
            codes, _ = pd.factorize(app[col].astype(object), sort=True)
            app[col] = np.where(codes < 0, np.nan, codes).astype("float32")
    return app


def ratios(app: pd.DataFrame) -> pd.DataFrame:
    """Ratios and differences of the amounts, ages and durations."""
    a = app
    out = {
        "CREDIT_TO_ANNUITY": safe_ratio(a["AMT_CREDIT"], a["AMT_ANNUITY"]),
        "ANNUITY_TO_INCOME": safe_ratio(a["AMT_ANNUITY"], a["AMT_INCOME_TOTAL"]),
        "INCOME_TO_CREDIT": safe_ratio(a["AMT_INCOME_TOTAL"], a["AMT_CREDIT"]),
        "CREDIT_TO_GOODS": safe_ratio(a["AMT_CREDIT"], a["AMT_GOODS_PRICE"]),
        "GOODS_MINUS_CREDIT": (a["AMT_GOODS_PRICE"] - a["AMT_CREDIT"]).astype("float32"),
        "INCOME_PER_PERSON": safe_ratio(a["AMT_INCOME_TOTAL"], a["CNT_FAM_MEMBERS"]),
        "ANNUITY_PER_PERSON": safe_ratio(a["AMT_ANNUITY"], a["CNT_FAM_MEMBERS"]),
        "CHILDREN_RATIO": safe_ratio(a["CNT_CHILDREN"], a["CNT_FAM_MEMBERS"]),
        "EMPLOYED_TO_AGE": safe_ratio(a["DAYS_EMPLOYED"], a["DAYS_BIRTH"]),
        "REGISTRATION_TO_AGE": safe_ratio(a["DAYS_REGISTRATION"], a["DAYS_BIRTH"]),
        "ID_PUBLISH_TO_AGE": safe_ratio(a["DAYS_ID_PUBLISH"], a["DAYS_BIRTH"]),
        "PHONE_CHANGE_TO_AGE": safe_ratio(a["DAYS_LAST_PHONE_CHANGE"], a["DAYS_BIRTH"]),
        "CAR_AGE_TO_AGE": safe_ratio(a["OWN_CAR_AGE"], -a["DAYS_BIRTH"] / 365.25),
        "AGE_YEARS": (-a["DAYS_BIRTH"] / 365.25).astype("float32"),
        "INCOME_TO_AGE": safe_ratio(a["AMT_INCOME_TOTAL"], -a["DAYS_BIRTH"]),
        "CREDIT_TO_AGE": safe_ratio(a["AMT_CREDIT"], -a["DAYS_BIRTH"]),
        "PAYMENT_END_AGE": (-a["DAYS_BIRTH"] / 365.25
                            + safe_ratio(a["AMT_CREDIT"], a["AMT_ANNUITY"]) / 12).astype("float32"),
    }
    docs = [c for c in a.columns if c.startswith("FLAG_DOCUMENT_")]
    out["DOCUMENT_COUNT"] = a[docs].sum(axis=1).astype("float32")
    req = [c for c in a.columns if c.startswith("AMT_REQ_CREDIT_BUREAU_")]
    out["REQ_CREDIT_BUREAU_TOTAL"] = a[req].sum(axis=1, min_count=1).astype("float32")
    out["SOCIAL_DEFAULT_RATIO_30"] = safe_ratio(a["DEF_30_CNT_SOCIAL_CIRCLE"], a["OBS_30_CNT_SOCIAL_CIRCLE"])
    out["SOCIAL_DEFAULT_RATIO_60"] = safe_ratio(a["DEF_60_CNT_SOCIAL_CIRCLE"], a["OBS_60_CNT_SOCIAL_CIRCLE"])
    housing = [c for c in a.columns if c.endswith("_AVG")]
    out["HOUSING_MISSING_COUNT"] = a[housing].isna().sum(axis=1).astype("float32")
    # TARGET is empty on every test row: counting it would tell test clients from training ones
    out["MISSING_COUNT"] = a.drop(columns="TARGET", errors="ignore").isna().sum(axis=1).astype("float32")
    return pd.DataFrame(out, index=a.index)


def ext_sources(app: pd.DataFrame) -> pd.DataFrame:
    """Combinations of the three external scores: moments, product, weighted sums and ratios."""
    e = app[EXT].to_numpy(np.float32)
    with np.errstate(invalid="ignore"):
        out = {
            "EXT_MEAN": np.nanmean(np.where(np.isnan(e).all(1, keepdims=True), 0, e), axis=1),
            "EXT_STD": np.nanstd(np.where(np.isnan(e).all(1, keepdims=True), 0, e), axis=1),
            "EXT_MIN": np.nanmin(np.where(np.isnan(e), np.inf, e), axis=1),
            "EXT_MAX": np.nanmax(np.where(np.isnan(e), -np.inf, e), axis=1),
            "EXT_PROD": e[:, 0] * e[:, 1] * e[:, 2],
            "EXT_PROD_23": e[:, 1] * e[:, 2],
            "EXT_WEIGHTED": 2 * e[:, 0] + 3 * e[:, 1] + 4 * e[:, 2],
            "EXT_WEIGHTED_23": 2 * e[:, 1] + 3 * e[:, 2],
            "EXT_MISSING": np.isnan(e).sum(1),
            "EXT_1_TO_2": safe_ratio(e[:, 0], e[:, 1]),
            "EXT_2_TO_3": safe_ratio(e[:, 1], e[:, 2]),
            "EXT_1_TO_3": safe_ratio(e[:, 0], e[:, 2]),
        }
    all_missing = np.isnan(e).all(1)
    for name in ("EXT_MEAN", "EXT_STD", "EXT_MIN", "EXT_MAX"):
        out[name] = np.where(all_missing, np.nan, out[name])
    frame = pd.DataFrame(out, index=app.index).astype("float32")
    term = safe_ratio(app["AMT_ANNUITY"], app["AMT_CREDIT"])
    frame["EXT_MEAN_X_TERM"] = (frame["EXT_MEAN"] * term).astype("float32")
    frame["EXT_MEAN_X_AGE"] = (frame["EXT_MEAN"] * -app["DAYS_BIRTH"] / 365.25).astype("float32")
    return frame


def build(train: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """All application features, one row per client (train then test), with ``SK_ID_CURR`` and ``TARGET``."""
    app = clean(combine(train, test))
    features = pd.concat([encode_categories(app), ratios(app), ext_sources(app)], axis=1)
    ints = features.columns[features.dtypes == "int32"].drop([KEY], errors="ignore")
    features[ints] = features[ints].astype("float32")
    return features
