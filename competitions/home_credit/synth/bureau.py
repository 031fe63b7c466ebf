"""Rows of bureau.csv and bureau_balance.csv: the clients' credits at other lenders, with monthly status."""
from __future__ import annotations

import numpy as np
import pandas as pd

from competitions.home_credit.schema import columns
from competitions.home_credit.synth import categories as cat
from competitions.home_credit.synth.application import Applicants
from competitions.home_credit.synth.rows import expand, logistic
from competitions.home_credit.synth.traits import Traits

MAX_LOANS = 60
MAX_HISTORY_MONTHS = 96
BALANCE_COVERAGE = 0.40  # share of bureau credits that come with a monthly status history


def sample_bureau(rng: np.random.Generator, ids: np.ndarray, traits: Traits,
                  applicants: Applicants) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Bureau credits and their monthly history; SK_ID_BUREAU is local to the chunk (0, 1, ...)."""
    n = traits.n
    has_any = rng.random(n) < logistic(1.45 + 0.05 * (applicants.age_years - 30.0))
    mean_more = 4.6 * np.exp(traits.activity - 0.15)
    count = np.where(has_any, 1 + rng.negative_binomial(2.0, 2.0 / (2.0 + mean_more)), 0)
    client, _ = expand(np.minimum(count, MAX_LOANS))
    m = client.size
    pay, lev = traits.pay[client], traits.lev[client]

    horizon = np.minimum(2922.0, (applicants.age_years[client] - 18.0) * 365.0)
    days_credit = -np.floor(rng.random(m) ** 1.5 * horizon).astype(np.int64)
    credit_type = cat.draw(rng, cat.CREDIT_TYPE, m)
    is_card = credit_type == cat.levels(cat.CREDIT_TYPE).index("Credit card")
    active = rng.random(m) < logistic(0.45 - 0.0011 * -days_credit + 0.6 * lev)
    planned_days = np.where(is_card, rng.choice([1095.0, 1826.0, 3652.0, 10958.0], m),
                            30.4 * rng.choice([3, 6, 10, 12, 18, 24, 36, 48, 60, 120, 240], m,
                                              p=[.05, .12, .08, .2, .1, .15, .1, .06, .06, .05, .03]))
    enddate = np.floor(days_credit + planned_days)
    enddate[active & (enddate < 0)] = rng.integers(1, 1500, int((active & (enddate < 0)).sum()))
    closed_at = np.floor(days_credit + planned_days * rng.uniform(0.3, 1.05, m))
    early = closed_at > 0  # planned to run past today but closed already: closed at a random earlier day
    closed_at[early] = np.floor(days_credit[early] * rng.random(int(early.sum())))

    amount = np.round(np.exp(np.log(128_000.0) + 1.1 * rng.standard_normal(m)) * 2) / 2
    debt_share = logistic(0.2 + 1.0 * lev + 0.8 * rng.standard_normal(m))
    debt = np.where(active, np.round(amount * debt_share, 1), 0.0)
    limit = np.where(is_card & active, np.round(amount * (1.0 - debt_share), 1), 0.0)
    overdue_now = active & (rng.random(m) < logistic(-4.6 + 1.3 * pay))
    day_overdue = np.where(overdue_now, np.ceil(rng.exponential(40.0 * np.exp(0.5 * pay))), 0).astype(np.int64)
    amount_overdue = np.where(overdue_now, np.round(amount * rng.uniform(0.01, 0.1, m), 1), 0.0)
    ever_overdue = rng.random(m) < logistic(-2.2 + 1.1 * pay)
    max_overdue = np.where(ever_overdue, np.round(np.exp(rng.normal(8.5, 1.5, m)), 2), 0.0)
    max_overdue = np.maximum(max_overdue, amount_overdue)
    max_overdue[rng.random(m) < np.where(days_credit < -1200, 0.9, 0.5)] = np.nan
    update = np.where(active, -np.floor(np.exp(rng.uniform(0.0, 4.0, m))),
                      np.minimum(closed_at + np.floor(rng.exponential(20.0, m)), 0.0))
    annuity = np.where(rng.random(m) < 0.5, 0.0, np.round(amount / np.maximum(planned_days / 30.4, 1.0), 1))
    annuity[rng.random(m) < np.where(days_credit < -900, 0.8, 0.3)] = np.nan
    status = np.where(active, 1, 0)  # index into CREDIT_ACTIVE_CODES: Closed, Active, Sold, Bad debt
    status[~active & (rng.random(m) < 0.006)] = 2
    status[~active & (rng.random(m) < 0.0001 * np.exp(pay))] = 3

    frame = pd.DataFrame({
        "SK_ID_CURR": ids[client].astype(np.int64),
        "SK_ID_BUREAU": np.arange(m, dtype=np.int64),
        "CREDIT_ACTIVE": cat.categorical(status, cat.CREDIT_ACTIVE_CODES),
        "CREDIT_CURRENCY": cat.sample(rng, cat.CREDIT_CURRENCY, m),
        "DAYS_CREDIT": days_credit,
        "CREDIT_DAY_OVERDUE": day_overdue,
        "DAYS_CREDIT_ENDDATE": np.where(rng.random(m) < 0.061, np.nan, enddate),
        "DAYS_ENDDATE_FACT": np.where(active, np.nan, closed_at),
        "AMT_CREDIT_MAX_OVERDUE": max_overdue,
        "CNT_CREDIT_PROLONG": rng.poisson(0.0065 * np.exp(0.5 * pay)).astype(np.int64),
        "AMT_CREDIT_SUM": np.where(rng.random(m) < 1e-5, np.nan, amount),
        "AMT_CREDIT_SUM_DEBT": np.where(rng.random(m) < 0.142, np.nan, debt),
        "AMT_CREDIT_SUM_LIMIT": np.where(rng.random(m) < 0.374, np.nan, limit),
        "AMT_CREDIT_SUM_OVERDUE": amount_overdue,
        "CREDIT_TYPE": cat.categorical(credit_type, cat.levels(cat.CREDIT_TYPE)),
        "DAYS_CREDIT_UPDATE": update.astype(np.int64),
        "AMT_ANNUITY": annuity,
    })[columns("bureau.csv")]
    return frame, _sample_balance(rng, days_credit, active, closed_at, pay)


def _sample_balance(rng: np.random.Generator, days_credit: np.ndarray, active: np.ndarray,
                    closed_at: np.ndarray, pay: np.ndarray) -> pd.DataFrame:
    """Monthly status rows, month 0 back to the month the credit opened (at most 96 months back)."""
    m = days_credit.size
    covered = rng.random(m) < BALANCE_COVERAGE
    first_month = np.maximum(np.floor(days_credit / 30.4), -MAX_HISTORY_MONTHS).astype(np.int64)
    loan, back = expand(np.where(covered, 1 - first_month, 0))
    month = -back
    closed_month = np.floor(closed_at / 30.4).astype(np.int64)[loan]
    unreported = (rng.random(m) < 0.3)[loan] | (rng.random(loan.size) < 0.08)
    late_logit = -4.6 + 1.4 * pay[loan] + 0.5 * rng.standard_normal(m)[loan]
    late = rng.random(loan.size) < logistic(late_logit)
    bucket = np.minimum(rng.geometric(0.55, loan.size), 5)  # 1 most often, 5 = written off
    code = np.where(late, 2 + bucket, 2)  # index into BUREAU_STATUS_CODES: "0" is 2, "1".."5" are 3..7
    code = np.where(unreported, 1, code)
    code = np.where(~active[loan] & (month > closed_month), 0, code)
    return pd.DataFrame({
        "SK_ID_BUREAU": loan.astype(np.int64),
        "MONTHS_BALANCE": month.astype(np.int64),
        "STATUS": cat.categorical(code, cat.BUREAU_STATUS_CODES),
    })[columns("bureau_balance.csv")]
