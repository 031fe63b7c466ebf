"""PNG plots of a study beside it (``optuna.visualization.matplotlib``).

    save_plots(study, run.root, run.log)  # -> history.png, importance.png, slice.png

``history.png``: each trial's score and the best so far; ``importance.png``: how much each searched option
explains the score (fANOVA; needs 2 completed trials and a searched option); ``slice.png``: score against
each option's value. A plot the study cannot give yet is skipped with a log line.
"""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

import optuna
from optuna.trial import TrialState

from common.io import atomic_path

MIN_TRIALS = {"history.png": 1, "importance.png": 2, "slice.png": 1}


def save_plots(study: optuna.Study, folder, log: logging.Logger) -> list[str]:
    """Write the plots the study's completed trials allow into ``folder``; return their file names."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as vis

    completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    searched = {name for t in completed for name in t.params}
    makers = {"history.png": vis.plot_optimization_history, "importance.png": vis.plot_param_importances,
              "slice.png": vis.plot_slice}
    written = []
    for name, make in makers.items():
        if len(completed) < MIN_TRIALS[name] or not searched:
            log.info("%s skipped: %d completed trial(s), %d searched option(s)", name, len(completed), len(searched))
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the matplotlib backend is experimental
                ax = make(study)
            figure = (ax.flat[0] if hasattr(ax, "flat") else ax).figure
            with atomic_path(Path(folder) / name) as tmp:
                figure.savefig(tmp, format="png", dpi=90, bbox_inches="tight")
            plt.close(figure)
            written.append(name)
        except (RuntimeError, ValueError) as err:  # e.g. fANOVA on options that never varied
            log.info("%s skipped: %s", name, err)
    return written
