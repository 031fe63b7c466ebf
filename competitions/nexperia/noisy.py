"""Noisy-label audit of a Nexperia run (``common.noisy``), with an image grid of the top suspects.

    python competitions/nexperia/noisy.py --oof runs/nexperia/cnn --grid 12   # --data: default the run's data

writes ``<run>/audit/suspects.csv``, ``suspects.png`` (the top suspects) and ``audit.json`` (thresholds,
confident joint and, on synthetic data, the precision of the top-k suspects against the planted flips of
``_truth.csv``). Train with it: ``train.py --suspects <run>/audit/suspects.csv --suspect-action drop``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from common.cli import run_cli
from common.config import option, parse_config
from common.noisy import AuditConfig, audit, audit_dir, read_oof, write_audit
from common.paths import default_data_dir
from common.plots import plot_image_grid
from common.run import RunFolder
from competitions.nexperia.data import NexperiaDataOptions, load_data, read_truth_file

log = logging.getLogger(__name__)


@dataclass
class NexperiaAuditConfig(AuditConfig, NexperiaDataOptions):
    """Rank Nexperia training images whose label disagrees with a run's out-of-fold predictions."""
    data: str | None = option(None, help="Nexperia data (default: the audited run's, else data/nexperia)")
    grid: int = option(24, min=0, help="number of top suspects shown in the PNG grid")
    cache_dir: str | None = option(None, help="decoded-image cache of load_data")


def data_dir_of(source: Path, data: str | None) -> Path:
    """``--data``, else the data folder in the audited run's ``config.yaml`` (a blend's OOF lies in
    ``<run>/blend/``), else the default one."""
    if data:
        return Path(data)
    folder = source if source.is_dir() else source.parent
    for run in (RunFolder(folder), RunFolder(folder.parent)):
        if run.config_path.is_file():
            recorded = run.config().get("data")
            return Path(recorded) if recorded else default_data_dir("nexperia")
    return default_data_dir("nexperia")


def planted_flips(truth: pd.DataFrame | None) -> set[str] | None:
    """Ids of the defects the synthetic generator labelled good (None for real data)."""
    return None if truth is None else set(truth.loc[truth["flipped"].astype(bool), "id"].astype(str))


def plot_suspects(suspects: pd.DataFrame, data_dir: Path, path: Path, cache_dir: Path | None,
                  flipped: set[str] | None, skip_bad: bool = False) -> None:
    """PNG grid of the given suspects' images, titled with given -> suggested label and score (skipped bad
    images, with ``skip_bad``, are left out of the grid)."""
    data = load_data(data_dir, cache_dir=cache_dir, skip_bad=skip_bad)
    position = pd.Series(np.arange(len(data.train_ids)), index=pd.Index(data.train_ids).astype(str))
    rows = position.reindex(suspects["id"]).dropna().astype(int).to_numpy()
    flipped = flipped or set()
    titles = [f"#{r.rank} {r.given_label}->{r.suggested_label} {r.score:.2f}" + (" FLIP" if r.id in flipped else "")
              for r in suspects.itertuples() if r.id in position.index]
    plot_image_grid(np.asarray(data.train_images[rows]), titles, path, ncols=min(6, len(rows)))


def main(argv: list[str] | None = None) -> dict:
    cfg = parse_config(NexperiaAuditConfig, argv)
    source = Path(cfg.oof)
    out = audit_dir(source, cfg.out)
    data_dir = data_dir_of(source, cfg.data)
    flipped = planted_flips(read_truth_file(data_dir))
    suspects, report = audit(read_oof(source), flipped, cfg.calibrate)
    write_audit(out, suspects, report)
    if cfg.grid > 0 and len(suspects):
        plot_suspects(suspects.head(cfg.grid), data_dir, out / "suspects.png",
                      Path(cfg.cache_dir) if cfg.cache_dir else None, flipped, cfg.skip_bad)
    log.info("audit of %s: %s -> %s", source, report, out)
    return report


if __name__ == "__main__":
    run_cli(main)
