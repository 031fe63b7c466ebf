"""Benchmark of the Home Credit pipeline: loading + features cold, from cache, the plain-pandas way, and
the share of 5-fold training time spent outside LightGBM.

    python bench/home_credit.py --data data/home_credit_50k
    python bench/home_credit.py --data data/home_credit_real_size --stages cold cached plain

Each stage runs in a fresh process, so its peak RSS (VmHWM from /proc) is its own; CPU seconds are
quoted beside wall time because a shared machine stretches wall time. The cold stage starts from an
empty cache folder. 'plain' computes the same aggregations on frames read by a
default ``pandas.read_csv`` (float64/int64/str, no categories, no parquet cache).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pandas as pd

GIB = 1024 ** 3


def peak_rss_bytes() -> int:
    """This process's peak resident memory (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _stage_features(data_dir: str, cache_root: str, load_first: bool) -> dict:
    """The kit's way: tables parsed with dtypes and cached as parquet (``load_first``), then every feature
    group; a second run finds the groups cached and never opens the tables."""
    os.environ["KIT_CACHE_ROOT"] = cache_root
    from competitions.home_credit.data import load_tables
    from competitions.home_credit.features.build import build_features

    start, cpu = time.perf_counter(), cpu_seconds()
    if load_first:
        load_tables(data_dir)
    loaded = time.perf_counter()
    matrix = build_features(data_dir)
    return {"load_s": loaded - start, "features_s": time.perf_counter() - loaded,
            "wall_s": time.perf_counter() - start, "cpu_s": cpu_seconds() - cpu, "peak_rss": peak_rss_bytes(),
            "shape": list(matrix.shape)}


def _stage_plain(data_dir: str) -> dict:
    """The same feature functions on frames as a default read_csv returns them (no downcasting)."""
    from competitions.home_credit.features.aggregate import KEY
    from competitions.home_credit.features.build import GROUPS, cross_features

    start, cpu = time.perf_counter(), cpu_seconds()
    load = features = 0.0
    matrix = None
    for group in GROUPS.values():
        t0 = time.perf_counter()
        tables = [pd.read_csv(Path(data_dir) / f"{t}.csv") for t in group.tables]
        t1 = time.perf_counter()
        frame = group.build(*tables)
        del tables
        frame = frame if group.name == "application" else frame.rename_axis(KEY).reset_index()
        matrix = frame if matrix is None else matrix.merge(frame, on=KEY, how="left")
        load, features = load + t1 - t0, features + time.perf_counter() - t1
    matrix = pd.concat([matrix, cross_features(matrix)], axis=1)
    return {"load_s": load, "features_s": features, "wall_s": time.perf_counter() - start,
            "cpu_s": cpu_seconds() - cpu, "peak_rss": peak_rss_bytes(), "shape": list(matrix.shape)}


def _stage_train(data_dir: str, cache_root: str, runs_root: str, extra: list[str]) -> dict:
    os.environ["KIT_CACHE_ROOT"] = cache_root
    os.environ["KIT_RUNS_ROOT"] = runs_root
    from competitions.home_credit import train

    start = time.perf_counter()
    metrics = train.main(["--data", data_dir, "--name", "bench", "--log-period", "0", *extra])
    return {"wall_s": time.perf_counter() - start, "peak_rss": peak_rss_bytes(), "timing": metrics["timing"],
            "cpu_s": cpu_seconds(),
            "oof_auc": metrics["oof"]["auc_given"]["auc"], "n_features": metrics["n_features"]}


def in_fresh_process(fn, *args) -> dict:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="a Home Credit data folder (synthetic or real)")
    parser.add_argument("--stages", nargs="+", default=["cold", "cached", "plain", "train"],
                        choices=["cold", "cached", "plain", "train"])
    parser.add_argument("--threads", type=int, default=2, help="LightGBM threads for the train stage")
    parser.add_argument("--train-args", nargs=argparse.REMAINDER, default=[],
                        help="extra train.py options (default: the demo config)")
    parser.add_argument("--work", default=None, help="folder for the bench caches/runs (default: a temp dir)")
    args = parser.parse_args()
    data_dir = str(Path(args.data).resolve())
    work = Path(args.work or tempfile.mkdtemp(prefix="bench_home_credit_"))
    cache, runs = str(work / "cache"), str(work / "runs")
    sizes = {t: sum(1 for _ in open(Path(data_dir) / f"{t}.csv", "rb")) - 1
             for t in ("application_train", "application_test")}
    print(f"data {data_dir}: {sizes['application_train']:,} train + {sizes['application_test']:,} test clients; "
          f"{os.cpu_count()} CPUs; work folder {work}")
    results: dict = {}
    rows = []
    if "cold" in args.stages:
        results["cold"] = r = in_fresh_process(_stage_features, data_dir, cache, True)
        rows.append(("load CSVs + all features (cold cache)", r))
    if "cached" in args.stages:
        results["cached"] = r = in_fresh_process(_stage_features, data_dir, cache, False)
        rows.append(("second run (parquet caches)", r))
    if "plain" in args.stages:
        results["plain"] = r = in_fresh_process(_stage_plain, data_dir)
        rows.append(("plain pandas (default read_csv, float64/str)", r))
    if "train" in args.stages:
        extra = args.train_args or ["--config", "competitions/home_credit/configs/demo.yaml"]
        extra = [*extra, "--num-threads", str(args.threads)]
        results["train"] = r = in_fresh_process(_stage_train, data_dir, cache, runs, extra)
        rows.append(("5-fold training (train.py)", r))

    print(f"\n{'stage':<48} {'load s':>7} {'features s':>10} {'wall s':>7} {'CPU s':>7} {'peak RSS GiB':>12}")
    for name, r in rows:
        print(f"{name:<48} {r.get('load_s', float('nan')):>7.1f} {r.get('features_s', float('nan')):>10.1f} "
              f"{r['wall_s']:>7.1f} {r.get('cpu_s', float('nan')):>7.1f} {r['peak_rss'] / GIB:>12.2f}")
    if "cold" in results:
        print(f"feature matrix: {results['cold']['shape'][0]:,} clients x {results['cold']['shape'][1]} columns")
    if "cold" in results and "plain" in results:
        cold, plain = results["cold"], results["plain"]
        print(f"\nplain / kit: feature aggregations wall x{plain['features_s'] / cold['features_s']:.2f}; "
              f"whole stage wall x{plain['wall_s'] / cold['wall_s']:.2f}, CPU x{plain['cpu_s'] / cold['cpu_s']:.2f}, "
              f"peak RSS x{plain['peak_rss'] / cold['peak_rss']:.2f} (kit's stage includes writing the parquet caches)")
    if "train" in results:
        t = results["train"]["timing"]
        print(f"\ntraining: total {t['total_s']:.1f} s, "
              f"LightGBM (Dataset + boosting + predict) {t['lightgbm_s']:.1f} s, "
              f"overhead {t['overhead_s']:.1f} s = {100 * t['overhead_ratio']:.1f}% of LightGBM "
              f"(features from cache {t.get('features_s', 0):.1f} s, fold inputs incl. target encoding "
              f"{t.get('fold_inputs_s', 0):.1f} s, model files {t.get('writing_s', 0):.1f} s, "
              f"importance and ROC plots {t.get('summary_s', 0):.1f} s); "
              f"OOF AUC {results['train']['oof_auc']:.4f} with {results['train']['n_features']} features")
    (work / "bench_home_credit.json").write_text(json.dumps(results, indent=2))
    print(f"\nraw figures: {work / 'bench_home_credit.json'}")


if __name__ == "__main__":
    main()
