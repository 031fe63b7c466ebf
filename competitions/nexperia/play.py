"""The Nexperia autopilot's plan (``kit play nexperia``): the duplicate and leak check, logistic regression on pixels
so that any budget ends with a result, a quick VAE (``configs/vae-demo.yaml``) and CNN, the default CNN recipe,
the conv VAE anomaly score, seeds of the best CNN and pseudo-labels from it
(kept only when their CV beats it); the pilot blends what finished with the train-test leak fix (docs/play.md).

Estimates are seconds per fold on the 2-core reference machine for the synthetic default (docs/results.md: the
default recipe 170 s a fold, the conv VAE 49 s), scaled by the number of training images; the pilot rescales them
by what it measures. Not in the plan yet: CNN tuning and deep features with a classical model (each is a command
of its own: ``kit tune nexperia``, ``kit features nexperia``).
"""
from __future__ import annotations

from pathlib import Path

from common.io import read_json
from common.play.plan import Plan
from common.play.steps import Folds, Once, Seeds, StepContext

CONFIGS = Path(__file__).parent / "configs"
TRAIN = "competitions.nexperia.train"
REFERENCE_IMAGES = 3_000
CNN_FAMILIES = ("cnn-fast", "cnn")


def training_images(data: Path) -> int:
    train = Path(data) / "train"
    return max(sum(1 for p in train.rglob("*") if p.is_file()), 1) if train.is_dir() else REFERENCE_IMAGES


def cnn_args(config: str, *extra: str) -> list[str]:
    return ["--config", str(CONFIGS / config), "--workers", "0", "--gradcam", "0", *extra]


def duplicates_summary(play) -> dict:
    path = play.runs_dir / "nexperia" / "dedup_summary.json"
    found = read_json(path) if path.is_file() else {}
    return {"duplicates": {k: v for k, v in found.items() if not isinstance(v, (list, dict))},
            "warnings": list(found.get("warnings", []))}


def pseudo_args(ctx: StepContext) -> list[str] | None:
    best = ctx.best(CNN_FAMILIES)
    if best is None:
        return None
    source = ctx.play.runs_dir / "nexperia" / best.run
    return [*best.args, "--pseudo-from", str(source)]


def play_plan(data: Path) -> Plan:
    scale = training_images(data) / REFERENCE_IMAGES
    return Plan(steps=[
        Once("duplicates", "competitions.nexperia.dedup",
             lambda ctx: ["--data", str(data), "--out", str(ctx.play.runs_dir / "nexperia" / "duplicates.csv")],
             weight=0.2, estimate_s=10 * scale, summary=duplicates_summary, essential=True),
        # logistic regression on 32 px pixels first (seconds a fold), so that any budget ends with a result
        Folds("pixels", "competitions.nexperia.baseline", ["--no-progress"], weight=0.3, estimate_s=3 * scale,
              family="pixels", essential=True),
        Folds("vae-fast", "competitions.nexperia.vae", ["--config", str(CONFIGS / "vae-demo.yaml"), "--heatmaps", "0",
                                                        "--no-progress"], weight=0.5, estimate_s=5 * scale,
              family="vae-fast"),
        Folds("cnn-fast", TRAIN, cnn_args("demo.yaml", "--img-size", "64", "--epochs", "2", "--tta", "none",
                                          "--tta-compare", "none"), weight=1, estimate_s=90 * scale,
              family="cnn-fast"),
        Folds("cnn", TRAIN, cnn_args("demo.yaml"), weight=6, estimate_s=170 * scale, family="cnn"),
        Folds("vae", "competitions.nexperia.vae", ["--config", str(CONFIGS / "vae-conv.yaml"), "--no-progress"],
              weight=1, estimate_s=55 * scale, family="vae"),
        Seeds("seeds", TRAIN, weight=2, estimate_s=170 * scale, families=CNN_FAMILIES),
        Folds("pseudo", TRAIN, pseudo_args, weight=2, estimate_s=200 * scale, family="cnn-pseudo",
              keep_if_beats=lambda ctx: ctx.best(CNN_FAMILIES)),
    ], post=["leak-fix"], tail_s=max(15.0, 10 * scale))
