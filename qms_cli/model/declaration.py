"""Record types as declarations: `RecordType.from_dict` reads the YAML of
qms_cli/types/<type>.yaml (merged with a store's extensions) into frozen dataclasses."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from ..errors import BadInput
from ..i18n import _

FIELD_TYPES = {
    "text", "int", "number", "money", "bool", "date", "datetime", "enum", "list", "object",
    "ref", "file", "email", "edition",
}
# Keys of the envelope that every record carries and no declaration may reuse.
ENVELOPE_KEYS = ("id", "type", "state", "pins", "signatures")
NUMBERING_KEYS = {"year", "seq", "site", "prefix"}


def _label(value: Any, default: str) -> dict[str, str]:
    if isinstance(value, dict):
        given = {str(k): str(v) for k, v in value.items() if v is not None and str(v)}
        # a store's declaration may give one language only ({zh: 客诉处理单}): the other is the
        # same words, as for a plain label, so that a form, list or ledger in either language
        # has its title (render --lang en raised KeyError: 'en', an internal error)
        first = next(iter(given.values()), default)
        return {**given, "zh": given.get("zh", first), "en": given.get("en", first)}
    if value:
        return {"zh": str(value), "en": str(value)}
    return {"zh": default, "en": default}


@dataclass(frozen=True)
class FieldSpec:
    """The declaration of one field: its type and labels, an enum's values, a list's items,
    an object's fields, the record type a reference names, bounds and help."""

    name: str
    type: str
    label: dict[str, str]
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # enum: key -> labels
    items: FieldSpec | None = None  # list
    fields: dict[str, FieldSpec] = field(default_factory=dict)  # object
    to: str | None = None  # ref: the record type referred to
    min: float | None = None
    max: float | None = None
    help: str = ""
    pin: str | None = None  # file fields: the field that keeps the file's SHA-256 once pinned
    kept: bool = False  # maintained by qms (computed, or set by other records' moves)

    def text(self, lang: str) -> str:
        """The field's label in `lang` (else in English, else its name)."""
        return self.label.get(lang) or self.label.get("en") or self.name

    def value_label(self, value: Any, lang: str) -> str:
        """How an enum value is shown in `lang`: its label, else the value itself."""
        labels = self.values.get(str(value))
        return labels.get(lang, str(value)) if labels else str(value)

    @staticmethod
    def from_dict(name: str, data: Any, where: str) -> FieldSpec:
        """A field from its declaration; an unknown type, an enum without values, an object
        without fields or a reference without `to` is refused (BadInput, naming `where`)."""
        if not isinstance(data, dict):
            raise BadInput(_("{where}: field '{name}' must be a mapping with a 'type'").format(where=where, name=name))
        kind = data.get("type", "text")
        if kind not in FIELD_TYPES:
            raise BadInput(
                _("{where}: field '{name}': unknown type '{kind}' (expected one of {choices})").format(
                    where=where, name=name, kind=kind, choices=", ".join(sorted(FIELD_TYPES)))
            )
        values: dict[str, dict[str, str]] = {}
        if kind == "enum":
            raw = data.get("values")
            if isinstance(raw, list):
                raw = {str(v): None for v in raw}
            if not isinstance(raw, dict) or not raw:
                raise BadInput(_("{where}: enum field '{name}' needs 'values'").format(where=where, name=name))
            values = {str(k): _label(v, str(k)) for k, v in raw.items()}
        items = None
        if kind == "list":
            items = FieldSpec.from_dict(name, data.get("items", {"type": "text"}), where)
        fields: dict[str, FieldSpec] = {}
        if kind == "object":
            sub = data.get("fields") or {}
            if not isinstance(sub, dict):
                raise BadInput(_("{where}: object field '{name}' needs 'fields'").format(where=where, name=name))
            fields = {str(k): FieldSpec.from_dict(str(k), v, where) for k, v in sub.items()}
        if kind == "ref" and not data.get("to"):
            raise BadInput(_("{where}: reference field '{name}' needs 'to' (a record type)").format(where=where, name=name))
        return FieldSpec(
            name=name,
            type=kind,
            label=_label(data.get("label"), name),
            values=values,
            items=items,
            fields=fields,
            to=data.get("to"),
            min=data.get("min"),
            max=data.get("max"),
            help=str(data.get("help", "")),
            pin=data.get("pin"),
            kept=bool(data.get("kept")),
        )


def _conditions(data: Any) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    """{field: value or [values]} as ((field, (values...)), ...)."""
    return tuple(
        (str(k), tuple(v) if isinstance(v, list) else (v,)) for k, v in (data or {}).items()
    )


REQUIREMENT_KEYS = {
    "field", "fields", "in", "not_in", "when", "any", "empty", "required", "equals",
    "computed", "not_before", "not_after", "count_equals",
}


@dataclass(frozen=True)
class Requirement:
    """What a record must hold. By default each of `fields` must be filled in; `any`: at
    least one of them. Then, for each value (a path through a reference, `document.state`,
    or over a list, `copies.*.state`): `allowed` / `refused` values, `empty` (must be
    blank), `equals` another path, `computed` (equal to what the type computes for it),
    `count_equals` (a list with as many items as another path's number),
    `not_before` / `not_after` a date or time (a path, `today`, `now`, or `signed:<meaning>`;
    two times are compared as times, else as days). All of it
    only `when` each named field holds one of the listed values."""

    fields: tuple[str, ...]
    allowed: tuple[Any, ...] | None = None
    refused: tuple[Any, ...] | None = None
    when: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    any: bool = False
    empty: bool = False
    equals: str | None = None
    computed: bool = False
    not_before: str | None = None
    not_after: str | None = None
    count_equals: str | None = None  # a list holds as many items as this path's number

    @property
    def each(self) -> bool:
        """Whether it is a plain "required" over a list of groups (`lots.*.notified_at`): each
        item of the list must hold the field (an empty list is its own requirement)."""
        return "*" in "".join(self.fields) and not (
            self.empty or self.allowed is not None or self.refused is not None or self.equals or self.computed
            or self.not_before or self.not_after or self.count_equals or self.any)

    @property
    def needs_value(self) -> bool:
        """Whether a blank value fails it (blank passes a date comparison, an exclusion or a
        list check; a field that must also be there is listed as plainly required)."""
        return not (
            self.empty or self.refused is not None or "*" in "".join(self.fields)
            or self.not_before is not None or self.not_after is not None
        )

    @staticmethod
    def from_any(data: Any, where: str) -> Requirement:
        """A requirement from its declaration: a field path, or a mapping of the keys a
        requirement knows; anything else is refused (BadInput, naming `where`)."""
        if isinstance(data, str):
            return Requirement(fields=(data,))
        if not isinstance(data, dict):
            raise BadInput(_("{where}: a requirement is a field path or a mapping").format(where=where))
        unknown = set(data) - REQUIREMENT_KEYS
        if unknown:
            raise BadInput(_("{where}: requirement: unknown key(s) {keys}").format(
                where=where, keys=", ".join(sorted(map(str, unknown)))))
        names = data.get("fields") or ([data["field"]] if data.get("field") else [])
        if not names:
            raise BadInput(_("{where}: a requirement needs 'field' or 'fields'").format(where=where))
        allowed, refused = data.get("in"), data.get("not_in")
        return Requirement(
            fields=tuple(str(n) for n in names),
            allowed=tuple(allowed) if allowed is not None else None,
            refused=tuple(refused) if refused is not None else None,
            when=_conditions(data.get("when")),
            any=bool(data.get("any")),
            empty=bool(data.get("empty")),
            equals=data.get("equals"),
            computed=bool(data.get("computed")),
            not_before=data.get("not_before"),
            not_after=data.get("not_after"),
            count_equals=data.get("count_equals"),
        )


@dataclass(frozen=True)
class State:
    """A state of a workflow: its labels, whether it is final, what a record in it must
    hold, and the state whose requirements it includes."""

    name: str
    label: dict[str, str]
    final: bool
    requires: tuple[Requirement, ...]
    includes: str | None


RoleSpec = str | tuple[str, ...] | None  # a role, any of several, or "@review" (approvals)


def _role(value: Any) -> RoleSpec:
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return str(value) if value else None


@dataclass(frozen=True)
class Move:
    """A step of a workflow from one state to another: the role that signs it, the meaning
    of that signature, and what the record must hold to take it."""

    source: str
    target: str
    role: RoleSpec
    sign: str
    requires: tuple[Requirement, ...] = ()


@dataclass(frozen=True)
class Create:
    """Who may register a record of the type, the signature that makes, and what the
    record must hold at that moment beyond its first state's requirements."""

    role: RoleSpec = None
    sign: str | None = None
    requires: tuple[Requirement, ...] = ()


@dataclass(frozen=True)
class Effect:
    """What entering a state does to other records: `update` the record a reference field
    names, `update_each` the records a list of references names, or `update_all` records
    of a type matching `where` (values may name this record's fields: "{document}").
    Then `set` fields on them (templated values) or `move` them to a state."""

    kind: str  # update | update_each | update_all
    target: str  # the reference field, or the record type for update_all
    where: tuple[tuple[str, str], ...] = ()
    unless: tuple[tuple[str, str], ...] = ()
    except_self: bool = False
    set: tuple[tuple[str, Any], ...] = ()  # value: a template, or {zh: ..., en: ...}
    move: str | None = None

    @staticmethod
    def from_dict(data: Any, where: str) -> Effect:
        """An effect from its declaration: exactly one of update, update_each or update_all,
        with `set` or `move`; anything else is refused (BadInput)."""
        kinds = [k for k in ("update", "update_each", "update_all") if k in data]
        if len(kinds) != 1:
            raise BadInput(_("{where}: effects: each needs one of update, update_each, update_all").format(where=where))
        if not data.get("set") and not data.get("move"):
            raise BadInput(_("{where}: effects: each needs 'set' or 'move'").format(where=where))
        pairs = lambda d: tuple((str(k), str(v)) for k, v in (d or {}).items())  # noqa: E731
        return Effect(
            kind=kinds[0],
            target=str(data[kinds[0]]),
            where=pairs(data.get("where")),
            unless=pairs(data.get("unless")),
            except_self=bool(data.get("except_self")),
            set=tuple((str(k), v if isinstance(v, dict) else str(v)) for k, v in (data.get("set") or {}).items()),
            move=data.get("move"),
        )


@dataclass(frozen=True)
class Workflow:
    """The states a record goes through from `initial`, the signed moves between them, and
    who may create and edit it."""

    initial: str
    states: dict[str, State]
    moves: tuple[Move, ...]
    create: Create = Create()
    edit: RoleSpec = None  # who may change fields with `set`

    def moves_from(self, state: str) -> list[Move]:
        """The moves that leave `state`."""
        return [m for m in self.moves if m.source == state]

    def move(self, source: str, target: str) -> Move | None:
        """The move from `source` to `target`, None if the workflow has none."""
        for m in self.moves:
            if m.source == source and m.target == target:
                return m
        return None

    def requirements(self, state: str) -> list[Requirement]:
        """Everything a record in `state` must hold, following `includes`."""
        out: list[Requirement] = []
        seen: set[str] = set()
        name: str | None = state
        while name and name not in seen and name in self.states:
            seen.add(name)
            out.extend(self.states[name].requires)
            name = self.states[name].includes
        return out

    def reachable(self) -> set[str]:
        """Every state a record can reach from the initial one."""
        seen = {self.initial}
        todo = [self.initial]
        while todo:
            for m in self.moves_from(todo.pop()):
                if m.target not in seen:
                    seen.add(m.target)
                    todo.append(m.target)
        return seen


@dataclass(frozen=True)
class DeadlineSpec:
    """A time limit on a record: the date it runs from, what meets it (a field, or reaching
    a state), what extends it, when it does not apply, and how long it is."""

    name: str
    label: dict[str, str]
    start: tuple[str, ...]  # field(s) holding the start; the latest filled-in one counts
    met_by: str | None  # field, or "moved:<state>"; None: a recurring due date (reviews)
    extended_by: str | None = None  # a date field that, when set later, replaces the limit
    skip_when: tuple[tuple[str, tuple[Any, ...]], ...] = ()  # e.g. no report when not ours
    limit: str | None = None  # a fixed limit; else the store's profile gives it
    limit_field: str | None = None  # or a field holds the number ...
    limit_unit: str = "d"  # ... of these units
    # who `qms remind` reminds (`who: {role: ..., owner: FIELD}`): the named owner(s) in a
    # field where the record holds them, else the role's holders on the day; without a
    # role, the role of the move that meets it ("moved:STATE"), else of the record's next moves
    who_roles: tuple[str, ...] = ()
    who_owner: str | None = None


@dataclass(frozen=True)
class Reminder:
    """Items of a list that each carry their own due date and owner (a CAPA's actions, a
    visit's follow-ups), which `qms remind` reminds of until their `done` field is filled
    in: `reminders: [{each: actions, due: actions.*.due, done: actions.*.done_on,
    owner: actions.*.owner, what: actions.*.action, not_in: [effective, cancelled]}]`.
    The paths are the item's fields as a report names them (`each.*.field`)."""

    label: dict[str, str]
    each: str
    due: str
    done: str | None = None
    owner: str | None = None
    what: str | None = None
    role: tuple[str, ...] = ()  # the owner's role, for grouping (default: the type's edit role)
    not_in: tuple[str, ...] = ()  # states in which nothing is reminded of

    def item_field(self, path: str | None) -> str | None:
        """The field of one item that `path` (actions.*.due) names (due)."""
        if path is None:
            return None
        return path[len(self.each) + 3:] if path.startswith(self.each + ".*.") else path

    @staticmethod
    def from_any(raw: Any, where: str) -> tuple[Reminder, ...]:
        """A type's `reminders:` read and checked (every path a field of each item); () if
        it has none. A malformed one is refused (BadInput)."""
        if raw is None:
            return ()
        if not isinstance(raw, list) or not all(isinstance(r, dict) and r.get("each") and r.get("due")
                                                for r in raw):
            raise BadInput(_("{where}: reminders: expected a list of {{each: LIST, due: LIST.*.FIELD, "
                             "done: ..., owner: ...}}").format(where=where))
        out = []
        for r in raw:
            for key in ("due", "done", "owner", "what"):
                if r.get(key) is not None and not str(r[key]).startswith(str(r["each"]) + ".*."):
                    raise BadInput(_("{where}: reminders: {key}: expected a field of each item, such as "
                                     "{each}.*.due").format(where=where, key=key, each=r["each"]))
            role = r.get("role")
            out.append(Reminder(
                label=_label(r.get("label"), str(r["each"])), each=str(r["each"]), due=str(r["due"]),
                done=r.get("done"), owner=r.get("owner"), what=r.get("what"),
                role=tuple(role) if isinstance(role, list) else (str(role),) if role else (),
                not_in=tuple(r.get("not_in") or ())))
        return tuple(out)


def _who(raw: Any, where: str, name: str) -> tuple[tuple[str, ...], str | None]:
    """A deadline's `who: {role: ROLE or [ROLES], owner: FIELD}`."""
    if raw is None:
        return (), None
    if not isinstance(raw, dict) or set(raw) - {"role", "owner"}:
        raise BadInput(_("{where}: deadlines.items.{name}.who: expected {{role: ROLE, owner: FIELD}}").format(
            where=where, name=name))
    role = raw.get("role")
    roles = tuple(str(r) for r in role) if isinstance(role, list) else (str(role),) if role else ()
    return roles, (str(raw["owner"]) if raw.get("owner") else None)


@dataclass(frozen=True)
class Approvals:
    """Roles that depend on the record: `@review` means approvals[<key value>].review
    (qms.yaml `approvals:` over the declaration's `default`); a holding of a role limited
    to a department counts only where `department` resolves to that department."""

    key: str | None = None
    department: str | None = None
    default: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Compute:
    """A named function a declaration calls, and what it is given: a value the type
    computes for a field (next edition, next copy number; the fields it is given), or a
    named check (model/named.py; its arguments as declared)."""

    fn: str
    args: tuple[str, ...] = ()
    always: bool = False  # a computed value filled in again on every change, not only at registration


@dataclass(frozen=True)
class Expected:
    """The records of a type that records of another type call for (`expected:`): each
    approved survey plan expects a survey of each of its customers in each of its periods.
    `each` maps a field of the expected record to the list of the calling record that gives
    its values; `where` narrows the calling records; `period`, the field --period matches."""

    source: str
    each: tuple[tuple[str, str], ...]
    where: tuple[tuple[str, str], ...] = ()
    period: str | None = None

    @staticmethod
    def from_any(raw: Any, where: str) -> Expected | None:
        """`expected:` as declared, checked; None when the type declares nothing expected."""
        if raw is None:
            return None
        each = raw.get("each") if isinstance(raw, dict) else None
        if not (isinstance(raw, dict) and isinstance(raw.get("from"), str) and isinstance(each, dict) and each
                and set(raw) <= {"from", "each", "where", "period"} and isinstance(raw.get("where") or {}, dict)):
            raise BadInput(_("{where}: expected: expected {{from: TYPE, each: {{FIELD: LIST, ...}}, where: {{...}}}}")
                           .format(where=where))
        return Expected(
            source=raw["from"], each=tuple((str(k), str(v)) for k, v in each.items()),
            where=tuple((str(k), str(v)) for k, v in (raw.get("where") or {}).items()),
            period=str(raw["period"]) if raw.get("period") else None,
        )


@dataclass(frozen=True)
class KnownAs:
    """The names a record is known by, where other records name it in free text (`known_as:`):
    a customer's name and aliases, as complaints and returns write them in customer.name.
    `names`: this record's fields holding them; `by`: (type, field) where others write them;
    `add_to`: the list `link` adds a name to."""

    names: tuple[str, ...]
    by: tuple[tuple[str, str], ...]
    add_to: str

    @staticmethod
    def from_any(raw: Any, where: str) -> KnownAs | None:
        """`known_as:` as declared, checked; None when the type is not known by a name."""
        if raw is None:
            return None
        ok = (isinstance(raw, dict) and set(raw) <= {"names", "by", "add_to"} and isinstance(raw.get("names"), list)
              and raw["names"] and isinstance(raw.get("by"), dict) and raw["by"] and isinstance(raw.get("add_to"), str))
        if not ok:
            raise BadInput(_("{where}: known_as: expected {{names: [FIELD, ...], by: {{TYPE: FIELD}}, add_to: LIST}}")
                           .format(where=where))
        return KnownAs(names=tuple(str(n) for n in raw["names"]),
                       by=tuple((str(k), str(v)) for k, v in raw["by"].items()), add_to=str(raw["add_to"]))


@dataclass(frozen=True)
class Watermark:
    """What is printed across every page of a record's printed form when `when` holds
    (each FIELD, which may pass through a reference such as document.state, holds one of
    its values): 受控文件 第 {copy_number} 份 on an issued copy, 作废 / OBSOLETE on the forms of
    an obsolete document. `text` by language, with {field} placeholders."""

    when: tuple[tuple[str, tuple[str, ...]], ...]
    text: dict[str, str]

    @staticmethod
    def from_any(raw: Any, where: str) -> tuple[Watermark, ...]:
        """`watermark:` as declared: a list of {when: {FIELD: VALUE or [VALUES]}, text:
        {zh: ..., en: ...}}, the first that holds printed."""
        if raw is None:
            return ()
        bad = BadInput(_("{where}: watermark: expected a list of {{when: {{FIELD: VALUE}}, text: {{zh: TEXT, "
                         "en: TEXT}}}}").format(where=where))
        if not isinstance(raw, list):
            raise bad
        out = []
        for item in raw:
            if not (isinstance(item, dict) and set(item) == {"when", "text"} and isinstance(item["when"], dict)
                    and isinstance(item["text"], dict) and item["text"]):
                raise bad
            when = tuple((str(k), tuple(str(v) for v in (vs if isinstance(vs, list) else [vs])))
                         for k, vs in item["when"].items())
            out.append(Watermark(when=when, text={str(k): str(v) for k, v in item["text"].items()}))
        return tuple(out)


@dataclass(frozen=True)
class RecordType:
    """A record type as declared (complaint, document, controlled copy ...): its numbering,
    fields, workflow, deadlines, signature meanings, approvals and effects."""

    name: str
    label: dict[str, str]
    form: dict[str, str]
    numbering: dict[str, str]  # category value (or "" for one scheme) -> scheme
    numbering_by: str | None
    numbering_date: str | None
    fields: dict[str, FieldSpec]
    workflow: Workflow
    deadlines: tuple[DeadlineSpec, ...] = ()
    deadline_key: str | None = None
    deadlines_stop_in: tuple[str, ...] = ()
    title_field: str | None = None
    own_number: str | None = None  # a field holding the record's own number, which it keeps
    list_columns: tuple[str, ...] = ()
    meanings: dict[str, dict[str, str]] = field(default_factory=dict)  # signature labels
    approvals: Approvals = Approvals()
    compute: dict[str, Compute] = field(default_factory=dict)
    checks: tuple[Compute, ...] = ()  # named checks (model/named.py) the type's records must pass
    pin_in: tuple[str, ...] = ()
    effects: dict[str, tuple[Effect, ...]] = field(default_factory=dict)
    unique: tuple[tuple[tuple[str, ...], str | None], ...] = ()  # (fields, replaces-field)
    # what tells one record of the type from another in a ledger (a complaint: the customer,
    # when it was received, the part); `id` is the record's number. An imported row whose
    # key a record already holds is that record, not a new one.
    natural_key: tuple[str, ...] = ()
    expected: Expected | None = None  # the records other records say should exist (a plan's surveys)
    # other forms of the same record (a service's 现场服务报告 and 安装验收记录 beside its
    # 售后服务申请表): name -> title; `qms render ID --form NAME` fills <type>.<name>.<lang>.md.j2
    forms: dict[str, dict[str, str]] = field(default_factory=dict)
    known_as: KnownAs | None = None  # the names others write for it in free text (a customer's)
    watermarks: tuple[Watermark, ...] = ()  # printed across a PDF form's pages: the first that holds
    reminders: tuple[Reminder, ...] = ()  # list items with their own due dates and owners (qms remind)

    def scheme(self, data: Any) -> str:
        """The numbering scheme for a record (by category where the type says so)."""
        if not self.numbering_by:
            return self.numbering[""]
        value = data.get(self.numbering_by) if isinstance(data, dict) else None
        if value not in self.numbering:
            raise BadInput(
                _("{field}: required to number a new {type} (expected one of {choices})").format(
                    field=self.numbering_by, type=self.name, choices=", ".join(self.numbering))
            )
        return self.numbering[value]

    def number_of(self, data: Any) -> str:
        """The record's number as forms, lists and ledgers print it: its own number where the
        type keeps one (an external standard's GB/T 27922-2011), else its ID."""
        if self.own_number and isinstance(data, dict):
            own = data.get(self.own_number)
            if isinstance(own, str) and own.strip():
                return own
        return str(data.get("id") if isinstance(data, dict) else "")

    def meaning_label(self, meaning: str, lang: str) -> str:
        """How a signature's meaning is shown in `lang` (the meaning itself when unlabelled)."""
        return self.meanings.get(meaning, {}).get(lang, meaning)

    def field(self, path: str) -> FieldSpec | None:
        """The declaration of a dotted path (`d4.root_cause`, `disposition.0`)."""
        spec: FieldSpec | None = None
        fields = self.fields
        for part in path.split("."):
            if spec is not None and spec.type == "list":
                if not part.isdigit() and part not in ("+", "*", "-1"):
                    return None
                spec = spec.items
                fields = spec.fields if spec else {}
                continue
            spec = fields.get(part)
            if spec is None:
                return None
            fields = spec.fields
        return spec

    def kept(self, path: str) -> bool:
        """Whether `path` (or a group it is in) is maintained by qms, not typed by a person."""
        parts = path.split(".")
        return any((s := self.field(".".join(parts[:i]))) is not None and s.kept for i in range(1, len(parts) + 1))

    def label_of(self, path: str, lang: str) -> str:
        """The label of the field at `path` in `lang`, the path itself for an undeclared one;
        an item of a list (`lots.0`) is labelled as its list."""
        head, _dot, last = path.rpartition(".")
        if head and (last.isdigit() or last == "*"):
            return self.label_of(head, lang)
        spec = self.field(path)
        return spec.text(lang) if spec else path

    def references(self, data: Any, fields: dict | None = None, prefix: str = "") -> Iterator[tuple[str, str, str]]:
        """(field path, type referred to, ID) for each reference to another record that
        `data` (a record of this type) holds, in the order of the declaration."""
        fields = self.fields if fields is None else fields
        for name, spec in fields.items():
            value = data.get(name) if isinstance(data, dict) else None
            if value not in (None, "", [], {}):
                yield from self._refs_in(spec, value, f"{prefix}{name}")

    def _refs_in(self, spec: FieldSpec, value: Any, path: str) -> Iterator[tuple[str, str, str]]:
        if spec.type == "ref" and spec.to and isinstance(value, str):
            yield path, spec.to, value
        elif spec.type == "list" and spec.items is not None and isinstance(value, list):
            for item in value:
                yield from self._refs_in(spec.items, item, path)
        elif spec.type == "object" and isinstance(value, dict):
            yield from self.references(value, spec.fields, path + ".")

    @staticmethod
    def from_dict(data: Any, where: str) -> RecordType:
        """A record type from its declaration (with the store's extensions); a declaration not
        well formed (a reserved field, a bad numbering scheme, an unlabelled signature, an
        undeclared field named) is refused (BadInput, naming `where`)."""
        if not isinstance(data, dict):
            raise BadInput(_("{where}: a record type declaration must be a mapping").format(where=where))
        name = data.get("type")
        if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise BadInput(_("{where}: type: expected a lower-case name such as 'complaint'").format(where=where))
        raw_fields = data.get("fields") or {}
        for key in raw_fields:
            if key in ENVELOPE_KEYS:
                raise BadInput(_("{where}: field '{name}' is reserved for the record envelope").format(where=where, name=key))
        fields = {str(k): FieldSpec.from_dict(str(k), v, where) for k, v in raw_fields.items()}
        raw_numbering = data.get("numbering") or ""
        numbering_by = None
        if isinstance(raw_numbering, dict):
            numbering_by = raw_numbering.get("by")
            schemes = {str(k): str(v) for k, v in (raw_numbering.get("schemes") or {}).items()}
        else:
            schemes = {"": str(raw_numbering)}
        for scheme in schemes.values():
            keys = set(re.findall(r"\{(\w+)", scheme))
            if not scheme or not keys <= NUMBERING_KEYS or not re.fullmatch(r"[A-Za-z0-9{}:_.-]+", scheme):
                raise BadInput(
                    _("{where}: numbering: '{scheme}' must be letters, digits and '-' with only "
                      "{{year}}, {{site}}, {{seq}} placeholders").format(where=where, scheme=scheme)
                )
        workflow = _workflow(data.get("workflow"), where)
        deadlines_raw = data.get("deadlines") or {}
        items_raw = deadlines_raw.get("items") if isinstance(deadlines_raw, dict) else None
        for k, v in items_raw.items() if isinstance(items_raw, dict) else ():
            if not isinstance(v, dict) or v.get("from") in (None, "", []):
                raise BadInput(_("{where}: deadlines.items.{name}: expected from: (the field the time limit "
                                 "runs from)").format(where=where, name=k))
        deadlines = tuple(
            DeadlineSpec(
                name=str(k),
                label=_label(v.get("label"), str(k)),
                start=tuple(v["from"]) if isinstance(v["from"], list) else (str(v["from"]),),
                met_by=v.get("met_by"),
                extended_by=v.get("extended_by"),
                skip_when=_conditions(v.get("skip_when")),
                limit=v.get("limit"),
                limit_field=v.get("limit_field"),
                limit_unit=str(v.get("limit_unit") or "d"),
                who_roles=_who(v.get("who"), where, str(k))[0],
                who_owner=_who(v.get("who"), where, str(k))[1],
            )
            for k, v in (deadlines_raw.get("items") or {}).items()
        )
        approvals_raw = data.get("approvals") or {}
        rt = RecordType(
            name=name,
            label=_label(data.get("label"), name),
            form=_label(data.get("form"), name),
            forms=_forms(data.get("forms"), where),
            known_as=KnownAs.from_any(data.get("known_as"), where),
            watermarks=Watermark.from_any(data.get("watermark"), where),
            numbering=schemes,
            numbering_by=numbering_by,
            numbering_date=data.get("numbering_date"),
            own_number=data.get("own_number"),
            fields=fields,
            workflow=workflow,
            deadlines=deadlines,
            deadline_key=deadlines_raw.get("key"),
            deadlines_stop_in=tuple(deadlines_raw.get("not_after") or ()),
            title_field=data.get("title_field"),
            list_columns=tuple(data.get("list_columns") or ()),
            meanings={str(k): _label(v, str(k)) for k, v in (data.get("meanings") or {}).items()},
            approvals=Approvals(
                key=approvals_raw.get("key"),
                department=approvals_raw.get("department"),
                default=dict(approvals_raw.get("default") or {}),
            ),
            compute={
                str(k): Compute(fn=str(v["fn"]), args=tuple(v.get("args") or ()), always=bool(v.get("always")))
                for k, v in (data.get("compute") or {}).items()
            },
            pin_in=tuple(data.get("pin_in") or ()),
            effects={
                str(state): tuple(Effect.from_dict(e, where) for e in effects or ())
                for state, effects in (data.get("effects") or {}).items()
            },
            unique=tuple(
                (tuple(u["fields"]), u.get("replaces")) for u in data.get("unique") or ()
            ),
            checks=_named_checks(data.get("checks"), where),
            natural_key=_natural_key(data.get("natural_key"), where),
            expected=Expected.from_any(data.get("expected"), where),
            reminders=Reminder.from_any(data.get("reminders"), where),
        )
        for state in rt.effects:
            if state not in workflow.states:
                raise BadInput(_("{where}: effects: no state '{state}'").format(where=where, state=state))
        signs = [m.sign for m in workflow.moves] + ([create.sign] if (create := workflow.create).sign else [])
        for sign in signs:
            if rt.meanings and sign not in rt.meanings:
                raise BadInput(_("{where}: meanings: no label for the signature '{meaning}'").format(where=where, meaning=sign))
        _check_paths(rt, where)
        return rt


def _workflow(data: Any, where: str) -> Workflow:
    if not isinstance(data, dict) or not isinstance(data.get("states"), dict):
        raise BadInput(_("{where}: workflow: expected 'initial', 'states' and 'moves'").format(where=where))
    states: dict[str, State] = {}
    for name, raw in data["states"].items():
        raw = raw or {}
        states[str(name)] = State(
            name=str(name),
            label=_label(raw.get("label"), str(name)),
            final=bool(raw.get("final", False)),
            requires=tuple(Requirement.from_any(r, where) for r in raw.get("requires") or ()),
            includes=raw.get("includes"),
        )
    moves: list[Move] = []
    create_raw = data.get("create") or {}
    create = Create(
        role=_role(create_raw.get("role")),
        sign=create_raw.get("sign"),
        requires=tuple(Requirement.from_any(r, where) for r in create_raw.get("requires") or ()),
    )
    for raw in data.get("moves") or ():
        if not isinstance(raw, dict) or raw.get("from") in (None, "", []) or raw.get("to") in (None, ""):
            raise BadInput(_("{where}: workflow.moves: each move names the states it goes from: and to: "
                             "(e.g. {{from: received, to: acknowledged}})").format(where=where))
        sources = raw["from"] if isinstance(raw["from"], list) else [raw["from"]]
        for source in sources:
            moves.append(
                Move(
                    source=str(source),
                    target=str(raw["to"]),
                    role=_role(raw.get("role")),
                    sign=str(raw.get("sign") or raw["to"]),
                    requires=tuple(
                        Requirement.from_any(r, where) for r in raw.get("requires") or ()
                    ),
                )
            )
    initial = str(data.get("initial", ""))
    for name in [initial, *(m.source for m in moves), *(m.target for m in moves)]:
        if name not in states:
            raise BadInput(_("{where}: workflow: state '{state}' is used but not declared").format(where=where, state=name))
    for s in states.values():
        if s.includes and s.includes not in states:
            raise BadInput(_("{where}: workflow: state '{state}' includes unknown '{included}'").format(
                where=where, state=s.name, included=s.includes))
    return Workflow(initial=initial, states=states, moves=tuple(moves), create=create,
                    edit=_role((data.get("edit") or {}).get("role")))


def declared_prefix(rt: RecordType, path: str) -> bool:
    """Whether `path` is a declared field, or goes through a declared reference field
    (`document.state` on a revision: the state of the document it refers to)."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        spec = rt.field(".".join(parts[:i]))
        if spec is None:
            continue
        if i == len(parts):
            return True
        target = spec.items if spec.type == "list" and spec.items else spec
        return target.type == "ref" or (spec.type == "list" and parts[i] in ("*", "-1"))
    return parts[0] in ("id", "state")


def _check_paths(rt: RecordType, where: str) -> None:
    """Every field a requirement, deadline or rule names must be declared."""
    paths: list[str] = []
    reqs = [r for s in rt.workflow.states.values() for r in s.requires]
    reqs += [r for m in rt.workflow.moves for r in m.requires] + list(rt.workflow.create.requires)
    for req in reqs:
        paths.extend(req.fields)
        paths.extend(k for k, _values in req.when)
        if req.equals:
            paths.append(req.equals)
        if req.count_equals:
            paths.append(req.count_equals)
        for op in (req.not_before, req.not_after):
            if op and op not in ("today", "now") and not op.startswith("signed:"):
                paths.append(op)
    for d in rt.deadlines:
        paths.extend(d.start)
        if d.met_by and not d.met_by.startswith("moved:"):
            paths.append(d.met_by)
        if d.extended_by:
            paths.append(d.extended_by)
        if d.limit_field:
            paths.append(d.limit_field)
        paths.extend(k for k, _values in d.skip_when)
        if d.who_owner:
            paths.append(d.who_owner)
    for r in rt.reminders:
        paths.extend(p for p in (r.due, r.done, r.owner, r.what) if p)
    if rt.deadline_key:
        paths.append(rt.deadline_key)
    paths.extend(p for p in rt.natural_key if p != "id")
    if rt.expected is not None:
        paths.extend(k for k, _list in rt.expected.each)
    if rt.known_as is not None:
        paths.extend([*rt.known_as.names, rt.known_as.add_to])
    for name, c in rt.compute.items():
        paths.append(name)
        paths.extend(a for a in c.args if isinstance(a, str))
    for p in paths:
        if not declared_prefix(rt, p):
            raise BadInput(_("{where}: '{path}' is named in the declaration but not declared as a field").format(
                where=where, path=p))


def _named_checks(raw: Any, where: str) -> tuple[Compute, ...]:
    """`checks:` as declared: a list of names, or of {fn: NAME, args: [...]}."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise BadInput(_("{where}: checks: expected a list such as [{{fn: different_signers, args: [prepared, "
                         "approved]}}]").format(where=where))
    out = []
    for item in raw:
        if isinstance(item, str) and item:
            out.append(Compute(fn=item))
        elif isinstance(item, dict) and isinstance(item.get("fn"), str) and set(item) <= {"fn", "args"} \
                and isinstance(item.get("args") or [], list):
            out.append(Compute(fn=item["fn"], args=tuple(str(a) for a in item.get("args") or ())))
        else:
            raise BadInput(_("{where}: checks: expected a list such as [{{fn: different_signers, args: [prepared, "
                             "approved]}}]").format(where=where))
    return tuple(out)


def _forms(raw: Any, where: str) -> dict[str, dict[str, str]]:
    """`forms:` as declared: NAME: {zh: TITLE, en: TITLE}, each name a word."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(k, str) and re.fullmatch(r"[a-z][a-z0-9_]*", k)
                                            for k in raw):
        raise BadInput(_("{where}: forms: expected NAME: {{zh: TITLE, en: TITLE}}, each NAME a lowercase word").format(
            where=where))
    return {k: _label(v, k) for k, v in raw.items()}


def _natural_key(raw: Any, where: str) -> tuple[str, ...]:
    """`natural_key:` as declared: a list of field paths (or `id`, the record's number)."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw or not all(isinstance(p, str) and p for p in raw):
        raise BadInput(_("{where}: natural_key: expected a list of field paths such as [customer.name, "
                         "received_at]").format(where=where))
    return tuple(raw)
