"""Record types as declarations: `RecordType.from_dict` reads the YAML of
qms_cli/types/<type>.yaml (merged with a store's extensions) into frozen dataclasses."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import BadInput

FIELD_TYPES = {
    "text", "int", "number", "bool", "date", "datetime", "enum", "list", "object",
    "ref", "file", "email",
}
# Keys of the envelope that every record carries and no declaration may reuse.
ENVELOPE_KEYS = ("id", "type", "state", "signatures")
NUMBERING_KEYS = {"year", "seq", "site", "prefix"}


def _label(value: Any, default: str) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if value:
        return {"zh": str(value), "en": str(value)}
    return {"zh": default, "en": default}


@dataclass(frozen=True)
class FieldSpec:
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

    def text(self, lang: str) -> str:
        return self.label.get(lang) or self.label.get("en") or self.name

    def value_label(self, value: Any, lang: str) -> str:
        labels = self.values.get(str(value))
        return labels.get(lang, str(value)) if labels else str(value)

    @staticmethod
    def from_dict(name: str, data: Any, where: str) -> FieldSpec:
        if not isinstance(data, dict):
            raise BadInput(f"{where}: field '{name}' must be a mapping with a 'type'")
        kind = data.get("type", "text")
        if kind not in FIELD_TYPES:
            raise BadInput(
                f"{where}: field '{name}': unknown type '{kind}' "
                f"(expected one of {', '.join(sorted(FIELD_TYPES))})"
            )
        values: dict[str, dict[str, str]] = {}
        if kind == "enum":
            raw = data.get("values")
            if isinstance(raw, list):
                raw = {str(v): None for v in raw}
            if not isinstance(raw, dict) or not raw:
                raise BadInput(f"{where}: enum field '{name}' needs 'values'")
            values = {str(k): _label(v, str(k)) for k, v in raw.items()}
        items = None
        if kind == "list":
            items = FieldSpec.from_dict(name, data.get("items", {"type": "text"}), where)
        fields: dict[str, FieldSpec] = {}
        if kind == "object":
            sub = data.get("fields") or {}
            if not isinstance(sub, dict):
                raise BadInput(f"{where}: object field '{name}' needs 'fields'")
            fields = {str(k): FieldSpec.from_dict(str(k), v, where) for k, v in sub.items()}
        if kind == "ref" and not data.get("to"):
            raise BadInput(f"{where}: reference field '{name}' needs 'to' (a record type)")
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
        )


def _conditions(data: Any) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    """{field: value or [values]} as ((field, (values...)), ...)."""
    return tuple(
        (str(k), tuple(v) if isinstance(v, list) else (v,)) for k, v in (data or {}).items()
    )


@dataclass(frozen=True)
class Requirement:
    """`fields` must be filled in; if `allowed`, the (single) field must hold one of those
    values; all of it only `when` each named field holds one of the listed values."""

    fields: tuple[str, ...]
    allowed: tuple[Any, ...] | None = None
    when: tuple[tuple[str, tuple[Any, ...]], ...] = ()

    @staticmethod
    def from_any(data: Any, where: str) -> Requirement:
        if isinstance(data, str):
            return Requirement(fields=(data,))
        if not isinstance(data, dict):
            raise BadInput(f"{where}: a requirement is a field path or a mapping")
        names = data.get("fields") or ([data["field"]] if data.get("field") else [])
        if not names:
            raise BadInput(f"{where}: a requirement needs 'field' or 'fields'")
        allowed = data.get("in")
        return Requirement(
            fields=tuple(str(n) for n in names),
            allowed=tuple(allowed) if allowed is not None else None,
            when=_conditions(data.get("when")),
        )


@dataclass(frozen=True)
class State:
    name: str
    label: dict[str, str]
    final: bool
    requires: tuple[Requirement, ...]
    includes: str | None


@dataclass(frozen=True)
class Move:
    source: str
    target: str
    role: str | None
    sign: str
    requires: tuple[Requirement, ...] = ()


@dataclass(frozen=True)
class Workflow:
    initial: str
    states: dict[str, State]
    moves: tuple[Move, ...]

    def moves_from(self, state: str) -> list[Move]:
        return [m for m in self.moves if m.source == state]

    def move(self, source: str, target: str) -> Move | None:
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
    name: str
    label: dict[str, str]
    start: str  # field holding the start instant
    met_by: str  # field, or "moved:<state>" for the time of the move into that state
    extended_by: str | None = None  # a date field that, when set later, replaces the limit
    skip_when: tuple[tuple[str, tuple[Any, ...]], ...] = ()  # e.g. no report when not ours


@dataclass(frozen=True)
class RecordType:
    name: str
    label: dict[str, str]
    form: dict[str, str]
    numbering: str
    numbering_date: str | None
    fields: dict[str, FieldSpec]
    workflow: Workflow
    deadlines: tuple[DeadlineSpec, ...] = ()
    deadline_key: str | None = None
    deadlines_stop_in: tuple[str, ...] = ()
    title_field: str | None = None
    list_columns: tuple[str, ...] = ()
    meanings: dict[str, dict[str, str]] = field(default_factory=dict)  # signature labels

    def meaning_label(self, meaning: str, lang: str) -> str:
        return self.meanings.get(meaning, {}).get(lang, meaning)

    @property
    def prefix(self) -> str:
        """The literal text before the first placeholder of the numbering, e.g. 'CMP-'."""
        return self.numbering.split("{", 1)[0]

    def field(self, path: str) -> FieldSpec | None:
        """The declaration of a dotted path (`d4.root_cause`, `disposition.0`)."""
        spec: FieldSpec | None = None
        fields = self.fields
        for part in path.split("."):
            if spec is not None and spec.type == "list":
                if not part.isdigit() and part != "+":
                    return None
                spec = spec.items
                fields = spec.fields if spec else {}
                continue
            spec = fields.get(part)
            if spec is None:
                return None
            fields = spec.fields
        return spec

    def label_of(self, path: str, lang: str) -> str:
        spec = self.field(path)
        return spec.text(lang) if spec else path

    @staticmethod
    def from_dict(data: Any, where: str) -> RecordType:
        if not isinstance(data, dict):
            raise BadInput(f"{where}: a record type declaration must be a mapping")
        name = data.get("type")
        if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise BadInput(f"{where}: type: expected a lower-case name such as 'complaint'")
        raw_fields = data.get("fields") or {}
        for key in raw_fields:
            if key in ENVELOPE_KEYS:
                raise BadInput(f"{where}: field '{key}' is reserved for the record envelope")
        fields = {str(k): FieldSpec.from_dict(str(k), v, where) for k, v in raw_fields.items()}
        numbering = str(data.get("numbering") or "")
        keys = set(re.findall(r"\{(\w+)", numbering))
        if "seq" not in keys or not keys <= NUMBERING_KEYS:
            raise BadInput(
                f"{where}: numbering: '{numbering}' must contain {{seq}} and only "
                f"{{year}}, {{site}}, {{seq}} placeholders"
            )
        workflow = _workflow(data.get("workflow"), where)
        deadlines_raw = data.get("deadlines") or {}
        deadlines = tuple(
            DeadlineSpec(
                name=str(k),
                label=_label(v.get("label"), str(k)),
                start=str(v["from"]),
                met_by=str(v["met_by"]),
                extended_by=v.get("extended_by"),
                skip_when=_conditions(v.get("skip_when")),
            )
            for k, v in (deadlines_raw.get("items") or {}).items()
        )
        rt = RecordType(
            name=name,
            label=_label(data.get("label"), name),
            form=_label(data.get("form"), name),
            numbering=numbering,
            numbering_date=data.get("numbering_date"),
            fields=fields,
            workflow=workflow,
            deadlines=deadlines,
            deadline_key=deadlines_raw.get("key"),
            deadlines_stop_in=tuple(deadlines_raw.get("not_after") or ()),
            title_field=data.get("title_field"),
            list_columns=tuple(data.get("list_columns") or ()),
            meanings={str(k): _label(v, str(k)) for k, v in (data.get("meanings") or {}).items()},
        )
        for move in workflow.moves:
            if rt.meanings and move.sign not in rt.meanings:
                raise BadInput(f"{where}: meanings: no label for the signature '{move.sign}'")
        _check_paths(rt, where)
        return rt


def _workflow(data: Any, where: str) -> Workflow:
    if not isinstance(data, dict) or not isinstance(data.get("states"), dict):
        raise BadInput(f"{where}: workflow: expected 'initial', 'states' and 'moves'")
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
    for raw in data.get("moves") or ():
        sources = raw["from"] if isinstance(raw["from"], list) else [raw["from"]]
        for source in sources:
            moves.append(
                Move(
                    source=str(source),
                    target=str(raw["to"]),
                    role=raw.get("role"),
                    sign=str(raw.get("sign") or raw["to"]),
                    requires=tuple(
                        Requirement.from_any(r, where) for r in raw.get("requires") or ()
                    ),
                )
            )
    initial = str(data.get("initial", ""))
    for name in [initial, *(m.source for m in moves), *(m.target for m in moves)]:
        if name not in states:
            raise BadInput(f"{where}: workflow: state '{name}' is used but not declared")
    for s in states.values():
        if s.includes and s.includes not in states:
            raise BadInput(f"{where}: workflow: state '{s.name}' includes unknown '{s.includes}'")
    return Workflow(initial=initial, states=states, moves=tuple(moves))


def _check_paths(rt: RecordType, where: str) -> None:
    """Every field a requirement or deadline names must be declared."""
    paths: list[str] = []
    for state in rt.workflow.states.values():
        for req in state.requires:
            paths.extend(req.fields)
            paths.extend(k for k, _ in req.when)
    for d in rt.deadlines:
        paths.append(d.start)
        if not d.met_by.startswith("moved:"):
            paths.append(d.met_by)
        if d.extended_by:
            paths.append(d.extended_by)
        paths.extend(k for k, _ in d.skip_when)
    if rt.deadline_key:
        paths.append(rt.deadline_key)
    for p in paths:
        if rt.field(p) is None:
            raise BadInput(f"{where}: '{p}' is named in the workflow but not declared as a field")
