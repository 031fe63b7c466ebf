"""Observable behaviour of each client, aggregated from the side tables as written, and the side part of
the true logit built from it.

The latent traits drive how clients behave (see `traits.py`); the target depends on what that behaviour
left in the files, so the truth can be recomputed from the data: `side_logit_parts(client_behaviour(...))`
on the written tables gives the `logit_<name>` columns of `_truth.csv`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

KEY = "SK_ID_CURR"
RECENT_DAYS = 365.0

INTERCEPT = -3.35
"""Chosen so that about 8% of train clients default (the real rate is 8.1%)."""

SIDE_WEIGHTS = {
    "late_share": 2.6,  # installments: share of payments made after the due day
    "days_late": 0.30,  # installments: log1p of the mean days past due
    "recent_late": 1.6,  # installments: share of late payments over the last year minus the share before
    "bureau_debt": 1.3,  # bureau: open debt / amount of the active credits
    "bureau_overdue": 0.55,  # bureau: some active credit is overdue now
    "refused": 0.45,  # previous applications: log1p of the number refused
    "card_use": 1.1,  # credit cards: mean balance / limit
    "pos_dpd": 0.35,  # POS and cash loans: log1p of the months with days past due
}
"""Logit weight of each behaviour aggregate (all are 0 for a client without the rows they need)."""

SIDE_CENTRES = {"late_share": 0.14, "days_late": 0.7, "recent_late": 0.0, "bureau_debt": 0.32,
                "bureau_overdue": 0.04, "refused": 0.47, "card_use": 0.07, "pos_dpd": 0.4}
"""Mean of each aggregate over clients, subtracted so that the intercept is the logit of a typical client."""


def _per_client(values: pd.Series, clients: pd.Series, ids: np.ndarray, how: str) -> np.ndarray:
    """`how` ('sum', 'mean', 'max', 'count') of `values` per client, in the order of `ids` (NaN where none)."""
    return values.groupby(clients.to_numpy(), sort=False).agg(how).reindex(ids).to_numpy(np.float64)


def _share(hits: np.ndarray, seen: np.ndarray) -> np.ndarray:
    return np.divide(hits, seen, out=np.zeros_like(hits), where=seen > 0)


def client_behaviour(ids: np.ndarray, bureau: pd.DataFrame, previous: pd.DataFrame, pos: pd.DataFrame,
                     installments: pd.DataFrame, card: pd.DataFrame) -> pd.DataFrame:
    """One row per client of `ids` (same order) with the behaviour aggregates named in SIDE_WEIGHTS."""
    ins = installments[installments["DAYS_ENTRY_PAYMENT"].notna()]
    overdue_days = (ins["DAYS_ENTRY_PAYMENT"] - ins["DAYS_INSTALMENT"]).clip(lower=0.0)
    late = (overdue_days > 0).astype(np.float64)
    recent = (ins["DAYS_INSTALMENT"] >= -RECENT_DAYS).astype(np.float64)
    who = ins[KEY]
    seen = np.nan_to_num(_per_client(late, who, ids, "count"))
    n_late = np.nan_to_num(_per_client(late, who, ids, "sum"))
    seen_recent = np.nan_to_num(_per_client(recent, who, ids, "sum"))
    late_recent = np.nan_to_num(_per_client(late * recent, who, ids, "sum"))
    has_both = (seen_recent > 0) & (seen - seen_recent > 0)
    older_share = _share(n_late - late_recent, seen - seen_recent)
    recent_late = np.where(has_both, _share(late_recent, seen_recent) - older_share, 0.0)

    active = bureau[bureau["CREDIT_ACTIVE"] == "Active"]
    debt = np.nan_to_num(_per_client(active["AMT_CREDIT_SUM_DEBT"], active[KEY], ids, "sum"))
    amount = np.nan_to_num(_per_client(active["AMT_CREDIT_SUM"], active[KEY], ids, "sum"))
    overdue = np.nan_to_num(_per_client((active["CREDIT_DAY_OVERDUE"] > 0).astype(np.float64), active[KEY], ids, "max"))

    refused = np.nan_to_num(_per_client((previous["NAME_CONTRACT_STATUS"] == "Refused").astype(np.float64),
                                        previous[KEY], ids, "sum"))
    with_limit = card[card["AMT_CREDIT_LIMIT_ACTUAL"] > 0]
    use = (with_limit["AMT_BALANCE"] / with_limit["AMT_CREDIT_LIMIT_ACTUAL"]).clip(0.0, 1.5)
    pos_dpd = np.nan_to_num(_per_client((pos["SK_DPD"] > 0).astype(np.float64), pos[KEY], ids, "sum"))

    return pd.DataFrame({
        "late_share": _share(n_late, seen),
        "days_late": np.log1p(_share(np.nan_to_num(_per_client(overdue_days, who, ids, "sum")), seen)),
        "recent_late": recent_late,
        "bureau_debt": np.clip(_share(debt, amount), 0.0, 1.5),
        "bureau_overdue": overdue,
        "refused": np.log1p(refused),
        "card_use": np.nan_to_num(_per_client(use, with_limit[KEY], ids, "mean")),
        "pos_dpd": np.log1p(pos_dpd),
    })


def side_logit_parts(behaviour: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per-aggregate contributions (`logit_<name>`) of the behaviour part of the logit."""
    return {f"logit_{name}": weight * (behaviour[name].to_numpy(np.float64) - SIDE_CENTRES[name])
            for name, weight in SIDE_WEIGHTS.items()}
