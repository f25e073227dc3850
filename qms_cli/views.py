"""What `show` and `list` present: plain data (dicts) built from records, their deadlines
and their workflow, shared by the text and the JSON output. No printing here."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from .deadlines import Deadline, deadlines
from .model import values
from .model.declaration import FieldSpec, RecordType


def plain(value: Any) -> Any:
    """A JSON-ready copy of a stored value (dates as ISO text)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def leaves(fields: dict[str, FieldSpec], data: Any, lang: str, prefix: str = "") -> list[dict]:
    """Every filled-in field in declaration order: path, label, value as shown."""
    out = []
    if not isinstance(data, dict):
        return out
    for key, spec in fields.items():
        value = data.get(key)
        if values.is_empty(value):
            continue
        path = f"{prefix}{key}"
        if spec.type == "object" and isinstance(value, dict):
            for leaf in leaves(spec.fields, value, lang, path + "."):
                leaf["label"] = f"{spec.text(lang)} · {leaf['label']}"
                out.append(leaf)
            continue
        out.append({"path": path, "label": spec.text(lang), "value": shown(spec, value, lang)})
    return out


def shown(spec: FieldSpec, value: Any, lang: str) -> str:
    if spec.type == "enum":
        return spec.value_label(value, lang)
    if spec.type == "bool":
        return {True: {"zh": "是", "en": "Yes"}, False: {"zh": "否", "en": "No"}}[bool(value)][lang]
    if spec.type == "list" and isinstance(value, list):
        item = spec.items
        sep = "; " if item is not None and item.type == "object" else ", "
        return sep.join(shown(item, v, lang) if item else str(v) for v in value)
    if spec.type == "object" and isinstance(value, dict):
        return ", ".join(
            f"{spec.fields[k].text(lang)}: {shown(spec.fields[k], v, lang)}" if k in spec.fields else f"{k}: {v}"
            for k, v in value.items() if not values.is_empty(v)
        )
    if spec.type == "datetime":
        moment = values.to_datetime(value, timezone.utc)
        return moment.strftime("%Y-%m-%d %H:%M") if moment else str(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def next_moves(store, rt: RecordType, data: Any) -> list[dict]:
    state = data.get("state")
    out = []
    ev = store.evaluator(rt, data, computing=False)
    for move in rt.workflow.moves_from(state):
        missing = ev.unmet([*rt.workflow.requirements(move.target), *move.requires])
        try:
            roles = store.role_names(rt, move.role, data)
        except Exception:  # an approvals table without this category: show the spec
            roles = [str(move.role)]
        out.append(
            {
                "to": move.target,
                "role": " or ".join(roles) or None,
                "missing": [{"field": f, "why": why} for f, why in missing],
            }
        )
    return out


def describe(store, record, lang: str) -> dict:
    rt = store.record_type(record.type)
    data = record.data
    now = store.now()
    dls = deadlines(rt, data, store.config, now)
    return {
        "id": record.id,
        "type": record.type,
        "type_label": rt.label[lang],
        "state": record.state,
        "state_label": rt.workflow.states[record.state].label[lang],
        "final": rt.workflow.states[record.state].final,
        "path": record.path,
        "title": values.record_title(rt, data, 200),
        "fields": leaves(rt.fields, data, lang),
        "deadlines": [dict(d.as_dict(), label=d.label[lang]) for d in dls],
        "deadline_profile": store.config.time_limit_profile[0]
        if dls and any(not (s.limit or s.limit_field) for s in rt.deadlines) else None,
        "now": now.isoformat(timespec="minutes"),
        "next_moves": next_moves(store, rt, data),
        "signatures": [signature_view(rt, s, lang, store.config.tz) for s in values.signatures(data)],
        "record": plain(data),
    }


def signature_view(rt: RecordType, sig: dict, lang: str, tz) -> dict:
    """A signature as show presents it: as stored, with its meaning's label, and whether
    it was entered afterwards (补录) from a paper record, when the act happened (`acted`:
    the paper time `on`, else the signing time `at`) and the words that say both."""
    on = values.paper_time(sig, tz)
    acted = values.acted(sig, tz)
    view = dict(plain(sig), meaning_label=rt.meaning_label(str(sig.get("meaning")), lang))
    view["entered_afterwards"] = on is not None
    view["acted"] = acted.isoformat() if acted is not None else None
    view["when"] = acted_words(on, values.to_datetime(sig.get("at"), tz), lang, tz) if on is not None \
        else values.shown_time(values.to_datetime(sig.get("at"), tz), tz) or str(sig.get("at") or "")
    return view


ENTERED = {"zh": "{on} 补录（{at} 录入）", "en": "{on} (entered afterwards on {at})"}


def acted_words(on, at, lang: str, tz) -> str:
    """An act done on paper and entered afterwards, with both times:
    2026-10-15 补录（2026-12-01 09:00 录入） / 2026-10-15 (entered afterwards on 2026-12-01 09:00)."""
    return ENTERED[lang].format(on=values.shown_time(on, tz), at=values.shown_time(at, tz))


def summary_row(store, rt: RecordType, record, lang: str, now: datetime) -> dict:
    data = record.data
    dls: list[Deadline] = deadlines(rt, data, store.config, now)
    late = [d for d in dls if d.status == "overdue"]
    nxt = min((d for d in dls if d.status in ("open", "overdue")), key=lambda d: d.due, default=None)
    row = {
        "id": record.id,
        "state": record.state,
        "state_label": rt.workflow.states[record.state].label[lang],
        "title": values.record_title(rt, data),
        "columns": {c: _cell(rt, data, c, lang) for c in rt.list_columns},
        "overdue": [d.name for d in late],
        "next_due": nxt.due.isoformat() if nxt else None,
        "next_deadline": nxt.name if nxt else None,
    }
    return row


def _cell(rt: RecordType, data: Any, path: str, lang: str) -> str:
    value = values.get(data, path)
    spec = rt.field(path)
    if values.is_empty(value) or spec is None:
        return ""
    return shown(spec, value, lang)


def matches(rt: RecordType, data: Any, where: list[tuple[str, str]]) -> bool:
    for path, wanted in where:
        value = values.get(data, path)
        if isinstance(value, list):
            if wanted not in [str(v) for v in value]:
                return False
        elif value is True or value is False:
            if str(value).lower() != wanted.lower() and not (
                wanted.lower() in values.TRUE_WORDS and value
                or wanted.lower() in values.FALSE_WORDS and not value
            ):
                return False
        elif isinstance(value, (datetime, date)):
            if not value.isoformat().startswith(wanted):
                return False
        elif str(value if value is not None else "") != wanted:
            return False
    return True


def listing(store, type_name: str, where: list[str], overdue: bool, lang: str) -> tuple[list[dict], list[str]]:
    """Rows for `qms TYPE list`, and the problems met on the way (unreadable files)."""
    rt = store.record_type(type_name)
    conditions = []
    for w in where:
        path, sep, wanted = w.partition("=")
        if not sep:
            from .errors import BadInput

            raise BadInput(f"--where '{w}': expected FIELD=VALUE (e.g. class=serious)")
        path = path.strip()
        if path not in ("id", "state"):
            values.check_path(path)
            if rt.field(path) is None:
                from .errors import BadInput

                raise BadInput(f"--where {path}: {rt.name} has no such field")
        conditions.append((path, wanted.strip()))
    now = store.now()

    def row_of(rec):
        if not matches(rt, rec.data, conditions):
            return None
        row = summary_row(store, rt, rec, lang, now)
        return None if overdue and not row["overdue"] else row

    rows, problems = [], []
    for found in store.records(type_name, then=row_of):
        if isinstance(found, Exception):
            problems.append(str(found))
        else:
            rows.append(found)
    return rows, problems + [f"{s} (not listed)" for s in store.skipped]
