"""Stage 2, assign: FIELD=VALUE as typed (FIELD+=VALUE appends to a list), checked against
the record type and put where the form puts it; `@PATH` attaches a file."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from ruamel.yaml.comments import CommentedMap

from ..errors import BadInput, QmsError, Refused
from ..files import yamlio
from ..i18n import _, language
from ..model import values
from ..model.declaration import ENVELOPE_KEYS, RecordType
from ..text import printable, quote
from .action import Action
from .attach import stage
from .layout import new_keys, place

LIST_SEPARATORS = re.compile("[,，、]")  # 质量部，技术部 and 质量部、技术部 are two departments, as 质量部,技术部


def assign(act: Action, rt: RecordType, data: Any, assignments: list[str], *, internal: bool = False,
           computed_ok: bool = False) -> list[str]:
    """Apply FIELD=VALUE assignments to `data`, a record of `rt`; the fields changed, in
    order. Fields qms maintains are refused unless `internal` (an effect of another
    record's move) or, at creation, checked by a compute rule (`computed_ok`)."""
    tz = act.tz
    changed = []
    for item in assignments:
        key, sep, raw = split_assignment(item)
        if not sep:
            raise BadInput(_("'{item}': expected FIELD=VALUE (e.g. customer.name=上汽大众)").format(
                item=printable(item)))
        if printable(item) != item:
            raise BadInput(
                _("{field}: the value is not UTF-8 text (set the terminal to UTF-8, "
                  "e.g. chcp 65001 or LANG=zh_CN.UTF-8)").format(field=printable(key))
            )
        append = key.endswith("+")
        path = key[:-1].strip() if append else key.strip()
        values.check_path(path)  # first: a value's problem is said with the field it was meant for
        problem = values.text_problem(raw)
        if problem:
            raise BadInput(_("{field}: the value {problem}").format(field=path, problem=problem))
        if path.split(".")[0] in ENVELOPE_KEYS:
            raise BadInput(
                _("{field}: kept by qms (the ID, type, state and signatures change only "
                  "through 'new' and 'move')").format(field=path)
            )
        spec = rt.field(path)
        if spec is None:
            raise BadInput(_("{field}: {type} has no such field").format(field=path, type=rt.name))
        if not internal and rt.kept(path) and not (computed_ok and path in rt.compute):
            whose = f"{rt.name} {data.get('id')}: " if data.get("id") else ""
            raise Refused(_("{prefix}{field}: kept by qms ({label} changes only through {moves})").format(
                prefix=whose, field=path, label=rt.label_of(path, language()), moves=who_sets(act, rt, path)))
        staged = raw.startswith("@") and (spec.type == "file" or (
            spec.type == "list" and spec.items is not None and spec.items.type == "file"))
        if staged:
            raw = stage(act, rt, data, raw[1:], path)  # the file, copied under files/TYPE/ID/
        try:
            if spec.type == "list" and spec.items is not None and spec.items.type == "object":
                value = object_item(spec.items, raw, path, tz)
                if not append:
                    value = [value]
            elif spec.type == "list":
                item_spec = spec.items
                if append:
                    value = values.coerce(item_spec, raw, tz)
                elif staged:
                    value = [values.coerce(item_spec, raw, tz)]
                else:
                    parts = [p for p in (s.strip() for s in LIST_SEPARATORS.split(raw)) if p]
                    value = [values.coerce(item_spec, p, tz) for p in parts]
            elif append:
                raise ValueError(_("'+=' appends to a list field"))
            else:
                value = values.coerce(spec, raw, tz)
        except ValueError as e:
            raise BadInput(f"{path}: {quote(raw)}: {e}") from None
        fresh = new_keys(data, path)
        values.put(data, path, value, append=append and spec.type == "list", new_map=CommentedMap)
        for new_path in fresh:
            place(rt, data, new_path)
        changed.append(path)
    if changed:
        recompute(act, rt, data)
    return changed


def recompute(act: Action, rt: RecordType, data: Any) -> None:
    """Fill in again what the type computes on every change (`always: true`): a
    compensation's total is the sum of its parts' amounts, whoever changed a part."""
    always = [name for name, spec in rt.compute.items() if spec.always]
    if not always:
        return
    ev = act.evaluator(rt, data, computing=True)
    for name in always:
        value, _why = ev.computed(name)
        if value is not None:
            fresh = new_keys(data, name)
            values.put(data, name, value, new_map=CommentedMap)
            for new_path in fresh:
                place(rt, data, new_path)


def object_item(spec, raw: str, path: str, tz):
    """A list item that is a group of fields, given as a YAML flow mapping:
    reviews+={at: 2026-06-01, by: 赵敏, outcome: no_change}."""
    text = raw.strip()
    if not (text.startswith("{") and text.endswith("}")):
        raise ValueError(_("expected {{field: value, ...}}, e.g. {{at: 2026-06-01, by: 赵敏}}").format())
    parsed = yamlio.parse(f"item: {text}\n", f"--set {path}")["item"]
    if not isinstance(parsed, dict):
        raise ValueError(_("expected {{field: value, ...}}").format())
    item = CommentedMap()
    for key, value in parsed.items():
        sub = spec.fields.get(str(key))
        if sub is None:
            raise ValueError(_("'{key}' is not a field here (expected {fields})").format(
                key=key, fields=", ".join(spec.fields)))
        item[str(key)] = values.coerce(sub, str(value), tz) if not isinstance(value, (dict, list)) else value
    # one line, as typed; but a time (16:45:00) or any colon in a flow mapping is not read
    # alike by every YAML parser (libyaml refuses it), so such an item is written as a block
    if not any(isinstance(v, (datetime, dict, list)) or ":" in str(v) for v in item.values()):
        item.fa.set_flow_style()
    return item


def who_sets(act: Action, rt: RecordType, path: str) -> str:
    """Which moves set a kept field, in words for a refusal."""
    found = []
    if path in rt.compute:
        found.append(_("the {type}'s own moves (qms computes it)").format(type=rt.name))
    for name in act.store.config.type_names():
        try:
            other = act.store.record_type(name)
        except QmsError:
            continue
        for state, effects in other.effects.items():
            for e in effects:
                target = other.field(e.target) if e.kind != "update_all" else None
                hits = (e.kind == "update_all" and e.target == rt.name) or (
                    target is not None and getattr(target, "to", None) == rt.name)
                if hits and any(k == path for k, _value in e.set):
                    found.append(_("{type} entering '{state}'").format(type=other.name, state=state))
    return ", ".join(found) if found else _("the moves that make it")


def split_assignment(item: str) -> tuple[str, str, str]:
    """FIELD=VALUE (FIELD＝VALUE, as a Chinese keyboard types it, too): split at the first
    of either, so that a value may hold both."""
    ascii_at, wide_at = item.find("="), item.find("＝")
    if wide_at >= 0 and (ascii_at < 0 or wide_at < ascii_at):
        key, _sep, raw = item.partition("＝")
        return key, "=", raw
    return item.partition("=")


