"""Each competition the kit knows: its Kaggle facts and its hooks (the only competition-specific code that
the shared stages call).

A hook is named ``"module:function"`` and imported only when used, so ``common/`` imports nothing from
``competitions/``:
- ``postprocess[name]``: ``fn(test: DataFrame[id, pred], data_dir: Path) -> (DataFrame[id, pred], dict)``,
  applied to a blend's test scores by ``submissions.blend --post NAME`` (e.g. Nexperia's train-test leak
  fix); the dict (what changed) is recorded with the submission;
- ``truth``: ``fn(data_dir: Path) -> (ids -> true labels) | None``: planted true labels of synthetic data.

A new competition calls :func:`register` (see README, "Adding a competition").
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class Competition:
    name: str               # the kit's short name: folder under competitions/, data/ and runs/
    slug: str               # Kaggle's competition slug
    marker_file: str        # a file that identifies the competition's data folder
    sample_submission: str  # file name of the sample submission inside the data folder
    id_column: str          # id column of the submission
    target_column: str      # score column of the submission
    score_range: tuple[float, float] = (0.0, 1.0)
    postprocess: dict[str, str] = field(default_factory=dict)  # name -> "module:function"
    truth: str | None = None                                    # "module:function"


COMPETITIONS: dict[str, Competition] = {}


def register(spec: Competition) -> Competition:
    """Make ``spec`` known to every shared stage (blend, validate, submit, ledger, kernels)."""
    COMPETITIONS[spec.name] = spec
    return spec


register(Competition(
    name="nexperia",
    slug="semi-conductor-image-classification-second-stage",
    marker_file="submission_sample.csv",
    sample_submission="submission_sample.csv",
    id_column="id",
    target_column="defect_score",
    postprocess={"leak-fix": "competitions.nexperia.leak:leak_fix"},
    truth="competitions.nexperia.data:truth_labels",
))
register(Competition(
    name="home_credit",
    slug="home-credit-default-risk",
    marker_file="application_train.csv",
    sample_submission="sample_submission.csv",
    id_column="SK_ID_CURR",
    target_column="TARGET",
))


def get_competition(name: str) -> Competition:
    try:
        return COMPETITIONS[name]
    except KeyError:
        raise ValueError(f"unknown competition {name!r}; known: {sorted(COMPETITIONS)}") from None


def load_hook(reference: str) -> Callable[..., Any]:
    """The function named ``"package.module:function"``."""
    module, _, name = reference.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"hook {reference!r} cannot be loaded: {err}") from err


def postprocess_hook(competition: str, name: str) -> Callable[..., Any]:
    spec = get_competition(competition)
    if name not in spec.postprocess:
        raise ValueError(f"competition {competition} has no post-processing {name!r}; "
                         f"it has {sorted(spec.postprocess) or 'none'}")
    return load_hook(spec.postprocess[name])


def truth_of(competition: str, data_dir) -> Callable | None:
    """The competition's planted-truth lookup for ``data_dir`` (None for real data or no truth hook)."""
    spec = get_competition(competition)
    return load_hook(spec.truth)(data_dir) if spec.truth else None
