"""Ledgers and lists declared as data (`qms_cli/reports/<name>.yaml`, or a store's own
`reports/<name>.yaml`): which record type, which records, grouping, order and columns.
`build()` returns plain rows; `to_markdown`, `to_csv` and `to_xlsx` write them.

A ledger leaves qms for Excel and for web pages, so what a record holds stays data there:
numbers and dates are typed cells (so sums and filters work); text is always a text cell
in xlsx, never a formula, whatever it starts with; in csv a text that a spreadsheet would
start as a formula (= + - @, a tab or line break, the full-width ＝ ＋ － ＠) gets a
leading ' (OWASP's advice on CSV injection); in Markdown it is escaped as in forms."""

from __future__ import annotations

import calendar as _calendar
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import BadInput
from ..model import values
from ..text import markdown, spreadsheet, xlsx_text

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
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


@dataclass
class Report:
    name: str
    title: str
    columns: list[str]
    groups: list[tuple[str, list[list[Cell]]]]  # (group value, rows)
    group_label: str | None
    period: str | None
    problems: list[str] = field(default_factory=list)  # records that could not be read, left out

    @property
    def count(self) -> int:
        return sum(len(rows) for _, rows in self.groups)


def parse_period(text: str) -> tuple[date, date]:
    """YYYY, YYYY-Qn or YYYY-MM as (first day, last day)."""
    m = re.fullmatch(r"(\d{4})(?:-(?:Q([1-4])|(\d{2})))?", text.strip())
    if not m or (m.group(3) and not 1 <= int(m.group(3)) <= 12):
        raise BadInput(f"--period '{text}': expected YYYY, YYYY-Qn or YYYY-MM (e.g. 2026-Q1)")
    year = int(m.group(1))
    if m.group(2):
        q = int(m.group(2))
        first, last_month = date(year, 3 * q - 2, 1), 3 * q
    elif m.group(3):
        first, last_month = date(year, int(m.group(3)), 1), int(m.group(3))
    else:
        first, last_month = date(year, 1, 1), 12
    return first, date(year, last_month, _calendar.monthrange(year, last_month)[1])


def build(store, name: str, lang: str, period: str | None = None, where: list[str] = ()) -> Report:
    from ..store import safefs, yamlio
    from ..views import matches, shown

    if not NAME.fullmatch(name):
        raise BadInput(f"no report '{name}' (expected one of {', '.join(report_names(store))})")
    rel = f"reports/{name}.yaml"
    what, at = safefs.kind(store.root, rel)
    if what in ("link", "special"):  # a store's report that is not a file of the store
        raise BadInput(f"{at}: {safefs.LINK if what == 'link' else safefs.SPECIAL}")
    if what == "file":
        spec = yamlio.load_declaration(store.root / rel, rel, root=store.root)
    elif (BUILTIN / f"{name}.yaml").is_file():
        spec = yamlio.load_declaration(BUILTIN / f"{name}.yaml", f"report {name}")
    else:
        raise BadInput(f"no report '{name}' (expected one of {', '.join(report_names(store))})")
    rt = store.record_type(spec["type"])
    columns = [c if isinstance(c, dict) else {"path": c} for c in spec.get("columns") or []]
    window = parse_period(period) if period else None
    if window and not spec.get("period_field"):
        raise BadInput(f"report '{name}' has no period (it lists what is current)")
    conditions = [(k, str(v).lower() if isinstance(v, bool) else str(v)) for k, v in (spec.get("where") or {}).items()]
    for w in where:
        k, sep, v = w.partition("=")
        if not sep:
            raise BadInput(f"--where '{w}': expected FIELD=VALUE")
        conditions.append((k.strip(), v.strip()))
    problems: list[str] = []

    def readable(type_name: str) -> list[Any]:
        return store.scan(type_name, problems)

    counts: dict[str, dict[str, int]] = {}
    for c in columns:
        if "count" in c:
            cnt = c["count"]
            tally: dict[str, int] = {}
            for other in readable(cnt["type"]):
                if all(str(values.get(other, k)) == str(v) for k, v in (cnt.get("where") or {}).items()):
                    key = str(values.get(other, cnt["field"]))
                    tally[key] = tally.get(key, 0) + 1
            counts[id(c)] = tally  # type: ignore[index]
    records = []
    for data in readable(rt.name):
        if not matches(rt, data, conditions):
            continue
        if window:
            when = values.to_datetime(values.get(data, spec["period_field"]), store.config.tz)
            if when is None or not window[0] <= when.astimezone(store.config.tz).date() <= window[1]:
                continue
        records.append(data)
    sort_keys = spec.get("sort") or ["id"]
    records.sort(key=lambda d: [str(values.get(d, k) if values.get(d, k) is not None else "") for k in sort_keys])

    def cell(data: Any, c: dict) -> Cell:
        if "count" in c:
            return counts[id(c)].get(str(data.get("id")), 0)  # type: ignore[index]
        if c.get("state"):
            st = rt.workflow.states.get(data.get("state"))
            return st.label[lang] if st else str(data.get("state"))
        p = c["path"]
        fs = rt.field(p)
        value = store.evaluator(rt, data).first(p) if fs is None else values.get(data, p)
        if values.is_empty(value):
            return ""
        if fs is None:
            return str(value)
        typed = _typed(fs.type, value)
        return shown(fs, value, lang) if typed is None else typed

    def head(c: dict) -> str:
        if "label" in c:
            return c["label"][lang] if isinstance(c["label"], dict) else str(c["label"])
        return "ID" if c["path"] == "id" else rt.label_of(c["path"], lang)

    group_by = spec.get("group_by")
    groups: dict[str, list[list[str]]] = {}
    for data in records:
        key = ""
        if group_by:
            gv = values.get(data, group_by)
            gs = rt.field(group_by)
            key = shown(gs, gv, lang) if gs and not values.is_empty(gv) else str(gv or "")
        groups.setdefault(key, []).append([cell(data, c) for c in columns])
    label = spec.get("label") or {}
    return Report(
        name=name,
        title=label.get(lang, name) if isinstance(label, dict) else str(label),
        columns=[head(c) for c in columns],
        groups=sorted(groups.items()),
        group_label=rt.label_of(group_by, lang) if group_by else None,
        period=period,
        problems=problems + store.skipped,
    )


def _typed(kind: str, value: Any) -> Cell | None:
    """A number, date or date-time value as itself (within the bounds every command
    handles), or None: shown as text."""
    if kind in ("int", "number") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return value if values.number_in_bounds(value) else None
    if kind == "date":
        return values.to_date(value)
    if kind == "datetime":
        moment = values.to_datetime(value, timezone.utc)  # the wall time, as forms show it
        return moment.replace(tzinfo=None) if moment else None
    return None


def to_markdown(report: Report, company: str, lang: str, printed: str) -> str:
    words = {"zh": ("合计", "制表时间", "期间"), "en": ("Total", "Printed", "Period")}[lang]
    out = [f"# {markdown(company)}" if company else "", f"## {markdown(report.title)}", ""]
    meta = f"{words[1]}: {printed}" + (f" · {words[2]}: {report.period}" if report.period else "")
    out += [meta, ""]
    for group, rows in report.groups:
        if report.group_label:
            out += [f"### {markdown(report.group_label)}: {markdown(group) or '—'}", ""]
        out.append("| " + " | ".join(markdown(c) for c in report.columns) + " |")
        out.append("|" + "---|" * len(report.columns))
        for r in rows:
            out.append("| " + " | ".join(markdown(text_of(c)) for c in r) + " |")
        out.append("")
    if not report.groups:
        out += ["| " + " | ".join(markdown(c) for c in report.columns) + " |", "|" + "---|" * len(report.columns),
                "| " + " | ".join("—" for _ in report.columns) + " |", ""]
    out.append(f"{words[0]}: {report.count}")
    return "\n".join(line for line in out if line is not None).lstrip("\n") + "\n"


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
    for row in _table(report):
        w.writerow([spreadsheet(c) if isinstance(c, str) else text_of(c) for c in row])
    return "\ufeff" + buf.getvalue()  # a BOM, so that Excel reads the Chinese as UTF-8


def to_xlsx(report: Report) -> bytes:
    """The ledger as the bytes of an xlsx workbook."""
    import io

    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = _sheet_title(report.title)
    for r, row in enumerate(_table(report), start=1):
        for col, value in enumerate(row, start=1):
            if value == "":
                continue  # an empty cell, not an empty text
            cell = ws.cell(row=r, column=col)
            if isinstance(value, str):
                # set as a string cell: openpyxl would take a leading = as a formula
                cell.value = xlsx_text(value)
                cell.data_type = "s"
            else:
                cell.value = value
                if isinstance(value, datetime):
                    cell.number_format = "yyyy-mm-dd hh:mm"
                elif isinstance(value, date):
                    cell.number_format = "yyyy-mm-dd"
    for c in ws[1]:
        c.font = Font(bold=True)
    ws.freeze_panes = "A2"
    for col in ws.columns:
        width = max(len(text_of(c.value) if c.value is not None else "") for c in col)
        ws.column_dimensions[col[0].column_letter].width = min(60, max(8, width * 1.6))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _sheet_title(title: str) -> str:
    """A worksheet name Excel accepts: at most 31 characters, none of \\ / ? * [ ] :"""
    cleaned = re.sub(r"[\\/?*\[\]:]", " ", xlsx_text(title)).strip("' ")[:31]
    return cleaned or "Sheet"
