"""Wall time per stage of a run, and how much of it is the kit's own work next to LightGBM's.

The stages of ``metrics.json``'s ``timing`` for a tabular run (``common.tabular.cross_validate``), summed over
folds: ``features_s`` (the competition's matrix), ``fold_inputs_s`` (fold rows, fold-local transforms, XGBoost's
and CatBoost's DataFrames), ``binning_s`` (LightGBM only: the matrix binned or read from its cache file, then each
fold's subsets and added columns), ``<model>_s`` (boosting and predicting, LightGBM's float32 values of the rows it
predicts included: ``lightgbm_s``, ``xgboost_s``, ``catboost_s``), ``writing_s``, ``summary_s``; then ``total_s``,
``overhead_s`` (all but ``<model>_s``, so the binning counts there) and ``overhead_ratio``.
"""
from __future__ import annotations

import contextlib
import time
from typing import Iterator


class Timings:
    """Seconds per stage, summed over every block timed under the same key; the clock starts at creation."""

    def __init__(self):
        self.start = time.perf_counter()
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, key: str) -> Iterator[None]:
        """Add the block's wall time to ``key``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - start

    def summary(self, core: str = "lightgbm_s") -> dict:
        """The stages with ``total_s`` since creation, ``overhead_s`` (everything but ``core``) and
        ``overhead_ratio`` (overhead / core; None when ``core`` never ran), rounded to ms."""
        total = time.perf_counter() - self.start
        core_s = self.seconds.get(core, 0.0)
        values = {**self.seconds, "total_s": total, "overhead_s": total - core_s,
                  "overhead_ratio": (total - core_s) / core_s if core_s else None}
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in values.items()}
