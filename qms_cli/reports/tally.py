"""Tallies: a report that counts records instead of listing them, declared as data under
`tally:` in its report file (reports/on-time.yaml, reports/failures.yaml):

    tally:
      each: deadline            # what is counted: `record` (default), each `deadline` of a record,
                                # or each item of a list field (`each: items`: every line of a return)
      by:                       # --by NAME: the keys of a row, the first entry the default
        class: [class, {path: deadline, label: {zh: 时限, en: Time limit}}]
        customer: [customer.name, deadline]
      per_month: {over: [year], label: {zh: 月份, en: Month}}   # --period 2026: the table per month
      columns:                  # what each row says about the items it counts
        - {count: {status: [met]}, label: {zh: 按时完成, en: Met on time}}
        - {percent: {of: [met], over: [met, late]}, label: {zh: 及时率, en: On-time rate}}
        - {records: {}, label: ...}      # how many records the row's items come from (退货单数)
        - {sum: {of: items.*.quantity}, label: ...}   # the items' numbers added up (退货数量)
        - {mean: {of: scores.quality, max: 5}, label: ...}  # their average, over `max` a percentage
        - {count: {signed: [reopened]}, label: ...}   # items of records signed with that meaning
        - {share: {}, label: ...}        # the row's first count or sum over the table's
        - {cumulative: {}, label: ...}   # the shares so far, in row order (Pareto)
      order: pareto             # largest first count first; default: in the keys' order
      totals: true              # after the rows, one 合计 row per value of the other keys

A key is a field of the record (an enum shown by its label, ordered as declared),
`deadline` (the time limit's name, shown by its label, in the type's order), or with
`each: LIST` a field of the list's item (`items.*.disposition`). An item is a record, with
its state, one deadline of a record, with its status (met, late, open, overdue, stopped, as
`show` gives it), or one item of a list, with its record's state; a count, a sum or a
percentage picks items by that word ({state: [...]} or {status: [...]}), or by a meaning
its record was signed with ({signed: [...]}: the CAPAs ever reopened).

`items` runs where the record was read (on the worker processes of a large store) and
hands back a few short tuples; `table` adds them up. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from datetime import date, datetime
from typing import Any

from ..config import Config
from ..deadlines import deadlines
from ..errors import BadInput
from ..i18n import _
from ..model import values
from ..model.declaration import RecordType
from ..views import shown
from ..wording import words

DEADLINE = "deadline"  # the key that names a deadline, not a field
EACH = ("record", DEADLINE)
MEASURES = ("count", "records", "sum", "mean", "percent", "share", "cumulative")
AMOUNTS = ("count", "records", "sum")  # what a row is ordered by and a share divides: the first of these
PERIODS = ("year", "quarter", "month")


class Percent(float):
    """A share or a rate between 0 and 1: shown as 83.3%, written to xlsx as a number
    with a percentage format."""

    def __str__(self) -> str:
        # half up, as Excel shows the same cell (6.25% is 6.3%, not Python's 6.2%)
        return f"{Decimal(repr(self * 100)).quantize(Decimal('0.1'), ROUND_HALF_UP)}%"


@dataclass(frozen=True)
class Key:
    """One key of a tally's rows: a field path, or `deadline`, and its header."""

    path: str
    label: Any = None
    known_as: str | None = None  # `as: customer`: free text matched to the record known by it


@dataclass(frozen=True)
class Tally:
    """A report's `tally:` declaration, read and checked against its record type."""

    each: str
    keys: tuple[Key, ...]
    measures: tuple[dict, ...]
    sums: tuple[str, ...]  # the path each `sum` and `mean` column adds up, in column order
    money: tuple[bool, ...]  # for each of `sums`, whether it is an amount of money (exact)
    signed: bool  # whether a column picks items by a meaning their record was signed with
    pareto: bool
    totals: bool
    per_month: tuple[str, ...]  # the kinds of --period split into months
    month_label: Any

    def by_month(self, period: str | None) -> bool:
        """Whether a --period of this kind is shown month by month."""
        return period is not None and period_kind(period) in self.per_month


def period_kind(period: str) -> str:
    """year, quarter or month: what a --period that parse_period accepted spans."""
    text = period.strip()
    return "quarter" if "-Q" in text.upper() else "month" if "-" in text else "year"


def parse(rt: RecordType, name: str, raw: Any, by: str | None, views: list[str] = ()) -> Tally:
    """The tally of report `name` with the keys `--by` names (the first declared when
    None; the report's other `views` are named with the choices), checked before any record is read: an unknown --by is refused with the
    report's choices, a malformed declaration with what was expected."""

    def bad(problem: str) -> BadInput:
        return BadInput(_("report '{name}': tally: {problem}").format(name=name, problem=problem))

    if not isinstance(raw, dict) or not isinstance(raw.get("by"), dict) or not raw["by"]:
        raise bad(_("expected by: NAME: [KEY, ...] and columns: [...]"))
    each = str(raw.get("each") or "record")
    if each not in EACH and not is_list(rt, each):
        raise bad(_("each is {choices} or a list field of {type}, not '{each}'").format(
            choices=", ".join(EACH), type=rt.name, each=each))
    choices = list(raw["by"])
    chosen = choices[0] if by is None else by
    if chosen not in raw["by"]:
        raise BadInput(_("report '{name}': --by '{by}': expected one of {choices}").format(
            name=name, by=by, choices=", ".join(str(c) for c in [*choices, *views])))
    keys = []
    for k in raw["by"][chosen] or []:
        key = Key(k) if isinstance(k, str) else Key(str(k.get("path", "")), k.get("label"), k.get("as")) \
            if isinstance(k, dict) else None
        if key is None or not _known(rt, each, key.path, DEADLINE):
            raise bad(_("key '{key}' is not a field of {type}").format(key=k, type=rt.name))
        keys.append(key)
    if not keys:
        raise bad(_("by {by}: expected at least one key").format(by=chosen))
    measures = tuple(m for m in raw.get("columns") or [] if isinstance(m, dict))
    sums = []
    for m in measures:
        if sum(kind in m for kind in MEASURES) != 1:
            raise bad(_("each column is one of {choices}").format(choices=", ".join(MEASURES)))
        for kind in ("sum", "mean"):
            if kind not in m:
                continue
            of = (m[kind] or {}).get("of") if isinstance(m[kind], dict) else None
            spec = rt.field(str(of)) if isinstance(of, str) and _known(rt, each, of, None) else None
            if spec is None or spec.type not in ("int", "number", "money"):
                raise bad(_("{kind}: expected {{of: FIELD}}, a number field of {type}, not '{of}'").format(
                    kind=kind, type=rt.name, of=of))
            top = m[kind].get("max")
            if top is not None and (isinstance(top, bool) or not isinstance(top, (int, float)) or top <= 0):
                raise bad(_("{kind}: max is the most a value can be, a number above 0, not '{max}'").format(
                    kind=kind, max=top))
            sums.append(of)
    if not any(kind in m for m in measures for kind in AMOUNTS):
        raise bad(_("expected at least one count, records or sum column"))
    month = raw.get("per_month") or {}
    over = month.get("over", []) if isinstance(month, dict) else []
    over = [over] if isinstance(over, str) else list(over)
    if any(o not in PERIODS for o in over):
        raise bad(_("per_month over: expected {choices}").format(choices=", ".join(PERIODS)))
    signed = any(isinstance(m.get(kind), dict) and "signed" in m[kind] for m in measures for kind in AMOUNTS)
    return Tally(
        each=each, keys=tuple(keys), measures=measures, sums=tuple(sums), signed=signed,
        money=tuple(rt.field(p).type == "money" for p in sums),
        pareto=raw.get("order") == "pareto",
        totals=bool(raw.get("totals")), per_month=tuple(over),
        month_label=month.get("label") if isinstance(month, dict) else None,
    )


def _hashable(value: Any) -> Any:
    """A key value as it travels back from a worker and counts: itself where it can be a
    dictionary key, else its text."""
    if value is None or isinstance(value, (str, int, float, bool, date)):
        return value
    return str(value)


def is_list(rt: RecordType, path: str) -> bool:
    """Whether `path` is a list field whose items have fields (a return's items, a CAPA's
    actions): what `each:` may count or list item by item."""
    spec = rt.field(path)
    return spec is not None and spec.type == "list" and spec.items is not None and spec.items.type == "object"


def _known(rt: RecordType, each: str, path: str, deadline: str | None) -> bool:
    """Whether a key or a summed path names something an item has: a field of the
    record, `deadline` when deadlines are counted, or a field of a counted list's item."""
    if path == deadline and each == DEADLINE:
        return True
    if "*" in path:
        return path.startswith(f"{each}.*.") and rt.field(path) is not None
    return rt.field(path) is not None


def _at(data: Any, item: Any, each: str, path: str) -> Any:
    """The value of `path` for one item: a field of the list item (`items.*.batch`), or of
    its record."""
    if item is not None and path.startswith(f"{each}.*."):
        return values.get(item, path[len(each) + 3:])
    return values.get(data, path)


def _number(value: Any, money: bool = False) -> Any:
    """A summed value as a number (an amount of money as an exact Decimal, however it is
    written); None for what is not one, which adds nothing and is not averaged (validate
    reports it)."""
    if money or isinstance(value, str):
        return values.money(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not values.number_in_bounds(value):
        return None
    return value


def items(rt: RecordType, tally: Tally, data: Any, month: str, config: Config, now: datetime) -> list[tuple]:
    """What one record adds to the tally: (month, key values..., state or status, record
    ID, meanings signed, summed values...) once for the record, once for each of its
    deadlines, or once for each item of the counted list."""
    rid = str(data.get("id"))
    signed: tuple = ()
    if tally.signed:
        sigs = data.get("signatures")
        signed = tuple(sorted({str(s.get("meaning")) for s in sigs if isinstance(s, dict)})) if isinstance(sigs, list) else ()
    if tally.each == DEADLINE:
        fixed = [_hashable(values.get(data, k.path)) if k.path != DEADLINE else None for k in tally.keys]
        amounts = [_number(values.get(data, p), m) for p, m in zip(tally.sums, tally.money)]
        return [(month, *(d.name if k.path == DEADLINE else f for k, f in zip(tally.keys, fixed)), d.status, rid,
                 signed, *amounts)
                for d in deadlines(rt, data, config, now)]
    if tally.each == "record":
        listed: list = [None]
    else:
        found = values.get(data, tally.each)
        listed = [i for i in found if isinstance(i, dict)] if isinstance(found, list) else []
    state = data.get("state")
    return [(month, *(_hashable(_at(data, item, tally.each, k.path)) for k in tally.keys), state, rid, signed,
             *(_number(_at(data, item, tally.each, p), m) for p, m in zip(tally.sums, tally.money)))
            for item in listed]


def _label(label: Any, lang: str, default: str) -> str:
    if isinstance(label, dict):
        return str(label.get(lang) or label.get("en") or default)
    return str(label) if label else default


def headers(rt: RecordType, tally: Tally, lang: str) -> list[str]:
    """The column headers: the keys' (a field's label unless the key names its own), then
    the declared columns'."""
    heads = [_label(k.label, lang, k.path if k.path == DEADLINE else rt.label_of(k.path, lang)) for k in tally.keys]
    kinds = [next(kind for kind in MEASURES if kind in m) for m in tally.measures]
    return heads + [_label(m.get("label"), lang, kind) for m, kind in zip(tally.measures, kinds)]


def month_header(tally: Tally, lang: str) -> str:
    """The header of the month column (月份, Month unless declared otherwise)."""
    return _label(tally.month_label, lang, "月份" if lang == "zh" else "Month")


def months_of(first: date, last: date) -> list[str]:
    """Every month from `first` to `last` as YYYY-MM."""
    out, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _order(rt: RecordType, key: Key, value: Any) -> tuple:
    """Where a key value sorts: an enum's values and the deadlines as declared, then
    other values as text; an empty value last."""
    if values.is_empty(value):
        return (2, "")
    if key.path == DEADLINE:
        names = [d.name for d in rt.deadlines]
        return (0, names.index(value)) if value in names else (1, str(value))
    spec = rt.field(key.path)
    if spec is not None and spec.type == "enum" and str(value) in spec.values:
        return (0, list(spec.values).index(str(value)))
    return (1, str(value))


def _shown(rt: RecordType, key: Key, value: Any, lang: str) -> str:
    if values.is_empty(value):
        return ""
    if key.path == DEADLINE:
        spec = next((d for d in rt.deadlines if d.name == value), None)
        return _label(spec.label if spec else None, lang, str(value))
    fs = rt.field(key.path)
    return shown(fs, value, lang) if fs is not None else str(value)


class _Tag:
    """What the items of a row with one tag (a state or status, or a meaning signed) add
    up to: how many, from which records, and each sum column's total."""

    __slots__ = ("count", "ids", "sums", "ns")

    def __init__(self, n: int) -> None:
        self.count, self.ids, self.sums, self.ns = 0, set(), [0] * n, [0] * n  # ns: how many values each sum has


class _Row(dict):
    """The items of one row, by tag: ("what", state or status) and ("signed", meaning)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def add(self, what: Any, rid: str, signed: tuple, amounts: tuple) -> None:
        for tag in (("what", what), *(("signed", m) for m in signed)):
            t = self.get(tag) or self.setdefault(tag, _Tag(self.n))
            t.count += 1
            t.ids.add(rid)
            for i, a in enumerate(amounts):
                if a is not None:
                    t.sums[i] += a
                    t.ns[i] += 1

    def merge(self, other: "_Row") -> None:
        for tag, o in other.items():
            t = self.get(tag) or self.setdefault(tag, _Tag(self.n))
            t.count += o.count
            t.ids |= o.ids
            t.sums = [a + b for a, b in zip(t.sums, o.sums)]
            t.ns = [a + b for a, b in zip(t.ns, o.ns)]

    def picked(self, wanted: Any) -> list[_Tag]:
        """The tags of the items `wanted` picks: {} all; [names] or {state|status: [names]}
        by state or status; {signed: [meanings]} by a meaning signed."""
        kind = "what"
        if isinstance(wanted, dict):
            chosen = [(k, v) for k, v in wanted.items() if k not in ("of", "max")]
            kind, wanted = ("signed" if chosen[0][0] == "signed" else "what", chosen[0][1]) if chosen else ("what", None)
        if wanted is None:
            return [t for (k, _w), t in self.items() if k == "what"]
        wanted = [wanted] if isinstance(wanted, str) else list(wanted)
        return [self[(kind, w)] for w in wanted if (kind, w) in self]


def _amount(tally: Tally, row: _Row, m: dict) -> int | float:
    """A count, records or sum column's value for one row."""
    if "count" in m:
        return sum(t.count for t in row.picked(m["count"]))
    if "records" in m:
        return len(set().union(*(t.ids for t in row.picked(m["records"]))))
    i = _index(tally, m)
    return sum(t.sums[i] for t in row.picked(m["sum"]))


def _index(tally: Tally, m: dict) -> int:
    """Where a sum or mean column's values are among an item's summed values."""
    return [j for j, other in enumerate(x for x in tally.measures if "sum" in x or "mean" in x) if other is m][0]


def _mean(tally: Tally, row: _Row, m: dict) -> Any:
    """A mean column's value: the average of the values the row's items have, as a
    Percent of `max` where it is given, else to two places; empty where none has one."""
    i = _index(tally, m)
    tags = row.picked(m["mean"])
    n = sum(t.ns[i] for t in tags)
    if not n:
        return ""
    avg = sum(t.sums[i] for t in tags) / n
    top = m["mean"].get("max")
    return Percent(float(avg) / top) if top else round(float(avg), 2)


def _cells(tally: Tally, row: _Row, total: int | float, running: int | float) -> list[Any]:
    """The measures of one row: counts and sums as numbers, rates and shares as Percent
    (empty where nothing is counted under the line)."""
    out: list[Any] = []
    for m in tally.measures:
        if any(kind in m for kind in AMOUNTS):
            out.append(_amount(tally, row, m))
        elif "mean" in m:
            out.append(_mean(tally, row, m))
        elif "percent" in m:
            spec = m["percent"] or {}
            over = sum(t.count for t in row.picked(spec.get("over")))
            out.append(Percent(sum(t.count for t in row.picked(spec.get("of"))) / over) if over else "")
        elif "share" in m:
            out.append(Percent(_main(tally, row) / total) if total else "")
        else:
            out.append(Percent(running / total) if total else "")
    return out


def _main(tally: Tally, row: _Row) -> int | float:
    """The row's first count, records or sum: what a Pareto orders by and a share divides."""
    return _amount(tally, row, next(m for m in tally.measures if any(kind in m for kind in AMOUNTS)))


def table(rt: RecordType, tally: Tally, found: list[tuple], lang: str,
          months: list[str] | None) -> list[tuple[str, list[list[Any]]]]:
    """The groups of the tally (one per month when `months`, else one unnamed), each with
    its rows: key cells shown in `lang`, then the measures."""
    n = len(tally.sums)
    width = len(tally.keys)
    groups: dict[str, dict[tuple, _Row]] = {m: {} for m in months or []}
    for item in found:
        month, keys = item[0] if months else "", tuple(item[1:1 + width])
        what, rid, signed = item[1 + width:4 + width]
        row = groups.setdefault(month, {}).get(keys)
        if row is None:
            row = groups[month][keys] = _Row(n)
        row.add(what, rid, signed, item[4 + width:])
    out = []
    for month in (months or sorted(groups)):
        rows = groups.get(month, {})
        if not rows:  # a month without records: said with zeros, not left out
            empty = _cells(tally, _Row(n), 0, 0)
            out.append((month, [[""] * len(tally.keys) + empty]))
            continue

        def order(keys: tuple) -> list:
            return [_order(rt, k, v) for k, v in zip(tally.keys, keys)]

        ordered = sorted(rows, key=order)
        if tally.pareto:
            ordered.sort(key=lambda keys: -_main(tally, rows[keys]))  # stable: ties in key order
        total = sum(_main(tally, r) for r in rows.values())
        running = 0
        lines = []
        for keys in ordered:
            running += _main(tally, rows[keys])
            lines.append([_shown(rt, k, v, lang) for k, v in zip(tally.keys, keys)]
                         + _cells(tally, rows[keys], total, running))
        if tally.totals:
            sums: dict[tuple, _Row] = {}
            for keys, row in rows.items():
                (sums.get(keys[1:]) or sums.setdefault(keys[1:], _Row(n))).merge(row)
            for rest in sorted(sums, key=lambda r: [_order(rt, k, v) for k, v in zip(tally.keys[1:], r)]):
                cells = _cells(tally, sums[rest], total, 0)
                cells = [c if not isinstance(c, Percent) or not ("cumulative" in m) else ""
                         for c, m in zip(cells, tally.measures)]
                lines.append([words(lang)["total"]] + [_shown(rt, k, v, lang) for k, v in zip(tally.keys[1:], rest)]
                             + cells)
        out.append((month, lines))
    return out
