"""A form's Markdown as HTML, the one step the PDF form and the published site share:
cmark-gfm (the C library, through the cmarkgfm package) with CommonMark and the GFM table
extension, in its safe mode (raw HTML omitted; javascript:, vbscript:, file: and data: links
made links to nothing, the data:image ones here). Every value reached the Markdown escaped (render.py, text.markdown), so what
comes out holds no markup from a record; a store's own form template is untrusted too:

- raw HTML in it is shown as text, as markdown-it with html off showed it: every `<` that
  is not escaped becomes a stand-in character before cmark reads the text and `&lt;` after
  (in code too, where cmark writes it as `&lt;` anyway);
- except an autolink (`<https://...>`), which markdown-it made a link too;
- an image is no image: its `!` becomes a stand-in, so `![x](u)` is `!` and a link, as it
  was with markdown-it's image rule off (a local image would pass the site's CSP);
- qms's own line break in a value (`<br>`, text.BR) becomes `<br />`, except in code and
  in a link's attributes, where it is the text `<br>`.

The stand-ins are punctuation characters (so emphasis next to them reads as next to `<` or
`!`) that the document does not hold. cmarkgfm is imported here, when a form is first made
HTML. Imports nothing of qms."""

from __future__ import annotations

import itertools
import re
from typing import Any

_ENGINE: list[Any] = []

# an autolink, <scheme:...> or <address@host>, which cmark makes a link (unsafe schemes empty)
_AUTOLINK = (r"[A-Za-z][A-Za-z0-9+.\-]{1,31}:[^<>\x00-\x20]*>|[A-Za-z0-9.!#$%&'*+/=?^_`{|}~\-]+@[A-Za-z0-9]"
             r"(?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*>")
# what cmark could read as markup of its own: a `<` (qms's <br> first) or the `!` of an image,
# if not escaped (the run of backslashes before it is even: see _escaped)
_MARKUP = re.compile(r"<br>|<(?!" + _AUTOLINK + r")|!(?=\[)")
# a link's own attributes, and code, where qms's <br> is text
_LITERAL = re.compile(r"<a [^>]*>|<code[^>]*>.*?</code>", re.S)
# cmark safe mode empties javascript:, vbscript:, file: and data: links but for data:image/*
_DATA_LINK = re.compile(r'(?i)<a href="data:[^"]*"')


class _Engine:
    """cmark-gfm through cmarkgfm's C bindings, with the table extension. cmarkgfm's own
    functions free neither the document they parse nor the HTML they return (about 10
    times the Markdown's size per call: some 70 MB per 1,000 records published), so
    the two are freed here, through the library's exported cmark_node_free and its default allocator's free."""

    def __init__(self) -> None:
        import ctypes
        import unicodedata

        from cmarkgfm import _cmark

        self.lib, self.ffi = _cmark.lib, _cmark.ffi
        self.lib.cmark_gfm_core_extensions_ensure_registered()
        self.table = self.lib.cmark_find_syntax_extension(b"table")
        self.options = self.lib.CMARK_OPT_DEFAULT | self.lib.CMARK_OPT_VALIDATE_UTF8
        # the HTML is freed by the allocator cmark made it with (its default one's free, as
        # the library resolved it): libc's free found through the library's own handle is not
        # the free a malloc put before libc (LD_PRELOAD of jemalloc or tcmalloc) pairs with.
        # ctypes, not a second cffi declaration: cffi parses C declarations with pycparser,
        # which costs more than the rest of the engine's start
        free_fn = ctypes.CFUNCTYPE(None, ctypes.c_void_p)

        class _Mem(ctypes.Structure):  # cmark_mem
            _fields_ = [("calloc", ctypes.c_void_p), ("realloc", ctypes.c_void_p), ("free", free_fn)]

        try:  # where the library exports neither (a Windows .pyd), they leak as cmarkgfm's own do
            c = ctypes.CDLL(_cmark.__file__)
            node_free, allocator = c.cmark_node_free, c.cmark_get_default_mem_allocator
            node_free.argtypes, node_free.restype = [ctypes.c_void_p], None
            allocator.argtypes, allocator.restype = [], ctypes.POINTER(_Mem)
            self.node_free, self.free = node_free, allocator().contents.free
        except (OSError, AttributeError):
            self.node_free = self.free = lambda pointer: None
        # punctuation (general category Po) nobody writes in a form, to stand in for < and !
        self.spare = [chr(c) for c in range(0x2E00, 0x2E50) if unicodedata.category(chr(c)) == "Po"]

    def _void(self, pointer: Any) -> int:
        """A cffi pointer as the address ctypes passes on."""
        return int(self.ffi.cast("uintptr_t", pointer))

    def html(self, markdown: str) -> str:
        """cmark's HTML of `markdown`, as it comes."""
        lib, ffi = self.lib, self.ffi
        data = markdown.encode("utf-8", "surrogatepass")  # a lone surrogate becomes U+FFFD
        parser = lib.cmark_parser_new(self.options)
        try:
            lib.cmark_parser_attach_syntax_extension(parser, self.table)
            lib.cmark_parser_feed(parser, data, len(data))
            root = lib.cmark_parser_finish(parser)
            try:
                raw = lib.cmark_render_html(root, self.options, lib.cmark_parser_get_syntax_extensions(parser))
                try:
                    return ffi.string(raw).decode("utf-8")
                finally:
                    self.free(self._void(raw))
            finally:
                self.node_free(self._void(root))
        finally:
            lib.cmark_parser_free(parser)

    def stand_ins(self, markdown: str) -> tuple[str, str, str] | None:
        """Three spare characters the document does not hold: for <, qms's <br> and !; None
        if it holds every one (a document made to: see body)."""
        found: list[str] = []
        held: set[str] | None = None
        # then private use: the BMP's, then planes 15 and 16 (a value may hold all of the BMP's)
        candidates = itertools.chain(self.spare, map(chr, range(0xE000, 0xF900)), map(chr, range(0xF0000, 0xFFFFE)),
                                     map(chr, range(0x100000, 0x10FFFE)))
        for i, c in enumerate(candidates):
            if i == 8:  # a document holding spare characters: each looked up in a set, not the text scanned again
                held = set(markdown)
            if c not in (markdown if held is None else held):
                found.append(c)
                if len(found) == 3:
                    return found[0], found[1], found[2]
        return None


def engine() -> _Engine:
    """cmark-gfm as the forms need it (one per process)."""
    if not _ENGINE:
        _ENGINE.append(_Engine())
    return _ENGINE[0]


def body(markdown: str) -> str:
    """The form's Markdown as an HTML fragment (what goes inside <body>)."""
    cm = engine()
    if "<" not in markdown and "![" not in markdown:
        return _no_data_links(cm.html(markdown))
    picked = cm.stand_ins(markdown)
    if picked is None:  # every spare character is in it: three of them are shown as U+FFFD
        picked = ("\ue000", "\ue001", "\ue002")
        markdown = markdown.translate({ord(c): "\ufffd" for c in picked})
    lt, br, bang = picked

    def stand_in(m: re.Match) -> str:
        mark, at = m.group(0), m.start()
        if _escaped(markdown, at) or mark == "<" and _destination(markdown, at):
            return mark
        return br if mark == "<br>" else lt if mark == "<" else bang

    html = cm.html(_MARKUP.sub(stand_in, markdown))
    if br in html:
        if "<code" in html or "<a " in html:
            html = _LITERAL.sub(lambda m: m.group(0).replace(br, "&lt;br&gt;"), html)
        html = html.replace(br, "<br />\n")
    html = html.replace(lt, "&lt;").replace(bang, "!")
    if "%E2%B8" in html or "%EE" in html or "%EF" in html or "%F3" in html or "%F4" in html:  # a stand-in in a link's href, percent-encoded
        for char, url in ((lt, "%3C"), (br, "%3Cbr%3E"), (bang, "!")):
            html = html.replace("".join(f"%{b:02X}" for b in char.encode("utf-8")), url)
    return _no_data_links(html)


def _escaped(text: str, at: int) -> bool:
    """Whether the character at `at` is escaped: an odd run of backslashes stands before it."""
    start = at
    while start and text[start - 1] == "\\":
        start -= 1
    return (at - start) % 2 == 1


def _destination(text: str, at: int) -> bool:
    """Whether the `<` at `at` opens a link's <destination>: after `](` or a definition's `]:`."""
    return text[max(0, at - 8):at].rstrip(" \t").endswith(("](", "]:"))


def _no_data_links(html: str) -> str:
    """`html` with the data:image links cmark lets through emptied, as it empties the others."""
    return _DATA_LINK.sub('<a href=""', html)
