"""Evaluating what a record must hold: paths through references and lists, requirements,
and the values a type computes (next edition, next copy number). Pure: other records
come in through the `fetch` and `scan` callables the caller passes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Iterable

from ..i18n import N_, _
from . import values
from .declaration import FieldSpec, RecordType, Requirement

_ROOT = object()
EDITION = re.compile(r"^([A-Z])/(\d+)$")
NOW_SKEW = timedelta(minutes=5)  # how far ahead of the clock a time may be (as for commits)
# how a date rule is reported: `what` is a field path, now, today or a signature
IS_BEFORE = N_("{time} is before {what} ({limit})")
IS_AFTER = N_("{time} is after {what} ({limit})")

Fetch = Callable[[str, str], Any]  # (type, id) -> record data or None
Scan = Callable[[str], Iterable[Any]]  # type -> every record's data


def ahead_of_now(message: str) -> bool:
    """Whether a message says a time lies ahead of the clock (`... is after now (...)`, in
    English or in the language of the run): such a finding stops being one as the clock
    runs, so validate asks afresh instead of keeping it."""
    for template, now in ((IS_AFTER, "now"), (_(IS_AFTER), _("now"))):
        pieces = template.format(time="\0", what=now, limit="\0").split("\0")
        if re.search(".*?".join(map(re.escape, pieces)), message, re.S):
            return True
    return False


def either(choices: Iterable[Any]) -> str:
    """`a or b or c`, in the language of the run."""
    out = None
    for c in choices:
        out = str(c) if out is None else _("{first} or {second}").format(first=out, second=c)
    return out or ""


@dataclass
class Evaluator:
    """What one record (`data`, of type `rt`) holds and must hold: paths, requirements and
    computed values; other records come through `fetch` and `scan`, and date rules are
    judged against `today` and `now`."""

    rt: RecordType
    data: Any
    types: Callable[[str], RecordType] | None = None
    fetch: Fetch | None = None
    scan: Scan | None = None
    today: date | None = None
    tz: Any = None
    computing: bool = False  # whether `computed` requirements are checked (new and moves)
    today_words: str = "today"  # what `today` is called in messages (the day on paper, 补录)
    now: datetime | None = None  # what `now` is (the clock's, or QMS_NOW) in date rules
    config: Any = None  # the store's settings, for a value computed from them (a yearly target)
    _computed: dict[str, tuple[Any, str]] = field(default_factory=dict)

    # -- paths -----------------------------------------------------------------------------
    def resolve(self, path: str) -> list[tuple[Any, str]]:
        """(value, where) for every value `path` reaches; `where` names list items and the
        records passed through, for messages."""
        return self._walk(self.data, self.rt, _ROOT, path.split("."), "")

    def first(self, path: str) -> Any:
        """The first value `path` reaches, None if it reaches none."""
        found = self.resolve(path)
        return found[0][0] if found else None

    def _walk(self, value, rt, spec, parts, where) -> list[tuple[Any, str]]:
        if isinstance(spec, FieldSpec) and spec.type == "ref" and parts:
            if not isinstance(value, str) or self.fetch is None or self.types is None:
                return []
            target = self.fetch(spec.to, value)
            if target is None:
                return []
            return self._walk(target, self.types(spec.to), _ROOT, parts, f"{where}, {value}" if where else value)
        if not parts:
            return [(value, where)]
        part, rest = parts[0], parts[1:]
        if isinstance(value, list):
            item = spec.items if isinstance(spec, FieldSpec) and spec.type == "list" else None
            if part == "*":
                out = []
                for i, v in enumerate(value):
                    label = where if (item is not None and item.type == "ref") else (f"{where}, #{i}" if where else f"#{i}")
                    out.extend(self._walk(v, rt, item, rest, label))
                return out
            if not re.fullmatch(r"-?\d+", part):
                return []
            idx = int(part)
            if not -len(value) <= idx < len(value):
                return []
            return self._walk(value[idx], rt, item, rest, where)
        if isinstance(value, dict):
            if part not in value:
                return []
            if spec is _ROOT:
                sub = rt.fields.get(part)
            elif isinstance(spec, FieldSpec) and spec.type == "object":
                sub = spec.fields.get(part)
            else:
                sub = None
            return self._walk(value[part], rt, sub, rest, where)
        return []

    # -- operands --------------------------------------------------------------------------
    def moment(self, operand: str) -> date | None:
        """The day an operand of a date rule stands for: `today`, the day of the last
        `signed:<meaning>` act (on paper, for one entered afterwards), or a field's date;
        None if there is none."""
        if operand == "today":
            return self.today
        if operand.startswith("signed:"):
            meaning = operand.split(":", 1)[1]
            found = None
            for s in values.signatures(self.data):
                if s.get("meaning") == meaning:
                    found = s
            # the day the act happened: on paper, for one entered afterwards (补录)
            return values.acted_on(found, self.tz) if found is not None else None
        return values.to_date(self.first(operand))

    # -- computed values -------------------------------------------------------------------
    def computed(self, name: str) -> tuple[Any, str]:
        """(value, why not) the type computes for field `name` now."""
        if name not in self._computed:
            spec = self.rt.compute.get(name)
            if spec is None:
                self._computed[name] = (None, "")
            else:
                fn = COMPUTE[spec.fn]
                # an argument through a list (parts.*.amount) is given as all its values
                # (a number in the declaration is itself: the most a score can be)
                args = [a if not isinstance(a, str) else [v for v, _where in self.resolve(a)] if "*" in a
                        else self.first(a) for a in spec.args]
                self._computed[name] = fn(self, *args)
        return self._computed[name]

    # -- requirements ----------------------------------------------------------------------
    def unmet(self, requirements: Iterable[Requirement]) -> list[tuple[str, str]]:
        """(field, what is expected) for each requirement the record does not meet."""
        out: list[tuple[str, str]] = []
        for req in requirements:
            if not all(self._applies(k, allowed) for k, allowed in req.when):
                continue
            if req.any:
                if all(values.is_empty(self.first(p)) for p in req.fields):
                    out.append((req.fields[0], _("required: at least one of {fields}").format(fields=", ".join(req.fields))))
                continue
            for path in req.fields:
                out.extend(self._check(req, path))
        seen: dict[str, str] = {}
        for path, why in out:
            seen.setdefault(path, why)
        return list(seen.items())

    def _applies(self, path: str, allowed) -> bool:
        """Whether a requirement's `when` condition holds: the value at `path` is one of
        `allowed`; through a list (`items.*.disposition`), any one of its values is."""
        if "*" in path:
            return any(value in allowed for value, _where in self.resolve(path))
        return self.first(path) in allowed

    def _check(self, req: Requirement, path: str) -> list[tuple[str, str]]:
        found = self.resolve(path)
        star = "*" in path
        if star and req.each:  # each group of the list holds the field
            head, _star, tail = path.rpartition(".*.")
            out = []
            for item, where in self.resolve(head + ".*") if head and tail else ():
                if isinstance(item, dict) and values.is_empty(values.get(item, tail)):
                    out.append((f"{path} [{where}]", self._missing(path)))
            return out
        if not star:
            value = found[0][0] if found else None
            if values.is_empty(value):
                if self.computing and path in self.rt.compute:
                    expected, why = self.computed(path)
                    if expected is None and why:  # say why qms could not fill it in
                        return [(path, why)]
                if req.needs_value:
                    return [(path, self._missing(path))]
                return []
        out = []
        for value, where in found:
            name = f"{path} [{where}]" if star else path
            if req.empty:
                if not values.is_empty(value):
                    out.append((name, _("must be blank, but is {value}").format(value=value)))
                continue
            if values.is_empty(value):
                continue
            if req.allowed is not None and value not in req.allowed:
                out.append((name, _("is {value}; must be {allowed}").format(value=value, allowed=either(req.allowed))))
            if req.refused is not None and value in req.refused:
                out.append((name, _("must not be {value}").format(value=value)))
            if req.count_equals is not None and not star:
                other, n = self.first(req.count_equals), len(value) if isinstance(value, list) else 1
                if isinstance(other, int) and not isinstance(other, bool) and n != other:
                    out.append((name, _("holds {n}; {field} is {other}: one for each").format(
                        n=n, field=req.count_equals, other=other)))
            if req.equals is not None:
                other = self.first(req.equals)
                if str(value) != str(other):
                    out.append((name, _("is {value}; must equal {field} ({other})").format(
                        value=value, field=req.equals, other=other if other is not None else _("none"))))
            if req.computed and self.computing:
                expected, why = self.computed(path)
                if expected is None and why:
                    out.append((name, why))
                elif expected is not None and str(value) != str(expected) and not (
                        values.money(value) is not None and values.money(value) == values.money(expected)):
                    out.append((name, _("is {value}; expected {expected} ({why})").format(value=value, expected=expected, why=why)
                                if why else _("is {value}; expected {expected}").format(value=value, expected=expected)))
            for op, sign in ((req.not_before, 1), (req.not_after, -1)):
                if op is None:
                    continue
                mine, theirs = self._instant(value), self._instant_of(op)
                if mine is None or theirs is None:
                    continue
                if not (isinstance(mine, datetime) and isinstance(theirs, datetime)):
                    mine, theirs = self._day(mine), self._day(theirs)  # to the day, when one is a day
                if sign == 1 and mine < theirs:
                    out.append((name, _(IS_BEFORE).format(time=mine, what=self._op_words(op), limit=theirs)))
                if sign == -1 and mine > theirs:
                    out.append((name, _(IS_AFTER).format(time=mine, what=self._op_words(op), limit=theirs)))
        return out

    def _missing(self, path: str) -> str:
        parts = path.split(".")
        for i in range(1, len(parts)):
            spec = self.rt.field(".".join(parts[:i]))
            if spec is not None and spec.type == "ref":
                ref = values.get(self.data, ".".join(parts[:i]))
                if not values.is_empty(ref) and self.fetch is not None and self.fetch(spec.to, str(ref)) is None:
                    return _("required; {type} '{id}' is not in the store").format(type=spec.to, id=ref)
                if not values.is_empty(ref):
                    return _("required (on {type} {id})").format(type=spec.to, id=ref)
        return _("required")

    def _instant(self, value: Any) -> date | datetime | None:
        """A stored date or time as a date, or as an aware datetime when it holds a time."""
        if isinstance(value, datetime) or (isinstance(value, str) and ("T" in value or ":" in value)):
            return values.to_datetime(value, self.tz or timezone.utc)
        return values.to_date(value)

    def _instant_of(self, op: str) -> date | datetime | None:
        if op == "now":  # a little ahead, as clocks differ (qms refuses commits beyond that too)
            now = self.now or datetime.now(self.tz or timezone.utc)
            return now + NOW_SKEW
        if op == "today" or op.startswith("signed:"):
            return self.moment(op)
        return self._instant(self.first(op))

    def _day(self, moment: date | datetime) -> date:
        if isinstance(moment, datetime):
            return moment.astimezone(self.tz).date() if self.tz else moment.date()
        return moment

    def _op_words(self, op: str) -> str:
        if op == "now":
            return _("now")
        if op == "today":  # as the caller calls it (the day on paper, 补录), or today
            return _("today") if self.today_words == "today" else self.today_words
        if op.startswith("signed:"):
            return _("the '{meaning}' signature").format(meaning=op.split(":", 1)[1])
        return op


# ------------------------------------------------------------------------ computed values


def next_edition(ev: Evaluator, current: Any, change: Any) -> tuple[Any, str]:
    """A/0 for a first issue; a modification bumps the number (A/0 -> A/1), a re-issue the
    letter (A/3 -> B/0)."""
    if values.is_empty(change):
        return None, _("needs the kind of change (first_issue, modification or reissue)")
    if values.is_empty(current):
        if change != "first_issue":
            return None, _("the document has no edition yet: its first revision is a first_issue")
        return "A/0", _("the first edition")
    m = EDITION.match(str(current))
    if not m:
        return None, _("the document's edition '{edition}' is not of the form A/0").format(edition=current)
    letter, number = m.group(1), int(m.group(2))
    if change == "modification":
        return f"{letter}/{number + 1}", _("a modification of {edition}").format(edition=current)
    if change == "reissue":
        if letter == "Z":
            return None, _("no edition letter after Z")
        return f"{chr(ord(letter) + 1)}/0", _("a re-issue after {edition}").format(edition=current)
    return None, _("the document already has edition {edition}: the change is a modification or a reissue").format(
        edition=current)


def copy_of(ev: Evaluator, current: Any) -> tuple[Any, str]:
    """A copy or loan is of the document's current effective edition."""
    if values.is_empty(current):
        return None, _("the document has no effective edition yet")
    return current, _("the current effective edition")


def copy_number(ev: Evaluator) -> tuple[Any, str]:
    """Unique per document and never reused: the next number after every number the
    document ever had (lost ones stay void); a damaged copy's replacement keeps its number."""
    data = ev.data
    document = data.get("document")
    if values.is_empty(document) or ev.scan is None:
        return None, _("needs the document")
    replaces = data.get("replaces")
    others = [d for d in ev.scan(ev.rt.name) if d.get("document") == document and d.get("id") != data.get("id")]
    if not values.is_empty(replaces):
        old = next((d for d in others if d.get("id") == replaces), None)
        if old is None or old.get("document") != document:
            return None, _("the copy it replaces, {replaced}, is not a copy of {document}").format(
                replaced=replaces, document=document)
        if any(d.get("replaces") == replaces for d in others):
            return None, _("{replaced} has already been replaced").format(replaced=replaces)
        if old.get("state") == "damaged":
            return old.get("copy_number"), _("the damaged copy {replaced} is re-issued under its number").format(
                replaced=replaces)
        if old.get("state") != "lost":
            return None, _("only a damaged or lost copy is replaced; {replaced} is {state}").format(
                replaced=replaces, state=old.get("state"))
    numbers = [d.get("copy_number") for d in others if isinstance(d.get("copy_number"), int)]
    return (max(numbers) + 1 if numbers else 1), _("the next copy number of the document")


def total(ev: Evaluator, *amounts: Any) -> tuple[Any, str]:
    """The sum of amounts of money (each argument a value or, through a list, its values):
    exact, written as qms writes money ('1234.50'); a line without an amount adds nothing."""
    found = [values.money(v) for group in amounts for v in (group if isinstance(group, list) else [group])]
    return str(sum((a for a in found if a is not None), values.money(0))), _("the sum of the amounts")


def satisfaction_target(ev: Evaluator, year: Any) -> tuple[Any, str]:
    """The customer-satisfaction objective qms.yaml sets for `year` (targets.satisfaction)."""
    found = ev.config.target("satisfaction", year) if ev.config is not None and isinstance(year, int) else None
    if found is None:
        return None, _("qms.yaml sets no satisfaction target for {year} (targets: {{satisfaction: {{{year}: 95}}}})").format(
            year=year)
    return found, _("the satisfaction target qms.yaml sets for {year}").format(year=year)


def satisfaction(ev: Evaluator, *scores: Any) -> tuple[Any, str]:
    """The satisfaction of one survey, in percent: the scores given (1 to 5, 5 very
    satisfied) over the most they could be (5 each), to one decimal; items not scored (price,
    when it is not asked) are left out."""
    given = [s for s in scores if isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= 5]
    if not given:
        return None, ""
    return round(sum(given) * 100 / (5 * len(given)), 1), _("the scores over the most they could be")


def below(ev: Evaluator, value: Any, target: Any) -> tuple[Any, str]:
    """Whether `value` is below `target` (both numbers); None while either is missing."""
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (value, target))
    return (value < target, _("whether it is below the target")) if numbers else (None, "")


def items_below(ev: Evaluator, scores: Any, top: Any, target: Any) -> tuple[Any, str]:
    """The items of the group `scores` whose score, as a percentage of `top`, is below
    `target`: the survey items to act on (交付、服务 ...)."""
    if not isinstance(scores, dict) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                               for v in (top, target)) or top <= 0:
        return None, ""
    return [k for k, v in scores.items() if isinstance(v, int) and not isinstance(v, bool) and v * 100 / top < target], \
        _("the items scored below the target")


COMPUTE: dict[str, Callable[..., tuple[Any, str]]] = {
    "total": total,
    "below": below,
    "items_below": items_below,
    "satisfaction": satisfaction,
    "satisfaction_target": satisfaction_target,
    "next_edition": next_edition,
    "copy_of": copy_of,
    "copy_number": copy_number,
}
