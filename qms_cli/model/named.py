"""Named rules a record type may call by name in its declaration, beside what declarations
say directly (fields, requirements, unique combinations):

    checks:
      - {fn: different_signers, args: [prepared, reviewed, approved]}

Each is a pure function of the record's Evaluator (its data, the records it refers to, the
day of the act) and the declaration's args, returning (field, problem) pairs. A new type's
special rule is a function here plus a line in its declaration; the write path and `qms
validate` run it alike (checks.check_named). A named check reads other records only
through the references the record holds (ev.first on a path through a ref), so that what
validate keeps between runs stays right. Computed values are the same kind of registry
(COMPUTE, in model/rules.py): `compute: {copy_number: {fn: copy_number}}`. A declaration
naming a function that is in neither is refused when the type is loaded (`unknown`)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Callable, Iterable

from ..calendar import parse_duration
from ..i18n import _, language
from . import values
from .rules import COMPUTE, Evaluator

NamedCheck = Callable[..., Iterable[tuple[str, str]]]
NAMED: dict[str, NamedCheck] = {}


def named(name: str) -> Callable[[NamedCheck], NamedCheck]:
    """Register a function under `name`, the name declarations call it by."""

    def register(fn: NamedCheck) -> NamedCheck:
        NAMED[name] = fn
        return fn

    return register


@named("different_signers")
def different_signers(ev: Evaluator, *meanings: Any) -> Iterable[tuple[str, str]]:
    """The signatures of `meanings` (e.g. prepared, reviewed, approved: 编制 · 审核 · 批准)
    are made by different people: for each meaning, the latest signature counts (a
    revision sent back and signed again is judged by its last round)."""
    latest: dict[str, dict] = {}
    for sig in values.signatures(ev.data):
        if sig.get("meaning") in meanings:
            latest[str(sig["meaning"])] = sig
    seen: dict[str, str] = {}
    for meaning in map(str, meanings):
        sig = latest.get(meaning)
        if sig is None:
            continue
        who = str(sig.get("email") or "").strip().lower()
        if who and who in seen:
            yield "signatures", _("'{meaning}' is signed by {email}, who also signed '{earlier}': "
                                  "they are signed by different people").format(
                meaning=meaning, email=sig.get("email"), earlier=seen[who])
        elif who:
            seen[who] = meaning


@named("accounted_for")
def accounted_for(ev: Evaluator, items: Any, total: Any, parts: Any, *states: Any) -> Iterable[tuple[str, str]]:
    """Each item of the list `items` accounts for its `total` by the sum of `parts` ("a+b"):
    never more than the total, and, in any of `states` (e.g. closed), exactly the total
    (a recall closes when every unit shipped is recovered or accounted for otherwise)."""
    names = [p for p in str(parts).split("+") if p]
    closing = ev.data.get("state") in {str(s) for s in states}
    rows = ev.data.get(str(items))
    shown = " + ".join(_label(ev, f"{items}.*.{n}") for n in names)  # 已召回数量 + 其他方式处理数量
    whole_label = _label(ev, f"{items}.*.{total}")
    for i, item in enumerate(rows if isinstance(rows, list) else []):
        if not isinstance(item, dict) or not _count(item.get(str(total))):
            continue
        whole = item[str(total)]
        got = sum(item.get(n) for n in names if _count(item.get(n)))
        if got > whole:
            yield f"{items}.{i}", _("{parts} add up to {got}, more than {total} ({whole})").format(
                parts=shown, got=got, total=whole_label, whole=whole)
        elif closing and got != whole:
            yield f"{items}.{i}", _("{parts} add up to {got}; {total} is {whole}: {left} not accounted for").format(
                parts=shown, got=got, whole=whole, total=whole_label, left=whole - got)


@named("required_from_total")
def required_from_total(ev: Evaluator, items: Any, amount: Any, threshold: Any, field: Any,
                        *states: Any) -> Iterable[tuple[str, str]]:
    """When the `amount` of all `items` adds up to `threshold` or more, the record holds
    `field` (or one of `a|b`, a path that may pass through a reference) in any of `states`:
    a batch return, 1,000 pieces or more, closes only with a CAPA raised from it or from its
    complaint (`[items, quantity, 1000, "capas|complaint.capas", closed]`)."""
    if ev.data.get("state") not in {str(s) for s in states}:
        return
    try:
        limit = int(str(threshold))
    except ValueError:
        yield "checks", _("required_from_total: the threshold {value} is not a whole number").format(value=threshold)
        return
    rows = ev.data.get(str(items))
    total = sum(i.get(str(amount)) for i in rows if isinstance(i, dict) and _count(i.get(str(amount)))) \
        if isinstance(rows, list) else 0
    paths = [p for p in str(field).split("|") if p]
    if total >= limit and paths and all(values.is_empty(ev.first(p)) for p in paths):
        yield paths[0], _("required: {amount} of {items} adds up to {total}, {limit} or more").format(
            items=_label(ev, str(items)), total=total, amount=_label(ev, f"{items}.*.{amount}"), limit=limit)


@named("approved_by_amount")
def approved_by_amount(ev: Evaluator, amount: Any, meaning: Any, *bands: Any) -> Iterable[tuple[str, str]]:
    """The `meaning` signature (approved) is made in a role senior enough for the `amount`
    (a money field): bands are ROLE, LIMIT, ROLE, LIMIT, ..., ROLE, lowest first: up to the
    first limit the first role approves, up to the next the next role, above the last the
    last role; a more senior role may approve less (售后赔偿: [total, approved,
    service_manager, 5000, sales_vp, 50000, general_manager])."""
    roles = [str(b) for b in bands[0::2]]
    limits = [values.money(b) for b in bands[1::2]]
    if not roles or len(limits) != len(roles) - 1 or any(limit is None for limit in limits):
        yield "checks", _("approved_by_amount: expected ROLE, LIMIT, ROLE, ..., ROLE after the amount and the "
                          "meaning, each limit an amount, not {args}").format(args=", ".join(map(str, bands)))
        return
    sig = None
    sigs = values.signatures(ev.data)
    for i, s in enumerate(sigs):
        if s.get("meaning") == str(meaning):
            sig = s
            # an approval stands until the record is moved back to where it was before it
            if any(later.get("to") == s.get("from") for later in sigs[i + 1:]):
                sig = None
    total = values.money(ev.first(str(amount)))
    if sig is None or total is None:
        return
    needed = next((i for i, limit in enumerate(limits) if total <= limit), len(roles) - 1)
    role = str(sig.get("role") or "")
    if role not in roles or roles.index(role) < needed:
        over = limits[needed - 1] if needed else None
        yield "signatures", _("'{meaning}' of {amount} {label} is signed by {email} as {role}; {over}it is "
                              "approved by {needed}").format(
            meaning=meaning, amount=f"{total:,.2f}", label=_label(ev, str(amount)), email=sig.get("email"),
            role=role or _("no role"), needed=" / ".join(roles[needed:]),
            over=_("above {limit} ").format(limit=f"{over:,.2f}") if over is not None else "")


@named("within_approved")
def within_approved(ev: Evaluator, amount: Any, approved: Any, back: Any, *states: Any) -> Iterable[tuple[str, str]]:
    """In any of `states` (approved, settled), the `amount` is not more than the `approved`
    one: an amount raised after approval goes back for approval by the move to `back`."""
    if ev.data.get("state") not in {str(s) for s in states}:
        return
    total, limit = values.money(ev.first(str(amount))), values.money(ev.first(str(approved)))
    if total is not None and limit is not None and total > limit:
        yield str(amount), _("{total} is more than the {limit} approved: an amount raised after approval is "
                             "approved again (qms {type} move {id} {back}, with the change)").format(
            total=f"{total:,.2f}", limit=f"{limit:,.2f}", type=ev.rt.name, id=ev.data.get("id"), back=back)


@named("notice_given")
def notice_given(ev: Evaluator, asked: Any, planned: Any, notice: Any, *when: Any) -> Iterable[tuple[str, str]]:
    """The `planned` date is at least `notice` (7d, 1w) after the day it was `asked` for,
    when each FIELD, VALUE pair of `when` holds (an installation is asked for a week ahead:
    [requested_at, install_on, 1w, kind, installation])."""
    if any(str(ev.first(str(f))) != str(v) for f, v in zip(when[0::2], when[1::2])):
        return
    try:
        n, unit = parse_duration(str(notice))
    except ValueError as e:
        yield "checks", f"notice_given: {e}"
        return
    if unit not in ("d", "w"):
        yield "checks", _("notice_given: expected a notice in days or weeks (7d, 1w), not {notice}").format(notice=notice)
        return
    start, day = ev.moment(str(asked)), values.to_date(ev.first(str(planned)))
    if start is None or day is None:
        return
    earliest = start + timedelta(days=n * 7 if unit == "w" else n)
    if day < earliest:
        yield str(planned), _("is {day}; it is asked for {notice} ahead of {asked} ({start}): not before {earliest}").format(
            day=day, notice=notice, asked=_label(ev, str(asked)), start=start, earliest=earliest)


@named("required_when_below")
def required_when_below(ev: Evaluator, value: Any, target: Any, field: Any, *states: Any) -> Iterable[tuple[str, str]]:
    """In any of `states`, a `value` below its `target` needs `field` (or one of `a|b`):
    a survey below the year's satisfaction target closes with a CAPA or the reason for none."""
    if ev.data.get("state") not in {str(s) for s in states}:
        return
    got, goal = ev.first(str(value)), ev.first(str(target))
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (got, goal))
    paths = [p for p in str(field).split("|") if p]
    if numbers and got < goal and paths and all(values.is_empty(ev.first(p)) for p in paths):
        yield paths[0], _("required: {value} ({got}) is below {target} ({goal}): {fields}").format(
            value=_label(ev, str(value)), got=got, target=_label(ev, str(target)), goal=goal,
            fields=_(" or ").join(_label(ev, p) for p in paths))


@named("listed_in")
def listed_in(ev: Evaluator, field: Any, listing: Any) -> Iterable[tuple[str, str]]:
    """The value of `field` is one of the list at `listing` (a path that may pass through a
    reference): a survey's customer and period are those of its plan."""
    value, listed = ev.first(str(field)), ev.first(str(listing))
    if values.is_empty(value) or not isinstance(listed, list):
        return
    if str(value) not in [str(v) for v in listed]:
        yield str(field), _("is {value}; {listing} lists {listed}").format(
            value=value, listing=str(listing), listed=", ".join(map(str, listed)) or _("none"))


@named("periods_of")
def periods_of(ev: Evaluator, periods: Any, year: Any) -> Iterable[tuple[str, str]]:
    """Each item of the list `periods` is a period of the `year`: the year itself (2026), a
    half (2026-H1), a quarter (2026-Q3) or a month (2026-09)."""
    listed, y = ev.data.get(str(periods)), ev.first(str(year))
    for i, p in enumerate(listed if isinstance(listed, list) else []):
        m = re.fullmatch(r"(\d{4})(?:-(H[12]|Q[1-4]|0[1-9]|1[0-2]))?", str(p))
        if not m:
            yield f"{periods}.{i}", _("is {value}; expected a year, half, quarter or month such as 2026, 2026-H1, "
                                      "2026-Q3 or 2026-09").format(value=p)
        elif isinstance(y, int) and int(m.group(1)) != y:
            yield f"{periods}.{i}", _("is {value}; expected a period of {year}").format(value=p, year=y)


def _label(ev: Evaluator, path: str) -> str:
    """A field as the person reading the refusal knows it: its label in their language."""
    return ev.rt.label_of(path, language())


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def unknown(rt) -> str | None:
    """What in `rt`'s declaration names a function qms does not have, in words; None when
    every computed value and check it names exists."""
    for field_name, c in rt.compute.items():
        if c.fn not in COMPUTE:
            return _("compute.{field}: no computed value named '{name}' (expected one of {names})").format(
                field=field_name, name=c.fn, names=", ".join(sorted(COMPUTE)))
    for c in rt.checks:
        if c.fn not in NAMED:
            return _("checks: no check named '{name}' (expected one of {names})").format(
                name=c.fn, names=", ".join(sorted(NAMED)))
    return None
