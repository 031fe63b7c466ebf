"""Adversarial validation on identical sets, on unshifted and on shifted synthetic data, for both competitions.

Three datasets per competition: ``copies`` (the test set is a random sample of the training rows or images,
copied: both sets come from one distribution, so the AUC must be about 0.5), ``default`` (the synthetic
default, unshifted) and ``shift`` (test drawn with the generator's ``--shift``). Each runs the competition's
``adversarial.py`` with its defaults (Home Credit on ``--tables application``, the only group whose rows can be
copied whole) from the code at ``--code`` (default: this checkout), so an older checkout can be measured on
the same data. Prints the AUC with its DeLong 95% CI and the leak warning, if any.

    python bench/adversarial_duplicates.py --work /tmp/adv-bench
    python bench/adversarial_duplicates.py --work /tmp/adv-bench --code /path/to/older/checkout
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from competitions.home_credit.synth import generate as generate_home_credit
from competitions.nexperia.synth import generate as generate_nexperia

REPO = Path(__file__).resolve().parents[1]


def home_credit_data(work: Path, n_clients: int, n_test: int) -> dict[str, Path]:
    default = generate_home_credit(work / "hc-default", n_clients=n_clients, n_test=n_test, seed=0)
    shift = generate_home_credit(work / "hc-shift", n_clients=n_clients, n_test=n_test, seed=0, shift=1.0)
    copies = work / "hc-copies"
    if not copies.is_dir():
        shutil.copytree(default, copies)
        train = pd.read_csv(copies / "application_train.csv")
        test = train.sample(n_test, random_state=0).drop(columns="TARGET")
        test["SK_ID_CURR"] = np.arange(10_000_000, 10_000_000 + n_test)
        test.to_csv(copies / "application_test.csv", index=False)
        pd.DataFrame({"SK_ID_CURR": test["SK_ID_CURR"], "TARGET": 0.5}).to_csv(copies / "sample_submission.csv",
                                                                              index=False)
    return {"copies": copies, "default": default, "shift": shift}


def nexperia_data(work: Path, n_train: int, n_test: int, workers: int) -> dict[str, Path]:
    default = generate_nexperia(work / "nx-default", n_train=n_train, n_test=n_test, seed=0, workers=workers,
                                progress=False)
    shift = generate_nexperia(work / "nx-shift", n_train=n_train, n_test=n_test, seed=0, shift=0.5,
                              workers=workers, progress=False)
    copies = work / "nx-copies"
    if not copies.is_dir():
        shutil.copytree(default, copies)
        test_dir = copies / "test" / "test_contest" / "test"
        shutil.rmtree(test_dir)
        test_dir.mkdir()
        train = sorted((copies / "train" / "train_contest").glob("*/*.bmp"))
        for i, j in enumerate(np.random.default_rng(0).choice(len(train), size=n_test, replace=False)):
            shutil.copy(train[j], test_dir / f"COPY{i:05d}.bmp")
        (copies / "submission_sample.csv").unlink(missing_ok=True)
        (copies / "_truth.csv").unlink(missing_ok=True)
    return {"copies": copies, "default": default, "shift": shift}


def adversarial(code: Path, competition: str, data: Path, work: Path, name: str, extra: list[str]) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code), "KIT_RUNS_ROOT": str(work / "runs" / code.name),
           "KIT_CACHE_ROOT": str(work / "cache" / code.name)}
    cmd = [sys.executable, str(code / "competitions" / competition / "adversarial.py"), "--data", str(data),
           "--name", name, "--no-progress", *extra]
    done = subprocess.run(cmd, cwd=code, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return json.loads((work / "runs" / code.name / competition / name / "adversarial.json").read_text())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True, help="folder for the datasets and runs (reused)")
    ap.add_argument("--code", type=Path, default=REPO, help="checkout whose adversarial.py runs")
    ap.add_argument("--hc-clients", type=int, default=20000, help="Home Credit train clients (synthetic default)")
    ap.add_argument("--hc-test", type=int, default=5000)
    ap.add_argument("--nx-train", type=int, default=3000, help="Nexperia train images (synthetic default)")
    ap.add_argument("--nx-test", type=int, default=750)
    ap.add_argument("--workers", type=int, default=2, help="processes drawing the Nexperia images")
    args = ap.parse_args(argv)
    code = args.code.resolve()
    sets = {"home_credit": (home_credit_data(args.work, args.hc_clients, args.hc_test),
                            ["--tables", "application", "--num-threads", "2"]),
            "nexperia": (nexperia_data(args.work, args.nx_train, args.nx_test, args.workers), [])}
    print(f"code: {code}")
    print(f"{'competition':<12} {'data':<8} {'AUC':>7} {'95% CI':>15}  note")
    for competition, (datasets, extra) in sets.items():
        for kind, data in datasets.items():
            report = adversarial(code, competition, data, args.work, f"bench-{kind}", extra)
            auc = report["auc"]
            note = "LEAK WARNING" if report.get("leak_warning") else ""
            groups = report.get("duplicate_groups")
            note += f" duplicate groups kept in one fold: {groups}" if groups is not None else " (no grouping)"
            print(f"{competition:<12} {kind:<8} {auc['auc']:7.4f} {auc['ci_low']:7.4f}-{auc['ci_high']:.4f}  {note}")


if __name__ == "__main__":
    main()
