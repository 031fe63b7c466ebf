"""The HTML pieces of the report: escaped text, numbers, tables, notes and PNGs as data URIs."""
from __future__ import annotations

import base64
import html
import math
import tempfile
from pathlib import Path
from typing import Callable, Sequence


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


def as_float(value) -> float:
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

