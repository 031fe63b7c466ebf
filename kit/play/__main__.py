"""Play a whole competition within a wall-clock budget: checks, features, models, tuning, seeds, blend, final picks.

    kit play home_credit --budget 15m                  # = python -m kit.play home_credit --budget 15m
    kit play nexperia --budget 20m --data data/nexperia --name first
    kit play home_credit --budget 15m --replay plays/home_credit/play --name again   # the same decisions, no clock
    kit play home_credit --budget 15m --submit          # sends the result through the ledger (daily quota)

The same command after a kill resumes the play where it stopped (docs/play.md). Every input is checked in one line
before any work starts: the competition, its data folder, the budget against the plan's first step and tail,
``--device cuda`` without a GPU, ``--submit`` without Kaggle credentials, a ``--replay`` log of another competition.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from common.cli import run_cli
from common.config import option, parse_config
from common.paths import default_data_dir
from common.play.budget import format_seconds, parse_budget
from common.play.decisions import Replay
from common.registry import get_competition, prepare_environment
from kit.play.pilot import check_budget, check_data, open_play, plan_of


@dataclass
class PlayOptions:
    """Play a whole competition within a wall-clock budget: checks, features, models, tuning, seeds, blend, picks."""
    competition: str = option(required=True, positional=True, help="the kit's competition name, e.g. home_credit")
    budget: str = option(required=True, help="wall-clock budget of the whole play, e.g. 90s, 30m, 2h, 1h30m")
    data: str | None = option(None, help="the competition's data folder (default data/<competition>)")
    device: str = option("cpu", choices=["cpu", "cuda"],
                         help="where the image steps train (cuda: with the GPU recipe, beside the CPU steps)")
    submit: bool = option(False, help="send the result through the ledger (within Kaggle's daily quota, never the "
                                      "same file twice)")
    replay: str | None = option(None, metavar="PLAY", help="an earlier play's folder or decisions.jsonl: run its "
                                                           "decisions with fixed counts instead of the clock")
    name: str = option("play", help="the play's folder: <out>/<competition>/<name> (the same name resumes)")
    out: str | None = option(None, help="where plays go (default: $KIT_PLAYS_ROOT or plays/)")


def play(argv: Sequence[str] | None = None) -> dict:
    """Play (or resume) the command line ``argv``; the summary: the result, the picks, the time spent."""
    return run_play(parse_config(PlayOptions, argv))


def run_play(opts: PlayOptions) -> dict:
    get_competition(opts.competition)
    prepare_environment(opts.competition)
    budget_s = parse_budget(opts.budget)
    data = Path(opts.data) if opts.data else default_data_dir(opts.competition)
    check_data(opts.competition, data)
    if opts.device == "cuda":
        from common.device import require_gpu
        require_gpu("kit play --device cuda")
    if opts.submit:
        from common.kaggle_client import connect
        connect()  # no credentials: one line now, not after the budget is spent
    replay = Replay(opts.replay, opts.competition, opts.device) if opts.replay else None
    plan = plan_of(opts.competition, data, opts.device)
    pilot = open_play(opts.competition, data, opts.name, Path(opts.out) if opts.out else None, budget_s,
                      opts.device, replay, check=None if replay else lambda spent: check_budget(plan, budget_s, spent))
    pilot.submit = opts.submit
    pilot.echo(f"play {opts.competition} in {pilot.folder}: budget {format_seconds(budget_s)}, "
              f"{len(plan.steps)} steps ({', '.join(s.name for s in plan.steps)}), "
              f"{format_seconds(plan.tail_s)} kept for the blend, picks and report"
              + (f"; replaying {replay.path}" if replay else ""))
    summary = pilot.run(plan)
    pilot.echo(f"play ended in {format_seconds(summary['spent_s'])} of {format_seconds(budget_s)}: "
               f"{pilot.folder / 'play.html'}")
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    run_play(parse_config(PlayOptions, argv))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
