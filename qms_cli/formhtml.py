"""A form's Markdown as HTML, the one step the PDF form and the published site share:
markdown-it with CommonMark and tables, raw HTML off, images off, and only qms's own line
break in a value (`<br>`, text.BR) made a line break. Every value reached the Markdown
escaped (render.py), so what comes out holds no markup from a record.

markdown-it is imported here, when a form is first made HTML. Imports nothing of qms."""

from __future__ import annotations

import re
import secrets
from typing import Any

_RENDERER: list[Any] = []


def markdown_it():
    """markdown-it as the forms need it (one per process)."""
    if _RENDERER:
        return _RENDERER[0]
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table").disable("image")

    def line_break(state, silent: bool) -> bool:
        # A `<` in the Markdown is qms's <br>: every other one, in a value or in a
        # template's own text, was escaped to &lt; before it got here.
        if not state.src.startswith("<br>", state.pos):
            return False
        if not silent:
            state.push("hardbreak", "br", 0)
        state.pos += 4
        return True

    md.inline.ruler.before("text", "qms_br", line_break)
    _RENDERER.append(md)
    return md


# A table cell of plain text (with qms's <br> between pieces) is what markdown-it would
# make of it: each piece HTML-escaped. Anything that could be inline markup (emphasis,
# escapes, code, links, entities, HTML) or whitespace it would trim leaves the table to it.
_PLAIN = re.compile(r"[^\\`*_\[\]<>&!~|\x00-\x20\x7f-\xa0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff]"
                    r"(?:[^\\`*_\[\]<>&!~|\x00-\x1f\x7f-\x9f\u2028\u2029]*"
                    r"[^\\`*_\[\]<>&!~|\x00-\x20\x7f-\xa0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff])?")


def _cell_html(cell: str) -> str | None:
    """A cell's HTML as markdown-it makes it, if the cell is plain text (else None)."""
    if not cell:
        return ""
    pieces = cell.split("<br>")
    if not all(_PLAIN.fullmatch(p) for p in pieces):
        return None
    return "<br>\n".join(p.replace('"', "&quot;") for p in pieces)


def _table_html(lines: list[str]) -> str | None:
    """The HTML of a table written as qms writes them (`| a | b |`, `|---|---|`, rows of as
    many cells), every cell plain; None for anything else."""
    head = lines[0][2:-2].split(" | ")
    if lines[1] != "|" + "---|" * len(head):
        return None
    first = _row_html(head, "th")
    if first is None:
        return None
    out = ["<table>\n<thead>\n", first, "</thead>\n"]
    if len(lines) > 2:
        out.append("<tbody>\n")
        for line in lines[2:]:
            if not (line.startswith("| ") and line.endswith(" |")) or len(line) < 4:
                return None
            cells = line[2:-2].split(" | ")
            row = _row_html(cells, "td") if len(cells) == len(head) else None
            if row is None:
                return None
            out.append(row)
        out.append("</tbody>\n")
    out.append("</table>\n")
    return "".join(out)


def _row_html(cells: list[str], tag: str) -> str | None:
    """One row of plain cells as markdown-it writes it; None where a cell is not plain."""
    out = ["<tr>\n"]
    for c in cells:
        html = _cell_html(c)
        if html is None:
            return None
        out.append(f"<{tag}>{html}</{tag}>\n")
    out.append("</tr>\n")
    return "".join(out)


def body(markdown: str) -> str:
    """The form's Markdown as an HTML fragment (what goes inside <body>).

    markdown-it is most of the cost of a form, and most of its work is tables: a table of
    plain cells standing between blank lines is made here (as markdown-it makes it), in
    its place markdown-it reads a one-word paragraph, which is then replaced. Anything
    else, and a document with a fenced code block, is markdown-it's alone."""
    if "```" in markdown or "~~~" in markdown or "|" not in markdown:
        return markdown_it().render(markdown)
    lines = markdown.split("\n")
    nonce = "QMSTABLE" + secrets.token_hex(8)
    while nonce in markdown:
        nonce = "QMSTABLE" + secrets.token_hex(8)
    tables: dict[str, str] = {}
    out: list[str] = []
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        if line.startswith("| ") and line.endswith(" |") and len(line) >= 4 and (i == 0 or lines[i - 1] == "") \
                and i + 1 < n and lines[i + 1].startswith("|---|"):
            j = i + 2
            while j < n and lines[j] != "":
                j += 1
            html = _table_html(lines[i:j])
            if html is not None:
                key = f"{nonce}X{len(tables)}"
                tables[f"<p>{key}</p>\n"] = html
                out.append(key)
                i = j
                continue
        out.append(line)
        i += 1
    if not tables:
        return markdown_it().render(markdown)
    html = markdown_it().render("\n".join(out))
    for key, table in tables.items():
        if html.count(key) != 1:  # not a paragraph of its own after all: markdown-it reads it all
            return markdown_it().render(markdown)
        html = html.replace(key, table)
    return html
