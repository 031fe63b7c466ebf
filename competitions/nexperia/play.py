"""The Nexperia autopilot's plan (``kit play nexperia``): the duplicate and leak check, logistic regression on pixels
so that any budget ends with a result, a quick VAE (``configs/vae-demo.yaml``), the default CNN recipe, the conv VAE
anomaly score, a quick CNN (where the recipe did not fit), logistic regression on the best CNN's penultimate-layer
features, an Optuna study around the CNN recipe and the run of its best parameters (where four trials and that run
fit: budgets of hours on a CPU), seeds of the best CNN and pseudo-labels from it (kept only when their CV beats it);
the pilot blends what finished with the train-test leak fix (docs/play.md). With ``--device cuda`` the image steps train on the GPU in a
lane of their own, beside the CPU steps, with two CNN recipes instead of one (configs/default.yaml from scratch,
configs/pretrained.yaml from ImageNet weights).

Estimates are seconds per fold on the 2-core reference machine for the synthetic default (docs/results.md, "Nexperia
fold paces": the recipe 300 s a fold, the conv VAE 97 s, all measured on one machine so that their ratios hold),
scaled by the number of training images; the pilot rescales them by what it measures.
"""
from __future__ import annotations

from pathlib import Path

from common.io import read_json
from common.play.plan import Plan
from common.play.steps import Folds, Once, Seeds, StepContext, Tune, finished_study

CONFIGS = Path(__file__).parent / "configs"
TRAIN = "competitions.nexperia.train"
TUNE = "competitions.nexperia.tune"
REFERENCE_IMAGES = 3_000
CNN_FAMILIES = ("cnn-fast", "cnn", "cnn-pretrained", "cnn-tuned")
GPU_WORKERS = 6  # the GPU path is fed by the CPU-side loader (configs/pretrained.yaml's workers)
# seconds a fold at 3,000 images, once the command started (Python, torch, the images read: 3-26 s on the CPU, which
# the pilot measures apart): measured on the 2-core AMD EPYC machine (docs/results.md, "Nexperia fold paces"; the
# play's speed is a weighted median of measured over estimated, so one estimate off by 5x, as the pixels' was, skews
# every projection after it); on the GPU,
# projected from the H100 figures of ../shared/notes/performance.md (15-30 s of start-up and ~15 s of end per fold,
# 2-3 s an epoch), to be replaced by what the play measures on its first fold
CPU_SECONDS = {"pixels": 4.5, "vae-fast": 2.3, "cnn-fast": 67, "cnn": 300, "vae": 97, "features": 10, "pseudo": 350}
GPU_SECONDS = {"pixels": 1, "vae-fast": 10, "cnn-fast": 40, "cnn": 90, "cnn-pretrained": 80, "vae": 25, "features": 20,
               "pseudo": 110}


def training_images(data: Path) -> int:
    train = Path(data) / "train"
    return max(sum(1 for p in train.rglob("*") if p.is_file()), 1) if train.is_dir() else REFERENCE_IMAGES


def cnn_args(config: str, device: str, *extra: str) -> list[str]:
    workers = "0" if device == "cpu" else str(GPU_WORKERS)
    return ["--config", str(CONFIGS / config), "--device", device, "--workers", workers, "--gradcam", "0", *extra]


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


def deep_features_args(device: str):
    """Logistic regression on the penultimate-layer features of the best CNN run (fold k's checkpoint embeds every
    image for fold k: ``features.py --checkpoint-run``)."""
    def args(ctx: StepContext) -> list[str] | None:
        best = ctx.best(CNN_FAMILIES)
        if best is None:
            return None
        return ["--checkpoint-run", str(ctx.play.runs_dir / "nexperia" / best.run), "--classifiers", "logreg",
                "--no-plots", "--device", device, "--threads", "2"]
    return args


def tune_args(device: str):
    """The study around the play's CNN recipe (``cnn``), once a run of it measured its folds: trials are projected
    at its pace."""
    config = "tune-play-cpu.yaml" if device == "cpu" else "tune-play-gpu.yaml"

    def args(ctx: StepContext) -> list[str] | None:
        if ctx.best(("cnn",)) is None:
            return None
        return ["--family", "cnn", "--config", str(CONFIGS / config), "--device", device,
                "--workers", "0" if device == "cpu" else str(GPU_WORKERS)]
    return args


def tuned_args(recipe: str, device: str):
    """The recipe's run again with the study's best parameters (``train.py --params``)."""
    def args(ctx: StepContext) -> list[str] | None:
        tuned = finished_study(ctx, "tune")
        if tuned is None:
            return None
        return [*cnn_args(recipe, device), "--params", tuned["notes"]["best_params"]]
    return args


def play_plan(data: Path, device: str = "cpu") -> Plan:
    """The plan on ``device``: on the CPU every step in turn; with CUDA the image steps (lane "device") train on the
    GPU with its recipes while the CPU lane checks duplicates and fits the pixel baseline beside them."""
    scale = training_images(data) / REFERENCE_IMAGES
    gpu = device != "cpu"
    on_device = {"lane": "device", "after": ("duplicates",)} if gpu else {}
    seconds = GPU_SECONDS if gpu else CPU_SECONDS
    # the CPU fine-tunes the ImageNet weights for 3 epochs (configs/demo.yaml); the GPU trains the recipe measured
    # best on the synthetic default from scratch (configs/default.yaml) and the recipe for real images (ImageNet
    # weights, configs/pretrained.yaml) beside it, and the blend keeps what helps
    cnns = [("cnn", "default.yaml", 3), ("cnn-pretrained", "pretrained.yaml", 3)] if gpu else [("cnn", "demo.yaml", 6)]
    return Plan(steps=[
        Once("duplicates", "competitions.nexperia.dedup",
             lambda ctx: ["--data", str(data), "--out", str(ctx.play.runs_dir / "nexperia" / "duplicates.csv")],
             weight=0.2, estimate_s=10 * scale, summary=duplicates_summary, essential=True),
        # logistic regression on 32 px pixels first (seconds a fold), so that any budget ends with a result
        Folds("pixels", "competitions.nexperia.baseline", ["--no-progress"], weight=0.3, estimate_s=seconds["pixels"] * scale,
              family="pixels", essential=True),
        Folds("vae-fast", "competitions.nexperia.vae", ["--config", str(CONFIGS / "vae-demo.yaml"), "--heatmaps", "0",
                                                        "--device", device, "--no-progress"], weight=0.5,
              estimate_s=seconds["vae-fast"] * scale, family="vae-fast", **on_device),
        # the recipes, then the conv VAE, before the quick CNN: where the default recipe fits, the quick one would
        # only delay it (on the CPU its 5 folds take 3-7 of the 12-14 minutes the recipe needs), and the VAE's anomaly
        # score is worth more to the blend (20-minute play, docs/results.md: CV 0.934 vs the quick CNN's 0.812)
        *[Folds(name, TRAIN, cnn_args(config, device), weight=weight, estimate_s=seconds[name] * scale,
                family=name, **on_device) for name, config, weight in cnns],
        Folds("vae", "competitions.nexperia.vae", ["--config", str(CONFIGS / "vae-conv.yaml"), "--device", device,
                                                   "--no-progress"], weight=1, estimate_s=seconds["vae"] * scale,
              family="vae", **on_device),
        Folds("cnn-fast", TRAIN, cnn_args("demo.yaml", device, "--img-size", "64", "--epochs", "2", "--tta", "none",
                                          "--tta-compare", "none"), weight=1, estimate_s=seconds["cnn-fast"] * scale,
              family="cnn-fast", **on_device),
        Folds("features", "competitions.nexperia.features", deep_features_args(device), weight=0.5,
              estimate_s=seconds["features"] * scale, family="cnn-features", writes="features-logreg", **on_device),
        # a trial is a fold of the recipe (the sampler's first 3 are random: 4 at least)
        Tune("tune", TUNE, tune_args(device), weight=2, estimate_s=seconds["cnn"] * scale, families=("cnn",),
             trial_folds=1, least_trials=4, trials_per_call=1, then="tuned", **on_device),
        Folds("tuned", TRAIN, tuned_args(cnns[0][1], device), weight=1, estimate_s=seconds["cnn"] * scale,
              family="cnn-tuned", pace_of=("cnn",), study="tune", **on_device),
        Seeds("seeds", TRAIN, weight=2, estimate_s=seconds["cnn"] * scale, families=CNN_FAMILIES, **on_device),
        Folds("pseudo", TRAIN, pseudo_args, weight=2, estimate_s=seconds["pseudo"] * scale, family="cnn-pseudo",
              keep_if_beats=lambda ctx: ctx.best(CNN_FAMILIES), **on_device),
    ], post=["leak-fix"], tail_s=max(15.0, 10 * scale))
