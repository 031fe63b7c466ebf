"""The kinds of step a plan is made of. Each runs units (:mod:`common.play.units`) of the competition's own
commands while :meth:`StepContext.fits` says another one fits its time, and returns an :class:`Outcome`.

- :class:`Once`: one command (a check, the features); its ``summary`` hook reads what it found (warnings).
- :class:`Folds`: one run, fold by fold; a run whose folds do not all fit stops at a fold boundary and is kept,
  marked partial (never blended). Its arguments may depend on earlier steps (``args(ctx)``: tune the best family,
  select features of the best LightGBM); None means the step has nothing to work on.
- :class:`Seeds`: more seeds of the best run while the OOF gain of one more is beyond the fold noise.
- :class:`Tune`: an Optuna study of the best family for the step's time (``--timeout``), replayed with the number
  of trials it finished.
"""
from __future__ import annotations

import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from common.metrics import auc_summary, roc_auc
from common.play.units import UnitResult, run_unit
from common.run import Run, RunFolder

PLAY_FOLDER = "{play}"  # the play's folder in the arguments the decisions log records (a replay writes in its own)
TRIAL_COST = 2.0  # a trial's folds over the same folds of the run it tunes: slower settings drawn, data loaded
RUN_OVER_TRIAL = 1.3  # a fold of a run over the same fold in a study's trial: the run loads the data, predicts the test
SLACK = 1.5  # a step may run past its share by this factor (later steps are worth less) but never past the tail
# the folds left of a started run go on together while they fit this many times more: cut short, its folds
# would be lost to the blend (a partial run is not blended); one by one, each fold pays the start again
FINISH_STRETCH = 2.0
MIN_PACE_SHARE = 0.1  # a unit's pace is at least this share of its command's time, whatever the start measured


@dataclass
class Candidate:
    """A complete run the play made: what the blend and the picks choose from."""
    run: str
    family: str
    step: str
    args: list[str]
    cv: dict
    kept: bool = True
    why: str = ""

    @property
    def library(self) -> str:
        """What kind of model it is for a hedge: its ``--model`` (a tuned LightGBM is a LightGBM), else its
        family."""
        at = self.args.index("--model") if "--model" in self.args[:-1] else None
        return self.family if at is None else self.args[at + 1]


@dataclass
class Outcome:
    status: str                      # done | partial | skipped | stopped
    units: int = 0                   # folds, trials or seeds run (replay runs as many)
    reason: str = ""
    args: list[str] | None = None    # the command's arguments as chosen (replay uses them as they are)
    candidates: list[Candidate] = field(default_factory=list)
    cv: dict | None = None
    notes: dict = field(default_factory=dict)


class StepContext:
    """What a running step sees: the play (``kit.play.pilot.Play``), its allowance, its recorded decision when
    replaying, its commands' times."""

    def __init__(self, play, step: "Step", allowance: float, replay: dict | None):
        self.play, self.step, self.allowance, self.replay = play, step, allowance, replay
        self.started = time.monotonic()
        self.commands: list[tuple[int, float]] = []  # (units, seconds) of each command that ended by itself

    def spent(self) -> float:
        return time.monotonic() - self.started

    @property
    def units_run(self) -> int:
        return sum(units for units, _ in self.commands)

    def start_s(self) -> float:
        """Seconds a command of this step pays before its first unit: fitted to its own commands once they came in
        two sizes (a fold alone, then the folds left together), else the play's measure for the lane."""
        if not self.step.pays_start:
            return 0.0
        own = start_cost(self.commands)
        return own if own is not None else self.play.start_s(self.step.lane)

    def pace(self) -> float | None:
        """Measured seconds of one unit, each command's start left out (None before a command ended)."""
        if not self.commands:
            return None
        seconds = sum(s for _, s in self.commands)
        return max(seconds - self.start_s() * len(self.commands), MIN_PACE_SHARE * seconds) / self.units_run

    def projected(self, count: int) -> float:
        """Seconds one command of ``count`` units is projected to take: its start, then the units at the measured
        pace (the step's projection :meth:`Step.unit_s` before any)."""
        unit = self.pace()
        return self.start_s() + count * (unit if unit is not None else self.step.unit_s(self.play))

    def fits(self, done: int, count: int = 1, stretch: float = 1.0) -> bool:
        """Whether ``count`` more units (after ``done``) fit in one command: replaying, while the recorded count is
        not reached; otherwise while the command's projected time fits the step's share (times SLACK and
        ``stretch``; essential steps: any share) and the time left before the tail."""
        if self.replay is not None:
            return done + count <= int(self.replay.get("units", 0))
        projected = self.projected(count)
        within_share = self.step.essential or self.spent() + projected <= self.allowance * SLACK * stretch
        return within_share and projected <= self.play.left_for_steps()

    def most_that_fit(self, done: int, most: int) -> int:
        """The most units, up to ``most``, that :meth:`fits` one command (0 when not one does)."""
        return next((count for count in range(most, 0, -1) if self.fits(done, count)), 0)

    def run(self, module: str, args: Sequence[str], label: str, units: int = 1) -> UnitResult:
        """``units`` units in one command; stopped at the play's deadline (never when replaying: counts, not the
        clock, rule there)."""
        timeout = None if self.replay is not None else self.play.left_for_steps()
        self.play.progress(self.step, label, self)
        result = run_unit(module, list(args), self.play.log_path, timeout, self.play.env)
        if not result.stopped:
            self.commands.append((units, result.seconds))
        return result

    def candidates(self) -> list[Candidate]:
        return self.play.candidates()

    def best(self, families: Sequence[str] | None = None) -> Candidate | None:
        return best_of(self.candidates(), families)


def start_cost(commands: Sequence[tuple[int, float]]) -> float | None:
    """Seconds a command pays before its first unit (Python's start, the data read), fitted to ``commands``
    ((units, seconds) each) as seconds = start + units x pace; None until commands of two sizes were timed. Never
    below 0 nor above the quickest command."""
    if len({units for units, _ in commands}) < 2:
        return None
    units, seconds = np.array(commands, dtype=float).T
    _, start = np.polyfit(units, seconds, 1)
    return float(np.clip(start, 0.0, seconds.min()))


def measured_pace(play, families: Sequence[str] = ()) -> float | None:
    """Seconds a fold of the best kept run of ``families`` (any when empty) took, as its step measured it."""
    return pace_of_run(play, best_of(play.candidates(), families or None))


def pace_of_run(play, run: Candidate | None) -> float | None:
    """Seconds a fold of ``run`` took, as its step measured it."""
    measured = (play.decisions.outcome(run.step) or {}).get("notes", {}).get("unit_s") if run else None
    return float(measured) if measured else None


def best_of(candidates: Sequence[Candidate], families: Sequence[str] | None = None) -> Candidate | None:
    """The kept candidate of ``families`` (any when None) with the best CV AUC."""
    pool = [c for c in candidates if c.kept and (families is None or c.family in families)]
    return max(pool, key=lambda c: c.cv["auc"], default=None)


class Step:
    """``estimate_s``: one unit (fold, trial, command) on the plan's reference machine, scaled by the play's measured
    speed (:meth:`Play.speed`); ``minimum_units``: how many units make the step worth starting (every fold of a run);
    ``essential``: runs whatever its share (the features, the first model), only the time left bounds it;
    ``lane``: "device" for a step that trains on the GPU, which a play with ``--device cuda`` runs beside the CPU
    steps (one lane each, every lane in plan order); ``after``: steps that must end before this one starts (the
    duplicate check before the first fold file of the image steps)."""
    name: str
    weight: float
    estimate_s: float
    essential: bool = False
    lane: str = "cpu"
    after: tuple[str, ...] = ()
    measures_speed = False  # its units are what estimate_s estimates (folds): they calibrate the play's speed
    then = ""               # a later step whose least useful size this one leaves it (a study: its tuned run)
    pays_start = True       # each command pays the start measured apart from its units (not when one command is
                            # what estimate_s estimates: a check, the features)

    def minimum_units(self, n_splits: int) -> int:
        return 1

    def unit_s(self, play) -> float:
        """The projected seconds of one unit in ``play``: as measured for it (:meth:`measured_unit_s`), else the
        estimate at the measured speed of its lane."""
        measured = self.measured_unit_s(play)
        return measured if measured is not None else self.estimate_s * play.speed(self.lane)

    def measured_unit_s(self, play) -> float | None:
        """Seconds of one unit as an earlier step measured them (a run of the same recipe), None when none did: its
        first fold need not then run alone to be timed."""
        return None

    def run(self, ctx: StepContext) -> Outcome:
        raise NotImplementedError


ArgsOf = Callable[[StepContext], Optional[list]]


def _args(args: list[str] | ArgsOf, ctx: StepContext) -> list[str] | None:
    """The step's arguments: as recorded when replaying, else as the plan gives or chooses them (None: nothing to
    work on)."""
    if ctx.replay is not None and ctx.replay.get("args") is not None:  # the recorded ones, in this play's folder
        return [a.replace(PLAY_FOLDER, str(ctx.play.folder)) for a in ctx.replay["args"]]
    if not callable(args):
        return list(args)
    chosen = args(ctx)
    return None if chosen is None else list(chosen)


@dataclass
class Once(Step):
    name: str
    module: str
    args: list[str] | ArgsOf
    weight: float
    estimate_s: float
    summary: Callable[..., dict] | None = None
    essential: bool = False
    lane: str = "cpu"
    after: tuple[str, ...] = ()
    pays_start = False

    def run(self, ctx: StepContext) -> Outcome:
        args = _args(self.args, ctx)
        if args is None:
            return Outcome("skipped", reason="nothing to work on")
        if not ctx.fits(0):
            return Outcome("skipped", reason="does not fit the time left", args=args)
        result = ctx.run(self.module, args, self.name)
        if result.stopped:
            return Outcome("stopped", reason="stopped at the play's deadline", args=args)
        return Outcome("done", units=1, args=args, notes=self.summary(ctx.play) if self.summary else {})


@dataclass
class Folds(Step):
    """One run of ``module`` fold by fold: ``--name run --fold k`` plus ``args`` and the play's own options; the
    run ``writes`` names (default: ``run``) is the one whose folds count and that the blend takes."""
    name: str
    module: str
    args: list[str] | ArgsOf
    weight: float
    estimate_s: float       # one fold
    family: str
    run_name: str = ""
    writes: str = ""        # the run the command writes, where it is not its --name (features.py: <name>-logreg)
    keep_if_beats: Callable[[StepContext], Optional[Candidate]] | None = None  # kept only if better than this run
    pace_of: tuple[str, ...] = ()  # families whose best run's measured folds project this one's (a tuned family)
    study: str = ""                # a Tune step whose best trial's measured folds project this one's
    essential: bool = False
    lane: str = "cpu"
    after: tuple[str, ...] = ()
    measures_speed = True

    def minimum_units(self, n_splits: int) -> int:
        return n_splits

    def measured_unit_s(self, play) -> float | None:
        """The slower of the paces measured for it (its family's default run, its study's best trial)."""
        paces = [p for p in (measured_pace(play, self.pace_of) if self.pace_of else None,
                             study_pace(play, self.study) if self.study else None) if p]
        return max(paces) if paces else None

    def run(self, ctx: StepContext) -> Outcome:
        args = _args(self.args, ctx)
        if args is None:
            return Outcome("skipped", reason="nothing to work on (an earlier step it needs did not finish)")
        run_name = self.run_name or self.name
        written = self.writes or run_name
        done = train_folds(ctx, self.module, [*args, "--name", run_name], written)
        return finish_run(ctx, written, self.family, args, done, self.keep_if_beats)


def train_folds(ctx: StepContext, module: str, args: list[str], run_name: str, replay_folds: int | None = None) -> int:
    """Train the folds of ``run_name`` not finished yet while they fit; the number of folds finished.

    The first fold runs alone and is timed, unless an earlier step measured the recipe's pace (a seed of a run, a
    tuned run after its study); the folds left then run in one process when all of them are projected to fit (the
    command's start once, then the folds at the measured pace), up to FINISH_STRETCH times the step's share: one
    start and one load of the data instead of one per fold (11 s a fold instead of 15-20 s for the quick Home
    Credit LightGBM). Otherwise as many as fit the share go on together, unless the folds left do not fit the play's
    time at all (a partial run is never blended): the run stops there, partial, and leaves the time to the steps
    after it. Not an essential step (the play's result of last resort), nor before a start was measured: a first
    fold's time then holds the start too and overstates the pace (the demo's pseudo-label run: 13 s where its
    folds take 3). Replaying, as many folds as the step's
    recorded units, or ``replay_folds`` where its units count something else (seeds)."""
    play = ctx.play
    while True:
        todo = unfinished_folds(play, run_name)
        done = play.n_splits - len(todo)
        if not todo:
            return done
        if ctx.replay is not None:
            batch = todo[:max(0, (replay_folds if replay_folds is not None else int(ctx.replay["units"])) - done)]
        elif not ctx.commands and ctx.step.measured_unit_s(play) is None:
            batch = todo[:1] if ctx.fits(done) else []
        elif ctx.fits(done, count=len(todo), stretch=FINISH_STRETCH):
            batch = todo
        elif not ctx.step.essential and ctx.start_s() > 0 and ctx.projected(len(todo)) > play.left_for_steps():
            batch = []  # the run cannot end in the play's time: more folds of it would only delay the steps after
        else:
            batch = todo[:ctx.most_that_fit(done, len(todo))]
        if not batch:
            return done
        label = f"{run_name} fold {batch[0]}" if len(batch) == 1 else f"{run_name} folds {batch[0]}-{batch[-1]}"
        if ctx.run(module, [*args, *play.common_args, "--fold", ",".join(map(str, batch))], label,
                   units=len(batch)).stopped:
            return play.n_splits - len(unfinished_folds(play, run_name))


def unfinished_folds(play, run_name: str) -> list[int]:
    folder = RunFolder(play.runs_dir / play.competition / run_name)
    return [k for k in range(play.n_splits) if not (folder.root.is_dir() and folder.is_finished(k))]


def finish_run(ctx: StepContext, run_name: str, family: str, args: list[str], done: int,
               keep_if_beats: Callable | None = None) -> Outcome:
    play = ctx.play
    folder = RunFolder(play.runs_dir / play.competition / run_name)
    if done == 0 or not folder.oof_path.is_file():
        return Outcome("skipped", reason="not one fold fitted the time left", args=args)
    oof = folder.read_oof()
    cv = auc_summary(oof["target"], oof["pred"])
    if done < play.n_splits or not folder.status().complete:
        return Outcome("partial", units=done, reason=f"{done} of {play.n_splits} folds fitted the time: kept, "
                       "not blended", args=args, cv=cv)
    candidate = Candidate(run_name, family, ctx.step.name, args, cv)
    rival = keep_if_beats(ctx) if keep_if_beats else None
    if rival is not None:
        test = paired_test(play, run_name, rival.run)
        candidate.kept = test["z"] > 0
        candidate.why = (f"{'kept' if candidate.kept else 'left out'}: OOF AUC {cv['auc']:.5f} vs {rival.run} "
                         f"{rival.cv['auc']:.5f}, paired DeLong z = {test['z']:.2f}, p = {test['p']:.3g}")
    return Outcome("done", units=done, args=args, candidates=[candidate], cv=cv,
                   reason=candidate.why or "every fold fitted")


def paired_test(play, run_a: str, run_b: str) -> dict:
    from common.metrics import delong_test
    a = RunFolder(play.runs_dir / play.competition / run_a).read_oof().set_index("id")
    b = RunFolder(play.runs_dir / play.competition / run_b).read_oof().set_index("id").reindex(a.index)
    auc_a, auc_b, z, p = delong_test(a["target"].to_numpy(), a["pred"].to_numpy(), b["pred"].to_numpy())
    return {"auc_a": float(auc_a), "auc_b": float(auc_b), "z": float(z), "p": float(p)}


@dataclass
class Tune(Step):
    """An Optuna study (``module`` with ``--name run --n-trials``) of the family ``args(ctx)`` picks, run a few
    trials at a time (the study resumes from its storage) while more fit beside the step ``then`` that trains the
    best parameters: its least useful size is re-projected after each call from the best trial's measured pace,
    since tuned settings (deeper trees, more rounds) can train far slower than the defaults.

    A trial is first projected at the measured pace of the best run of ``families`` (``trial_folds`` of its folds,
    TRIAL_COST times over); a study is worth starting only when ``least_trials`` (more than the sampler's random
    start) and the run after it fit. A study killed halfway is started again on resume (its folder set aside): a
    trial killed in flight would otherwise change the sampler's history, and the replay could not write the same
    files."""
    name: str
    module: str
    args: list[str] | ArgsOf
    weight: float
    estimate_s: float          # one trial, before a run of the family is measured
    run_name: str = ""
    most_trials: int = 100
    least_trials: int = 6
    trials_per_call: int = 2
    families: tuple[str, ...] = ()
    trial_folds: int = 3
    then: str = ""
    essential: bool = False
    lane: str = "cpu"
    after: tuple[str, ...] = ()

    def minimum_units(self, n_splits: int) -> int:
        return self.least_trials

    def unit_s(self, play) -> float:
        pace = measured_pace(play, self.families)
        return TRIAL_COST * self.trial_folds * pace if pace else super().unit_s(play)

    def run(self, ctx: StepContext) -> Outcome:
        args = _args(self.args, ctx)
        if args is None:
            return Outcome("skipped", reason="no finished run of a family to tune")
        play = ctx.play
        run_name = self.run_name or self.name
        folder = play.runs_dir / play.competition / run_name
        if folder.exists():
            play.set_aside(folder)
        command = [*args, "--name", run_name, *play.common_args, "--no-progress"]
        trials, stopped = 0, False
        while trials < self.most_trials:
            if ctx.replay is not None:  # the recorded count in one call: the same trials as the calls that made it
                more = int(ctx.replay["units"]) - trials
            else:
                more = self.trials_that_fit(ctx, min(self.trials_per_call, self.most_trials - trials))
            if more <= 0:
                break
            result = ctx.run(self.module, [*command, "--n-trials", str(trials + more)],
                             f"{run_name} trial{f's {trials + 1}-' if more > 1 else ' '}{trials + more}", units=more)
            trials, stopped = finished_trials(folder), result.stopped
            if stopped:
                break
        if trials == 0:
            return Outcome("skipped", reason="not one trial fitted the time left", args=args)
        if stopped or not (folder / "best_params.yaml").is_file():
            return Outcome("stopped", units=trials, reason="stopped at the play's deadline before its best "
                           "parameters were written", args=args)
        return Outcome("done", units=trials, args=args, notes={"best_params": str(folder / "best_params.yaml")},
                       reason=f"{trials} trials finished")

    def trials_that_fit(self, ctx: StepContext, most: int) -> int:
        """How many more trials (up to ``most``) fit one command within the step's time and the time left, the run
        ``then`` needs (projected from the best trial so far) kept aside."""
        play = ctx.play
        trial = ctx.pace() or self.unit_s(play)
        then_s = play.minimum_s(play.step_named(self.then)) if self.then else 0.0
        room = min(ctx.allowance * SLACK - ctx.spent(), play.left_for_steps()) - then_s - ctx.start_s()
        return max(0, min(most, int(room // trial))) if trial > 0 else most


def finished_study(ctx: StepContext, name: str) -> dict | None:
    """The decision of the Tune step ``name`` when it ended with its best parameters written (``notes["best_params"]``,
    its ``args``), else None: what the run of its best parameters is built from."""
    outcome = ctx.play.decisions.outcome(name)
    return outcome if outcome and outcome.get("status") == "done" else None


def study_pace(play, study: str) -> float | None:
    """Seconds a fold of a run with the best parameters of the Tune step ``study`` is projected to take: its best
    trial's measured seconds per fold, times RUN_OVER_TRIAL (a run also loads the data and predicts the test rows)."""
    step = play.step_named(study)
    found = best_params_of(play.runs_dir / play.competition / (step.run_name or step.name)).get("seconds_per_fold")
    return RUN_OVER_TRIAL * float(found) if found else None


def finished_trials(folder: Path) -> int:
    return int(best_params_of(folder).get("finished_trials", 0))


def best_params_of(folder: Path) -> dict:
    """A study's ``best_params.yaml`` (common.tuning.study.write_best), empty before its first call ends."""
    import yaml
    path = folder / "best_params.yaml"
    return (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}


@dataclass
class Seeds(Step):
    """More seeds of the best kept run of ``families`` (of another library than the base of the Seeds step
    ``other_than``, for seeds of a second kind): run ``<base>-seed<s>`` with ``--seed base+s``, averaged with the
    base into ``<name>``; one more while the mean per-fold AUC gain of the last seed is beyond the fold noise (more
    than its standard error over the folds)."""
    name: str
    module: str
    weight: float
    estimate_s: float          # one fold of one seed, before the base run's folds are measured
    families: tuple[str, ...] = ()
    base_seed: int = 42
    most_seeds: int = 8
    other_than: str = ""
    essential: bool = False
    lane: str = "cpu"
    after: tuple[str, ...] = ()

    def minimum_units(self, n_splits: int) -> int:
        return n_splits

    def base(self, play) -> Candidate | None:
        """The run to add seeds to."""
        pool = play.candidates()
        if self.other_than:
            taken = ((play.decisions.outcome(self.other_than) or {}).get("notes") or {}).get("base")
            library = next((c.library for c in pool if c.run == taken), None)
            pool = [c for c in pool if c.library != library]
        return best_of(pool, self.families or None)

    def measured_unit_s(self, play) -> float | None:
        """A fold of the base run as its step measured it (a seed of the quick LightGBM costs what it did, not
        what a seed of CatBoost would)."""
        return pace_of_run(play, self.base(play))

    def run(self, ctx: StepContext) -> Outcome:
        play = ctx.play
        if ctx.replay is not None:
            base_run, base_args, family = ctx.replay["notes"]["base"], _args([], ctx), ctx.replay["notes"]["family"]
        else:
            best = self.base(play)
            if best is None:
                return Outcome("skipped", reason="no finished run to add seeds to")
            base_run, base_args, family = best.run, best.args, best.family
        runs, gains, reason = [base_run], [], ""
        for s in range(1, self.most_seeds):
            seed_run = f"{base_run}-seed{s}"
            args = [*strip_option(base_args, "--seed"), "--seed", str(self.base_seed + s)]
            if ctx.replay is not None and s > int(ctx.replay["units"]):
                break
            left = len(unfinished_folds(play, seed_run))
            if ctx.replay is None and left and not ctx.fits(play.n_splits - left, count=left):
                reason = (f"seed {s} ({left} folds) is projected at {ctx.projected(left):.0f} s, more than fits the "
                          "time left: not started (a seed short of its folds is not averaged)")
                break
            done = train_folds(ctx, self.module, [*args, "--name", seed_run], seed_run, replay_folds=play.n_splits)
            if done < play.n_splits:
                reason = f"seed {s} did not fit the time left ({done} of {play.n_splits} folds; kept, not averaged)"
                break
            runs.append(seed_run)
            gain = fold_gain(play, runs)
            gains.append(gain)
            if ctx.replay is None and not gain["beyond_noise"]:
                reason = (f"seed {s} gained {gain['mean']:+.5f} per fold (standard error {gain['se']:.5f}): within "
                          f"the fold noise, no more seeds")
                break
        if len(runs) < 2:
            return Outcome("skipped", reason=reason or "no seed fitted", args=base_args,
                           notes={"base": base_run, "family": family})
        average_into(play, self.name, runs)
        folder = RunFolder(play.runs_dir / play.competition / self.name)
        oof = folder.read_oof()
        cv = auc_summary(oof["target"], oof["pred"])
        return Outcome("done", units=len(runs) - 1, args=base_args, cv=cv,
                       candidates=[Candidate(self.name, family, self.name, base_args, cv)],
                       reason=reason or f"{len(runs)} seeds", notes={"base": base_run, "family": family,
                                                                      "gains": gains})


def strip_option(args: list[str], name: str) -> list[str]:
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
            continue
        if a == name:
            skip = True
            continue
        out.append(a)
    return out


def fold_gain(play, runs: list[str]) -> dict:
    """Per-fold AUC of the mean of ``runs`` minus that of the mean of all but the last: mean, standard error,
    and whether the mean is beyond one standard error (the fold noise)."""
    oofs = [RunFolder(play.runs_dir / play.competition / r).read_oof().set_index("id") for r in runs]
    ids = oofs[0].index
    fold, y = oofs[0]["fold"].to_numpy(), oofs[0]["target"].to_numpy()
    preds = np.stack([o["pred"].reindex(ids).to_numpy() for o in oofs])
    with_last, without = preds.mean(axis=0), preds[:-1].mean(axis=0)
    gains = np.array([roc_auc(y[fold == k], with_last[fold == k]) - roc_auc(y[fold == k], without[fold == k])
                      for k in np.unique(fold)])
    se = float(gains.std(ddof=1) / math.sqrt(len(gains))) if len(gains) > 1 else float("inf")
    return {"mean": float(gains.mean()), "se": se, "beyond_noise": bool(gains.mean() > se)}


def average_into(play, name: str, runs: list[str]) -> None:
    from common.multi_seed import average_seeds
    parent = Run.open(play.competition, name, play.runs_dir)
    if parent.root.exists():
        shutil.rmtree(parent.root)  # the play's own average, rebuilt from its seed runs
        parent = Run.open(play.competition, name, play.runs_dir)
    seed_runs = [Run(play.runs_dir / play.competition / r) for r in runs]
    parent.save_config({"average_of": runs})
    average_seeds(parent, seed_runs, list(range(play.n_splits)), n_splits=play.n_splits)
