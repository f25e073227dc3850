"""Stage 8, commit: every changed record (and the files the action attaches) written
atomically and committed together under the store's lock: one action, one commit, with a
structured message whose trailers `qms audit` reads."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import BadInput, QmsError
from ..files import safefs, yamlio
from ..i18n import _
from ..model import values
from ..store import lock
from ..store import git as gitops
from .action import Action


def message(subject: str, body: str, trailers: list[tuple[str, str]]) -> str:
    """A commit message: the subject, the user's comment, then the trailers."""
    parts = [subject]
    if body.strip():
        parts.append(body.strip())
    parts.append("\n".join(f"{k}: {v}" for k, v in trailers))
    return "\n\n".join(parts) + "\n"


def write(act: Action, changes: dict, text: str, date: datetime | None = None) -> str:
    """Write every changed record ({path: (data, layout)}) and the attached files, and
    commit them together: the commit's hash, or "" when the records already hold these
    values. The commit is dated `date` (a signature's time), else the actor's. An
    interrupted write is finished or rolled back by the next `qms` (store/lock.py)."""
    store = act.store
    actor = act.actor if act.explicit else None
    date = date or (actor.when if actor is not None else None)
    texts: dict[str, bytes] = {}
    checks = gitops.Checks(store.root, attachments(act, changes))  # asked of git meanwhile
    try:
        record_texts(act, changes, texts)
        texts.update(act.staged)  # the files attached, in the same commit as the record
        for rel in texts:  # a write stays in the store: no link on its way
            safefs.check_writable(store.root, rel)
        if all(safefs.kind(store.root, rel)[0] == "file"
               and safefs.read_bytes(store.root, rel, yamlio.MAX_BYTES + 1) == new for rel, new in texts.items()):
            return ""  # the record already holds these values: nothing to commit
        checks.finish(date or gitops.actor(store.root).when, store.now())
    finally:
        checks.cancel()
    lock.begin(store.root, texts, text.splitlines()[0])
    try:
        for rel, new in texts.items():
            yamlio.atomic_write(store.root / rel, new)
        commit = gitops.commit(store.root, list(texts), text, date=date.isoformat() if date else None,
                               sign=store.config.require_signed_commits,
                               track=lock.git_pid_file(store.root), author=actor)
    except BaseException:
        lock.roll_back(store.root)
        raise
    lock.end(store.root)
    return commit


def attachments(act: Action, changes: dict) -> list[str]:
    """The store files the changed records attach or pin (not those this action attaches)."""
    store = act.store
    found: set[str] = set()
    for data, _layout in changes.values():
        try:
            rt = store.record_type(str(data.get("type")))
        except QmsError:
            continue
        for _path, spec, value in values.walk(rt.fields, data):
            if spec.type == "file" and isinstance(value, str) and value:
                found.add(value)
        if isinstance(data.get("pins"), dict):
            found.update(str(k) for k in data["pins"])
    return sorted(f for f in found if not f.startswith(("/", "-")) and ".." not in f.split("/")
                  and f not in act.staged)


def record_texts(act: Action, changes: dict, texts: dict[str, bytes]) -> None:
    """The text of each changed record, checked to read back as what was meant."""
    store = act.store
    for path, (data, style) in changes.items():
        rel = store.rel(path)
        for field, problem in values.text_problems(data):
            raise BadInput(f"{data.get('type')} {data.get('id') or _('(new)')}: {field}: {problem}")
        text = yamlio.dump(data, style or yamlio.DEFAULT_STYLE)
        text = schema_line(store.root, path, data, text)
        # what we write must read back as what we meant, or nothing is written
        if len(text.encode("utf-8")) > yamlio.MAX_BYTES:
            raise BadInput(_("{path}: the record would be over {limit:,} bytes; "
                             "put long texts in a file under files/ and attach it").format(
                path=rel, limit=yamlio.MAX_BYTES))
        changed = text_changed(data, yamlio.parse(text, rel, "safe"))
        if changed:
            raise BadInput(_("{field}: the text cannot be stored exactly as given (a control "
                             "character such as U+0085 would be read back as a line break); remove it").format(
                field=changed))
        texts[rel] = text.encode("utf-8")


def schema_line(root: Path, path: Path, data: Any, text: str) -> str:
    """Name the record's JSON Schema for editors, where the store has exported them."""
    schema = root / "schemas" / f"{data.get('type')}.schema.json"
    if text.startswith("# yaml-language-server:") or not schema.is_file():
        return text
    rel = os.path.relpath(schema, path.parent).replace(os.sep, "/")
    newline = "\r\n" if text.endswith("\r\n") else "\n"
    return f"# yaml-language-server: $schema={rel}{newline}" + text


def text_changed(meant: Any, read: Any, path: str = "") -> str | None:
    """The first field whose text would not read back as written (YAML folds some
    characters, e.g. NEL, into line breaks), or None."""
    if isinstance(meant, dict) and isinstance(read, dict):
        for k, v in meant.items():
            found = text_changed(v, read.get(k), f"{path}.{k}" if path else str(k))
            if found:
                return found
    elif isinstance(meant, list) and isinstance(read, list) and len(meant) == len(read):
        for i, (a, b) in enumerate(zip(meant, read)):
            found = text_changed(a, b, f"{path}.{i}" if path else str(i))
            if found:
                return found
    elif isinstance(meant, str) and str(meant) != read:
        return path or _("(record)")
    return None
