"""Paper forms as PDF: the same Markdown form `render` fills in, made HTML by cmark-gfm
(tables on, raw HTML shown as text, no images) and laid out by WeasyPrint on A4 with a print stylesheet, the
watermark of a controlled copy or of an obsolete document, and a font with the Chinese
characters embedded.

The Markdown is made HTML by formhtml (shared with the published site). WeasyPrint is
the `pdf` extra (`pip install 'qms-cli[pdf]'`), imported
only here, when a PDF is made; without them the command says so in one line. The form's
text is untrusted: every value reaches the Markdown escaped (render.py), the Markdown
renderer passes no raw HTML and draws no images, and WeasyPrint gets no base URL and a
fetcher that refuses every URL, so a PDF reads nothing from the network or the disk
beyond the fonts fontconfig offers.

Imports render (the form), the model's value helpers and the pure helpers; imported only
by the command line."""

from __future__ import annotations

import functools
import html
import logging
import os
import re
import shutil
import subprocess
import warnings

from . import formhtml
from .errors import BadInput
from .i18n import _
from .model import values
from .model.record import Record
from .render import render
from .reports.chart import CJK_FAMILIES, FONT_PACKAGE
from .store import Store

# WeasyPrint warns on import, with its file and line, where fontconfig lists no font at all:
# font_family says so in one line, with the package to install
_NO_FONTS = "No fonts configured in FontConfig"  # WeasyPrint's words, matched
warnings.filterwarnings("ignore", message=_NO_FONTS, module="weasyprint")

SMALL_FONT_PACKAGE = "fonts-wqy-microhei"  # Debian's small one (1.6 MB), what CI installs
EXTRA = "pip install 'qms-cli[pdf]'"


def missing_extra() -> BadInput:
    return BadInput(_("PDF needs the pdf extra: {command}").format(command=EXTRA))


# ---------------------------------------------------------------------------- fonts


def _families(pattern: str) -> tuple[str, ...]:
    """The family names fontconfig lists for `pattern` (each name of each family, in the
    order fc-list gives them); () when fontconfig is not installed or lists none. Asked
    once per process and fontconfig setting (publish prints a PDF of every record)."""
    return _listed(pattern, os.environ.get("PATH"), os.environ.get("FONTCONFIG_FILE"),
                   os.environ.get("FONTCONFIG_PATH"))


@functools.lru_cache(maxsize=8)
def _listed(pattern: str, *setting: str | None) -> tuple[str, ...]:
    if shutil.which("fc-list") is None:
        return ()
    try:
        out = subprocess.run(["fc-list", pattern, "family"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    return tuple(name.strip() for line in sorted(out.splitlines()) for name in line.split(",") if name.strip())


def font_family(configured: str | None) -> str:
    """The font family a PDF form is set in: `configured` (qms.yaml pdf.font) when
    fontconfig knows it, else the first of CJK_FAMILIES installed, else any installed family
    with the Chinese characters. Refused (BadInput) with the packages to install when none is."""
    if configured:
        known = {f.casefold() for f in _families(":")}
        if configured.casefold() not in known:
            raise BadInput(_("qms.yaml: pdf.font: no installed font is named '{font}' (fc-list lists the "
                             "installed ones); install it, or leave pdf.font out to use one with the "
                             "Chinese characters").format(font=configured))
        return configured
    chinese = _families(":lang=zh")
    for family in CJK_FAMILIES:
        if family in chinese:
            return family
    if chinese:
        return chinese[0]
    raise BadInput(_("no font with the Chinese characters for the PDF: install one (Debian, Ubuntu: apt-get "
                     "install {package} or {small}) or name one in qms.yaml as pdf: {{font: NAME}}").format(
                         package=FONT_PACKAGE, small=SMALL_FONT_PACKAGE))


# ------------------------------------------------------------------------ watermark


def watermark(store: Store, record_id: str, lang: str, type_name: str | None = None) -> str | None:
    """What is printed across every page of the record's form: the first of its type's
    declared watermarks (`watermark:`) whose condition holds, its {field}s filled in (作废 /
    OBSOLETE on the forms of an obsolete document and of the records that name it, 受控文件
    第 n 份 on an issued controlled copy); else nothing."""
    record = store.read(record_id, type_name)
    rt = store.record_type(record.type)
    if not rt.watermarks:
        return None
    ev = store.evaluator(rt, record.data)
    for mark in rt.watermarks:
        if all(str(ev.first(path)) in wanted for path, wanted in mark.when):
            text = mark.text.get(lang) or next(iter(mark.text.values()))

            def filled(m: re.Match) -> str:
                value = ev.first(m.group(1))
                return "" if values.is_empty(value) else str(value)

            return re.sub(r"\{([\w.]+)\}", filled, text)
    return None


# ----------------------------------------------------------------------------- HTML

STYLE = """
@page {
  size: A4;
  margin: 18mm 15mm 20mm 15mm;
  @top-right { content: string(mark); font-size: 10pt; font-weight: bold; color: #444; }
  @bottom-left { content: string(record); font-size: 8pt; color: #555; }
  @bottom-right { content: counter(page) " / " counter(pages); font-size: 8pt; color: #555; }
}
html { font-family: "%(font)s", sans-serif; font-size: 9.5pt; line-height: 1.35; color: #000; }
body { margin: 0; string-set: record attr(data-record), mark attr(data-mark); }
h1 { font-size: 11pt; font-weight: normal; text-align: center; margin: 0 0 1mm 0; }
h2 { font-size: 16pt; text-align: center; margin: 0 0 4mm 0; }
h3 { font-size: 11pt; margin: 5mm 0 1.5mm 0; padding-left: 2mm; border-left: 1.2mm solid #444; }
h4 { font-size: 10pt; margin: 3mm 0 1mm 0; }
p, ul, ol { margin: 1.5mm 0; }
table { border-collapse: collapse; width: 100%%; margin: 1.5mm 0 2.5mm 0; page-break-inside: auto; }
tr { page-break-inside: avoid; }
th, td { border: 0.6pt solid #000; padding: 1mm 1.5mm; vertical-align: top; text-align: left;
         overflow-wrap: anywhere; }
th { background: #eee; font-weight: bold; }
a { color: inherit; text-decoration: none; }
code { font-family: inherit; }
/* the mark across the page, and again level in the header, where text tools read it too */
.watermark { position: fixed; top: 120mm; left: -25mm; width: 230mm; text-align: center;
             transform: rotate(-35deg); font-size: 44pt; font-weight: bold; color: rgba(128, 128, 128, 0.3);
             letter-spacing: 0.1em; z-index: -1; }
"""


def to_html(markdown: str, *, lang: str, title: str, record_id: str, font: str, mark: str | None) -> str:
    """The form's Markdown as a complete HTML page for WeasyPrint."""
    body = formhtml.body(markdown)
    stamp = f'<div class="watermark">{html.escape(mark)}</div>\n' if mark else ""
    attrs = f'data-record="{html.escape(record_id, quote=True)}" data-mark="{html.escape(mark or "", quote=True)}"'
    return (f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(title)}</title>\n<style>{STYLE % {'font': font}}</style>\n</head>\n"
            f"<body {attrs}>\n{stamp}{body}</body>\n</html>\n")


# ------------------------------------------------------------------------------ PDF


def _refusing_fetcher(urls):
    """A WeasyPrint URL fetcher that fetches nothing (a form has no images or stylesheets
    of its own; a URL in one came from a value)."""
    base = getattr(urls, "URLFetcher", None)
    if base is None:  # WeasyPrint before the fetcher class: a function will do
        def refuse(url, *args, **kwargs):
            raise ValueError(f"qms fetches nothing for a PDF form: {url}")

        return refuse

    class Refusing(base):
        def fetch(self, url, headers=None):
            raise ValueError(f"qms fetches nothing for a PDF form: {url}")

    return Refusing()


def to_pdf(page: str) -> bytes:
    """An HTML page laid out as PDF bytes, the fonts it uses embedded."""
    try:
        import weasyprint
        from weasyprint import urls
    except (ImportError, OSError):  # OSError: the Pango library WeasyPrint loads is missing
        raise missing_extra() from None
    for name in ("weasyprint", "fontTools"):  # its notes on CSS and fonts are not the user's business
        logging.getLogger(name).setLevel(logging.CRITICAL)
    document = weasyprint.HTML(string=page, base_url=None, url_fetcher=_refusing_fetcher(urls))
    return document.write_pdf()


def pdf(store: Store, record_id: str, lang: str, form: str | None = None) -> bytes:
    """The record's form (its type's main one, or `form`) as a PDF: what `render` fills
    in, set in a font with the Chinese characters, with its watermark on every page."""
    try:  # before the form is filled in, so a missing extra costs nothing
        import weasyprint  # noqa: F401
    except (ImportError, OSError):
        raise missing_extra() from None
    font_family(store.config.pdf_font)
    record = store.read(record_id)
    return pdf_of(store, record, lang, render(store, record_id, lang, record.type, form, record=record), form)


def pdf_of(store: Store, record: Record, lang: str, markdown: str, form: str | None = None) -> bytes:
    """The record's form as a PDF, from its Markdown as `render` (or `fill`) made it:
    publish prints the form it has just laid out as a page."""
    font = font_family(store.config.pdf_font)
    rt = store.record_type(record.type)
    title = rt.forms[form][lang] if form else rt.form[lang]
    page = to_html(markdown, lang=lang, title=title, record_id=record.id, font=font,
                   mark=watermark(store, record.id, lang, record.type))
    return to_pdf(page)
