"""Inputs of the pure layers written as text, beancount-style: a record type declaration,
a record or a qms.yaml as a few lines of YAML in the test itself, turned into the
objects qms builds from files (RecordType, record data, Config, Loaded, Context).
No store, no git: what the model, rules, calendar and checks are given, in memory."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, Iterable

from qms_cli.checks import Context, Loaded
from qms_cli.config import Config
from qms_cli.files import yamlio
from qms_cli.model.declaration import RecordType
from qms_cli.paths import BUILTIN_TYPES


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def declaration(text: str, where: str = "test type") -> RecordType:
    """A record type from its declaration's YAML, read as qms reads a declaration
    (anchors allowed) and built by RecordType.from_dict, which refuses a bad one."""
    data = yamlio.load_declaration(None, where, raw=dedent(text).encode("utf-8"))
    return RecordType.from_dict(data, where)


def declaration_data(text: str, where: str = "test type") -> Any:
    """The declaration's YAML as data (to break it by hand before from_dict)."""
    return yamlio.load_declaration(None, where, raw=dedent(text).encode("utf-8"))


def builtin(name: str) -> RecordType:
    """A built-in type (qms_cli/types/<name>.yaml) as qms runs it without a store's extensions."""
    return RecordType.from_dict(yamlio.load_declaration(BUILTIN_TYPES / f"{name}.yaml", name), name)


def record(text: str, source: str = "records/test.yaml") -> dict:
    """A record from its YAML text, parsed as validate parses a record file."""
    return yamlio.parse(dedent(text), source)


def config(root: Path, text: str = "") -> Config:
    """A store's Config from its qms.yaml text, written under `root` (a tmp_path; no git)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "qms.yaml").write_text(dedent(text) or "company: 测试\n", encoding="utf-8")
    return Config.load(root)


def loaded(rt: RecordType, text: str, path: str | None = None) -> Loaded:
    """A record as the record checks see it; its path is records/<type>/<id>.yaml unless given."""
    data = record(text)
    rel = path or f"records/{rt.name}/{data.get('id')}.yaml"
    return Loaded(rt.name, rel, data)


def context(root: Path, *types: RecordType, records: Iterable[dict] = (), **kw) -> Context:
    """A Context over `types`, with `records` (their data) readable by type and ID."""
    by_id = {(r["type"], r["id"]): r for r in records}
    known: dict[str, set[str]] = {}
    for t, i in by_id:
        known.setdefault(t, set()).add(i)
    kw.setdefault("known", known)
    return Context(root=root, types={rt.name: rt for rt in types}, by_id=by_id, **kw)


def findings(check, records: list[Loaded], ctx: Context) -> list[tuple[str, str, str]]:
    """(field, severity, message) of what a check finds, in order."""
    return [(f.field, f.severity.value, f.message) for f in check(records, ctx)]
