"""A form's Markdown as HTML, the one step the PDF form and the published site share:
markdown-it with CommonMark and tables, raw HTML off, images off, and only qms's own line
break in a value (`<br>`, text.BR) made a line break. Every value reached the Markdown
escaped (render.py), so what comes out holds no markup from a record.

markdown-it is imported here, when a form is first made HTML. Imports nothing of qms."""

from __future__ import annotations

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


def body(markdown: str) -> str:
    """The form's Markdown as an HTML fragment (what goes inside <body>)."""
    return markdown_it().render(markdown)
