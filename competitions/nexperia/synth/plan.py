"""Plan a synthetic dataset before drawing it: ids, labels, defect types, duplicates, label noise.

The plan is one row per image (train rows first, then test) and fixes everything random except the
pixels, which ``render`` draws from each row's ``render_seed``. Copies (duplicates) point at their
source row through ``source`` and render the same scene.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from competitions.nexperia.synth.render import DEFECT_TYPES, DEFECT_WEIGHTS
from competitions.nexperia.synth.scene import PRODUCTS

from common.errors import BadInput

_LOT_PREFIXES = ("WEP", "WFA", "WEQ", "WGB", "VDT")
_LOT_SUFFIXES = ("H1A", "H2A", "J1B", "K1A")


@dataclass(frozen=True)
class PlanParams:
    n_train: int
    n_test: int
    seed: int
    noise_rate: float = 0.02
    defect_rate: float = 0.2
    subtle_rate: float = 0.2  # share of defects drawn tiny or faint
    area_rate: float = 0.95  # share of labelled train defects listed in defect_area.csv
    shift: float = 0.0  # share of test images shot with a changed acquisition (0: none)


def _lots(rng: np.random.Generator, n_images: int) -> pd.DataFrame:
    n = max(4, n_images // 150)
    codes: set[str] = set()
    while len(codes) < n:
        codes.add(f"{rng.choice(_LOT_PREFIXES)}{rng.integers(100000, 1000000)}{rng.choice(_LOT_SUFFIXES)}")
    return pd.DataFrame({"lot": sorted(codes), "product": rng.integers(len(PRODUCTS), size=n)})


def _make_ids(rng: np.random.Generator, lots: np.ndarray, products: np.ndarray) -> list[str]:
    """``<lot>_<product code>_<int>_<int>``, unique, like ``WEP937068H1A_21-5CW-ITISA46-1_254_2``."""
    seen: set[str] = set()
    ids = []
    for lot, product in zip(lots, products):
        while True:
            ident = f"{lot}_{PRODUCTS[product].code}_{rng.integers(1, 400)}_{rng.integers(1, 9)}"
            if ident not in seen:
                break
        seen.add(ident)
        ids.append(ident)
    return ids


def _pick(rng: np.random.Generator, pool: np.ndarray, used: set[int]) -> int:
    choices = np.array([i for i in pool if i not in used])
    if len(choices) == 0:
        raise BadInput("too few images to plant the duplicates: use more images")
    i = int(rng.choice(choices))
    used.add(i)
    return i


def plan_dataset(p: PlanParams) -> pd.DataFrame:
    """One row per image with its truth; see ``generate`` for the columns that reach ``_truth.csv``."""
    if p.n_train < 50 or p.n_test < 10:
        raise BadInput(f"need at least 50 train and 10 test images, got {p.n_train} and {p.n_test}")
    if not 0 <= p.noise_rate < 1:
        raise BadInput(f"noise_rate must be in [0, 1), got {p.noise_rate}")
    rng = np.random.default_rng(np.random.SeedSequence([p.seed, 0]))
    n = p.n_train + p.n_test
    split = np.array(["train"] * p.n_train + ["test"] * p.n_test)
    lots = _lots(rng, n)
    lot_of = rng.integers(len(lots), size=n)
    df = pd.DataFrame({"split": split, "lot": lots["lot"].to_numpy()[lot_of],
                       "product": lots["product"].to_numpy()[lot_of]})
    label = np.zeros(n, np.int8)
    for lo, hi in ((0, p.n_train), (p.n_train, n)):
        label[lo + rng.permutation(hi - lo)[:round(p.defect_rate * (hi - lo))]] = 1
    df["label_true"] = label
    df["defect_type"] = np.where(label == 1, rng.choice(DEFECT_TYPES, size=n, p=DEFECT_WEIGHTS), "")
    subtle = rng.random(n) < p.subtle_rate
    df["severity"] = np.where(subtle, rng.uniform(0.0, 0.12, n), rng.uniform(0.2, 1.0, n)) * label
    local = (label == 1) & ~df["defect_type"].isin(["device_flip", "empty_pocket"]).to_numpy()
    df["subtle"] = (subtle & local).astype(np.int8)
    df["render_seed"] = rng.integers(0, 2**62, size=n)
    df["source"] = np.arange(n)
    df["dup_group"] = -1
    df["dup_kind"] = ""
    conflict_groups = _plant_duplicates(df, rng, p)
    df["id"] = _make_ids(rng, df["lot"].to_numpy(), df["product"].to_numpy())
    df["flipped"] = _plant_label_noise(df, rng, p.noise_rate, conflict_groups)
    df["label_given"] = np.where(df["split"] == "train", df["label_true"] - df["flipped"], -1).astype(np.int8)
    labelled = np.flatnonzero(df["label_given"].to_numpy() == 1)
    listed = np.zeros(n, np.int8)
    listed[rng.permutation(labelled)[:round(p.area_rate * len(labelled))]] = 1
    df["in_defect_area"] = listed
    if p.shift > 0:
        df["shifted"] = _plant_shift(df, p)
    return df


def _plant_shift(df: pd.DataFrame, p: PlanParams) -> np.ndarray:
    """Mark ``round(shift * n_test)`` test images for the acquisition change, drawn from their own stream
    (the plan without a shift is unchanged); duplicates of training images are left alone so that exact
    train-test copies stay exact."""
    if not 0 <= p.shift <= 1:
        raise BadInput(f"shift must be in [0, 1] (the share of shifted test images), got {p.shift}")
    rng = np.random.default_rng(np.random.SeedSequence([p.seed, 3]))
    pool = np.flatnonzero((df["split"].to_numpy() == "test") & (df["dup_group"].to_numpy() < 0))
    shifted = np.zeros(len(df), np.int8)
    shifted[rng.permutation(pool)[:min(len(pool), round(p.shift * p.n_test))]] = 1
    return shifted


def _plant_duplicates(df: pd.DataFrame, rng: np.random.Generator, p: PlanParams) -> list[int]:
    """Turn some rows into copies of others; returns the within-train groups meant to conflict.

    Groups per kind (exact, near) and place (inside train, train->test): about 1 per 4,000 images each,
    at least 2 (the real data has about 36 exact duplicates in 38k images). Half the inside-train
    sources are defects, so that label noise can make them conflict.
    """
    n = len(df)
    per_kind = max(2, round(n / 4000))
    train = np.flatnonzero(df["split"].to_numpy() == "train")
    test = np.flatnonzero(df["split"].to_numpy() == "test")
    defects = train[df["label_true"].to_numpy()[train] == 1]
    used: set[int] = set()
    group = 0
    conflicts: list[int] = []
    copy_cols = ["lot", "product", "label_true", "defect_type", "severity", "subtle", "render_seed"]
    for kind in ("exact", "near"):
        for place in ("train", "test"):
            for g in range(per_kind):
                pool = defects if place == "train" and g % 2 == 0 and len(defects) else train
                src = _pick(rng, pool, used)
                size = 3 if rng.random() < 0.2 else 2
                members = [src] + [_pick(rng, train if place == "train" else test, used) for _ in range(size - 1)]
                for m in members[1:]:
                    for col in copy_cols:
                        df.at[m, col] = df.at[src, col]
                    df.loc[m, "source"] = src
                    df.loc[m, "dup_kind"] = kind
                df.loc[members, "dup_group"] = group
                df.loc[src, "dup_kind"] = kind
                if place == "train" and df.loc[src, "label_true"] == 1 and g == 0:
                    conflicts.append(group)
                group += 1
    return conflicts


def _plant_label_noise(df: pd.DataFrame, rng: np.random.Generator, rate: float,
                       conflict_groups: list[int]) -> np.ndarray:
    """Mark ``rate`` of the true train defects as labelled good, one copy in each conflict group first."""
    flipped = np.zeros(len(df), np.int8)
    candidates = np.flatnonzero((df["split"].to_numpy() == "train") & (df["label_true"].to_numpy() == 1))
    budget = round(rate * len(candidates))
    if budget == 0:
        return flipped
    groups = df["dup_group"].to_numpy()
    source = df["source"].to_numpy()
    for g in conflict_groups[:budget]:
        copy = np.flatnonzero((groups == g) & (source != np.arange(len(df))))[0]
        flipped[copy] = 1
    free = np.setdiff1d(candidates, np.flatnonzero(groups >= 0))
    flipped[rng.permutation(free)[:budget - int(flipped.sum())]] = 1
    return flipped
