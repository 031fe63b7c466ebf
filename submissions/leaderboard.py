"""Leaderboard tracking: every submission of the team, its place on the whole board, the quota, the final picks.

``python -m submissions.leaderboard sync --competition nexperia [--team T] [--files-root F]``: reads every
page of the team's Kaggle submissions, copies status and public/private scores onto the ledger, and adds the
ones the ledger lacks, matched to the kit's submission files by the content of Kaggle's copy
(``submissions.tracking``: a kit file's name with other content is ``modified``, with no CV; unmatched ones are
kept as external; one whose copy cannot be downloaded is said and left for the next sync). It downloads the whole
public leaderboard and records the team's rank, the team count and the medal zone lines (``submissions.standing``,
in the direction of the competition's metric; kept when they changed), and the competition's daily submission
limit. Running it twice changes nothing. It may start a new ledger; ``report`` and ``final`` only read one, and
refuse a path where there is none.
``python -m submissions.leaderboard report [--competition nexperia]``: the ledger, the standing and its
history, today's quota, CV vs LB correlation; plots of the scores in submission order, CV vs public LB and
the rank over time.
``python -m submissions.leaderboard final --competition nexperia``: the two submissions to select as finals,
picked on CV (``submissions.final_picks``), and once private scores are in, what each would have scored.
"""
from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd

from common import kaggle_client
from common.cli import run_cli
from common.config import option, parse_subcommand
from common.registry import get_competition
from submissions import quota, standing
from submissions.final_picks import final_picks, hindsight, picks_table
from submissions.ledger import Ledger, kaggle_time
from submissions.score_plots import plot_cv_vs_public, plot_rank_history, plot_scores_by_order
from submissions.store import default_files_root
from submissions.tracking import kit_files, track

REPORT_COLUMNS = ["id", "created", "source", "file_name", "status", "kaggle_ref", "cv_auc", "cv_ci_low",
                  "cv_ci_high", "public_score", "private_score", "runs"]


def sync(competition: str, ledger_path: str | Path | None = None, team: str | None = None,
         api=None, files_root: str | Path | None = None) -> dict:
    """Track every submission, the team's standing and the quota from Kaggle; return what was found."""
    spec = get_competition(competition)
    with Ledger(ledger_path) as ledger:  # opened first: a ledger that cannot be read is named before Kaggle is asked
        api = api or kaggle_client.connect()
        submissions = kaggle_client.list_submissions(api, spec.slug)
        # the record and the board are extras: when Kaggle refuses them, the submissions are still tracked
        record = place = None
        problems = []
        try:
            record = kaggle_client.competition(api, spec.slug)
        except kaggle_client.KaggleError as error:
            problems.append(f"daily quota: not known ({error})")
        try:
            with tempfile.TemporaryDirectory(prefix="kaggle-leaderboard-") as folder:
                board = standing.read_board(kaggle_client.download_leaderboard(api, spec.slug, folder))
            place = standing.standing(board, team or kaggle_client.username(api), spec.higher_is_better)
        except (kaggle_client.KaggleError, ValueError) as error:  # ValueError: a download that is not a board
            problems.append(f"standing: not known ({error})")
        files = kit_files(Path(files_root or default_files_root()) / competition)
        settled = ledger.settle_from_kaggle(competition, submissions)
        updated = ledger.update_from_kaggle(competition, submissions)
        tracked = track(ledger, competition, submissions, files,
                        lambda ref, where: kaggle_client.download_submission(api, ref, where))
        if place:
            ledger.add_rank(competition, place)
        if record:
            ledger.save_competition(competition, record["max_daily_submissions"], kaggle_time(record["deadline"]))
    return {"kaggle_submissions": len(submissions), "updated": updated, "settled": settled, "added": tracked.added,
            "corrected": tracked.corrected, "standing": place, "problems": tracked.unread + problems,
            "quota": record and quota.from_kaggle(record["max_daily_submissions"], submissions)}


def sync_lines(competition: str, result: dict) -> list[str]:
    lines = [f"{result['kaggle_submissions']} Kaggle submissions read, {result['updated']} ledger records "
             f"updated, {len(result['added'])} new ones tracked"]
    for row in result["settled"]:
        found = (f"found on Kaggle as submission {row['kaggle_ref']} ({row['status']})" if row["status"] != "failed"
                 else "not on Kaggle: recorded as failed")
        lines.append(f"interrupted submit of {row['file_name']} (ledger id {row['id']}): {found}")
    for row in result["added"]:
        lines.append(f"+ submission {row['kaggle_ref']} ({row['file_name']}, {row['submitted']}): {what_it_is(row)}")
    for row in result["corrected"]:
        lines.append(f"~ submission {row['kaggle_ref']} (ledger id {row['id']}) checked by content: "
                     f"{what_it_is(row)}")
    if result["standing"]:
        lines.append(standing.describe(result["standing"], competition))
    if result["quota"]:
        lines.append(result["quota"].describe())
    return lines + result["problems"]


def what_it_is(row: dict) -> str:
    """What tracking found a submission to be, for the sync's lines."""
    if row["source"] == "outside":
        return f"kit file sent outside the kit, matched by {row['matched_by']}"
    if row["source"] == "unread":
        return "not identified yet: Kaggle's copy could not be read, no CV until a sync reads it"
    if row["source"] == "modified":
        return (f"sent under the name of the kit file {row['file_name']} but its content differs: modified, "
                f"no CV (blend again to send a file with one)")
    return f"external (no kit file): {row.get('message', '')!r}" if row.get("message") else "external (no kit file)"


def cv_lb_correlation(table: pd.DataFrame) -> dict:
    """Pearson and Spearman correlation of CV AUC and public score over scored submissions."""
    scored = table.dropna(subset=["cv_auc", "public_score"])
    if len(scored) < 3:
        return {"n": len(scored), "pearson": None, "spearman": None}
    return {"n": len(scored), "pearson": float(scored["cv_auc"].corr(scored["public_score"])),
            "spearman": float(scored["cv_auc"].corr(scored["public_score"], method="spearman"))}


def standing_lines(competition: str, ranks: pd.DataFrame) -> list[str]:
    """The last sync's standing and, when it changed between syncs, the rank and percentile over time."""
    if ranks.empty:
        return []
    last = ranks.iloc[-1].to_dict()
    place = standing.from_record(last, get_competition(competition).higher_is_better)
    if place is None:
        where = f"rank {last['rank']} (public {last['score']})" if pd.notna(last["rank"]) else "not on the board read"
        lines = [f"team {last['team']}: {where}, synced {last['synced']}"]
    else:
        lines = [f"{standing.describe(place, competition)} (synced {last['synced']})"]
    history = ranks.dropna(subset=["rank", "teams"])
    if len(history) > 1:
        steps = [f"{r.synced[:16]} {int(r.rank)}/{int(r.teams)} (top {100 * r.rank / r.teams:.1f}%)"
                 for r in history.itertuples()]
        lines.append("rank over time: " + " -> ".join(steps))
    return lines


def report(competition: str | None = None, ledger_path: str | Path | None = None,
           plot_path: str | Path | None = None, plots_dir: str | Path | None = None) -> tuple[str, list[Path]]:
    """The ledger as text (standing, quota, CV-LB correlation, hindsight on the picks) and the saved plots
    (in ``plots_dir``, default the submission files' root)."""
    with Ledger(ledger_path, must_exist=True) as ledger:
        ledger_path = ledger.path
        table = ledger.table(competition)
        comps = sorted(table["competition"].unique())
        ranks = {c: ledger.ranks(c) for c in comps}
        quotas = {c: quota.from_ledger(ledger, c) for c in comps}
    if table.empty:
        return f"ledger {ledger_path} holds no submissions" + (f" of {competition}" if competition else ""), []
    shown = table.assign(runs=table["runs"].map("+".join), kaggle_ref=table["kaggle_ref"].astype("Int64"))
    lines = [f"ledger: {ledger_path}; submission files: {default_files_root()}/<competition>/"]
    plots = []
    for comp, rows in shown.groupby("competition", sort=True):
        lines.append(f"== {comp} ({len(rows)} submissions)")
        lines.append(rows[REPORT_COLUMNS].to_string(index=False, float_format=lambda v: f"{v:.5f}"))
        lines += standing_lines(comp, ranks[comp])
        if quotas[comp]:
            lines.append(f"{quotas[comp].describe()} (as of the ledger's last sync)")
        corr = cv_lb_correlation(rows)
        if corr["pearson"] is not None:
            lines.append(f"CV vs public LB over {corr['n']} submissions: Pearson {corr['pearson']:.3f}, "
                         f"Spearman {corr['spearman']:.3f}")
        comp_rows = table[table["competition"] == comp]
        after = hindsight(comp_rows, final_picks(comp_rows), get_competition(comp).higher_is_better)
        if after:
            lines.append(after)
        plots += save_plots(comp, comp_rows, ranks[comp], Path(plots_dir or default_files_root()), plot_path)
    lines += [f"plot: {p}" for p in plots]
    return "\n".join(lines), plots


def save_plots(competition: str, table: pd.DataFrame, ranks: pd.DataFrame, folder: Path,
               cv_lb_path: str | Path | None = None) -> list[Path]:
    """The plots of one competition's ledger in ``folder`` (CV vs LB at ``cv_lb_path`` if given)."""
    plots = []
    if table["kaggle_ref"].notna().any():
        plots.append(plot_scores_by_order(table, folder / f"scores_{competition}.png",
                                          f"{competition}: CV, public and private LB by submission"))
    if table.dropna(subset=["cv_auc", "public_score"]).shape[0]:
        plots.append(plot_cv_vs_public(table, Path(cv_lb_path or folder / f"cv_vs_lb_{competition}.png"),
                                       f"{competition}: CV vs public LB"))
    if len(ranks.dropna(subset=["rank", "teams"])):
        plots.append(plot_rank_history(ranks, folder / f"rank_{competition}.png", f"{competition}: public rank"))
    return plots


def final_text(competition: str, ledger_path: str | Path | None = None) -> str:
    spec = get_competition(competition)  # an unknown name fails before any work
    with Ledger(ledger_path, must_exist=True) as ledger:
        ledger_path = ledger.path
        table = ledger.table(competition)
        record = ledger.competition_record(competition)
    picks = final_picks(table)
    if not picks:
        return (f"no submission of {competition} in {ledger_path} was accepted by Kaggle with a CV: nothing to "
                f"pick (run `python -m submissions.leaderboard sync --competition {competition}` first)")
    deadline = f" before the deadline {record['deadline']}" if record and record["deadline"] else ""
    lines = [f"final submissions to select on Kaggle{deadline}, picked on CV, not on public LB:",
             picks_table(picks)]
    after = hindsight(table, picks, spec.higher_is_better)
    if after:
        lines.append(after)
    return "\n".join(lines)


LEDGER_HELP = "SQLite ledger file (default: ledger.sqlite under $KIT_SUBMISSIONS_ROOT or submissions/)"


@dataclass
class SyncOptions:
    """Track every submission, the rank and the quota from Kaggle."""
    competition: str = option(required=True, help="the kit's competition name, e.g. nexperia")
    team: str | None = option(None, help="team name on the leaderboard (default: user name)")
    files_root: str | None = option(None, help="where the kit's submission files are, matched to Kaggle's "
                                               "submissions (default: files/ under $KIT_SUBMISSIONS_ROOT or "
                                               "submissions/)")
    ledger: str | None = option(None, help=LEDGER_HELP)


@dataclass
class ReportOptions:
    """Print the ledger and save its plots."""
    competition: str | None = option(None, help="only this competition (default: every one in the ledger)")
    plot: str | None = option(None, help="PNG path of the CV vs LB plot")
    plots_dir: str | None = option(None, help="where the plots go (default: the submission files' root)")
    ledger: str | None = option(None, help=LEDGER_HELP)


@dataclass
class FinalOptions:
    """The two final submissions to select, picked on CV."""
    competition: str = option(required=True, help="the kit's competition name, e.g. nexperia")
    ledger: str | None = option(None, help=LEDGER_HELP)


COMMANDS = {"sync": SyncOptions, "report": ReportOptions, "final": FinalOptions}


def main(argv: Sequence[str] | None = None) -> int:
    command, opts = parse_subcommand(COMMANDS, argv, __doc__.splitlines()[0])
    if command == "sync":
        get_competition(opts.competition)  # an unknown name fails before Kaggle is asked
        result = sync(opts.competition, opts.ledger, opts.team, files_root=opts.files_root)
        print("\n".join(sync_lines(opts.competition, result)))
    elif command == "final":
        print(final_text(opts.competition, opts.ledger))
    else:
        text, _ = report(opts.competition, opts.ledger, opts.plot, opts.plots_dir)
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
