"""Rows of previous_application.csv: the clients' earlier applications at Home Credit."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from competitions.home_credit.schema import SENTINEL_DAYS, columns
from competitions.home_credit.synth import categories as cat
from competitions.home_credit.synth.rows import expand, logistic
from competitions.home_credit.synth.traits import Traits

MAX_APPLICATIONS = 70
CASH, CONSUMER, REVOLVING = 0, 1, 2  # codes in PREVIOUS_CONTRACT_TYPE_CODES
APPROVED, REFUSED, CANCELED, UNUSED = 0, 1, 2, 3  # codes in PREVIOUS_STATUS_CODES
YIELD_MONTHLY_RATE = np.array([0.018, 0.028, 0.011, 0.004])  # middle, high, low_normal, low_action
PRODUCT_COMBINATIONS = (
    "Cash", "Cash X-Sell: low", "Cash X-Sell: middle", "Cash X-Sell: high", "Cash Street: low",
    "Cash Street: middle", "Cash Street: high", "Card Street", "Card X-Sell", "POS household with interest",
    "POS household without interest", "POS mobile with interest", "POS mobile without interest",
    "POS industry with interest", "POS industry without interest", "POS other with interest",
    "POS others without interest")


@dataclass(frozen=True)
class PreviousLoans:
    """Facts about the approved previous loans that the monthly tables grow from (one entry per loan)."""

    prev_index: np.ndarray  # local SK_ID_PREV
    client: np.ndarray  # index of the client within the chunk
    kind: np.ndarray  # CASH, CONSUMER or REVOLVING
    decision: np.ndarray  # DAYS_DECISION
    first_due: np.ndarray  # day of the first instalment (cards: first statement)
    n_payments: np.ndarray  # planned number of monthly instalments (cards: 0)
    annuity: np.ndarray
    credit: np.ndarray
    closes_early_after: np.ndarray  # instalments actually paid when the loan was repaid early (else n_payments)


def _one_of(rng: np.random.Generator, weights: cat.Weights, n: int, offset: int = 0) -> np.ndarray:
    return cat.draw(rng, weights, n) + offset


def sample_previous(rng: np.random.Generator, ids: np.ndarray, traits: Traits) -> tuple[pd.DataFrame, PreviousLoans]:
    """Previous applications (SK_ID_PREV local to the chunk) and the approved loans among them."""
    n = traits.n
    has_any = rng.random(n) < 0.95
    mean_more = 3.9 * np.exp(traits.activity + 0.2 * traits.refuse - 0.12)
    count = np.where(has_any, 1 + rng.negative_binomial(1.5, 1.5 / (1.5 + mean_more)), 0)
    client, _ = expand(np.minimum(count, MAX_APPLICATIONS))
    decision = -1 - np.floor(rng.random(client.size) ** 2.2 * 2921.0).astype(np.int64)
    order = np.lexsort((-decision, client))  # per client, oldest application first
    client, decision = client[order], decision[order]
    first_of_client = np.r_[True, client[1:] != client[:-1]]
    m = client.size

    kind = rng.choice(3, size=m, p=[0.42, 0.47, 0.11])
    refuse = traits.refuse[client]
    p_refused = logistic(-2.0 + 1.1 * refuse + 0.4 * (kind == CASH))
    u = rng.random(m)
    status = np.full(m, APPROVED)
    status[u < p_refused] = REFUSED
    p_cancel = np.where(kind == CONSUMER, 0.04, 0.33)
    status[(u >= p_refused) & (rng.random(m) < p_cancel)] = CANCELED
    status[(status == APPROVED) & (kind == CONSUMER) & (rng.random(m) < 0.035)] = UNUSED
    canceled = status == CANCELED

    yield_group = cat.draw(rng, cat.YIELD_GROUP, m)
    monthly_rate = YIELD_MONTHLY_RATE[yield_group] * rng.uniform(0.85, 1.15, m)
    goods = np.where(kind == CONSUMER, np.round(np.exp(rng.normal(np.log(60_000.0), 0.9, m)) * 2) / 2,
                     np.round(np.exp(rng.normal(np.log(225_000.0), 0.8, m)) / 4500.0) * 4500.0)
    goods = np.maximum(goods, 4500.0)
    has_down = (kind == CONSUMER) & (rng.random(m) < 0.95)
    down = np.where(has_down & (rng.random(m) < 0.45), np.round(goods * rng.uniform(0.02, 0.3, m), 2), 0.0)
    n_payments = np.where(kind == CONSUMER, rng.choice([4, 6, 8, 10, 12, 18, 24, 36], m, p=[.03, .15, .05, .2, .3, .12, .1, .05]),
                          rng.choice([6, 12, 18, 24, 30, 36, 48, 60], m, p=[.05, .25, .08, .22, .05, .15, .08, .12]))
    n_payments = np.where(kind == REVOLVING, 0, n_payments)
    card_limit = rng.choice([45000., 67500., 90000., 112500., 135000., 180000., 225000., 270000., 450000.], m)
    application = np.where(kind == REVOLVING, np.where(rng.random(m) < 0.6, 0.0, card_limit), goods)
    credit = np.where(kind == REVOLVING, card_limit,
                      np.where(kind == CASH, np.round(goods * np.where(rng.random(m) < 0.5, 1.0, rng.uniform(1.0, 1.12, m)) * 2) / 2,
                               goods - down))
    credit = np.where((kind == CONSUMER) & (status == REFUSED) & (rng.random(m) < 0.3),
                      np.round(credit * rng.uniform(0.6, 0.95, m) * 2) / 2, credit)
    annuity = np.where(kind == REVOLVING, credit * 0.05,
                       np.round(credit * monthly_rate / (1.0 - (1.0 + monthly_rate) ** -np.maximum(n_payments, 1)), 3))
    application = np.where(canceled, 0.0, application)
    credit = np.where(canceled, 0.0, credit)
    no_terms = canceled | ((kind == REVOLVING) & (rng.random(m) < 0.5))
    annuity_out = np.where(no_terms, np.nan, annuity)
    goods_out = np.where(canceled | (kind == REVOLVING), np.nan, goods)
    cnt_out = np.where(canceled, np.nan, n_payments.astype(float))
    down_out = np.where(has_down & ~canceled, down, np.nan)
    rate_down = np.where(has_down & ~canceled, np.round(down / np.maximum(goods, 1.0), 6), np.nan)
    special_rate = rng.random(m) < 0.0036

    purpose = np.where(kind == CASH, _one_of(rng, cat.CASH_LOAN_PURPOSE, m, 1), 0)
    purpose_levels = ["XAP", *cat.levels(cat.CASH_LOAN_PURPOSE)]
    payment_type = np.where(canceled | (kind == REVOLVING), 1, cat.draw(rng, cat.PAYMENT_TYPE, m))
    reject_levels = ["XAP", "CLIENT", *cat.levels(cat.REFUSED_REASON)]
    reject = np.where(status == REFUSED, _one_of(rng, cat.REFUSED_REASON, m, 2), np.where(status == UNUSED, 1, 0))
    suite = np.where((kind == CONSUMER) | (rng.random(m) < 0.1), cat.draw(rng, cat.TYPE_SUITE, m), -1)
    client_type = np.where(first_of_client & (rng.random(m) < 0.85), 1,
                           rng.choice([0, 2, 3], size=m, p=[0.885, 0.114, 0.001]))
    goods_cat = np.where(kind == CONSUMER, _one_of(rng, cat.GOODS_CATEGORY, m, 1), 0)
    goods_levels = ["XNA", *cat.levels(cat.GOODS_CATEGORY)]
    portfolio = np.where(canceled, 2, np.array([1, 0, 3])[kind])  # POS, Cash, XNA, Cards, Cars
    portfolio[(kind == CONSUMER) & (goods_cat == goods_levels.index("Vehicles")) & (rng.random(m) < 0.3)] = 4
    product_type = np.where(kind == CASH, rng.choice([1, 2], m, p=[0.73, 0.27]), 0)
    channel_levels = ["Credit and cash offices", "Country-wide", "Stone", "Regional / Local", "Contact center",
                      "AP+ (Cash loan)", "Channel of corporate sales", "Car dealer"]
    consumer_channel = np.array([channel_levels.index(k) for k in cat.CONSUMER_CHANNEL])[cat.draw(rng, cat.CONSUMER_CHANNEL, m)]
    cash_channel = np.array([channel_levels.index(k) for k in cat.CASH_CHANNEL])[cat.draw(rng, cat.CASH_CHANNEL, m)]
    channel = np.where(kind == CONSUMER, consumer_channel, cash_channel)
    seller_area = np.where(kind == CONSUMER, np.floor(np.exp(rng.normal(4.0, 1.8, m))), -1).astype(np.int64)
    seller = np.where(kind == CONSUMER, _one_of(rng, cat.SELLER_INDUSTRY, m, 1), 0)
    yield_out = np.where(canceled | (kind == REVOLVING), 0, yield_group + 1)
    product = _product_combination(rng, kind, canceled, product_type, yield_group, goods_cat, goods_levels)

    approved = status == APPROVED
    early_repay = rng.random(m) < 0.25
    paid_before_close = np.where(early_repay, np.ceil(n_payments * rng.uniform(0.2, 0.9, m)), n_payments).astype(np.int64)
    dates = _dates(rng, kind, decision, n_payments, paid_before_close, approved)

    frame = pd.DataFrame({
        "SK_ID_PREV": np.arange(m, dtype=np.int64),
        "SK_ID_CURR": ids[client].astype(np.int64),
        "NAME_CONTRACT_TYPE": cat.categorical(np.where(rng.random(m) < 0.0002, 3, kind), cat.PREVIOUS_CONTRACT_TYPE_CODES),
        "AMT_ANNUITY": annuity_out,
        "AMT_APPLICATION": application,
        "AMT_CREDIT": np.where(rng.random(m) < 1e-6, np.nan, credit),
        "AMT_DOWN_PAYMENT": down_out,
        "AMT_GOODS_PRICE": goods_out,
        "WEEKDAY_APPR_PROCESS_START": cat.sample(rng, cat.PREVIOUS_WEEKDAY, m),
        "HOUR_APPR_PROCESS_START": np.clip(np.round(rng.normal(12.5, 3.3, m)), 0, 23).astype(np.int64),
        "FLAG_LAST_APPL_PER_CONTRACT": cat.categorical((rng.random(m) < 0.995).astype(int), ["N", "Y"]),
        "NFLAG_LAST_APPL_IN_DAY": (rng.random(m) < 0.996).astype(np.int64),
        "RATE_DOWN_PAYMENT": rate_down,
        "RATE_INTEREST_PRIMARY": np.where(special_rate, np.round(rng.uniform(0.035, 1.0, m), 6), np.nan),
        "RATE_INTEREST_PRIVILEGED": np.where(special_rate, np.round(rng.uniform(0.37, 1.0, m), 6), np.nan),
        "NAME_CASH_LOAN_PURPOSE": cat.categorical(purpose, purpose_levels),
        "NAME_CONTRACT_STATUS": cat.categorical(status, cat.PREVIOUS_STATUS_CODES),
        "DAYS_DECISION": decision,
        "NAME_PAYMENT_TYPE": cat.categorical(payment_type, cat.levels(cat.PAYMENT_TYPE)),
        "CODE_REJECT_REASON": cat.categorical(reject, reject_levels),
        "NAME_TYPE_SUITE": cat.categorical(suite, cat.levels(cat.TYPE_SUITE)),
        "NAME_CLIENT_TYPE": cat.categorical(client_type, ["Repeater", "New", "Refreshed", "XNA"]),
        "NAME_GOODS_CATEGORY": cat.categorical(goods_cat, goods_levels),
        "NAME_PORTFOLIO": cat.categorical(portfolio, ["POS", "Cash", "XNA", "Cards", "Cars"]),
        "NAME_PRODUCT_TYPE": cat.categorical(product_type, ["XNA", "x-sell", "walk-in"]),
        "CHANNEL_TYPE": cat.categorical(channel, channel_levels),
        "SELLERPLACE_AREA": seller_area,
        "NAME_SELLER_INDUSTRY": cat.categorical(seller, ["XNA", *cat.levels(cat.SELLER_INDUSTRY)]),
        "CNT_PAYMENT": cnt_out,
        "NAME_YIELD_GROUP": cat.categorical(yield_out, ["XNA", *cat.levels(cat.YIELD_GROUP)]),
        "PRODUCT_COMBINATION": cat.categorical(product, PRODUCT_COMBINATIONS),
        **dates,
        "NFLAG_INSURED_ON_APPROVAL": np.where(approved, (rng.random(m) < np.where(kind == CASH, 0.6, 0.2)).astype(float), np.nan),
    })[columns("previous_application.csv")]

    first_due = np.where(kind == REVOLVING, decision + 30, frame["DAYS_FIRST_DUE"].to_numpy())
    loans = PreviousLoans(prev_index=np.flatnonzero(approved), client=client[approved], kind=kind[approved],
                          decision=decision[approved], first_due=first_due[approved].astype(np.int64),
                          n_payments=n_payments[approved].astype(np.int64), annuity=annuity[approved],
                          credit=credit[approved], closes_early_after=paid_before_close[approved])
    return frame, loans


def _product_combination(rng: np.random.Generator, kind: np.ndarray, canceled: np.ndarray, product_type: np.ndarray,
                         yield_group: np.ndarray, goods_cat: np.ndarray, goods_levels: list[str]) -> np.ndarray:
    """PRODUCT_COMBINATION code consistent with the contract type, channel of sale and yield."""
    level = np.where(yield_group == 0, 1, np.where(yield_group == 1, 2, 0))  # 0 low, 1 middle, 2 high
    cash = np.where(canceled, 0, np.where(product_type == 2, 4, 1) + level)
    card = np.where(rng.random(kind.size) < 0.6, 7, 8)
    goods_name = np.array(goods_levels, dtype=object)[goods_cat]
    family = np.where(goods_name == "Mobile", 11, np.where(np.isin(goods_name, ["Furniture", "Construction Materials"]), 13,
                      np.where(np.isin(goods_name, ["Clothing and Accessories", "Auto Accessories", "Jewelry"]), 15, 9)))
    pos = family + (yield_group == 3)
    code = np.select([kind == 0, kind == 2], [cash, card], pos)
    code[rng.random(kind.size) < 0.0002] = -1
    return code


def _dates(rng: np.random.Generator, kind: np.ndarray, decision: np.ndarray, n_payments: np.ndarray,
           paid_before_close: np.ndarray, approved: np.ndarray) -> dict[str, np.ndarray]:
    """Drawing and due dates of approved loans; 365243 where a date does not apply, NaN for other statuses."""
    m = kind.size
    revolving = kind == REVOLVING
    first_drawing = np.where(revolving & (rng.random(m) < 0.7), decision + rng.integers(0, 30, m), SENTINEL_DAYS)
    first_due = decision + rng.integers(10, 45, m)
    first_due = np.where(revolving, np.where(first_drawing == SENTINEL_DAYS, SENTINEL_DAYS, first_drawing + 30), first_due)
    last_due_planned = np.where(revolving, SENTINEL_DAYS, first_due + 30 * (np.maximum(n_payments, 1) - 1))
    last_due_actual = first_due + 30 * (np.maximum(paid_before_close, 1) - 1)
    finished = ~revolving & (last_due_actual < 0)
    last_due = np.where(finished, last_due_actual, SENTINEL_DAYS)
    termination = np.where(finished, np.minimum(last_due + rng.integers(0, 15, m), -1), SENTINEL_DAYS)

    def approved_only(x: np.ndarray) -> np.ndarray:
        return np.where(approved, x.astype(float), np.nan)

    return {"DAYS_FIRST_DRAWING": approved_only(first_drawing), "DAYS_FIRST_DUE": approved_only(first_due),
            "DAYS_LAST_DUE_1ST_VERSION": approved_only(last_due_planned), "DAYS_LAST_DUE": approved_only(last_due),
            "DAYS_TERMINATION": approved_only(termination)}
