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

from typing import Any, Callable, Iterable

from ..i18n import _
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


def _label(ev: Evaluator, path: str) -> str:
    """A field as the person reading the refusal knows it: its label in their language."""
    from ..i18n import language

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
