"""The steps of a play: when one more unit fits, units stopped at the deadline, and a tight budget where a step
that cannot fit is skipped with its reason (never started) and one whose folds do not all fit is kept partial."""
import json
import time
from types import SimpleNamespace

import pytest

from common.play.plan import Plan
from common.play.steps import PLAY_FOLDER, SLACK, Folds, Once, StepContext, _args, strip_option
from common.play.units import UnitFailed, run_unit


def context(allowance=10.0, left=100.0, essential=False, replay=None, speed=1.0, estimate=1.0):
    play = SimpleNamespace(left_for_steps=lambda: left, speed=lambda lane="cpu": speed, start_s=lambda lane="cpu": 0.0)
    step = Once("check", "module", [], weight=1, estimate_s=estimate, essential=essential)
    return StepContext(play, step, allowance, replay)


def test_a_unit_fits_while_its_projection_is_within_the_share_and_the_time_left():
    assert context(allowance=10, estimate=10 * SLACK - 0.5).fits(0)
    assert not context(allowance=10, estimate=10 * SLACK + 0.5).fits(0)
    assert not context(allowance=10, speed=4.0, estimate=5).fits(0)      # scaled by the measured speed
    assert not context(allowance=1000, left=3, estimate=5).fits(0)       # never past the tail


def test_measured_units_replace_the_estimate():
    ctx = context(allowance=10, estimate=0.1)
    ctx.commands = [(1, 15.0), (1, 17.0)]
    assert not ctx.fits(2)  # 16 s a unit measured: one more would pass 10 s x SLACK
    ctx = context(allowance=10, estimate=1000)
    ctx.commands = [(1, 1.0), (1, 2.0)]
    assert ctx.fits(2)


def test_an_essential_step_is_bound_by_the_time_left_only():
    assert context(allowance=1, left=100, essential=True, estimate=50).fits(0)
    assert not context(allowance=1, left=40, essential=True, estimate=50).fits(0)


def test_a_replay_runs_the_recorded_count_whatever_the_clock():
    ctx = context(allowance=0, left=0, replay={"units": 2}, estimate=1e9)
    assert [ctx.fits(done) for done in range(4)] == [True, True, False, False]


def measured_play(tmp_path, speed: float, runs: dict[str, tuple[list[str], float, float]]):
    """A play at ``speed`` whose kept runs ``runs`` ({run: (args, CV AUC, measured seconds a fold)}) each ended
    the step of its name."""
    from common.play.decisions import DecisionLog
    from common.play.steps import Candidate

    decisions = DecisionLog(tmp_path / "decisions.jsonl")
    for run, (_, _, unit_s) in runs.items():
        decisions.append({"event": "finish", "step": run, "notes": {"unit_s": unit_s}})
    return SimpleNamespace(decisions=decisions, speed=lambda lane="cpu": speed,
                           candidates=lambda: [Candidate(run, run, run, args, {"auc": auc})
                                               for run, (args, auc, _) in runs.items()])


def test_seeds_are_projected_at_the_measured_pace_of_the_run_they_repeat(tmp_path):
    from common.play.steps import TRIAL_COST, Seeds, Tune

    play = measured_play(tmp_path, 2.0, {"quick": ([], 0.82, 2.5), "slow": ([], 0.81, 70.0)})
    tune = Tune("tune", "module", [], weight=1, estimate_s=90, families=("slow",), trial_folds=3)
    assert tune.unit_s(play) == TRIAL_COST * 3 * 70.0     # three folds of the run it tunes, twice over
    assert Tune("tune", "module", [], weight=1, estimate_s=90, families=("none",)).unit_s(play) == 180.0
    tuned = Folds("tuned", "module", [], weight=1, estimate_s=30, family="tuned", pace_of=("slow",))
    assert tuned.unit_s(play) == 70.0
    seeds = Seeds("seeds", "module", weight=1, estimate_s=30)
    assert seeds.unit_s(play) == 2.5                       # the best run's measured fold, not 30 s x 2
    assert Seeds("seeds", "module", weight=1, estimate_s=30, families=("slow",)).unit_s(play) == 70.0
    assert Seeds("seeds", "module", weight=1, estimate_s=30, families=("none",)).unit_s(play) == 60.0


def test_a_replay_runs_the_recorded_arguments_in_its_own_folder(tmp_path):
    from kit.play.pilot import Play
    first = Play.__new__(Play)
    first.folder = tmp_path / "first"
    recorded = first.portable(["--out", str(first.folder / "runs" / "duplicates.csv"), "--model", "xgboost"])
    assert recorded == ["--out", f"{PLAY_FOLDER}/runs/duplicates.csv", "--model", "xgboost"]
    ctx = context(replay={"units": 1, "args": recorded})
    ctx.play.folder = tmp_path / "again"
    assert _args(["--ignored"], ctx) == ["--out", str(tmp_path / "again" / "runs" / "duplicates.csv"),
                                         "--model", "xgboost"]


def test_strip_option():
    assert strip_option(["--model", "xgboost", "--seed", "7", "--fold", "1"], "--seed") == \
        ["--model", "xgboost", "--fold", "1"]


@pytest.mark.slow
def test_a_unit_past_its_deadline_is_stopped(tmp_path):
    started = time.monotonic()
    result = run_unit("timeit", ["-n", "1", "import time; time.sleep(30)"], tmp_path / "play.log", timeout=1.0)
    assert result.stopped
    assert time.monotonic() - started < 10


@pytest.mark.slow
def test_a_failing_unit_names_its_command_and_log(tmp_path):
    with pytest.raises(UnitFailed) as raised:
        run_unit("common.play.no_such_module", ["--x"], tmp_path / "play.log", timeout=None)
    assert "common.play.no_such_module --x exited with 1" in str(raised.value)
    assert str(tmp_path / "play.log") in str(raised.value)


@pytest.mark.slow
@pytest.mark.e2e
def test_a_tight_budget_skips_what_cannot_fit_and_keeps_a_partial_run(tmp_path):
    import tests.toy.cancer  # noqa: F401 (registers toy_cancer)
    from kit.play.pilot import open_play
    from tests.toy.cancer import write_data

    data = write_data(tmp_path / "data")
    module = "tests.toy.cancer"
    fast = ["--num-threads", "1", "--num-boost-round", "200", "--early-stopping-rounds", "20", "--n-splits", "3"]
    plan = Plan(steps=[
        Folds("lgb", module, ["--model", "lightgbm", *fast], weight=1, estimate_s=2, family="lightgbm",
              essential=True),
        # estimated cheap, so it starts; its share (diluted by "check") holds one measured fold (slow: 10000 rounds),
        # not three even stretched to finish
        Folds("xgb", module, ["--model", "xgboost", *fast, "--num-boost-round", "10000", "--early-stopping-rounds",
                              "10000"], weight=1, estimate_s=0.1, family="xgboost"),
        Folds("huge", module, ["--model", "xgboost", *fast], weight=1, estimate_s=1000, family="xgboost"),
        Once("check", module, ["--help"], weight=300, estimate_s=0.1),
    ], n_splits=3, tail_s=10)
    play = open_play("toy_cancer", data, "tight", tmp_path / "plays", 60.0, "cpu", None)
    play.echo = lambda line: None
    summary = play.run(plan)

    records = [json.loads(line) for line in (play.folder / "decisions.jsonl").read_text().splitlines()]
    ended = {r["step"]: r for r in records if r["event"] in ("finish", "skip")}
    started = [r["step"] for r in records if r["event"] == "start"]
    assert ended["lgb"]["status"] == "done" and ended["lgb"]["units"] == 3
    assert ended["huge"]["event"] == "skip" and "needs about" in ended["huge"]["reason"]
    assert "huge" not in started and not (play.runs_dir / "toy_cancer" / "huge").exists()
    assert ended["xgb"]["status"] == "partial" and 1 <= ended["xgb"]["units"] < 3
    assert "folds fitted the time" in ended["xgb"]["reason"] and ended["xgb"]["candidates"] == []
    assert (play.runs_dir / "toy_cancer" / "xgb" / "oof.csv").is_file()  # kept, not thrown away
    assert ended["check"]["status"] == "done"
    assert summary["result"]["kind"] == "run" and summary["result"]["runs"] == ["lgb"]  # the partial run stays out
    assert summary["spent_s"] <= 60.0


def test_a_study_leaves_the_time_of_the_run_it_feeds():
    from common.play.steps import Tune
    from kit.play.pilot import Play

    tune = Tune("tune", "module", [], weight=1, estimate_s=10, then="tuned")
    tuned = Folds("tuned", "module", [], weight=1, estimate_s=4, family="tuned")
    play = Play.__new__(Play)
    play.plan = Plan(steps=[tune, tuned], n_splits=5)
    play.device, play.speed, play.candidates = "cpu", lambda lane="cpu": 1.0, lambda: []  # nothing measured yet
    play.start_s = lambda lane="cpu": 0.0
    assert play.minimum_s(tuned) == 5 * 4
    assert play.minimum_s(tune) == 6 * 10 + 5 * 4  # its least trials, then every fold of the tuned run
    play.start_s = lambda lane="cpu": 7.0                # each command starts Python and reads the data first
    assert play.minimum_s(tuned) == 7 + 5 * 4
    assert play.minimum_s(tune) == (7 + 6 * 10) + (7 + 5 * 4)
    with pytest.raises(ValueError, match="leaves time for 'tuned', which is not a later step"):
        Plan(steps=[tuned, tune])


def test_the_run_of_a_studys_best_parameters_is_projected_at_its_best_trials_pace(tmp_path):
    from common.play.steps import RUN_OVER_TRIAL, Tune

    tune = Tune("tune", "module", [], weight=1, estimate_s=10, then="tuned")
    tuned = Folds("tuned", "module", [], weight=1, estimate_s=4, family="tuned", study="tune")
    play = SimpleNamespace(plan=Plan(steps=[tune, tuned]), runs_dir=tmp_path, competition="toy",
                           speed=lambda lane="cpu": 1.0, candidates=lambda: [])
    play.step_named = lambda name: next(s for s in play.plan.steps if s.name == name)
    assert tuned.unit_s(play) == 4  # no study yet: the estimate
    (tmp_path / "toy" / "tune").mkdir(parents=True)
    (tmp_path / "toy" / "tune" / "best_params.yaml").write_text("seconds_per_fold: 50\n")
    assert tuned.unit_s(play) == RUN_OVER_TRIAL * 50  # deeper trees than the default's: far slower


def test_a_study_runs_while_its_trials_and_the_run_after_it_fit():
    from common.play.steps import Tune

    tune = Tune("tune", "module", [], weight=1, estimate_s=10, then="tuned")
    tuned = Folds("tuned", "module", [], weight=1, estimate_s=4, family="tuned")
    play = SimpleNamespace(left_for_steps=lambda: 1000.0, speed=lambda lane="cpu": 1.0, candidates=lambda: [],
                           minimum_s=lambda step: 20.0, step_named=lambda name: tuned, start_s=lambda lane="cpu": 0.0)
    ctx = StepContext(play, tune, allowance=60.0, replay=None)
    assert tune.trials_that_fit(ctx, 5) == 5   # 60 x SLACK = 90 s: 20 s for the run, 70 s for 7 trials of 10 s
    play.start_s = lambda lane="cpu": 35.0      # a call starts Python and reads the data first: 35 s left for trials
    assert tune.trials_that_fit(ctx, 5) == 3
    play.start_s = lambda lane="cpu": 0.0
    ctx.commands = [(2, 60.0)]                  # measured: 30 s a trial
    assert tune.trials_that_fit(ctx, 5) == 2
    play.left_for_steps = lambda: 50.0          # the time left bounds it too
    assert tune.trials_that_fit(ctx, 5) == 1


def test_seeds_of_a_second_kind_leave_out_the_library_the_first_seeds_repeated(tmp_path):
    from common.play.steps import Seeds

    play = measured_play(tmp_path, 1.0, {
        "lgb-xt": (["--model", "lightgbm"], 0.83, 3.0), "lgb": (["--model", "lightgbm"], 0.82, 9.0),
        "xgb": (["--model", "xgboost"], 0.81, 20.0), "catboost": (["--model", "catboost"], 0.80, 60.0)})
    first = Seeds("seeds", "module", weight=1, estimate_s=30)
    other = Seeds("seeds-other", "module", weight=1, estimate_s=30, other_than="seeds")
    assert first.base(play).run == other.base(play).run == "lgb-xt"   # the first seeds did not run yet
    play.decisions.append({"event": "finish", "step": "seeds", "status": "done", "notes": {"base": "lgb-xt"}})
    assert other.base(play).run == "xgb"                  # no LightGBM: the best run of another library
    assert other.unit_s(play) == 20.0                     # at the pace of the run it repeats
    with pytest.raises(ValueError, match="leaves out the base of 'seeds', which is not an earlier step"):
        Plan(steps=[other, first])


def test_a_plan_names_blend_methods_the_kit_has():
    step = Once("a", "timeit", [], weight=1, estimate_s=1)
    assert Plan(steps=[step]).blend_methods == ("hill", "rank")
    with pytest.raises(ValueError, match=r"a plan's blend methods are some of \[.*'hill'.*\]: \['hil'\]"):
        Plan(steps=[step], blend_methods=("hil",))


def test_the_folds_left_of_a_started_run_go_on_together_up_to_twice_its_share(tmp_path, monkeypatch):
    """A run whose first fold took longer than projected (16 s where its family's folds took 5) went on one fold at a
    time, each paying the start again, and was cut at 4 of 5 folds: a minute for a run the blend cannot take."""
    from common.play.steps import FINISH_STRETCH, train_folds

    calls = fake_fold_commands(tmp_path, monkeypatch, lambda folds: 16.0 * folds)
    for allowance, expected in ((80 / SLACK / FINISH_STRETCH + 1, [[0], [1, 2, 3, 4]]),   # 80 s within twice the share
                                (80 / SLACK / FINISH_STRETCH - 5, [[0], [1]])):           # past it: one by one
        ctx = fresh_run(tmp_path, calls, allowance, estimate=5, left=1000.0, start=0.0)
        assert train_folds(ctx, "module", ["--name", "run"], "run") == sum(map(len, expected))
        assert calls == expected


def fake_fold_commands(tmp_path, monkeypatch, seconds):
    """Fold commands that only mark their run's folds finished, each taking ``seconds(its folds)`` on
    the clock :func:`fresh_run` gives; the list of the folds each command was given."""
    from common.play import steps
    from common.play.steps import UnitResult

    calls = []

    def run_unit(module, args, log, timeout, env):
        batch = [int(k) for k in args[args.index("--fold") + 1].split(",")]
        calls.append(batch)
        for k in batch:
            (tmp_path / "runs" / "toy" / args[args.index("--name") + 1] / f"fold{k}").mkdir(parents=True, exist_ok=True)
        return UnitResult(seconds=seconds(len(batch)), returncode=0, stopped=False)

    monkeypatch.setattr(steps, "run_unit", run_unit)
    monkeypatch.setattr(steps.RunFolder, "is_finished", lambda self, k: (self.root / f"fold{k}").is_dir())
    return calls


def folds_play(tmp_path, start):
    """What train_folds reads of a play of the toy competition (5 folds) whose commands start in ``start`` seconds."""
    return dict(runs_dir=tmp_path / "runs", competition="toy", n_splits=5, common_args=[], env=None,
                log_path=tmp_path / "log.txt", start_s=lambda lane="cpu": start, progress=lambda *a: None)


def fresh_run(tmp_path, calls, allowance, estimate, left, start):
    """A step of the run ``run`` with no fold finished and ``calls`` cleared, in a play whose steps have ``left``
    seconds (less the step's own commands) and whose commands start in ``start`` seconds; its clock is the sum of
    its commands' seconds."""
    calls.clear()
    for old in (tmp_path / "runs").glob("toy/run/fold*"):
        old.rmdir()
    play = SimpleNamespace(**folds_play(tmp_path, start), left_for_steps=lambda: left - ctx.spent(),
                           speed=lambda lane="cpu": 1.0)
    ctx = StepContext(play, Folds("run", "module", [], weight=1, estimate_s=estimate, family="f"), allowance, None)
    ctx.spent = lambda: sum(seconds for _, seconds in ctx.commands)
    return ctx


def test_the_start_of_a_command_is_fitted_apart_from_its_units():
    from common.play.steps import start_cost

    assert start_cost([(1, 13.0)]) is None                    # one size: start and fold cannot be told apart
    assert start_cost([(1, 13.0), (4, 22.0)]) == pytest.approx(10.0)
    assert start_cost([(1, 13.0), (4, 22.0), (1, 13.0)]) == pytest.approx(10.0)
    assert start_cost([(1, 5.0), (4, 40.0)]) == 0.0            # slower folds later: no negative start
    assert start_cost([(1, 10.0), (4, 8.0)]) == 8.0         # noise: at most the quickest command


def test_a_measured_start_is_paid_once_a_command_not_once_a_fold(tmp_path, monkeypatch):
    """The demo's pseudo-label run: its first fold took 13 s, 10 of them starting Python and reading the data (as
    the play measured on its first runs). Projected at 13 s a fold, the 4 left did not fit the 40 s left and went
    one by one, each paying the start again, and the run ended partial; at 10 s + 4 x 3 s they go on together.
    Before the play measured a start, as many as fit go on together, and the two sizes tell the start apart."""
    from common.play.steps import train_folds

    calls = fake_fold_commands(tmp_path, monkeypatch, lambda folds: 10.0 + 3.0 * folds)
    for measured_start, expected in ((10.0, [[0], [1, 2, 3, 4]]), (0.0, [[0], [1, 2, 3], [4]])):
        ctx = fresh_run(tmp_path, calls, allowance=35.0, estimate=3, left=53.0, start=measured_start)
        train_folds(ctx, "module", ["--name", "run"], "run")
        assert calls == expected
    assert ctx.start_s() == pytest.approx(10.0)   # its own commands, once they came in two sizes
    assert ctx.pace() == pytest.approx(3.0)


def test_a_recipe_an_earlier_step_measured_runs_its_folds_in_one_command(tmp_path, monkeypatch):
    """A seed of a run, or a tuned run after its study: the pace is known, so no fold runs alone to time it (the
    second start it paid left the play's last seeds 3 of 5 folds in the 29 s that one command of 5 fitted)."""
    from common.play.steps import train_folds

    calls = fake_fold_commands(tmp_path, monkeypatch, lambda folds: 5.0 + 4.0 * folds)
    ctx = fresh_run(tmp_path, calls, allowance=20.0, estimate=100, left=29.0, start=5.0)
    monkeypatch.setattr(ctx.step, "measured_unit_s", lambda play: 4.0)
    assert train_folds(ctx, "module", ["--name", "run"], "run") == 5
    assert calls == [[0, 1, 2, 3, 4]]


def test_a_seed_whose_folds_do_not_all_fit_is_not_started(tmp_path, monkeypatch):
    from common.play.steps import Seeds

    calls = fake_fold_commands(tmp_path, monkeypatch, lambda folds: 5.0 + 4.0 * folds)
    play = measured_play(tmp_path, 1.0, {"run": (["--model", "lightgbm"], 0.82, 4.0)})
    play.__dict__.update(folds_play(tmp_path, start=5.0), left_for_steps=lambda: 24.0)
    ctx = StepContext(play, Seeds("seeds", "module", weight=1, estimate_s=30), 100.0, None)
    outcome = ctx.step.run(ctx)
    assert calls == []     # 5 s + 5 x 4 s projected, 24 s left: a partial seed would be thrown away
    assert outcome.status == "skipped"
    assert "seed 1 (5 folds) is projected at 25 s" in outcome.reason


def test_a_run_whose_folds_left_cannot_end_in_the_play_stops_after_its_first(tmp_path, monkeypatch):
    """A 20-minute Nexperia play projected the CNN recipe at half its pace from two quick steps and started it: its
    first fold took 300 s, the 4 left needed 20 minutes of the 14 left. Partial, the run would never be blended:
    it stops there and the VAE and the quick CNN get the time."""
    from common.play.steps import train_folds

    calls = fake_fold_commands(tmp_path, monkeypatch, lambda folds: 10.0 + 300.0 * folds)
    ctx = fresh_run(tmp_path, calls, allowance=1100.0, estimate=150, left=1144.0, start=10.0)
    assert train_folds(ctx, "module", ["--name", "run"], "run") == 1
    assert calls == [[0]]
    ctx = fresh_run(tmp_path, calls, allowance=600.0, estimate=150, left=1600.0, start=10.0)
    assert train_folds(ctx, "module", ["--name", "run"], "run") == 5   # where they fit, the 4 left go on together
    assert calls == [[0], [1, 2, 3, 4]]
