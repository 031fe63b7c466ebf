"""Rows of application_train.csv / application_test.csv for one chunk of clients."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtr

from competitions.home_credit.schema import SENTINEL_DAYS, columns
from competitions.home_credit.synth import categories as cat
from competitions.home_credit.synth.traits import Traits

BUILDING_MEASURES = ("APARTMENTS", "BASEMENTAREA", "YEARS_BEGINEXPLUATATION", "YEARS_BUILD", "COMMONAREA",
                     "ELEVATORS", "ENTRANCES", "FLOORSMAX", "FLOORSMIN", "LANDAREA", "LIVINGAPARTMENTS",
                     "LIVINGAREA", "NONLIVINGAPARTMENTS", "NONLIVINGAREA")
# Share of clients with a value, among those whose building is described at all (about 53% of clients).
BUILDING_PRESENT = {"APARTMENTS": 0.93, "BASEMENTAREA": 0.78, "YEARS_BEGINEXPLUATATION": 0.965,
                    "YEARS_BUILD": 0.63, "COMMONAREA": 0.57, "ELEVATORS": 0.88, "ENTRANCES": 0.94,
                    "FLOORSMAX": 0.95, "FLOORSMIN": 0.61, "LANDAREA": 0.77, "LIVINGAPARTMENTS": 0.60,
                    "LIVINGAREA": 0.94, "NONLIVINGAPARTMENTS": 0.58, "NONLIVINGAREA": 0.85}
DOCUMENT_RATES = {2: 4e-5, 3: 0.71, 4: 1e-4, 5: 0.015, 6: 0.088, 7: 2e-4, 8: 0.081, 9: 0.004, 10: 2e-5,
                  11: 0.004, 12: 1e-5, 13: 0.0035, 14: 0.0029, 15: 0.0012, 16: 0.0099, 17: 3e-4, 18: 0.0081,
                  19: 6e-4, 20: 5e-4, 21: 3e-4}
REGION_POPULATIONS = np.round(np.exp(np.random.default_rng(20180517).normal(np.log(0.018), 0.75, 81)), 6)
"""A fixed set of region population shares, like the ~80 distinct values of the real column."""

# Covariate shift of the shifted test clients (``--shift``): younger, richer, more often living with parents.
SHIFT_AGE_FACTOR = 0.7  # age = 20.5 + 0.7 * (age - 20.5): DAYS_BIRTH closer to 0
SHIFT_INCOME_FACTOR = 1.6  # AMT_INCOME_TOTAL x 1.6 (after the loan amounts were drawn)
SHIFT_HOUSING_LEVEL = "With parents"
SHIFT_HOUSING_SHARE = 0.35  # share of shifted clients moved to that NAME_HOUSING_TYPE level
SHIFT = {
    "DAYS_BIRTH": f"age in years = 20.5 + {SHIFT_AGE_FACTOR} * (age - 20.5): younger clients (age-linked columns "
                  "such as DAYS_EMPLOYED, pensioner status and children follow)",
    "AMT_INCOME_TOTAL": f"income x {SHIFT_INCOME_FACTOR} (rounded to 2250 as usual); loan amounts unchanged",
    "NAME_HOUSING_TYPE": f"{SHIFT_HOUSING_SHARE:.0%} of the shifted clients set to '{SHIFT_HOUSING_LEVEL}' "
                         f"(train: {4.8:.1f}%)",
}
"""The planted shifted application columns and what changed (recorded in ``_truth.json``)."""


@dataclass(frozen=True)
class Applicants:
    """What the side-table samplers need to know about the clients of a chunk."""

    age_years: np.ndarray
    app_logit: np.ndarray  # application part of the default logit


def _round_to(x: np.ndarray, step: float) -> np.ndarray:
    return np.round(x / step) * step


def _with_missing(rng: np.random.Generator, x: np.ndarray, rate: float | np.ndarray) -> np.ndarray:
    out = x.astype(float, copy=True)
    out[rng.random(len(x)) < rate] = np.nan
    return out


def sample_application(rng: np.random.Generator, ids: np.ndarray, is_test: np.ndarray,
                       traits: Traits, shifted: np.ndarray | None = None,
                       shift_rng: np.random.Generator | None = None) -> tuple[pd.DataFrame, Applicants]:
    """Application rows (train layout, TARGET still 0) and the client facts the other tables build on.

    ``shifted`` (optional, with its own generator ``shift_rng`` so that ``rng``'s stream is untouched) marks
    clients drawn from the covariate-shifted distribution of :data:`SHIFT`; their TARGET still follows the
    same model of the (shifted) columns.
    """
    n = len(ids)
    c: dict[str, object] = {"SK_ID_CURR": ids.astype(np.int64), "TARGET": np.zeros(n, dtype=np.int64)}
    shift_on = shifted is not None and bool(np.any(shifted))

    age = 20.5 + 48.5 * rng.beta(1.7, 1.9, n)
    if shift_on:
        age = np.where(shifted, 20.5 + SHIFT_AGE_FACTOR * (age - 20.5), age)
    pensioner = rng.random(n) < 1.0 / (1.0 + np.exp(-(age - 55.5) / 2.5))
    male_codes = cat.draw(rng, cat.GENDER, n)
    male = male_codes == 1
    education = cat.draw(rng, cat.EDUCATION, n)
    higher_ed = np.isin(education, (1, 4))
    family = cat.draw(rng, cat.FAMILY_STATUS, n)
    married = np.isin(family, (0, 2))

    revolving = rng.random(n) < cat.CONTRACT_TYPE["Revolving loans"]
    c["NAME_CONTRACT_TYPE"] = cat.categorical(revolving.astype(int), cat.levels(cat.CONTRACT_TYPE))
    c["CODE_GENDER"] = cat.categorical(male_codes, cat.levels(cat.GENDER))
    own_car = rng.random(n) < np.where(male, 0.5, 0.26)
    c["FLAG_OWN_CAR"] = cat.categorical(own_car.astype(int), ["N", "Y"])
    c["FLAG_OWN_REALTY"] = cat.categorical((rng.random(n) < 0.694).astype(int), ["N", "Y"])
    children = np.minimum(rng.negative_binomial(1.2, 0.75, n), 12) * (age < 55)
    c["CNT_CHILDREN"] = children.astype(np.int64)

    log_income = (np.log(147_000) + 0.15 * male + 0.25 * higher_ed - 0.3 * pensioner
                  - 0.12 * traits.credit + 0.42 * rng.standard_normal(n))
    income, goods, credit, annuity = _loan_amounts(rng, log_income, revolving)
    if shift_on:
        income = np.where(shifted, np.maximum(_round_to(income * SHIFT_INCOME_FACTOR, 2250.0), 25650.0), income)
    c["AMT_INCOME_TOTAL"] = income
    c["AMT_CREDIT"] = credit
    c["AMT_ANNUITY"] = _with_missing(rng, annuity, 4e-5)
    goods_out = goods.astype(float)
    goods_out[revolving & (rng.random(n) < 0.0095)] = np.nan
    c["AMT_GOODS_PRICE"] = goods_out

    suite = cat.draw(rng, cat.TYPE_SUITE, n)
    suite[rng.random(n) < 0.0042] = -1
    c["NAME_TYPE_SUITE"] = cat.categorical(suite, cat.levels(cat.TYPE_SUITE))
    income_types = ["Working", "Commercial associate", "Pensioner", "State servant", "Unemployed", "Student",
                    "Businessman", "Maternity leave"]
    working = np.array([income_types.index(k) for k in cat.WORKING_INCOME_TYPE])[
        cat.draw(rng, cat.WORKING_INCOME_TYPE, n)]
    retired = np.array([income_types.index(k) for k in cat.NOT_WORKING_INCOME_TYPE])[
        cat.draw(rng, cat.NOT_WORKING_INCOME_TYPE, n)]
    c["NAME_INCOME_TYPE"] = cat.categorical(np.where(pensioner, retired, working), income_types)
    c["NAME_EDUCATION_TYPE"] = cat.categorical(education, cat.levels(cat.EDUCATION))
    c["NAME_FAMILY_STATUS"] = cat.categorical(family, cat.levels(cat.FAMILY_STATUS))
    housing = cat.draw(rng, cat.HOUSING_TYPE, n)  # the same draws as cat.sample
    if shift_on:
        to_parents = shifted & (shift_rng.random(n) < SHIFT_HOUSING_SHARE)
        housing = np.where(to_parents, cat.levels(cat.HOUSING_TYPE).index(SHIFT_HOUSING_LEVEL), housing)
    c["NAME_HOUSING_TYPE"] = cat.categorical(housing, cat.levels(cat.HOUSING_TYPE))

    region = rng.choice(len(REGION_POPULATIONS), size=n)
    population = REGION_POPULATIONS[region]
    c["REGION_POPULATION_RELATIVE"] = population
    c["DAYS_BIRTH"] = -np.floor(age * 365.25).astype(np.int64)
    tenure_years = np.minimum(rng.exponential(6.0, n), age - 18.5)
    c["DAYS_EMPLOYED"] = np.where(pensioner, SENTINEL_DAYS, -np.floor(tenure_years * 365.25)).astype(np.int64)
    c["DAYS_REGISTRATION"] = -np.floor(rng.beta(1.2, 1.6, n) * (age - 16.0) * 365.25)
    c["DAYS_ID_PUBLISH"] = -np.floor(rng.random(n) ** 0.8 * np.minimum(6500.0, (age - 14.0) * 365.25)).astype(np.int64)
    car_age = np.minimum(np.floor(rng.gamma(1.8, 6.0, n)), 65.0)
    car_age[rng.random(n) < 0.025] = 64.0
    c["OWN_CAR_AGE"] = np.where(own_car, car_age, np.nan)
    c["FLAG_MOBIL"] = np.ones(n, dtype=np.int64)
    c["FLAG_EMP_PHONE"] = (~pensioner).astype(np.int64)
    c["FLAG_WORK_PHONE"] = ((rng.random(n) < 0.24) & ~pensioner).astype(np.int64)
    c["FLAG_CONT_MOBILE"] = (rng.random(n) < 0.998).astype(np.int64)
    c["FLAG_PHONE"] = (rng.random(n) < np.where(pensioner, 0.45, 0.245)).astype(np.int64)
    c["FLAG_EMAIL"] = (rng.random(n) < 0.057).astype(np.int64)
    occupation = cat.draw(rng, cat.OCCUPATION, n)
    occupation[pensioner | (rng.random(n) < 0.16)] = -1
    c["OCCUPATION_TYPE"] = cat.categorical(occupation, cat.levels(cat.OCCUPATION))
    c["CNT_FAM_MEMBERS"] = _with_missing(rng, children + 1.0 + married, 7e-6)
    rating = np.where(population > 0.035, 1, np.where(population < 0.007, 3, 2))
    rating = np.where(rng.random(n) < 0.08, rng.integers(1, 4, n), rating)
    c["REGION_RATING_CLIENT"] = rating.astype(np.int64)
    c["REGION_RATING_CLIENT_W_CITY"] = np.where(rng.random(n) < 0.06, np.clip(rating + rng.choice([-1, 1], n), 1, 3),
                                                rating).astype(np.int64)
    c["WEEKDAY_APPR_PROCESS_START"] = cat.sample(rng, cat.WEEKDAY, n)
    c["HOUR_APPR_PROCESS_START"] = np.clip(np.round(rng.normal(12.06, 3.27, n)), 0, 23).astype(np.int64)
    for name, rate_ in (("REG_REGION_NOT_LIVE_REGION", .015), ("REG_REGION_NOT_WORK_REGION", .05),
                        ("LIVE_REGION_NOT_WORK_REGION", .04), ("REG_CITY_NOT_LIVE_CITY", .078),
                        ("REG_CITY_NOT_WORK_CITY", .23), ("LIVE_CITY_NOT_WORK_CITY", .18)):
        c[name] = ((rng.random(n) < rate_) & ~(pensioner & name.endswith("WORK_CITY"))).astype(np.int64)
    organization = cat.draw(rng, cat.ORGANIZATION, n) + 1
    c["ORGANIZATION_TYPE"] = cat.categorical(np.where(pensioner, 0, organization),
                                             ["XNA", *cat.levels(cat.ORGANIZATION)])

    q, scores = _external_scores(rng, traits, age, is_test)
    c.update(scores)

    c.update(_building_columns(rng, n))
    c.update(_social_circle(rng, traits))
    phone = -np.floor(rng.exponential(1000.0, n))
    phone[rng.random(n) < 0.12] = 0.0
    c["DAYS_LAST_PHONE_CHANGE"] = _with_missing(rng, np.maximum(phone, -4292.0), 3e-6)
    for k, rate_ in DOCUMENT_RATES.items():
        c[f"FLAG_DOCUMENT_{k}"] = (rng.random(n) < rate_).astype(np.int64)
    c.update(_bureau_requests(rng, traits))

    app_logit = _application_logit(
        q=q, male=male, age=age, secondary_or_less=~higher_ed & (education != 2),
        short_tenure=~pensioner & (tenure_years < 2.0), term=credit / annuity, annuity_to_income=annuity / income,
        rating=rating, risky_job=np.isin(occupation, [cat.levels(cat.OCCUPATION).index(k) for k in cat.RISKY_OCCUPATIONS]),
        social_default=np.asarray(c["DEF_30_CNT_SOCIAL_CIRCLE"]) > 0, own_car=own_car)

    frame = pd.DataFrame(c)[columns("application_train.csv")]
    return frame, Applicants(age_years=age, app_logit=app_logit)


def _loan_amounts(rng: np.random.Generator, log_income: np.ndarray,
                  revolving: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Income, goods price, credit and annuity: cash loans priced as annuities, cards as a share of the limit."""
    n = log_income.size
    income = np.maximum(_round_to(np.exp(log_income), 2250.0), 25650.0)
    goods = np.clip(_round_to(np.exp(np.log(450_000) + 0.45 * (log_income - np.log(147_000))
                                     + 0.55 * rng.standard_normal(n)), 4500.0), 40500.0, 4_050_000.0)
    insured = rng.random(n) < 0.55
    credit = np.where(insured, np.round(goods * rng.uniform(1.05, 1.25, n) * 2) / 2, goods)
    term = rng.choice([10, 12, 15, 18, 20, 24, 30, 36, 42, 48, 60],
                      p=[.04, .13, .05, .09, .05, .17, .08, .18, .06, .07, .08], size=n)
    rate = rng.uniform(0.008, 0.026, n)
    annuity = np.round(credit * rate / (1.0 - (1.0 + rate) ** -term) * 2) / 2
    card_limit = rng.choice([45000., 67500., 90000., 112500., 135000., 180000., 225000., 270000., 315000.,
                             450000., 675000.], p=[.06, .06, .06, .06, .2, .1, .12, .16, .06, .08, .04], size=n)
    card_share = rng.choice([0.05, 0.075, 0.1], p=[0.75, 0.15, 0.1], size=n)
    credit = np.where(revolving, card_limit, credit)
    goods = np.where(revolving, card_limit, goods)
    annuity = np.where(revolving, card_limit * card_share, annuity)
    return income, goods, credit, annuity


def _external_scores(rng: np.random.Generator, traits: Traits, age: np.ndarray,
                     is_test: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """EXT_SOURCE_1..3: noisy views of creditworthiness (source 1 also rises with age). Returns the latent
    probit scores (one column per source, before missing values) and the columns."""
    n = age.size
    c: dict[str, np.ndarray] = {}
    q = -(0.75 * traits.credit[:, None] + 0.66 * rng.standard_normal((n, 3)))
    q[:, 0] += 0.35 * (age - 43.0) / 12.0
    ext = np.column_stack([0.96 * ndtr(0.75 * q[:, 0]), 0.855 * ndtr(0.75 * q[:, 1] + 0.35), 0.896 * ndtr(0.75 * q[:, 2] + 0.1)])
    # The real test set lacks EXT_SOURCE_1 less often (43%) than the train set (56%).
    for k, rate_ in enumerate((np.where(is_test, 0.427, 0.564), 0.0021, 0.198)):
        c[f"EXT_SOURCE_{k + 1}"] = _with_missing(rng, ext[:, k], rate_)
    return q, c


def _application_logit(*, q: np.ndarray, male: np.ndarray, age: np.ndarray, secondary_or_less: np.ndarray,
                       short_tenure: np.ndarray, term: np.ndarray, annuity_to_income: np.ndarray, rating: np.ndarray,
                       risky_job: np.ndarray, social_default: np.ndarray, own_car: np.ndarray) -> np.ndarray:
    """Application part of the default logit. The external scores weigh most; the loan term has a
    non-linear bump (terms near 18 months are riskiest) that a linear model cannot fit."""
    return (-0.225 * q.sum(axis=1) + 0.1 * male - 0.006 * (age - 43.0) + 0.1 * secondary_or_less
            + 0.125 * short_tenure + 0.175 * np.exp(-(((term - 18.0) / 5.0) ** 2))
            + 0.45 * np.clip(annuity_to_income - 0.18, -0.15, 0.4) + 0.075 * (rating - 2) + 0.075 * risky_job
            + 0.125 * social_default - 0.05 * own_car)


def _building_columns(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """The 47 normalised columns describing the client's building: AVG / MODE / MEDI variants of 14 measures."""
    described = rng.random(n) < 0.53
    size = rng.standard_normal(n)  # one building size factor links the area measures
    base = {
        "APARTMENTS": np.exp(np.log(0.088) + 0.8 * size + 0.3 * rng.standard_normal(n)),
        "BASEMENTAREA": np.where(rng.random(n) < 0.1, 0.0, np.exp(np.log(0.076) + 0.6 * size + 0.5 * rng.standard_normal(n))),
        "YEARS_BEGINEXPLUATATION": 1.0 - np.exp(np.log(0.019) + 0.5 * rng.standard_normal(n)),
        "YEARS_BUILD": 1.0 - np.exp(np.log(0.245) + 0.45 * rng.standard_normal(n)),
        "COMMONAREA": np.where(rng.random(n) < 0.08, 0.0, np.exp(np.log(0.021) + 0.5 * size + 0.9 * rng.standard_normal(n))),
        "ELEVATORS": np.where(rng.random(n) < 0.5, 0.0, np.round(rng.choice([0.04, 0.08, 0.12, 0.16, 0.2, 0.24, 0.32, 0.4], n) * 1e4) / 1e4),
        "ENTRANCES": np.round(0.0345 * (1 + rng.poisson(3.5 * np.exp(0.3 * size))), 4),
        "FLOORSMAX": np.round(0.0417 * rng.choice([1, 2, 3, 4, 5, 8, 9, 12, 14, 16, 17, 24], n,
                                                  p=[.03, .04, .06, .38, .05, .2, .05, .06, .03, .04, .04, .02]), 4),
        "FLOORSMIN": np.round(0.0417 * rng.choice([1, 2, 3, 4, 5, 8, 9, 12, 16, 17], n,
                                                  p=[.03, .05, .1, .22, .1, .27, .1, .05, .04, .04]), 4),
        "LANDAREA": np.where(rng.random(n) < 0.06, 0.0, np.exp(np.log(0.048) + 0.4 * size + 0.9 * rng.standard_normal(n))),
        "LIVINGAPARTMENTS": np.exp(np.log(0.0756) + 0.8 * size + 0.3 * rng.standard_normal(n)),
        "LIVINGAREA": np.exp(np.log(0.0745) + 0.8 * size + 0.35 * rng.standard_normal(n)),
        "NONLIVINGAPARTMENTS": np.where(rng.random(n) < 0.5, 0.0, np.exp(np.log(0.0078) + 0.9 * rng.standard_normal(n))),
        "NONLIVINGAREA": np.where(rng.random(n) < 0.35, 0.0, np.exp(np.log(0.02) + 1.1 * rng.standard_normal(n))),
    }
    out: dict[str, np.ndarray] = {}
    for measure in BUILDING_MEASURES:
        value = np.clip(base[measure], 0.0, 1.0)
        present = described & (rng.random(n) < BUILDING_PRESENT[measure])
        for suffix, jitter in (("AVG", 0.0), ("MODE", 0.06), ("MEDI", 0.02)):
            v = np.clip(value * (1.0 + jitter * rng.standard_normal(n)), 0.0, 1.0) if jitter else value
            out[f"{measure}_{suffix}"] = np.where(present, np.round(v, 4), np.nan)
    out["FONDKAPREMONT_MODE"] = cat.categorical(
        np.where(described & (rng.random(n) < 0.6), cat.draw(rng, cat.FONDKAPREMONT, n), -1), cat.levels(cat.FONDKAPREMONT))
    out["HOUSETYPE_MODE"] = cat.categorical(
        np.where(described & (rng.random(n) < 0.94), cat.draw(rng, cat.HOUSETYPE, n), -1), cat.levels(cat.HOUSETYPE))
    total = np.clip(base["APARTMENTS"] * 0.8 * np.exp(0.2 * rng.standard_normal(n)), 0.0, 1.0)
    out["TOTALAREA_MODE"] = np.where(described & (rng.random(n) < 0.975), np.round(total, 4), np.nan)
    out["WALLSMATERIAL_MODE"] = cat.categorical(
        np.where(described & (rng.random(n) < 0.93), cat.draw(rng, cat.WALLSMATERIAL, n), -1), cat.levels(cat.WALLSMATERIAL))
    out["EMERGENCYSTATE_MODE"] = cat.categorical(
        np.where(described & (rng.random(n) < 0.99), cat.draw(rng, cat.EMERGENCYSTATE, n), -1), cat.levels(cat.EMERGENCYSTATE))
    return out


def _social_circle(rng: np.random.Generator, traits: Traits) -> dict[str, np.ndarray]:
    """Observed and defaulted acquaintances (30 and 60 days past due)."""
    n = traits.n
    obs30 = rng.negative_binomial(0.5, 0.5 / (0.5 + 1.42), n).astype(float)
    obs60 = np.where(rng.random(n) < 0.95, obs30, np.maximum(obs30 + rng.choice([-1, 1], n), 0))
    p_def = 1.0 / (1.0 + np.exp(-(-2.6 + 0.4 * traits.credit)))
    def30 = rng.binomial(obs30.astype(np.int64), p_def).astype(float)
    def60 = np.minimum(np.where(rng.random(n) < 0.9, def30, def30 + rng.integers(-1, 2, n)).clip(0), obs60)
    missing = rng.random(n) < 0.0033
    return {name: np.where(missing, np.nan, v) for name, v in (
        ("OBS_30_CNT_SOCIAL_CIRCLE", obs30), ("DEF_30_CNT_SOCIAL_CIRCLE", def30),
        ("OBS_60_CNT_SOCIAL_CIRCLE", obs60), ("DEF_60_CNT_SOCIAL_CIRCLE", def60))}


def _bureau_requests(rng: np.random.Generator, traits: Traits) -> dict[str, np.ndarray]:
    """Credit bureau enquiries before the application, by window."""
    n = traits.n
    missing = rng.random(n) < 0.135
    means = {"HOUR": 0.0065, "DAY": 0.007, "WEEK": 0.035, "MON": 0.27, "QRT": 0.27, "YEAR": 1.9}
    out = {}
    for window, mean in means.items():
        lam = mean * np.exp(0.3 * traits.lev - 0.045) if window in ("QRT", "YEAR") else np.full(n, mean)
        out[f"AMT_REQ_CREDIT_BUREAU_{window}"] = np.where(missing, np.nan, rng.poisson(lam).astype(float))
    return out
