"""A static leaderboard site: one page per track and the findings, from the committed records.

Plain HTML with a few lines of inline JavaScript to sort tables; no CDN or other
network access, so it works offline and on GitHub Pages. The curve PNGs are copied
from the tracks. ``curbench leaderboard --html DIR`` writes it; with ``--check`` the
pages (not the PNGs, whose bytes depend on matplotlib) are compared.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

import curbench.boards.findings as claims
import curbench.boards.generated as generated
from curbench.boards.check import track_suite, tracks
from curbench.boards.render import CURVES_DIR, LEGEND, results_frames, spaces_lines
from curbench.boards.rows import RECORDS_DIR, group_rows, load_records
from curbench.boards.tables import format_cell

INDEX = "index.html"
STYLE_FILE, SCRIPT_FILE = "style.css", "sort.js"
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; max-width: 110rem; color: #1b1b1b; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f2f2f2; cursor: pointer; user-select: none; white-space: nowrap; }
th[aria-sort="ascending"]::after { content: " ▲"; }
th[aria-sort="descending"]::after { content: " ▼"; }
tr.reference td { color: #555; font-style: italic; }
img { max-width: 32rem; margin: 0.25rem; border: 1px solid #eee; }
.legend { font-size: 0.85rem; color: #444; max-width: 60rem; }
"""
# Click a header to sort by it; numbers compare numerically ("9.6 ± 3.0" by its mean), the rest as text.
SORT_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (header, column) {
    header.addEventListener("click", function () {
      var ascending = header.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
      header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      function key(row) { return row.cells[column].textContent.trim(); }
      rows.sort(function (a, b) {
        var x = parseFloat(key(a)), y = parseFloat(key(b));
        var order;
        if (isNaN(x) && isNaN(y)) { order = key(a).localeCompare(key(b)); }
        else if (isNaN(x)) { return 1; }
        else if (isNaN(y)) { return -1; }
        else { order = x - y; }
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def _page(title: str, body: Sequence[str]) -> str:
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>", f'<link rel="stylesheet" href="{STYLE_FILE}">', "</head>", "<body>",
        *body, f'<script src="{SCRIPT_FILE}"></script>', "</body>", "</html>", "",
    ])


def _table(frame: pd.DataFrame, reference_rows: Sequence[bool] = ()) -> str:
    head = "".join(f"<th>{html.escape(str(column))}</th>" for column in frame.columns)
    lines = []
    for index, values in enumerate(frame.itertuples(index=False)):
        css = ' class="reference"' if index < len(reference_rows) and reference_rows[index] else ""
        cells = "".join(f"<td>{html.escape(format_cell(value))}</td>" for value in values)
        lines.append(f"<tr{css}>{cells}</tr>")
    return f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{"".join(lines)}</tbody></table>'


def _markdown_inline(text: str) -> str:
    """The few inline Markdown forms the generated texts use: **bold** and `code`."""
    escaped = html.escape(text)
    escaped = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", escaped)


def track_page(root: Path, track: str, configs_dir: Path) -> str:
    """One track's HTML page: the suite's description, the feature spaces, the results table and the curve images."""
    suite = track_suite(track, configs_dir)
    rows = group_rows(load_records(root / track / RECORDS_DIR))
    body = [f'<p><a href="{INDEX}">← all tracks and findings</a></p>', f"<h1><code>{html.escape(track)}</code></h1>"]
    if suite is not None and suite.description:
        body.append(f"<p>{_markdown_inline(suite.description.strip())}</p>")
    if not rows:
        body.append("<p><strong>Not run yet.</strong> No results have been recorded for this track.</p>")
        return _page(f"curbench · {track}", body)
    body += [f"<p>{_markdown_inline(line)}</p>" for line in spaces_lines(rows) if line]
    shown, _ = results_frames(rows)
    body += ["<h2>Results</h2>", f'<p class="legend">{_markdown_inline(LEGEND)}</p>',
             _table(shown, [row.role in ("real", "kept") for row in rows])]
    curves = sorted((root / track / CURVES_DIR).glob("*.png"))
    if curves:
        body.append("<h2>Curves</h2>")
        body += [f'<img src="{track}/{CURVES_DIR}/{p.name}" alt="{html.escape(p.stem)}">' for p in curves]
    return _page(f"curbench · {track}", body)


def index_page(root: Path, names: Sequence[str], configs_dir: Path) -> str:
    """The site's index page: a link per track in ``names`` and the findings table (claim, verdict, our numbers)."""
    found = claims.findings(root, configs_dir)
    frame = pd.DataFrame([{"paper": f.paper, "claim": f.claim, "track": f.track, "verdict": f.verdict,
                           "our numbers": f.evidence} for f in found])
    links = "".join(f'<li><a href="{name}.html"><code>{html.escape(name)}</code></a></li>' for name in names)
    return _page("curbench leaderboards", [
        "<h1>curbench leaderboards</h1>",
        "<p>Generated by <code>curbench leaderboard --html</code> from the committed result records.</p>",
        f"<h2>Tracks</h2><ul>{links}</ul>",
        "<h2>Findings: the papers' claims, tested</h2>", _table(frame),
    ])


def render(root: str | Path, configs_dir: str | Path = "configs") -> dict[str, str]:
    """The site's pages, stylesheet and script, by relative path."""
    root, configs_dir = Path(root), Path(configs_dir)
    names = tracks(root)
    pages = {STYLE_FILE: STYLE.lstrip(), SCRIPT_FILE: SORT_SCRIPT.lstrip(), INDEX: index_page(root, names, configs_dir)}
    pages.update({f"{name}.html": track_page(root, name, configs_dir) for name in names})
    return pages


def write(root: str | Path, directory: str | Path, configs_dir: str | Path = "configs") -> list[Path]:
    """Write the pages and copy every track's curve images into ``directory``."""
    from curbench import atomic

    directory = Path(directory)
    paths = generated.write_all({directory / name: text for name, text in render(root, configs_dir).items()})
    for image in sorted(Path(root).glob(f"*/{CURVES_DIR}/*.png")):
        target = directory / image.parent.parent.name / CURVES_DIR / image.name
        atomic.write_bytes(target, image.read_bytes())
        paths.append(target)
    return paths


def check(root: str | Path, directory: str | Path, configs_dir: str | Path = "configs") -> list[str]:
    """One line per page that is missing from ``directory`` or differs from what the records give."""
    pages = {Path(directory) / name: text for name, text in render(root, configs_dir).items()}
    return generated.differences(pages, f"curbench leaderboard --html {directory}")
