"""One AutoGluon fit for ``bench/play.py``, run inside AutoGluon's own virtual environment (``.venv-autogluon``,
not the kit's: it imports nothing of the kit).

    .venv-autogluon/bin/python bench/autogluon_fit.py --train application_train.csv --test application_test.csv \\
        --label TARGET --id SK_ID_CURR --time-limit 900 --path OUT/model --out OUT

``TabularPredictor(label, eval_metric="roc_auc", path).fit(train, presets="best_quality", time_limit)`` on the
training table (CSV, or parquet keeping its category columns) without its id column, as a user would call it
(AutoGluon's own defaults otherwise: its parallelism, its folds). Writes into ``--out``: ``oof.csv``
(``id,target,pred``: the out-of-fold probabilities of the best model, ``predict_proba_oof``; AutoGluon with
``best_quality`` bags every model, so the best one has them), ``test.csv`` (``id,pred``), ``leaderboard.csv``
(``extra_info``) and ``fit.json`` (version, best model, its validation score, the fit's and prediction's seconds as
AutoGluon sees them). When the best model has no out-of-fold predictions, ``oof.csv`` is not written and
``fit.json`` says why: the bench then quotes the best model's validation score instead.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import pandas as pd


def read_table(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    partial = path.with_name(path.name + ".partial")
    frame.to_csv(partial, index=False)
    os.replace(partial, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, required=True, help="training table (.csv or .parquet)")
    parser.add_argument("--test", type=Path, required=True, help="test table (.csv or .parquet)")
    parser.add_argument("--label", required=True, help="target column")
    parser.add_argument("--id", required=True, help="id column: left out of the features, keys the predictions")
    parser.add_argument("--time-limit", type=float, required=True, help="AutoGluon's time_limit in seconds")
    parser.add_argument("--path", type=Path, required=True, help="AutoGluon's model folder (must not exist)")
    parser.add_argument("--out", type=Path, required=True, help="folder of the prediction files and fit.json")
    args = parser.parse_args(argv)

    import autogluon.tabular
    from autogluon.tabular import TabularPredictor

    train, test = read_table(args.train), read_table(args.test)
    predictor = TabularPredictor(label=args.label, eval_metric="roc_auc", path=str(args.path))
    started = time.perf_counter()
    predictor.fit(train.drop(columns=[args.id]), presets="best_quality", time_limit=args.time_limit)
    fit_s = time.perf_counter() - started
    best = predictor.model_best
    positive = predictor.positive_class
    args.out.mkdir(parents=True, exist_ok=True)
    record = {"autogluon": autogluon.tabular.__version__, "best_model": best, "fit_s": round(fit_s, 1),
              "time_limit_s": args.time_limit, "n_train": len(train), "n_test": len(test),
              "n_features": train.shape[1] - 2, "presets": "best_quality"}
    try:
        oof = predictor.predict_proba_oof(best)[positive]
        write_csv(pd.DataFrame({"id": train[args.id].to_numpy(), "target": train[args.label].to_numpy(),
                                "pred": oof.reindex(train.index).to_numpy()}), args.out / "oof.csv")
    except Exception as error:  # AutoGluon's own: a model without out-of-fold predictions (not bagged, refit)
        record["no_oof"] = f"{type(error).__name__}: {error}"
    started = time.perf_counter()
    pred = predictor.predict_proba(test.drop(columns=[args.id]))[positive]
    record["predict_s"] = round(time.perf_counter() - started, 1)
    write_csv(pd.DataFrame({"id": test[args.id].to_numpy(), "pred": pred.to_numpy()}), args.out / "test.csv")
    board = predictor.leaderboard(extra_info=True)
    write_csv(board, args.out / "leaderboard.csv")
    record["best_score_val"] = float(board.loc[board["model"] == best, "score_val"].iloc[0])
    record["n_models"] = int(len(board))
    partial = args.out / "fit.json.partial"
    partial.write_text(json.dumps(record, indent=2))
    os.replace(partial, args.out / "fit.json")
    print(f"autogluon {record['autogluon']}: best {best}, validation AUC {record['best_score_val']:.5f}, "
          f"{record['n_models']} models, fit {fit_s:.0f} s of {args.time_limit:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
