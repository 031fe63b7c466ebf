"""Facts about each supported competition that several stages need (slug, files, columns)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Competition:
    name: str               # the kit's short name: folder under competitions/, data/ and runs/
    slug: str               # Kaggle's competition slug
    marker_file: str        # a file that identifies the competition's data folder
    sample_submission: str  # file name of the sample submission inside the data folder
    id_column: str          # id column of the submission
    target_column: str      # score column of the submission
    score_range: tuple[float, float] = (0.0, 1.0)


COMPETITIONS = {
    "nexperia": Competition(
        name="nexperia",
        slug="semi-conductor-image-classification-second-stage",
        marker_file="submission_sample.csv",
        sample_submission="submission_sample.csv",
        id_column="id",
        target_column="defect_score",
    ),
    "home_credit": Competition(
        name="home_credit",
        slug="home-credit-default-risk",
        marker_file="application_train.csv",
        sample_submission="sample_submission.csv",
        id_column="SK_ID_CURR",
        target_column="TARGET",
    ),
}


def get_competition(name: str) -> Competition:
    try:
        return COMPETITIONS[name]
    except KeyError:
        raise ValueError(f"unknown competition {name!r}; known: {sorted(COMPETITIONS)}") from None
