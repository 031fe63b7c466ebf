"""Monthly and per-instalment rows of approved previous loans: POS_CASH_balance.csv,
installments_payments.csv and credit_card_balance.csv."""
from __future__ import annotations

import numpy as np
import pandas as pd

from competitions.home_credit.schema import columns
from competitions.home_credit.synth import categories as cat
from competitions.home_credit.synth.previous import CASH, CONSUMER, REVOLVING, PreviousLoans
from competitions.home_credit.synth.rows import expand, logistic
from competitions.home_credit.synth.traits import Traits

MAX_HISTORY_MONTHS = 96
DAYS_PER_MONTH = 30.4


def _recent(months_back: np.ndarray) -> np.ndarray:
    """1 within the last 12 months, fading to 0 over the following 12."""
    return np.clip((24.0 + months_back) / 12.0, 0.0, 1.0)


def sample_pos_cash(rng: np.random.Generator, ids: np.ndarray, traits: Traits, loans: PreviousLoans) -> pd.DataFrame:
    """Monthly snapshots of approved cash and consumer loans, from the signing month to the last month."""
    keep = np.isin(loans.kind, (CASH, CONSUMER)) & (rng.random(loans.kind.size) < 0.95)
    start = np.floor(loans.decision / DAYS_PER_MONTH).astype(np.int64)
    full_length = loans.closes_early_after + 1
    length = np.where(keep, np.minimum(full_length, -start), 0)
    loan, k = expand(length)
    month = start[loan] + k
    finished_row = (full_length[loan] <= -start[loan]) & (k == length[loan] - 1)
    n_pay = loans.n_payments[loan]
    future = np.where(finished_row, 0, np.maximum(n_pay - k, 0)).astype(float)
    status = np.where(finished_row, 1, 0)
    odd = rng.random(loan.size)
    status = np.where((k == 0) & (odd < 0.08), 2, status)  # Signed
    status = np.where(~finished_row & (odd > 0.9985), 3, status)  # Demand
    status = np.where((k == 0) & (odd > 0.998), 4, status)  # Returned to the store

    client = loans.client[loan]
    late_logit = (-4.3 + 1.4 * traits.pay[client] + 1.3 * traits.trend[client] * _recent(month)
                  + 0.6 * rng.standard_normal(loans.kind.size)[loan])
    late = (rng.random(loan.size) < logistic(late_logit)) & (k > 0)
    dpd = np.where(late, np.ceil(rng.exponential(12.0 * np.exp(0.4 * traits.pay[client]))), 0).astype(np.int64)
    dpd_def = np.where(late & (rng.random(loan.size) < 0.35), dpd, 0).astype(np.int64)
    instalments = n_pay.astype(float)
    missing = rng.random(loan.size) < 0.0026
    frame = pd.DataFrame({
        "SK_ID_PREV": loans.prev_index[loan].astype(np.int64),
        "SK_ID_CURR": ids[client].astype(np.int64),
        "MONTHS_BALANCE": month,
        "CNT_INSTALMENT": np.where(missing, np.nan, instalments),
        "CNT_INSTALMENT_FUTURE": np.where(missing, np.nan, future),
        "NAME_CONTRACT_STATUS": cat.categorical(status, cat.POS_STATUS_CODES),
        "SK_DPD": dpd,
        "SK_DPD_DEF": dpd_def,
    })[columns("POS_CASH_balance.csv")]
    return frame[frame["MONTHS_BALANCE"].to_numpy() >= -MAX_HISTORY_MONTHS]


def sample_installments(rng: np.random.Generator, ids: np.ndarray, traits: Traits, loans: PreviousLoans) -> pd.DataFrame:
    """One row per instalment already due: when it was due, when and how much was paid."""
    instalment_loan = np.isin(loans.kind, (CASH, CONSUMER))
    due_so_far = np.where(loans.first_due <= -1, (-1 - loans.first_due) // 30 + 1, 0)
    length = np.where(instalment_loan, np.minimum(loans.closes_early_after, due_so_far), 0)
    loan, k = expand(length)
    client = loans.client[loan]
    n = loan.size
    due = (loans.first_due[loan] + 30 * k).astype(float)
    version = np.where(rng.random(n) < 0.12, 2.0, 1.0)
    version = np.where(k == 0, 1.0, version)

    pay, trend = traits.pay[client], traits.trend[client]
    late_logit = (-3.3 + 1.3 * pay + 1.4 * trend * _recent(due / DAYS_PER_MONTH)
                  + 0.5 * rng.standard_normal(loans.kind.size)[loan])
    late = rng.random(n) < logistic(late_logit)
    delay = np.where(late, 1.0 + np.floor(rng.exponential(6.0 * np.exp(0.4 * pay))), -np.floor(rng.exponential(9.0, n)))
    entry = np.minimum(due + delay, -1.0)
    amount = np.round(loans.annuity[loan], 3)
    last = k == loans.closes_early_after[loan] - 1
    early_close = last & (loans.closes_early_after[loan] < loans.n_payments[loan])
    amount = np.where(early_close, np.round(amount * (loans.n_payments[loan] - k) * 0.9, 3), amount)
    short = rng.random(n) < logistic(-4.0 + 1.1 * pay + 0.8 * trend * _recent(due / DAYS_PER_MONTH))
    paid = np.where(short, np.round(amount * rng.uniform(0.05, 0.95, n), 3), amount)
    unpaid = rng.random(n) < 0.0002
    # Some instalments are paid in two or three parts: one row per payment, same instalment number.
    row, part = expand(np.where(rng.random(n) < 0.18, rng.integers(2, 4, n), 1))
    parts = np.bincount(row, minlength=n)[row]
    share = 1.0 / parts
    part_entry = np.minimum(entry[row] + np.where(part > 0, np.floor(rng.exponential(10.0, row.size)), 0.0), -1.0)
    return pd.DataFrame({
        "SK_ID_PREV": loans.prev_index[loan][row].astype(np.int64),
        "SK_ID_CURR": ids[client][row].astype(np.int64),
        "NUM_INSTALMENT_VERSION": version[row],
        "NUM_INSTALMENT_NUMBER": (k + 1)[row].astype(np.int64),
        "DAYS_INSTALMENT": due[row],
        "DAYS_ENTRY_PAYMENT": np.where(unpaid[row], np.nan, part_entry),
        "AMT_INSTALMENT": amount[row],
        "AMT_PAYMENT": np.where(unpaid[row], np.nan, np.round(paid[row] * share, 3)),
    })[columns("installments_payments.csv")]


def sample_credit_card(rng: np.random.Generator, ids: np.ndarray, traits: Traits, loans: PreviousLoans) -> pd.DataFrame:
    """Monthly statements of approved revolving loans (credit cards)."""
    card = loans.kind == REVOLVING
    start = np.maximum(np.floor(loans.decision / DAYS_PER_MONTH).astype(np.int64), -MAX_HISTORY_MONTHS)
    closes = rng.random(card.size) < 0.15
    full = -start
    length = np.where(card, np.where(closes, np.maximum(1, np.floor(full * rng.uniform(0.2, 1.0, card.size))), full), 0)
    loan, k = expand(length.astype(np.int64))
    client = loans.client[loan]
    n = loan.size
    month = start[loan] + k
    limit = np.where(rng.random(card.size) < 0.05, 0.0, loans.credit)[loan]
    recent = _recent(month)
    lev, pay, trend = traits.lev[client], traits.pay[client], traits.trend[client]

    used = rng.random(n) < logistic(1.0 + 0.8 * lev + 0.6 * rng.standard_normal(card.size)[loan])
    utilisation = logistic(-0.8 + 1.3 * lev + 0.8 * trend * recent + 0.6 * rng.standard_normal(card.size)[loan]
                           + 0.4 * rng.standard_normal(n))
    balance = np.where(used, np.round(limit * utilisation, 3), 0.0)
    drawings = np.where(used, np.round(balance * rng.uniform(0.0, 0.35, n), 2), 0.0)
    atm_share = np.where(rng.random(n) < 0.5, rng.random(n), 0.0)
    atm = np.round(drawings * atm_share / 4500.0) * 4500.0
    pos = np.maximum(drawings - atm, 0.0)
    other = np.where(rng.random(n) < 0.005, np.round(drawings * 0.5, 2), 0.0)
    drawings = atm + pos + other
    cnt_atm = np.ceil(atm / 9000.0)
    cnt_pos = np.where(pos > 0, 1 + rng.poisson(pos / 20000.0), 0).astype(float)
    cnt_other = (other > 0).astype(float)
    minimum = np.round(balance * 0.05, 3)
    late = used & (rng.random(n) < logistic(-4.3 + 1.3 * pay + 1.0 * trend * recent))
    payment = np.where(late, 0.0, np.round(minimum * rng.uniform(1.0, 3.0, n), 3))
    dpd = np.where(late, np.ceil(rng.exponential(15.0 * np.exp(0.4 * pay))), 0).astype(np.int64)
    inactive = ~used & (rng.random(n) < 0.9)
    no_payment = inactive | ((payment == 0.0) & (rng.random(n) < 0.5))
    first_months = k < 2
    status = np.where(closes[loan] & (k == length[loan] - 1), 1, 0)
    status = np.where((k == 0) & (rng.random(n) < 0.03), 2, status)

    def when_active(x: np.ndarray) -> np.ndarray:
        return np.where(inactive, np.nan, x)

    return pd.DataFrame({
        "SK_ID_PREV": loans.prev_index[loan].astype(np.int64),
        "SK_ID_CURR": ids[client].astype(np.int64),
        "MONTHS_BALANCE": month,
        "AMT_BALANCE": balance,
        "AMT_CREDIT_LIMIT_ACTUAL": limit.astype(np.int64),
        "AMT_DRAWINGS_ATM_CURRENT": when_active(atm),
        "AMT_DRAWINGS_CURRENT": drawings,
        "AMT_DRAWINGS_OTHER_CURRENT": when_active(other),
        "AMT_DRAWINGS_POS_CURRENT": when_active(pos),
        "AMT_INST_MIN_REGULARITY": np.where(first_months, np.nan, minimum),
        "AMT_PAYMENT_CURRENT": np.where(no_payment, np.nan, payment),
        "AMT_PAYMENT_TOTAL_CURRENT": np.where(no_payment, 0.0, payment),
        "AMT_RECEIVABLE_PRINCIPAL": np.round(balance * 0.96, 3),
        "AMT_RECIVABLE": balance,
        "AMT_TOTAL_RECEIVABLE": balance,
        "CNT_DRAWINGS_ATM_CURRENT": when_active(cnt_atm),
        "CNT_DRAWINGS_CURRENT": (cnt_atm + cnt_pos + cnt_other).astype(np.int64),
        "CNT_DRAWINGS_OTHER_CURRENT": when_active(cnt_other),
        "CNT_DRAWINGS_POS_CURRENT": when_active(cnt_pos),
        "CNT_INSTALMENT_MATURE_CUM": np.where(first_months, np.nan, np.maximum(k - 1, 0).astype(float)),
        "NAME_CONTRACT_STATUS": cat.categorical(status, cat.CARD_STATUS_CODES),
        "SK_DPD": dpd,
        "SK_DPD_DEF": np.where(dpd > 30, dpd, 0).astype(np.int64),
    })[columns("credit_card_balance.csv")]
