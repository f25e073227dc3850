"""Text from a store, made safe for where it is shown: a terminal, a Markdown form (later
published as a web page), a spreadsheet. Pure functions over strings; imports nothing of
the package but i18n (standard library only), so anything may import it.

A store is untrusted input. A value may carry terminal control sequences (ESC [ 2 J
clears a screen; an OSC sequence retitles a window or writes a clipboard), Unicode
direction overrides that make text read differently from what it is, Markdown or HTML
that turns a form into something else (a heading injected by a line break, a
`javascript:` link, a `<script>`), or a leading `=` that a spreadsheet runs as a formula.
What is refused at write (`controls`) is also shown escaped wherever it is already
stored (`visible`, `markdown`, `spreadsheet`)."""

from __future__ import annotations

import functools
import re

from .i18n import N_, _

# C0 except tab and line feed, DEL, C1 (ESC and CSI among them): what a terminal acts on.
# With them the Unicode direction overrides and isolates, which reorder what is shown
# (the "Trojan Source" characters); a quality record has no use for any of them.
_CONTROL_CLASS = "\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
CONTROL = re.compile(f"[{_CONTROL_CLASS}]")
# the names in words are translated where shown; the abbreviations stay as they are
_NAMES = {
    0x00: "NUL", 0x07: "BEL", 0x0A: N_("line break"), 0x2028: N_("line separator"),
    0x2029: N_("paragraph separator"), 0x08: N_("backspace"), 0x0B: N_("vertical tab"), 0x0C: N_("form feed"),
    0x0D: N_("carriage return (CR)"), 0x1B: "ESC", 0x7F: "DEL", 0x85: N_("next line (NEL)"),
    0x9B: "CSI", 0x9D: "OSC", 0x202E: N_("right-to-left override"),
}


def is_text(name: str) -> bool:
    """Whether `name` is text: a file name or argument that was not UTF-8 arrives as lone
    surrogates, which no page, message or commit can hold."""
    if name.isascii():
        return True
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(text: str) -> str:
    """`text` as it can be shown: bytes that were not UTF-8 (a GBK terminal, a file name
    from another system) as the bytes they were (\\xbf\\xcd)."""
    if is_text(text):
        return text
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def char_name(ch: str) -> str:
    """U+001B (ESC): how a refusal names a character."""
    code = ord(ch)
    name = _NAMES.get(code)
    return f"U+{code:04X}" + (f" ({_(name)})" if name else "")


def controls(text: str) -> tuple[int, str] | None:
    """The first control character in `text` as (position, name), or None."""
    m = CONTROL.search(text)
    return (m.start(), char_name(m.group(0))) if m else None


def _escape_char(m: re.Match) -> str:
    code = ord(m.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, *, one_line: bool = False) -> str:
    """`text` with every control character shown as an escape (ESC as \\x1b), so a
    terminal prints it instead of acting on it; with `one_line`, line breaks and tabs
    too (\\n, \\r, \\t), so that one value stays on one line."""
    if one_line and ("\n" in text or "\t" in text or "\r" in text):
        text = text.translate({10: "\\n", 13: "\\r", 9: "\\t"})
    return CONTROL.sub(_escape_char, text) if CONTROL.search(text) else text


def quote(value: object, limit: int = 80) -> str:
    """A value as a message quotes it: in quotes, control characters escaped, and a long
    one cut to its start with its length said, so that one message stays one short line."""
    text = visible(str(value), one_line=True)
    if len(text) > limit:
        return _("'{text}…' ({count:,} characters)").format(text=text[:limit], count=len(str(value)))
    return f"'{text}'"


# ------------------------------------------------------------------------------ Markdown

# every kind of line break (CRLF first, then a lone CR, LF, VT, FF, NEL, LS, PS)
_BREAKS = re.compile("\r\n|[\r\n\x0b\x0c\x85\u2028\u2029]")
# what Markdown or HTML would read as markup: backslash, table pipe, link brackets and
# code spans (escaped with a backslash, as CommonMark and Python-Markdown both read it);
# tags, and an ampersand that would start a character reference (&lt; &#60;), as HTML
# entities, which every Markdown renderer passes through as text
_MD_SPECIAL = re.compile(r"[\\|\[\]<>`]|&(?=#?\w+;)")
_MD_ESCAPES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
# a URL scheme that runs or embeds (a link is impossible once brackets and < are
# escaped; this keeps a linkifier from making one either)
_SCHEME = re.compile(r"(?i)\b(javascript|vbscript|data|file):(?=\S)")
BR = "<br>"


def markdown(value: object) -> str:
    """A value as inline Markdown that shows exactly that value: it cannot close a table
    cell, link, embed or carry HTML, and stays on its line (line breaks of every kind
    become <br>, so nothing after one starts a heading, a list or a table row); control
    characters are shown escaped. Numbers are written as they are."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    text = "" if value is None else str(value)
    if not text:
        return text
    if len(text) <= 200:  # names, labels, dates: the same few over and over in a store's forms
        return _short(text)
    return _markdown(text)


@functools.lru_cache(maxsize=8192)
def _short(text: str) -> str:
    return _markdown(text)


def _markdown(text: str) -> str:
    text = _MD_SPECIAL.sub(lambda m: _MD_ESCAPES.get(m.group(0)) or "\\" + m.group(0), text)
    text = _SCHEME.sub(lambda m: m.group(1) + "\\:", text)
    if _BREAKS.search(text):
        text = _BREAKS.sub(BR, text)
    return visible(text)


# --------------------------------------------------------------------------- spreadsheets

# what a spreadsheet reads as the start of a formula (OWASP CSV injection), with the
# full-width forms a Chinese input method types
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
XLSX_MAX_CHARS = 32_767  # what one Excel cell holds
# what the xlsx format cannot hold at all (openpyxl refuses to write it)
_XLSX_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def spreadsheet(text: str) -> str:
    """A text value for a csv or tab-separated file: one that a spreadsheet would start
    as a formula gets a leading ' (shown as text, not run); controls are shown escaped."""
    text = visible(text)
    if text.lstrip(" ").startswith(FORMULA_START):
        return "'" + text
    return text


def xlsx_text(text: str) -> str:
    """A text value an xlsx cell can hold: characters the format cannot store and other
    controls shown escaped, cut at Excel's 32,767 characters (marked with …)."""
    text = visible(_XLSX_ILLEGAL.sub(_escape_char, text))
    if len(text) > XLSX_MAX_CHARS:
        text = text[: XLSX_MAX_CHARS - 1] + "…"
    return text
