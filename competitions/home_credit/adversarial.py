"""Adversarial validation on the Home Credit feature matrix: can LightGBM tell train from test clients?

    python competitions/home_credit/adversarial.py                           # -> runs/home_credit/adv/
    python competitions/home_credit/adversarial.py --tables application --name adv_app
    python competitions/home_credit/adversarial.py --drop-top 10             # + refit without the top 10

Stratified K folds over train + test clients (label: is test), LightGBM on the same features as
``train.py`` (target encodings excluded: they need labels). Clients with identical feature rows share a fold
(else the model would memorise each copy's twin and give an AUC below 0.5); an AUC below 0.5 beyond its CI
is reported as leakage, not as a shift. Writes ``runs/home_credit/<name>/``:
``adversarial.json`` (AUC with DeLong 95% CI, n, top features; with ``--drop-top K`` also the AUC
after dropping the K most shifted features; on synthetic data with ``--shift`` the recall of the planted
shifted columns), ``shifted_features.csv`` (rank, feature, gain share, univariate AUC), ``shifted_features.png``,
``test_likeness.csv`` (training clients: id,p_test), ``test_rows_likeness.csv`` and ``weights.csv``
(id,weight = p/(1-p) clipped and normalised). Use them in training:
``train.py --drop-features runs/home_credit/adv --drop-top 10`` or ``--adversarial-weights runs/home_credit/adv``.
"""
from __future__ import annotations

if __name__ == "__main__":  # before polars is first imported: its allocator reads the competition's setting once
    from common.registry import prepare_environment
    prepare_environment("home_credit")

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from common import adversarial as adv
from common.io import read_json
from common.errors import BadInput, MissingInput
from common.cli import run_cli
from common.config import RunConfig, option, parse_config
from common.metrics import roc_auc
from common.paths import default_data_dir
from common.run import Run
from common.seeding import seed_everything
from competitions.home_credit.features.build import ALL_GROUPS
from competitions.home_credit.matrix import COMPETITION, load_matrix


@dataclass
class AdversarialConfig(RunConfig):
    """Adversarial validation (train vs test clients) with LightGBM on the Home Credit features."""
    name: str = option("adv", help="run name: runs/home_credit/<name>")
    tables: list[str] = option(default_factory=lambda: list(ALL_GROUPS), choices=ALL_GROUPS,
                               help="feature groups to use")
    exclude: list[str] = option(default_factory=list, help="features left out from the start")
    drop_top: int = option(0, min=0, help="refit without the K most shifted features of the first fit and "
                                          "report both AUCs (0: one fit)")
    num_boost_round: int = option(200, min=1, help="boosting rounds of the adversarial model")
    learning_rate: float = option(0.1, min=0, min_exclusive=True, help="its shrinkage")
    num_leaves: int = option(15, min=2, help="its most leaves per tree")
    num_threads: int = option(1, min=0, volatile=True, help="LightGBM threads")
    top: int = option(25, min=1, help="features in the plot and in adversarial.json")
    weight_clip: float = option(10.0, min=1, help="weights.csv: p/(1-p) clipped to [1/clip, clip]")
    eval_k: int = option(10, min=1, help="synthetic data with --shift: recall of the planted columns in the top K")
    rebuild_features: bool = option(False, volatile=True, help="rebuild the cached feature groups")

    def __post_init__(self):
        super().__post_init__()
        if self.data and not Path(self.data).is_dir():
            raise MissingInput(f"option --data: no such folder: {self.data}")


def fit(train: pd.DataFrame, test: pd.DataFrame, features: list[str], cfg: AdversarialConfig):
    """One adversarial CV on ``features``: the result and its ranked shifted-feature table."""
    fit_predict = adv.lgbm_fit_predict({"learning_rate": cfg.learning_rate, "num_leaves": cfg.num_leaves},
                                       cfg.num_boost_round, cfg.num_threads, cfg.seed)
    groups = adv.exact_row_groups(train[features], test[features])
    result = adv.adversarial_cv(train[features], test[features], fit_predict, cfg.n_splits, cfg.seed, groups)
    return result, adv.shifted_features(result, adv.univariate_auc(train, test, features))


def planted_truth(data_dir: str | Path, table: pd.DataFrame, result: adv.AdversarialResult, test_ids,
                  k: int) -> dict | None:
    """On synthetic data made with ``--shift``: where the planted columns rank and how well the test
    clients' test-likeness finds the shifted ones."""
    path = Path(data_dir) / "_truth.json"
    if not path.is_file():
        return None
    shift = read_json(path).get("shift")
    if not shift:
        return {"shift": 0}
    planted = [c for c in shift["columns"] if c in set(table["feature"])]
    by_univariate = table.sort_values("univariate_rank")["feature"].tolist()
    out = {"shift": shift["share"], "planted": planted, "k": k,
           "recall_gain_at_k": adv.recall_at_k(table["feature"], planted, k),
           "recall_univariate_at_k": adv.recall_at_k(by_univariate, planted, k),
           "rank_gain": {c: int(table.loc[table["feature"] == c, "rank"].iloc[0]) for c in planted},
           "rank_univariate": {c: int(table.loc[table["feature"] == c, "univariate_rank"].iloc[0]) for c in planted}}
    test_truth = Path(data_dir) / shift["test_truth"]
    if test_truth.is_file():
        flags = pd.read_csv(test_truth).set_index("SK_ID_CURR")["shifted"].reindex(test_ids).to_numpy()
        if 0 < flags.sum() < len(flags):
            out["shifted_vs_unshifted_test_auc"] = roc_auc(flags, result.p_test)
    return out


def main(argv: list[str] | None = None) -> dict:
    cfg = parse_config(AdversarialConfig, argv)
    cfg.data = str(cfg.data or default_data_dir(COMPETITION))
    seed_everything(cfg.seed)
    run = Run.open(COMPETITION, cfg.name, cfg.runs_dir)
    matrix = load_matrix(cfg.data, cfg.tables, cfg.rebuild_features)
    if matrix.test is None:
        raise BadInput(f"{cfg.data} has no test clients: nothing to compare the training clients with")
    unknown = sorted(set(cfg.exclude) - set(matrix.features))
    if unknown:
        raise BadInput(f"option --exclude: unknown feature(s) {unknown[:10]}")
    run.save_config(cfg)
    features = [f for f in matrix.features if f not in set(cfg.exclude)]
    train_ids, test_ids = matrix.ids, matrix.test[matrix.id_column].to_numpy()
    run.log.info("adversarial validation: %d training vs %d test clients, %d features, %d folds",
                 len(train_ids), len(test_ids), len(features), cfg.n_splits)
    result, table = fit(matrix.train, matrix.test, features, cfg)
    auc = result.auc
    run.log.info("adversarial AUC %.4f (95%% CI %.4f-%.4f), %d groups of identical clients kept in one fold; "
                 "top features: %s", auc["auc"], auc["ci_low"], auc["ci_high"], result.info["duplicate_groups"],
                 ", ".join(table["feature"].head(5)))
    if result.leak_warning:
        run.log.warning(result.leak_warning)
    extra: dict = {"n_features": len(features), "tables": list(cfg.tables)}
    if cfg.drop_top:
        dropped = table["feature"].head(cfg.drop_top).tolist()
        kept = [f for f in features if f not in set(dropped)]
        if not kept:
            raise BadInput(f"option --drop-top {cfg.drop_top}: no feature left")
        after, _ = fit(matrix.train, matrix.test, kept, cfg)
        extra["after_drop"] = {"dropped": dropped, "auc": after.auc, "covers_half": after.covers_half}
        run.log.info("without the top %d: adversarial AUC %.4f (95%% CI %.4f-%.4f)", cfg.drop_top,
                     after.auc["auc"], after.auc["ci_low"], after.auc["ci_high"])
    truth = planted_truth(cfg.data, table, result, test_ids, cfg.eval_k)
    if truth is not None:
        extra["truth"] = truth
    report = adv.write_outputs(run.root, result, train_ids, test_ids, features=table, weight_clip=cfg.weight_clip,
                               top=cfg.top, **extra)
    adv.plot_shifted_features(table, run.root / "shifted_features.png", cfg.top,
                              f"Home Credit adversarial AUC {auc['auc']:.3f} "
                              f"({auc['ci_low']:.3f}-{auc['ci_high']:.3f})")
    print(f"adversarial AUC {auc['auc']:.4f} (95% CI {auc['ci_low']:.4f}-{auc['ci_high']:.4f}), n = {auc['n']}; "
          f"most shifted: {', '.join(table['feature'].head(5))}; written to {run.root}")
    if result.leak_warning:
        print(f"warning: {result.leak_warning}")
    return report


if __name__ == "__main__":
    run_cli(main)
