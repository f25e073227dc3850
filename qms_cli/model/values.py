"""Field values: dotted paths into a record, reading a command-line VALUE as the field's
type, checking stored values against their declaration, and evaluating requirements.
Pure functions; the mappings may be plain dicts or ruamel's round-trip maps."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timezone, tzinfo
from decimal import Decimal
from typing import Any, Iterator, NamedTuple

from ..errors import BadInput, Severity
from ..i18n import N_, _
from ..suggest import choice, did_you_mean
from ..text import controls, quote
from .declaration import ENVELOPE_KEYS, FieldSpec, RecordType

_MISSING = object()
TRUE_WORDS = {"true", "yes", "y", "1", "on", "是", "对"}
FALSE_WORDS = {"false", "no", "n", "0", "off", "否", "不"}
EDITION = re.compile(r"^[A-Z]/\d+$")
# The bounds of values every command can compute with, print and export: a whole number
# of at most 15 digits (what a spreadsheet holds exactly), a finite number below 10^15,
# and days from 1900 to 2999 (deadlines and time zones are worked out on them).
INT_LIMIT = 10**15 - 1
NUMBER_LIMIT = 1e15
DAY_MIN = date(1900, 1, 1)
DAY_MAX = date(2999, 12, 31)
BOUNDS = (
    f"whole numbers up to {INT_LIMIT:,} either way, numbers below 10^15, "
    f"dates from {DAY_MIN} to {DAY_MAX}"
)
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.([A-Za-z_][A-Za-z0-9_]*|\d+))*$")


def is_empty(value: Any) -> bool:
    """Whether a value counts as not filled in: missing, None, '' or an empty list or mapping."""
    return value is None or value is _MISSING or value == "" or value == [] or value == {}


def signatures(data: Any) -> list[dict]:
    """The well-formed signatures of a record (a hand-broken list is validate's to report)."""
    sigs = data.get("signatures") if isinstance(data, dict) else None
    return [s for s in sigs if isinstance(s, dict)] if isinstance(sigs, list) else []


def check_path(path: str) -> None:
    """Refuse (BadInput) anything but a dotted field path such as customer.name or d4.root_cause."""
    if not _PATH.match(path):
        raise BadInput(_("'{path}': expected a field path such as customer.name or d4.root_cause").format(path=path))


def get(data: Any, path: str, default: Any = None) -> Any:
    """The value at dotted `path` (keys, list indexes), `default` where the path leads nowhere."""
    cur = data
    for part in path.split("."):
        if isinstance(cur, dict):
            if part not in cur:
                return default
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit():
            idx = int(part)
            if idx >= len(cur):
                return default
            cur = cur[idx]
        else:
            return default
    return cur


def put(data: Any, path: str, value: Any, *, append: bool = False, new_map=dict) -> None:
    """Set `path` in `data`, creating mappings on the way; `append` adds to a list."""
    parts = path.split(".")
    cur = data
    for i, part in enumerate(parts[:-1]):
        nxt = parts[i + 1]
        if isinstance(cur, list):
            idx = int(part)
            if idx >= len(cur):
                raise BadInput(_("{path}: the list has only {n} items").format(path=".".join(parts[: i + 1]), n=len(cur)))
            cur = cur[idx]
            continue
        if part not in cur or cur[part] is None:
            cur[part] = [] if nxt.isdigit() else new_map()
        cur = cur[part]
        if not isinstance(cur, (dict, list)):
            raise BadInput(_("{path}: holds a value, not a group of fields").format(path=".".join(parts[: i + 1])))
    last = parts[-1]
    if isinstance(cur, list):
        idx = int(last)
        if idx >= len(cur):
            raise BadInput(_("{path}: the list has only {n} items").format(path=path, n=len(cur)))
        cur[idx] = value
    elif append:
        existing = cur.get(last)
        if existing is None:
            cur[last] = [value]
        elif isinstance(existing, list):
            existing.append(value)
        else:
            raise BadInput(_("{path}: '+=' appends to a list, but the field holds a single value").format(path=path))
    else:
        cur[last] = value


# ----------------------------------------------------------------------------- parsing input


def parse_datetime(text: str, tz: tzinfo) -> datetime:
    """ISO 8601 date-time (T or space, seconds and offset optional); naive means store time."""
    s = text.strip().replace(" ", "T", 1) if "T" not in text else text.strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(_("expected a date and time such as 2026-03-02T09:15")) from None
    if "T" not in s:  # a bare date (2026-03-02, 20260302) is not a moment
        raise ValueError(_("expected a date and time such as 2026-03-02T09:15, not only a date"))
    return value if value.tzinfo else value.replace(tzinfo=tz)


def parse_date(text: str) -> date:
    """An ISO date such as 2026-03-02; anything else raises ValueError saying so."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(_("expected a date such as 2026-03-02")) from None


def to_datetime(value: Any, tz: tzinfo) -> datetime | None:
    """A stored date-time (datetime object or ISO text) as an aware datetime, else None
    (also for one outside 1900..2999, which validate reports and nothing computes with)."""
    moment = _as_datetime(value, tz)
    return None if moment is None or day_out_of_bounds(moment) else moment


def _as_datetime(value: Any, tz: tzinfo) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime.combine(value, time(), tz)
    if isinstance(value, str):
        try:
            return parse_datetime(value, tz)
        except ValueError:
            return None
    return None


def to_date(value: Any) -> date | None:
    """A stored date (or the day of a date-time) as a date, else None (also for one outside
    1900..2999)."""
    day = _as_date(value)
    return None if day is None or day_out_of_bounds(day) else day


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return parse_date(value)
        except ValueError:
            return None
    return None


# ------------------------------------------------------- when a signed act happened (补录)

PAPER_TIME = "a date such as 2026-10-15, or a date and time such as 2026-10-15T14:30"
# what a paper time that is neither says it expected (translated where it is used)
EXPECTED_PAPER_TIME = N_("expected a date such as 2026-10-15, or a date and time such as 2026-10-15T14:30")


def parse_paper_time(text: str, tz: tzinfo) -> date | datetime:
    """When an act happened on paper, as typed (`--on`): a date alone stays a date (that
    whole day); a date and time is a moment in the store's time zone (or the offset given)."""
    s = text.strip()
    value: date | datetime
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
            value = parse_date(s)
        elif re.match(r"\d{4}-\d{2}-\d{2}[T ]\d", s):
            value = parse_datetime(s, tz).replace(microsecond=0)
        else:
            raise ValueError
    except (ValueError, OverflowError):
        raise ValueError(_(EXPECTED_PAPER_TIME)) from None
    _day_in_bounds(value)
    return value.astimezone(tz) if isinstance(value, datetime) else value


def paper_time(sig: Any, tz: tzinfo | None) -> date | datetime | None:
    """The paper time `on` of a signature entered afterwards (补录): a date, or an aware
    date-time; None for an act signed as it happened (and for an `on` that is not a date
    or date-time from 1900 to 2999, which validate reports)."""
    on = sig.get("on") if isinstance(sig, dict) else None
    if isinstance(on, datetime):
        return to_datetime(on, tz or timezone.utc)
    if isinstance(on, date):
        return to_date(on)
    return None


def acted(sig: Any, tz: tzinfo | None) -> date | datetime | None:
    """When a signed act happened, as precisely as it is known: its paper time (a date,
    or a date-time) if it was entered afterwards, else its signing time `at`."""
    if not isinstance(sig, dict):
        return None
    return paper_time(sig, tz) or to_datetime(sig.get("at"), tz or timezone.utc)


def acted_at(sig: Any, tz: tzinfo | None) -> datetime | None:
    """When a signed act happened, as a moment (what deadlines and orderings use): a paper
    date alone counts from the start of that day, as a date that meets a deadline does."""
    when = acted(sig, tz)
    return None if when is None else _moment(when, tz)


def acted_on(sig: Any, tz: tzinfo | None) -> date | None:
    """The day a signed act happened (in the store's time zone): what role terms and
    date rules (`signed:MEANING`) are checked on."""
    return day_of(acted(sig, tz), tz)


def day_of(value: date | datetime | None, tz: tzinfo | None) -> date | None:
    """The day of a date-time in the store's time zone `tz` (a date as it is, None as None)."""
    if isinstance(value, datetime):
        return (value.astimezone(tz) if tz else value).date()
    return value


def _moment(value: date | datetime, tz: tzinfo | None) -> datetime:
    return value if isinstance(value, datetime) else datetime.combine(value, time(), tz or timezone.utc)


def later(a: date | datetime, b: date | datetime, tz: tzinfo | None) -> bool:
    """Whether `a` is later than `b`. A date alone is that whole day: against a date, or a
    time on that day, it is neither earlier nor later."""
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a > b
    return day_of(a, tz) > day_of(b, tz)


def shown_time(value: date | datetime | None, tz: tzinfo | None) -> str:
    """A date as 2026-10-15, a moment as 2026-10-15 14:30 in the store's time zone."""
    if isinstance(value, datetime):
        return (value.astimezone(tz) if tz else value).strftime("%Y-%m-%d %H:%M")
    return value.isoformat() if isinstance(value, date) else ""


def paper_time_problem(on: date | datetime, at: datetime | None, earlier: list[tuple[str, date | datetime]],
                       tz: tzinfo | None) -> str | None:
    """Why `on` cannot be when a signed act happened on paper, or None: it is after the
    act was signed (`at`), or before an earlier event of the record (`earlier`: (what,
    when), e.g. the date it was received, the effective time of an earlier signature)."""
    if at is not None and later(on, at, tz):
        return _("is later than its signing time, {time}").format(time=shown_time(at, tz))
    before = [(what, when) for what, when in earlier if later(when, on, tz)]
    if before:
        what, when = max(before, key=lambda e: _moment(e[1], tz))
        return _("is before {what}, {time}").format(what=what, time=shown_time(when, tz))
    return None


def coerce(spec: FieldSpec, raw: str, tz: tzinfo) -> Any:
    """Read a command-line VALUE as the declared type; ValueError says what was expected."""
    kind = spec.type
    text = raw.strip()
    if kind in ("text", "file", "ref", "email"):
        if kind == "file":
            check_file_path(text)
        if kind == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+", text):
            raise ValueError(_("expected an e-mail address"))
        return raw
    if text == "":
        return None
    if kind == "int":
        if not re.fullmatch(r"[+-]?\d+", text):
            raise ValueError(_("expected a whole number"))
        if len(text.lstrip("+-").lstrip("0")) > 15:
            raise ValueError(_("expected a whole number of at most 15 digits (up to {limit:,})").format(limit=INT_LIMIT))
        return _bounded(spec, int(text))
    if kind == "number":
        if len(text) > 40:
            raise ValueError(_("expected a number"))
        try:
            n = float(text) if "." in text or "e" in text.lower() else int(text)
        except ValueError:
            raise ValueError(_("expected a number")) from None
        if not number_in_bounds(n):
            raise ValueError(_("expected a number below 10^15 (not infinity or NaN)"))
        return _bounded(spec, n)
    if kind == "money":
        amount = money(re.sub(r"[,，\s]", "", text).lstrip("¥￥"))
        if amount is None:
            raise ValueError(_("expected an amount such as 1234.50 (at most two decimal places)"))
        _bounded(spec, amount)
        return str(amount)  # written as text, so that no reader takes it for a binary float
    if kind == "bool":
        low = text.lower()
        if low in TRUE_WORDS:
            return True
        if low in FALSE_WORDS:
            return False
        raise ValueError(_("expected yes or no (true/false)"))
    if kind == "date":
        return _day_in_bounds(parse_date(text))
    if kind == "datetime":
        return _day_in_bounds(parse_datetime(text, tz).replace(microsecond=0))
    if kind == "enum":
        key = enum_key(spec, text)
        if key is None:

            words = [*spec.values, *(w for labels in spec.values.values() if isinstance(labels, dict)
                                     for w in labels.values())]
            raise ValueError(_("expected one of {choices}{hint}").format(
                choices=", ".join(spec.values), hint=did_you_mean(text, words)))
        return key
    if kind == "edition":
        if not EDITION.match(text.upper()):
            raise ValueError(_("expected an edition such as A/0 (letter = edition, number = modification)"))
        return text.upper()
    raise ValueError(_("a {kind} is set field by field (e.g. {name}.<field>=...)").format(kind=kind, name=spec.name))


# an amount of money: at most 13 digits before the point and two after (元.角分)
_MONEY = re.compile(r"[+-]?\d{1,13}(?:\.\d{1,2})?")
CENT = Decimal("0.01")


def money(value: Any) -> Decimal | None:
    """An amount of money as an exact Decimal with two places: from the text qms writes
    ('1234.50'), or a number written by hand (1234.5, 800); None for anything else (a
    third decimal place, a word, yes/no). Never through a float's binary value: 0.1 is 0.10."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        text = repr(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        return None
    if not _MONEY.fullmatch(text):
        return None
    return Decimal(text).quantize(CENT)


def number_in_bounds(n: Any) -> bool:
    """Whether a number is one every command can compute with: a whole number of at most 15
    digits, or a finite number below 10^15."""
    if isinstance(n, int):
        return -INT_LIMIT <= n <= INT_LIMIT
    return n == n and -NUMBER_LIMIT < n < NUMBER_LIMIT  # n != n: NaN


def _day_in_bounds(value):
    day = value.date() if isinstance(value, datetime) else value
    if not DAY_MIN <= day <= DAY_MAX:
        raise ValueError(_("expected a date from {first} to {last}").format(first=DAY_MIN.year, last=DAY_MAX.year))
    return value


def day_out_of_bounds(value: Any) -> bool:
    """Whether a stored date or date-time lies outside 1900..2999."""
    day = value.date() if isinstance(value, datetime) else value if isinstance(value, date) else None
    return day is not None and not DAY_MIN <= day <= DAY_MAX


def text_problem(text: str) -> str | None:
    """Why `text` may not be stored (a control character), or None."""
    found = controls(text)
    if found is None:
        return None
    pos, name = found
    return _("contains the control character {name} at position {position}; remove it "
             "(only text, tabs and line breaks are kept)").format(name=name, position=pos + 1)


def text_problems(data: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(path, message) for every key or text anywhere in `data` that holds a control
    character (a terminal escape sequence, a direction override), which qms refuses."""
    stack = [(prefix, data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                yield path or _("(record)"), problem
        elif isinstance(value, dict):
            for k, v in value.items():
                key = str(k)
                sub = f"{path}.{key}" if path else key
                if isinstance(k, str) and controls(k):
                    yield sub, _("the field name {problem}").format(problem=text_problem(key))
                    continue
                stack.append((sub, v))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                stack.append((f"{path}.{i}" if path else str(i), v))


def _bounded(spec: FieldSpec, n: int | float) -> int | float:
    if spec.min is not None and n < spec.min:
        raise ValueError(_("expected at least {min:g}").format(min=spec.min))
    if spec.max is not None and n > spec.max:
        raise ValueError(_("expected at most {max:g}").format(max=spec.max))
    return n


def enum_key(spec: FieldSpec, text: str) -> str | None:
    """The value of an enum field that `text` names: the value itself, or its label in
    any language as the form prints it (严重投诉, Serious complaint); None if neither."""

    return choice(text, spec.values)


def check_file_path(text: str) -> None:
    """Attached files live under files/ in the store; nothing may point outside it."""
    p = text.replace("\\", "/")
    if not p.startswith("files/") or ".." in p.split("/") or p.endswith("/"):
        raise ValueError(_("expected a path under files/, such as files/complaint/letter.pdf"))


# ------------------------------------------------------------------------ checking records


class Problem(NamedTuple):
    """What a value check found: the field's path, the sentence, and how much it weighs (a
    field the type does not declare is a warning; the rest are errors)."""

    path: str
    message: str
    severity: Severity = Severity.ERROR


def check_value(spec: FieldSpec, value: Any, path: str) -> Iterator[Problem]:
    """(path, message) for each way `value` does not fit `spec`. Empty values fit."""
    if value is None:
        return
    kind = spec.type
    if kind in ("text", "ref", "email"):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            yield Problem(path, _("expected text"))
    elif kind == "file":
        if not isinstance(value, str):
            yield Problem(path, _("expected a file path under files/"))
        else:
            try:
                check_file_path(value)
            except ValueError as e:
                yield Problem(path, str(e))
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            yield Problem(path, _("expected a whole number"))
        elif not number_in_bounds(value):
            yield Problem(path, _("expected a whole number of at most 15 digits (up to {limit:,})").format(limit=INT_LIMIT))
        else:
            yield from _bounds(spec, value, path)
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            yield Problem(path, _("expected a number"))
        elif not number_in_bounds(value):
            yield Problem(path, _("expected a number below 10^15 (not infinity or NaN)"))
        else:
            yield from _bounds(spec, value, path)
    elif kind == "money":
        amount = money(value)
        if amount is None:
            yield Problem(path, _("expected an amount such as 1234.50 (at most two decimal places)"))
        else:
            yield from _bounds(spec, amount, path)
    elif kind == "bool":
        if not isinstance(value, bool):
            yield Problem(path, _("expected true or false"))
    elif kind == "date":
        if isinstance(value, datetime) or _as_date(value) is None:
            yield Problem(path, _("expected a date such as 2026-03-02"))
        elif day_out_of_bounds(_as_date(value)):
            yield Problem(path, _("expected a date from {first} to {last}").format(first=DAY_MIN.year, last=DAY_MAX.year))
    elif kind == "datetime":
        if isinstance(value, date) and not isinstance(value, datetime):
            yield Problem(path, _("expected a date and time such as 2026-03-02T09:15, not only a date"))
        elif _as_datetime(value, timezone.utc) is None:
            yield Problem(path, _("expected a date and time such as 2026-03-02T09:15"))
        elif day_out_of_bounds(_as_datetime(value, timezone.utc)):
            yield Problem(path, _("expected a date from {first} to {last}").format(first=DAY_MIN.year, last=DAY_MAX.year))
    elif kind == "edition":
        if not isinstance(value, str) or not EDITION.match(value):
            yield Problem(path, _("{value} is not an edition such as A/0").format(value=quote(value)))
    elif kind == "enum":
        if not isinstance(value, str) or value not in spec.values:
            yield Problem(path, _("{value} is not one of {choices}").format(value=quote(value), choices=", ".join(spec.values)))
    elif kind == "list":
        if not isinstance(value, list):
            yield Problem(path, _("expected a list"))
        elif spec.items is not None:
            for i, item in enumerate(value):
                yield from check_value(spec.items, item, f"{path}.{i}")
    elif kind == "object":
        if not isinstance(value, dict):
            yield Problem(path, _("expected a group of fields"))
        else:
            yield from check_fields(spec.fields, value, path + ".")


def _bounds(spec: FieldSpec, n: float, path: str) -> Iterator[Problem]:
    if spec.min is not None and n < spec.min:
        yield Problem(path, _("expected at least {min:g}").format(min=spec.min))
    if spec.max is not None and n > spec.max:
        yield Problem(path, _("expected at most {max:g}").format(max=spec.max))


# what check_fields says of a field the type does not declare: a warning for validate,
# kept as it is when a record is changed
UNKNOWN_FIELD = N_("unknown field (not declared for this record type)")


def check_fields(
    fields: dict[str, FieldSpec], data: dict, prefix: str = "", *, envelope: bool = False
) -> Iterator[Problem]:
    """A problem for each stored field that does not fit its declaration; a field the type
    does not declare is a warning. With `envelope`, the envelope keys are skipped."""
    for key, value in data.items():
        if envelope and key in ENVELOPE_KEYS:
            continue
        spec = fields.get(str(key))
        if spec is None:
            yield Problem(f"{prefix}{key}", _(UNKNOWN_FIELD), Severity.WARNING)
            continue
        yield from check_value(spec, value, f"{prefix}{key}")


def record_title(rt: RecordType, data: Any, width: int = 60) -> str:
    """The record's title (its type's `title_field`) on one line, cut to `width`
    characters with …; '' when there is none."""
    value = get(data, rt.title_field) if rt.title_field else None
    text = " ".join(str(value or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def walk(fields: dict[str, FieldSpec], data, prefix=""):
    """(path, spec, value) for every filled-in leaf value of `data` under the declared
    `fields` (list items as path[i]); what the checks and the write path both walk."""
    if not isinstance(data, dict):
        return
    for key, spec in fields.items():
        value = data.get(key)
        if value is None:
            continue
        path = f"{prefix}{key}"
        if spec.type == "object":
            yield from walk(spec.fields, value, path + ".")
        elif spec.type == "list" and isinstance(value, list) and spec.items is not None:
            for i, item in enumerate(value):
                if spec.items.type == "object":
                    yield from walk(spec.items.fields, item, f"{path}.{i}.")
                else:
                    yield f"{path}.{i}", spec.items, item
        else:
            yield path, spec, value
