"""Stage 6, pin: entering a pinning state (e.g. approved) pins the SHA-256 of the content
approved and of every other attached file, so a later change of a file is found."""

from __future__ import annotations

import hashlib
from typing import Any

from ruamel.yaml.comments import CommentedMap

from ..errors import BadInput, Refused
from ..files import safefs
from ..i18n import _
from ..model import values
from ..model.declaration import RecordType
from .action import Action
from .layout import place


def pin(act: Action, rt: RecordType, data: Any, state: str) -> None:
    """Pin the SHA-256 of attached content when the record enters a pinning state."""
    if state not in rt.pin_in:
        return
    for name, spec in rt.fields.items():
        if spec.type == "file" and spec.pin and not values.is_empty(data.get(name)):
            if values.is_empty(data.get(spec.pin)):
                data[spec.pin] = file_sha256(act, data[name], f"{name}")
                place(rt, data, spec.pin)
    # every other attached file too: evidence is pinned with the record (envelope `pins`)
    pins = data.get("pins") if isinstance(data.get("pins"), dict) else CommentedMap()
    for path, spec, value in values.walk(rt.fields, data):
        if spec.type == "file" and not spec.pin and isinstance(value, str) and value not in pins:
            pins[value] = file_sha256(act, value, path)
    if pins:
        data["pins"] = pins
        place(rt, data, "pins")


def file_sha256(act: Action, rel: str, field_name: str) -> str:
    """The SHA-256 of an attached file, to pin it: the file must be a file of the
    store (no link, device or pipe) and at most safefs.ATTACHMENT_LIMIT bytes."""
    if rel in act.staged:
        return hashlib.sha256(act.staged[rel]).hexdigest()
    try:
        values.check_file_path(rel)
    except ValueError as e:
        raise BadInput(f"{field_name}: {e}") from None
    root = act.store.root
    what, _where = safefs.kind(root, rel)
    if what == "missing":
        raise Refused(_("{field}: the file '{path}' is not in the store").format(field=field_name, path=rel))
    try:
        return safefs.sha256(root, rel, safefs.ATTACHMENT_LIMIT)
    except BadInput as e:
        raise BadInput(f"{field_name}: {e}") from None
