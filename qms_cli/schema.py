"""JSON Schema for editors, from the same declarations the engine runs (store extensions
included): `qms schema export DIR` writes one `<type>.schema.json` per record type."""

from __future__ import annotations

import json
from pathlib import Path

from .errors import BadInput
from .files import output, safefs
from .i18n import _
from .model.declaration import FieldSpec, RecordType

DRAFT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_DIR = "schemas"


def field_schema(spec: FieldSpec, lang: str = "zh") -> dict:
    title = {"title": spec.text(lang)}
    if spec.help:
        title["description"] = spec.help
    kind = spec.type
    if kind in ("text", "email"):
        # a part number typed without quotes reads as a number: accepted as text
        return {**title, "type": ["string", "number"]}
    if kind == "int":
        out = {**title, "type": "integer"}
    elif kind == "number":
        out = {**title, "type": "number"}
    elif kind == "money":  # '1234.50' as qms writes it, or a number with at most two decimals
        return {**title, "anyOf": [{"type": "string", "pattern": r"^[+-]?\d{1,13}(\.\d{1,2})?$"},
                                   {"type": "number", "multipleOf": 0.01}]}
    elif kind == "bool":
        return {**title, "type": "boolean"}
    elif kind == "date":
        return {**title, "type": "string", "format": "date"}
    elif kind == "datetime":
        return {**title, "type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}"}
    elif kind == "enum":
        return {**title, "enum": list(spec.values),
                "markdownEnumDescriptions": [v.get(lang, k) for k, v in spec.values.items()]}
    elif kind == "edition":
        return {**title, "type": "string", "pattern": r"^[A-Z]/\d+$"}
    elif kind == "file":
        return {**title, "type": "string", "pattern": r"^files/"}
    elif kind == "ref":
        return {**title, "type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                "description": _("the ID of a {type} record").format(type=spec.to)}
    elif kind == "list":
        return {**title, "type": "array", "items": field_schema(spec.items, lang) if spec.items else {}}
    elif kind == "object":
        return {**title, "type": "object", "additionalProperties": False,
                "properties": {k: field_schema(v, lang) for k, v in spec.fields.items()}}
    else:
        return title
    if spec.min is not None:
        out["minimum"] = spec.min
    if spec.max is not None:
        out["maximum"] = spec.max
    return out


def record_schema(rt: RecordType, lang: str = "zh") -> dict:
    signature = {
        "type": "object",
        "required": ["meaning", "email", "at", "to"],
        "properties": {
            "meaning": {"type": "string"}, "name": {"type": "string"}, "email": {"type": "string"},
            "role": {"type": "string"}, "at": {"type": "string"},
            "on": {"type": "string", "description": _("when the act happened on paper, for a paper record "
                                                      "entered afterwards (补录): a date or a date and time")},
            "from": {"enum": list(rt.workflow.states)}, "to": {"enum": list(rt.workflow.states)},
        },
        "additionalProperties": False,
    }
    return {
        "$schema": DRAFT,
        "$id": f"{rt.name}.schema.json",
        "title": f"{rt.label.get(lang, rt.name)} ({rt.name})",
        "type": "object",
        "required": ["id", "type", "state"],
        "properties": {
            "id": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"},
            "type": {"const": rt.name},
            "state": {"enum": list(rt.workflow.states),
                      "markdownEnumDescriptions": [s.label.get(lang, n) for n, s in rt.workflow.states.items()]},
            "signatures": {"type": "array", "items": signature},
            "pins": {"type": "object", "additionalProperties": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                     "description": _("SHA-256 of attached files, pinned when the record was approved or closed")},
            **{k: field_schema(v, lang) for k, v in rt.fields.items()},
        },
        "additionalProperties": False,
    }


def export(store, folder: Path) -> list[Path]:
    """Write one schema per record type into `folder` (inside the store only where no
    link leads and never under records/, .git or .qms)."""
    import os


    real = Path(os.path.realpath(folder))
    root = Path(os.path.realpath(store.root))
    rel = real.relative_to(root).as_posix() if real == root or root in real.parents else None
    if rel is not None and rel.split("/")[0] in output.PROTECTED:
        raise BadInput(_("{path}: schemas are never written under {folder}/ of the store; "
                         "the default is schemas/").format(path=folder, folder=rel.split("/")[0]))
    out = []
    try:
        real.mkdir(parents=True, exist_ok=True)
        for name in store.config.type_names():
            rt = store.record_type(name)
            path = real / f"{name}.schema.json"
            if rel is not None:
                safefs.check_writable(root, path.name if rel == "." else f"{rel}/{path.name}")
            text = json.dumps(record_schema(rt, store.config.lang), ensure_ascii=False, indent=2) + "\n"
            output.write(path, text.encode("utf-8"), str(folder / path.name))
            out.append(folder / path.name)
    except OSError as e:
        raise BadInput(_("{path}: cannot write the schemas there ({reason})").format(
            path=folder, reason=e.strerror)) from None
    return out
