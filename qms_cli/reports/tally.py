"""Tallies: a report that counts records instead of listing them, declared as data under
`tally:` in its report file (reports/on-time.yaml, reports/failures.yaml):

    tally:
      each: deadline            # what is counted: `record` (default) or each `deadline` of a record
      by:                       # --by NAME: the keys of a row, the first entry the default
        class: [class, {path: deadline, label: {zh: 时限, en: Time limit}}]
        customer: [customer.name, deadline]
      per_month: {over: [year], label: {zh: 月份, en: Month}}   # --period 2026: the table per month
      columns:                  # what each row says about the items it counts
        - {count: {status: [met]}, label: {zh: 按时完成, en: Met on time}}
        - {percent: {of: [met], over: [met, late]}, label: {zh: 及时率, en: On-time rate}}
        - {share: {}, label: ...}        # the row's count over the table's
        - {cumulative: {}, label: ...}   # the shares so far, in row order (Pareto)
      order: pareto             # largest first count first; default: in the keys' order
      totals: true              # after the rows, one 合计 row per value of the other keys

A key is a field of the record (an enum shown by its label, ordered as declared) or
`deadline` (the time limit's name, shown by its label, in the type's order). An item is a
record, with its state, or one deadline of a record, with its status (met, late, open,
overdue, stopped, as `show` gives it); a count or a percentage picks items by that word.

`items` runs where the record was read (on the worker processes of a large store) and
hands back a few short tuples; `table` adds them up. Pure: no I/O."""

from __future__ import annotations

from collections import Counter
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
MEASURES = ("count", "percent", "share", "cumulative")
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


@dataclass(frozen=True)
class Tally:
    """A report's `tally:` declaration, read and checked against its record type."""

    each: str
    keys: tuple[Key, ...]
    measures: tuple[dict, ...]
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


def parse(rt: RecordType, name: str, raw: Any, by: str | None) -> Tally:
    """The tally of report `name` with the keys `--by` names (the first declared when
    None), checked before any record is read: an unknown --by is refused with the
    report's choices, a malformed declaration with what was expected."""

    def bad(problem: str) -> BadInput:
        return BadInput(_("report '{name}': tally: {problem}").format(name=name, problem=problem))

    if not isinstance(raw, dict) or not isinstance(raw.get("by"), dict) or not raw["by"]:
        raise bad(_("expected by: NAME: [KEY, ...] and columns: [...]"))
    each = str(raw.get("each") or "record")
    if each not in EACH:
        raise bad(_("each is {choices}, not '{each}'").format(choices=" or ".join(EACH), each=each))
    choices = list(raw["by"])
    chosen = choices[0] if by is None else by
    if chosen not in raw["by"]:
        raise BadInput(_("report '{name}': --by '{by}': expected one of {choices}").format(
            name=name, by=by, choices=", ".join(str(c) for c in choices)))
    keys = []
    for k in raw["by"][chosen] or []:
        key = Key(k) if isinstance(k, str) else Key(str(k.get("path", "")), k.get("label")) if isinstance(k, dict) else None
        if key is None or not (key.path == DEADLINE and each == DEADLINE or rt.field(key.path) is not None):
            raise bad(_("key '{key}' is not a field of {type}").format(key=k, type=rt.name))
        keys.append(key)
    if not keys:
        raise bad(_("by {by}: expected at least one key").format(by=chosen))
    measures = tuple(m for m in raw.get("columns") or [] if isinstance(m, dict))
    for m in measures:
        if sum(kind in m for kind in MEASURES) != 1:
            raise bad(_("each column is one of {choices}").format(choices=", ".join(MEASURES)))
    if not any("count" in m for m in measures):
        raise bad(_("expected at least one count column"))
    month = raw.get("per_month") or {}
    over = month.get("over", []) if isinstance(month, dict) else []
    over = [over] if isinstance(over, str) else list(over)
    if any(o not in PERIODS for o in over):
        raise bad(_("per_month over: expected {choices}").format(choices=", ".join(PERIODS)))
    return Tally(
        each=each, keys=tuple(keys), measures=measures, pareto=raw.get("order") == "pareto",
        totals=bool(raw.get("totals")), per_month=tuple(over),
        month_label=month.get("label") if isinstance(month, dict) else None,
    )


def _hashable(value: Any) -> Any:
    """A key value as it travels back from a worker and counts: itself where it can be a
    dictionary key, else its text."""
    if value is None or isinstance(value, (str, int, float, bool, date)):
        return value
    return str(value)


def items(rt: RecordType, tally: Tally, data: Any, month: str, config: Config, now: datetime) -> list[tuple]:
    """What one record adds to the tally: (month, key values..., state or status) once
    for the record, or once for each of its deadlines."""
    fixed = {k.path: _hashable(values.get(data, k.path)) for k in tally.keys if k.path != DEADLINE}
    if tally.each == "record":
        return [(month, *(fixed[k.path] for k in tally.keys), data.get("state"))]
    return [(month, *(d.name if k.path == DEADLINE else fixed[k.path] for k in tally.keys), d.status)
            for d in deadlines(rt, data, config, now)]


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


def _picked(counts: Counter, wanted: Any) -> int:
    """How many items of a row have one of the `wanted` states or statuses (all: {})."""
    if isinstance(wanted, dict):
        wanted = next(iter(wanted.values()), None) if wanted else None
    if wanted is None:
        return sum(counts.values())
    wanted = [wanted] if isinstance(wanted, str) else list(wanted)
    return sum(counts[w] for w in wanted)


def _cells(tally: Tally, counts: Counter, total: int, running: int) -> list[Any]:
    """The measures of one row: counts as numbers, rates and shares as Percent (empty
    where nothing is counted under the line)."""
    out: list[Any] = []
    for m in tally.measures:
        if "count" in m:
            out.append(_picked(counts, m["count"]))
        elif "percent" in m:
            spec = m["percent"] or {}
            over = _picked(counts, spec.get("over"))
            out.append(Percent(_picked(counts, spec.get("of")) / over) if over else "")
        elif "share" in m:
            out.append(Percent(_main(tally, counts) / total) if total else "")
        else:
            out.append(Percent(running / total) if total else "")
    return out


def _main(tally: Tally, counts: Counter) -> int:
    """The row's first count: what a Pareto orders by and a share divides."""
    first = next(m for m in tally.measures if "count" in m)
    return _picked(counts, first["count"])


def table(rt: RecordType, tally: Tally, found: list[tuple], lang: str,
          months: list[str] | None) -> list[tuple[str, list[list[Any]]]]:
    """The groups of the tally (one per month when `months`, else one unnamed), each with
    its rows: key cells shown in `lang`, then the measures."""
    groups: dict[str, dict[tuple, Counter]] = {m: {} for m in months or []}
    for item in found:
        month, keys, what = item[0] if months else "", tuple(item[1:-1]), item[-1]
        groups.setdefault(month, {}).setdefault(keys, Counter())[what] += 1
    out = []
    for month in (months or sorted(groups)):
        rows = groups.get(month, {})
        if not rows:  # a month without records: said with zeros, not left out
            empty = _cells(tally, Counter(), 0, 0)
            out.append((month, [[""] * len(tally.keys) + empty]))
            continue

        def order(keys: tuple) -> list:
            return [_order(rt, k, v) for k, v in zip(tally.keys, keys)]

        ordered = sorted(rows, key=order)
        if tally.pareto:
            ordered.sort(key=lambda keys: -_main(tally, rows[keys]))  # stable: ties in key order
        total = sum(_main(tally, c) for c in rows.values())
        running = 0
        lines = []
        for keys in ordered:
            running += _main(tally, rows[keys])
            lines.append([_shown(rt, k, v, lang) for k, v in zip(tally.keys, keys)]
                         + _cells(tally, rows[keys], total, running))
        if tally.totals:
            sums: dict[tuple, Counter] = {}
            for keys, counts in rows.items():
                sums.setdefault(keys[1:], Counter()).update(counts)
            for rest in sorted(sums, key=lambda r: [_order(rt, k, v) for k, v in zip(tally.keys[1:], r)]):
                cells = _cells(tally, sums[rest], total, 0)
                cells = [c if not isinstance(c, Percent) or not ("cumulative" in m) else ""
                         for c, m in zip(cells, tally.measures)]
                lines.append([words(lang)["total"]] + [_shown(rt, k, v, lang) for k, v in zip(tally.keys[1:], rest)]
                             + cells)
        out.append((month, lines))
    return out
