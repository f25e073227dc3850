"""Store-wide validation: named pure functions `(records, context) -> findings`, never
raising on the first problem. `validate()` reads the records and runs every CHECK."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

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
        if state not in rt.workflow.states:
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
        if state not in rt.workflow.states:
            continue
        for path, why in values.unmet(rt.workflow.requirements(state), r.data):
            yield Finding(r.path, path, f"{why} in state '{state}'")


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
        for i, sig in enumerate(r.data.get("signatures") or []):
            if not isinstance(sig, dict):
                yield Finding(r.path, f"signatures.{i}", "expected meaning, name, email, at, from, to")
                continue
            for key in ("meaning", "email", "at", "from", "to"):
                if values.is_empty(sig.get(key)):
                    yield Finding(r.path, f"signatures.{i}.{key}", "required in a signature")
            if sig.get("from") and sig.get("to") and rt.workflow.move(sig["from"], sig["to"]) is None:
                yield Finding(
                    r.path, f"signatures.{i}", f"{sig['from']} -> {sig['to']} is not a move of {r.type}"
                )
        sigs = [s for s in r.data.get("signatures") or [] if isinstance(s, dict)]
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
]


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
    )
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
