"""Attaching files (part of assign): a file named on the command line is copied into the
store under files/TYPE/ID/ with the record's change and pinned by its SHA-256 at once."""

from __future__ import annotations

import hashlib
import os
import stat as stat_
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from ..errors import BadInput, Refused
from ..files import safefs
from ..i18n import _
from ..model import values
from ..model.declaration import RecordType
from ..paths import FILES
from ..text import quote
from .action import Action
from .layout import place

NEW_FOLDER = ".new"  # where a new record's attachments wait for its ID


def stage(act: Action, rt: RecordType, data: Any, source: str, field: str) -> str:
    """Attach the file `source` (a path on this computer, as the user typed it): its
    bytes are copied to files/TYPE/ID/NAME with the record's change and pinned by their
    SHA-256 at once. A file already there with other content is never overwritten: the
    copy gets the next free name (NAME-2.pdf). Returns the path in the store."""
    if not source.strip():
        raise BadInput(_("{field}: '@' names no file (expected @PATH, e.g. {field}=@客户来函.pdf)").format(field=field))
    try:
        p = Path(source).expanduser()
    except RuntimeError:  # ~someone who has no home here
        raise BadInput(_("{field}: {path}: no such file (no home folder for {user})").format(
            field=field, path=quote(source), user=quote(source.split("/")[0]))) from None
    if not p.is_absolute():
        p = Path(os.getcwd()) / p
    try:
        st = os.stat(p)  # a link the user named on the command line is followed
    except OSError:
        raise BadInput(_("{field}: {path}: no such file").format(field=field, path=quote(source))) from None
    if stat_.S_ISDIR(st.st_mode):
        raise BadInput(_("{field}: {path} is a folder; attach its files one by one").format(
            field=field, path=quote(source)))
    limit = act.store.config.attachment_limit
    if stat_.S_ISREG(st.st_mode) and st.st_size > limit:
        raise Refused(_("{field}: {path} is {size:.1f} MB; an attachment may be "
                        "at most {limit:g} MB (qms.yaml attachments.max_mb)").format(
            field=field, path=quote(source), size=st.st_size / (1 << 20), limit=limit / (1 << 20)))
    try:
        raw = safefs.read_file(p, limit, source=source, what=_("an attachment"), follow=True)
    except BadInput as e:
        raise BadInput(f"{field}: {e}") from None
    name = p.name
    problem = values.text_problem(name)
    if problem or "/" in name or "\\" in name or name.startswith(".") or len(name.encode()) > 200:
        raise BadInput(_("{field}: the file name {name} cannot be kept in the store "
                         "(rename it: no control characters, no leading dot, at most 200 bytes)").format(
            field=field, name=quote(name)))
    rel = free_name(act, f"{FILES}/{rt.name}/{data.get('id') or NEW_FOLDER}", name, raw)
    act.staged[rel] = raw
    pins = data.get("pins") if isinstance(data.get("pins"), dict) else CommentedMap()
    pins[rel] = hashlib.sha256(raw).hexdigest()
    data["pins"] = pins
    place(rt, data, "pins")
    return rel


def free_name(act: Action, folder: str, name: str, raw: bytes) -> str:
    """folder/name, or folder/stem-N.ext when that is taken by other content."""
    root = act.store.root
    stem, dot, ext = name.rpartition(".") if "." in name else (name, "", "")
    for n in range(1, 1000):
        rel = f"{folder}/{name if n == 1 else f'{stem}-{n}{dot}{ext}'}"
        if rel in act.staged:
            if act.staged[rel] == raw:
                return rel
            continue
        what, _where = safefs.kind(root, rel)
        if what == "missing":
            return rel
        if what == "file" and safefs.sha256(root, rel, safefs.ATTACHMENT_LIMIT) == hashlib.sha256(raw).hexdigest():
            return rel  # the same file is already attached there
    raise Refused(_("{folder}: a thousand files named like {name}; rename the file").format(
        folder=folder, name=quote(name)))


def file_under_id(act: Action, data: Any) -> None:
    """A new record's attachments move from the waiting folder to files/TYPE/ID/."""
    rt = act.rt
    waiting = f"{FILES}/{rt.name}/{NEW_FOLDER}/"
    if not any(k.startswith(waiting) for k in act.staged):
        return
    moved: dict[str, str] = {}
    for old in [k for k in act.staged if k.startswith(waiting)]:
        raw = act.staged.pop(old)
        moved[old] = free_name(act, f"{FILES}/{rt.name}/{data['id']}", old[len(waiting):], raw)
        act.staged[moved[old]] = raw
    for path, spec, value in list(values.walk(rt.fields, data)):
        if spec.type == "file" and value in moved:
            values.put(data, path, moved[value])
    pins = data["pins"]
    for old, new in moved.items():
        pins[new] = pins.pop(old)
