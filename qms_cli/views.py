"""What `show` and `list` present: plain data (dicts) built from records, their deadlines
and their workflow, shared by the text and the JSON output. No printing here."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone, tzinfo
from typing import Any

from .deadlines import Deadline, deadlines
from .errors import BadInput
from .i18n import N_, _, language
from .model import values
from .model.declaration import FieldSpec, RecordType
from .model.rules import either
from .roles import role_names
from .suggest import choice, closest, did_you_mean, fold
from .text import quote
from .wording import words


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
        return words(lang)["yes" if value else "no"]
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
    if spec.type == "money":  # 1,234.50: two places, thousands grouped
        amount = values.money(value)
        return f"{amount:,.2f}" if amount is not None else str(value)
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
            roles = role_names(store.config, rt, move.role, data, store.fetch)
        except Exception:  # an approvals table without this category: show the spec
            roles = [str(move.role)]
        out.append(
            {
                "to": move.target,
                "role": either(roles) or None,
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


def acted_words(on, at, lang: str, tz) -> str:
    """An act done on paper and entered afterwards, with both times:
    2026-10-15 补录（2026-12-01 09:00 录入） / 2026-10-15 (entered afterwards on 2026-12-01 09:00)."""
    return words(lang)["entered"].format(on=values.shown_time(on, tz), at=values.shown_time(at, tz))


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


# ------------------------------------------------------------------ finding records (list)

# What a Chinese keyboard types for the operators of --where (＝ ～ ＞＝ ＜＝, ≥ ≤) reads as
# the ASCII ones; one character for one, so that the value keeps its place in the text.
_WIDE_OPERATORS = str.maketrans({"＝": "=", "～": "~", "〜": "~", "＞": ">", "＜": "<"})
# The field is everything before the first operator character, so `quantity_affected>=5`
# is `>=` and 5, never `>` in a field name or `=` with the value `>5`.
_CONDITION = re.compile(r"([^=~<>≥≤]*)(>=|<=|≥|≤|=|~)(.*)", re.DOTALL)
WHERE_FORMS = N_(
    "expected FIELD=VALUE, FIELD~TEXT, FIELD>=VALUE or FIELD<=VALUE "
    "(e.g. class=serious, customer.name~上汽, received_at>=2026-03-01)"
)
# What a field holds, as said when it cannot be compared with >= or <=.
_KIND_WORDS = {
    "text": N_("text"), "email": N_("an e-mail address"), "ref": N_("a reference to another record"),
    "file": N_("a file"), "enum": N_("one of a list of values"), "bool": N_("yes or no"),
    "object": N_("a group of fields"), "list": N_("a list"), "edition": N_("an edition such as A/0"),
}
_ORDERED = {"int", "number", "money", "date", "datetime"}
_BOUND_FORMS = {
    "int": N_("a whole number such as 12"),
    "number": N_("a number such as 12 or 0.5"),
    "money": N_("an amount such as 5000 or 1234.50"),
    "date": N_("a date such as 2026-03-01"),
    "datetime": N_("a date such as 2026-03-01, or a date and time such as 2026-03-01T08:00"),
}


def _type_words(rt: RecordType) -> str:
    """The record type as a message names it (complaint, 客诉), in the language of the run."""
    return (rt.label.get(language()) or rt.label["en"]).lower()


@dataclass(frozen=True)
class Condition:
    """One --where or --state filter, read against the record type once: `op` is `=`
    (the value as typed, or the enum value / state a label names), `~` (contains, case
    and full-width letters ignored; `wanted` already folded) or `>=` / `<=` (`wanted` a
    number, a date or an aware date-time; a date against a date-time field compares the
    day in the store's time zone)."""

    path: str
    op: str
    wanted: Any
    kind: str = "text"  # the type of the field's values (of a list's items)
    tz: tzinfo | None = None
    # enum values and states: each one's name and labels, folded, for `~`
    words: tuple[tuple[str, str], ...] = ()

    def holds(self, data: Any) -> bool:
        value = values.get(data, self.path)
        if self.op == "=":
            return _equals(value, self.wanted)
        items = value if isinstance(value, list) else [value]
        if self.op == "~":
            return any(self.wanted in self._text(v) for v in items if not values.is_empty(v))
        return any(self._within(v) for v in items if not values.is_empty(v))

    def _text(self, value: Any) -> str:
        if isinstance(value, (datetime, date)):
            return value.isoformat()
        if self.words:
            key = str(value)
            for name, text in self.words:
                if name == key:
                    return text
        return fold(str(value))

    def _within(self, value: Any) -> bool:
        here = _typed(self.kind, value, self.tz, day=not isinstance(self.wanted, datetime))
        if here is None:
            return False
        return here >= self.wanted if self.op == ">=" else here <= self.wanted


def _typed(kind: str, value: Any, tz: tzinfo | None, *, day: bool = False) -> Any:
    """A stored value as what it compares as: a number, a date, an aware date-time (with
    `day`, the day of a date-time in the store's time zone); None when it is not one."""
    if kind in ("int", "number"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return value if ok and not math.isnan(value) else None
    if kind == "money":
        return values.money(value)
    if kind == "date":
        return values.to_date(value)
    if kind == "datetime":
        moment = values.to_datetime(value, tz or timezone.utc)
        return values.day_of(moment, tz) if day and moment is not None else moment
    return None


def _equals(value: Any, wanted: str) -> bool:
    """`FIELD=VALUE` as it always read: the value as text; a list holds it as an item;
    yes/no words for a yes-or-no field; a date or time starting with it (2026-03)."""
    if isinstance(value, list):
        return wanted in [str(v) for v in value]
    if value is True or value is False:
        return str(value).lower() == wanted.lower() or (
            wanted.lower() in values.TRUE_WORDS and value
            or wanted.lower() in values.FALSE_WORDS and not value
        )
    if isinstance(value, (datetime, date)):
        return value.isoformat().startswith(wanted)
    return str(value if value is not None else "") == wanted


def matches(rt: RecordType, data: Any, where: list) -> bool:
    """Whether the record holds every condition: a (FIELD, VALUE) pair read as FIELD=VALUE
    (report declarations), or anything that `holds` (a `Condition`, a report's test)."""
    for c in where:
        if not isinstance(c, tuple):
            if not c.holds(data):
                return False
        elif not _equals(values.get(data, c[0]), c[1]):
            return False
    return True


def field_paths(rt: RecordType) -> list[str]:
    """Every path --where and --sort accept by name: id, state, the declared fields and
    the fields of their groups (customer.name)."""
    out = ["id", "state"]

    def walk(fields: dict[str, FieldSpec], prefix: str) -> None:
        for name, spec in fields.items():
            out.append(prefix + name)
            if spec.type == "object":
                walk(spec.fields, f"{prefix}{name}.")

    walk(rt.fields, "")
    return out


def _choices_text(choices: dict[str, dict[str, str]], lang: str) -> str:
    """general (一般投诉), requirement (客户需求), ...: the names, with their labels where
    these say more."""
    shown_ = []
    for name, label in choices.items():
        text = label.get(lang) or ""
        shown_.append(f"{name} ({text})" if text and fold(text) != fold(name) else name)
    return ", ".join(shown_)


def _choice_words(choices: dict[str, dict[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((name, fold(" ".join([name, *label.values()]))) for name, label in choices.items())


def state_choices(rt: RecordType) -> dict[str, dict[str, str]]:
    return {name: st.label for name, st in rt.workflow.states.items()}


def resolve_state(rt: RecordType, given: str, option: str, lang: str) -> str:
    """The workflow state `given` names (name or label); BadInput naming `option` if none."""
    choices = state_choices(rt)
    name = choice(given.strip(), choices)
    if name is None:
        known = [w for n, label in choices.items() for w in (n, *label.values())]
        raise BadInput(
            _("{option}: {value} is not a state of a {type}{hint} (expected one of {choices})").format(
                option=option, value=quote(given.strip()), type=_type_words(rt),
                hint=_hint(given, known, choices), choices=_choices_text(choices, lang))
        )
    return name


def _hint(given: str, known: list[str], choices: dict[str, dict[str, str]]) -> str:
    """did you mean 'closed'?, naming the value to type (a label suggests its name too)."""
    hit = closest(given, known)
    if hit is None:
        return ""
    name = choice(hit, choices)
    if name and name != hit:
        return _("; did you mean '{word}' ({name})?").format(word=hit, name=name)
    return _("; did you mean '{word}'?").format(word=hit)


def _unknown_field(rt: RecordType, path: str, option: str) -> BadInput:
    return BadInput(
        _("{option}: a {type} has no field {path}{hint} (`qms {name} fields` lists them)").format(
            option=option, type=_type_words(rt), path=quote(path), hint=did_you_mean(path, field_paths(rt)),
            name=rt.name)
    )


def _field_path(rt: RecordType, path: str, option: str) -> None:
    """Refuse what is not a field path (as FIELD=VALUE always did) or not a field of the
    type, with the closest path; a field's label typed for its path is pointed to it."""
    if path in ("id", "state"):
        return
    try:
        values.check_path(path)
    except BadInput as e:
        labelled = [p for p in field_paths(rt) if p not in ("id", "state")
                    and any(fold(t) == fold(path) for t in rt.field(p).label.values())]  # type: ignore[union-attr]
        hint = _("; did you mean '{word}'?").format(word=labelled[0]) if labelled else ""
        raise BadInput(f"{option}: {e.message}{hint}") from None
    if rt.field(path) is None:
        raise _unknown_field(rt, path, option)


def parse_condition(rt: RecordType, text: str, tz: tzinfo, lang: str) -> Condition:
    """A --where condition read against the record type: unknown fields, states and enum
    values, and bounds that are not dates or numbers, are refused (BadInput) with what
    was expected and the closest known word."""
    option = f"--where {quote(text)}"
    m = _CONDITION.fullmatch(text.translate(_WIDE_OPERATORS))
    if not m:
        raise BadInput(f"{option}: {_(WHERE_FORMS)}")
    path = text[: m.end(1)].strip()
    op = {"≥": ">=", "≤": "<="}.get(m.group(2), m.group(2))
    wanted = text[m.start(3):].strip()
    _field_path(rt, path, option)
    spec = rt.field(path) if path not in ("id", "state") else None
    item = spec.items if spec is not None and spec.type == "list" and spec.items is not None else spec
    kind = item.type if item is not None else "text"
    choices = state_choices(rt) if path == "state" else item.values if item is not None and kind == "enum" else {}
    if op == "~":
        return Condition(path, op, fold(wanted), kind, tz, _choice_words(choices) if choices else ())
    if op == "=":
        if path == "state":
            return Condition(path, op, resolve_state(rt, wanted, option, lang))
        if choices:
            name = choice(wanted, choices)
            if name is None:
                known = [w for n, label in choices.items() for w in (n, *label.values())]
                raise BadInput(
                    _("{option}: {path} ({label}) has no value {value}{hint} (expected one of {choices})").format(
                        option=option, path=path, label=rt.label_of(path, lang), value=quote(wanted),
                        hint=_hint(wanted, known, choices), choices=_choices_text(choices, lang))
                )
            return Condition(path, op, name, kind)
        if kind == "bool" and wanted.lower() not in values.TRUE_WORDS | values.FALSE_WORDS:
            raise BadInput(_("{option}: {path} ({label}) is yes or no; expected yes or no (true/false)").format(
                option=option, path=path, label=rt.label_of(path, lang)))
        return Condition(path, op, wanted, kind)
    # >= and <=
    if kind not in _ORDERED:
        what = _("a workflow state (use state=STATE)") if path == "state" else \
            _("a record ID (use id=ID or id~TEXT)") if path == "id" else \
            _(_KIND_WORDS[kind]) if kind in _KIND_WORDS else kind
        if spec:
            raise BadInput(_("{option}: {op} compares dates, times and numbers; {path} ({label}) holds {what}").format(
                option=option, op=op, path=path, label=rt.label_of(path, lang), what=what))
        raise BadInput(_("{option}: {op} compares dates, times and numbers; {path} holds {what}").format(
            option=option, op=op, path=path, what=what))
    return Condition(path, op, _bound(kind, wanted, tz, f"{option}: {path} ({rt.label_of(path, lang)})"), kind, tz)


def _bound(kind: str, text: str, tz: tzinfo, where: str) -> Any:
    """The bound of >= or <= as the field's type: a number, a date, or for a date-time
    field a date (the whole day) or an aware date-time (naive: the store's time zone)."""
    try:
        if kind in ("int", "number"):
            if not re.fullmatch(r"[+-]?\d+(\.\d+)?", text):
                raise ValueError
            return float(text) if "." in text else int(text)
        if kind == "money":
            amount = values.money(text)
            if amount is None:
                raise ValueError
            return amount
        if kind == "date" or re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return values.parse_date(text)
        return values.parse_datetime(text, tz)
    except (ValueError, OverflowError):
        raise BadInput(_("{where}: expected {form}, not {value}").format(
            where=where, form=_(_BOUND_FORMS[kind]), value=quote(text))) from None


def sort_path(rt: RecordType, path: str) -> str:
    """The field `--sort` names, checked: a field with one value (not a group)."""
    path = path.strip()
    if path.startswith("-"):
        raise BadInput(_("--sort {path}: for the largest or latest first, add --desc: --sort {field} --desc").format(
            path=quote(path), field=path.lstrip("-")))
    _field_path(rt, path, "--sort")
    spec = rt.field(path) if path not in ("id", "state") else None
    if spec is not None and spec.type == "object":
        inner = next(iter(spec.fields), "name")
        raise BadInput(_("--sort {path}: {field} is a group of fields; sort by one of them, e.g. {field}.{inner}").format(
            path=quote(path), field=path, inner=inner))
    return path


_MISSING_LAST = 2


def sort_key(rt: RecordType, path: str, data: Any, tz: tzinfo) -> tuple[int, Any]:
    """(0, the typed value), (1, the text of a value that does not fit its type) or
    (2, None) for a record without the field: these sort in that order."""
    value = values.get(data, path)
    if values.is_empty(value):
        return _MISSING_LAST, None
    if path == "state":
        order = list(rt.workflow.states)
        return (0, order.index(value)) if value in order else (1, str(value))
    spec = rt.field(path) if path != "id" else None
    if spec is None:
        return 0, str(value)
    if spec.type == "list" and isinstance(value, list):
        keys = [_scalar_key(spec.items, v, tz) if spec.items else (0, fold(str(v))) for v in value]
        return (0, tuple(k[1] for k in keys)) if all(k[0] == 0 for k in keys) else (1, str(value))
    return _scalar_key(spec, value, tz)


def _scalar_key(spec: FieldSpec, value: Any, tz: tzinfo) -> tuple[int, Any]:
    kind = spec.type
    if kind in _ORDERED:
        typed = _typed(kind, value, tz)
        return (0, typed) if typed is not None else (1, str(value))
    if kind == "enum":
        order = list(spec.values)
        return (0, order.index(value)) if value in order else (1, str(value))
    if kind == "bool":
        return (0, int(value)) if isinstance(value, bool) else (1, str(value))
    if isinstance(value, (dict, list)):
        return 1, str(value)
    return 0, fold(str(value))


def _sorted(keyed: list[tuple[tuple[int, Any], dict]], descending: bool) -> list[dict]:
    """Rows by their keys (typed values, then values that do not fit, then records
    without the field, each group in its own order, ties as listed)."""
    out: list[dict] = []
    for bucket in (0, 1, _MISSING_LAST):
        group = [(k[1], row) for k, row in keyed if k[0] == bucket]
        if bucket != _MISSING_LAST:
            group.sort(key=lambda kr: kr[0], reverse=descending)
        out.extend(row for _key, row in group)
    return out


def listing(
    store, type_name: str, where: list[str], overdue: bool, lang: str, *,
    state: str | None = None, sort: str | None = None, descending: bool = False,
) -> tuple[list[dict], list[str]]:
    """Rows for `qms TYPE list`, and the problems met on the way (unreadable files).
    `where`: FIELD=VALUE, FIELD~TEXT, FIELD>=V, FIELD<=V; `state` a state by name or
    label; `sort` a field (records without it last), `descending` largest/latest first
    (without `sort`: the usual order reversed). Everything is checked before a record is
    read."""
    rt = store.record_type(type_name)
    tz = store.config.tz
    conditions = [parse_condition(rt, w, tz, lang) for w in where]
    if state is not None:
        conditions.append(Condition("state", "=", resolve_state(rt, state, "--state", lang)))
    by = sort_path(rt, sort) if sort is not None else None
    now = store.now()

    def row_of(rec):
        if not matches(rt, rec.data, conditions):
            return None
        row = summary_row(store, rt, rec, lang, now)
        if overdue and not row["overdue"]:
            return None
        return (sort_key(rt, by, rec.data, tz), row) if by else row

    rows, problems = [], []
    for found in store.records(type_name, then=row_of):
        if isinstance(found, Exception):
            problems.append(str(found))
        else:
            rows.append(found)
    if by:
        rows = _sorted(rows, descending)
    elif descending:
        rows.reverse()
    return rows, problems + [_("{problem} (not listed)").format(problem=s) for s in store.skipped]


def missing(store, type_name: str, period: str | None, lang: str) -> tuple[list[str], list[list[str]], list[str]]:
    """What records of `type_name` its `expected:` declaration calls for and the store does
    not hold (a survey for each customer and period of each approved plan): (headers,
    rows, problems met on the way). A cancelled record does not count as held. `period`
    (2026, 2026-H1) keeps what falls within it. Refused (BadInput) for a type that
    declares nothing expected."""
    import itertools

    rt = store.record_type(type_name)
    spec = rt.expected
    if spec is None:
        raise BadInput(_("--missing: a {type} is not called for by other records (a survey is, by its plan)").format(
            type=type_name))
    if period is not None and not re.fullmatch(r"\d{4}(-(H[12]|Q[1-4]|\d{2}))?", period.strip()):
        raise BadInput(_("--period '{period}': expected YYYY, YYYY-Hn, YYYY-Qn or YYYY-MM (e.g. 2026-H1)").format(
            period=period))
    source = store.record_type(spec.source)
    problems: list[str] = []
    fields = [k for k, _list in spec.each]
    held = {tuple(str(values.get(r, k)) for k in fields) for r in store.scan(rt.name, problems)
            if r.get("state") != "cancelled"}

    def within(value: str) -> bool:
        """A period value (2026-H1) falls within --period (2026), or the reverse."""
        p = period.strip()
        return value == p or value.startswith(p + "-") or p.startswith(value + "-")

    def shown_as(path: str, value: Any) -> str:
        spec_ = rt.field(path)
        if spec_ is not None and spec_.type == "ref":
            other = store.fetch(spec_.to, str(value))
            title = values.get(other, store.record_type(spec_.to).title_field or "name") if other else None
            return f"{value} {title}" if title else str(value)
        return str(value)

    rows = []
    for rec in sorted(store.scan(source.name, problems), key=lambda r: str(r.get("id"))):
        if not all(str(values.get(rec, k)) == v for k, v in spec.where):
            continue
        lists = [values.get(rec, listing) for _field, listing in spec.each]
        lists = [v if isinstance(v, list) else [] for v in lists]
        for combo in itertools.product(*lists):
            key = tuple(str(v) for v in combo)
            if key in held:
                continue
            if period is not None and spec.period in fields and not within(key[fields.index(spec.period)]):
                continue
            rows.append([str(rec.get("id")), *(shown_as(f, v) for f, v in zip(fields, combo))])
    heads = [words(lang)["type_number"].format(type=source.label.get(lang) or source.name),
             *(rt.label_of(f, lang) for f in fields)]
    return heads, rows, problems
