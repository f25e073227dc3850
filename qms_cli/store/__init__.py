"""The store: a git repository with qms.yaml and records/<type>/<ID>.yaml.

`Store` finds records by ID without reading the others, and is the one path through
which anything is written: change in memory -> check -> atomic write -> one commit,
under the store's lock. It never prints; it raises QmsError."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

from ..config import CONFIG_FILE, Config
from ..errors import BadInput, NotAStore, NotAuthorised, Refused
from ..model import values
from ..model.declaration import ENVELOPE_KEYS, RecordType

RECORDS = "records"
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")


@dataclass(frozen=True)
class Record:
    """One record as read from its file: the envelope plus every field as stored."""

    id: str
    type: str
    state: str
    data: Any
    path: str  # relative to the store root, with forward slashes


@dataclass(frozen=True)
class Change:
    """What a write did: the record after it, the commit, and notes for the user."""

    record: Record
    commit: str
    notes: tuple[str, ...] = ()


def check_id(record_id: str) -> str:
    if not ID_PATTERN.match(record_id) or ".." in record_id:
        raise BadInput(
            f"'{record_id}': not a record ID (expected letters, digits and '-', such as CMP-2026-0001)"
        )
    return record_id


def find_root(start: str | os.PathLike | None) -> Path:
    """-C/--store, else $QMS_STORE, else the nearest folder upward holding qms.yaml."""
    explicit = start or os.environ.get("QMS_STORE")
    if explicit:
        root = Path(explicit).expanduser().resolve()
        if not root.is_dir():
            raise NotAStore(f"{explicit}: no such folder")
        if not (root / CONFIG_FILE).is_file():
            raise NotAStore(f"{explicit}: not a qms store (no {CONFIG_FILE}; create one with 'qms init')")
        return root
    here = Path.cwd().resolve()
    for folder in [here, *here.parents]:
        if (folder / CONFIG_FILE).is_file():
            return folder
    raise NotAStore(
        f"{here}: not inside a qms store (no {CONFIG_FILE} here or above); "
        f"use -C PATH, set QMS_STORE, or create one with 'qms init PATH'"
    )


def _has_git(root: Path) -> bool:
    return any((p / ".git").exists() for p in [root, *root.parents])


class Store:
    def __init__(self, root: Path):
        self.root = root
        self._config: Config | None = None

    @staticmethod
    def open(path: str | os.PathLike | None = None) -> Store:
        root = find_root(path)
        if not _has_git(root):
            raise NotAStore(
                f"{root}: has {CONFIG_FILE} but is not a git repository; run 'git init' there "
                f"(every change to a store is a git commit)"
            )
        return Store(root)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = Config.load(self.root)
        return self._config

    def record_type(self, name: str) -> RecordType:
        return self.config.record_type(name)

    def now(self) -> datetime:
        """QMS_NOW if set (for deadlines and overdue lists), else the clock."""
        raw = os.environ.get("QMS_NOW")
        if raw:
            try:
                return values.parse_datetime(raw, self.config.tz)
            except ValueError as e:
                raise BadInput(f"QMS_NOW='{raw}': {e}") from None
        return datetime.now(self.config.tz)

    # -- finding and reading -------------------------------------------------------------
    def type_folder(self, type_name: str) -> Path:
        return self.root / RECORDS / type_name

    def path_of(self, type_name: str, record_id: str) -> Path | None:
        """The file of `record_id`: records/<type>/<ID>.yaml or one shard folder down."""
        check_id(record_id)
        folder = self.type_folder(type_name)
        flat = folder / f"{record_id}.yaml"
        if flat.is_file():
            return flat
        if folder.is_dir():
            for sub in folder.iterdir():
                p = sub / f"{record_id}.yaml"
                if sub.is_dir() and p.is_file():
                    return p
        return None

    def locate(self, record_id: str, type_name: str | None = None) -> tuple[str, Path]:
        check_id(record_id)
        names = [type_name] if type_name else self._type_folders()
        for name in names:
            if type_name:
                self.record_type(name)  # an unknown type is its own error
            p = self.path_of(name, record_id)
            if p is not None:
                return name, p
        where = f"{type_name} " if type_name else ""
        raise BadInput(f"no {where}record '{record_id}' in {self.root / RECORDS}")

    def _type_folders(self) -> list[str]:
        base = self.root / RECORDS
        return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def read(self, record_id: str, type_name: str | None = None, *, kind: str = "safe") -> Record:
        from . import yamlio

        name, path = self.locate(record_id, type_name)
        data = yamlio.load(path, self.rel(path), kind)
        return self._record(name, path, data)

    def _record(self, type_name: str, path: Path, data: Any) -> Record:
        rel = self.rel(path)
        rid = data.get("id")
        if rid != path.stem:
            raise BadInput(f"{rel}: id: '{rid}' does not match the file name '{path.stem}'")
        state = data.get("state")
        rt = self.record_type(type_name)
        if state not in rt.workflow.states:
            raise BadInput(
                f"{rel}: state: '{state}' is not a state of {type_name} "
                f"(expected one of {', '.join(rt.workflow.states)})"
            )
        return Record(id=rid, type=type_name, state=state, data=data, path=rel)

    def record_files(self, type_name: str | None = None) -> Iterator[tuple[str, Path]]:
        """(type, path) of every record file, in a stable order, without reading them."""
        names = [type_name] if type_name else self._type_folders()
        for name in names:
            folder = self.type_folder(name)
            if not folder.is_dir():
                continue
            for dirpath, dirnames, filenames in os.walk(folder):
                dirnames.sort()
                for f in sorted(filenames):
                    if f.endswith(".yaml") and not f.startswith("."):
                        yield name, Path(dirpath) / f

    def records(self, type_name: str | None = None) -> Iterator[Record | Exception]:
        """Every record (or the error that reading it gave), for lists and reports."""
        from . import yamlio
        from ..errors import QmsError

        for name, path in self.record_files(type_name):
            try:
                data = yamlio.load(path, self.rel(path))
                yield self._record(name, path, data)
            except QmsError as e:
                yield e

    # -- writing -------------------------------------------------------------------------
    def new(
        self,
        type_name: str,
        assignments: list[str] = (),
        initial: dict | None = None,
    ) -> Change:
        from ruamel.yaml.comments import CommentedMap

        from . import git as gitops
        from . import lock

        rt = self.record_type(type_name)
        actor = gitops.actor(self.root)
        data = CommentedMap()
        data["id"] = None
        data["type"] = rt.name
        data["state"] = rt.workflow.initial
        for key, value in (initial or {}).items():
            if key in ENVELOPE_KEYS:
                raise BadInput(f"{key}: set by qms, not by the input file")
            data[key] = value
        self._assign(rt, data, assignments)
        _order_fields(rt, data)
        self._check_schema(rt, data, f"new {rt.name}")
        missing = values.unmet(rt.workflow.requirements(rt.workflow.initial), data)
        if missing:
            raise Refused(
                f"cannot register the {rt.label['en'].lower()}: "
                f"{len(missing)} field(s) required in state '{rt.workflow.initial}'",
                details=[f"{f}: {why} ({rt.label_of(f, 'en')})" for f, why in missing],
            )
        with lock.store_lock(self.root) as notes:
            data["id"] = self._next_id(rt, data)
            path = self.type_folder(rt.name) / f"{data['id']}.yaml"
            message = _message(
                f"{rt.name} {data['id']}: new ({rt.workflow.initial})",
                body="",
                trailers=[("QMS-Record", f"{rt.name}/{data['id']}"), ("QMS-Action", "new")],
            )
            commit = self._write(path, data, message, actor)
        return Change(self._record(rt.name, path, data), commit, tuple(notes))

    def set(self, type_name: str, record_id: str, assignments: list[str], comment: str = "") -> Change:
        from . import git as gitops
        from . import lock, yamlio

        rt = self.record_type(type_name)
        actor = gitops.actor(self.root)
        if not assignments:
            raise BadInput("nothing to set: give FIELD=VALUE")
        with lock.store_lock(self.root) as notes:
            _, path = self.locate(record_id, type_name)
            data, style = yamlio.load_for_edit(path, self.rel(path))
            record = self._record(rt.name, path, data)
            if rt.workflow.states[record.state].final:
                raise Refused(
                    f"{rt.name} {record_id} is {record.state}: a {record.state} record is not "
                    f"edited (its history in git is the record of what was done)"
                )
            changed = self._assign(rt, data, assignments)
            self._check_schema(rt, data, record.path)
            missing = values.unmet(rt.workflow.requirements(record.state), data)
            if missing:
                raise Refused(
                    f"{rt.name} {record_id}: the change would leave state '{record.state}' incomplete",
                    details=[f"{f}: {why}" for f, why in missing],
                )
            message = _message(
                f"{rt.name} {record_id}: set {', '.join(changed)}",
                body=comment,
                trailers=[
                    ("QMS-Record", f"{rt.name}/{record_id}"),
                    ("QMS-Action", "set " + " ".join(changed)),
                ],
            )
            commit = self._write(path, data, message, actor, style=style)
        return Change(self._record(rt.name, path, data), commit, tuple(notes))

    def move(
        self,
        type_name: str,
        record_id: str,
        target: str,
        assignments: list[str] = (),
        comment: str = "",
    ) -> Change:
        from ruamel.yaml.comments import CommentedMap, CommentedSeq

        from . import git as gitops
        from . import lock, yamlio

        rt = self.record_type(type_name)
        wf = rt.workflow
        if target not in wf.states:
            raise BadInput(
                f"'{target}' is not a state of {rt.name} (expected one of {', '.join(wf.states)})"
            )
        actor = gitops.actor(self.root)
        with lock.store_lock(self.root) as notes:
            _, path = self.locate(record_id, type_name)
            data, style = yamlio.load_for_edit(path, self.rel(path))
            record = self._record(rt.name, path, data)
            move = wf.move(record.state, target)
            if move is None:
                onward = [m.target for m in wf.moves_from(record.state)]
                raise Refused(
                    f"{rt.name} {record_id} is '{record.state}': it cannot move to '{target}'"
                    + (f"; it can move to: {', '.join(onward)}" if onward else " (a final state)")
                )
            # the signature's time is the commit's own time, as git reads it (never QMS_NOW)
            when = gitops.actor(self.root).when.astimezone(self.config.tz)
            if move.role:
                role = self.config.roles.get(move.role)
                if role is None or not role.held_by(actor.email, when.date()):
                    holders = ", ".join(
                        h.email for h in (role.holders if role else ()) if h.covers(when.date())
                    )
                    raise NotAuthorised(
                        f"{actor.email} does not hold the role '{move.role}' on {when.date()}, "
                        f"which moving {rt.name} {record_id} to '{target}' needs"
                        + (f" (holders: {holders})" if holders else " (qms.yaml names no holder)")
                    )
            self._assign(rt, data, assignments)
            self._check_schema(rt, data, record.path)
            missing = values.unmet([*wf.requirements(target), *move.requires], data)
            if missing:
                raise Refused(
                    f"{rt.name} {record_id} cannot move to '{target}': "
                    f"{len(missing)} field(s) missing or wrong",
                    details=[
                        f"{f}: {why} in state '{target}' ({rt.label_of(f, 'en')})"
                        for f, why in missing
                    ],
                )
            data["state"] = target
            signature = CommentedMap()
            signature["meaning"] = move.sign
            signature["name"] = actor.name
            signature["email"] = actor.email
            if move.role:
                signature["role"] = move.role
            signature["at"] = when
            signature["from"] = record.state
            signature["to"] = target
            if "signatures" not in data or data["signatures"] is None:
                data["signatures"] = CommentedSeq()
            data["signatures"].append(signature)
            message = _message(
                f"{rt.name} {record_id}: {record.state} -> {target}",
                body=comment,
                trailers=[
                    ("QMS-Record", f"{rt.name}/{record_id}"),
                    ("QMS-Action", f"move {target}"),
                    ("QMS-Signature", f"{move.sign} by {actor.email}"),
                ],
            )
            commit = self._write(path, data, message, actor, date=when, style=style)
        return Change(self._record(rt.name, path, data), commit, tuple(notes))

    # -- internals -----------------------------------------------------------------------
    def _assign(self, rt: RecordType, data: Any, assignments: list[str]) -> list[str]:
        from ruamel.yaml.comments import CommentedMap

        changed = []
        for item in assignments:
            key, sep, raw = item.partition("=")
            if not sep:
                raise BadInput(f"'{item}': expected FIELD=VALUE (e.g. customer.name=上汽大众)")
            append = key.endswith("+")
            path = key[:-1].strip() if append else key.strip()
            values.check_path(path)
            if path.split(".")[0] in ENVELOPE_KEYS:
                raise BadInput(
                    f"{path}: kept by qms (the ID, type, state and signatures change only "
                    f"through 'new' and 'move')"
                )
            spec = rt.field(path)
            if spec is None:
                raise BadInput(f"{path}: {rt.name} has no such field")
            try:
                if spec.type == "list":
                    item_spec = spec.items
                    if append:
                        value = values.coerce(item_spec, raw, self.config.tz)
                    else:
                        parts = [p for p in (s.strip() for s in raw.split(",")) if p]
                        value = [values.coerce(item_spec, p, self.config.tz) for p in parts]
                elif append:
                    raise ValueError("'+=' appends to a list field")
                else:
                    value = values.coerce(spec, raw, self.config.tz)
            except ValueError as e:
                raise BadInput(f"{path}: '{raw}': {e}") from None
            fresh = _new_keys(data, path)
            values.put(data, path, value, append=append and spec.type == "list", new_map=CommentedMap)
            for new_path in fresh:
                _place(rt, data, new_path)
            changed.append(path)
        return changed

    def _check_schema(self, rt: RecordType, data: Any, source: str) -> None:
        problems = list(values.check_fields(rt.fields, data, envelope=True))
        if problems:
            raise BadInput(
                f"{source}: {len(problems)} field(s) do not fit the {rt.name} form",
                details=[f"{p}: {m}" for p, m in problems],
            )

    def _next_id(self, rt: RecordType, data: Any) -> str:
        when = values.to_datetime(values.get(data, rt.numbering_date), self.config.tz) if rt.numbering_date else None
        year = (when or self.now()).astimezone(self.config.tz).year
        site = self.config.site
        if "{site}" in rt.numbering and not site:
            raise BadInput(f"{CONFIG_FILE}: site: the numbering '{rt.numbering}' needs a site code")
        pattern = re.escape(rt.numbering)
        pattern = re.sub(r"\\\{seq(:0?(\d+)d?)?\\\}", r"(?P<seq>\\d+)", pattern)
        fmt_fields = {"year": year, "site": site, "prefix": rt.prefix}
        for k, v in fmt_fields.items():
            pattern = pattern.replace(re.escape("{" + k + "}"), re.escape(str(v)))
        rx = re.compile(f"^{pattern}$")
        highest = 0
        for _, path in self.record_files(rt.name):
            m = rx.match(path.stem)
            if m:
                highest = max(highest, int(m.group("seq")))
        return rt.numbering.format(seq=highest + 1, **fmt_fields)

    def _write(
        self, path: Path, data: Any, message: str, actor, date: datetime | None = None,
        style: tuple[int, int, int] | None = None,
    ) -> str:
        from . import git as gitops
        from . import lock, yamlio

        rel = self.rel(path)
        text = yamlio.dump(data, style or yamlio.DEFAULT_STYLE)
        # what we write must read back as what we meant, or nothing is written
        yamlio.parse(text, rel, "safe")
        new = text.encode("utf-8")
        lock.begin(self.root, {rel: new}, message.splitlines()[0])
        try:
            yamlio.atomic_write(path, new)
            commit = gitops.commit(
                self.root, [rel], message, date=date.isoformat() if date else None
            )
        except BaseException:
            lock.roll_back(self.root)
            raise
        lock.end(self.root)
        return commit


def _new_keys(data: Any, path: str) -> list[str]:
    """The prefixes of `path` that do not exist yet (mapping keys that put() will add)."""
    out, cur, parts = [], data, path.split(".")
    for i, part in enumerate(parts):
        if isinstance(cur, dict):
            if part not in cur:
                out.append(".".join(parts[: i + 1]))
                break
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            break
    return out


def _place(rt: RecordType, data: Any, path: str) -> None:
    """Move a key just added to a mapping to where the declaration puts it, so a record
    reads in the form's order (signatures stay last)."""
    parent_path, _, key = path.rpartition(".")
    parent = values.get(data, parent_path) if parent_path else data
    if not hasattr(parent, "insert") or key not in parent:
        return
    if parent_path:
        spec = rt.field(parent_path)
        declared = list(spec.fields) if spec is not None else []
    else:
        declared = [k for k in ENVELOPE_KEYS if k != "signatures"] + list(rt.fields) + ["signatures"]
    if key not in declared:
        return
    rank = {k: i for i, k in enumerate(declared)}
    keys = [k for k in parent if k != key]
    pos = 0
    for i, k in enumerate(keys):
        if rank.get(k, len(rank)) < rank[key]:
            pos = i + 1
    value = parent.pop(key)
    parent.insert(pos, key, value)


def _order_fields(rt: RecordType, data: Any) -> None:
    """Put a new record's fields in the order the type declares them."""
    order = {k: i for i, k in enumerate([*ENVELOPE_KEYS, *rt.fields])}
    items = sorted(data.items(), key=lambda kv: order.get(kv[0], len(order)))
    for k in list(data.keys()):
        del data[k]
    for k, v in items:
        data[k] = v


def _message(subject: str, body: str, trailers: list[tuple[str, str]]) -> str:
    parts = [subject]
    if body.strip():
        parts.append(body.strip())
    parts.append("\n".join(f"{k}: {v}" for k, v in trailers))
    return "\n\n".join(parts) + "\n"
