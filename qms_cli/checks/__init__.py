"""Store-wide validation: named pure functions `(records, context) -> findings`, never
raising on the first problem. `validate()` reads the records and runs every CHECK."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from ..errors import BadFile, BadInput, Finding, QmsError
from ..model import values
from ..model.declaration import FieldSpec, RecordType


@dataclass
class Context:
    """What checks may look at besides the records: types, files, the set of known IDs."""

    root: Path
    types: dict[str, RecordType]
    known: dict[str, set[str]] = field(default_factory=dict)  # type -> IDs in the store
    file_exists: Callable[[str], bool] = lambda rel: False
    store: Any = None
    by_id: dict[tuple[str, str], dict] = field(default_factory=dict)

    def evaluator(self, rt: RecordType, data: dict):
        """Requirements over this record and the records it refers to (from those read)."""
        from ..model.rules import Evaluator

        def fetch(type_name: str, rid: str):
            return self.by_id.get((type_name, rid))

        def types(name: str) -> RecordType:
            if name not in self.types and self.store is not None:
                self.types[name] = self.store.record_type(name)
            return self.types[name]

        return Evaluator(rt=rt, data=data, types=types, fetch=fetch, tz=self.store.config.tz if self.store else None)


@dataclass(frozen=True)
class Loaded:
    type: str
    path: str
    data: dict


def check_envelope(records: list[Loaded], ctx: Context) -> Iterable[Finding]:
    for r in records:
        rt = ctx.types[r.type]
        rid = r.data.get("id")
        stem = Path(r.path).stem
        if rid != stem:
            yield Finding(r.path, "id", f"'{rid}' does not match the file name '{stem}'")
        if r.data.get("type") != r.type:
            yield Finding(
                r.path, "type", f"'{r.data.get('type')}' but the file is in records/{r.type}/"
            )
        state = r.data.get("state")
        if not isinstance(state, str) or state not in rt.workflow.states:
            yield Finding(
                r.path, "state", f"'{state}' is not a state of {r.type} "
                f"(expected one of {', '.join(rt.workflow.states)})"
            )
        sigs = r.data.get("signatures")
        if sigs is not None and not isinstance(sigs, list):
            yield Finding(r.path, "signatures", "expected a list of signatures")


def check_schema(records: list[Loaded], ctx: Context) -> Iterable[Finding]:
    for r in records:
        rt = ctx.types[r.type]
        for path, message in values.check_fields(rt.fields, r.data, envelope=True):
            severity = "warning" if message.startswith("unknown field") else "error"
            yield Finding(r.path, path, message, severity=severity)


def check_state_requirements(records: list[Loaded], ctx: Context) -> Iterable[Finding]:
    for r in records:
        rt = ctx.types[r.type]
        state = r.data.get("state")
        if not isinstance(state, str) or state not in rt.workflow.states:
            continue
        ev = ctx.evaluator(rt, r.data)
        for path, why in ev.unmet(rt.workflow.requirements(state)):
            yield Finding(r.path, path.split(" [")[0], f"{why} in state '{state}'")


def check_pinned_content(records: list[Loaded], ctx: Context) -> Iterable[Finding]:
    """Approved content is pinned by its SHA-256: a file changed afterwards is reported."""
    import hashlib

    for r in records:
        rt = ctx.types[r.type]
        pins = r.data.get("pins")
        if isinstance(pins, dict):
            for rel, pinned in pins.items():
                path = ctx.root / str(rel)
                if not path.is_file():
                    yield Finding(r.path, f"pins.{rel}", "pinned file is not in the store")
                elif hashlib.sha256(path.read_bytes()).hexdigest() != pinned:
                    yield Finding(r.path, f"pins.{rel}", "the file changed after it was pinned")
        if r.data.get("state") not in rt.pin_in:
            continue
        for name, spec in rt.fields.items():
            rel, pinned = r.data.get(name), r.data.get(spec.pin) if spec.pin else None
            if spec.type != "file" or not spec.pin or not isinstance(rel, str) or not pinned:
                continue
            path = ctx.root / rel
            if not path.is_file():
                continue  # reported by check_files
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest != pinned:
                yield Finding(
                    r.path, name,
                    f"'{rel}' changed after it was approved (SHA-256 {digest[:12]}…, pinned {str(pinned)[:12]}…)",
                )


def check_unique(records: list[Loaded], ctx: Context) -> Iterable[Finding]:
    """Declared unique combinations, e.g. a copy number within a document (a damaged
    copy's replacement may share its number)."""
    by_type: dict[str, list[Loaded]] = defaultdict(list)
    for r in records:
        by_type[r.type].append(r)
    for tname, recs in by_type.items():
        for fields, replaces in ctx.types[tname].unique:
            seen: dict[tuple, list[Loaded]] = defaultdict(list)
            for r in recs:
                key = tuple(str(values.get(r.data, f)) for f in fields)
                if all(values.get(r.data, f) is not None for f in fields):
                    seen[key].append(r)
            for key, group in seen.items():
                if len(group) < 2:
                    continue
                ids = {g.data.get("id") for g in group}
                chained = replaces and all(
                    g.data.get(replaces) in ids or any(o.data.get(replaces) == g.data.get("id") for o in group)
                    for g in group
                )
                if not chained:
                    for g in group:
                        others = ", ".join(sorted(str(o.data.get("id")) for o in group if o is not g))
                        yield Finding(g.path, fields[-1], f"{'/'.join(key)} is also held by {others}")


def _walk(fields: dict[str, FieldSpec], data, prefix=""):
    """(path, spec, value) for every filled-in leaf value."""
    if not isinstance(data, dict):
        return
    for key, spec in fields.items():
        value = data.get(key)
        if value is None:
            continue
        path = f"{prefix}{key}"
        if spec.type == "object":
            yield from _walk(spec.fields, value, path + ".")
        elif spec.type == "list" and isinstance(value, list) and spec.items is not None:
            for i, item in enumerate(value):
                if spec.items.type == "object":
                    yield from _walk(spec.items.fields, item, f"{path}.{i}.")
                else:
                    yield f"{path}.{i}", spec.items, item
        else:
            yield path, spec, value


def check_references(records: list[Loaded], ctx: Context) -> Iterable[Finding]:
    for r in records:
        for path, spec, value in _walk(ctx.types[r.type].fields, r.data):
            if spec.type == "ref" and isinstance(value, str):
                if value not in ctx.known.get(spec.to or "", set()):
                    yield Finding(r.path, path, f"refers to {spec.to} '{value}', which is not in the store")


def check_files(records: list[Loaded], ctx: Context) -> Iterable[Finding]:
    for r in records:
        for path, spec, value in _walk(ctx.types[r.type].fields, r.data):
            if spec.type == "file" and isinstance(value, str):
                try:
                    values.check_file_path(value)
                except ValueError:
                    continue  # reported by check_schema
                if not ctx.file_exists(value):
                    yield Finding(r.path, path, f"attached file '{value}' is not in the store")


def check_duplicate_ids(records: list[Loaded], ctx: Context) -> Iterable[Finding]:
    where = defaultdict(list)
    for r in records:
        where[Path(r.path).stem].append(r.path)
    for rid, paths in where.items():
        if len(paths) > 1:
            for p in paths:
                others = ", ".join(x for x in paths if x != p)
                yield Finding(p, "id", f"'{rid}' is also the ID of {others}")


def check_signatures(records: list[Loaded], ctx: Context) -> Iterable[Finding]:
    """Each signature names who, when, and a move the workflow has."""
    for r in records:
        rt = ctx.types[r.type]
        raw = r.data.get("signatures")
        for i, sig in enumerate(raw if isinstance(raw, list) else []):
            if not isinstance(sig, dict):
                yield Finding(r.path, f"signatures.{i}", "expected meaning, name, email, at, from, to")
                continue
            created = i == 0 and "from" not in sig and sig.get("to") == rt.workflow.initial
            for key in ("meaning", "email", "at", "to") + (() if created else ("from",)):
                if values.is_empty(sig.get(key)):
                    yield Finding(r.path, f"signatures.{i}.{key}", "required in a signature")
            if sig.get("from") and sig.get("to") and rt.workflow.move(sig["from"], sig["to"]) is None:
                yield Finding(
                    r.path, f"signatures.{i}", f"{sig['from']} -> {sig['to']} is not a move of {r.type}"
                )
        sigs = values.signatures(r.data)
        if sigs and sigs[-1].get("to") != r.data.get("state"):
            yield Finding(
                r.path, "state",
                f"'{r.data.get('state')}' but the last signed move went to '{sigs[-1].get('to')}'",
            )


CHECKS = [
    check_envelope,
    check_schema,
    check_state_requirements,
    check_references,
    check_files,
    check_duplicate_ids,
    check_signatures,
    check_pinned_content,
    check_unique,
]


class _LazyRecords(dict):
    """Records by (type, id), reading the ones not loaded yet on demand."""

    def __init__(self, loaded: dict, store):
        super().__init__(loaded)
        self.store = store

    def get(self, key, default=None):
        if key not in self:
            try:
                self[key] = self.store.fetch(*key)
            except QmsError:
                self[key] = None
        return super().get(key, default)


def validate(store, targets: list[str] = (), *, strict: bool = False) -> list[Finding]:
    """Findings for the whole store, or for the records `targets` names (IDs or paths).
    With `strict`, warnings count as errors."""
    from ..store import yamlio

    findings: list[Finding] = []
    try:
        config = store.config
        type_names = set(config.type_names())
    except QmsError as e:
        return [Finding("qms.yaml", "", e.message)]
    files = list(store.record_files())
    known: dict[str, set[str]] = defaultdict(set)
    for tname, path in files:
        known[tname].add(path.stem)
    selected = files
    if targets:
        selected = []
        for t in targets:
            p = (store.root / t).resolve() if ("/" in t or t.endswith(".yaml")) else None
            if p is not None:
                match = [(n, f) for n, f in files if f.resolve() == p or p in f.resolve().parents]
            else:
                match = [(n, f) for n, f in files if f.stem == t]
            if not match:
                raise BadInput(f"{t}: no such record in the store (expected a record ID or a path under records/)")
            selected.extend(match)
    types: dict[str, RecordType] = {}
    loaded: list[Loaded] = []
    texts: dict[str, str] = {}
    for tname, path in selected:
        rel = store.rel(path)
        if tname not in type_names:
            findings.append(Finding(rel, "type", f"records/{tname}/ is not a record type's folder"))
            continue
        try:
            if tname not in types:
                types[tname] = config.record_type(tname)
            text = yamlio.decode(path.read_bytes(), rel)
            data = yamlio.parse(text, rel)
        except BadFile as e:
            findings.append(Finding(rel, "", e.problem, e.line))
            continue
        except QmsError as e:
            findings.append(Finding(rel, "", e.message))
            continue
        texts[rel] = text
        loaded.append(Loaded(tname, rel, data))
    ctx = Context(
        root=store.root,
        types=types,
        known=known,
        file_exists=lambda rel: (store.root / rel).is_file(),
        store=store,
        by_id={(r.type, str(r.data.get("id"))): r.data for r in loaded},
    )
    if targets:  # references from the selected records reach records not selected
        base = ctx.by_id
        ctx.by_id = _LazyRecords(base, store)
    raw: list[Finding] = []
    for check in CHECKS:
        raw.extend(check(loaded, ctx))
    lines_cache: dict[str, dict[str, int]] = {}
    for f in raw:
        if f.source in texts and f.line is None:
            if f.source not in lines_cache:
                lines_cache[f.source] = yamlio.field_lines(texts[f.source])
            lines = lines_cache[f.source]
            line = lines.get(f.field)
            parts = f.field.split(".")
            while line is None and len(parts) > 1:  # a missing field: point at its parent
                parts.pop()
                line = lines.get(".".join(parts))
            if line is None:  # a whole group missing: point at what requires it
                line = lines.get("state") if "in state" in f.message else lines.get("id")
            f = Finding(f.source, f.field, f.message, line, f.severity)
        if strict and f.severity == "warning":
            f = Finding(f.source, f.field, f.message, f.line, "error")
        findings.append(f)
    for w in config.calendar.warnings:
        findings.append(Finding("qms.yaml", "calendar", w, severity="warning"))
    findings.sort(key=lambda f: (f.source, f.line or 0, f.field))
    return findings
