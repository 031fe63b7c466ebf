"""Run the kit's end-to-end commands on small synthetic data and fingerprint every prediction and submission
file they write, so a refactor can show it changed none of them.

    python bench/same_outputs.py --out /tmp/before          # at the old commit (a git worktree, its own cwd)
    python bench/same_outputs.py --out /tmp/after           # at the new one
    python bench/same_outputs.py --compare /tmp/before /tmp/after

Each run writes ``<out>/manifest.json``: the SHA-256 of every ``oof.csv``, ``test.csv`` (runs and folds) and
submission CSV, keyed by its path under ``<out>`` (a submission's without the time in its name). The commands are
typed as a user types them, so the command lines themselves are part of what is checked. Submission JSON
sidecars hold times and are left out.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

HC = ["--data", "{out}/data/home_credit", "--runs-dir", "{out}/runs", "--cache-dir", "{out}/cache"]
NX = ["--data", "{out}/data/nexperia", "--runs-dir", "{out}/runs", "--cache-dir", "{out}/cache"]
FILES = ["--runs-dir", "{out}/runs", "--files-root", "{out}/submissions"]
COMMANDS = [
    ["-m", "competitions.home_credit.synth", "--out", "{out}/data/home_credit", "--n-clients", "2000",
     "--n-test", "500", "--seed", "7"],
    ["competitions/home_credit/train.py", *HC, "--config", "competitions/home_credit/configs/demo.yaml",
     "--name", "lgb"],
    ["competitions/home_credit/train.py", *HC, "--model", "xgboost", "--name", "xgb", "--num-boost-round", "60",
     "--learning-rate", "0.2", "--num-threads", "1"],
    ["competitions/home_credit/train.py", *HC, "--model", "catboost", "--name", "cat", "--num-boost-round", "60",
     "--learning-rate", "0.2", "--num-threads", "1"],
    ["-m", "submissions.blend", "--competition", "home_credit", "--runs", "lgb", "xgb", "cat", "--method", "rank",
     "--data", "{out}/data/home_credit", *FILES],
    ["-m", "submissions.blend", "--competition", "home_credit", "--runs", "lgb", "xgb", "cat", "--method", "hill",
     "--data", "{out}/data/home_credit", *FILES],
    ["-m", "competitions.nexperia.synth", "--out", "{out}/data/nexperia", "--n-train", "240", "--n-test", "60"],
    ["competitions/nexperia/train.py", *NX, "--fold", "all", "--name", "cnn", "--model", "resnet10t",
     "--img-size", "32", "--epochs", "1", "--batch-size", "24", "--workers", "0", "--threads", "1", "--no-amp",
     "--gradcam", "0", "--nc-images", "0", "--no-progress"],
    ["competitions/nexperia/vae.py", *NX, "--config", "competitions/nexperia/configs/vae-demo.yaml", "--fold", "all",
     "--epochs", "1", "--heatmaps", "0", "--no-progress"],
    ["-m", "submissions.blend", "--competition", "nexperia", "--runs", "cnn", "vae-fc-demo", "--method", "hill",
     "--post", "leak-fix", "--data", "{out}/data/nexperia", *FILES],
]


STAMP = re.compile(r"-\d{8}T\d{6}Z")  # the time in a submission file's name


def fingerprint(out: Path) -> dict[str, str]:
    names = [*out.glob("runs/**/oof.csv"), *out.glob("runs/**/test.csv"), *out.glob("submissions/**/*.csv")]
    return {STAMP.sub("", p.relative_to(out).as_posix()): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(names)}


def run_all(out: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "CUDA_VISIBLE_DEVICES": ""}
    for command in COMMANDS:
        argv = [sys.executable, *[part.format(out=out) for part in command]]
        print("$", " ".join(argv[1:]), flush=True)
        subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL)
    manifest = fingerprint(out)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    print(f"{len(manifest)} files fingerprinted in {out / 'manifest.json'}")


def compare(before: Path, after: Path) -> int:
    old, new = (json.loads((p / "manifest.json").read_text()) for p in (before, after))
    differ = sorted(name for name in old.keys() & new.keys() if old[name] != new[name])
    for name in differ:
        print(f"differs: {name}")
    for name in sorted(old.keys() ^ new.keys()):
        print(f"only in {before if name in old else after}: {name}")
    same = len(old.keys() & new.keys()) - len(differ)
    print(f"{same} of {len(old.keys() | new.keys())} files identical")
    return int(bool(differ) or old.keys() != new.keys())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="folder to run the commands in (made if missing)")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        return compare(*args.compare)
    run_all(args.out.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
