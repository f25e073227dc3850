"""`qms publish DIR`: the store as a static HTML site, read from `file://` or any web
server, with no server and no network at view time.

The site holds every record's forms (the same Markdown forms `render` fills in, made HTML
by formhtml, as the PDF form is), each record's references in both directions and its
signatures with the commits that made them; a list per record type; the overdue
dashboard; the ledgers with their charts (SVG beside the page); a client-side search that
works for Chinese (character bigrams); and a zh/en switch between the two copies of a page.

Nothing from a record runs: every value reaches the page escaped (the forms through
render's Markdown escape and markdown-it without raw HTML; what this module writes itself
through html.escape), no page holds inline script or style, and every page carries a
Content-Security-Policy that allows only the site's own files. The search index is a
script file that assigns to a global (a browser's fetch() of JSON fails on file://).

Publishing is incremental: a manifest (`.qms-publish.json`) keeps each file's SHA-256;
a file is written (atomically) only when its bytes change, and a file of the last
publish that is no longer made (a record gone) is removed. The history of every record is
read with one `git log` (git.log_all). Pages are as of the day of publishing (forms print
their 制表时间 and deadlines as of that day's start), so a re-publish the same day with no
change writes nothing.

Imports the readers of a whole store (render, views, reports, remind's layer) and lower."""

from __future__ import annotations

import hashlib
import html
import json
import re
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

from . import formhtml
from .config import LANGS
from .deadlines import deadlines
from .errors import BadInput, QmsError
from .files import output
from .i18n import _
from .model import values
from .model.record import Record
from .reports import build as build_report
from .reports import report_names, to_markdown
from .render import render
from .reports.chart import svg
from .store import git as gitops
from .store.git import Trailer
from .views import summary_row

MANIFEST = ".qms-publish.json"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'none'")
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,120}")  # an ID or type that may name a file
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+")
WORD = re.compile(r"[0-9a-z]+")

WORDS = {
    "zh": {"home": "首页", "search": "搜索", "types": "记录类型", "count": "数量", "overdue": "逾期",
           "nothing_overdue": "没有逾期的记录。", "reports": "台账与报表", "id": "编号", "state": "状态",
           "title": "标题", "other": "English", "related": "相关记录", "refers": "引用", "referred": "被引用",
           "signatures": "签名", "meaning": "含义", "name": "签名人", "at": "时间", "commit": "提交",
           "forms": "其他表单", "as_of": "截至", "query": "输入要搜索的文字", "late": "逾期项",
           "no_report": "本报表需要指定对象或期间，未发布。"},
    "en": {"home": "Home", "search": "Search", "types": "Record types", "count": "Records", "overdue": "Overdue",
           "nothing_overdue": "Nothing is overdue.", "reports": "Ledgers and reports", "id": "ID", "state": "State",
           "title": "Title", "other": "中文", "related": "Related records", "refers": "Refers to",
           "referred": "Referred to by", "signatures": "Signatures", "meaning": "Meaning", "name": "Signed by",
           "at": "When", "commit": "Commit", "forms": "Other forms", "as_of": "As of",
           "query": "Text to search for", "late": "Overdue", "no_report": ""},
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
// qms publish: search over window.QMS_SEARCH[lang], loaded from search-index.<lang>.js.
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
  function search(index, query) {
    var want = tokens(query), found = null;
    if (!want.length) { return []; }
    for (var i = 0; i < want.length; i++) {
      var hits = index.tokens[want[i]] || [];
      if (found === null) { found = hits.slice(); } else {
        var set = {}; hits.forEach(function (h) { set[h] = true; });
        found = found.filter(function (h) { return set[h]; });
      }
      if (!found.length) { return []; }
    }
    return found.map(function (n) { return index.docs[n]; });
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
    relative to DIR), and what could not be published (a report that needs a subject)."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """The outcome as plain data, for JSON."""
        return {"written": self.written, "unchanged": len(self.unchanged), "removed": self.removed,
                "problems": self.problems}


# ------------------------------------------------------------------------------ pages


def e(value: Any) -> str:
    """Text for HTML, quotes escaped too (for attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def page(lang: str, depth: int, title: str, main: str, other: str | None, *, search: bool = False) -> bytes:
    """A whole page: `depth` folders below DIR; `other` the same page in the other
    language (a path relative to this page), None where there is none."""
    up = "../" * depth
    w = WORDS[lang]
    switch = f'<a href="{e(other)}" hreflang="{"en" if lang == "zh" else "zh"}">{e(w["other"])}</a>' if other else ""
    scripts = f'<script src="{up}assets/site.js" defer></script>\n'
    if search:
        scripts += f'<script src="{up}search-index.{lang}.js"></script>\n<script src="{up}search.js"></script>\n'
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
    out += ["<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows]
    return "\n".join(out + ["</table>"]) + "\n"


def _other(lang: str, langs: list[str]) -> str | None:
    others = [x for x in langs if x != lang]
    return others[0] if others else None


# ---------------------------------------------------------------------- the records


def references(rt, data: Any, fields: dict | None = None, prefix: str = "") -> Iterator[tuple[str, str, str]]:
    """(field path, type referred to, ID) for each reference the record holds."""
    fields = rt.fields if fields is None else fields
    for name, spec in fields.items():
        path = f"{prefix}{name}"
        value = data.get(name) if isinstance(data, dict) else None
        if values.is_empty(value):
            continue
        yield from _refs_in(rt, spec, value, path)


def _refs_in(rt, spec, value: Any, path: str) -> Iterator[tuple[str, str, str]]:
    if spec.type == "ref" and spec.to and isinstance(value, str):
        yield path, spec.to, value
    elif spec.type == "list" and spec.items is not None and isinstance(value, list):
        for item in value:
            yield from _refs_in(rt, spec.items, item, path)
    elif spec.type == "object" and isinstance(value, dict):
        yield from references(rt, value, spec.fields, path + ".")


def signature_commits(record: Record, history: list[gitops.LogEntry]) -> list[str | None]:
    """For each of the record's signatures, in order, the commit that signed it: the
    commits of its history whose trailers name this record and sign with that meaning by
    that person, taken in order; None where the history holds no such commit (a record
    entered by hand or imported without trailers)."""
    mine = f"{record.type}/{record.id}"
    waiting: dict[tuple[str, str], list[str]] = {}
    for entry in history:
        named = entry.trailers.get(Trailer.RECORD) or []
        if named and mine not in named:
            continue  # a commit that names records signs those it names
        for sig in entry.trailers.get(Trailer.SIGNATURE) or []:
            meaning, _by, email = sig.rpartition(" by ")
            waiting.setdefault((meaning, email.strip().lower()), []).append(entry.commit)
    out: list[str | None] = []
    for s in values.signatures(record.data):
        key = (str(s.get("meaning")), str(s.get("email") or "").strip().lower())
        queue = waiting.get(key)
        out.append(queue.pop(0) if queue else None)
    return out


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
    """The index of (id, title, url, text) documents: {docs: [[id, title, url]], tokens:
    {token: [doc numbers]}}, in a fixed order so that the same store gives the same bytes."""
    postings: dict[str, list[int]] = {}
    for n, (_id, _title, _url, text) in enumerate(docs):
        for t in tokens(text):
            postings.setdefault(t, []).append(n)
    return {"docs": [[d[0], d[1], d[2]] for d in docs], "tokens": dict(sorted(postings.items()))}


def search_script(lang: str, index: dict) -> bytes:
    """The index as a script assigning to window.QMS_SEARCH (JSON that is also JavaScript:
    ASCII only, so no line separator ends a string)."""
    text = json.dumps(index, ensure_ascii=True, separators=(",", ":"), sort_keys=False)
    return (f"window.QMS_SEARCH = window.QMS_SEARCH || {{}};\nwindow.QMS_SEARCH[{json.dumps(lang)}] = "
            f"{text};\n").encode("ascii")


# ------------------------------------------------------------------------------ site


def site(store, langs: list[str]) -> tuple[dict[str, bytes], list[str]]:
    """Every file of the site (path relative to DIR -> bytes), and what could not be
    published."""
    config = store.config
    now = store.now()
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    history = gitops.log_all(store.root)
    files: dict[str, bytes] = {"assets/site.css": SITE_CSS.encode(), "assets/site.js": SITE_JS.encode(),
                               "search.js": SEARCH_JS.encode()}
    problems: list[str] = []
    records: dict[str, list[Record]] = {}
    for tname in config.type_names():
        if not SAFE_NAME.fullmatch(tname):
            continue
        found = []
        for rec in store.records(tname):
            if isinstance(rec, Record) and SAFE_NAME.fullmatch(rec.id):
                found.append(rec)
            elif isinstance(rec, Exception):
                problems.append(str(rec))
        records[tname] = sorted(found, key=lambda r: r.id)
    where = {r.id: r.type for rs in records.values() for r in rs}
    referred: dict[str, list[tuple[str, str]]] = {}  # id -> (type, id) of the records naming it
    for tname, rs in records.items():
        rt = store.record_type(tname)
        for r in rs:
            for _path, _to, target in references(rt, r.data):
                if target in where and (tname, r.id) not in referred.get(target, []):
                    referred.setdefault(target, []).append((tname, r.id))
    reports = report_names(store)
    for lang in langs:
        w = WORDS[lang]
        other = _other(lang, langs)
        docs: list[tuple[str, str, str, str]] = []
        overdue_rows: list[list[str]] = []
        type_rows: list[list[str]] = []
        for tname, rs in records.items():
            rt = store.record_type(tname)
            rows = []
            for r in rs:
                files.update(_record_pages(store, rt, r, lang, other, day, history.get(r.path, []), where,
                                           referred.get(r.id, [])))
                row = summary_row(store, rt, r, lang, day)
                link = f'<a href="{e(r.id)}.html">{e(r.id)}</a>'
                late = ", ".join(d.label[lang] for d in deadlines(rt, r.data, config, day) if d.status == "overdue")
                rows.append([link, e(row["state_label"]), e(row["title"]),
                             f'<span class="overdue">{e(late)}</span>' if late else ""])
                if late:
                    overdue_rows.append([f'<a href="{tname}/{e(r.id)}.html">{e(r.id)}</a>', e(rt.label[lang]),
                                         e(row["state_label"]), e(row["title"]), e(late)])
                docs.append((r.id, row["title"] or rt.label[lang], f"{tname}/{r.id}.html",
                             " ".join([r.id, rt.label[lang], row["state_label"], *_text_of(r.data)])))
            main = f"<h1>{e(rt.label[lang])}</h1>\n" + _table([w["id"], w["state"], w["title"], w["overdue"]], rows)
            files[f"{lang}/{tname}/index.html"] = page(
                lang, 2, rt.label[lang], main, f"../../{other}/{tname}/index.html" if other else None)
            if rs:
                type_rows.append([f'<a href="{tname}/index.html">{e(rt.label[lang])}</a>', e(tname), str(len(rs))])
        report_rows = []
        for name in reports:
            made = _report_page(store, name, lang, other, day, problems)
            if made:
                files.update(made)
                report_rows.append([f'<a href="reports/{name}.html">{e(name)}</a>'])
        files[f"search-index.{lang}.js"] = search_script(lang, search_index(docs))
        files[f"{lang}/search.html"] = page(
            lang, 1, w["search"],
            f'<h1>{e(w["search"])}</h1>\n<p><input id="qms-search-box" type="search" placeholder="{e(w["query"])}" '
            f'autofocus></p>\n<ul id="qms-search-results"></ul>\n',
            f"../{other}/search.html" if other else None, search=True)
        home = (f"<h1>{e(config.company)}</h1>\n<p>{e(w['as_of'])} {day.strftime('%Y-%m-%d')}</p>\n"
                f"<h2>{e(w['types'])}</h2>\n" + _table([w["types"], "", w["count"]], type_rows)
                + f"<h2>{e(w['overdue'])}</h2>\n"
                + (_table([w["id"], w["types"], w["state"], w["title"], w["late"]], overdue_rows) if overdue_rows
                   else f"<p>{e(w['nothing_overdue'])}</p>\n")
                + f"<h2>{e(w['reports'])}</h2>\n" + _table([w["reports"]], report_rows))
        files[f"{lang}/index.html"] = page(lang, 1, config.company or w["home"], home,
                                           f"../{other}/index.html" if other else None)
        if lang == langs[0]:  # DIR/index.html: the first language's home, its links one folder down
            root = re.sub(r'href="(?!\.\./|https?:)([^"#]+)"', lambda m: f'href="{lang}/{m.group(1)}"', home)
            files["index.html"] = page(lang, 0, config.company or w["home"], root,
                                       f"{other}/index.html" if other else None)
    return files, list(dict.fromkeys(problems))


def _record_pages(store, rt, record: Record, lang: str, other: str | None, day: datetime,
                  history: list, where: dict[str, str], referred: list[tuple[str, str]]) -> dict[str, bytes]:
    """The record's main form and each other form its type declares, each with its
    references and its signatures' commits."""
    w = WORDS[lang]
    commit_url = store.config.publish.link
    out: dict[str, bytes] = {}
    extra = []
    refs = [f'<li>{e(rt.label_of(p, lang))}: <a href="../{to}/{e(i)}.html">{e(i)}</a></li>'
            for p, to, i in references(rt, record.data) if where.get(i) == to]
    back = [f'<li><a href="../{t}/{e(i)}.html">{e(i)}</a> ({e(store.record_type(t).label[lang])})</li>'
            for t, i in sorted(referred)]
    if refs or back:
        extra.append(f"<h2>{e(w['related'])}</h2>\n")
        if refs:
            extra.append(f"<h3>{e(w['refers'])}</h3>\n<ul>\n" + "\n".join(refs) + "\n</ul>\n")
        if back:
            extra.append(f"<h3>{e(w['referred'])}</h3>\n<ul>\n" + "\n".join(back) + "\n</ul>\n")
    sigs = values.signatures(record.data)
    if sigs:
        rows = []
        for s, commit in zip(sigs, signature_commits(record, history)):
            if commit is None:
                shown = "—"
            elif (url := commit_url(commit)) is not None:
                shown = f'<a href="{e(url)}" rel="noopener noreferrer"><code>{e(commit[:10])}</code></a>'
            else:
                shown = f'<code title="{e(commit)}">{e(commit[:10])}</code>'
            rows.append([e(rt.meaning_label(str(s.get("meaning")), lang)), e(s.get("name")), e(s.get("at")), shown])
        extra.append(f"<h2>{e(w['signatures'])}</h2>\n" + _table([w["meaning"], w["name"], w["at"], w["commit"]], rows))
    forms = [None, *rt.forms]
    if rt.forms:
        extra.append(f"<h2>{e(w['forms'])}</h2>\n<ul>\n" + "\n".join(
            f'<li><a href="{e(record.id)}.{e(f)}.html">{e(rt.forms[f][lang])}</a></li>' for f in rt.forms
            if SAFE_NAME.fullmatch(f)) + "\n</ul>\n")
    for form in forms:
        if form is not None and not SAFE_NAME.fullmatch(form):
            continue
        markdown = render(store, record.id, lang, record.type, form, history=history, now=day)
        name = f"{record.id}.{form}.html" if form else f"{record.id}.html"
        title = f"{record.id} {rt.forms[form][lang] if form else rt.form[lang]}"
        out[f"{lang}/{record.type}/{name}"] = page(
            lang, 2, title, formhtml.body(markdown) + "".join(extra),
            f"../../{other}/{record.type}/{name}" if other else None)
    return out


def _report_page(store, name: str, lang: str, other: str | None, day: datetime,
                 problems: list[str]) -> dict[str, bytes]:
    """The ledger `name` as a page, with its charts as SVG files beside it; {} (and a
    problem) when it cannot be made for the whole store (one that needs a record named)."""
    try:
        rep = build_report(store, name, lang)
    except QmsError as err:
        problems.append(_("report {name}: not published ({problem})").format(name=name, problem=err))
        return {}
    out: dict[str, bytes] = {}
    images = []
    for n, part in enumerate([rep, *rep.sections]):
        if part.chart is None:
            continue
        try:
            drawn = svg(part, store.root)
        except QmsError as err:
            problems.append(_("report {name}: chart left out ({problem})").format(name=name, problem=err))
            continue
        if drawn:
            file = f"{name}.svg" if n == 0 else f"{name}-{n}.svg"
            out[f"{lang}/reports/{file}"] = drawn
            images.append(f'<p><img class="chart" src="{e(file)}" alt="{e(part.title)}"></p>\n')
    markdown = to_markdown(rep, store.config.company, lang, day.strftime("%Y-%m-%d"))
    out[f"{lang}/reports/{name}.html"] = page(
        lang, 2, rep.title, "".join(images) + formhtml.body(markdown),
        f"../../{other}/reports/{name}.html" if other else None)
    return out


# ----------------------------------------------------------------------------- write


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def check_target(store, out: Path) -> dict[str, str]:
    """The manifest of the site already at `out` ({} for a new or empty folder). Refused
    (BadInput): a folder inside the store that git does not ignore (the site would be
    committed with the records), and a folder that holds files but no manifest (someone's
    own folder, never overwritten)."""
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
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
            files = data.get("files") if isinstance(data, dict) else None
            if isinstance(files, dict):
                return {str(k): str(v) for k, v in files.items()}
        except (OSError, ValueError):
            pass
        raise BadInput(_("{dir}: {manifest} is not one qms wrote; delete the folder's site to publish "
                         "there again").format(dir=out, manifest=MANIFEST))
    if target.is_dir() and any(target.iterdir()):
        raise BadInput(_("{dir}: a folder that holds files and no site of qms publish; name an empty or new "
                         "folder").format(dir=out))
    return {}


def _write(path: Path, data: bytes) -> None:
    """`data` into `path` atomically (files.output: a temporary file beside it, renamed),
    its folder made first."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BadInput(_("{path}: cannot write ({reason})").format(path=path.parent, reason=e.strerror)) from None
    output.write(path, data, str(path))


def publish(store, out: Path, langs: list[str] | None = None) -> Outcome:
    """Publish the store as a static site into `out`: write the files whose bytes changed
    since the last publish, remove those no longer made, keep the manifest."""
    langs = list(langs or LANGS)
    for lang in langs:
        if lang not in LANGS:
            raise BadInput(_("--lang {lang}: expected zh, en or zh,en").format(lang=lang))
    old = check_target(store, out)
    files, problems = site(store, langs)
    outcome = Outcome(problems=problems)
    target = out.resolve()
    target.mkdir(parents=True, exist_ok=True)
    digests = {}
    for rel in sorted(files):
        data = files[rel]
        digests[rel] = hashlib.sha256(data).hexdigest()
        path = target / rel
        try:
            same = old.get(rel) == digests[rel] and not path.is_symlink() and path.read_bytes() == data
        except OSError:
            same = False
        if same:
            outcome.unchanged.append(rel)
        else:
            if path.is_symlink():
                path.unlink()
            _write(path, data)
            outcome.written.append(rel)
    for rel in sorted(set(old) - set(files)):
        path = target / rel
        if _inside(path.resolve(), target) and (path.is_file() or path.is_symlink()):
            path.unlink()
            outcome.removed.append(rel)
    _write(target / MANIFEST, json.dumps({"files": digests}, indent=1, sort_keys=True).encode("utf-8"))
    return outcome
