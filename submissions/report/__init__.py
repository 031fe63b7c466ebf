"""One self-contained HTML page about every run, blend and submission: ``report.html`` beside the submission
files (``files/`` under the submissions root).

``python -m submissions.report [--competition C] [--out FILE] [--runs-dir D] [--ledger L] [--files-root F]``

Per competition (every folder of ``<runs-dir>`` holding runs, every competition of the ledger or of the
submission files; or only ``--competition``):

- every run under ``runs/<competition>/`` (a folder with ``oof.csv`` or ``metrics.json``; ``folds.csv``,
  tuning studies and other folders are skipped): its status (``common.run.RunFolder``: complete, partial, failed;
  without test.csv; prediction files the run reader refuses, e.g. NaN/inf predictions, are marked), OOF AUC
  with its DeLong 95% CI against the given labels and, where ``metrics.json`` has them, the true labels;
  the same per fold;
- the ROC curves of the runs' OOF predictions in one plot;
- the Spearman correlation of the runs' OOF predictions, aligned by id (what a blend can gain: two strong
  runs that disagree leave room, two that agree do not);
- the blends written by ``submissions.blend`` (their JSON sidecars): method, CV, weights;
- the ledger: CV vs public/private leaderboard score, table and plot in submission order;
- the runs' own PNGs (ROC, importance, Grad-CAM, heatmaps, audit suspects, PCA/t-SNE...) in collapsible
  sections.

The page needs nothing but a browser: CSS is inline, every image is a PNG in a base64 data URI, no script or
style is fetched. A tiny inline script only counts the decoded images (``data-images-decoded`` on <body>).

Modules: ``runs`` (what the page shows: runs through ``common.run.RunFolder``, blend records, the ledger),
``markup`` (HTML pieces), ``sections`` (one function per section), ``page`` (the page), ``__main__`` (the command).
"""
from submissions.report.page import build_report, write_report

__all__ = ["build_report", "write_report"]
