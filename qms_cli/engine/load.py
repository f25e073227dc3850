"""Stage 1, load: the record to change, read for editing (its comments and layout kept),
and refused when `qms validate` would already reject it as it is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..checks import Context, Loaded, check_envelope, check_schema, check_signatures, check_text
from ..errors import BadInput, Severity
from ..files import yamlio
from ..i18n import _
from ..store import Record
from .action import Action


def load(act: Action, record_id: str) -> tuple[Path, Any, Any, Record]:
    """(file, data, its layout, the record) of `record_id`, of the action's type. A record
    validate would reject (a hand-broken envelope, signature or field) is not changed on
    top: it is fixed first, by the person who broke it (BadInput, with its problems)."""
    store, rt = act.store, act.rt
    _type, path = store.locate(record_id, rt.name)
    data, style = yamlio.load_for_edit(path, store.rel(path), root=store.root)
    record = store.record_of(rt.name, path, data)
    ctx = Context(root=store.root, types={rt.name: rt}, store=store)
    loaded = [Loaded(rt.name, record.path, data)]
    problems = [f for check in (check_envelope, check_signatures, check_schema, check_text)
                for f in check(loaded, ctx) if f.severity is Severity.ERROR]
    if problems:
        raise BadInput(
            _("{path}: fix the file before changing it ({count} problem(s), see qms validate)").format(
                path=record.path, count=len(problems)),
            details=[f"{f.field}: {f.message}" for f in problems[:10]],
        )
    return path, data, style, record
