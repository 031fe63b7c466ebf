"""The options of a Home Credit training run and the feature choices they make on the matrix, shared by
``train.py`` and ``select_features.py``."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.errors import BadInput, MissingInput
from common.adversarial import SHIFTED_FEATURES, WEIGHTS, read_shifted_features, read_weights
from common.config import option, parse_folds
from common.multi_seed import seeds_option
from common.pseudo import resolve_source
from common.tabular.config import GBDTConfig
from common.tabular.pseudo import DEFAULT_NEGATIVES, DEFAULT_POSITIVES, PseudoLabeller
from common.tabular.selection import read_selected_features
from competitions.home_credit.matrix import COMPETITION, MatrixOptions


@dataclass
class TrainConfig(MatrixOptions, GBDTConfig):
    """Train gradient-boosted trees on the Home Credit features, one model per shared fold."""
    rebuild_features: bool = option(False, volatile=True, help="rebuild the cached feature groups")
    seeds: int | None = seeds_option()
    drop_features: str | None = option(None, help=f"leave out features: an adversarial run folder (its "
                                                  f"{SHIFTED_FEATURES}), a CSV with a 'feature' column or a "
                                                  "text file of names")
    drop_top: int = option(10, min=0, help="with --drop-features: its first K features (0: all it lists)")
    features_file: str | None = option(None, help="keep only these features: a select_features.py run folder "
                                                  "(its features.csv, the selected rows), a CSV with a 'feature' "
                                                  "column or a text file of names")
    adversarial_weights: str | None = option(None, help=f"weight training clients by test-likeness: an "
                                                        f"adversarial run folder (its {WEIGHTS}) or an id,weight CSV")
    pseudo_from: str | None = option(None, help="pseudo-labels: a finished run whose fold k's test predictions "
                                                "(<run>/fold<k>/test.csv) label test clients that join fold k's "
                                                "training rows")
    pseudo_negatives: float | None = option(None, min=0, max=1, help="with --pseudo-from: the share of test "
                                                                     "clients ranked lowest that join as repaid "
                                                                     f"(default {DEFAULT_NEGATIVES})")
    pseudo_positives: float | None = option(None, min=0, max=1, help="with --pseudo-from: the share ranked highest "
                                                                     f"that join as defaults (default "
                                                                     f"{DEFAULT_POSITIVES})")
    pseudo_weight: float | None = option(None, min=0, min_exclusive=True,
                                         help="with --pseudo-from: their sample weight (default 1)")

    def __post_init__(self):
        super().__post_init__()
        for flag, value in (("--drop-features", self.drop_features),
                            ("--adversarial-weights", self.adversarial_weights),
                            ("--features-file", self.features_file)):
            if value and not Path(value).exists():
                raise MissingInput(f"option {flag}: no such file or run folder: {value}")


def pseudo_labeller(cfg: TrainConfig) -> PseudoLabeller | None:
    """The ``--pseudo-*`` options' labeller, its source run checked (it finished every fold this run trains, over
    as many folds): None without ``--pseudo-from``, whose companions need it."""
    source = resolve_source(cfg.pseudo_from, COMPETITION, cfg.runs_dir, parse_folds(cfg.fold, cfg.n_splits),
                            cfg.n_splits, {"--pseudo-negatives": cfg.pseudo_negatives,
                                           "--pseudo-positives": cfg.pseudo_positives,
                                           "--pseudo-weight": cfg.pseudo_weight})
    if source is None:
        return None
    labeller = PseudoLabeller(str(source),
                              DEFAULT_NEGATIVES if cfg.pseudo_negatives is None else cfg.pseudo_negatives,
                              DEFAULT_POSITIVES if cfg.pseudo_positives is None else cfg.pseudo_positives,
                              1.0 if cfg.pseudo_weight is None else cfg.pseudo_weight)
    if labeller.negatives + labeller.positives > 1:
        raise BadInput(f"options --pseudo-negatives and --pseudo-positives: {labeller.negatives} + "
                       f"{labeller.positives} of the test clients is more than all of them")
    return labeller


def apply_feature_choices(cfg: TrainConfig, matrix) -> dict:
    """Keep the ``--features-file`` features, drop the listed shifted ones and/or set the test-likeness weights
    on ``matrix``; returns what was done (for ``metrics.json``)."""
    done: dict = {}
    if cfg.features_file:
        names = read_selected_features(cfg.features_file)
        unknown = [f for f in names if f not in set(matrix.features)]
        if unknown:
            raise BadInput(f"option --features-file: {len(unknown)} feature(s) not in the feature matrix, e.g. "
                             f"{unknown[:5]} (made with other --tables or data?)")
        matrix.features = [f for f in matrix.features if f in set(names)]
        done["features_file"] = {"source": str(cfg.features_file), "n_features": len(names)}
    if cfg.drop_features:
        names = read_shifted_features(cfg.drop_features, cfg.drop_top)
        unknown = [f for f in names if f not in set(matrix.features)]
        if unknown:
            raise BadInput(f"option --drop-features: {len(unknown)} feature(s) not in the feature matrix, e.g. "
                             f"{unknown[:5]} (made with other --tables or data?)")
        matrix.features = [f for f in matrix.features if f not in set(names)]
        done["dropped_features"] = names
    if cfg.adversarial_weights:
        matrix.weights = read_weights(cfg.adversarial_weights, matrix.ids)
        done["adversarial_weights"] = {"source": str(cfg.adversarial_weights), "min": float(np.min(matrix.weights)),
                                       "max": float(np.max(matrix.weights))}
    return done
