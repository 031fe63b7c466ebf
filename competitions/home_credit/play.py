"""The Home Credit autopilot's plan (``kit play home_credit``): the features, a train-test shift check, the three
GBDT families with the recipes measured best (configs/) and LightGBM's extremely randomised trees, tuning of the
best family, pseudo-labels from the best run, seeds of the best run and of the best of another library,
null-importance selection, highest priority first; the pilot then blends what finished (docs/play.md).

Estimates are seconds per unit on the 2-core reference machine at 20,000 training clients, scaled by the data's
rows; the pilot rescales them again by what it measures. A fold's estimate leaves out the start a command pays once
(5-20 s: Python, the libraries, the matrix read), which the pilot measures apart: the folds' paces once started,
as the 15-minute bench at 9c11702 measured them (docs/results.md: LightGBM 0.9-6 s, XGBoost 10, CatBoost 34, the
pseudo-labelled and tuned LightGBM-XT 7 and 5; the last two are projected from the runs they repeat, and their
estimates only keep the play's measured speed, the median of measured over estimated, near its truth).
"""
from __future__ import annotations

from pathlib import Path

from common.io import read_json
from common.play.plan import Plan
from common.play.steps import Folds, Once, Seeds, StepContext, Tune, finished_study

CONFIGS = Path(__file__).parent / "configs"
TRAIN, TUNE = "competitions.home_credit.train", "competitions.home_credit.tune"
REFERENCE_ROWS = 20_000
FAMILY_CONFIG = {"lightgbm-fast": "demo.yaml", "lightgbm-xt": "lgb-xt.yaml", "lightgbm": "lgb.yaml",
                 "xgboost": "xgboost.yaml", "catboost": "catboost.yaml"}
TUNE_CONFIG = {"lightgbm-xt": "tune_xt.yaml", "lightgbm": "tune.yaml", "xgboost": "tune_xgboost.yaml",
               "catboost": "tune_catboost.yaml"}
PSEUDO_SOURCES = ("lightgbm-xt", "lightgbm", "xgboost", "catboost")
SEEDED = ("lightgbm-xt", "lightgbm", "xgboost", "catboost", "tuned", "pseudo")  # the quick LightGBM's add little
SHIFT_WARNING_AUC = 0.6  # adversarial AUC above which train and test differ enough to say so


def training_rows(data: Path) -> int:
    with open(Path(data) / "application_train.csv", "rb") as rows:
        return max(sum(1 for _ in rows) - 1, 1)


def library(family: str) -> str:
    """The ``--model`` of a family: lightgbm-fast and lightgbm-xt are LightGBMs."""
    return family.split("-")[0]


def family_args(family: str) -> list[str]:
    return ["--config", str(CONFIGS / FAMILY_CONFIG[family]), "--model", library(family), "--num-threads", "2"]


def shift_summary(play) -> dict:
    path = play.runs_dir / "home_credit" / "adversarial" / "adversarial.json"
    found = read_json(path) if path.is_file() else {}
    auc = found.get("auc", {}).get("auc") if isinstance(found.get("auc"), dict) else found.get("auc")
    if auc is None:
        return {}
    warnings = [f"train and test clients differ: adversarial AUC {auc:.3f} (runs/home_credit/adversarial)"] \
        if auc > SHIFT_WARNING_AUC else []
    return {"adversarial_auc": auc, "warnings": warnings}


def tune_args(ctx: StepContext) -> list[str] | None:
    best = ctx.best(tuple(TUNE_CONFIG))
    return None if best is None else ["--config", str(CONFIGS / TUNE_CONFIG[best.family]),
                                      "--model", library(best.family)]


def tuned_args(ctx: StepContext) -> list[str] | None:
    tuned = finished_study(ctx, "tune")
    if tuned is None:
        return None
    family = tuned["args"][tuned["args"].index("--model") + 1]
    return [*family_args(family), "--params", tuned["notes"]["best_params"]]


def pseudo_args(ctx: StepContext) -> list[str] | None:
    """The best default run again, its fold k learning from the test clients its own fold k ranked at either end
    (``train.py --pseudo-from``)."""
    best = ctx.best(PSEUDO_SOURCES)
    if best is None:
        return None
    return [*best.args, "--pseudo-from", str(ctx.play.runs_dir / "home_credit" / best.run)]


def selection_args(ctx: StepContext) -> list[str] | None:
    lgb = next((c for c in ctx.candidates() if c.run == "lgb"), None)
    return None if lgb is None else ["--run", "lgb", "--method", "null-importance"]


def play_plan(data: Path, device: str = "cpu") -> Plan:
    scale = training_rows(data) / REFERENCE_ROWS
    data_args = ["--data", str(data)]
    return Plan(steps=[
        Once("features", "competitions.home_credit.features.build", data_args, weight=1, estimate_s=5 * scale,
             essential=True),
        # a quick LightGBM first (configs/demo.yaml: 0.1 shrinkage, 400 rounds) so that any budget ends with a result
        Folds("lgb-fast", TRAIN, family_args("lightgbm-fast"), weight=0.5, estimate_s=1.5 * scale,
              family="lightgbm-fast", essential=True),
        # the best single OOF of the synthetic default and its cheapest run (docs/results.md, "LightGBM recipes")
        Folds("lgb-xt", TRAIN, family_args("lightgbm-xt"), weight=0.5, estimate_s=4 * scale, family="lightgbm-xt"),
        Folds("lgb", TRAIN, family_args("lightgbm"), weight=1, estimate_s=6 * scale, family="lightgbm"),
        Once("adversarial", "competitions.home_credit.adversarial",
             lambda ctx: [*data_args, "--runs-dir", str(ctx.play.runs_dir), "--name", "adversarial",
                          "--no-progress", "--num-threads", "2"], weight=0.5, estimate_s=70 * scale,
             summary=shift_summary),
        Folds("xgb", TRAIN, family_args("xgboost"), weight=1, estimate_s=10 * scale, family="xgboost"),
        Folds("catboost", TRAIN, family_args("catboost"), weight=2, estimate_s=34 * scale, family="catboost"),
        # kept only where it beats the run it learnt from (paired DeLong on the OOF predictions)
        Folds("pseudo", TRAIN, pseudo_args, weight=1, estimate_s=7 * scale, family="pseudo", pace_of=PSEUDO_SOURCES,
              keep_if_beats=lambda ctx: ctx.best(PSEUDO_SOURCES)),
        Tune("tune", TUNE, tune_args, weight=3, estimate_s=90 * scale, families=tuple(TUNE_CONFIG), then="tuned"),
        Folds("tuned", TRAIN, tuned_args, weight=1, estimate_s=5 * scale, family="tuned",
              pace_of=tuple(TUNE_CONFIG), study="tune"),
        Seeds("seeds", TRAIN, weight=2, estimate_s=30 * scale, families=SEEDED),
        Seeds("seeds-other", TRAIN, weight=1, estimate_s=30 * scale, families=SEEDED, other_than="seeds"),
        Folds("select", "competitions.home_credit.select_features", selection_args, weight=2,
              estimate_s=200 * scale, family="lightgbm-selected",
              keep_if_beats=lambda ctx: next((c for c in ctx.candidates() if c.run == "lgb"), None)),
    ], tail_s=max(15.0, 10 * scale))
