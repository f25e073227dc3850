"""`qms publish DIR`: the store as a static HTML site, read from `file://` or any web
server, with no server and no network at view time.

The site holds every record's forms (the same Markdown forms `render` fills in, made HTML
by formhtml, as the PDF form is), each record's references in both directions and its
signatures with the commits that made them; a list per record type; the overdue
dashboard; the ledgers with their charts (SVG beside the page); a client-side search that
works for Chinese (character bigrams); and a zh/en switch between the two copies of a page.

Nothing from a record runs: every value reaches the page escaped (the forms through
render's Markdown escape and formhtml's cmark without raw HTML; what this module writes itself
through html.escape), no page holds inline script or style, and every page carries a
Content-Security-Policy that allows only the site's own files. The search index is a
script file that assigns to a global (a browser's fetch() of JSON fails on file://).

Publishing is incremental: a manifest (`.qms-publish.json`) keeps each file's SHA-256;
a file is written (atomically) only when its bytes change, and a file of the last
publish that is no longer made (a record gone) is removed. The history of every record is
read with one `git log` (git.log_all); into a site published before from a commit HEAD
descends from, only which records the commits since touched (git.touched_since), and the
history of the records made again. Pages are as of the day of publishing (forms print
their 制表时间 and deadlines as of that day's start), so a re-publish the same day with no
change writes nothing.

Imports the readers of a whole store (render, views, reports, remind's layer) and lower."""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import html
import json
import math
import os
import re
import stat as stat_module
import subprocess
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Iterator

import orjson

from . import formhtml
from .config import LANGS, data_dir
from .deadlines import deadlines
from .errors import BadInput, QmsError
from .files import output, yamlio
from .files.safefs import read_file
from .files.yamlio import MAX_BYTES
from .i18n import _
from .model import values
from .model.record import Record
from .reports import build as build_report
from .reports import declaration as report_declaration
from .reports import Row, md_row, report_names, to_markdown
from .render import fill, form_context
from .reports.chart import svg
from .parallel import background, forked, map_many
from .pdf import font_family, missing_extra
from .pdf import pdf_of as pdf_form
from .store import ALL, HeldStore, Part, Seen, Watch, known
from .store import git as gitops
from .store.cache import RACY_NS, fingerprint, stat_key
from .store.lock import held
from .text import printable, quote
from .store.git import blob_id
from .views import summary_row

MANIFEST = ".qms-publish.json"
SITE_LOCK = ".qms-publish.lock"  # held by the publish writing the folder
MAX_SITE_FILE = 1 << 30  # the largest site file checked before it is removed (a PDF of many pages)
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'none'")
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,120}")  # an ID or type that may name a file
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+")
WORD = re.compile(r"[0-9a-z]+")

WORDS = {
    "zh": {"home": "首页", "search": "搜索", "types": "记录类型", "count": "数量", "overdue": "逾期",
           "nothing_overdue": "没有逾期的记录。", "reports": "台账与报表", "id": "编号", "state": "状态",
           "title": "标题", "other": "English", "related": "相关记录", "refers": "引用", "referred": "被引用",
           "signatures": "签名与提交", "report_name": "报表名", "pdf": "打印版（PDF）", "meaning": "含义", "name": "签名人", "at": "时间", "commit": "提交",
           "forms": "其他表单", "as_of": "截至", "query": "输入要搜索的文字", "late": "逾期项",
           "no_subject": "尚无{type}记录。", "reports_of": "报表"},
    "en": {"home": "Home", "search": "Search", "types": "Record types", "count": "Records", "overdue": "Overdue",
           "nothing_overdue": "Nothing is overdue.", "reports": "Ledgers and reports", "id": "ID", "state": "State",
           "title": "Title", "other": "中文", "related": "Related records", "refers": "Refers to",
           "referred": "Referred to by", "signatures": "Signatures and their commits", "report_name": "Report",
           "pdf": "Printable form (PDF)",
           "meaning": "Meaning", "name": "Signed by",
           "at": "When", "commit": "Commit", "forms": "Other forms", "as_of": "As of",
           "query": "Text to search for", "late": "Overdue", "no_subject": "No {type} records yet.",
           "reports_of": "Reports"},
}

SITE_CSS = """\
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif;
       margin: 0; color: #111; line-height: 1.5; }
header { background: #223; color: #fff; padding: .5rem 1rem; display: flex; gap: 1rem; align-items: center; }
header a { color: #fff; }
main { max-width: 60rem; margin: 1rem auto; padding: 0 1rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { border: 1px solid #999; padding: .2rem .5rem; text-align: left; vertical-align: top; }
th { background: #eee; }
.overdue { color: #a00; font-weight: bold; }
img.chart { max-width: 100%; }
#qms-search-box { font: inherit; width: 100%; max-width: 32rem; padding: .25rem .5rem; }
#qms-search-results li { margin: .25rem 0; }
code { font-family: inherit; }
"""

SITE_JS = """\
// qms publish: the site's own script (no record data in it). '/' moves to the search box.
document.addEventListener("keydown", function (e) {
  var box = document.getElementById("qms-search-box");
  if (e.key === "/" && box && document.activeElement !== box) { e.preventDefault(); box.focus(); }
});
"""

SEARCH_JS = """\
// qms publish: search over window.QMS_SEARCH[lang], loaded from search-index.<lang>.<type>.<n>.js.
// Chinese has no spaces between words: the index holds each record's characters and
// character pairs (bigrams); a query is split the same way and the records holding every
// pair are found. ASCII text is indexed by words.
(function () {
  var CJK = /[\\u3400-\\u9fff\\uf900-\\ufaff]+/g;
  function tokens(text) {
    var out = [], m, t = text.toLowerCase();
    var runs = t.match(CJK) || [];
    runs.forEach(function (run) {
      if (run.length === 1) { out.push(run); return; }
      for (var i = 0; i + 1 < run.length; i++) { out.push(run.substr(i, 2)); }
    });
    (t.replace(CJK, " ").match(/[0-9a-z]+/g) || []).forEach(function (w) { out.push(w); });
    return out;
  }
  function searchPart(part, want) {
    var found = null;
    for (var i = 0; i < want.length; i++) {
      var hits = part.tokens[want[i]] || [];
      if (found === null) { found = hits.slice(); } else {
        var set = {}; hits.forEach(function (h) { set[h] = true; });
        found = found.filter(function (h) { return set[h]; });
      }
      if (!found.length) { return []; }
    }
    return found.map(function (n) { return part.docs[n]; });
  }
  // the index is in parts (a few records each, so that a change re-makes one part)
  function search(index, query) {
    var want = tokens(query), out = [];
    if (!want.length) { return []; }
    (index.parts || [index]).forEach(function (part) { out = out.concat(searchPart(part, want)); });
    return out;
  }
  window.qmsSearch = search;
  window.qmsTokens = tokens;
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("qms-search-box");
    var list = document.getElementById("qms-search-results");
    if (!box || !list) { return; }
    var lang = document.documentElement.getAttribute("data-lang");
    var index = (window.QMS_SEARCH || {})[lang];
    function show() {
      while (list.firstChild) { list.removeChild(list.firstChild); }
      if (!index) { return; }
      search(index, box.value).slice(0, 200).forEach(function (d) {
        var li = document.createElement("li"), a = document.createElement("a");
        a.setAttribute("href", d[2]);
        a.textContent = d[0];
        li.appendChild(a);
        li.appendChild(document.createTextNode(" " + d[1]));
        list.appendChild(li);
      });
    }
    box.addEventListener("input", show);
    var q = new URLSearchParams(window.location.search).get("q");
    if (q) { box.value = q; }
    show();
  });
})();
"""


@dataclass
class Outcome:
    """What a publish did: the files written, left as they were and removed (paths
    relative to DIR), what could not be published (a report that needs a subject), and
    the IDs of the records whose pages were made again (all of them into a new folder)."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    remade: list[str] = field(default_factory=list)  # the records whose pages were made again

    def as_dict(self) -> dict:
        """The outcome as plain data, for JSON."""
        return {"written": self.written, "unchanged": len(self.unchanged), "removed": self.removed,
                "problems": self.problems, "remade": self.remade}


# ------------------------------------------------------------------------------ pages


def e(value: Any) -> str:
    """Text for HTML, quotes escaped too (for attributes): html.escape's, whose five
    replacements are skipped for the many values that need none."""
    text = "" if value is None else str(value)
    if "&" in text or "<" in text or ">" in text or '"' in text or "'" in text:
        return html.escape(text, quote=True)
    return text


def page(lang: str, depth: int, title: str, main: str, other: str | None, *, search: list[str] | None = None) -> bytes:
    """A whole page: `depth` folders below DIR; `other` the same page in the other
    language (a path relative to this page), None where there is none; `search`: the
    search index's files it loads (the search page)."""
    up = "../" * depth
    w = WORDS[lang]
    switch = f'<a href="{e(other)}" hreflang="{"en" if lang == "zh" else "zh"}">{e(w["other"])}</a>' if other else ""
    scripts = f'<script src="{up}assets/site.js" defer></script>\n'
    if search is not None:  # the search index's files, in order, then the search
        scripts += "".join(f'<script src="{up}{e(rel)}"></script>\n' for rel in search)
        scripts += f'<script src="{up}search.js"></script>\n'
    text = (f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}" data-lang="{lang}">\n<head>\n'
            f'<meta charset="utf-8">\n<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{e(title)}</title>\n"
            f'<link rel="stylesheet" href="{up}assets/site.css">\n{scripts}</head>\n<body>\n'
            f'<header><a href="{up}{lang}/index.html">{e(w["home"])}</a> '
            f'<a href="{up}{lang}/search.html">{e(w["search"])}</a> {switch}</header>\n'
            f"<main>\n{main}</main>\n</body>\n</html>\n")
    return text.encode("utf-8")


def _table(head: list[str], rows: list[list[str]]) -> str:
    """A table: `head` as text, `rows` as HTML already escaped."""
    out = ["<table>", "<tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>"]
    out += ["<tr><td>" + "</td><td>".join(r) + "</td></tr>" if r else "<tr></tr>" for r in rows]
    return "\n".join(out + ["</table>"]) + "\n"


def _other(lang: str, langs: list[str]) -> str | None:
    others = [x for x in langs if x != lang]
    return others[0] if others else None


# ---------------------------------------------------------------------- the records


def _text_of(data: Any) -> Iterator[str]:
    """Every scalar of a record, as text (what search indexes)."""
    if isinstance(data, dict):
        for v in data.values():
            yield from _text_of(v)
    elif isinstance(data, list):
        for v in data:
            yield from _text_of(v)
    elif data is not None and not isinstance(data, bool):
        yield str(data)


def tokens(text: str) -> set[str]:
    """What the search index holds of `text`: each Chinese character and each pair of
    neighbouring ones (Chinese has no spaces between words), and each ASCII word, lower case.
    search.js splits a query the same way."""
    text = text.lower()
    found: set[str] = set()
    for run in CJK.findall(text):
        if len(run) == 1:
            found.add(run)
        found.update(run[i:i + 2] for i in range(len(run) - 1))
        found.update(run)
    found.update(WORD.findall(CJK.sub(" ", text)))
    return found


def search_index(docs: list[tuple[str, str, str, str]]) -> dict:
    """The index of (id, title, url, text) documents (a part of the search index):
    {docs: [[id, title, url]], tokens: {token: [doc numbers]}}, in a fixed order so that
    the same store gives the same bytes."""
    postings: dict[str, list[int]] = {}
    for n, (_id, _title, _url, text) in enumerate(docs):
        for t in tokens(text):
            postings.setdefault(t, []).append(n)
    return {"docs": [[d[0], d[1], d[2]] for d in docs], "tokens": dict(sorted(postings.items()))}


# ------------------------------------------------------------------------------ site

CACHE = ".qms-publish-cache.json"  # beside the manifest: what each page was made from
# beside it, one per record type some ledgers read by their fields: the records' projections
# onto those fields (read only when such a ledger is made again, written when they change)
PARTS = ".qms-publish-part.{type}.jsonl"
# beside it too: each ledger's rows by record version, where a row depends on its record alone
ROWS = ".qms-publish-rows.json"
CACHE_FORMAT = 3
PART = 25  # records in a part of the search index at most (one change reads the others of its part again)
SHARD = 40  # parts in a file of the search index at most (one change writes one file of 1,000 records again)
SHARD_NAME = re.compile(r"search-index\.(zh|en)\.[A-Za-z0-9][A-Za-z0-9._-]{0,120}\.[0-9]+\.js")
DATE, MOMENT = "d", "t"  # a date, a date and time, in a record's projection


class _Unkept(Exception):
    """A value JSON cannot keep exactly (a key that is not text, a time zone with a name)."""


def _pack(value: Any, path: list, dates: list) -> Any:
    t = type(value)
    if t is str:
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate: the cache is UTF-8
                raise _Unkept from None
        return value
    if value is None or t is bool:
        return value
    if t is int:  # orjson reads back exactly a whole number of 64 bits, a wider one as a float
        if not -(2**63) <= value < 2**64:
            raise _Unkept
        return value
    if t is float:  # JSON writes a float's repr, exact; orjson writes nan and inf as null
        if not math.isfinite(value):
            raise _Unkept
        return value
    if t is dict:
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                raise _Unkept
            out[_pack(k, path, [])] = _pack(v, [*path, k], dates)
        return out
    if t is list:
        return [_pack(v, [*path, i], dates) for i, v in enumerate(value)]
    if t is datetime:
        text = value.isoformat()
        back = datetime.fromisoformat(text)
        if (back != value or type(back.tzinfo) is not type(value.tzinfo) or back.tzinfo != value.tzinfo
                or back.tzname() != value.tzname() or back.fold != value.fold):
            raise _Unkept
        dates.append([MOMENT, *path])
        return text
    if t is date:
        dates.append([DATE, *path])
        return value.isoformat()
    raise _Unkept


def project(data: dict, fields: list[str]) -> tuple[dict, list] | None:
    """The fields `fields` of a record's data as JSON keeps them: (the fields it holds,
    the paths of its dates and times, which JSON holds as text); None when a value cannot
    be kept exactly (`unproject` gives back values equal in type and value, or nothing)."""
    dates: list = []
    try:
        return {k: _pack(data[k], [k], dates) for k in fields if k in data}, dates
    except _Unkept:
        return None


def unproject(fields: dict, dates: list) -> dict:
    """A projection's fields as the record held them (its dates and times read back);
    what `fields` holds is left as it is (it is kept for the next cache)."""
    out = dict(fields)
    for kind, *path in dates:
        cur: Any = out
        for k in path[:-1]:
            cur[k] = cur[k].copy()  # copied on the way down: the cache's own lists and maps stay text
            cur = cur[k]
        cur[path[-1]] = (datetime if kind == MOMENT else date).fromisoformat(cur[path[-1]])
    return out


def _same_key(data: Any, keys: list[str]) -> str | None:
    """The fields `keys` of a record's data as one text that differs whenever a value
    does in type or value (1, 1.0 and true differ), None if one cannot be told."""
    if not isinstance(data, dict):
        return None
    dates: list = []
    try:
        got = [[k in data, _pack(data.get(k), [k], dates)] for k in keys]
    except _Unkept:
        return None
    return json.dumps([got, dates], ensure_ascii=False)


def _fingerprint(store, langs: list[str], day: datetime, pdf: bool = False) -> str:
    """What every page depends on besides its records: the qms code and declarations,
    qms.yaml, the store's types/ (validate's fingerprint, the code by its bytes), the form
    templates (the store's and the built-in ones), the store's reports/, the languages and
    the day. All by content: a site kept between CI pipelines, each of which installs qms
    again, is made again only where the store changed (or qms did)."""
    h = hashlib.sha1(f"{CACHE_FORMAT} {fingerprint(store.root, content=True)} {langs} {day.isoformat()} {pdf}".encode())
    for folder in (store.root / "templates", data_dir("templates"), store.root / "reports"):
        if folder.is_symlink() or not folder.is_dir():
            continue
        for entry in sorted(os.scandir(folder), key=lambda x: x.name):
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            # a name that is not UTF-8 (lone surrogates) as the bytes it was
            h.update(f"{folder.name}/{entry.name} {st.st_mode} {st.st_size}\0".encode("utf-8", "surrogateescape"))
            if stat_module.S_ISREG(st.st_mode) and st.st_size <= 1 << 20:
                try:
                    h.update(Path(entry.path).read_bytes())
                except OSError:
                    pass
    return h.hexdigest()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Site:
    """One publish: which pages must be made again (all of them into a new folder; after
    a change, those whose inputs changed), made on several processes when there are many,
    and written where their bytes changed."""

    def __init__(self, store, langs: list[str], target: Path, old_files: dict[str, str], cache: Any,
                 pdf: bool = False, checking: Callable[[], bytes | None] | None = None):
        self.started_ns = time.time_ns()
        self.day = store.now().replace(hour=0, minute=0, second=0, microsecond=0)
        # the whole site is as of the start of the day (ledgers too), so that a page made
        # earlier the same day is the page a publish now would make
        self.store = HeldStore(store, now=self.day)
        self.config = store.config
        self.langs = langs
        self.target = target
        self.base = f"{target}/"  # a page's path is this and its name in the site
        self.old_files = old_files
        self.pdf = pdf  # each record's form also as a PDF beside its page, linked from it
        self.fp = _fingerprint(store, langs, self.day, pdf)
        self.old_format = cache.get("format") if isinstance(cache, dict) else None
        cache = cache if isinstance(cache, dict) and cache.get("format") == CACHE_FORMAT else {}
        self.old_fp = cache.get("fingerprint")
        same = self.old_fp == self.fp
        self.old_records: dict[str, Any] = cache.get("records", {}) if same else {}
        self.old_reports: dict[str, Any] = cache.get("reports", {}) if same else {}
        self.old_blobs: dict[str, Any] = cache.get("blobs", {})  # rel -> [size, mtime, ctime, inode, blob]
        self.old_stats: dict[str, Any] = cache.get("stats", {})  # site file -> [size, mtime]
        self.old_search: Any = cache.get("search") if same else None
        self.part_tokens: Any = cache.get("parts") if same and isinstance(cache.get("parts"), dict) else {}
        self.rows_token: Any = cache.get("rows") if same else None
        self.old_head: Any = cache.get("head") if same else None  # the commit the last publish read
        self.head: str | None = None
        self._old_rows: dict[str, Any] | None = None  # ledger -> its rows by record, as last kept
        self.rows: dict[str, _Rows] = {}  # ledger -> its rows, for the next publish
        self._old_parts: dict[str, Any] = {}
        self._part_files: dict[str, Any] = {}
        try:
            self.old_written_ns = int(cache.get("started_ns", 0))
        except (TypeError, ValueError):
            self.old_written_ns = 0
        self.files: dict[str, str] = {}  # every file of the site -> SHA-256
        self.written: list[str] = []
        self.problems: list[str] = []
        self.made: set[str] = set()  # folders made this run
        self.blobs: dict[str, list] = {}
        self.records: dict[str, Any] = {}  # rel -> this run's entry
        self.texts: dict[str, dict[str, str]] = {}  # rel -> lang -> what search indexes of it (not kept)
        self.reports: dict[str, Any] = {}
        self.remade: list[str] = []
        self.search: dict[str, Any] = {}
        self._old_data: dict[str, Any] = {}
        self._rels: dict[str, dict[str, str]] = {}  # type -> ID -> its file (see rel_of)
        self._read: dict[str, Record] = {}  # rel -> a record read whole for the search index (or a ledger)
        self._partly: dict[str, list | None] = {}  # type -> its records, in part (see partly)
        self.missed: set[str] = set()  # what a ledger asked of them that they do not hold
        self.stats: dict[str, list[int]] = {}  # site file -> [size, mtime] of those kept
        self.dirty = False  # whether anything differs from what the cache says
        # `checking`: the kept pages' sizes and times checked on another process (see
        # publish) while this one reads the store; keep() then looks at those that differ only
        self._unlike: set[str] | None = None
        self._checking, self._check_used = checking, same

    # -- files
    def put(self, rel: str, data: bytes) -> None:
        """`data` as the site's `rel`, written unless the file already holds those bytes."""
        digest = _sha(data)
        self.files[rel] = digest
        path = self.target / rel
        folder = path.parent
        if folder not in self.made:  # before anything in it is looked at: never through a link
            _folder_in(self.target, folder)
            self.made.add(folder)
        try:
            same = self.old_files.get(rel) == digest and read_file(path, len(data)) == data
        except QmsError:  # gone, a link, a pipe, another size: written again
            same = False
        if same:
            return
        _write(path, data)
        self.written.append(rel)
        self.dirty = True

    def put_unless_kept(self, rel: str, data: bytes) -> None:
        """`data` as the site's `rel`, kept as it is (not read) where the last publish wrote
        those very bytes there and the file is as it was left (see keep)."""
        if self.old_files.get(rel) != _sha(data) or not self.keep([rel]):
            self.put(rel, data)

    @staticmethod
    def pages_unlike(target: Path) -> bytes:
        """The site files the last publish into `target` kept the size and time of (in its
        cache) that are not as it left them (gone, not a file, another size or time), as
        JSON: what the check on another process reports to keep()."""
        cache = _load_cache(target)
        stats = cache.get("stats") if isinstance(cache, dict) else None
        if not isinstance(stats, dict):  # nothing looked at is not "every page as it was": the check fails
            raise ValueError("no kept sizes and times")
        base, lstat, unlike = f"{target}/", os.lstat, []
        for rel, old in stats.items():
            try:
                if not _site_path(rel):
                    raise ValueError(rel)
                st = lstat(base + rel)
            except (OSError, ValueError):
                unlike.append(rel)
                continue
            if st.st_mode & 0o170000 != stat_module.S_IFREG or type(old) is not list or len(old) != 2 \
                    or st.st_mtime_ns != old[1] or st.st_size != old[0]:
                unlike.append(rel)
        return _dump(unlike)

    def unlike(self) -> set[str] | None:
        """The site files the check on another process found not as the last publish left
        them; None where there was no such check (or it failed): each file is looked at."""
        if self._checking is not None:  # waited for (and the process ended) here, even where not used
            got, self._checking = self._checking(), None
            try:
                found = _load(got) if got is not None and self._check_used else None
            except ValueError:
                found = None
            self._unlike = set(found) if isinstance(found, list) and all(isinstance(x, str) for x in found) else None
        return self._unlike

    def keep(self, pages: list[str]) -> bool:
        """Take the files `pages` of the last publish as they are, if each is still there as
        it was written: its size and time as the cache has them, else (a site restored from
        a CI cache gets new times) its bytes, whose SHA-256 the manifest holds; False
        (nothing taken) otherwise."""
        found = []
        base, old_files, old_stats, lstat, files = self.base, self.old_files, self.old_stats, os.lstat, self.files
        unlike = self._unlike if self._checking is None else self.unlike()
        for rel in pages:
            digest = old_files.get(rel)
            old = old_stats.get(rel)
            if digest is None or type(old) is not list or len(old) != 2:
                return False
            if unlike is not None and rel not in unlike and rel not in files:
                # as it was when the other process looked (before this publish wrote anything)
                found.append((rel, digest, old))
                continue
            try:
                st = lstat(base + rel)
            except OSError:
                return False
            if st.st_mode & 0o170000 != stat_module.S_IFREG:  # a regular file (S_ISREG, without the call)
                return False
            if st.st_mtime_ns != old[1] or st.st_size != old[0]:
                if st.st_size != old[0]:
                    return False
                try:
                    if _sha(read_file(f"{base}/{rel}", st.st_size)) != digest:
                        return False
                except QmsError:
                    return False
                self.dirty = True
                old = [st.st_size, st.st_mtime_ns]
            found.append((rel, digest, old))
        for rel, digest, now in found:
            self.files[rel] = digest
            self.stats[rel] = now
        return True

    # -- records
    def blob(self, f) -> str | None:
        """The git blob of a record file, from its stat where the last publish hashed it and
        it cannot have changed since (validate's rule, store/cache.py)."""
        st = f.stat
        if st is None:
            return None
        key = stat_key(st)
        old = self.old_blobs.get(f.rel)
        if isinstance(old, list) and old[:4] == key and st.st_mtime_ns < self.old_written_ns - RACY_NS:
            self.blobs[f.rel] = old
            return old[4]
        try:
            raw = read_file(f.path, MAX_BYTES)
        except QmsError:
            return None
        b = blob_id(raw)
        self.blobs[f.rel] = [*key, b]
        self.dirty = True
        return b

    def read(self, f) -> Any:
        """A record file read as Store.records reads it: the Record, or the error."""
        try:
            return self.store.record_of(f.type, Path(f.path), yamlio.load(Path(f.path), f.rel, root=self.store.root))
        except QmsError as err:
            return QmsError(str(err))

    def build(self) -> None:
        store, config = self.store, self.config
        types = [t for t in config.type_names() if SAFE_NAME.fullmatch(t)]
        listing = {t: store.listing(t, stat=True) for t in types}
        # what the listing left out (a link, a name that is not UTF-8) is said, as lists say it
        self.problems += [_("{problem} (not published)").format(problem=s) for s in store.skipped]
        known = set(config.type_names())
        for folder in store.type_folders():  # records of no type the store runs: said, as validate says it
            if folder not in known and not folder.startswith("."):
                self.problems.append(_("{problem} (not published)").format(problem=_(
                    "records/{type}/ is not a record type's folder").format(type=printable(folder))))
        blob_of: dict[tuple[str, str], str | None] = {}
        where_all: dict[str, str] = {}
        changed: dict[str, Any] = {}  # rel -> Record or error, read this run
        by_type_changed: dict[str, list[str]] = {t: [] for t in types}
        full = not self.old_records
        if full:  # everything is made: every record is read, once, on several processes
            for t in types:
                for rec, f in zip(store.held(t), listing[t]):
                    changed[f.rel] = rec
        for t in types:
            for f in listing[t]:
                rid = f.rel.rpartition("/")[2][:-5]
                b = self.blob(f)
                blob_of[(t, rid)] = b
                where_all.setdefault(rid, t)
                old = self.old_records.get(f.rel)
                if full or b is None or not isinstance(old, dict) or old.get("blob") != b:
                    if f.rel not in changed:
                        changed[f.rel] = self.read(f)
                    by_type_changed[t].append(f.rel)
        gone = set(self.old_records) - {f.rel for t in types for f in listing[t]}
        for rel in gone:
            t = rel.split("/")[1] if rel.count("/") >= 2 else ""
            if t in by_type_changed:
                by_type_changed[t].append(rel)
        # every readable record: its ID, type and references, read now or kept from last time
        recs: dict[str, list[tuple[str, str]]] = {}
        refs: dict[str, list] = {}
        for t in types:
            rt = store.record_type(t)
            found = []
            for f in listing[t]:
                if f.rel in changed:
                    rec = changed[f.rel]
                    if isinstance(rec, Record):
                        if SAFE_NAME.fullmatch(rec.id):
                            found.append((rec.id, f.rel))
                            refs[f.rel] = [list(x) for x in rt.references(rec.data)]
                        else:  # never a page's name (a space, '<', '/'): said, not silently left out
                            self.problems.append(_("{file}: ID {id} cannot name a page (expected letters, digits, "
                                                   "'.', '_' and '-'); not published").format(
                                file=f.rel, id=quote(rec.id)))
                    elif isinstance(rec, Exception):
                        self.problems.append(str(rec))
                else:
                    old = self.old_records[f.rel]
                    if old.get("error") is not None:
                        self.problems.append(str(old["error"]))
                    elif old.get("id") is not None:
                        found.append((str(old["id"]), f.rel))
                        refs[f.rel] = old.get("refs") or []
            recs[t] = sorted(found)
        where = {rid: t for t, rs in recs.items() for rid, _rel in rs}
        referred: dict[str, list[tuple[str, str]]] = {}
        for t, rs in recs.items():
            for rid, rel in rs:
                for _path, _to, target in refs[rel]:
                    if target in where and (t, rid) not in referred.get(target, []):
                        referred.setdefault(target, []).append((t, rid))
        # the history of every record, or (after the commits since the last publish) which
        # records those commits touched: the history of the others is as it was
        self.head, touched = gitops.touched_since(store.root, None if full else self.old_head)
        history = gitops.log_all(store.root) if touched is None else {}
        # the history of the records that changed or that the commits since touched, and of
        # those that refer to them (the records most likely made again), is read by git while
        # the others are checked
        early_paths: set[str] = set()
        if touched is not None:
            early_paths = touched | {rel for rel, rec in changed.items() if isinstance(rec, Record)}
            rel_of: dict[str, dict[str, str]] = {}
            for rel in list(early_paths):
                for t, rid in referred.get(rel.rpartition("/")[2][:-5], ()):
                    found = rel_of.get(t) or rel_of.setdefault(t, dict(recs[t]))
                    if rid in found:
                        early_paths.add(found[rid])
        early = background(gitops.log_all, store.root, "records", sorted(early_paths)) \
            if 0 < len(early_paths) <= LOG_FILES else None

        def fresh(rel: str, rid: str) -> bool:
            """Whether the pages made last time for `rel` still hold."""
            old = self.old_records.get(rel)
            if full or rel in changed or not isinstance(old, dict):
                return False
            try:
                if rel in touched if touched is not None else old["history"] != _commits(history.get(rel, [])):
                    return False
                who = referred.get(rid)
                if old["referred"] != ([list(x) for x in who] if who else []):
                    return False
                if old["where"] and any(where.get(i) != t for i, t in old["where"].items()):
                    return False
                for i, (t, b) in old["ids"].items() if old["ids"] else ():
                    if (where_all.get(i) if t is None else t) != t or blob_of.get((t, i)) != b:
                        return False
                for t, fld, target, ids, digest in old["queries"]:
                    if not by_type_changed.get(t):
                        continue
                    if _blobs(blob_of, t, ids) != digest:
                        return False
                    for c in by_type_changed[t]:
                        rec = changed.get(c)
                        if isinstance(rec, Record) and _matches(rec.data, fld, target):
                            return False
                return self.keep(old["pages"])
            except (KeyError, TypeError, ValueError, AttributeError):
                return False

        todo: list[Record] = []
        for t in types:
            for rid, rel in recs[t]:
                if fresh(rel, rid):
                    self.records[rel] = self.old_records[rel]
                else:
                    rec = changed.get(rel)
                    if not isinstance(rec, Record):
                        f = next(x for x in listing[t] if x.rel == rel)
                        rec = self.read(f)
                    todo.append(rec)
        for t in types:  # unreadable records keep their problem for the next publish
            for f in listing[t]:
                rec = changed.get(f.rel)
                if isinstance(rec, Exception):
                    self.records[f.rel] = {"blob": blob_of.get((t, f.rel.rpartition("/")[2][:-5])), "error": str(rec)}

        got = None
        if early is not None:  # waited for here, before the pages are made (on forked workers, perhaps)
            try:
                got = early()
            except QmsError:  # read again below where it is needed, and refused there
                pass
        if touched is not None and todo:  # the history of the records made again, read now (or then)
            paths = [rec.path for rec in todo]
            if got is None or len(todo) > LOG_FILES:
                history = gitops.log_all(store.root, files=paths) if len(todo) <= LOG_FILES \
                    else gitops.log_all(store.root)
            else:  # what the early log did not read, read now
                rest = [p for p in paths if p not in early_paths]
                history = {**got, **gitops.log_all(store.root, files=rest)} if rest else got
        self.where, self.referred, self.history, self.blob_of = where, referred, history, blob_of
        self.listing = listing
        self.changed, self.changed_in = changed, by_type_changed
        if len(todo) > 100:  # a form leaves garbage behind: collected while many are made (here or on workers)
            gc.enable()
        try:
            made_all = map_many(self.make, todo)
        finally:
            gc.disable()
        for made in made_all:
            if isinstance(made, tuple):  # a form that cannot be filled in stops the publish
                err = QmsError(made[0])
                err.exit_code = made[1]
                raise err
            self.remade.append(made["id"])
            self.dirty = True
            self.files.update(made.pop("files"))
            self.written += made.pop("written")
            rel = made.pop("rel")
            self.texts[rel] = made.pop("text")
            self.records[rel] = made
        self.indexes(types, recs, by_type_changed)

    def make(self, rec: Record) -> Any:
        """Every page of one record, written; what its lists and the next publish need to
        know of it. On a worker process, so plain data."""
        store, langs, day = self.store, self.langs, self.day
        rt = store.record_type(rec.type)
        files_before, written_before = self.files, self.written
        self.files, self.written = {}, []
        watch = store.watch = Watch()
        hist = self.history.get(rec.path, [])
        out: dict[str, Any] = {"rel": rec.path, "blob": self.blob_of.get((rec.type, rec.id)), "id": rec.id,
                               "refs": [list(x) for x in rt.references(rec.data)], "rows": {},
                               "text": {}}
        try:
            due = deadlines(rt, rec.data, self.config, day)  # as of the day, in every language
            title = values.record_title(rt, rec.data)
            for lang in langs:
                other = _other(lang, langs)
                for rel, data in _record_pages(store, rt, rec, lang, other, day, hist, self.where,
                                               self.referred.get(rec.id, []), pdf=self.pdf, due=due).items():
                    self.put(rel, data)
                state_label = rt.workflow.states[rec.state].label[lang]
                late = ", ".join(d.label[lang] for d in due if d.status == "overdue")
                out["rows"][lang] = [state_label, title, late]
                out["text"][lang] = " ".join([rec.id, rt.label[lang], state_label, *_text_of(rec.data)])
        except QmsError as err:
            return (str(err), err.exit_code)
        finally:
            store.watch = None
            pages, written = self.files, self.written
            self.files, self.written = files_before, written_before
        out["files"] = pages
        out["written"] = written
        out["pages"] = list(pages)
        out["history"] = _commits(hist)
        out["referred"] = [list(x) for x in self.referred.get(rec.id, [])]
        out["where"] = {i: self.where.get(i) for _p, _t, i in rt.references(rec.data)}
        out["ids"] = {i: [t, self.blob_of.get((t, i)) if t else None] for i, t in watch.ids.items() if i != rec.id}
        out["queries"] = [[t, fld, target, ids, _blobs(self.blob_of, t, ids)]
                          for (t, fld, target), ids in watch.queries.items()]
        return out

    def type_digest(self, t: str) -> str:
        """A key of every record file of a type (names and blobs)."""
        if not self._type_digests:  # every type's at once: one pass over 10,000 records, not one per type
            by_type: dict[str, list[tuple[str, Any]]] = {}
            for (tn, rid), b in self.blob_of.items():
                by_type.setdefault(tn, []).append((rid, b))
            for tn, found in by_type.items():
                self._type_digests[tn] = hashlib.sha1(
                    "".join(f"{rid} {b}\n" for rid, b in sorted(found)).encode()).hexdigest()
        found = self._type_digests.get(t)
        if found is None:  # a type without records
            found = self._type_digests[t] = hashlib.sha1().hexdigest()
        return found

    def indexes(self, types: list[str], recs: dict[str, list[tuple[str, str]]], changed: dict[str, list[str]]) -> None:
        """The lists per type, the ledgers, the search index and the home pages."""
        store, config, langs, day = self.store, self.config, self.langs, self.day
        self._type_digests: dict[str, str] = {}
        self.put("assets/site.css", SITE_CSS.encode())
        self.put("assets/site.js", SITE_JS.encode())
        self.put("search.js", SEARCH_JS.encode())
        reports = report_names(store)
        texts_needed = any(changed.values()) or not isinstance(self.old_search, dict)
        for lang in langs:
            w = WORDS[lang]
            other = _other(lang, langs)
            overdue_rows: list[list[str]] = []
            type_rows: list[list[str]] = []
            docs: list[list[str]] = []
            for t in types:
                rt = store.record_type(t)
                label = rt.label[lang]
                shown_label = e(label)
                index = f"{lang}/{t}/index.html"
                listed = bool(changed.get(t)) or not self.keep([index])  # the list holds nothing but its records
                rows: list[list[str]] = []
                for rid, rel in recs[t]:
                    state_label, title, late = self.records[rel]["rows"][lang]
                    docs.append([rid, title or label, f"{t}/{rid}.html"])
                    if late or listed:  # each value escaped once, for the list and the overdue table
                        shown_id, shown_state, shown_title = e(rid), e(state_label), e(title)
                        shown_late = e(late) if late else ""
                        if late:
                            overdue_rows.append([f'<a href="{t}/{shown_id}.html">{shown_id}</a>', shown_label,
                                                 shown_state, shown_title, shown_late])
                        if listed:
                            rows.append([f'<a href="{shown_id}.html">{shown_id}</a>', shown_state, shown_title,
                                         f'<span class="overdue">{shown_late}</span>' if late else ""])
                if listed:
                    main = f"<h1>{shown_label}</h1>\n" + _table([w["id"], w["state"], w["title"], w["overdue"]], rows)
                    self.put(index, page(lang, 2, label, main, f"../../{other}/{t}/index.html" if other else None))
                if recs[t]:
                    type_rows.append([f'<a href="{t}/index.html">{shown_label}</a>', e(t), str(len(recs[t]))])
            report_rows = []
            for name in reports:
                about = report_about(store, name)
                if about is None:
                    made = self.report(name, lang, other)
                else:  # a report about one record (a customer's history): a page for each, and a list of them
                    made = self.reports_about(name, about, recs.get(about), lang, other)
                if made:
                    report_rows.append([f'<a href="reports/{name}.html">{e(_report_label(store, name, lang))}</a>',
                                        f"<code>{e(name)}</code>"])
            old_search = self.old_search.get(lang) if isinstance(self.old_search, dict) else None
            shards = old_search.get("shards") if isinstance(old_search, dict) else None
            if texts_needed or not isinstance(shards, dict) or not all(isinstance(x, str) and SHARD_NAME.fullmatch(x)
                                                                        for x in shards) or not self.keep(list(shards)):
                self.search_file(lang, docs, [r for t in types for _rid, r in recs[t]], old_search)
            else:
                self.search[lang] = old_search
            self.put(f"{lang}/search.html", page(
                lang, 1, w["search"],
                f'<h1>{e(w["search"])}</h1>\n<p><input id="qms-search-box" type="search" placeholder="{e(w["query"])}" '
                f'autofocus></p>\n<ul id="qms-search-results"></ul>\n',
                f"../{other}/search.html" if other else None, search=list(self.search[lang]["shards"])))
            home = (f"<h1>{e(config.company)}</h1>\n<p>{e(w['as_of'])} {day.strftime('%Y-%m-%d')}</p>\n"
                    f"<h2>{e(w['types'])}</h2>\n" + _table([w["types"], "", w["count"]], type_rows)
                    + f"<h2>{e(w['overdue'])}</h2>\n"
                    + (_table([w["id"], w["types"], w["state"], w["title"], w["late"]], overdue_rows) if overdue_rows
                       else f"<p>{e(w['nothing_overdue'])}</p>\n")
                    + f"<h2>{e(w['reports'])}</h2>\n" + _table([w["reports"], w["report_name"]], report_rows))
            self.put(f"{lang}/index.html", page(lang, 1, config.company or w["home"], home,
                                                f"../{other}/index.html" if other else None))
            if lang == langs[0]:  # DIR/index.html: the first language's home, its links one folder down
                root = re.sub(r'href="(?!\.\./|https?:)([^"#]+)"', lambda m: f'href="{lang}/{m.group(1)}"', home)
                self.put("index.html", page(lang, 0, config.company or w["home"], root,
                                            f"{other}/index.html" if other else None))

    def search_file(self, lang: str, docs: list[list[str]], rels: list[str], old: Any) -> None:
        """The search index of `lang` in files of at most SHARD parts of a record type each
        (search-index.<lang>.<type>.<n>.js, loaded in turn by search.html), each part of at
        most PART records (IDs that differ in their last two characters at most), made again
        only when one of its records changed: the others are copied from the file's last
        bytes, checked against the manifest first. A file whose parts are all as they were
        is kept as it is (as a page is)."""
        parts: list[tuple[str, list[int]]] = []
        last = None
        for n, d in enumerate(docs):
            t = rels[n].split("/")[1]
            key = (t, d[0][:-2])
            if key != last or len(parts[-1][1]) >= PART:
                parts.append((t, []))
                last = key
            parts[-1][1].append(n)
        shards: dict[str, list[list[int]]] = {}
        type_of: dict[str, str] = {}
        count: dict[str, int] = {}
        for t, members in parts:
            n = count.get(t, 0)
            count[t] = n + 1
            rel = f"search-index.{lang}.{t}.{n // SHARD}.js"
            shards.setdefault(rel, []).append(members)
            type_of[rel] = t
        olds = old.get("shards") if isinstance(old, dict) and isinstance(old.get("shards"), dict) else {}
        head = (f"window.QMS_SEARCH = window.QMS_SEARCH || {{}};\n(window.QMS_SEARCH[{json.dumps(lang)}] = "
                f'window.QMS_SEARCH[{json.dumps(lang)}] || {{"parts": []}}).parts.push(').encode("ascii")
        made: dict[str, Any] = {}
        for rel, members_of in shards.items():
            was = olds.get(rel)
            if not self.changed_in.get(type_of[rel]) and isinstance(was, dict) and isinstance(was.get("keys"), list) \
                    and len(was["keys"]) == len(members_of) and self.keep([rel]):
                made[rel] = was  # no record of its type changed, was added or went: its parts are as they were
                continue
            keys = [hashlib.sha1("\n".join(f"{rels[n]} {self.blob_of_rel(rels[n])}" for n in members).encode())
                    .hexdigest() for members in members_of]
            if isinstance(was, dict) and was.get("keys") == keys and self.keep([rel]):
                made[rel] = was
                continue
            old_bytes, spans = None, {}
            if isinstance(was, dict) and isinstance(was.get("parts"), dict) and self.old_files.get(rel) == was.get("sha"):
                try:
                    raw = _read_kept(self.target / rel)
                    if _sha(raw) == was["sha"]:
                        old_bytes, spans = raw, was["parts"]
                except QmsError:
                    pass
            pieces, kept, pos = [head], {}, len(head)
            for i, (key, members) in enumerate(zip(keys, members_of)):
                span = spans.get(key) if old_bytes is not None else None
                piece = old_bytes[span[0]:span[1]] if isinstance(span, list) and len(span) == 2 else None
                if not piece:
                    piece = json.dumps(search_index([(docs[n][0], docs[n][1], docs[n][2], self.text_of(rels[n], lang))
                                                     for n in members]),
                                       ensure_ascii=True, separators=(",", ":")).encode("ascii")
                if i:
                    pieces.append(b",")
                    pos += 1
                kept[key] = [pos, pos + len(piece)]
                pieces.append(piece)
                pos += len(piece)
            pieces.append(b");\n")
            self.put(rel, b"".join(pieces))
            made[rel] = {"sha": self.files[rel], "keys": keys, "parts": kept}
        self.search[lang] = {"shards": made}

    def files_of(self, t: str) -> list[str] | None:
        """The record files of type `t`, in the order Store.records gives its records."""
        found = getattr(self, "listing", {}).get(t)
        return None if found is None else [f.rel for f in found]

    def record_at(self, rel: str) -> Any:
        """The record of the file `rel` (read this run where it changed, else now), or the
        error reading it gave."""
        rec = self.changed.get(rel)
        if rec is None:
            try:
                rec = self.read_rel(rel)
            except QmsError as err:  # as read() gives it
                rec = QmsError(str(err))
        return rec

    def blob_of_rel(self, rel: str) -> str | None:
        entry = self.blobs.get(rel)
        return entry[4] if entry else None

    def text_of(self, rel: str, lang: str) -> str:
        """What search indexes of a record: made with its pages this run, else read again."""
        text = self.texts.get(rel, {}).get(lang)
        if text is None:
            rec = self.read_rel(rel)
            rt = self.store.record_type(rec.type)
            row = summary_row(self.store, rt, rec, lang, self.day)
            text = " ".join([rec.id, rt.label[lang], row["state_label"], *_text_of(rec.data)])
            self.texts.setdefault(rel, {})[lang] = text
        return text

    def read_rel(self, rel: str) -> Record:
        """The record of a file that was readable when listed (read now, if not held)."""
        t = rel.split("/")[1]
        rec = self.store.held_record(t, rel.rpartition("/")[2][:-5]) or self._read.get(rel)
        if rec is None:
            path = self.store.root / rel
            rec = self._read[rel] = self.store.record_of(t, path, yamlio.load(path, rel, root=self.store.root))
        return rec

    def report(self, name: str, lang: str, other: str | None, of: str | None = None) -> bool:
        """The ledger `name` in `lang` (`of`: for that record, a report about one record),
        made again only when a record of a type it read (or a record it looked at) changed;
        whether it was published."""
        key = f"{name} {lang}" if of is None else f"{name}/{of} {lang}"
        old = self.old_reports.get(key)
        try:
            if isinstance(old, dict) and all(d is None or self.same_fields(t, d, keys)
                                             for t, (d, keys) in old["types"].items()) \
                    and all(self.still_matched(*q, old["types"][q[0]][1]) for q in old["matched"]) \
                    and all(self.blob_of.get((t, i)) == b for i, (t, b) in old["ids"].items()) \
                    and self.keep(list(old["files"])):
                self.problems += old["problems"]
                # held to what the store is now: a record found that changed in a field the
                # ledger does not show is taken at its new version (as a type's digest is)
                self.reports[key] = dict(old, types={t: [None if d is None else self.type_digest(t), keys]
                                                     for t, (d, keys) in old["types"].items()},
                                         matched=[[t, fld, how, wanted, [[i, rel, self.blob_of.get((t, i))]
                                                                         for i, rel, _b in found]]
                                                  for t, fld, how, wanted, found in old["matched"]])
                return bool(old["made"])
        except (KeyError, TypeError, ValueError, AttributeError):
            pass
        self.dirty = True
        view = self.in_part(old)
        # its rows kept by record version: used only where the last publish said which fields
        # of each type it read (a kept row reads none of them again)
        seen = {t: kept[1] for t, kept in old["types"].items() if isinstance(kept, list) and len(kept) == 2
                and isinstance(kept[1], list)} if isinstance(old, dict) and isinstance(old.get("types"), dict) else None
        rows = self.rows[key] = _Rows(self.old_rows(key) if seen is not None else {}, self.blob_of_rel,
                                      self.files_of, self.record_at)
        got = None
        if view is not None:
            try:
                got = self.report_page(view, name, lang, other, rows, seen, of)
            except Exception:  # a record in part asked for a field it does not hold, as if it had none
                if not view.missed:
                    raise
        if got is not None and view is not None and not view.missed:
            for t in set(view._held) - set(self.store._held) - view.partial:  # types it read whole
                self.store.hold(t, view._held[t])
        else:  # made from the records read whole (it asked a record in part for more than it holds)
            rows = self.rows[key] = _Rows(rows.old, self.blob_of_rel, self.files_of, self.record_at)
            got = self.report_page(self.store, name, lang, other, rows, seen, of)
        made, problems, watch = got
        for rel, data in made.items():
            self.put(rel, data)
        self.problems += problems
        fields = watch.fields or {}
        # a type read only through matching's questions (a customer's complaints) is held to
        # those questions (still_matched), not to every record of the type; its fields are
        # kept all the same, for the view a ledger is made again from (in_part)
        asked = {q[0] for q in watch.matched} - watch.types
        self.reports[key] = {"types": {t: [None if t in asked else self.type_digest(t),
                                           sorted(fields.get(t, ()) or [ALL])]
                                       for t in sorted(watch.types | asked)},
                             "matched": [[t, fld, how, wanted,
                                          [[i, self.rel_of(t, i), self.blob_of.get((t, i))] for i in ids]]
                                         for t, fld, how, wanted, ids in watch.matched],
                             "ids": {i: [t, self.blob_of.get((t, i)) if t else None] for i, t in watch.ids.items()},
                             "files": {rel: self.files[rel] for rel in made}, "made": bool(made),
                             "problems": problems}
        return bool(made)

    def reports_about(self, name: str, about: str, subjects: list[tuple[str, str]] | None, lang: str,
                      other: str | None) -> bool:
        """The report `name` about one record of type `about` (a customer's history) for each
        of `subjects` (ID, file), each its own page, and the list of them (LANG/reports/
        NAME.html, linked from the home page); whether the list was published."""
        if subjects is None:  # not a record type of the store
            self.problems.append(_("report {name}: not published (it is about one {type}, which is not a record type "
                                   "of the store)").format(name=name, type=about))
            return False
        label = _report_label(self.store, name, lang)
        rows = []
        for rid, rel in subjects:
            if self.report(name, lang, other, of=rid):
                _state, title, _late = self.records[rel]["rows"][lang]
                rows.append([f'<a href="{e(name)}/{e(rid)}.html">{e(rid)}</a>', e(title)])
            elif not rows:  # its declaration cannot be made into a page (said once): none is published,
                return False  # as none is linked from the records' pages (_about_published)
        w = WORDS[lang]
        none = w["no_subject"].format(type=self.store.record_type(about).label[lang])
        main = f"<h1>{e(label)}</h1>\n" + (_table([w["id"], w["title"]], rows) if rows else f"<p>{e(none)}</p>\n")
        other_page = f"../../{other}/reports/{name}.html" if other else None
        self.put_unless_kept(f"{lang}/reports/{name}.html", page(lang, 2, label, main, other_page))
        return True

    def still_matched(self, t: str, fld: str, how: str, wanted: list[str], found: list[list], keys: list[str]) -> bool:
        """Whether a question a ledger asked (matching: the records of type `t` whose `fld`
        names one of `wanted`; `found`: [ID, file, blob] of each it found; `keys`: the
        fields the ledger read of them) finds what it found, as it was: each record found is
        there, the same in those fields (a changed one is compared with its last version,
        read back from git by its blob), and no other record of the type that changed since
        names one of `wanted` now (none changed that cannot be read)."""
        changed = self.changed_in.get(t) or []
        if len(changed) > 50:
            return False
        keys_of, want = known.KEYS[how], set(wanted)
        fields = None if ALL in keys else sorted({*keys, "id", "state", fld.split(".")[0]})
        ids = set()
        for rid, rel, b in found:
            ids.add(rid)
            if self.blob_of.get((t, rid)) == b:
                continue
            rec = self.changed.get(rel)
            if fields is None or not isinstance(rec, Record) or rec.id != rid or not isinstance(rec.data, dict):
                return False
            now = _same_key(rec.data, fields)
            if now is None or _same_key(self.old_data(b), fields) != now:
                return False
        for rel in changed:
            rec = self.changed.get(rel)
            if isinstance(rec, Record):
                if rec.id not in ids and any(k in want for k in keys_of(values.get(rec.data, fld))):
                    return False
            elif rec is not None:  # unreadable now: what the ledger says of its type's problems is made again
                return False
        return True

    def rel_of(self, t: str, rid: str) -> str | None:
        """The file of record `rid` of type `t`, as listed this run."""
        if t not in self._rels:
            self._rels[t] = {f.rel.rpartition("/")[2][:-5]: f.rel for f in self.listing.get(t, ())}
        return self._rels[t].get(rid)

    def report_page(self, store: HeldStore, name: str, lang: str, other: str | None, rows: _Rows | None = None,
                    seen: dict[str, list] | None = None, of: str | None = None) -> tuple:
        """(files, problems, Watch) of the ledger `name` in `lang` (`of`: for that record),
        made from `store`'s records, nothing written. `rows`: its rows kept by record version
        (taken where the record is the same, given those made); `seen`: the fields of each
        type the ledger read when those rows were made, which it reads again through them."""
        watch = store.watch = Watch(fields=True)
        for t, keys in (seen or {}).items():
            watch.fields.setdefault(str(t), set()).update(str(k) for k in keys)
        store.rows_memo = rows
        problems: list[str] = []
        try:
            made = _report_page(store, name, lang, other, self.day, problems, of, self.where)
        finally:
            store.watch = store.rows_memo = None
        return made, problems, watch

    def in_part(self, old: Any) -> HeldStore | None:
        """A view of the store for making a ledger again without reading every record of
        the types it reads: each type it read some fields of last time is held as the
        records read this run (those that changed) and the projections of the others onto
        those fields that the last publish kept (`Part`); None where no type can be so held.
        Each type's records are put together when the ledger first asks for them (a ledger
        whose rows are all kept asks for none)."""
        if not isinstance(old, dict) or not isinstance(old.get("types"), dict):
            return None
        view = None
        for t, kept in old["types"].items():
            keys = kept[1] if isinstance(kept, list) and len(kept) == 2 and isinstance(kept[1], list) else [ALL]
            if ALL in keys or t in self.store._held or t not in self.listing:
                continue
            view = view or self.store.view()
            view.missed = self.missed  # one for every ledger: the records in part are shared
            view.later[t] = functools.partial(self._in_part, view, t, keys)
        return view if view is not None and view.later else None

    def _in_part(self, view: HeldStore, t: str, keys: list[str]) -> list[Any]:
        """Type `t`'s records for `view`: in part (see partly) where they can be, else read
        whole (and held by the store itself too)."""
        if t not in self._partly:
            self._partly[t] = self.partly(t, keys, self.missed)
        records = self._partly[t]
        if records is not None and not self.missed:
            view.partial.add(t)
            return records
        return self.store.held(t)

    def partly(self, t: str, keys: list[str], missed: set) -> list[Any] | None:
        """The records of type `t` in listing order, as Store.records gives them: those read
        this run as they are, the others as their projections where the last publish kept
        one for the same blob, holding at least `keys` (else read now); None where most
        would have to be read (the whole type is then read on several processes)."""
        kept = self.old_part(t)
        if kept is None:
            return None
        known = frozenset(str(k) for k in kept["fields"])
        if not known.issuperset(keys):
            return None
        entries = kept["records"]
        out: list[Any] = []
        unread: list[int] = []
        for f in self.listing[t]:
            rec = self.changed.get(f.rel)
            if rec is None:
                entry = entries.get(f.rel)
                b = self.blob_of_rel(f.rel)
                try:
                    if b is None or entry[0] != b:
                        raise ValueError
                    rec = Record(str(entry[1]), t, str(entry[2]), Part(unproject(entry[3], entry[4]), known, missed),
                                 f.rel)
                except (TypeError, ValueError, KeyError, IndexError, AttributeError):
                    unread.append(len(out))
                    rec = f
            out.append(rec)
        if len(unread) > 50 and 2 * len(unread) > len(out):
            return None
        for i in unread:
            out[i] = self.read(out[i])
        return out

    def old_part(self, t: str) -> dict | None:
        """The projections of type `t`'s records the last publish kept ({fields, records}),
        read from their file when first asked for; None if there are none (or not the ones
        the cache names)."""
        if t not in self._old_parts:
            kept = self.part_file(t)
            got = None
            if kept is not None:
                records = {}
                for line in kept[1]:
                    key, tab, entry = line.partition(b"\t")
                    try:
                        rel = _load(key)
                        if tab and isinstance(rel, str):
                            records[rel] = _load(entry)
                    except ValueError:  # a line not as written: that record is read
                        pass
                got = {"fields": kept[0], "records": records}
            self._old_parts[t] = got
        return self._old_parts[t]

    def part_file(self, t: str) -> tuple[list[str], list[bytes]] | None:
        """The file of type `t`'s projections as the last publish wrote it: the fields it
        kept, and its lines, one per record (its path as JSON, a tab, its projection as
        JSON); None if there is none, or not the one the cache names."""
        if t not in self._part_files:
            token = self.part_tokens.get(t)
            got = None
            path = self.target / PARTS.format(type=t)
            if isinstance(token, dict) and isinstance(token.get("token"), str) and SAFE_NAME.fullmatch(t):
                try:
                    lines = _read_kept(path).split(b"\n")
                    head = _load(lines[0])
                    if isinstance(head, dict) and head.get("token") == token["token"] \
                            and isinstance(head.get("fields"), list) and all(isinstance(x, str) for x in head["fields"]):
                        got = (head["fields"], [x for x in lines[1:] if x])
                except (QmsError, ValueError):
                    pass
            self._part_files[t] = got
        return self._part_files[t]

    def kept_parts(self) -> dict:
        """For the next publish: each type some ledgers read by their fields (never whole),
        the union of those fields and each record's projection onto them, by file (see
        `project`), made from the records read whole this run, else kept from the last;
        written to the type's file where it changed. What the cache keeps of them."""
        tokens = {}
        written = self._kept_parts()
        for t, part in written.items():
            old = self.part_tokens.get(t)
            if part is None:  # nothing of the type changed: its file stays
                tokens[t] = old
                continue
            token = f"{self.started_ns} {t}"
            lines = [_dump({"token": token, "fields": part["fields"]}), *part["lines"],
                     *(_part_key(rel) + b"\t" + _dump(entry) for rel, entry in part["records"].items())]
            _write(self.target / PARTS.format(type=t), b"\n".join(lines) + b"\n")
            tokens[t] = {"token": token, "fields": part["fields"]}
        for t in set(self.part_tokens) - set(tokens):
            path = self.target / PARTS.format(type=t)
            if SAFE_NAME.fullmatch(t) and (path.is_file() or path.is_symlink()):
                path.unlink()
        if self.old_format != CACHE_FORMAT:  # what an older qms kept there: one JSON file a type
            for path in self.target.glob(".qms-publish-part.*.json"):
                if path.is_file() or path.is_symlink():
                    path.unlink()
        return tokens

    def _kept_parts(self) -> dict:
        """type -> {fields, records} to write, None: kept as the last publish wrote it."""
        fields: dict[str, set[str]] = {}
        for entry in self.reports.values():
            for t, (_d, keys) in entry["types"].items():
                if ALL not in keys and SAFE_NAME.fullmatch(t):  # a type's name names its file
                    fields.setdefault(t, set()).update(keys)
        out: dict[str, Any] = {}
        for t, keys in sorted(fields.items()):
            names = sorted(keys)
            token = self.part_tokens.get(t)
            if isinstance(token, dict) and token.get("fields") == names and not self.changed_in.get(t) \
                    and t not in self.store._held:
                out[t] = None
                continue
            held = self.store._ids.get(t) or {}
            kept = self.part_file(t)
            if kept is not None and keys <= set(kept[0]) and not held:
                # the lines as kept, but those of the records that changed (or are gone),
                # whose projections are made again: the others are not read
                changed = self.changed_in.get(t) or ()
                drop = {_part_key(rel) for rel in changed}
                records = {}
                for rel in changed:
                    rec, b = self.changed.get(rel), self.blob_of_rel(rel)
                    if b is not None and isinstance(rec, Record) and rec.path == rel and type(rec.data) is dict:
                        got = project(rec.data, names)
                        if got is not None:
                            records[rel] = [b, rec.id, rec.state, *got]
                out[t] = {"fields": names, "records": records,
                          "lines": [x for x in kept[1] if x.partition(b"\t")[0] not in drop] if drop else kept[1]}
                continue
            old = self.old_part(t)
            old_records = old["records"] if old is not None and keys <= set(old["fields"]) else {}
            records = {}
            for f in getattr(self, "listing", {}).get(t, ()):
                b = self.blob_of_rel(f.rel)
                if b is None:
                    continue
                rec = self.changed.get(f.rel)
                if not isinstance(rec, Record):
                    rec = held.get(f.rel.rpartition("/")[2][:-5])
                if isinstance(rec, Record) and rec.path == f.rel and type(rec.data) is dict:
                    got = project(rec.data, names)
                    if got is not None:
                        records[f.rel] = [b, rec.id, rec.state, *got]
                    continue
                entry = old_records.get(f.rel)
                if isinstance(entry, list) and entry and entry[0] == b:
                    records[f.rel] = entry
            out[t] = {"fields": names, "records": records, "lines": []}
        return out

    def same_fields(self, t: str, digest: str, keys: list[str]) -> bool:
        """Whether the fields `keys` of every record of type `t` are what they were when a
        ledger read them (digest: of the type's records then): no record added or removed,
        and each changed one holds the same values there, in type and value, as its last
        published version (read back from git by its blob)."""
        if self.type_digest(t) == digest:
            return True
        changed = self.changed_in.get(t) or []
        if ALL in keys or len(changed) > 50:
            return False
        wanted = sorted({*keys, "id", "state"})
        for rel in changed:
            new = self.changed.get(rel)
            old = self.old_records.get(rel)
            if not isinstance(new, Record) or not isinstance(new.data, dict) or not isinstance(old, dict):
                return False
            before = self.old_data(old.get("blob"))  # one record from git: less than the type's projections
            now = _same_key(new.data, wanted)
            if now is None or _same_key(before, wanted) != now:
                return False
        return True

    def old_data(self, blob: Any) -> Any:
        """A record as the blob `blob` holds it (a version git keeps), None if it cannot be read."""
        if not isinstance(blob, str) or not re.fullmatch(r"[0-9a-f]{40}", blob):
            return None
        if blob not in self._old_data:
            got = None
            try:
                raw = subprocess.run(["git", "cat-file", "blob", blob], cwd=self.store.root, capture_output=True,
                                     stdin=subprocess.DEVNULL, env=dict(os.environ, GIT_OPTIONAL_LOCKS="0"))
                if raw.returncode == 0 and blob_id(raw.stdout) == blob:
                    got = yamlio.parse(yamlio.decode(raw.stdout, blob), blob)
            except (OSError, QmsError):
                got = None
            self._old_data[blob] = got
        return self._old_data[blob]

    def old_rows(self, key: str) -> dict:
        """The rows the last publish kept of the ledger `key` ("NAME LANG"), by "TABLE
        FILE" ({} if none), read from their file when first asked for."""
        if self._old_rows is None:
            data = _kept_file(self.target / ROWS, self.rows_token)
            self._old_rows = data["ledgers"] if data is not None and isinstance(data.get("ledgers"), dict) else {}
        got = self._old_rows.get(key)
        return got if isinstance(got, dict) else {}

    def kept_rows(self) -> str | None:
        """For the next publish: the rows of every ledger made again this run, and of the
        others as the last publish kept them; written where a ledger was made again. What
        the cache keeps of them (the file's token)."""
        if not self.rows:  # no ledger made again: the file stays as it is
            return self.rows_token
        ledgers = {}
        for key in self.reports:
            if key in self.rows:
                ledgers[key] = self.rows[key].new
            else:
                kept = self.old_rows(key)
                if kept:
                    ledgers[key] = kept
        token = f"{self.started_ns} rows"
        _write(self.target / ROWS, _dump({"token": token, "ledgers": ledgers}))
        return token

    def cache(self) -> dict:
        """What the next publish into the same folder starts from."""
        stats = {}
        base = str(self.target)
        for rel in self.files:
            kept = self.stats.get(rel)
            if kept is not None:
                stats[rel] = kept
                continue
            try:
                st = os.lstat(f"{base}/{rel}")
            except OSError:
                continue
            stats[rel] = [st.st_size, st.st_mtime_ns]
        return {"format": CACHE_FORMAT, "fingerprint": self.fp, "started_ns": self.started_ns, "head": self.head,
                "blobs": self.blobs, "stats": stats, "records": self.records, "reports": self.reports,
                "search": self.search, "parts": self.kept_parts(), "rows": self.kept_rows()}


CHECK_ELSEWHERE = 2000  # kept site files from which their check runs on another process
LOG_FILES = 500  # records whose history one `git log -- FILE...` reads (more: the whole history is read)
WALK_READS = 50  # records without kept rows that a ledger reads one by one (more: the type is read whole)


class _Rows:
    """A ledger's rows by record version, between publishes (the reports' `rows_memo`):
    each source record's rows as (sort key, group, cells, HTML), all text, under "TABLE
    FILE", with the blob of the record they were made from; the HTML is the row as the
    page lays it out (None until it was). `old`: as the last publish kept them; `new`:
    those taken or made this run, for the next."""

    def __init__(self, old: dict, blob_of_rel: Callable[[str], str | None],
                 files: Callable[[str], list[str] | None], record: Callable[[str], Any]):
        self.old = old
        self.new: dict[str, list] = {}
        self.blob_of_rel = blob_of_rel
        self.files = files  # a type's record files, in the order Store.records gives them
        self.record = record  # the record of a file, read now where it was not (or the error)

    def walk(self, store: HeldStore, t: str, part: str) -> Iterator[tuple[str | None, list | None, Any]]:
        """For each record file of type `t`: (its path, the rows kept for it or None, its
        record or the error reading it gave, where no rows are kept). Where rows are kept
        for all but a few, the others are read one by one and the type is not read whole;
        what `store.records` would note in its watch is noted all the same (the type, and
        the fields read of the records read, through `Seen`)."""
        files = self.files(t)
        if files is not None:
            kept = [self.get(part, rel) for rel in files]
            if sum(rows is None for rows in kept) <= WALK_READS:
                watch = store.watch
                keys = None
                if watch is not None:
                    watch.types.add(t)
                    keys = watch.fields.setdefault(t, set()) if watch.fields is not None else None
                for rel, rows in zip(files, kept):
                    if rows is not None:
                        yield rel, rows, None
                        continue
                    rec = self.record(rel)
                    if isinstance(rec, Record) and keys is not None and isinstance(rec.data, dict):
                        rec = Record(rec.id, rec.type, rec.state, Seen(rec.data, keys), rec.path)
                    yield rel, None, rec
                return
        for rec in store.records(t):
            yield (None, None, rec) if isinstance(rec, Exception) else (rec.path, self.get(part, rec.path), rec)

    def get(self, part: str, rel: str) -> list | None:
        """The rows kept for this version of the record file `rel`, None if there are none
        (or not sound)."""
        key = f"{part} {rel}"
        entry = self.old.get(key)
        if type(entry) is not list or len(entry) != 2 or entry[0] is None or entry[0] != self.blob_of_rel(rel) \
                or type(entry[1]) is not list:
            return None
        for row in entry[1]:  # what is sorted on must compare; a cell is shown as text, whatever it is
            if not (type(row) is list and len(row) == 4 and type(row[0]) is list and type(row[1]) is str
                    and type(row[2]) is list and all(type(x) is str for x in row[0])
                    and (row[3] is None or type(row[3]) is str)):
                return None
        self.new[key] = entry  # kept for the next publish as it is (laid_out sets a row's HTML in it)
        return entry[1]

    def put(self, part: str, rec: Record, rows: list) -> None:
        """Keep the rows just made of `rec` (if its file's version is known)."""
        blob = self.blob_of_rel(rec.path)
        if blob is not None:
            self.new[f"{part} {rec.path}"] = [blob, [[list(k), g, list(cells), html] for k, g, cells, html in rows]]

    def laid_out(self, row: Row, html: str) -> None:
        """Keep how `row` was laid out, for the next publish."""
        entry = self.new.get(row.key)
        if entry is not None and row.at < len(entry[1]):
            entry[1][row.at][3] = html


def _commits(history: list) -> str:
    """A key of a record's history (its commits)."""
    return hashlib.sha1(" ".join(x.commit for x in history).encode()).hexdigest()[:20]


def _blobs(blob_of: dict, t: str, ids: list[str]) -> str:
    """A key of what the records `ids` of type `t` hold."""
    return hashlib.sha1(" ".join(f"{i}:{blob_of.get((t, i))}" for i in ids).encode()).hexdigest()[:20]


def _matches(data: Any, field_: str, target: str) -> bool:
    """Whether referring(type, field_, target) could find this record's data (a question
    asked with something other than text: whenever the type changed)."""
    if target.startswith("\0"):
        return True
    value = values.get(data, field_)
    return value == target or isinstance(value, list) and target in value


def _mkdir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise BadInput(_("{path}: cannot write ({reason})").format(path=folder, reason=err.strerror)) from None


def _record_pages(store, rt, record: Record, lang: str, other: str | None, day: datetime,
                  history: list, where: dict[str, str], referred: list[tuple[str, str]],
                  pdf: bool = False, due: list | None = None) -> dict[str, bytes]:
    """The record's main form and each other form its type declares, as pages, all laid
    out from one form context (render.form_context): the form itself (its Markdown made
    HTML), the records it refers to and that refer to it, and its signatures with the
    commits that made them; with `pdf`, a link to the main form's PDF and the PDF itself,
    printed from the same Markdown."""
    w = WORDS[lang]
    commit_url = store.config.publish.link
    context = form_context(store, record, lang, history=history, now=day, due=due)
    out: dict[str, bytes] = {}
    extra = [f'<p class="pdf"><a href="{e(record.id)}.pdf">{e(w["pdf"])}</a></p>\n'] if pdf else []
    refs = [f'<li>{e(x["label"])}: <a href="../{x["type"]}/{e(x["id"])}.html">{e(x["id"])}</a></li>'
            for x in context["references"] if where.get(x["id"]) == x["type"]]
    back = [f'<li><a href="../{t}/{e(i)}.html">{e(i)}</a> ({e(store.record_type(t).label[lang])})</li>'
            for t, i in sorted(referred)]
    if refs or back:
        extra.append(f"<h2>{e(w['related'])}</h2>\n")
        if refs:
            extra.append(f"<h3>{e(w['refers'])}</h3>\n<ul>\n" + "\n".join(refs) + "\n</ul>\n")
        if back:
            extra.append(f"<h3>{e(w['referred'])}</h3>\n<ul>\n" + "\n".join(back) + "\n</ul>\n")
    if context["signatures"]:
        rows = []
        # name and time as the record holds them (the context's are JSON-ready: a time as ISO text)
        for stored, s in zip(values.signatures(record.data), context["signatures"]):
            commit = s["commit"]
            if commit is None:
                shown = "—"
            elif (url := commit_url(commit)) is not None:
                shown = f'<a href="{e(url)}" rel="noopener noreferrer"><code>{e(commit[:10])}</code></a>'
            else:
                shown = f'<code title="{e(commit)}">{e(commit[:10])}</code>'
            rows.append([e(s["meaning_label"]), e(stored.get("name")), e(stored.get("at")), shown])
        extra.append(f"<h2>{e(w['signatures'])}</h2>\n" + _table([w["meaning"], w["name"], w["at"], w["commit"]], rows))
    about = [n for n in _reports_about(store, record.type) if _about_published(store, n, record.id)] \
        if SAFE_NAME.fullmatch(record.id) else []
    if about:  # the reports about this one record (its customer history), each a page of the site
        extra.append(f"<h2>{e(w['reports_of'])}</h2>\n<ul>\n" + "\n".join(
            f'<li><a href="../reports/{e(n)}/{e(record.id)}.html">{e(_report_label(store, n, lang))}</a></li>'
            for n in about) + "\n</ul>\n")
    forms = [None, *rt.forms]
    if rt.forms:
        extra.append(f"<h2>{e(w['forms'])}</h2>\n<ul>\n" + "\n".join(
            f'<li><a href="{e(record.id)}.{e(f)}.html">{e(rt.forms[f][lang])}</a></li>' for f in rt.forms
            if SAFE_NAME.fullmatch(f)) + "\n</ul>\n")
    for form in forms:
        if form is not None and not SAFE_NAME.fullmatch(form):
            continue
        markdown = fill(store, record, context, form)
        name = f"{record.id}.{form}.html" if form else f"{record.id}.html"
        title = f"{record.id} {rt.forms[form][lang] if form else rt.form[lang]}"
        out[f"{lang}/{record.type}/{name}"] = page(
            lang, 2, title, formhtml.body(markdown) + "".join(extra),
            f"../../{other}/{record.type}/{name}" if other else None)
        if pdf and form is None:
            out[f"{lang}/{record.type}/{record.id}.pdf"] = pdf_form(store, record, lang, markdown)
    return out


def _report_spec(store, name: str) -> dict:
    """A report's declaration, read once for every language and page (`store.memo`, where
    the store keeps one); {} where it cannot be read (the report's own page says why)."""
    memo = store.memo if isinstance(store.memo, dict) else {}
    key = ("report declaration", name)
    if key not in memo:
        try:
            got = report_declaration(store, name)
        except QmsError:
            got = None
        memo[key] = got if isinstance(got, dict) else {}
    return memo[key]


def _report_label(store, name: str, lang: str) -> str:
    """A ledger's name as its declaration gives it in `lang` (客诉台账), else its code."""
    label = _report_spec(store, name).get("label")
    text = label.get(lang) if isinstance(label, dict) else None
    return text if isinstance(text, str) and text.strip() else name


def report_about(store, name: str) -> str | None:
    """The record type a report is about, one page per record of it (`of: customer`: each
    customer's history, 顾客履历), None for a report of the whole store."""
    about = _report_spec(store, name).get("of")
    return str(about) if about is not None else None


def _reports_about(store, type_name: str) -> list[str]:
    """The reports about one record of `type_name` each (a customer's history), by name."""
    memo = store.memo if isinstance(store.memo, dict) else {}
    key = ("reports about", type_name)
    if key not in memo:
        memo[key] = [n for n in report_names(store) if SAFE_NAME.fullmatch(n) and report_about(store, n) == type_name]
    return memo[key]


def _about_published(store, name: str, rid: str) -> bool:
    """Whether the report `name` about one record can be made at all (the site's list of
    them stops at the first record it cannot be made for, a declaration that cannot be
    made into a page): tried once, for record `rid`, unwatched (a record's page does not
    depend on the records the report reads)."""
    memo = store.memo if isinstance(store.memo, dict) else {}
    key = ("report about made", name)
    if key not in memo:
        # on a view of the store in which every type not yet read holds no record: what is
        # tried is the declaration (and the record it is about, read alone), not reading
        # every complaint of a store whose customer page alone is made again
        view = store.view() if isinstance(store, HeldStore) else None
        if view is not None:
            view.later, view._keyed = _NoRecords(), {}  # its own indexes, of no records
        try:
            build_report(view if view is not None else store, name, "en", of=rid)
            memo[key] = True
        except QmsError:
            memo[key] = False
    return memo[key]


class _NoRecords(dict):
    """A view's `later` (see HeldStore.held) that gives every type no record."""

    def pop(self, key, default=None):
        """How to read the type `key`'s records: none."""
        return list


def _report_page(store, name: str, lang: str, other: str | None, day: datetime,
                 problems: list[str], of: str | None = None, where: dict[str, str] | None = None) -> dict[str, bytes]:
    """The ledger `name` as a page, with its charts as SVG files beside it; {} (and a
    problem) when it cannot be made. `of`: the record a report about one record is made
    for (a customer's history), its page LANG/reports/NAME/ID.html. `where`: the type of
    each record with a page (ID -> type), to which the rows that start with its ID link."""
    try:
        rep = build_report(store, name, lang, of=of)
    except QmsError as err:
        problems.append(_("report {name}: not published ({problem})").format(
            name=name if of is None else f"{name} {of}", problem=err))
        return {}
    out: dict[str, bytes] = {}
    images = []
    # a report about one record: its pages in a folder of their own, one level further down
    stem, inner, depth = (name, "reports/", 2) if of is None else (of, f"reports/{name}/", 3)
    folder = f"{lang}/{inner}"
    for n, part in enumerate([rep, *rep.sections]):
        if part.chart is None:
            continue
        try:
            drawn = svg(part, store.root)
        except QmsError as err:
            problems.append(_("report {name}: chart left out ({problem})").format(name=name, problem=err))
            continue
        if drawn:
            if of is None:
                file = f"{stem}.svg" if n == 0 else f"{stem}-{n}.svg"
            else:  # beside other records' pages: '~' is in no ID, so no record's chart takes another's name
                file = f"{stem}~chart.svg" if n == 0 else f"{stem}~chart-{n}.svg"
            out[folder + file] = drawn
            images.append(f'<p><img class="chart" src="{e(file)}" alt="{e(part.title)}"></p>\n')
    body = _ledger_html(rep, store.config.company, lang, day.strftime("%Y-%m-%d"), getattr(store, "rows_memo", None))
    if where:
        body = _linked(body, where, "../" * (depth - 1))
    out[f"{folder}{stem}.html"] = page(lang, depth, rep.title, "".join(images) + body,
                                       "../" * depth + f"{other}/{inner}{stem}.html" if other else None)
    return out


ROW_START = "<tr>\n<td>"  # a table row and its first cell, as cmark writes them


def _linked(html: str, where: dict[str, str], up: str) -> str:
    """A ledger's HTML with each row whose first cell is the ID of a record with a page (a
    complaint in 客诉台账) linking there (`up`: from the ledger's folder to the language's).
    The IDs with a page are plain names (SAFE_NAME), so a cell that equals one needed no
    escape."""
    parts = html.split(ROW_START)
    get = where.get
    for i in range(1, len(parts)):
        part = parts[i]
        end = part.find("</td>")
        t = get(part[:end]) if end > 0 else None
        if t is not None:
            rid = part[:end]
            parts[i] = f'<a href="{up}{t}/{rid}.html">{rid}</a>{part[end:]}'
    return ROW_START.join(parts)


TABLE_END = "</thead>\n</table>\n"  # a table with no rows, as cmark ends it
AT_ONCE = 50  # rows of a ledger not laid out yet, past which the whole ledger is laid out at once


def _ledger_html(rep, company: str, lang: str, printed: str, memo: _Rows | None) -> str:
    """The ledger's Markdown (to_markdown) as HTML (formhtml.body), its rows laid out one
    by one where `memo` keeps them: the tables' heads as HTML, each row's HTML as kept (or
    as cmark lays out that one row), put in each table's body. A row is laid out the same
    alone as among the others (a table row is one line of Markdown, read on its own). The
    HTML of rows laid out all at once is taken from the whole, for the next publish."""
    tables = rep.sections or [rep]
    groups = [(len(t.columns), rows) for t in tables for _group, rows in t.groups]
    rows_all = [r for _n, rows in groups for r in rows]
    if memo is None or not rows_all or not all(type(r) is Row for r in rows_all):
        return formhtml.body(to_markdown(rep, company, lang, printed))
    if sum(r.html is None for r in rows_all) > AT_ONCE:  # laid out at once; each row's HTML kept from the whole
        html = formhtml.body(to_markdown(rep, company, lang, printed))
        bodies = re.findall(r"<tbody>\n(.*?)</tbody>\n", html, flags=re.S)
        if len(bodies) == len(groups):
            for (_n, rows), found in zip(groups, bodies):
                laid = [x + "</tr>\n" for x in found.split("</tr>\n")[:-1]]
                if len(laid) == len(rows):
                    for r, h in zip(rows, laid):
                        r.html = h
                        memo.laid_out(r, h)
        return html
    for n, rows in groups:
        for r in rows:
            if r.html is None:
                alone = formhtml.body("|" + " x |" * n + "\n|" + "---|" * n + "\n" + md_row(r) + "\n")
                r.html = alone[alone.index("<tbody>\n") + 8:alone.rindex("</tbody>\n")]
                memo.laid_out(r, r.html)
    pieces = formhtml.body(to_markdown(rep, company, lang, printed, rows=False)).split(TABLE_END)
    if len(pieces) != len(groups) + 1:  # not as cmark ends an empty table: laid out as a whole
        return formhtml.body(to_markdown(rep, company, lang, printed))
    out = [pieces[0]]
    for (_n, rows), rest in zip(groups, pieces[1:]):
        out += ["</thead>\n<tbody>\n", *(r.html for r in rows), "</tbody>\n</table>\n", rest]
    return "".join(out)


# ----------------------------------------------------------------------------- write


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def check_target(store, out: Path, read: bool = True) -> dict[str, str]:
    """The manifest of the site already at `out` ({} for a new or empty folder). Refused
    (BadInput): a folder inside the store that git does not ignore (the site would be
    committed with the records), and a folder that holds files but no manifest (someone's
    own folder, never overwritten). `read` False: the folder checked, a manifest found
    there not read yet ({} returned)."""
    target = out.resolve()
    root = store.root.resolve()
    if _inside(target, root):
        rel = target.relative_to(root).as_posix()
        ignored = rel not in ("", ".") and subprocess.run(
            ["git", "check-ignore", "-q", "--no-index", rel + "/"], cwd=root, stdin=subprocess.DEVNULL,
            capture_output=True).returncode == 0
        if not ignored:
            raise BadInput(_("{dir}: inside the store, where git would take the site for records' files; publish "
                             "to a folder outside the store (or one its .gitignore names)").format(dir=out))
    if target.exists() and not target.is_dir():
        raise BadInput(_("{dir}: not a folder").format(dir=out))
    manifest = target / MANIFEST
    if manifest.is_file() and not manifest.is_symlink():
        if not read:
            return {}
        try:
            data = _load(_read_kept(manifest))
            files = data.get("files") if isinstance(data, dict) else None
            if isinstance(files, dict):  # what cannot be a site file's path is not the site's
                return {k: str(v) for k, v in files.items() if _site_path(k)}
        except (QmsError, ValueError):
            pass
        raise BadInput(_("{dir}: {manifest} is not one qms wrote; delete the folder's site to publish "
                         "there again").format(dir=out, manifest=MANIFEST))
    if target.is_dir() and any(p.name != SITE_LOCK for p in target.iterdir()):
        raise BadInput(_("{dir}: a folder that holds files and no site of qms publish; name an empty or new "
                         "folder").format(dir=out))
    return {}


def _folder_in(target: Path, folder: Path) -> None:
    """Make `folder` (inside the site folder `target`, which exists), a folder at a time,
    following no link: a link in the site (zh -> elsewhere) would take the pages, and
    the removal of those no longer made, out of the folder. Refused (BadInput): a name on
    the way that is a link or a file."""
    here = target
    for name in folder.relative_to(target).parts:
        here = here / name
        try:
            st = os.lstat(here)
        except FileNotFoundError:
            _mkdir(here)
            continue
        except OSError as e:
            raise BadInput(_("{path}: cannot write ({reason})").format(path=here, reason=e.strerror)) from None
        if stat_module.S_ISLNK(st.st_mode):
            raise BadInput(_("{path}: is a symbolic link in the site's folder; publish writes nothing through a "
                             "link (remove the link, or publish to another folder)").format(path=here))
        if not stat_module.S_ISDIR(st.st_mode):
            raise BadInput(_("{dir}: not a folder").format(dir=here))


def _write(path: Path, data: bytes) -> None:
    """`data` into `path` atomically (files.output: a temporary file beside it, renamed),
    in a folder already made (_folder_in). What is there and is not a file (a link, a
    pipe) is replaced, never written through."""
    try:
        st = os.lstat(path)
    except OSError:
        st = None
    if st is not None and not stat_module.S_ISREG(st.st_mode):
        if stat_module.S_ISDIR(st.st_mode):
            raise BadInput(_("{path}: is a folder where publish writes a file").format(path=path))
        try:
            os.unlink(path)  # the name only: a link's file, a pipe's reader are not touched
        except OSError as e:
            raise BadInput(_("{path}: cannot write ({reason})").format(path=path, reason=e.strerror)) from None
    output.write(path, data, str(path))


def _dump(value: Any) -> bytes:
    """What publish keeps between runs as compact JSON: orjson's, or json's (escaped to
    ASCII) for what orjson does not write, such as a whole number past 64 bits. Read
    back by orjson, such a number comes back a float, and orjson writes nan and inf as
    null: what must come back exact (a record's projection) holds none of them."""
    try:
        return orjson.dumps(value, option=orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS)
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(value, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def _load(raw: bytes) -> Any:
    """What `_dump` wrote (ValueError: not JSON)."""
    try:
        return orjson.loads(raw)
    except ValueError:  # orjson.JSONDecodeError: perhaps what only json reads back (a number past 64 bits)
        try:
            return json.loads(raw)
        except RecursionError:  # nested deeper than anything publish writes
            raise ValueError("nested too deep") from None


def _part_key(rel: str) -> bytes:
    """A record's path as its line of a projections file starts with (JSON, ASCII: never a
    tab or a line break, whatever the name holds)."""
    return json.dumps(rel, ensure_ascii=True).encode("ascii")


def _kept_file(path: Path, token: Any) -> dict | None:
    """A file publish keeps beside its cache (a type's projections, the ledgers' rows),
    if it is the one the cache names by `token` (a text it holds); None otherwise."""
    if not isinstance(token, str):
        return None
    try:
        data = _load(_read_kept(path))
    except (QmsError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("token") == token else None


def _load_cache(target: Path) -> Any:
    """What the last publish into `target` kept for this one (None: nothing usable)."""
    path = target / CACHE
    try:
        return _load(_read_kept(path))
    except (QmsError, ValueError):
        return None


def _read_kept(path: Path) -> bytes:
    """The bytes of a file publish keeps in the site's folder (its cache, a type's
    projections, the ledgers' rows, a part of the search index): never through a link,
    never from a pipe or a device, which would keep the publish waiting for ever (BadFile)."""
    return read_file(path, MAX_SITE_FILE)


def publish(store, out: Path, langs: list[str] | None = None, *, pdf: bool = False, last: bool = False) -> Outcome:
    """Publish the store as a static site into `out`: make again the pages whose inputs
    changed since the last publish there (every page into a new folder), write the files
    whose bytes changed, remove those no longer made, keep the manifest and the cache.
    `pdf`: each record's form also as a PDF beside its page (LANG/TYPE/ID.pdf), made again
    with its page. `last`: the process ends after this (the qms command), so what publish
    held is left to its end, never walked by a collection (gc.freeze), instead of freed."""
    langs = list(dict.fromkeys(langs or LANGS))  # a language named twice is published once
    for lang in langs:
        if lang not in LANGS:
            raise BadInput(_("--lang {lang}: expected zh, en or zh,en").format(lang=lang))
    if pdf:  # refused before anything is written: the extra and a Chinese font are there
        try:
            import weasyprint  # noqa: F401
        except (ImportError, OSError):
            raise missing_extra() from None
        font_family(store.config.pdf_font)
    check_target(store, out, read=False)  # the folder is one to publish into: its lock may be made there
    target = out.resolve()
    _mkdir(target)
    with _site_lock(target, out):  # one publish into a folder at a time; its manifest read under the lock
        old = check_target(store, out)
        if not old and not (target / MANIFEST).is_file():
            # the folder is marked as a site before a page is written: a publish that stops
            # half way (an error, Ctrl-C) leaves a folder the next publish finishes, not one
            # it takes for someone's own; the files it lists (none yet) are all it may remove
            _write(target / MANIFEST, _manifest({}))
        # what the last publish kept and what this one reads are a million objects that live
        # until the end: no collection walks them over and over (the pages are made on workers,
        # which collect as usual; see parallel.map_many)
        gc.disable()
        try:
            return _publish(store, target, old, langs, pdf, free=not last)
        finally:
            if last:
                gc.freeze()
            gc.enable()


@contextlib.contextmanager
def _site_lock(target: Path, shown: Path) -> Iterator[None]:
    """Hold the site folder's lock (SITE_LOCK, a file lock beside the manifest): a second
    publish into the same folder waits for the first (QMS_LOCK_TIMEOUT seconds at most,
    as for a store), since both would write the same cache and manifest."""
    with held(target / SITE_LOCK,
              lambda seconds: _("another qms publish has been writing {dir} for {seconds:.0f} s; try again (the lock "
                                "is {lock})").format(dir=shown, seconds=seconds, lock=SITE_LOCK),
              lambda e: _("{path}: cannot write ({reason})").format(path=target / SITE_LOCK, reason=e.strerror)):
        yield


def _publish(store, target: Path, old: dict[str, str], langs: list[str], pdf: bool, free: bool = True) -> Outcome:
    """publish(), from the checked target on."""
    # a site of many pages: their sizes and times are checked on another process (started
    # first, while this one is small to fork), while this one reads the cache and the store
    checking = forked(functools.partial(_Site.pages_unlike, target)) if len(old) >= CHECK_ELSEWHERE else None
    kept = _load_cache(target)
    try:
        made = _Site(store, langs, target, old, kept, pdf=pdf, checking=checking)
    except BaseException:
        if checking is not None:  # the child is waited for (not left behind) whatever happened
            checking()
        raise
    try:
        try:
            made.build()
            cache = made.cache()
        finally:
            made.unlike()  # the check of the kept pages on another process is waited for, whatever happened
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as e:
        if kept is None:
            raise
        # what the last publish kept is a file in the site's folder like any other, and
        # can be damaged (by hand, a disk, a copy cut short) in more ways than each read
        # of it checks: then the site is made whole, as into a new folder, and that is said
        made = _Site(store, langs, target, old, None, pdf=pdf)
        made.problems.append(_("{file}: not as publish left it ({reason}); every page was made again").format(
            file=CACHE, reason=type(e).__name__))
        made.build()
        cache = made.cache()
    outcome = Outcome(problems=list(dict.fromkeys(made.problems)))
    outcome.written = sorted(made.written)
    outcome.remade = sorted(made.remade)
    written = set(made.written)
    outcome.unchanged = sorted(rel for rel in made.files if rel not in written)
    for rel in sorted(set(old) - set(made.files)):
        if _ours(target, rel, old[rel]):
            (target / rel).unlink()
            outcome.removed.append(rel)
    if made.dirty or outcome.removed or made.files != old or made.fp != made.old_fp:
        _write(target / MANIFEST, _manifest(made.files))
        _write(target / CACHE, _dump(cache))
    # what it held (the cache, the store's records) is let go of here, not left to a
    # collection over all of it (its methods, lent to its helpers, make it a cycle)
    if free:
        made.__dict__.clear()
    return outcome


def _site_path(rel: Any) -> bool:
    """Whether `rel`, read from the manifest or the cache in the site's folder, can be the
    path of one of the site's files: relative, no '..' nor empty name, no NUL nor
    backslash, not one of publish's own files."""
    return (isinstance(rel, str) and bool(rel) and "\0" not in rel and "\\" not in rel and not rel.startswith(".qms-")
            and not any(p in ("", ".", "..") for p in rel.split("/")))


def _ours(target: Path, rel: str, digest: str) -> bool:
    """Whether the site file `rel`, listed by the last manifest with SHA-256 `digest`, is
    one publish may remove: a page's path in the folder (no '..', no absolute path, not
    one of publish's own files, no link on the way) holding the bytes publish wrote. The
    manifest is a file in the folder like any other: what it names that publish did not
    write (someone's own file, a file outside) is never removed."""
    if not _site_path(rel):
        return False
    here = target
    for name in rel.split("/")[:-1]:
        here = here / name
        try:
            if not stat_module.S_ISDIR(os.lstat(here).st_mode):  # a link or a file: not followed
                return False
        except (OSError, ValueError):
            return False
    try:
        return _sha(read_file(target / rel, MAX_SITE_FILE)) == digest
    except (QmsError, ValueError):
        return False


def _manifest(files: dict[str, str]) -> bytes:
    """The manifest's bytes: {"files": {path: SHA-256}}, sorted and indented, by orjson
    (json where a path is not text orjson writes, a name that is not UTF-8)."""
    try:
        return orjson.dumps({"files": files}, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps({"files": files}, indent=2, sort_keys=True).encode("ascii")
