"""The pilot: runs a competition's plan within the budget, step by step, and ends with the tail (blend, final picks,
report, submission) inside the budget.

A play lives in ``plays/<competition>/<name>/`` (``$KIT_PLAYS_ROOT`` or ``--out`` for ``plays/``): ``play.json``
(its options and, at the end, its result), ``state.json`` (time spent, for a resumed play's clock),
``decisions.jsonl``, ``play.log`` (every command's output), ``runs/<competition>/`` (its runs on one shared fold
file), ``submissions/files/``, ``timeline.png`` and ``play.html``. Running the same command again resumes it: ended
steps are read back from the decisions log, a step that was running continues (its finished folds are kept), and
the clock counts the time the earlier sessions spent. With ``--device cuda`` the plan's device steps run in a lane
of their own beside the CPU steps.
"""
from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np

from common.errors import BadInput, InputExists
from common.io import atomic_write_json, read_json
from common.play.budget import Clock, format_seconds, share
from common.play.decisions import DecisionLog, Replay
from common.play.plan import Plan, plays_root
from common.play.steps import PLAY_FOLDER, SLACK, Candidate, Outcome, Step, StepContext, start_cost
from common.play.units import UnitFailed
from common.registry import get_competition, load_hook

HEARTBEAT_S = 2.0   # how often the time spent is saved: a kill loses at most this much from the clock
MIN_SPEED = 0.5     # the plans' estimates were measured on this 2-core machine: a step that ran far below its estimate
                    # says more about that estimate than about the next step's (a conv VAE after a logistic regression)


class Play:
    def __init__(self, competition: str, data: Path, folder: Path, budget_s: float, device: str,
                 replay: Replay | None = None, echo: Callable[[str], None] = print):
        self.competition, self.data, self.folder = competition, data, folder
        self.budget_s, self.device, self.replay, self.echo = budget_s, device, replay, echo
        self.runs_dir = folder / "runs"
        self.files_root = folder / "submissions" / "files"
        self.log_path = folder / "play.log"
        self.env = {"KIT_SUBMISSIONS_ROOT": str(folder / "submissions")}
        self.common_args = ["--data", str(data), "--runs-dir", str(self.runs_dir)]
        self.decisions = DecisionLog(folder / "decisions.jsonl")
        state = read_json(folder / "state.json") if (folder / "state.json").is_file() else {}
        self.clock = Clock(budget_s, spent_before=float(state.get("spent_s", 0.0)))
        self.plan: Plan | None = None
        self.reserve_s = 0.0
        self._stop = threading.Event()
        self._lane_failed = threading.Event()

    # -- time ---------------------------------------------------------------------------------------------
    def left_for_steps(self) -> float:
        """Seconds the steps may still use: the time left less the tail's reserve (never when replaying)."""
        if self.replay is not None:
            return float("inf")
        return self.clock.left() - self.reserve_s

    @property
    def n_splits(self) -> int:
        return self.plan.n_splits

    def lanes(self) -> list[list[Step]]:
        """The plan's steps in the lanes that run side by side: with ``--device cuda``, the device (GPU) steps beside
        the CPU steps; otherwise one lane, every step in plan order with all cores."""
        if self.device != "cuda":
            return [list(self.plan.steps)]
        found: dict[str, list[Step]] = {}
        for step in self.plan.steps:
            found.setdefault(step.lane, []).append(step)
        return list(found.values())

    def lane_of(self, step: Step) -> list[Step]:
        return next(lane for lane in self.lanes() if step in lane)

    def speed(self, lane: str = "cpu") -> float:
        """Measured unit time over the plan's estimate, the median over the steps of ``lane`` so far (over every step
        when the lanes do not run side by side; 1 before any), each step weighing as much as its measured unit's
        seconds: every estimate is scaled by it, so a slower machine or larger data shrinks what the plan offers to
        fit. A unit of a second or two (a pixel logistic regression) measures caches and timers more than the
        machine: measured at 1.1 and 5.3 s in two plays on the same data, it must not decide alone whether a CNN of
        five minutes a fold fits."""
        measured = [(notes["unit_s"] / notes["estimate_s"], notes["unit_s"]) for notes in self.measured(lane)
                    if notes.get("unit_s") and notes.get("estimate_s")]
        return max(weighted_median(*zip(*measured)), MIN_SPEED) if measured else 1.0

    def start_s(self, lane: str = "cpu") -> float:
        """Seconds a command pays before its first fold (Python's start, the data read), the median measured by the
        steps of ``lane`` so far; 0 before any (a first fold's time then counts it as the fold's)."""
        starts = [notes["start_s"] for notes in self.measured(lane) if notes.get("start_s") is not None]
        return float(np.median(starts)) if starts else 0.0

    def measured(self, lane: str) -> list[dict]:
        """The notes of the finished steps of ``lane`` (of every lane when they do not run side by side)."""
        names = {s.name for s in self.plan.steps if len(self.lanes()) == 1 or s.lane == lane}
        return [r.get("notes") or {} for r in self.decisions.finished() if r.get("step") in names]

    def minimum_s(self, step: Step) -> float:
        """The step's least useful size in seconds (one command's start with it), with that of the step it leaves
        time for (a study's ``then``)."""
        return (self.start_s(step.lane) if step.pays_start else 0.0) + step.unit_s(self) * step.minimum_units(
            self.n_splits) + (self.minimum_s(self.step_named(step.then)) if step.then else 0.0)

    def step_named(self, name: str) -> Step:
        return next(s for s in self.plan.steps if s.name == name)

    def allowance(self, step: Step) -> float:
        """The step's time: its weight's share of the time left among the steps of its lane still feasible (one that
        cannot fit dilutes nobody's), at least its least useful size (every fold of a run) with SLACK, at most the
        time left. Steps come in order of priority: each one that fits runs (quick defaults first, as H2O plans
        them); the weights say how far beyond its least useful size a step may go (trials, seeds, folds at a slower
        pace than measured)."""
        lane, left = self.lane_of(step), self.left_for_steps()
        feasible = [s for s in lane[lane.index(step) + 1:] if self.minimum_s(s) <= left]
        given = share(left, step.weight, step.weight + sum(s.weight for s in feasible))
        return max(0.0, min(left, max(given, self.minimum_s(step) * SLACK)))

    def save_time(self) -> None:
        atomic_write_json(self.folder / "state.json", {"spent_s": round(self.clock.spent(), 2)})

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            self.save_time()

    # -- what the steps read -------------------------------------------------------------------------------
    def candidates(self) -> list[Candidate]:
        found = []
        for record in self.decisions.finished():
            for c in record.get("candidates", []):
                found.append(Candidate(**c))
        return found

    def portable(self, args: list[str] | None) -> list[str] | None:
        """``args`` as the decisions log keeps them: this play's folder written ``{play}``, so that a replay's
        commands point into the replay's own folder."""
        return None if args is None else [a.replace(str(self.folder), PLAY_FOLDER) for a in args]

    def set_aside(self, folder: Path) -> Path:
        """Move an unfinished output of the play out of the way (kept, never deleted)."""
        aside = self.folder / "set-aside" / f"{folder.name}-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
        aside.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(folder), aside)
        return aside

    def progress(self, step: Step, label: str, ctx: StepContext) -> None:
        best = max(self.candidates(), key=lambda c: c.cv["auc"], default=None)
        planned = "replay" if ctx.replay is not None else format_seconds(ctx.allowance)
        self.echo(f"[{format_seconds(self.clock.spent())} of {format_seconds(self.budget_s)}] {step.name}: {label}"
                  f" (step: {format_seconds(ctx.spent())} spent of {planned} planned; "
                  f"{format_seconds(self.clock.left())} left"
                  + (f"; best CV so far {best.cv['auc']:.5f} {best.run})" if best else ")"))

    # -- the play ------------------------------------------------------------------------------------------
    def run(self, plan: Plan) -> dict:
        self.plan = plan
        self.reserve_s = plan.tail_s
        ended = read_json(self.folder / "play.json").get("summary")
        if ended:  # the same command again after the end: nothing to do, the clock untouched
            self.echo(f"the play in {self.folder} has ended: {ended['result']['kind']} "
                      f"{'+'.join(ended['result']['runs'])}, CV AUC {ended['result']['cv']['auc']:.5f}")
            return ended
        if not any(r.get("event") == "play" for r in self.decisions.records):
            self.decisions.append({"event": "play", "competition": self.competition, "budget_s": self.budget_s,
                                   "data": str(self.data), "device": self.device, "n_splits": plan.n_splits,
                                   "steps": [s.name for s in plan.steps], "at": 0.0})
        else:
            self.echo(f"resuming the play in {self.folder}: {format_seconds(self.clock.spent_before)} spent before")
        self.save_time()
        beat = threading.Thread(target=self._heartbeat, daemon=True)
        beat.start()
        try:
            lanes = self.lanes()
            if len(lanes) == 1:
                self.walk(lanes[0])
            else:
                self.walk_side_by_side(lanes)
            return self.tail()
        finally:
            self._stop.set()
            self.save_time()

    def walk(self, steps: list[Step]) -> None:
        """Run the ``steps`` of one lane in order, each once the steps it comes ``after`` have ended."""
        for step in steps:
            if self.decisions.outcome(step.name) is not None:
                continue
            while any(self.decisions.outcome(name) is None for name in step.after):
                if self._lane_failed.wait(0.2):
                    return
            self.run_step(step, self.allowance(step))

    def walk_side_by_side(self, lanes: list[list[Step]]) -> None:
        """One thread per lane (each step's units are processes of their own: the threads only wait on them)."""
        failures: list[BaseException] = []

        def walk_lane(steps: list[Step]) -> None:
            try:
                self.walk(steps)
            except BaseException as failure:  # noqa: B036 (re-raised in the main thread below)
                failures.append(failure)
                self._lane_failed.set()

        threads = [threading.Thread(target=walk_lane, args=(steps,), name=f"lane {steps[0].lane}", daemon=True)
                   for steps in lanes]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)
        if failures:
            raise failures[0]

    def run_step(self, step: Step, allowance: float) -> Outcome:
        recorded = self.replay.decision(step.name) if self.replay is not None else None
        at = round(self.clock.spent(), 2)
        if recorded is not None and recorded["event"] == "skip":
            outcome = Outcome("skipped", reason=f"replayed: {recorded.get('reason', '')}")
        elif recorded is None and (needed := self.minimum_s(step)) > self.left_for_steps():
            outcome = Outcome("skipped", reason=f"needs about {format_seconds(needed)}; "
                                                f"{format_seconds(self.left_for_steps())} left before the tail")
        else:
            self.decisions.append({"event": "start", "step": step.name, "at": at, "given_s": round(allowance, 1)})
            context = StepContext(self, step, allowance, recorded)
            try:
                outcome = step.run(context)
            except UnitFailed as failure:  # the other steps go on, as AutoML systems skip a model that fails
                outcome = Outcome("failed", units=context.units_run, reason=str(failure))
            if context.commands and step.measures_speed:
                start = start_cost(context.commands)
                outcome.notes = {**outcome.notes, "unit_s": round(context.pace(), 2), "estimate_s": step.estimate_s,
                                 **({"start_s": round(start, 2)} if start is not None else {})}
        spent = round(self.clock.spent() - at, 2)
        event = "skip" if outcome.status == "skipped" else "finish"
        cv = outcome.cv
        self.decisions.append({
            "event": event, "step": step.name, "status": outcome.status, "reason": outcome.reason,
            "units": outcome.units, "args": self.portable(outcome.args), "at": at, "given_s": round(allowance, 1),
            "spent_s": spent,
            "cv": cv, "notes": outcome.notes, "candidates": [c.__dict__ for c in outcome.candidates]})
        cv_text = f", CV {cv['auc']:.5f} [{cv['ci_low']:.5f}, {cv['ci_high']:.5f}]" if cv else ""
        self.echo(f"[{format_seconds(self.clock.spent())} of {format_seconds(self.budget_s)}] {step.name}: "
                  f"{outcome.status} in {format_seconds(spent)} of {format_seconds(allowance)} given{cv_text}"
                  + (f" - {outcome.reason}" if outcome.reason else ""))
        return outcome

    def tail(self) -> dict:
        from kit.play.tail import finish_play
        return finish_play(self)


def weighted_median(values, weights) -> float:
    """The value at which the weights of the values below and above it are each at most half of the total."""
    order = np.argsort(values)
    values, cumulative = np.asarray(values, float)[order], np.cumsum(np.asarray(weights, float)[order])
    return float(values[np.searchsorted(cumulative, cumulative[-1] / 2)])


def check_data(competition: str, data: Path) -> None:
    """One line when ``data`` is not a data folder of ``competition`` (another competition's included)."""
    from common.registry import known_competitions
    spec = get_competition(competition)
    if not data.is_dir():
        raise BadInput(f"--data {data}: no such folder (the competition's files as Kaggle gives them)")
    if (data / spec.marker_file).is_file():
        return
    others = [name for name in known_competitions()
              if name != competition and (data / get_competition(name).marker_file).is_file()]
    hint = f": it holds {others[0]}'s files" if others else ""
    raise BadInput(f"--data {data} is not a {competition} data folder (no {spec.marker_file}){hint}")


def open_play(competition: str, data: Path, name: str, out: Path | None, budget_s: float, device: str,
              replay: Replay | None, check: Callable[[float], None] | None = None) -> Play:
    """The play's folder, made or resumed; a resumed play must be the same play (competition, data, budget).
    ``check(seconds spent before)`` runs before anything is written (the budget against the plan)."""
    folder = (out or plays_root()) / competition / name
    options = {"competition": competition, "data": str(data.resolve()), "budget_s": budget_s, "device": device,
               "replay": str(replay.path) if replay else None}
    record = folder / "play.json"
    if record.is_file():
        started = read_json(record)
        differs = [k for k in options if started.get("options", {}).get(k) != options[k]]
        if differs:
            before = ", ".join(f"{k}={started['options'].get(k)}" for k in differs)
            raise InputExists(f"play {folder} was started with other {', '.join(differs)} ({before}): run the same "
                              f"command to resume it, or give another --name")
    elif folder.exists() and any(folder.iterdir()):
        raise InputExists(f"{folder} exists and is not a play (no play.json): give another --name or --out")
    if check is not None and not (record.is_file() and "summary" in read_json(record)):  # an ended play: no work
        state = folder / "state.json"
        check(float(read_json(state).get("spent_s", 0.0)) if state.is_file() else 0.0)
    folder.mkdir(parents=True, exist_ok=True)
    if not record.is_file():
        atomic_write_json(record, {"options": options, "command": sys.argv})
    return Play(competition, data, folder, budget_s, device, replay)


def plan_of(competition: str, data: Path, device: str = "cpu") -> Plan:
    """The competition's plan for the data in ``data`` on ``device`` (its registry entry's ``play`` hook)."""
    spec = get_competition(competition)
    if not spec.play:
        raise BadInput(f"competition {competition} declares no play (its registry entry's 'play' hook)")
    return load_hook(spec.play)(data, device)


def check_budget(plan: Plan, budget_s: float, spent_s: float) -> None:
    """The essential steps' smallest worthwhile parts (every fold of a run; the first step when none is essential)
    and the tail must fit the budget left."""
    needed = [s for s in plan.steps if s.essential] or plan.steps[:1]
    seconds = sum(s.estimate_s * s.minimum_units(plan.n_splits) for s in needed)
    if budget_s - spent_s < seconds + plan.tail_s:
        raise BadInput(f"--budget {format_seconds(budget_s)} is too small: {', '.join(s.name for s in needed)} "
                       f"need about {format_seconds(seconds)} and the blend, picks and report "
                       f"{format_seconds(plan.tail_s)}; give at least {format_seconds(seconds + plan.tail_s)}")

