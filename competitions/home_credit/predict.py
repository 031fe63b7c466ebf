"""Write a run's Kaggle submission: ``SK_ID_CURR,TARGET`` for exactly the ids of sample_submission.csv.

    python competitions/home_credit/predict.py --run runs/home_credit/<name>   # -> <run>/submission.csv

The run's ``test.csv`` (fold-averaged test predictions) is checked against the sample submission: the
same ids, no NaN, scores within [0, 1]. The file is written only when every check passes, so a failing
call leaves an earlier submission untouched.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from common.config import parse_config
from common.io import atomic_write_csv
from common.run import load_predictions
from competitions.home_credit.data import read_sample_submission
from competitions.home_credit.model import run_cli


@dataclass
class PredictConfig:
    """Write <run>/submission.csv from a Home Credit run's test predictions."""
    run: str = field(default="", metadata={"help": "run folder, e.g. runs/home_credit/lgb (required)"})
    data: str | None = field(default=None, metadata={"help": "data folder holding sample_submission.csv "
                                                             "(default: the one the run was trained on)"})
    out: str | None = field(default=None, metadata={"help": "output file (default <run>/submission.csv)"})


def make_submission(test: pd.DataFrame, sample: pd.DataFrame) -> pd.DataFrame:
    """Predictions in the sample submission's id order; errors name the offending ids."""
    ids = sample["SK_ID_CURR"]
    duplicated = test["id"][test["id"].duplicated()]
    if len(duplicated):
        raise ValueError(f"test predictions hold duplicated ids, e.g. {duplicated.head(5).tolist()}")
    extra = np.setdiff1d(test["id"].to_numpy(), ids.to_numpy())
    if len(extra):
        raise ValueError(f"{len(extra)} predicted id(s) are not in sample_submission.csv, "
                         f"e.g. SK_ID_CURR {extra[:5].tolist()}")
    preds = test.set_index("id")["pred"].reindex(ids.to_numpy())
    missing = ids[preds.isna().to_numpy() & ~ids.isin(test["id"]).to_numpy()]
    if len(missing):
        raise ValueError(f"{len(missing)} id(s) of sample_submission.csv have no prediction, "
                         f"e.g. SK_ID_CURR {missing.head(5).tolist()}")
    nan = ids[preds.isna().to_numpy()]
    if len(nan):
        raise ValueError(f"{len(nan)} prediction(s) are NaN, e.g. SK_ID_CURR {nan.head(5).tolist()}")
    outside = ids[((preds < 0) | (preds > 1)).to_numpy()]
    if len(outside):
        raise ValueError(f"{len(outside)} prediction(s) outside [0, 1], e.g. SK_ID_CURR {outside.head(5).tolist()}")
    return pd.DataFrame({"SK_ID_CURR": ids.to_numpy(), "TARGET": preds.to_numpy()})


def run_data_dir(run: Path) -> str:
    """The data folder recorded in the run's config.yaml."""
    config = run / "config.yaml"
    if not config.is_file():
        raise FileNotFoundError(f"{config} not found: pass --data or point --run at a training run")
    data = (yaml.safe_load(config.read_text()) or {}).get("data")
    if not data:
        raise ValueError(f"{config} records no data folder: pass --data")
    return data


def main(argv: list[str] | None = None) -> Path:
    """Validate the run's test predictions and write the submission file; return its path."""
    cfg = parse_config(PredictConfig, argv)
    if not cfg.run:
        raise SystemExit("--run is required (e.g. --run runs/home_credit/lgb)")
    run = Path(cfg.run)
    _, test = load_predictions(run)
    if test is None:
        raise FileNotFoundError(f"run {run} has no test.csv: train at least one fold first")
    sample = read_sample_submission(cfg.data or run_data_dir(run))
    submission = make_submission(test, sample)
    out = Path(cfg.out) if cfg.out else run / "submission.csv"
    atomic_write_csv(out, submission)
    print(f"wrote {out}: {len(submission)} rows, TARGET mean {submission['TARGET'].mean():.4f}")
    return out


if __name__ == "__main__":
    run_cli(main)
