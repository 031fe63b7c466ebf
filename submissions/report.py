"""One self-contained HTML page about every run, blend and submission: ``submissions/files/report.html``.

``python -m submissions.report [--competition C] [--out FILE] [--runs-dir D] [--ledger L] [--files-root F]``

Per competition (every folder of ``<runs-dir>`` holding runs, every competition of the ledger or of the
submission files; or only ``--competition``):

- every run under ``runs/<competition>/`` (a folder with ``oof.csv`` or ``metrics.json``; ``folds.csv``,
  tuning studies and other folders are skipped): its status (complete, partial, without test.csv), OOF AUC
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
"""
from __future__ import annotations

import argparse
import base64
import html
import json
import logging
import math
import sqlite3
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from common.cli import add_debug, cli, failed
from common.io import atomic_write_text
from common.metrics import auc_summary
from common.paths import runs_root
from common.plots import plot_corr_heatmap, plot_roc_overlay
from common.run import RunFolder
from submissions import quota
from submissions.leaderboard import standing_lines
from submissions.ledger import DEFAULT_LEDGER, Ledger
from submissions.score_plots import plot_scores_by_order
from submissions.store import DEFAULT_FILES_ROOT

logger = logging.getLogger(__name__)

DEFAULT_OUT = DEFAULT_FILES_ROOT / "report.html"
RUN_MARKERS = ("oof.csv", "metrics.json")  # a folder with one of these is a run
MAX_PNGS_PER_RUN = 60
MAX_PNG_BYTES = 8 * 1024 * 1024  # larger PNGs are listed, not embedded


# -- reading ---------------------------------------------------------------------------------------
@dataclass
class RunInfo:
    name: str
    path: Path
    metrics: dict = field(default_factory=dict)
    oof: pd.DataFrame | None = None
    has_test: bool = False
    pngs: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    nonfinite: dict[str, str] = field(default_factory=dict)  # file -> "n of total" NaN/inf predictions

    @property
    def healthy(self) -> bool:
        """No NaN/inf prediction in oof.csv or test.csv: its AUC describes the whole run."""
        return not self.nonfinite

    def summary(self, kind: str) -> dict | None:
        """``oof.auc_<kind>`` of metrics.json; for 'given', computed from oof.csv when metrics lack it."""
        oof = self.metrics.get("oof")
        value = oof.get(f"auc_{kind}") if isinstance(oof, dict) else None
        if isinstance(value, dict) and "auc" in value:
            return value
        if kind == "given" and self.oof is not None and self.oof["target"].nunique() == 2:
            return auc_summary(self.oof["target"], self.oof["pred"])
        return None

    def status(self) -> str:
        m = self.metrics
        folds = m.get("completed_folds")
        if folds is None and self.oof is not None:
            folds = sorted(int(k) for k in pd.unique(self.oof["fold"]))
        n_splits = m.get("n_splits")
        parts = []
        if m.get("complete") is False or (folds is not None and n_splits and len(folds) < int(n_splits)):
            parts.append(f"partial ({len(folds or [])}/{n_splits} folds)")
        elif m.get("complete") or (folds is not None and n_splits and len(folds) >= int(n_splits)):
            parts.append("complete")
        elif folds is not None:
            parts.append(f"{len(folds)} fold(s)")
        if self.oof is None:
            parts.append("no oof.csv")
        if not self.has_test:
            parts.append("no test.csv")
        return ", ".join(parts) or "?"


def is_run(folder: Path) -> bool:
    return folder.is_dir() and not folder.name.startswith(".") and any((folder / f).is_file() for f in RUN_MARKERS)


def read_run(folder: Path) -> RunInfo:
    """A run folder's metrics, OOF predictions and PNGs; what cannot be read is noted, not raised."""
    info, run = RunInfo(folder.name, folder), RunFolder(folder)
    metrics_path = run.metrics_path
    if metrics_path.is_file():
        try:
            info.metrics = json.loads(metrics_path.read_text())
        except ValueError as error:
            info.problems.append(f"metrics.json unreadable: {error}")
    oof_path = run.oof_path
    if oof_path.is_file():
        try:
            oof = pd.read_csv(oof_path, dtype={"id": str})
            missing = [c for c in ("id", "fold", "target", "pred") if c not in oof.columns]
            if missing:
                info.problems.append(f"oof.csv lacks column(s) {missing}")
            else:
                finite = _finite(oof["pred"])
                if not finite.all():
                    info.nonfinite["oof.csv"] = f"{int((~finite).sum())} of {len(oof)}"
                info.oof = oof[finite]
        except (ValueError, pd.errors.ParserError) as error:
            info.problems.append(f"oof.csv unreadable: {error}")
    info.has_test = run.test_path.is_file()
    if info.has_test:
        try:
            test = pd.read_csv(run.test_path, usecols=lambda c: c == "pred")
            finite = _finite(test["pred"]) if "pred" in test else np.ones(0, bool)
            if not finite.all():
                info.nonfinite["test.csv"] = f"{int((~finite).sum())} of {len(test)}"
        except (ValueError, pd.errors.ParserError) as error:
            info.problems.append(f"test.csv unreadable: {error}")
    for name, count in info.nonfinite.items():
        info.problems.append(f"NaN/inf predictions in {name}: {count} rows")
    rel = [p.relative_to(folder) for p in folder.rglob("*.png")]
    rel = [r for r in rel if not any(part.startswith(".") for part in r.parts)]
    info.pngs = [folder / r for r in sorted(rel, key=lambda r: (len(r.parts), r.as_posix()))]
    return info


def _finite(values: pd.Series) -> np.ndarray:
    return np.isfinite(pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64))


def find_runs(runs_dir: Path, competition: str) -> list[RunInfo]:
    folder = runs_dir / competition
    if not folder.is_dir():
        return []
    return [read_run(d) for d in sorted(folder.iterdir(), key=lambda p: p.name) if is_run(d)]


def read_sidecars(files_root: Path, competition: str) -> list[dict]:
    """The JSON records ``submissions.blend`` wrote beside the submission files, oldest first."""
    out = []
    for path in sorted((files_root / competition).glob("*.json")):
        try:
            meta = json.loads(path.read_text())
        except ValueError:
            continue
        if isinstance(meta, dict) and "weights" in meta:
            out.append({**meta, "_json": path.name})
    return sorted(out, key=lambda m: str(m.get("created", "")))


def read_ledger(path: Path, competition: str) -> pd.DataFrame:
    """The ledger's records of ``competition`` (empty, and no file created, when there is no ledger)."""
    if not Path(path).is_file():
        return pd.DataFrame()
    try:
        with Ledger(path) as ledger:
            return ledger.table(competition)
    except (sqlite3.Error, ValueError) as error:
        logger.warning("ledger %s unreadable: %s", path, error)
        return pd.DataFrame()


def standing_notes(path: Path, competition: str) -> list[str]:
    """The team's standing (and its history) at the last sync and today's quota, as the ledger knows them."""
    if not Path(path).is_file():
        return []
    try:
        with Ledger(path) as ledger:
            ranks, today = ledger.ranks(competition), quota.from_ledger(ledger, competition)
    except (sqlite3.Error, ValueError) as error:
        logger.warning("ledger %s unreadable: %s", path, error)
        return []
    return standing_lines(competition, ranks) + ([f"{today.describe()} (as of the last sync)"] if today else [])


def competitions_found(runs_dir: Path, ledger: Path, files_root: Path) -> list[str]:
    found = set()
    if runs_dir.is_dir():
        found |= {d.name for d in runs_dir.iterdir()
                  if d.is_dir() and not d.name.startswith(".") and any(is_run(r) for r in d.iterdir())}
    if files_root.is_dir():
        found |= {d.name for d in files_root.iterdir() if d.is_dir() and any(d.glob("*.json"))}
    if Path(ledger).is_file():
        try:
            with Ledger(ledger) as book:
                found |= set(book.table()["competition"].unique())
        except (sqlite3.Error, ValueError):
            pass
    return sorted(found)


# -- html pieces -----------------------------------------------------------------------------------
def esc(value) -> str:
    return html.escape(str(value), quote=True)


def num(value, digits: int = 4) -> str:
    """A number to ``digits`` decimals; blank for missing."""
    if value is None:
        return ""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return esc(value)
    return "" if math.isnan(value) else f"{value:.{digits}f}"


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def pvalue(p) -> str:
    try:
        p = float(p)
    except (TypeError, ValueError):
        return ""
    return "" if math.isnan(p) else (f"{p:.3f}" if p >= 0.001 else f"{p:.1e}")


def png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def img(data: bytes, alt: str, cls: str = "plot") -> str:
    return f'<img class="{cls}" alt="{esc(alt)}" src="{png_uri(data)}">'


def plot_png(draw: Callable[[Path], object]) -> bytes:
    """Bytes of the PNG ``draw(path)`` writes (through a temporary folder)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plot.png"
        draw(path)
        return path.read_bytes()


def _align(cell: str) -> str:
    """Right-align cells that hold a number (possibly in bold)."""
    text = cell.replace("<b>", "").replace("</b>", "").strip()
    try:
        float(text)
    except ValueError:
        return ""
    return ' class="n"'


def table(header: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    """An HTML table of already escaped/formatted cells; numeric-looking columns are right-aligned."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td{_align(c)}>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def auc_cells(summary: dict | None) -> list[str]:
    if not summary:
        return ['<span class="na">-</span>', "", ""]
    return [f'<b>{num(summary.get("auc"))}</b>', num(summary.get("ci_low")), num(summary.get("ci_high"))]


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


# -- sections --------------------------------------------------------------------------------------
def variant_text(name: str, value) -> str:
    """``name AUC`` (given labels; ``/ true`` where known) of a fold's variant entry, any of its shapes."""
    if isinstance(value, (int, float)):
        return f"{esc(name)} {num(value)}"
    if not isinstance(value, dict):
        return ""
    if "auc" in value:
        return f"{esc(name)} {num(value['auc'])}"
    given, true = value.get("auc_given"), value.get("auc_true")
    if isinstance(given, dict) and "auc" in given:
        extra = f" / true {num(true['auc'])}" if isinstance(true, dict) and "auc" in true else ""
        return f"{esc(name)} {num(given['auc'])}{extra}"
    return ""


def runs_section(runs: list[RunInfo]) -> str:
    if not runs:
        return "<h3>Runs</h3>" + note("No runs in this competition's runs folder.")
    has_true = any(r.summary("true") for r in runs)
    header = ["run", "status", "n", "OOF AUC", "CI low", "CI high"]
    if has_true:
        header += ["AUC true labels", "CI low", "CI high"]
    rows = []
    order = sorted(runs, key=lambda r: (not r.healthy, -((r.summary("given") or {}).get("auc") or -1)))
    for r in order:
        given = r.summary("given")
        n = (given or {}).get("n") or (len(r.oof) if r.oof is not None else None)
        n = "" if n is None else str(int(n))
        status = esc(r.status()) + "".join(f'<br><span class="warn">{esc(p)}</span>' for p in r.problems)
        aucs = auc_cells(given)
        if not r.healthy:
            aucs[0] += '<br><span class="warn">NaN/inf predictions: not a valid score</span>'
        row = [f'<span class="run">{esc(r.name)}</span>', status, esc(n), *aucs]
        if has_true:
            row += auc_cells(r.summary("true"))
        rows.append(row)
    out = ["<h3>Runs</h3>",
           note("OOF ROC-AUC over the finished folds with its DeLong 95% confidence interval"
                + (", against the given labels and against the planted true labels (synthetic data)."
                   if has_true else ", against the given labels.")),
           table(header, rows, "runs")]
    fold_rows = []
    for r in order:
        folds = r.metrics.get("folds") if isinstance(r.metrics.get("folds"), dict) else {}
        for k in sorted(folds, key=lambda x: int(x) if str(x).isdigit() else 0):
            f = folds[k] if isinstance(folds[k], dict) else {}
            variants = f.get("variants") if isinstance(f.get("variants"), dict) else {}
            text = ", ".join(t for name, v in variants.items() if (t := variant_text(name, v)))
            row = [esc(r.name), esc(k), *auc_cells(f.get("auc_given"))]
            if has_true:
                row += auc_cells(f.get("auc_true"))
            fold_rows.append(row + [text])
    if fold_rows:
        header = ["run", "fold", "AUC", "CI low", "CI high"] + (
            ["AUC true labels", "CI low", "CI high"] if has_true else []) + ["variants (AUC)"]
        if not any(row[-1] for row in fold_rows):
            header, fold_rows = header[:-1], [row[:-1] for row in fold_rows]
        out.append(f"<details><summary>Per-fold AUCs ({len(fold_rows)} folds)</summary>"
                   f"{table(header, fold_rows, 'folds')}</details>")
    return "\n".join(out)


def roc_section(runs: list[RunInfo], competition: str) -> str:
    curves = {r.name: (r.oof["target"].to_numpy(), r.oof["pred"].to_numpy(dtype=np.float64))
              for r in runs if r.oof is not None and r.oof["target"].nunique() == 2}
    if not curves:
        return ""
    data = plot_png(lambda p: plot_roc_overlay(curves, p, title=f"{competition}: OOF ROC of the runs"))
    return '<div class="col"><h3>ROC curves</h3>' + img(data, f"{competition} ROC curves") + "</div>"


def correlation_section(runs: list[RunInfo], competition: str) -> str:
    frames = {r.name: r.oof.drop_duplicates("id").set_index("id")["pred"] for r in runs if r.oof is not None}
    head = '<div class="col"><h3>Correlation of the OOF predictions</h3>'
    if len(frames) < 2:
        return head + note("Fewer than two runs with OOF predictions: nothing to correlate.") + "</div>"
    joined = pd.concat(frames, axis=1, join="inner")
    if len(joined) < 3:
        return head + note("The runs share fewer than three ids: nothing to correlate.") + "</div>"
    corr = joined.corr(method="spearman")
    data = plot_png(lambda p: plot_corr_heatmap(corr, p, title=f"{competition}: Spearman correlation of OOF "
                                                               f"predictions ({len(joined)} common ids)"))
    names = list(corr.columns)
    pairs = sorted(((corr.iat[i, j], names[i], names[j]) for i in range(len(names)) for j in range(i + 1, len(names))),
                   key=lambda t: t[0])
    rows = [[esc(a), esc(b), num(c)] for c, a, b in pairs[:10]]
    return (head + note("Spearman rank correlation of the runs' OOF predictions on the ids they share. "
                        "A blend gains most from strong runs that disagree (low correlation); runs that agree "
                        "almost perfectly add little.")
            + img(data, f"{competition} correlation heatmap")
            + "<details><summary>Least correlated pairs</summary>"
            + table(["run", "run", "Spearman"], rows, "small") + "</details></div>")


def blends_section(sidecars: list[dict]) -> str:
    head = "<h3>Blends (submission files)</h3>"
    if not sidecars:
        return head + note("No submission files written by submissions.blend yet.")
    rows = []
    for meta in sidecars[::-1]:
        cv = meta.get("cv") or {}
        weights = {str(k): _float(w) for k, w in (meta.get("weights") or {}).items()}
        total = sum(abs(w) for w in weights.values() if not math.isnan(w)) or 1.0
        bars = "".join(
            f'<div class="w"><span class="wn">{esc(name)}</span><span class="wb"><span style="width:'
            f'{0 if math.isnan(w) else 100 * abs(w) / total:.1f}%"></span></span><span class="wv">{num(w)}</span></div>'
            for name, w in weights.items())
        vs = meta.get("vs_best_run") or {}
        vs_text = (f"vs best run {esc(vs.get('best_run'))}: {num(vs.get('auc_best'))}, paired DeLong "
                   f"p = {pvalue(vs.get('p'))}" if vs and len(weights) > 1 else "")
        extra = []
        if meta.get("postprocess"):
            extra.append("post: " + ", ".join(esc(s.get("name")) for s in meta["postprocess"]))
        if meta.get("meta_features"):
            extra.append("meta-features: " + ", ".join(esc(c) for c in meta["meta_features"].get("columns", [])))
        if meta.get("partial_runs"):
            extra.append('<span class="warn">partial runs</span>')
        rows.append([f'<span class="nowrap">{esc(str(meta.get("created", "")).replace("T", " "))}</span>',
                     f'<span class="mono">{esc(meta.get("file", meta["_json"]))}</span>',
                     esc(meta.get("method", "")), f"<b>{num(cv.get('auc'))}</b>", num(cv.get("ci_low")),
                     num(cv.get("ci_high")), esc(cv.get("kind", "")) + ("<br>" + vs_text if vs_text else ""),
                     bars + ("<br>".join(extra) and '<div class="small">' + "<br>".join(extra) + "</div>")])
    return head + table(["created (UTC)", "file", "method", "CV AUC", "CI low", "CI high", "CV kind", "weights"],
                        rows, "blends")


def ledger_section(df: pd.DataFrame, competition: str, notes: Sequence[str] = ()) -> str:
    head = "<h3>Ledger: CV vs leaderboard</h3>" + "".join(note(n) for n in notes)
    if df.empty:
        return head + note("No submissions recorded in the ledger for this competition.")
    rows = []
    for _, r in df.iloc[::-1].iterrows():
        runs = r.get("runs") or []
        status = esc(r.get("status", ""))
        rows.append([esc(r.get("id", "")),
                     f'<span class="nowrap">{esc(str(r.get("created", "")).replace("T", " "))}</span>',
                     f'<span class="status {status}">{status}</span>', esc(r.get("source", "")),
                     f"<b>{num(r.get('cv_auc'))}</b>",
                     num(r.get("cv_ci_low")),
                     num(r.get("cv_ci_high")), f"<b>{num(r.get('public_score'))}</b>", num(r.get("private_score")),
                     esc(", ".join(map(str, runs))), esc(r.get("message", "")),
                     f'<span class="mono">{esc(r.get("file_name", ""))}</span>'])
    data = plot_png(lambda p: plot_scores_by_order(df, p, f"{competition}: CV and leaderboard by submission"))
    return (head + img(data, f"{competition} ledger timeline")
            + table(["#", "created (UTC)", "status", "source", "CV AUC", "CI low", "CI high", "public", "private",
                     "runs", "message", "file"], rows, "ledger"))


def pngs_section(runs: list[RunInfo]) -> str:
    parts = []
    for r in runs:
        if not r.pngs:
            continue
        figures = []
        for path in r.pngs[:MAX_PNGS_PER_RUN]:
            rel = path.relative_to(r.path).as_posix()
            size = path.stat().st_size
            if size > MAX_PNG_BYTES:
                figures.append(f'<figure><figcaption>{esc(rel)}: {size / 2**20:.1f} MiB, not embedded'
                               f'</figcaption></figure>')
                continue
            figures.append(f"<figure>{img(path.read_bytes(), f'{r.name}/{rel}', 'thumb')}"
                           f"<figcaption>{esc(rel)}</figcaption></figure>")
        more = len(r.pngs) - MAX_PNGS_PER_RUN
        if more > 0:
            figures.append(note(f"... and {more} more PNG(s) in {r.path}"))
        parts.append(f'<details><summary><span class="run">{esc(r.name)}</span> ({len(r.pngs)} image(s))'
                     f'</summary><div class="gallery">{"".join(figures)}</div></details>')
    if not parts:
        return ""
    return "<h3>Run plots</h3>" + "".join(parts)


def headline(runs: list[RunInfo], sidecars: list[dict], book: pd.DataFrame) -> str:
    """One line: the best run, the latest blend's CV and the best public score."""
    parts = []
    scored = [(r.summary("given"), r.name) for r in runs if r.healthy]
    scored = [(s, name) for s, name in scored if s]
    if scored:
        s, name = max(scored, key=lambda t: t[0]["auc"])
        parts.append(f'best run <span class="run">{esc(name)}</span> <b>{num(s["auc"])}</b> '
                     f'({num(s.get("ci_low"))}-{num(s.get("ci_high"))})')
    if sidecars:
        cv = sidecars[-1].get("cv") or {}
        parts.append(f"latest blend ({esc(sidecars[-1].get('method', ''))}) CV <b>{num(cv.get('auc'))}</b>")
    if not book.empty and "public_score" in book and book["public_score"].notna().any():
        best = book.loc[pd.to_numeric(book["public_score"], errors="coerce").idxmax()]
        parts.append(f"best public LB <b>{num(best['public_score'])}</b> (CV {num(best.get('cv_auc'))})")
    return f'<p class="headline">{" &middot; ".join(parts)}</p>' if parts else ""


def competition_section(competition: str, runs_dir: Path, ledger: Path, files_root: Path) -> str:
    runs = find_runs(runs_dir, competition)
    sidecars, book = read_sidecars(files_root, competition), read_ledger(ledger, competition)
    body = [headline(runs, sidecars, book), runs_section(runs),
            '<div class="row">' + roc_section(runs, competition) + correlation_section(runs, competition) + "</div>",
            blends_section(sidecars), ledger_section(book, competition, standing_notes(ledger, competition)),
            pngs_section(runs)]
    return (f'<section id="c-{esc(competition)}"><h2>{esc(competition)} <span class="count">{len(runs)} run(s)'
            f'</span></h2>' + "\n".join(b for b in body if b) + "</section>")


CSS = """
:root{--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--bg:#f6f8fa;--acc:#0969da}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);
margin:0;background:#fff}
header{background:#24292f;color:#fff;padding:14px 28px}
header h1{margin:0;font-size:20px}header p{margin:2px 0 0;color:#c9d1d9;font-size:12px}
nav{padding:8px 28px;border-bottom:1px solid var(--line);background:var(--bg);position:sticky;top:0;z-index:1}
nav a{margin-right:16px;color:var(--acc);text-decoration:none;font-weight:600}
main{padding:8px 28px 40px;max-width:1400px}
section{margin-top:18px;border-top:3px solid var(--acc);padding-top:4px}
h2{font-size:20px;margin:8px 0}h3{font-size:15px;margin:22px 0 6px;color:#24292f}
.count{font-size:13px;color:var(--muted);font-weight:normal}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}
th,td{border:1px solid var(--line);padding:4px 9px;vertical-align:top}
th{background:var(--bg);text-align:left;font-weight:600;white-space:nowrap}
td{font-variant-numeric:tabular-nums}
tbody tr:nth-child(even){background:#fbfcfd}tbody tr:hover{background:#eef5ff}
td.n{text-align:right;white-space:nowrap}
.run{font-weight:600;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
.note{color:var(--muted);margin:2px 0 6px;font-size:13px}
.warn{color:#bc4c00;font-size:12px}.na{color:var(--muted)}.small{font-size:12px;color:var(--muted)}
.status.complete{color:#1a7f37;font-weight:600}.status.error,.status.failed{color:#cf222e;font-weight:600}
img.plot{max-width:600px;width:100%;border:1px solid var(--line);border-radius:4px;background:#fff}
.row{display:flex;gap:28px;flex-wrap:wrap;align-items:flex-start}.col{flex:1 1 520px;max-width:620px}
details{margin:6px 0;border:1px solid var(--line);border-radius:6px;padding:4px 10px;background:#fff}
summary{cursor:pointer;font-weight:600;padding:2px 0}
.gallery{display:flex;flex-wrap:wrap;gap:14px;padding:8px 0}
figure{margin:0;max-width:460px}figure img.thumb{max-width:460px;width:100%;border:1px solid var(--line)}
figcaption{font-size:12px;color:var(--muted);font-family:ui-monospace,Menlo,Consolas,monospace}
.w{display:flex;align-items:center;gap:6px;font-size:12px;white-space:nowrap}
.wn{min-width:110px;font-family:ui-monospace,Menlo,Consolas,monospace}.wv{min-width:54px;text-align:right}
.wb{display:inline-block;width:120px;height:9px;background:#eaeef2;border-radius:3px;overflow:hidden}
.wb span{display:block;height:100%;background:var(--acc)}
.nowrap{white-space:nowrap}
.headline{font-size:15px;margin:4px 0 8px;padding:8px 12px;background:#eef5ff;border-radius:6px;display:inline-block}
.empty{font-size:16px;color:var(--muted);padding:30px 0}
"""

SCRIPT = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  document.body.setAttribute('data-images-total', String(imgs.length));
  document.body.setAttribute('data-images-decoded',
    String(imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length));
});
"""


def build_report(competitions: Sequence[str] | None = None, runs_dir: str | Path | None = None,
                 ledger: str | Path = DEFAULT_LEDGER, files_root: str | Path = DEFAULT_FILES_ROOT) -> str:
    """The report page as one HTML string (see the module docstring)."""
    runs_dir = Path(runs_dir or runs_root())
    ledger, files_root = Path(ledger), Path(files_root)
    names = list(competitions) if competitions else competitions_found(runs_dir, ledger, files_root)
    sections = [competition_section(c, runs_dir, ledger, files_root) for c in names]
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    nav = "".join(f'<a href="#c-{esc(c)}">{esc(c)}</a>' for c in names)
    content = "\n".join(sections) if sections else (
        f'<p class="empty">No runs, blends or submissions found (runs folder {esc(runs_dir)}, ledger '
        f'{esc(ledger)}, submission files {esc(files_root)}). Train a model or run <code>make demo</code> first.</p>')
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Kaggle kit report</title><style>{CSS}</style></head>\n"
            f'<body><header><h1>Kaggle kit report</h1><p>generated {esc(now)} from {esc(runs_dir)}, '
            f"{esc(ledger)}, {esc(files_root)}</p></header>"
            + (f"<nav>{nav}</nav>" if names else "")
            + f"<main>{content}</main><script>{SCRIPT}</script></body></html>\n")


def write_report(out: str | Path = DEFAULT_OUT, **kwargs) -> Path:
    """Build the page and write it atomically to ``out``; return the path."""
    return atomic_write_text(out, build_report(**kwargs))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--competition", action="append", default=None,
                        help="only this competition (repeatable; default: every competition found)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the HTML file to write")
    parser.add_argument("--runs-dir", type=Path, default=None, help="runs root (default: runs/ or $KIT_RUNS_ROOT)")
    parser.add_argument("--ledger", type=Path, default=DEFAULT_LEDGER, help="the submission ledger")
    parser.add_argument("--files-root", type=Path, default=DEFAULT_FILES_ROOT, help="where submission files are")
    add_debug(parser)
    args = parser.parse_args(argv)
    try:
        path = write_report(args.out, competitions=args.competition, runs_dir=args.runs_dir, ledger=args.ledger,
                            files_root=args.files_root)
    except (OSError, ValueError) as error:
        return failed("REPORT FAILED", error, args.debug)
    print(f"report: {path.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(cli(main))
