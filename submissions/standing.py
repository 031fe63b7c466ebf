"""Where the team stands on the whole public leaderboard: rank, team count, percentile and the medal zones.

The board is Kaggle's download of every team (``competition_leaderboard_download``: a zip holding one CSV,
``Rank,TeamId,TeamName,...,Score,...`` or, in older downloads, ``TeamId,TeamName,SubmissionDate,Score`` in rank
order). Medal zones follow Kaggle's progression rules (https://www.kaggle.com/progression), percentages rounded
down:

==============  ==================  ==========  ==========
teams           gold                silver      bronze
==============  ==================  ==========  ==========
0-99            top 10%             top 20%     top 40%
100-249         top 10              top 20%     top 40%
250-999         top 10 + 0.2%       top 50      top 100
1000 and more   top 10 + 0.2%       top 5%      top 10%
==============  ==================  ==========  ==========

A zone's score line is the score of the last rank inside it; the distance to the next zone is what the team's
score lacks to reach that line, in the direction of the competition's metric (``Competition.higher_is_better``),
never guessed from the board, where teams without a score read as NaN.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd

from common.errors import BadInput

MEDALS = ("gold", "silver", "bronze")  # best first


def medal_ranks(teams: int) -> dict[str, int]:
    """How many of the top ranks win each medal (gold, silver or better, bronze or better) for ``teams``."""
    if teams < 100:
        return {"gold": teams * 10 // 100, "silver": teams * 20 // 100, "bronze": teams * 40 // 100}
    if teams < 250:
        return {"gold": 10, "silver": teams * 20 // 100, "bronze": teams * 40 // 100}
    gold = 10 + teams * 2 // 1000
    if teams < 1000:
        return {"gold": gold, "silver": 50, "bronze": 100}
    return {"gold": gold, "silver": teams * 5 // 100, "bronze": teams * 10 // 100}


def read_board(path: str | Path) -> pd.DataFrame:
    """Kaggle's leaderboard download (zip or CSV) as ``rank, team_id, team_name, members, score`` in rank
    order."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(".csv")]
            if len(names) != 1:
                raise BadInput(f"leaderboard download {path.name} holds {len(names)} CSV files, not one")
            with archive.open(names[0]) as handle:
                raw = pd.read_csv(handle, dtype={"TeamName": str, "TeamMemberUserNames": str})
    else:
        raw = pd.read_csv(path, dtype={"TeamName": str, "TeamMemberUserNames": str})
    missing = {"TeamName", "Score"} - set(raw.columns)
    if missing:
        raise BadInput(f"leaderboard download {path.name} lacks the column(s) {sorted(missing)}")
    board = pd.DataFrame({
        "rank": raw["Rank"].astype(int) if "Rank" in raw else range(1, len(raw) + 1),
        "team_id": raw.get("TeamId"), "team_name": raw["TeamName"].fillna(""),
        "members": raw["TeamMemberUserNames"].fillna("") if "TeamMemberUserNames" in raw else "",
        "score": pd.to_numeric(raw["Score"], errors="coerce")})
    return board.sort_values("rank", kind="stable").reset_index(drop=True)


def find_team(board: pd.DataFrame, team: str) -> int | None:
    """Row index of ``team`` on the board: by team name, else by a member's user name; None if absent."""
    named = board.index[board["team_name"] == team]
    if len(named):
        return int(named[0])
    members = board["members"].astype(str).str.split(r"\s*,\s*", regex=True)
    listed = board.index[members.map(lambda names: team in names)]
    return int(listed[0]) if len(listed) else None


def standing(board: pd.DataFrame, team: str, higher_is_better: bool = True) -> dict:
    """The team's place on the board (see :func:`place`)."""
    teams = len(board)
    lines = {medal: float(board["score"].iloc[n - 1]) if n else None for medal, n in medal_ranks(teams).items()}
    row = find_team(board, team)
    rank, score = (None, None) if row is None else (int(board["rank"].iloc[row]), float(board["score"].iloc[row]))
    return place(team, rank, score, teams, lines, higher_is_better)


def place(team: str, rank: int | None, score: float | None, teams: int, lines: dict[str, float | None],
          higher_better: bool = True) -> dict:
    """Rank, score, team count, percentile, medal zone, the zones' score lines and the distance in score to the
    next zone (``rank`` None: the team is not on the board)."""
    ranks = medal_ranks(teams)
    result = {"team": team, "teams": teams, **lines, "medal_ranks": ranks, "higher_better": higher_better,
              "rank": rank, "score": score, "percentile": None, "zone": None, "next_zone": None, "distance": None}
    if rank is None:
        return result
    won = [m for m in MEDALS if rank <= ranks[m]]
    zone = won[0] if won else None
    better = MEDALS[:MEDALS.index(zone)] if zone else MEDALS
    next_zone = next((m for m in reversed(better) if ranks[m] and lines.get(m) is not None), None)
    distance = None
    if next_zone and score is not None:
        distance = (lines[next_zone] - score) * (1 if higher_better else -1)
    return {**result, "percentile": 100.0 * rank / teams, "zone": zone, "next_zone": next_zone,
            "distance": distance}


def from_record(record: dict, higher_is_better: bool = True) -> dict | None:
    """The place kept in the ledger's ``ranks`` table at a sync; None for a row older than the team count."""
    known = {k: None if pd.isna(v) else v for k, v in record.items()}  # a column read with gaps holds NaN
    if known.get("teams") is None:
        return None
    rank = None if known["rank"] is None else int(known["rank"])
    return place(known["team"], rank, known["score"], int(known["teams"]), {m: known.get(m) for m in MEDALS},
                 higher_is_better)


def describe(result: dict, competition: str) -> str:
    """One line on the team's standing (or its absence from the board)."""
    if result["rank"] is None:
        return (f"team {result['team']} is not on the public leaderboard of {competition} "
                f"({result['teams']} teams)")
    where = (f"team {result['team']}: public rank {result['rank']} of {result['teams']} "
             f"(top {result['percentile']:.1f}%), score {result['score']:.5f}")
    zone = f"in the {result['zone']} zone" if result["zone"] else "outside the medal zones"
    lines = ", ".join(f"{m} {result[m]:.5f} (top {result['medal_ranks'][m]})" if result[m] is not None
                      else f"{m} none" for m in MEDALS)
    text = f"{where}; {zone}; zone lines: {lines}"
    if result["distance"] is not None:
        direction = "more" if result["higher_better"] else "less"
        text += f"; {result['next_zone']} needs {abs(result['distance']):.5f} {direction}"
    return text
