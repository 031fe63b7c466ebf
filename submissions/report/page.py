"""The report page: every competition's section, a navigation bar, inline CSS and no fetched resource."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from common.io import atomic_write_text
from common.paths import runs_root
from submissions.ledger import default_ledger
from submissions.report.markup import esc
from submissions.report.runs import competitions_found
from submissions.report.sections import competition_section
from submissions.store import default_files_root


def default_out() -> Path:
    """``report.html`` beside the submission files (``files/`` under the submissions root)."""
    return default_files_root() / "report.html"


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
                 ledger: str | Path | None = None, files_root: str | Path | None = None) -> str:
    """The report page as one HTML string (see the package docstring); the roots default to the kit's."""
    runs_dir = Path(runs_dir or runs_root())
    ledger, files_root = Path(ledger or default_ledger()), Path(files_root or default_files_root())
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


def write_report(out: str | Path | None = None, **kwargs) -> Path:
    """Build the page and write it atomically to ``out`` (default :func:`default_out`); return the path."""
    return atomic_write_text(out or default_out(), build_report(**kwargs))

