"""Benchmark of common.metrics: ROC-AUC against scikit-learn and numpy's argsort (the floor), and the
DeLong standard error against bootstrap (vectorised, and a naive loop over ``roc_auc_score``).

    python bench/metrics.py [--sizes 1e5 1e6 1e7] [--repeats 5] [--naive-boot 50]
"""
from __future__ import annotations

import argparse
import time
from typing import Callable

import numpy as np
from sklearn.metrics import roc_auc_score

from common.metrics import auc_ci, bootstrap_auc_ci, roc_auc

HOME_CREDIT_TRAIN_ROWS = 307_511


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def data(n: int, seed: int = 0, positive_rate: float = 0.08) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < positive_rate).astype(np.int8)
    return y, rng.normal(size=n) + y


def bench_auc(sizes: list[int], repeats: int) -> None:
    print(f"ROC-AUC, median ms of {repeats} repeats (scores continuous; 8% positives)")
    print(f"{'n':>10} {'sklearn':>10} {'roc_auc':>10} {'argsort':>10} {'sklearn/roc_auc':>16} {'roc_auc/argsort':>16}")
    for n in sizes:
        y, s = data(n)
        assert abs(roc_auc(y, s) - roc_auc_score(y, s)) < 1e-12
        reps = max(1, repeats if n <= 1_000_000 else repeats // 2)
        t_sk = median_ms(lambda: roc_auc_score(y, s), reps)
        t_ours = median_ms(lambda: roc_auc(y, s), reps)
        t_floor = median_ms(lambda: np.argsort(s), reps)
        print(f"{n:>10,} {t_sk:>10.1f} {t_ours:>10.1f} {t_floor:>10.1f} {t_sk / t_ours:>16.2f} {t_ours / t_floor:>16.2f}")
    y, s = data(1_000_000)
    s = np.round(s, 2)
    t_sk = median_ms(lambda: roc_auc_score(y, s), repeats)
    t_ours = median_ms(lambda: roc_auc(y, s), repeats)
    print(f"heavy ties (scores rounded to 2 decimals), n=1,000,000: sklearn {t_sk:.1f} ms, "
          f"roc_auc {t_ours:.1f} ms, ratio {t_sk / t_ours:.2f}; |diff| = {abs(roc_auc(y, s) - roc_auc_score(y, s)):.1e}")


def bench_se(n: int, n_boot: int, naive_boot: int) -> None:
    y, s = data(n)
    print(f"\nAUC standard error at n={n:,} (one run each)")
    start = time.perf_counter()
    auc, se_delong, _, _ = auc_ci(y, s)
    t_delong = time.perf_counter() - start
    start = time.perf_counter()
    _, se_boot, _, _ = bootstrap_auc_ci(y, s, n_boot=n_boot, seed=0)
    t_boot = time.perf_counter() - start
    rng = np.random.default_rng(1)
    start = time.perf_counter()
    naive = []
    for _ in range(naive_boot):
        idx = rng.integers(0, n, n)
        naive.append(roc_auc_score(y[idx], s[idx]))
    t_naive = (time.perf_counter() - start) * n_boot / naive_boot
    print(f"{'method':<44} {'seconds':>9} {'SE':>10} {'x DeLong':>9}")
    print(f"{'DeLong (fast, Sun & Xu)':<44} {t_delong:>9.3f} {se_delong:>10.6f} {1.0:>9.1f}")
    print(f"{f'bootstrap, vectorised, {n_boot} resamples':<44} {t_boot:>9.3f} {se_boot:>10.6f} {t_boot / t_delong:>9.1f}")
    label = f"bootstrap, loop of roc_auc_score, {n_boot}*"
    print(f"{label:<44} {t_naive:>9.3f} {np.std(naive, ddof=1):>10.6f} {t_naive / t_delong:>9.1f}")
    print(f"* timed on {naive_boot} resamples and extrapolated to {n_boot}; its SE is from those {naive_boot}.")
    print(f"vectorised bootstrap is {t_naive / t_boot:.1f}x faster than the loop; AUC = {auc:.6f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=float, nargs="+", default=[1e5, 1e6, 1e7])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--naive-boot", type=int, default=50)
    args = parser.parse_args()
    bench_auc([int(n) for n in args.sizes], args.repeats)
    bench_se(HOME_CREDIT_TRAIN_ROWS, args.n_boot, args.naive_boot)


if __name__ == "__main__":
    main()
