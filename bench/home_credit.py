"""Benchmark of the Home Credit pipeline: the kit's tables + features cold and from cache, the same
aggregations in plain pandas, the engine's floor (a bare parse of the same CSVs), and 5-fold training.

    python bench/home_credit.py --data data/home_credit_real --stages floor cold cached plain
    python bench/home_credit.py --data data/home_credit_real --stages cold
    python bench/home_credit.py --data data/home_credit_real --stages train [--train-args --config ...]

Each stage runs in a fresh process, so its peak RSS (VmHWM from /proc) is its own; CPU seconds are quoted
beside wall time because a shared machine stretches wall time.
- floor: polars reads the eight CSVs with the schema's dtypes and nothing else (no checks, no caches, no
  features): the least any loader built on that engine can take.
- cold: ``build_features`` from an empty cache folder: CSVs parsed and checked (history tables grouped by
  client), feature groups cached as Arrow files (a table is cached from its second parse on), the matrix handed
  over as pandas.
- cached: the same call again (every group read from its cache).
- rebuild: every group rebuilt, as after a change to the feature code: the first one after ``cold`` parses the
  CSVs again and caches the tables, a second one (``--stages cold rebuild rebuild``) reads those.
- plain: the same aggregations on frames as a default ``pandas.read_csv`` returns them (float64/int64/str, no
  categories, no cache; the pandas code in bench/plain_pandas, the kit's before polars), then checked against
  the kit's matrix: the UNDERPAID columns differ (``paid < due - 0.01`` falls otherwise on a few float64
  instalments than on float32 ones); on the same float32 tables the two agreed column for column
  (tests/home_credit/test_features_equivalence.py, in the commit that brought polars).
- train: ``train.py`` on the cached features (default: the demo recipe), with ``metrics.json``'s timing: the
  share of the run spent outside ``lgb.train`` (binning included).
With ``--stages cold`` the last line is ``cold features <wall> s wall, <peak> GiB peak, <n> clients``.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

GIB = 1024 ** 3
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the kit and bench.plain_pandas


def peak_rss_bytes() -> int:
    """This process's peak resident memory (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _measured(start: float, cpu: float, **values) -> dict:
    return {"wall_s": time.perf_counter() - start, "cpu_s": cpu_seconds() - cpu, "peak_rss": peak_rss_bytes(),
            **values}


def _stage_floor(data_dir: str) -> dict:
    from competitions.home_credit import data, schema  # first: it sets polars' allocator as the kit runs it
    import polars as pl

    start, cpu = time.perf_counter(), cpu_seconds()
    rows = 0
    for table in data.TABLES:
        spec = schema.dtypes(f"{table}.csv")
        frame = pl.read_csv(Path(data_dir) / f"{table}.csv", columns=list(spec),
                            schema_overrides={c: data.POLARS_TYPES[t] for c, t in spec.items()})
        rows += frame.height
        del frame
    return _measured(start, cpu, load_s=time.perf_counter() - start, rows=rows)


def _stage_kit(data_dir: str, cache_root: str, rebuild: bool = False) -> dict:
    os.environ["KIT_CACHE_ROOT"] = cache_root
    from competitions.home_credit.features.build import build_features

    start, cpu = time.perf_counter(), cpu_seconds()
    matrix = build_features(data_dir, rebuild=rebuild)
    return _measured(start, cpu, shape=list(matrix.shape))


def _stage_plain(data_dir: str, cache_root: str) -> dict:
    from bench.plain_pandas.pipeline import build_features as plain_features

    start, cpu = time.perf_counter(), cpu_seconds()
    timings: dict = {}
    plain = plain_features(data_dir, timings)
    result = _measured(start, cpu, shape=list(plain.shape), **timings)
    os.environ["KIT_CACHE_ROOT"] = cache_root
    from competitions.home_credit.features.build import build_features

    result["differing"] = differing_columns(plain, build_features(data_dir))
    return result


def differing_columns(plain, kit, rtol: float = 1e-4) -> list[str]:
    """Columns whose missing values or values (beyond ``rtol``, and a float32 step of the column's scale)
    differ between the plain-pandas matrix and the kit's; a column only one of them has counts as differing."""
    out = sorted(set(plain.columns) ^ set(kit.columns))
    for column in set(plain.columns) & set(kit.columns):
        a, b = plain[column].to_numpy(np.float64), kit[column].to_numpy(np.float64)
        present = ~np.isnan(a)
        scale = max(1.0, float(np.abs(a[present]).max(initial=0)))
        if (present != ~np.isnan(b)).any() or not np.allclose(b[present], a[present], rtol=rtol, atol=1e-6 * scale):
            out.append(column)
    return sorted(out)


def _stage_train(data_dir: str, cache_root: str, runs_root: str, extra: list[str]) -> dict:
    os.environ["KIT_CACHE_ROOT"] = cache_root
    os.environ["KIT_RUNS_ROOT"] = runs_root
    from competitions.home_credit import train

    start, cpu = time.perf_counter(), cpu_seconds()
    metrics = train.main(["--data", data_dir, "--name", "bench", "--log-period", "0", *extra])
    return _measured(start, cpu, timing=metrics["timing"], oof_auc=metrics["oof"]["auc_given"]["auc"],
                     n_features=metrics["n_features"])


def in_fresh_process(fn, *args) -> dict:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def ratio(a: float, b: float) -> str:
    return f"x{a / b:.2f}" if b else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="a Home Credit data folder (synthetic or real)")
    parser.add_argument("--stages", nargs="+", default=["floor", "cold", "cached", "plain"],
                        choices=["floor", "cold", "cached", "rebuild", "plain", "train"])
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
          f"{os.cpu_count()} CPUs; work folder {work}", flush=True)
    runs_in_order = []
    names = {"floor": "floor: polars parses the 8 CSVs, nothing else", "cold": "kit: tables + features, cold cache",
             "cached": "kit: second run (cached features)", "rebuild": "kit: every group rebuilt",
             "plain": "plain pandas, same aggregations", "train": "5-fold training (train.py)"}
    for stage in args.stages:
        if stage == "floor":
            result = in_fresh_process(_stage_floor, data_dir)
        elif stage in ("cold", "cached", "rebuild"):
            result = in_fresh_process(_stage_kit, data_dir, cache, stage == "rebuild")
        elif stage == "plain":
            result = in_fresh_process(_stage_plain, data_dir, cache)
        else:
            extra = args.train_args or ["--config", "competitions/home_credit/configs/demo.yaml"]
            result = in_fresh_process(_stage_train, data_dir, cache, runs,
                                      [*extra, "--num-threads", str(args.threads)])
        runs_in_order.append({"stage": stage, **result})
    r = {x["stage"]: x for x in runs_in_order}  # the last run of each stage

    floor = r.get("floor")
    print(f"\n{'stage':<46} {'wall s':>7} {'CPU s':>7} {'peak GiB':>9} {'wall/floor':>11}")
    for x in runs_in_order:
        stage = x["stage"]
        print(f"{names[stage]:<46} {x['wall_s']:>7.1f} {x['cpu_s']:>7.1f} {x['peak_rss'] / GIB:>9.2f} "
              f"{ratio(x['wall_s'], floor['wall_s']) if floor and stage != 'train' else '':>11}")
    if "plain" in r:
        p = r["plain"]
        print(f"\nplain pandas: load {p['load_s']:.1f} s + aggregations {p['features_s']:.1f} s; its matrix vs the "
              f"kit's: {p['shape'][1]} columns, {len(p['differing'])} differing {p['differing'][:5]}")
        if "cold" in r:
            c = r["cold"]
            print(f"plain / kit cold: wall {ratio(p['wall_s'], c['wall_s'])}, CPU {ratio(p['cpu_s'], c['cpu_s'])}, "
                  f"peak RSS {ratio(p['peak_rss'], c['peak_rss'])}")
    if "train" in r:
        t = r["train"]["timing"]
        boosting = t["lightgbm_s"]  # boosting and predicting (binning is binning_s)
        print(f"\ntraining: total {t['total_s']:.1f} s wall, peak RSS {r['train']['peak_rss'] / GIB:.2f} GiB; "
              f"lgb.train + predict {boosting:.1f} s, outside it {t['total_s'] - boosting:.1f} s "
              f"= {100 * (t['total_s'] - boosting) / t['total_s']:.1f}% of the run "
              f"({', '.join(f'{k} {v:.1f}' for k, v in sorted(t.items()) if k.endswith('_s') and k != 'total_s')}); "
              f"OOF AUC {r['train']['oof_auc']:.4f} with {r['train']['n_features']} features")
    (work / "bench_home_credit.json").write_text(json.dumps(runs_in_order, indent=2))
    print(f"\nraw figures: {work / 'bench_home_credit.json'}")
    if "cold" in r:
        c = r["cold"]
        print(f"cold features {c['wall_s']:.1f} s wall, {c['peak_rss'] / GIB:.2f} GiB peak, {c['shape'][0]} clients")


if __name__ == "__main__":
    main()
