"""The two final submissions to select on Kaggle, chosen on CV (with its DeLong 95% CI), not on public LB.

The public leaderboard scores a small slice of the test set; the private one decides the medals. Pick 1 is
the submission with the best CV AUC; pick 2, the hedge, the best CV among submissions built another way (a
different set of runs, or another blend method), so one shift between public and private data cannot sink both.
Only submissions Kaggle accepted (not errors, dry runs or failed sends) with a CV are candidates; a file sent
twice counts once. Once Kaggle publishes private scores (after the deadline), :func:`hindsight` shows CV,
public and private per submission with their ranks among the team's submissions (the shake-up), and what the
picks, picking on public LB, and the best possible pick would have scored.
"""
from __future__ import annotations

import pandas as pd

from submissions.ledger import NOT_ACCEPTED


def recipe(row: pd.Series) -> tuple[tuple[str, ...], str]:
    """What a submission is built from: its runs and, for a blend, the method."""
    runs = tuple(sorted(row["runs"]))
    method = row.get("method")
    return runs, (method or "?") if len(runs) > 1 else "single run"


def describe_recipe(row: pd.Series) -> str:
    runs, method = recipe(row)
    return f"{'+'.join(runs) or 'no runs recorded'}, {method}"


def candidates(table: pd.DataFrame) -> pd.DataFrame:
    """Submissions Kaggle holds that have a CV, one per file (its latest sending), best CV first."""
    sent = table[table["kaggle_ref"].notna() & ~table["status"].isin(NOT_ACCEPTED) & table["cv_auc"].notna()]
    unique = sent.sort_values("id").drop_duplicates("file_hash", keep="last")
    return unique.sort_values(["cv_auc", "id"], ascending=[False, True])


def cv_text(row: pd.Series) -> str:
    ci = (f" [{row['cv_ci_low']:.5f}, {row['cv_ci_high']:.5f}]"
          if pd.notna(row.get("cv_ci_low")) and pd.notna(row.get("cv_ci_high")) else "")
    return f"CV AUC {row['cv_auc']:.5f}{ci}"


def overlaps(a: pd.Series, b: pd.Series) -> bool:
    """Whether the DeLong CIs of two submissions overlap (CV does not tell them apart)."""
    if any(pd.isna(r.get(k)) for r in (a, b) for k in ("cv_ci_low", "cv_ci_high")):
        return True
    return a["cv_ci_low"] <= b["cv_ci_high"] and b["cv_ci_low"] <= a["cv_ci_high"]


def final_picks(table: pd.DataFrame) -> list[dict]:
    """Up to two picks, each ``{"row": ..., "reason": ...}``; empty when no submission qualifies."""
    pool = candidates(table)
    if pool.empty:
        return []
    first = pool.iloc[0]
    picks = [{"row": first, "reason": f"best CV: {cv_text(first)} ({describe_recipe(first)}), the highest of "
                                      f"{len(pool)} submission(s) Kaggle accepted with a CV"}]
    others = pool.iloc[1:]
    different = others[[recipe(r) != recipe(first) for _, r in others.iterrows()]]
    if not different.empty:
        second = different.iloc[0]
        tie = ("its CI overlaps pick 1's, so CV does not tell them apart" if overlaps(first, second)
               else "pick 1 is better beyond both CIs: this one only guards against a public/private shift")
        picks.append({"row": second, "reason": f"hedge: best CV among submissions built another way than pick 1 "
                                               f"({describe_recipe(second)}): {cv_text(second)}; {tie}"})
    elif not others.empty:
        second = others.iloc[0]
        picks.append({"row": second, "reason": f"next best CV, {cv_text(second)}: every submission is built like "
                                               f"pick 1 ({describe_recipe(first)}), so there is no hedge"})
    return picks


def picks_table(picks: list[dict]) -> str:
    lines = []
    for n, pick in enumerate(picks, 1):
        row = pick["row"]
        public = f"{row['public_score']:.5f}" if pd.notna(row.get("public_score")) else "not scored"
        lines.append(f"pick {n}: ledger id {int(row['id'])}, Kaggle submission {int(row['kaggle_ref'])}, "
                     f"{row['file_name']} (public {public})")
        lines.append(f"        {pick['reason']}")
    return "\n".join(lines)


def hindsight(table: pd.DataFrame, picks: list[dict], higher_is_better: bool = True) -> str | None:
    """CV / public / private per accepted submission with public and private ranks among them, and what the
    picks would have scored (the leaderboard's scores ranked in the competition's direction); None while no
    private score is known."""
    accepted = table[table["kaggle_ref"].notna() & ~table["status"].isin(NOT_ACCEPTED)]
    scored = accepted[accepted["private_score"].notna()].copy()
    if scored.empty:
        return None
    best_first = not higher_is_better
    scored["public_rank"] = scored["public_score"].rank(ascending=best_first, method="min").astype("Int64")
    scored["private_rank"] = scored["private_score"].rank(ascending=best_first, method="min").astype("Int64")
    best = max if higher_is_better else min
    picked = {int(p["row"]["id"]): n for n, p in enumerate(picks, 1)}
    scored["pick"] = scored["id"].map(lambda i: str(picked[i]) if i in picked else "")
    scored["kaggle_ref"] = scored["kaggle_ref"].astype("Int64")
    shown = scored[["id", "kaggle_ref", "file_name", "source", "cv_auc", "public_score", "private_score",
                    "public_rank", "private_rank", "pick"]].sort_values("id")
    lines = ["CV / public / private per submission (ranks among the team's submissions; public -> private is "
             "the shake-up):", shown.to_string(index=False, float_format=lambda v: f"{v:.5f}")]
    if picks:
        private = scored.loc[scored["id"].isin(picked), "private_score"].dropna()
        lines.append(f"the CV picks would score {best(private):.5f} private (the better of the two counts)"
                     if len(private) else "the CV picks have no private score")
    by_public = scored.sort_values(["public_score", "id"], ascending=[best_first, True]).head(2)
    lines.append(f"picking the two best public scores would score {best(by_public['private_score']):.5f} private")
    top = scored.sort_values("private_score", ascending=best_first).iloc[0]
    lines.append(f"the best submission on private was ledger id {int(top['id'])} ({top['private_score']:.5f}, "
                 f"public rank {top['public_rank']})")
    return "\n".join(lines)
