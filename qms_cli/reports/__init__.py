"""Ledgers and lists declared as data (`qms_cli/reports/<name>.yaml`, or a store's own
`reports/<name>.yaml`): which record type, which records, grouping, order and columns.
`build()` returns plain rows; `to_markdown`, `to_csv` and `to_xlsx` write them.
Headers, titles and the words between values are in the report's language; in Chinese
with Chinese punctuation (全角 ：；，、), the values themselves as the records hold them.

A ledger leaves qms for Excel and for web pages, so what a record holds stays data there:
numbers and dates are typed cells (so sums and filters work); text is always a text cell
in xlsx, never a formula, whatever it starts with; in csv a text that a spreadsheet would
start as a formula (= + - @, a tab or line break, the full-width ＝ ＋ － ＠) gets a
leading ' (OWASP's advice on CSV injection); in Markdown it is escaped as in forms."""

from __future__ import annotations

import calendar as _calendar
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..deadlines import deadlines
from ..errors import BadInput
from ..files import safefs, yamlio
from ..i18n import _
from ..model import values
from ..model.declaration import FieldSpec
from ..store import known
from ..text import FORMULA_START, markdown, spreadsheet, xlsx_text
from ..views import matches, parse_condition
from ..wording import punctuation, words
from ..views import shown as _shown_plain
from . import chart as charts
from . import tally as tallies
from .tally import Percent

BUILTIN = Path(__file__).resolve().parent
FORMATS = ("md", "csv", "xlsx")


NAME = re.compile(r"[a-z0-9-]+")
Cell = Any  # str, int, float, date or datetime (naive, as the record wrote it)


def report_names(store=None) -> list[str]:
    names = {p.stem for p in BUILTIN.glob("*.yaml")}
    if store is not None and (store.root / "reports").is_dir() and not (store.root / "reports").is_symlink():
        names.update(p.stem for p in (store.root / "reports").glob("*.yaml") if NAME.fullmatch(p.stem))
    return sorted(names)


def text_of(value: Cell) -> str:
    """A cell as a person reads it (what md, csv and --json show)."""
    if isinstance(value, Percent):
        return str(value)
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def shown(spec: FieldSpec, value: Any, lang: str) -> str:
    """A value as a ledger or a form shows it: codes as their labels, yes/no as 是/否 or
    Yes/No; the separators between list items and between an object's fields in the
    language's punctuation (in zh 质量部、生产部 and 原因：…，措施：…); what the record
    holds, as it holds it."""
    if lang != "zh" or not isinstance(value, (list, dict)):
        return _shown_plain(spec, value, lang)
    marks = punctuation(lang)
    if spec.type == "list" and isinstance(value, list):
        item = spec.items
        sep = marks["record"] if item is not None and item.type == "object" else marks["item"]
        return sep.join(shown(item, v, lang) if item else str(v) for v in value)
    if spec.type == "object" and isinstance(value, dict):
        return marks["field"].join(
            f"{spec.fields[k].text(lang)}{marks['label']}{shown(spec.fields[k], v, lang)}" if k in spec.fields
            else f"{k}{marks['label']}{v}"
            for k, v in value.items() if not values.is_empty(v)
        )
    return _shown_plain(spec, value, lang)


class Row(list):
    """A ledger row's cells, made or kept by a `rows_memo` (publish): where the memo keeps
    it (`key`, and `at`, its place among its record's rows) and the HTML it was last laid
    out as (`html`, None: not yet)."""

    __slots__ = ("key", "at", "html")

    def __init__(self, cells: list, key: str, at: int, html: str | None = None):
        super().__init__(cells)
        self.key, self.at, self.html = key, at, html


@dataclass
class Report:
    name: str
    title: str
    columns: list[str]
    groups: list[tuple[str, list[list[Cell]]]]  # (group value, rows)
    group_label: str | None
    period: str | None
    problems: list[str] = field(default_factory=list)  # records that could not be read, left out
    lang: str = "en"
    company: str = ""
    generated: datetime | None = None  # when the ledger was made, in the store's time zone
    note: str | None = None  # how the ledger counts (a tally's), printed under its title
    counted: int | None = None  # a tally: how many records it counted
    counted_label: str | None = None  # ... and what they are (统计客诉数, Customer complaints counted)
    chart: charts.Chart | None = None  # a tally's declared chart that fits this table (reports/chart.py)
    sections: list["Report"] = field(default_factory=list)  # a report of several tables (月度服务报告)

    @property
    def count(self) -> int:
        if self.sections:
            return sum(s.count for s in self.sections)
        return sum(len(rows) for _group, rows in self.groups)


def parse_period(text: str) -> tuple[date, date]:
    """YYYY, YYYY-Qn or YYYY-MM as (first day, last day)."""
    m = re.fullmatch(r"(\d{4})(?:-(?:Q([1-4])|(\d{2})))?", text.strip())
    if not m or (m.group(3) and not 1 <= int(m.group(3)) <= 12):
        raise BadInput(_("--period '{period}': expected YYYY, YYYY-Qn or YYYY-MM (e.g. 2026-Q1)").format(period=text))
    year = int(m.group(1))
    if m.group(2):
        q = int(m.group(2))
        first, last_month = date(year, 3 * q - 2, 1), 3 * q
    elif m.group(3):
        first, last_month = date(year, int(m.group(3)), 1), int(m.group(3))
    else:
        first, last_month = date(year, 1, 1), 12
    return first, date(year, last_month, _calendar.monthrange(year, last_month)[1])


def declaration(store, name: str) -> Any:
    """A report's declaration: the store's own reports/NAME.yaml (never through a link),
    else the built-in one; an unknown name is refused (BadInput) with the known ones."""
    if not NAME.fullmatch(name):
        raise BadInput(_("no report '{name}' (expected one of {choices})").format(
            name=name, choices=", ".join(report_names(store))))
    rel = f"reports/{name}.yaml"
    what, at = safefs.kind(store.root, rel)
    if what in ("link", "special"):  # a store's report that is not a file of the store
        problem = safefs.LINK if what == "link" else safefs.SPECIAL
        raise BadInput(f"{at}: {_(problem)}")
    if what == "file":
        return yamlio.load_declaration(store.root / rel, rel, root=store.root)
    if (BUILTIN / f"{name}.yaml").is_file():
        return yamlio.load_declaration(BUILTIN / f"{name}.yaml", f"report {name}")
    raise BadInput(_("no report '{name}' (expected one of {choices})").format(
        name=name, choices=", ".join(report_names(store))))


def build(store, name: str, lang: str, period: str | None = None, where: list[str] = (),
          by: str | None = None, of: str | None = None) -> Report:
    """The report `name` (a store's own reports/NAME.yaml before the built-in one) over
    `period`, narrowed by `where` (as for list); `by` picks a tally's keys or a view; `of`
    names the record a report is about (a customer's history). Everything the user gave is
    checked before a record is read."""
    spec, by = _view(declaration(store, name), name, by)
    subject = _subject(store, name, spec, of)
    if spec.get("sections") is not None:
        return _sections(store, name, spec, lang, period, list(where), by, subject)
    return _build(store, name, spec, lang, period, where, by, subject)


def _subject(store, name: str, spec: dict, of: str | None) -> tuple[Any, Any] | None:
    """(record type, record) of the record a report is about (`of: customer`, --of ID)."""
    about = spec.get("of")
    if about is None:
        if of is not None:
            raise BadInput(_("report '{name}' is not about one record: it takes no --of").format(name=name))
        return None
    if of is None:
        raise BadInput(_("report '{name}' is about one {type}: give --of ID").format(name=name, type=about))
    rt = store.record_type(str(about))
    return rt, store.read(of, rt.name).data


def _belongs(store, subject: tuple[Any, Any] | None, part: dict, rt, name: str):
    """A test of whether a record of `rt` belongs to the report's subject, by the part's
    `match: {FIELD: id | known_as}`: the field names the subject's ID, or (free text) one of
    the names the subject is known by. None when the report has no subject."""
    if subject is None:
        return None
    srt, sdata = subject
    match = part.get("match") or {}
    if not isinstance(match, dict) or not match or any(v not in ("id", "known_as") for v in match.values()):
        raise BadInput(_("report '{name}': {type}: match: expected {{FIELD: id or known_as}}").format(
            name=name, type=rt.name))
    for path in match:
        if rt.field(str(path)) is None:
            raise BadInput(_("report '{name}': {type}: match: '{field}' is not a field of {type}").format(
                name=name, type=rt.name, field=path))
    sid = str(sdata.get("id"))
    names = {known.key(n) for n in known.names_of(srt, sdata)} if srt.known_as is not None else set()
    return _Belonging([(str(path), how) for path, how in match.items()], sid, names)


class _Belonging:
    """Whether a record belongs to a report's subject (see _belongs), called as a test;
    `candidates` asks the store for only the records that may (through its index, where
    it keeps one), so that a report about one customer does not test every complaint."""

    def __init__(self, match: list[tuple[str, str]], sid: str, names: set[str]):
        self.match, self.sid, self.names = match, sid, names

    def __call__(self, data: Any) -> bool:
        for path, how in self.match:
            value = values.get(data, path)
            if how == "id" and (str(value) == self.sid or isinstance(value, list) and self.sid in map(str, value)):
                return True
            if how == "known_as" and not values.is_empty(value) and known.key(value) in self.names:
                return True
        return False

    def candidates(self, store, type_name: str, problems: list[str]) -> list[Any]:
        """The readable records of `type_name` that may belong, in the store's order."""
        found: dict[int, Any] = {}
        for path, how in self.match:
            wanted = {self.sid} if how == "id" else self.names
            if wanted:
                found.update(store.matching(type_name, path, how, wanted, problems))
        return [data for _n, data in sorted(found.items(), key=lambda x: x[0])]


def _sections(store, name: str, spec: dict, lang: str, period: str | None, where: list[str], by: str | None,
              subject) -> Report:
    """A report of several tables (`sections:`), each a report of its own record type over
    the same period (where it has one) and subject."""
    parts = spec["sections"]
    if not isinstance(parts, list) or not parts or not all(isinstance(p, dict) and p.get("type") for p in parts):
        raise BadInput(_("report '{name}': sections: expected a list of tables, each with its type:").format(name=name))
    if where:
        raise BadInput(_("report '{name}' has tables of several record types: it takes no --where").format(name=name))
    if by is not None:
        raise BadInput(_("report '{name}' has no --by '{by}'").format(name=name, by=by))
    if period is not None and not any(p.get("period_field") for p in parts):
        raise BadInput(_("report '{name}' has no period (it lists what is current)").format(name=name))
    built = [_build(store, name, p, lang, period if p.get("period_field") else None, (), None, subject)
             for p in parts]
    label = spec.get("label") or {}
    title = label.get(lang, name) if isinstance(label, dict) else str(label)
    if subject is not None:
        srt, sdata = subject
        shown_as = values.get(sdata, srt.title_field) if srt.title_field else None
        title += punctuation(lang)["label"] + " ".join(str(x) for x in (sdata.get("id"), shown_as) if x)
    note = spec.get("note")
    problems = []
    for b in built:
        problems += [p for p in b.problems if p not in problems]
    return Report(
        name=name, title=title, columns=[], groups=[], group_label=None, period=period, problems=problems,
        lang=lang, company=str(store.config.company or ""), generated=store.now().astimezone(store.config.tz),
        note=(note.get(lang) or note.get("en")) if isinstance(note, dict) else (str(note) if note else None),
        sections=built,
    )


def _build(store, name: str, spec: dict, lang: str, period: str | None, where, by: str | None, subject) -> Report:
    """One table: a list of records (or of the items of a list) or a tally."""
    rt = store.record_type(spec["type"])
    columns = [c if isinstance(c, dict) else {"path": c} for c in spec.get("columns") or []]
    window = parse_period(period) if period else None
    if window and not spec.get("period_field"):
        raise BadInput(_("report '{name}' has no period (it lists what is current)").format(name=name))
    # read as `list --where` reads it: known fields, labels, ~ contains, >= and <= bounds
    extra = [parse_condition(rt, w, store.config.tz, lang) for w in where]
    label = spec.get("label") or {}
    title = label.get(lang, name) if isinstance(label, dict) else str(label)
    belongs = _belongs(store, subject, spec, rt, name)
    if belongs is not None:
        extra.append(_Test(belongs))
    if spec.get("tally") is not None:
        return _tally(store, name, spec, rt, title, lang, period, window, extra, by)
    if by is not None:
        if spec.get("views"):
            raise BadInput(_("report '{name}': --by '{by}': expected one of {choices}").format(
                name=name, by=by, choices=", ".join(str(v) for v in spec["views"])))
        raise BadInput(_("report '{name}' lists records and has no --by (a tally such as on-time or failures has)")
                       .format(name=name))
    if spec.get("chart") is not None:
        raise BadInput(_("report '{name}': chart: only a tally (tally:) is drawn as a chart").format(name=name))
    problems: list[str] = []
    groups: dict[str, list[list[Cell]]] = {}
    # the report's own records, then those of each `also:` source (another record type whose
    # records belong in the same list, column for column: the copies made on loan among the
    # copies to recall)
    sources = [spec] + [dict(a, label=None) for a in spec.get("also") or []]
    for i, part in enumerate(sources):
        part_rt = rt if i == 0 else store.record_type(part["type"])
        part_columns = columns if i == 0 else [c if isinstance(c, dict) else {"path": c} for c in part.get("columns") or []]
        if part.get("each") is not None and not tallies.is_list(part_rt, str(part["each"])):
            raise BadInput(_("report '{name}': each: expected a list field of {type} whose items have fields, "
                             "not '{each}'").format(name=name, type=part_rt.name, each=part["each"]))
        if len(part_columns) != len(columns):
            raise BadInput(_("report '{name}': also {type}: {n} columns; expected {expected}, one for each of the "
                             "report's").format(name=name, type=part["type"], n=len(part_columns), expected=len(columns)))
        test = _belongs(store, subject, part, part_rt, name) if i else None
        _collect(store, part_rt, part, part_columns, window if i == 0 or part.get("period_field") else None,
                 extra if i == 0 else [_Test(test)] if test else [], lang, problems, groups)
    group_by = spec.get("group_by")

    def head(c: dict) -> str:
        if "label" in c:
            return c["label"][lang] if isinstance(c["label"], dict) else str(c["label"])
        if "deadline" in c:  # a time limit's label, and what of it is shown
            spec_ = next((d for d in rt.deadlines if d.name == c["deadline"]), None)
            word = words(lang)["due"] if c.get("show", "due") == "due" else words(lang)["state"]
            return f"{spec_.label.get(lang) if spec_ else c['deadline']}{word}"
        if "path" not in c:
            return ""
        if c["path"] == "id":  # a report that does not name it: 客诉编号, "Customer complaint No."
            return words(lang)["type_number"].format(type=rt.label.get(lang) or rt.label.get("en") or rt.name)
        first, _dot, rest = c["path"].partition(".")
        via = rt.field(first) if rt.field(c["path"]) is None and rest else None
        if via is not None and via.type == "ref":  # through a reference: the other record's field
            if rest == "state":  # 纠正/预防措施状态
                return f"{via.text(lang)}{words(lang)['state']}"
            return store.record_type(via.to).label_of(rest, lang)
        return rt.label_of(c["path"], lang)

    return Report(
        name=name,
        title=title,
        columns=[head(c) for c in columns],
        groups=sorted(groups.items()),
        group_label=rt.label_of(group_by, lang) if group_by else None,
        period=period,
        problems=problems + store.skipped,
        lang=lang,
        company=str(store.config.company or ""),
        generated=store.now().astimezone(store.config.tz),
    )


@dataclass(frozen=True)
class _Test:
    """A condition on a record given as a test (whether it belongs to the report's subject),
    held alongside the --where conditions."""

    test: Any

    def holds(self, data: Any) -> bool:
        return bool(self.test(data))


def _view(spec: Any, name: str, by: str | None) -> tuple[dict, str | None]:
    """The declaration `--by` asks for, and what is left of `--by` for a tally: a report
    may declare other views of its records under `views: {NAME: {...}}` (the open CAPA
    actions, and --by effectiveness their results), each replacing the keys it names."""
    views = spec.get("views") or {}
    if not isinstance(views, dict) or not all(isinstance(v, dict) for v in views.values()):
        raise BadInput(_("report '{name}': views: expected NAME: {{label: ..., tally: ... or columns: ...}}").format(
            name=name))
    if by is None or by not in views:
        return spec, by
    view = views[by]
    # a view that lists records drops the tally (and its chart) of the report it is a view of
    merged = {k: v for k, v in spec.items() if k != "views" and not (k in ("tally", "chart") and "tally" not in view)}
    merged.update(view)
    merged["views"] = views  # so that an unknown --by still lists every view
    return merged, None


def _unless(spec: dict) -> list[tuple[str, str]]:
    """A declaration's `unless: {FIELD: VALUE or [VALUES]}` as (FIELD, VALUE) pairs: a
    record holding any of them is left out (a withdrawn complaint from the failure history)."""
    out = []
    for k, v in (spec.get("unless") or {}).items():
        for one in v if isinstance(v, list) else [v]:
            out.append((k, str(one).lower() if isinstance(one, bool) else str(one)))
    return out


def _left_out(rt, data: Any, unless: list[tuple[str, str]]) -> bool:
    return any(matches(rt, data, [pair]) for pair in unless)


def _tally(store, name: str, spec: dict, rt, title: str, lang: str, period: str | None, window, extra: list,
           by: str | None) -> Report:
    """A report declared with `tally:` (reports/tally.py): the records are read once, in
    parallel on a large store, and each hands back only the short tuples it adds."""
    tally = tallies.parse(rt, name, spec["tally"], by, views=list(spec.get("views") or {}))
    chart = charts.parse(name, spec.get("chart"), tally, tally.by_month(period))
    conditions = [(k, str(v).lower() if isinstance(v, bool) else str(v)) for k, v in (spec.get("where") or {}).items()]
    conditions += extra
    unless = _unless(spec)
    tz = store.config.tz
    now = store.now()
    split = tally.by_month(period)

    def counted(rec) -> Any:
        data = rec.data
        if not matches(rt, data, conditions) or _left_out(rt, data, unless):
            return None
        month = ""
        if window or split:
            when = values.to_datetime(values.get(data, spec["period_field"]), tz)
            day = when.astimezone(tz).date() if when is not None else None
            if window and (day is None or not window[0] <= day <= window[1]):
                return None
            month = f"{day.year:04d}-{day.month:02d}" if day is not None else ""
        return tallies.items(rt, tally, data, month, store.config, now)

    problems: list[str] = []
    found: list[tuple] = []
    records = 0
    for result in store.records(rt.name, then=counted):
        if isinstance(result, Exception):
            if str(result) not in problems:
                problems.append(str(result))
            continue
        records += 1
        found.extend(result)
    found = _named_keys(store, rt, tally, found, name)
    note = spec.get("note")
    return Report(
        name=name,
        title=title,
        columns=tallies.headers(rt, tally, lang),
        groups=tallies.table(rt, tally, found, lang, tallies.months_of(*window) if split and window else None),
        group_label=tallies.month_header(tally, lang) if split else None,
        period=period,
        problems=problems + store.skipped,
        lang=lang,
        company=str(store.config.company or ""),
        generated=now.astimezone(tz),
        note=(note.get(lang) or note.get("en")) if isinstance(note, dict) else (str(note) if note else None),
        counted=records,
        counted_label=words(lang)["counted"].format(type=rt.label.get(lang) or rt.label.get("en") or rt.name),
        chart=chart,
    )


def _named_keys(store, rt, tally, found: list[tuple], name: str) -> list[tuple]:
    """The items with each key that names a record shown as people know it: a reference by
    the record's number and name (CUS-0002 奇瑞汽车股份有限公司); free text declared `as: TYPE`
    by the record of TYPE known by it, where there is one, else as written."""
    shown: dict[int, dict[Any, str]] = {}
    for i, key in enumerate(tally.keys, start=1):
        spec = rt.field(key.path)
        target = key.known_as or (spec.to if spec is not None and spec.type == "ref" else None)
        if not target:
            continue
        trt = store.record_type(str(target))
        if key.known_as and trt.known_as is None:
            raise BadInput(_("report '{name}': key {key}: as: a {type} is not known by a name").format(
                name=name, key=key.path, type=target))
        index = known.index(store, trt) if key.known_as else None
        mapping: dict[Any, str] = {}
        for item in found:
            value = item[i]
            if value in mapping or values.is_empty(value):
                continue
            rid = index.get(known.key(value)) if index is not None else str(value)
            other = store.fetch(trt.name, rid) if rid else None
            title = values.get(other, trt.title_field) if other is not None and trt.title_field else None
            mapping[value] = " ".join(str(x) for x in (rid, title) if x) if other is not None else str(value)
        shown[i] = mapping
    if not shown:
        return found
    return [tuple(shown[i].get(v, v) if i in shown else v for i, v in enumerate(item)) for item in found]


def _collect(store, rt, spec: dict, columns: list[dict], window, extra: list, lang: str, problems: list[str],
             groups: dict[str, list[list[Cell]]]) -> None:
    """Add the rows of `spec`'s records of type `rt` to `groups` (by its group_by value).
    Where the store has a `rows_memo` (publish), rows that depend on their record alone are
    taken from it by the record's version, as text, and given to it when made, under a key
    of the table's declaration (a report's sections and sources each have their own): its
    walk(store, type, key) gives each record file's (path, kept rows or None, the record
    to make them from or the error reading it gave, where none are kept)."""

    conditions = [(k, str(v).lower() if isinstance(v, bool) else str(v)) for k, v in (spec.get("where") or {}).items()]

    # a report about one record (a customer's history): only the records that may be its
    belonging = next((x.test for x in extra if isinstance(x, _Test) and isinstance(x.test, _Belonging)), None)

    def readable(type_name: str) -> list[Any]:
        return store.scan(type_name, problems)

    counts: dict[int, dict[str, int]] = {}
    for c in columns:
        if "count" in c:
            cnt = c["count"]
            tally: dict[str, int] = {}
            for other in readable(cnt["type"]):
                if all(str(values.get(other, k)) == str(v) for k, v in (cnt.get("where") or {}).items()):
                    key = str(values.get(other, cnt["field"]))
                    tally[key] = tally.get(key, 0) + 1
            counts[id(c)] = tally
    each = spec.get("each")

    def at(path: str) -> str:  # a path of a listed item (actions.*.owner) as its row holds it
        return path.replace(f"{each}.*.", f"{each}.", 1) if each else path

    conditions = [(at(k), v) for k, v in conditions]
    unless = [(at(k), v) for k, v in _unless(spec)]
    now = store.now()
    today = now.astimezone(store.config.tz).date()
    sort_keys = [at(k) for k in spec.get("sort") or ["id"]]
    group_by = spec.get("group_by")

    def rows_of(data: Any) -> list[tuple[list[str], str, list[Cell]]]:
        """The rows one record gives the ledger: (sort key, group, cells) for each."""
        if not matches(rt, data, extra):
            return []
        if window:
            when = values.to_datetime(values.get(data, spec["period_field"]), store.config.tz)
            if when is None or not window[0] <= when.astimezone(store.config.tz).date() <= window[1]:
                return []
        if each:  # one row for each item of the list, the item standing in for the list
            listed = values.get(data, str(each))
            rows = [dict(data, **{str(each): item}) for item in listed if isinstance(item, dict)] \
                if isinstance(listed, list) else []
        else:
            rows = [data]
        out = []
        for r in rows:
            if not matches(rt, r, conditions) or _left_out(rt, r, unless):
                continue
            key = ""
            if group_by:
                gv = values.get(r, at(group_by))
                gs = rt.field(group_by)
                key = shown(gs, gv, lang) if gs and not values.is_empty(gv) else str(gv or "")
            out.append(([str(values.get(r, k) if values.get(r, k) is not None else "") for k in sort_keys], key,
                        [cell(r, c) for c in columns]))
        return out

    def cell(data: Any, c: dict) -> Cell:
        if "count" in c:
            return counts[id(c)].get(str(data.get("id")), 0)
        if c.get("state"):
            st = rt.workflow.states.get(data.get("state"))
            return st.label[lang] if st else str(data.get("state"))
        if "deadline" in c:  # a time limit of the record: when it is due, or how it stands
            found = next((d for d in deadlines(rt, data, store.config, now) if d.name == c["deadline"]), None)
            if found is None:
                return ""
            if c.get("show", "due") == "due":
                return found.due.astimezone(store.config.tz).replace(tzinfo=None)
            return words(lang).get(found.status, found.status)
        if "overdue" in c:  # how many days ago a date passed (an open action's due date), else nothing
            day = values.to_date(values.get(data, at(str(c["overdue"]))))
            return (today - day).days if day is not None and day < today else ""
        if not c.get("path"):  # a column this source has nothing for
            return ""
        p = c["path"]
        if p == "id":  # the record's number: its own number where its type keeps one
            return rt.number_of(data)
        fs = rt.field(p)
        value = store.evaluator(rt, data).first(p) if fs is None else values.get(data, at(p))
        if values.is_empty(value):
            return ""
        if fs is not None and fs.type == "ref" and isinstance(value, str):
            other = store.fetch(fs.to, value)  # another record: by its number as printed
            return store.record_type(fs.to).number_of(other) if other is not None else value
        if fs is None:
            first, _dot, rest = p.partition(".")
            via = rt.field(first)
            if rest == "state" and via is not None and via.type == "ref":  # another record's state, by its label
                st = store.record_type(via.to).workflow.states.get(str(value))
                return st.label[lang] if st else str(value)
            return str(value)
        typed = _typed(fs.type, value)
        return shown(fs, value, lang) if typed is None else typed

    # a ledger made again and again (publish) keeps each record's rows by its version, where
    # they depend on nothing but the record (no counts, no other record, no --where)
    memo = store.rows_memo if getattr(store, "rows_memo", None) is not None and not window and not extra \
        and all(_own(rt, c) for c in columns) else None
    found: list[tuple[list[str], str, list[Cell]]] = []
    part = hashlib.sha1(repr((rt.name, spec, columns)).encode()).hexdigest()[:16] if memo is not None else ""
    if memo is None:
        for data in readable(rt.name) if belonging is None else belonging.candidates(store, rt.name, problems):
            found += rows_of(data)
    else:
        for path, got, rec in memo.walk(store, rt.name, part):
            if isinstance(rec, Exception):  # a file that cannot be read, said once
                if str(rec) not in problems:
                    problems.append(str(rec))
                continue
            if got is None:
                got = [(k, g, [text_of(c) for c in cells], None) for k, g, cells in rows_of(rec.data)]
                memo.put(part, rec, got)
            key = f"{part} {path}"
            found += [(k, g, Row(cells, key, n, html)) for n, (k, g, cells, html) in enumerate(got)]
    found.sort(key=lambda row: row[0])
    for _key, group, cells in found:
        groups.setdefault(group, []).append(cells)


def _own(rt, c: dict) -> bool:
    """Whether a column's cell is made from its own record alone (and the day): no count of
    other records, no record it refers to, no computed path."""
    if "count" in c:
        return False
    if c.get("state") or "deadline" in c or "overdue" in c or not c.get("path") or c["path"] == "id":
        return True
    fs = rt.field(c["path"])
    return fs is not None and fs.type != "ref"


def _typed(kind: str, value: Any) -> Cell | None:
    """A number, date or date-time value as itself (within the bounds every command
    handles), or None: shown as text."""
    if kind in ("int", "number") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return value if values.number_in_bounds(value) else None
    if kind == "money":  # an exact amount: a number cell with two decimals
        return values.money(value)
    if kind == "date":
        return values.to_date(value)
    if kind == "datetime":
        moment = values.to_datetime(value, timezone.utc)  # the wall time, as forms show it
        return moment.replace(tzinfo=None) if moment else None
    return None


def to_markdown(report: Report, company: str, lang: str, printed: str, chart: str | None = None,
                parts: dict[int, str] | None = None, rows: bool = True) -> str:
    """The ledger as Markdown; `chart`, the address of its chart's SVG beside it, is shown
    under the title block. `rows=False`: each table's head alone, for a caller that lays
    out the rows itself (publish, from rows it keeps as HTML)."""
    w, marks = words(lang), punctuation(lang)
    out = [f"# {markdown(company)}" if company else "", f"## {markdown(report.title)}", ""]
    meta = f"{w['printed']}{marks['label']}{printed}"
    if report.period:
        meta += f" · {w['period']}{marks['label']}{report.period}"
    out += [meta, ""]
    if report.note:
        out += [f"> {markdown(report.note)}", ""]
    if chart:
        out += [f"![{markdown(report.title)}]({chart})", ""]
    if report.sections:  # each table under its own heading, a level down
        for i, section in enumerate(report.sections):
            out += [f"### {markdown(section.title)}", ""]
            if section.note:
                out += [f"> {markdown(section.note)}", ""]
            if parts and i in parts:  # the table's chart, written beside the Markdown
                out += [f"![{markdown(section.title)}]({parts[i]})", ""]
            out += _md_tables(section, lang, "####", rows)
        return "\n".join(line for line in out if line is not None).strip("\n") + "\n"
    out += _md_tables(report, lang, "###", rows)
    return "\n".join(line for line in out if line is not None).strip("\n") + "\n"


def md_row(cells: list[Cell]) -> str:
    """One row of a ledger's Markdown table."""
    return "| " + " | ".join(markdown(text_of(c)) for c in cells) + " |"


def _md_tables(report: Report, lang: str, level: str, with_rows: bool = True) -> list[str]:
    """A report's tables (one per group, under a heading of `level`) and its count line;
    without their rows if not `with_rows`."""
    w, marks = words(lang), punctuation(lang)
    out: list[str] = []
    for group, rows in report.groups:
        if report.group_label:
            out += [f"{level} {markdown(report.group_label)}{marks['label']}{markdown(group) or '—'}", ""]
        out.append("| " + " | ".join(markdown(c) for c in report.columns) + " |")
        out.append("|" + "---|" * len(report.columns))
        if with_rows:
            out += [md_row(r) for r in rows]
        out.append("")
    if not report.groups:
        out += ["| " + " | ".join(markdown(c) for c in report.columns) + " |", "|" + "---|" * len(report.columns),
                "| " + " | ".join("—" for _column in report.columns) + " |", ""]
    if report.counted is not None:  # a tally: its rows are counts, the records behind them are the total
        out.append(f"{report.counted_label}{marks['label']}{report.counted}")
    else:
        out.append(f"{w['total']}{marks['label']}{report.count}")
    out.append("")
    return out


def _table(report: Report) -> list[list[Cell]]:
    head = ([report.group_label] if report.group_label else []) + report.columns
    rows = [head]
    for group, grows in report.groups:
        for r in grows:
            rows.append(([group] if report.group_label else []) + r)
    return rows


def to_csv(report: Report) -> str:
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for i, part in enumerate(report.sections or [report]):
        if report.sections:  # a report of several tables: each under its title, a blank line between
            if i:
                w.writerow([])
            w.writerow([spreadsheet(part.title)])
        for row in _table(part):
            w.writerow([spreadsheet(c) if isinstance(c, str) else text_of(c) for c in row])
    return "\ufeff" + buf.getvalue()  # a BOM, so that Excel reads the Chinese as UTF-8


WIDTH_MIN = 8  # the narrowest column, in Excel's character widths
WIDTH_MAX = 60  # the widest; a longer text wraps within it
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
DATE_FORMAT = "yyyy-mm-dd"
PERCENT_FORMAT = "0.0%"
MONEY_FORMAT = "#,##0.00"


def display_width(text: str) -> int:
    """How many columns `text` takes in a fixed-width font: a CJK (wide or full-width)
    character two, any other one; the widest line of a text with line breaks."""
    return max((sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)
                for line in text.splitlines() or [""]), default=0)


def _put(ws, row: int, col: int, value: Cell):
    """One cell: a number as a number, a date or date-time as an Excel date with a date
    format, anything else as a text cell holding exactly the text (never a formula)."""
    cell = ws.cell(row=row, column=col)
    if isinstance(value, str):
        # set as a string cell: openpyxl would take a leading = as a formula
        cell.value = xlsx_text(value)
        cell.data_type = "s"
        if cell.value.lstrip(" ").startswith(FORMULA_START):
            # shown with Excel's hidden ' prefix, so that editing the cell keeps it text
            cell.quotePrefix = True
    elif isinstance(value, Percent):
        cell.value = float(value)
        cell.number_format = PERCENT_FORMAT
    elif isinstance(value, Decimal):  # money: the exact amount, shown with two decimals
        cell.value = value
        cell.number_format = MONEY_FORMAT
    else:
        cell.value = value
        if isinstance(value, datetime):
            cell.number_format = DATETIME_FORMAT
        elif isinstance(value, date):
            cell.number_format = DATE_FORMAT
    return cell


def _cell_width(value: Cell) -> int:
    if isinstance(value, Percent):
        return len("100.0%")
    if isinstance(value, datetime):
        return len("2026-01-01 00:00")
    if isinstance(value, date):
        return len("2026-01-01")
    return display_width(xlsx_text(value) if isinstance(value, str) else text_of(value))


def to_xlsx(report: Report, chart: bool = True) -> bytes:
    """The ledger as the bytes of an xlsx workbook: a title block (company, the report's
    name, its period, when it was made in the store's time zone), the header row frozen
    with the rows below it scrolling and filterable, typed cells, and columns as wide as
    their text (a Chinese character counting two); with `chart`, the report's chart as an
    Excel chart of its cells beside the table."""
    import io

    from openpyxl import Workbook

    wb = Workbook()
    if report.sections:  # a sheet per table, each with the report's title block and its own
        used: set[str] = set()
        for i, section in enumerate(report.sections):
            ws = wb.active if i == 0 else wb.create_sheet()
            ws.title = _unique_title(_sheet_title(section.title), used)
            header = _sheet(ws, section, report, chart=False)
            if chart and section.chart is not None:
                charts.to_sheet(wb, ws, section, header, 2 if section.group_label else 1, _put)
    else:
        ws = wb.active
        ws.title = _sheet_title(report.title)
        header = _sheet(ws, report, report, chart)
        if chart:
            charts.to_sheet(wb, ws, report, header, 2 if report.group_label else 1, _put)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _sheet(ws, report: Report, whole: Report, chart: bool) -> int:
    """One table on its worksheet under the title block of the `whole` report (company,
    title, the table's own title where it is one of several, period, count, when made,
    note); the header row's number."""
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    w = words(whole.lang)
    row = 1
    if whole.company:
        _put(ws, row, 1, whole.company).font = Font(bold=True, size=14)
        row += 1
    _put(ws, row, 1, whole.title).font = Font(bold=True, size=12)
    row += 1
    if report is not whole:
        _put(ws, row, 1, report.title).font = Font(bold=True)
        row += 1
    if whole.period:
        _put(ws, row, 1, w["period"])
        _put(ws, row, 2, whole.period)
        row += 1
    if report.counted is not None:
        _put(ws, row, 1, report.counted_label)
        _put(ws, row, 2, report.counted)
        row += 1
    if whole.generated is not None:
        _put(ws, row, 1, w["printed"])
        # Excel has no time zones: the store's wall time, as the printed forms show it
        _put(ws, row, 2, whole.generated.replace(tzinfo=None, second=0, microsecond=0))
        row += 1
    if report.note:
        _put(ws, row, 1, report.note)
        row += 1
    row += 1  # a blank row between the title block and the table
    header = row
    table = _table(report)
    widths = [0] * len(table[0])
    for r, values_ in enumerate(table, start=header):
        for col, value in enumerate(values_, start=1):
            if value == "":
                continue  # an empty cell, not an empty text
            cell = _put(ws, r, col, value)
            widths[col - 1] = max(widths[col - 1], _cell_width(value))
            if r == header:
                cell.font = Font(bold=True)
            elif isinstance(value, str) and (display_width(cell.value) > WIDTH_MAX or "\n" in cell.value):
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    last = get_column_letter(max(1, len(table[0])))
    ws.freeze_panes = f"A{header + 1}"
    ws.auto_filter.ref = f"A{header}:{last}{header + len(table) - 1}"
    ws.print_title_rows = f"{header}:{header}"
    for col, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(col)].width = min(WIDTH_MAX, max(WIDTH_MIN, width + 2))
    return header


def _unique_title(title: str, used: set[str]) -> str:
    """A sheet name not yet taken in the workbook (a number added where it is)."""
    name, n = title, 2
    while name.lower() in used:
        name = f"{title[:27]} ({n})"
        n += 1
    used.add(name.lower())
    return name


def _sheet_title(title: str) -> str:
    """A worksheet name Excel accepts: at most 31 characters, none of \\ / ? * [ ] :"""
    cleaned = re.sub(r"[\\/?*\[\]:]", " ", xlsx_text(title)).strip("' ")[:31]
    return cleaned or "Sheet"
