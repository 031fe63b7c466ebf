"""Benchmark of the autopilot (``kit play``) side by side with AutoGluon ``best_quality`` given the same time and
with the single default run of each family, on the synthetic defaults, where the planted truth scores the test
predictions (issue 39).

    python bench/play.py                                        # Home Credit, budgets 5 15 60 minutes
    python bench/play.py --competition nexperia                 # Nexperia, budgets 20 60 minutes
    python bench/play.py --n-clients 2000 --budgets 3           # a smoke test at a tiny size

Home Credit (``python -m competitions.home_credit.synth --out <out>/data --shift 0.2``: 20,000 + 5,000 clients; the
shifted test clients' truth is ``_truth_test.csv``, scored against its TARGET), for each budget:
- the autopilot: ``python -m kit.play home_credit --budget <budget>`` (features built cold: a cache of its own);
- AutoGluon ``TabularPredictor(label, eval_metric="roc_auc").fit(train, presets="best_quality", time_limit=budget)``
  (``bench/autogluon_fit.py`` in ``.venv-autogluon``, made here when missing, AutoGluon pinned) (a) on the raw
  application table as Kaggle gives it, (b) on the kit's feature matrix (exported once, before: its features cost
  AutoGluon nothing);
and, once, the single default run of each family (``train.py --config configs/{lgb,xgboost,catboost}.yaml``): the
play's own run of that name where a play finished it over the same shared folds, else trained here on those folds.
Nexperia (``python -m competitions.nexperia.synth``): the autopilot against the single default ``train.py --fold
all`` over the play's folds; no AutoGluon.

Wall times are measured from outside each process (start to exit: imports, fit and prediction included); a
reused single run's is the play's time for its step. OOF AUC: the play's result CV; AutoGluon's from the
out-of-fold probabilities of its best model (``predict_proba_oof``), else its validation score (the table says
which); the single runs' ``oof.csv``. ``p``: paired DeLong test of the autopilot's test predictions against the
row's on the same test rows. Then the checks of the issue, PASS/FAIL for each budget: the play's wall time <= budget
x 1.05; the autopilot's test AUC >= AutoGluon's on the kit's matrix, > AutoGluon's on the raw table, >= the best
single default run's (Nexperia: >= the default CNN's). Writes ``results.md`` and ``results.json`` (every figure, the
device) into ``--out`` (default ``runs/bench/play-<time>/``), each system's output in ``logs/``.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from common.cli import run_cli
from common.config import option, parse_config
from common.errors import BadInput, InputExists, MissingInput
from common.io import atomic_write_json, atomic_write_parquet, atomic_write_text, read_json
from common.metrics import auc_summary, delong_test, roc_auc
from common.paths import runs_root
from common.registry import get_competition, prepare_environment, truth_of
from common.run import SHARED_FOLDS, RunFolder

REPO = Path(__file__).resolve().parents[1]
AUTOGLUON_VERSION = "1.6.3"
AUTOGLUON_VENV = REPO / ".venv-autogluon"
AUTOGLUON_INSTALL = f"autogluon.tabular[all]=={AUTOGLUON_VERSION}"
WALL_SLACK = 1.05  # the bound: a whole play ends within budget x 1.05
DEFAULT_BUDGETS = {"home_credit": [5.0, 15.0, 60.0], "nexperia": [20.0, 60.0]}
HOME_CREDIT_SINGLES = [("lgb", "lgb.yaml", "LightGBM default (lgb.yaml)"),
                       ("xgb", "xgboost.yaml", "XGBoost default (xgboost.yaml)"),
                       ("catboost", "catboost.yaml", "CatBoost default (catboost.yaml)")]
AUTOPILOT = "autopilot"
AG_RAW, AG_MATRIX = "AutoGluon best_quality, raw application table", "AutoGluon best_quality, kit's matrix"
CNN_DEFAULT = "CNN default (train.py --fold all)"


@dataclass
class BenchOptions:
    """The autopilot against AutoGluon best_quality and the single default runs, scored on the planted truth."""
    competition: str = option("home_credit", help="home_credit or nexperia")
    budgets: list[float] | None = option(None, min=0, min_exclusive=True,
                                         help="budgets in minutes (default: home_credit 5 15 60, nexperia 20 60)")
    data: str | None = option(None, help="a synthetic data folder with its planted truth (default: generated "
                                         "into <out>/data)")
    n_clients: int = option(20000, min=100, help="home_credit: training clients generated (test: a quarter)")
    shift: float = option(0.2, min=0, max=1, min_exclusive=True,
                          help="home_credit: share of covariate-shifted test clients (their truth is written "
                               "only with a shift)")
    n_images: int = option(3000, min=100, help="nexperia: training images generated (test: a quarter)")
    seed: int = option(0, min=0, help="seed of the generated data")
    out: str | None = option(None, help="output folder, new or empty (default runs/bench/play-<time>)")


@dataclass
class Row:
    """One system at one budget (``budget_min`` None: budget-independent, the single default runs, until they are
    listed under each budget, ``any_budget``)."""
    system: str
    budget_min: float | None
    wall_s: float | None = None
    oof_auc: float | None = None
    oof_source: str = ""
    test_auc: float | None = None
    p_vs_autopilot: float | None = None
    note: str = ""
    any_budget: bool = False  # a single run listed under a budget for its p against that budget's autopilot


# -- pure: the checks and the table ------------------------------------------------------------------------------
def compare(a: float | None, b: float | None, strict: bool = False) -> str:
    if a is None or b is None:
        return "n/a"
    return "PASS" if (a > b if strict else a >= b) else "FAIL"


def checks(competition: str, budget_min: float, rows: list[Row]) -> list[tuple[str, str]]:
    """The issue's checks at one budget: (what, PASS|FAIL|n/a); ``rows``: that budget's rows, the autopilot's
    first."""
    by_system = {r.system: r for r in rows}
    pilot = by_system.get(AUTOPILOT)
    wall = compare(budget_min * 60 * WALL_SLACK, pilot.wall_s if pilot else None)
    found = [(f"wall time of the play <= budget x {WALL_SLACK} ({budget_min * 60 * WALL_SLACK:.0f} s)", wall)]
    test = pilot.test_auc if pilot else None
    singles = [r.test_auc for r in rows if r.system not in (AUTOPILOT, AG_RAW, AG_MATRIX) and r.test_auc is not None]
    best_single = max(singles) if singles else None
    if competition == "home_credit":
        found += [("autopilot test AUC >= AutoGluon on the kit's matrix",
                   compare(test, by_system[AG_MATRIX].test_auc if AG_MATRIX in by_system else None)),
                  ("autopilot test AUC > AutoGluon on the raw application table",
                   compare(test, by_system[AG_RAW].test_auc if AG_RAW in by_system else None, strict=True)),
                  ("autopilot test AUC >= the best single default run", compare(test, best_single))]
    else:
        found.append(("autopilot test AUC >= the single default CNN run", compare(test, best_single)))
    return found


def _figure(value: float | None, digits: int = 5) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _minutes(budget_min: float | None) -> str:
    return "-" if budget_min is None else f"{budget_min:g} min"


def markdown(competition: str, device: dict, budgets: list[float], rows: list[Row]) -> str:
    """The results as a markdown page: the device, one table of every system at every budget, the checks."""
    lines = [f"# bench/play.py: {competition}", "",
             f"Device: {device['cpu']}, {device['cores']} cores ({device['usable_cores']} usable), no GPU used.", "",
             "| system | budget | wall time (s) | OOF AUC | test AUC (truth) | p vs autopilot (paired DeLong, test) "
             "| note |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for budget in budgets:
        for r in rows_at(rows, budget):
            oof = _figure(r.oof_auc) + (f" ({r.oof_source})" if r.oof_source and r.oof_auc is not None else "")
            p = "" if r.p_vs_autopilot is None else f"{r.p_vs_autopilot:.3g}" + (
                f" (vs {budget:g} min)" if r.any_budget else "")
            shown = "-" if r.any_budget else _minutes(budget)
            lines.append(f"| {r.system} | {shown} | {_figure(r.wall_s, 0)} | {oof} | {_figure(r.test_auc)} | {p} | "
                         f"{r.note} |")
    lines.append("")
    for budget in budgets:
        for what, verdict in checks(competition, budget, rows_at(rows, budget)):
            lines.append(f"- {_minutes(budget)}: {what}: **{verdict}**")
    return "\n".join(lines) + "\n"


def rows_at(rows: list[Row], budget: float) -> list[Row]:
    """The rows of one budget, with the budget-independent rows (the single runs) after them."""
    return [r for r in rows if r.budget_min == budget] + [r for r in rows if r.budget_min is None]


# -- processes ---------------------------------------------------------------------------------------------------
def say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", flush=True)


def run_logged(command: list[str], log: Path, env: dict | None = None) -> tuple[int, float]:
    """Run ``command`` from the repository root, its output into ``log``; (exit status, wall seconds)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        out.write(("$ " + " ".join(command) + "\n").encode())
        out.flush()
        started = time.perf_counter()
        rc = subprocess.call(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                             env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"})
    return rc, time.perf_counter() - started


def failure(log: Path) -> str:
    """The line a failed command ended with (its ``error: ...`` line where it wrote one)."""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    return (errors or lines or ["no output"])[-1][:300]


def device() -> dict:
    models = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
              if line.startswith("model name")]
    return {"cpu": models[0] if models else "unknown CPU", "cores": os.cpu_count(),
            "usable_cores": len(os.sched_getaffinity(0))}


def autogluon_python() -> tuple[Path, str]:
    """AutoGluon's interpreter in its own environment (made when missing) and its version."""
    python = AUTOGLUON_VENV / "bin" / "python"
    if not python.is_file():
        say(f"making {AUTOGLUON_VENV.name}: python3 -m venv, pip install {AUTOGLUON_INSTALL} (minutes)")
        for command in (["python3", "-m", "venv", str(AUTOGLUON_VENV)],
                        [str(python), "-m", "pip", "install", "--quiet", AUTOGLUON_INSTALL]):
            if subprocess.call(command, cwd=REPO) != 0:
                raise MissingInput(f"could not make {AUTOGLUON_VENV} ({' '.join(command)} failed): make it by hand "
                                   f"with python3 -m venv {AUTOGLUON_VENV.name} && {AUTOGLUON_VENV.name}/bin/python "
                                   f"-m pip install \"{AUTOGLUON_INSTALL}\"")
    found = subprocess.run([str(python), "-c", "import autogluon.tabular as t; print(t.__version__)"],
                           capture_output=True, text=True)
    if found.returncode != 0:
        raise MissingInput(f"{python} cannot import autogluon.tabular: install it with {python} -m pip install "
                           f"\"{AUTOGLUON_INSTALL}\"")
    version = found.stdout.strip()
    if version != AUTOGLUON_VERSION:
        say(f"warning: {AUTOGLUON_VENV.name} holds AutoGluon {version}, the bench pins {AUTOGLUON_VERSION}")
    return python, version


# -- the bench ---------------------------------------------------------------------------------------------------
class Bench:
    def __init__(self, opts: BenchOptions, out: Path, budgets: list[float]):
        self.opts, self.out, self.budgets = opts, out, budgets
        self.competition = opts.competition
        self.spec = get_competition(opts.competition)
        self.rows: list[Row] = []
        self.test_preds: dict[tuple[str, float | None], pd.Series] = {}  # (system, budget) -> pred by id
        self.plays: dict[float, Path] = {}
        self.data = Path(opts.data).resolve() if opts.data else out / "data"

    # data and truth
    def make_data(self) -> None:
        if self.opts.data:
            return
        if self.competition == "home_credit":
            args = ["--n-clients", str(self.opts.n_clients), "--shift", str(self.opts.shift)]
        else:
            args = ["--n-train", str(self.opts.n_images), "--n-test", str(max(self.opts.n_images // 4, 1))]
        say(f"data: python -m competitions.{self.competition}.synth {' '.join(args)} --seed {self.opts.seed}")
        rc, wall = run_logged([sys.executable, "-m", f"competitions.{self.competition}.synth", "--out",
                               str(self.data), *args, "--seed", str(self.opts.seed)], self.out / "logs" / "data.log")
        if rc != 0:
            raise RuntimeError(f"the data generator failed: {failure(self.out / 'logs' / 'data.log')}")
        say(f"data ready in {wall:.0f} s: {self.data}")

    def truth(self) -> pd.Series:
        """The planted outcome of every test id (index: id as text)."""
        if self.competition == "home_credit":
            path = self.data / "_truth_test.csv"
            if not path.is_file():
                raise MissingInput(f"no {path}: the test clients' truth is written with a shift (python -m "
                                   f"competitions.home_credit.synth --out DIR --shift 0.2), or leave --data out")
            frame = pd.read_csv(path, usecols=["SK_ID_CURR", "TARGET"], dtype={"SK_ID_CURR": str})
            return frame.set_index("SK_ID_CURR")["TARGET"].astype(int)
        lookup = truth_of("nexperia", self.data)
        if lookup is None:
            raise MissingInput(f"no planted truth in {self.data} (_truth.csv): give a synthetic data folder")
        ids = pd.read_csv(self.data / self.spec.sample_submission, dtype={self.spec.id_column: str})[
            self.spec.id_column]
        return pd.Series(lookup(ids), index=pd.Index(ids.astype(str)))

    # the systems
    def add(self, row: Row, test: pd.Series | None) -> None:
        self.rows.append(row)
        if test is not None:
            self.test_preds[(row.system, row.budget_min)] = test
        oof = f", OOF AUC {row.oof_auc:.5f}" if row.oof_auc is not None else ""
        say(f"{row.system} ({_minutes(row.budget_min)}): ended after {row.wall_s:.0f} s{oof}"
            + (f" - {row.note}" if row.note else ""))

    def autopilot(self, budget: float) -> None:
        name = f"budget-{budget:g}m"
        log = self.out / "logs" / f"autopilot-{budget:g}m.log"
        say(f"autopilot ({budget:g} min): python -m kit.play {self.competition} --budget {budget * 60:g}s")
        rc, wall = run_logged([sys.executable, "-m", "kit.play", self.competition, "--budget", f"{budget * 60:g}s",
                               "--data", str(self.data), "--out", str(self.out / "plays"), "--name", name],
                              log, {"KIT_CACHE_ROOT": str(self.out / "cache" / name)})
        folder = self.out / "plays" / self.competition / name
        record = read_json(folder / "play.json") if (folder / "play.json").is_file() else {}
        if folder.is_dir():
            self.plays[budget] = folder  # its folds and complete runs serve the single runs, even if it failed
        if rc != 0 or "summary" not in record:
            self.add(Row(AUTOPILOT, budget, wall, note=f"failed (exit {rc}): {failure(log)}"), None)
            return
        result = record["summary"]["result"]
        submission = pd.read_csv(result["file"], dtype={self.spec.id_column: str})
        test = submission.set_index(self.spec.id_column)[self.spec.target_column]
        self.add(Row(AUTOPILOT, budget, wall, result["cv"]["auc"], "result CV",
                     note=f"{result['kind']} of {'+'.join(result['runs'])}; its clock "
                          f"{record['summary']['spent_s']:.0f} s"), test)

    def export_matrix(self) -> tuple[Path, Path]:
        """The kit's feature matrix (every feature group) as parquet, its category columns as categories."""
        folder = self.out / "matrix"
        say("kit's matrix: load_matrix(data, every feature group) for AutoGluon")
        started = time.perf_counter()
        os.environ["KIT_CACHE_ROOT"] = str(self.out / "cache" / "shared")  # the single runs' features too
        from competitions.home_credit.features.build import ALL_GROUPS
        from competitions.home_credit.matrix import load_matrix
        matrix = load_matrix(self.data, list(ALL_GROUPS))
        categorical = set(matrix.categorical)
        paths = []
        for name, frame, extra in (("train", matrix.train, [matrix.target_column]), ("test", matrix.test, [])):
            table = frame[[matrix.id_column, *matrix.features, *extra]].copy()
            for column in categorical:
                table[column] = table[column].astype("category")
            paths.append(atomic_write_parquet(folder / f"{name}.parquet", table))
        say(f"kit's matrix: {len(matrix.train)} + {len(matrix.test)} rows, {len(matrix.features)} features "
            f"({len(categorical)} categorical), {time.perf_counter() - started:.0f} s (not in AutoGluon's time)")
        return paths[0], paths[1]

    def autogluon(self, python: Path, system: str, budget: float, train: Path, test: Path) -> None:
        key = "raw" if system == AG_RAW else "matrix"
        folder = self.out / "autogluon" / f"{key}-{budget:g}m"
        log = self.out / "logs" / f"autogluon-{key}-{budget:g}m.log"
        say(f"{system} ({budget:g} min): fit(presets='best_quality', time_limit={budget * 60:g})")
        rc, wall = run_logged([str(python), str(REPO / "bench" / "autogluon_fit.py"), "--train", str(train),
                               "--test", str(test), "--label", self.spec.target_column, "--id", self.spec.id_column,
                               "--time-limit", f"{budget * 60:g}", "--path", str(folder / "model"),
                               "--out", str(folder)], log)
        if rc != 0 or not (folder / "fit.json").is_file():
            self.add(Row(system, budget, wall, note=f"failed (exit {rc}): {failure(log)}"), None)
            return
        fit = read_json(folder / "fit.json")
        if (folder / "oof.csv").is_file():
            oof = pd.read_csv(folder / "oof.csv")
            oof_auc, source = roc_auc(oof["target"], oof["pred"]), f"OOF of {fit['best_model']}"
        else:
            oof_auc, source = fit["best_score_val"], f"validation score of {fit['best_model']}"
        test_pred = pd.read_csv(folder / "test.csv", dtype={"id": str}).set_index("id")["pred"]
        self.add(Row(system, budget, wall, oof_auc, source, note=f"{fit['n_models']} models"), test_pred)

    def singles(self) -> None:
        """The single default run of each family: a play's own where one finished it over the same folds."""
        runs_dir = self.out / "singles"
        folds = self.reference_folds()
        if folds is not None:
            (runs_dir / self.competition).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folds, runs_dir / self.competition / SHARED_FOLDS)
        if self.competition == "nexperia":
            self.train_single(CNN_DEFAULT, "cnn", ["competitions/nexperia/train.py", "--fold", "all"], runs_dir,
                              "trained here, images decoded cold")
            return
        for run, config, system in HOME_CREDIT_SINGLES:
            reused = self.reusable_run(run, folds)
            if reused is not None:
                folder, budget, spent = reused
                self.add_single(system, RunFolder(folder), spent, f"the {budget:g} min play's run {run}")
                continue
            config_path = f"competitions/home_credit/configs/{config}"
            self.train_single(system, run, ["competitions/home_credit/train.py", "--config", config_path], runs_dir,
                              "trained here, features cached")

    def reference_folds(self) -> Path | None:
        """The shared folds of the first play that made them."""
        for folder in self.plays.values():
            path = folder / "runs" / self.competition / SHARED_FOLDS
            if path.is_file():
                return path
        return None

    def reusable_run(self, run: str, folds: Path | None) -> tuple[Path, float, float] | None:
        """(run folder, budget, seconds its step took) of the first play that finished ``run`` over ``folds``."""
        for budget, folder in sorted(self.plays.items()):
            path = folder / "runs" / self.competition / run
            mine = path.parent / SHARED_FOLDS
            same_folds = folds is not None and mine.is_file() and mine.read_bytes() == folds.read_bytes()
            finished = [r for r in decisions(folder) if r.get("event") == "finish" and r.get("step") == run
                        and r.get("status") == "done"]
            if finished and same_folds and RunFolder(path).status().complete:
                return path, budget, float(finished[-1]["spent_s"])
        return None

    def train_single(self, system: str, run: str, command: list[str], runs_dir: Path, note: str) -> None:
        log = self.out / "logs" / f"single-{run}.log"
        say(f"{system}: python {' '.join(command)}")
        rc, wall = run_logged([sys.executable, *command, "--data", str(self.data), "--runs-dir", str(runs_dir)], log,
                              {"KIT_CACHE_ROOT": str(self.out / "cache" / "shared")})
        folder = RunFolder(runs_dir / self.competition / run)
        if rc != 0 or not folder.status().complete:
            self.add(Row(system, None, wall, note=f"failed (exit {rc}): {failure(log)}"), None)
            return
        self.add_single(system, folder, wall, note)

    def add_single(self, system: str, folder: RunFolder, wall: float, note: str) -> None:
        oof = folder.read_oof()
        test = folder.read_test()
        self.add(Row(system, None, wall, auc_summary(oof["target"], oof["pred"])["auc"], "oof.csv", note=note),
                 None if test is None else test.set_index("id")["pred"])

    # the scores
    def score(self, truth: pd.Series) -> None:
        """Test AUC against the truth of every row, and the paired DeLong p of each against its budget's
        autopilot (the single runs' against each budget's: one row per budget)."""
        y = truth.to_numpy()
        aligned = {}
        for key, pred in self.test_preds.items():
            values = pred.reindex(truth.index).to_numpy(dtype=float)
            if np.isnan(values).any():
                raise RuntimeError(f"{key[0]}: {int(np.isnan(values).sum())} test ids without a prediction")
            aligned[key] = values
        scored = []
        for row in self.rows:
            values = aligned.get((row.system, row.budget_min))
            if values is not None:
                row.test_auc = roc_auc(y, values)
            if row.budget_min is not None or row.system == AUTOPILOT:
                scored.append(row)
                continue
            for budget in self.budgets:  # a single run: one row per budget, its p against that autopilot
                scored.append(Row(**{**asdict(row), "budget_min": budget, "any_budget": True}))
        for row in scored:
            pilot = aligned.get((AUTOPILOT, row.budget_min))
            values = aligned.get((row.system, None if row.any_budget else row.budget_min))
            if row.system != AUTOPILOT and pilot is not None and values is not None:
                row.p_vs_autopilot = delong_test(y, pilot, values)[3]
        self.rows = scored

    def run(self) -> None:
        budgets = self.budgets
        python, version = (autogluon_python() if self.competition == "home_credit" else (None, None))
        machine = device()
        say(f"device: {machine['cpu']}, {machine['cores']} cores; out: {self.out}")
        self.make_data()
        truth = self.truth()
        matrix = None
        for budget in budgets:
            self.autopilot(budget)
            if python is None:
                continue
            self.autogluon(python, AG_RAW, budget, self.data / "application_train.csv",
                           self.data / "application_test.csv")
            matrix = matrix or self.export_matrix()
            self.autogluon(python, AG_MATRIX, budget, *matrix)
        self.singles()
        self.score(truth)
        page = markdown(self.competition, machine, budgets, self.rows)
        atomic_write_text(self.out / "results.md", page)
        atomic_write_json(self.out / "results.json", {
            "competition": self.competition, "budgets_min": budgets, "device": machine, "data": str(self.data),
            "options": asdict(self.opts), "autogluon": version, "command": [sys.executable, *sys.argv],
            "rows": [asdict(r) for r in self.rows],
            "checks": {f"{b:g}": dict(checks(self.competition, b, rows_at(self.rows, b))) for b in budgets}})
        print(page, flush=True)
        say(f"written: {self.out / 'results.md'}, {self.out / 'results.json'}")


def decisions(play: Path) -> list[dict]:
    path = play / "decisions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def output_folder(option_value: str | None) -> Path:
    """``--out`` (new or empty: a play in it would resume, its wall time would not be the play's), else a new
    ``runs/bench/play-<time>``."""
    out = Path(option_value) if option_value else runs_root() / "bench" / f"play-{time.strftime('%Y%m%dT%H%M%S')}"
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputExists(f"--out {out} exists and is not empty: give a new folder (its plays would resume)")
    out.mkdir(parents=True, exist_ok=True)
    return out.resolve()


def main(argv: list[str] | None = None) -> None:
    opts = parse_config(BenchOptions, argv)
    get_competition(opts.competition)  # an unknown one: one line naming the known ones
    if opts.competition not in DEFAULT_BUDGETS:
        raise BadInput(f"--competition {opts.competition}: the bench plays {sorted(DEFAULT_BUDGETS)}")
    if opts.data and not Path(opts.data).is_dir():
        raise MissingInput(f"--data {opts.data}: no such folder")
    budgets = sorted(opts.budgets or DEFAULT_BUDGETS[opts.competition])
    prepare_environment(opts.competition)
    Bench(opts, output_folder(opts.out), budgets).run()


if __name__ == "__main__":
    run_cli(main)
