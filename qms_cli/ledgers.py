"""Ledgers in and out (`qms export`, `qms import`): the records of one type as a table, a
row per record and a column per field, and a table someone keeps in Excel read back into
records.

The columns: the record's ID, its state, then every field the type declares (a group's
fields each in a column of their own; a list in one column, its items joined with 、 or
", ", a list of groups one item a line). A column is headed by the field's label in the
ledger's language (顾客名称 / Customer name; where two fields share a label, with their
group's: 联系顾客·联系人); an import also takes the label in the other language, the dotted
field path (customer.name), and any heading a mapping file (`--map MAP.yaml`,
{heading: field.path}, or null to leave a column out) names.

Export writes values as typed cells (numbers, dates and date-times as such; enum values
and yes/no as their labels) and never a formula (reports.to_xlsx; csv with reports'
guard). Import reads a row's cells as `new --set` reads values, and hands the rows to the
write path's batch (engine.batch), which registers them in one commit."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from .engine.batch import Batch, Row, import_records
from .errors import BadFile, BadInput, QmsError
from .files import safefs, sheet, yamlio
from .i18n import _
from .model import values
from .model.declaration import FieldSpec, RecordType
from .reports import Report, declaration, report_names, shown, to_xlsx
from .store import Store
from .store import git as gitops
from .suggest import closest, fold
from .text import controls, quote, spreadsheet
from .wording import punctuation, words

FORMATS = ("xlsx", "csv")
MAP_LIMIT = 64 * 1024  # a mapping file's size
# columns a hand-kept ledger often has that hold no field: the row's running number
ROW_NUMBERS = frozenset({"序号", "#", "行号", "no.", "seq", "seq.", "item"})
HEADER_SEARCH = 10  # rows at the top of a sheet searched for the headings (below a title block)
ID, STATE = "id", "state"
_LOOSE = str.maketrans("", "", " \t\n·・.-_/:：()（）[]【】")


@dataclass(frozen=True)
class Column:
    """A column of a type's ledger: the field path (or `id`, `state`), its declaration
    (None for the ID and the state) and its heading in each language."""

    path: str
    spec: FieldSpec | None
    headings: dict[str, str]


def columns(rt: RecordType) -> list[Column]:
    """The ledger columns of a record type, in the order its form declares the fields."""
    type_words = {lang: words(lang)["type_number"].format(type=rt.label.get(lang) or rt.name) for lang in ("zh", "en")}
    out = [Column(ID, None, type_words),
           Column(STATE, None, {lang: words(lang)["state"].capitalize() for lang in ("zh", "en")})]
    leaves: list[tuple[str, FieldSpec, list[FieldSpec]]] = []

    def walk(fields: dict[str, FieldSpec], prefix: str, groups: list[FieldSpec]) -> None:
        for name, spec in fields.items():
            if spec.type == "object":
                walk(spec.fields, f"{prefix}{name}.", [*groups, spec])
            else:
                leaves.append((f"{prefix}{name}", spec, groups))

    walk(rt.fields, "", [])
    for path, spec, groups in leaves:
        headings = {}
        for lang in ("zh", "en"):
            own = spec.text(lang)
            shared = sum(1 for _p, s, _g in leaves if s.text(lang) == own) > 1
            headings[lang] = "·".join([*(g.text(lang) for g in groups), own]) if shared and groups else own
        out.append(Column(path, spec, headings))
    return out


# ------------------------------------------------------------------------------- export


def export(store: Store, type_name: str, fmt: str, lang: str) -> tuple[bytes, int, list[str]]:
    """The ledger of every record of a type: (the file's bytes, the number of rows, the
    records that could not be read and were left out)."""
    if fmt not in FORMATS:
        raise BadInput(_("--format '{format}': expected xlsx or csv").format(format=fmt))
    rt = store.record_type(type_name)
    cols = columns(rt)
    problems: list[str] = []
    records = sorted(store.scan(rt.name, problems), key=lambda d: str(d.get("id")))
    rows = [[_cell(store, rt, c, data, lang) for c in cols] for data in records]
    heads = [c.headings[lang] for c in cols]
    if fmt == "csv":
        return _csv(heads, rows), len(rows), problems + store.skipped
    report = Report(name=rt.name, title=rt.label.get(lang) or rt.name, columns=heads, groups=[("", rows)],
                    group_label=None, period=None, lang=lang, company=str(store.config.company or ""),
                    generated=store.now().astimezone(store.config.tz))
    return to_xlsx(report), len(rows), problems + store.skipped


def _cell(store: Store, rt: RecordType, col: Column, data: Any, lang: str) -> Any:
    """A record's value in a column, as a typed cell ("" when empty)."""
    if col.path == ID:
        return str(data.get("id") or "")
    if col.path == STATE:
        st = rt.workflow.states.get(data.get("state"))
        return st.label.get(lang, st.name) if st else str(data.get("state") or "")
    spec, value = col.spec, values.get(data, col.path)
    if spec is None or values.is_empty(value):
        return ""
    if spec.type == "datetime":
        moment = values.to_datetime(value, store.config.tz)
        # Excel has no time zones: the store's wall time, which an import reads back in it
        return moment.astimezone(store.config.tz).replace(tzinfo=None) if moment else str(value)
    if spec.type == "list" and isinstance(value, list) and spec.items is not None and spec.items.type == "object":
        return "\n".join(_flow(spec.items, item) for item in value)
    if spec.type == "list" and isinstance(value, list):
        item = spec.items
        return punctuation(lang)["item"].join(shown(item, v, lang) if item else str(v) for v in value)
    if spec.type in ("int", "number") and isinstance(value, (int, float)) and not isinstance(value, bool) \
            and values.number_in_bounds(value):
        return value  # a number cell
    if spec.type == "money" and values.money(value) is not None:
        return values.money(value)  # an exact number cell, two decimals
    if spec.type == "date" and values.to_date(value) is not None:
        return values.to_date(value)  # a date cell
    return shown(spec, value, lang)


def _flow(spec: FieldSpec, item: Any) -> str:
    """An item of a list of groups as `+=` takes it: {at: "2026-06-01", by: "赵敏"}."""
    if not isinstance(item, dict):
        return json.dumps(str(item), ensure_ascii=False)
    parts = []
    for k, v in item.items():
        if values.is_empty(v):
            continue
        text = v.isoformat() if isinstance(v, (date, datetime)) else str(v).lower() if isinstance(v, bool) else str(v)
        parts.append(f"{k}: {json.dumps(text, ensure_ascii=False)}")
    return "{" + ", ".join(parts) + "}"


def _csv(heads: list[str], rows: list[list[Any]]) -> bytes:
    """The ledger as csv: UTF-8 with a BOM (so Excel reads the Chinese), texts guarded."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for row in [heads, *rows]:
        w.writerow([sheet.guarded(c, spreadsheet(c)) if isinstance(c, str) else _csv_text(c) for c in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _csv_text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S" if value.second else "%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# ------------------------------------------------------------------------------- import


@dataclass(frozen=True)
class Ledger:
    """A ledger read for import: the rows for the write path, and notes for the user (the
    columns a mapping left out)."""

    rows: tuple[Row, ...]
    notes: tuple[str, ...]


def import_ledger(store: Store, type_name: str, path: Path, map_file: Path | None = None,
                  skip_bad: bool = False, by: gitops.Actor | None = None) -> tuple[Batch, tuple[str, ...]]:
    """Register the records of a ledger (xlsx or csv) in one commit: (what the batch did,
    notes on the ledger). A ledger that cannot be read, or whose headings name no field,
    is refused (BadInput, exit 2) before any row is judged."""
    rt = store.record_type(type_name)
    mapping = read_map(rt, map_file) if map_file is not None else {}
    ledger = read_ledger(rt, sheet.read(path, str(path)), mapping, report_headings(store, rt))
    batch = import_records(store, rt.name, list(ledger.rows), by=by, skip_bad=skip_bad, source=path.name)
    return batch, ledger.notes


def read_map(rt: RecordType, path: Path) -> dict[str, str | None]:
    """A mapping file: {heading: field path}, null for a column to leave out. Each path
    must be a column of the type's ledger (no other path is ever written to)."""
    source = str(path)
    raw = safefs.read_file(path, MAP_LIMIT, source=source, follow=True)
    data = yamlio.parse(yamlio.decode(raw, source), source, "safe")
    if not isinstance(data, dict) or not data:
        raise BadFile(source, _("expected a mapping of headings to field paths, e.g. 客户: customer.name"))
    known = {c.path for c in columns(rt)}
    out: dict[str, str | None] = {}
    for heading, target in data.items():
        heading = str(heading)
        if controls(heading):
            raise BadFile(source, _("{heading}: a heading holds no control character").format(heading=quote(heading)))
        if target is None or target == "":
            out[heading] = None
            continue
        if not isinstance(target, str) or target not in known:
            hint = closest(str(target), known)
            raise BadFile(source, _("{heading}: {path} is not a field of {type}{hint}").format(
                heading=quote(heading), path=quote(str(target)), type=rt.name,
                hint=_("; did you mean '{word}'?").format(word=hint) if hint else ""))
        out[heading] = target
    return out


def report_headings(store: Store, rt: RecordType) -> dict[str, set[str]]:
    """The headings the store's reports of the type give their columns ({path: headings}):
    a ledger printed by `qms report` (客诉台账, 受控文件清单) is read back by its headings.
    A report that cannot be read gives none."""
    out: dict[str, set[str]] = {}
    for name in report_names(store):
        try:
            spec = declaration(store, name)
        except QmsError:
            continue
        if not isinstance(spec, dict) or spec.get("type") != rt.name:
            continue
        for c in spec.get("columns") or ():
            if not isinstance(c, dict) or not isinstance(c.get("label"), dict):
                continue
            path = STATE if c.get("state") else c.get("path")
            if isinstance(path, str) and "count" not in c:
                out.setdefault(path, set()).update(str(v) for v in c["label"].values())
    return out


def _heading_index(cols: list[Column], extra: dict[str, set[str]]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """What a heading may be, folded exactly and loosely (spaces and separators dropped):
    each column's path, its headings, its field's own label in either language and the
    headings reports give it (`extra`); the ID also as ID, 编号, No."""
    exact: dict[str, set[str]] = {}
    loose: dict[str, set[str]] = {}
    for c in cols:
        names = {c.path, *c.headings.values(), *extra.get(c.path, ())}
        if c.spec is not None:
            names.update(c.spec.label.values())
        if c.path == ID:
            names.update({"ID", "编号", "No.", "No", "Number", words("zh")["number"]})
        if c.path == STATE:
            names.update({"state", "状态"})
        for n in names:
            exact.setdefault(fold(n), set()).add(c.path)
            loose.setdefault(fold(n).translate(_LOOSE), set()).add(c.path)
    return exact, loose


def _column_of(heading: str, exact: dict, loose: dict) -> set[str]:
    """The columns a heading may name (none, one, or several when it is ambiguous)."""
    hits = exact.get(fold(heading))
    if hits:
        return hits
    return loose.get(fold(heading).translate(_LOOSE), set())


def read_ledger(rt: RecordType, ws: sheet.Sheet, mapping: dict[str, str | None],
                extra: dict[str, set[str]] | None = None) -> Ledger:
    """The rows of a sheet for the write path: the headings found (the first row of the
    top ones most of whose cells name columns), each row's cells read as values of their
    columns. Unknown or ambiguous headings are refused (BadInput) naming each, with the
    closest known heading."""
    cols = columns(rt)
    by_path = {c.path: c for c in cols}
    exact, loose = _heading_index(cols, extra or {})

    def named(cell: Any) -> set[str] | None:
        """The columns a heading cell names: by the mapping, else by the index; None: left out."""
        text = "" if cell is None else str(cell).strip()
        if text in mapping:
            return None if mapping[text] is None else {mapping[text]}
        found = _column_of(text, exact, loose)
        return None if not found and fold(text) in ROW_NUMBERS else found

    header_at = 0
    for i, (_n, cells) in enumerate(ws.rows[:HEADER_SEARCH]):
        filled = [c for c in cells if c is not None and str(c).strip()]
        hits = [c for c in filled if named(c) is None or len(named(c) or ()) == 1]
        if filled and len(hits) * 2 >= len(filled) and len(hits) >= 1 and (len(filled) > 1 or len(ws.rows) > i + 1):
            header_at = i
            break
    header_number, header = ws.rows[header_at]
    data_rows = ws.rows[header_at + 1:]
    problems: list[str] = []
    notes: list[str] = []
    where: dict[int, str] = {}  # cell index -> column path
    seen: dict[str, str] = {}  # column path -> the heading that named it
    known_words = sorted({h for c in cols for h in (c.path, *c.headings.values())})
    for i, cell in enumerate(header):
        letter = sheet.column_letter(i)
        text = "" if cell is None else str(cell).strip()
        if not text:
            if any(i < len(cells) and not _blank(cells[i]) for _n, cells in data_rows):
                problems.append(_("column {column}: values under no heading").format(column=letter))
            continue
        hits = named(cell)
        if hits is None:
            notes.append(_("column {column} {heading}: left out (a running number, or null in the mapping)").format(
                column=letter, heading=quote(text)))
            continue
        if not hits:
            hint = closest(text, known_words)
            problems.append(_("column {column} {heading}: not a field of {type}{hint}").format(
                column=letter, heading=quote(text), type=rt.name,
                hint=_("; did you mean '{word}'?").format(word=hint) if hint else ""))
            continue
        if len(hits) > 1:
            problems.append(_("column {column} {heading}: could be any of {paths}; use the field path as the "
                              "heading, or --map").format(column=letter, heading=quote(text),
                                                           paths=", ".join(sorted(hits))))
            continue
        path = next(iter(hits))
        if path in seen:
            problems.append(_("column {column} {heading}: {path} is already the column {other}").format(
                column=letter, heading=quote(text), path=path, other=quote(seen[path])))
            continue
        seen[path] = text
        if path not in (ID, STATE) and rt.kept(path) and (path not in rt.compute or rt.compute[path].always):
            # kept by qms (a customer's last visit, a compensation's total): written by the
            # records and moves that keep it, or computed again, never taken from a ledger
            notes.append(_("column {column} {heading}: left out (kept by qms)").format(
                column=letter, heading=quote(text)))
            continue
        where[i] = path
    if problems:
        raise BadInput(_("{source}: the headings in row {row} do not fit {type} (map them with --map "
                         "MAP.yaml: {{heading: field.path}})").format(source=ws.source, row=header_number,
                                                                     type=rt.name), details=problems)
    if not data_rows:
        raise BadInput(_("{source}: no rows under the headings in row {row}").format(source=ws.source,
                                                                                     row=header_number))
    rows = []
    for number, cells in data_rows:
        assignments: list[str] = []
        rid = state = None
        for i, path in where.items():
            cell = cells[i] if i < len(cells) else None
            if _blank(cell):
                continue
            if path == ID:
                rid = _text(cell)
            elif path == STATE:
                state = _text(cell)
            else:
                assignments.extend(_assignments(by_path[path], cell))
        rows.append(Row(number, tuple(assignments), rid, state))
    return Ledger(tuple(rows), tuple(notes))


def _blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _text(cell: Any) -> str:
    """A cell as the text of a value, as it would be typed after --set FIELD=."""
    if isinstance(cell, bool):
        return "yes" if cell else "no"
    if isinstance(cell, datetime):
        return cell.isoformat(timespec="seconds") if (cell.hour, cell.minute, cell.second) != (0, 0, 0) \
            else cell.date().isoformat()
    if isinstance(cell, (date, time)):
        return cell.isoformat()
    if isinstance(cell, float) and cell.is_integer() and abs(cell) < 1e15:
        return str(int(cell))
    return str(cell)


def _assignments(col: Column, cell: Any) -> list[str]:
    """FIELD=VALUE for a cell, as `new --set` takes it (one FIELD+=ITEM per line for a
    list of groups)."""
    spec = col.spec
    assert spec is not None
    if spec.type == "datetime" and isinstance(cell, datetime):
        return [f"{col.path}={cell.isoformat(timespec='seconds')}"]
    if spec.type == "datetime" and isinstance(cell, date):
        return [f"{col.path}={datetime.combine(cell, time()).isoformat(timespec='seconds')}"]
    if spec.type == "list" and spec.items is not None and spec.items.type == "object":
        return [f"{col.path}+={line.strip()}" for line in _text(cell).splitlines() if line.strip()]
    return [f"{col.path}={_text(cell)}"]
