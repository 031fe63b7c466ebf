"""Leaderboard scores for the ledger, and a report of CV against public LB.

``python -m submissions.leaderboard sync --competition nexperia``: copies status and public/private
scores of the team's Kaggle submissions onto the ledger records (matched by submission ref), and the
team's public leaderboard rank (team name: ``--team``, default the Kaggle user name).
``python -m submissions.leaderboard report [--competition nexperia]``: prints the ledger and saves a
CV vs public LB scatter plot (Pearson/Spearman correlation in its title) as PNG.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import pandas as pd

from common.cli import add_debug, cli, failed
from common.plots import plot_cv_vs_lb
from common.registry import get_competition
from common import kaggle_client
from submissions.ledger import DEFAULT_LEDGER, Ledger
from submissions.store import DEFAULT_FILES_ROOT

REPORT_COLUMNS = ["id", "created", "file_name", "status", "kaggle_ref", "cv_auc", "cv_ci_low", "cv_ci_high",
                  "public_score", "private_score", "runs"]


def sync(competition: str, ledger_path: str | Path = DEFAULT_LEDGER, team: str | None = None,
         api=None) -> dict:
    """Fill scores and the team's rank from Kaggle; return counts and the rank found."""
    spec = get_competition(competition)
    api = api or kaggle_client.connect()
    submissions = kaggle_client.list_submissions(api, spec.slug)
    board = kaggle_client.leaderboard(api, spec.slug)
    team = team or kaggle_client.username(api)
    mine = next((row for row in board if row["team_name"] == team), None)
    with Ledger(ledger_path) as ledger:
        settled = ledger.settle_from_kaggle(competition, submissions)
        updated = ledger.update_from_kaggle(competition, submissions)
        ledger.add_rank(competition, team, mine["rank"] if mine else None, mine["score"] if mine else None)
        known = ledger.known_refs(competition)
    return {"kaggle_submissions": len(submissions), "updated": updated, "team": team, "settled": settled,
            "not_in_ledger": [s for s in submissions if s["ref"] not in known],
            "rank": mine["rank"] if mine else None, "score": mine["score"] if mine else None,
            "teams_seen": len(board)}


def cv_lb_correlation(table: pd.DataFrame) -> dict:
    """Pearson and Spearman correlation of CV AUC and public score over scored submissions."""
    scored = table.dropna(subset=["cv_auc", "public_score"])
    if len(scored) < 3:
        return {"n": len(scored), "pearson": None, "spearman": None}
    return {"n": len(scored), "pearson": float(scored["cv_auc"].corr(scored["public_score"])),
            "spearman": float(scored["cv_auc"].corr(scored["public_score"], method="spearman"))}


def report(competition: str | None = None, ledger_path: str | Path = DEFAULT_LEDGER,
           plot_path: str | Path | None = None) -> tuple[str, Path | None]:
    """The ledger as text (with the last rank and the CV-LB correlation) and the saved plot's path."""
    with Ledger(ledger_path) as ledger:
        table = ledger.table(competition)
        ranks = {c: ledger.latest_rank(c) for c in sorted(table["competition"].unique())}
    if table.empty:
        return f"ledger {ledger_path} holds no submissions" + (f" of {competition}" if competition else ""), None
    shown = table.assign(runs=table["runs"].map("+".join))
    lines = [f"ledger: {ledger_path}; submission files: {DEFAULT_FILES_ROOT}/<competition>/"]
    for comp, rows in shown.groupby("competition", sort=True):
        lines.append(f"== {comp} ({len(rows)} submissions)")
        lines.append(rows[REPORT_COLUMNS].to_string(index=False, float_format=lambda v: f"{v:.5f}"))
        rank = ranks.get(comp)
        if rank:
            where = f"rank {rank['rank']} (public {rank['score']})" if rank["rank"] else "not on the leaderboard page read"
            lines.append(f"team {rank['team']}: {where}, synced {rank['synced']}")
        corr = cv_lb_correlation(rows)
        if corr["pearson"] is not None:
            lines.append(f"CV vs public LB over {corr['n']} submissions: Pearson {corr['pearson']:.3f}, "
                         f"Spearman {corr['spearman']:.3f}")
    plot = None
    scored = table.dropna(subset=["cv_auc", "public_score"])
    if len(scored):
        name = competition or "all"
        plot = Path(plot_path or DEFAULT_FILES_ROOT / f"cv_vs_lb_{name}.png")
        frame = scored.assign(cv=scored["cv_auc"], lb=scored["public_score"], name=scored["id"].astype(str))
        plot_cv_vs_lb(frame, plot)
        lines.append(f"CV vs LB plot: {plot}")
    return "\n".join(lines), plot


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sync_parser = sub.add_parser("sync", help="fill scores and rank from Kaggle")
    sync_parser.add_argument("--competition", required=True)
    sync_parser.add_argument("--team", default=None, help="team name on the leaderboard (default: user name)")
    report_parser = sub.add_parser("report", help="print the ledger and save a CV vs LB plot")
    report_parser.add_argument("--competition", default=None)
    report_parser.add_argument("--plot", type=Path, default=None, help="PNG path of the CV vs LB plot")
    for p in (sync_parser, report_parser):
        p.add_argument("--ledger", type=Path, default=DEFAULT_LEDGER, help="SQLite ledger file")
        add_debug(p)
    add_debug(parser)
    args = parser.parse_args(argv)
    if args.command == "sync":
        try:
            result = sync(args.competition, args.ledger, args.team)
        except kaggle_client.KaggleError as error:
            return failed("SYNC FAILED", error, args.debug)
        rank = f"rank {result['rank']} (public {result['score']})" if result["rank"] else \
            f"not among the {result['teams_seen']} teams read"
        print(f"{result['kaggle_submissions']} Kaggle submissions read, {result['updated']} ledger records "
              f"updated; team {result['team']}: {rank}")
        for row in result["settled"]:
            found = (f"found on Kaggle as submission {row['kaggle_ref']} ({row['status']})" if row["status"] != "failed"
                     else "not on Kaggle: recorded as failed")
            print(f"interrupted submit of {row['file_name']} (ledger id {row['id']}): {found}")
        if result["not_in_ledger"]:
            refs = ", ".join(f"{s['ref']} ({s['file_name']})" for s in result["not_in_ledger"][:5])
            more = ", ..." if len(result["not_in_ledger"]) > 5 else ""
            print(f"{len(result['not_in_ledger'])} Kaggle submission(s) not in the ledger (made outside the kit): "
                  f"{refs}{more}")
        return 0
    text, _ = report(args.competition, args.ledger, args.plot)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(cli(main))
