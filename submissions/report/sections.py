"""The report's sections, one function each, and a competition's section that holds them."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from common.plots import plot_corr_heatmap, plot_roc_overlay
from submissions.report.markup import as_float, auc_cells, esc, img, note, num, plot_png, pvalue, table
from submissions.report.runs import RunInfo, find_runs, read_ledger, read_sidecars, standing_notes
from submissions.score_plots import plot_scores_by_order

MAX_PNGS_PER_RUN = 60
MAX_PNG_BYTES = 8 * 1024 * 1024  # larger PNGs are listed, not embedded


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
    header = ["run", "status", "n", "OOF AUC", "CI low", "CI high", "mean fold AUC"]
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
            aucs[0] += '<br><span class="warn">invalid predictions: not a valid score</span>'
        pooling = r.pooling_note()
        mean_fold = num(r.mean_fold_auc()) + (f'<br><span class="warn">{esc(pooling)}</span>' if pooling else "")
        row = [f'<span class="run">{esc(r.name)}</span>', status, esc(n), *aucs, mean_fold]
        if has_true:
            row += auc_cells(r.summary("true"))
        rows.append(row)
    out = ["<h3>Runs</h3>",
           note("OOF ROC-AUC over the finished folds with its DeLong 95% confidence interval"
                + (", against the given labels and against the planted true labels (synthetic data)."
                   if has_true else ", against the given labels.")
                + " The OOF AUC pools every fold's predictions; the mean fold AUC averages the folds' own AUCs: "
                  "a pooled AUC well below it means the folds' scores are on different scales."),
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
        weights = {str(k): as_float(w) for k, w in (meta.get("weights") or {}).items()}
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

