"""Features of the application tables (train and test together): cleaning, ratios, EXT_SOURCE mixes.

Categories are coded over train and test at once, so a level seen only in test still gets a code
(it never appeared in training, so LightGBM sends it down the default branch).
"""
from __future__ import annotations

import polars as pl

from competitions.home_credit.features.aggregate import F32, KEY, missing_codes, safe_ratio, text_columns
from competitions.home_credit.schema import SENTINEL_DAYS

from common.errors import BadInput

EXT = ["EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3"]
YEARS = 365.25


def combine(train: pl.DataFrame, test: pl.DataFrame) -> pl.DataFrame:
    """Train and test applications in one frame; TARGET is missing on test rows."""
    both = pl.concat([train.with_columns(pl.col("TARGET").cast(F32)),
                      test.with_columns(pl.lit(None, F32).alias("TARGET"))], how="diagonal_relaxed")
    both = both.select(train.columns)
    duplicated = both.filter(pl.col(KEY).is_duplicated())[KEY].unique(maintain_order=True)
    if len(duplicated):
        raise BadInput(f"SK_ID_CURR present twice in application_train/test, e.g. {duplicated.head(3).to_list()}")
    return both


def clean(app: pl.DataFrame) -> pl.DataFrame:
    """Sentinel days and placeholder codes become missing values, with flags where they carry meaning."""
    employed = pl.col("DAYS_EMPLOYED")
    return app.with_columns(
        pl.when(employed != SENTINEL_DAYS).then(employed.cast(F32)).alias("DAYS_EMPLOYED"),
        *(missing_codes(col, ("XNA",)) for col in text_columns(app)),
    ).with_columns((app["DAYS_EMPLOYED"] == SENTINEL_DAYS).cast(F32).alias("DAYS_EMPLOYED_ANOM"))


def encode_categories(app: pl.DataFrame) -> pl.DataFrame:
    """Text columns as float32 integer codes of their sorted levels (missing stays missing)."""
    return app.with_columns((pl.col(col).cast(pl.String).rank("dense") - 1).cast(F32).alias(col)
                            for col in text_columns(app))


def ratios(app: pl.DataFrame) -> list[pl.Expr]:
    """Ratios and differences of the amounts, ages and durations."""
    c = pl.col
    age_years = -c("DAYS_BIRTH") / YEARS
    out = [
        safe_ratio(c("AMT_CREDIT"), c("AMT_ANNUITY")).alias("CREDIT_TO_ANNUITY"),
        safe_ratio(c("AMT_ANNUITY"), c("AMT_INCOME_TOTAL")).alias("ANNUITY_TO_INCOME"),
        safe_ratio(c("AMT_INCOME_TOTAL"), c("AMT_CREDIT")).alias("INCOME_TO_CREDIT"),
        safe_ratio(c("AMT_CREDIT"), c("AMT_GOODS_PRICE")).alias("CREDIT_TO_GOODS"),
        (c("AMT_GOODS_PRICE") - c("AMT_CREDIT")).cast(F32).alias("GOODS_MINUS_CREDIT"),
        safe_ratio(c("AMT_INCOME_TOTAL"), c("CNT_FAM_MEMBERS")).alias("INCOME_PER_PERSON"),
        safe_ratio(c("AMT_ANNUITY"), c("CNT_FAM_MEMBERS")).alias("ANNUITY_PER_PERSON"),
        safe_ratio(c("CNT_CHILDREN"), c("CNT_FAM_MEMBERS")).alias("CHILDREN_RATIO"),
        safe_ratio(c("DAYS_EMPLOYED"), c("DAYS_BIRTH")).alias("EMPLOYED_TO_AGE"),
        safe_ratio(c("DAYS_REGISTRATION"), c("DAYS_BIRTH")).alias("REGISTRATION_TO_AGE"),
        safe_ratio(c("DAYS_ID_PUBLISH"), c("DAYS_BIRTH")).alias("ID_PUBLISH_TO_AGE"),
        safe_ratio(c("DAYS_LAST_PHONE_CHANGE"), c("DAYS_BIRTH")).alias("PHONE_CHANGE_TO_AGE"),
        safe_ratio(c("OWN_CAR_AGE"), age_years).alias("CAR_AGE_TO_AGE"),
        age_years.cast(F32).alias("AGE_YEARS"),
        safe_ratio(c("AMT_INCOME_TOTAL"), -c("DAYS_BIRTH")).alias("INCOME_TO_AGE"),
        safe_ratio(c("AMT_CREDIT"), -c("DAYS_BIRTH")).alias("CREDIT_TO_AGE"),
        (age_years + safe_ratio(c("AMT_CREDIT"), c("AMT_ANNUITY")) / 12).cast(F32).alias("PAYMENT_END_AGE"),
    ]
    docs = [col for col in app.columns if col.startswith("FLAG_DOCUMENT_")]
    out.append(pl.sum_horizontal(docs).cast(F32).alias("DOCUMENT_COUNT"))
    req = [col for col in app.columns if col.startswith("AMT_REQ_CREDIT_BUREAU_")]
    out.append(pl.when(pl.any_horizontal(c(req).is_not_null())).then(pl.sum_horizontal(req))
               .cast(F32).alias("REQ_CREDIT_BUREAU_TOTAL"))
    for days in (30, 60):
        out.append(safe_ratio(c(f"DEF_{days}_CNT_SOCIAL_CIRCLE"), c(f"OBS_{days}_CNT_SOCIAL_CIRCLE"))
                   .alias(f"SOCIAL_DEFAULT_RATIO_{days}"))
    housing = [col for col in app.columns if col.endswith("_AVG")]
    out.append(pl.sum_horizontal(c(housing).is_null()).cast(F32).alias("HOUSING_MISSING_COUNT"))
    # TARGET is empty on every test row: counting it would tell test clients from training ones
    counted = [col for col in app.columns if col != "TARGET"]
    out.append(pl.sum_horizontal(c(counted).is_null()).cast(F32).alias("MISSING_COUNT"))
    return out


def ext_sources() -> list[pl.Expr]:
    """Combinations of the three external scores: moments, product, weighted sums and ratios."""
    e1, e2, e3 = (pl.col(name) for name in EXT)
    present = pl.sum_horizontal(pl.col(EXT).is_not_null())
    mean = pl.mean_horizontal(EXT)
    # population standard deviation over the scores present (numpy's nanstd)
    std = (pl.sum_horizontal((pl.col(EXT).cast(pl.Float64) - mean) ** 2) / present).sqrt()
    exprs = {
        "EXT_MEAN": mean,
        "EXT_STD": pl.when(present > 0).then(std),
        "EXT_MIN": pl.min_horizontal(EXT),
        "EXT_MAX": pl.max_horizontal(EXT),
        "EXT_PROD": e1 * e2 * e3,
        "EXT_PROD_23": e2 * e3,
        "EXT_WEIGHTED": 2 * e1 + 3 * e2 + 4 * e3,
        "EXT_WEIGHTED_23": 2 * e2 + 3 * e3,
        "EXT_MISSING": 3 - present,
        "EXT_1_TO_2": safe_ratio(e1, e2),
        "EXT_2_TO_3": safe_ratio(e2, e3),
        "EXT_1_TO_3": safe_ratio(e1, e3),
    }
    return [expr.cast(F32).alias(name) for name, expr in exprs.items()]


def build(train: pl.DataFrame, test: pl.DataFrame) -> pl.DataFrame:
    """All application features, one row per client (train then test), with ``SK_ID_CURR`` and ``TARGET``."""
    app = clean(combine(train, test))
    features = encode_categories(app).with_columns(
        pl.exclude(KEY, "TARGET").cast(F32), *ratios(app), *ext_sources())
    term = safe_ratio(pl.col("AMT_ANNUITY"), pl.col("AMT_CREDIT"))
    return features.with_columns(
        (pl.col("EXT_MEAN") * term).cast(F32).alias("EXT_MEAN_X_TERM"),
        (pl.col("EXT_MEAN") * -pl.col("DAYS_BIRTH") / YEARS).cast(F32).alias("EXT_MEAN_X_AGE"))
