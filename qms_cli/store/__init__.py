"""The store: a git repository with qms.yaml and records/<type>/<ID>.yaml.

`Store` finds records by ID without reading the others, and is the one path through
which anything is written: change in memory -> check -> atomic write -> one commit,
under the store's lock. It never prints; it raises QmsError."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterator

from ..checks import (Context, Loaded, check_envelope, check_schema, check_signatures, check_state_requirements,
                      check_text)
from ..config import CONFIG_FILE, Config
from ..errors import BadFile, BadInput, NotAStore, NotAuthorised, QmsError, Refused, Severity
from ..files import safefs, yamlio
from ..files.safefs import LINK
from ..i18n import _, language, use_store_language
from ..model import values
from ..model.declaration import ENVELOPE_KEYS, RecordType
from ..model.rules import Evaluator
from ..parallel import map_many
from ..paths import FILES, RECORDS, nearest_store
from ..roles import department_of, guard, held_role
from ..suggest import choice, did_you_mean
from ..text import quote
from . import git as gitops
from . import lock
from .git import Trailer

ATTACHMENT_MB = 20  # the largest attachment by default (qms.yaml attachments.max_mb)
LIST_SEPARATORS = re.compile("[,，、]")  # 质量部，技术部 and 质量部、技术部 are two departments, as 质量部,技术部

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")


MAX_DEPTH = 8  # folders below a type's folder that are walked (shards use one)


@dataclass(frozen=True, slots=True)
class RecordFile:
    """A record file found under records/, not yet read: its type (the folder), its path
    in the store and on disk, and (when asked for) its stat."""

    type: str
    rel: str
    path: str
    stat: os.stat_result | None = None


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
    """`record_id` if it can be a record ID (letters, digits and '-', such as CMP-2026-0001);
    anything else, '..' included, is refused (BadInput)."""
    if not ID_PATTERN.match(record_id) or ".." in record_id:
        raise BadInput(
            _("{id}: not a record ID (expected letters, digits and '-', such as CMP-2026-0001)").format(
                id=quote(record_id))
        )
    return record_id


_YEAR = re.compile(r"(?<![0-9])(?:19|20)[0-9]{2}(?![0-9])")
_SEQ = re.compile(r"[0-9]{3,}$")
SHARDS = ("none", "year", "hundred")


def shard_of(record_id: str, how: str) -> str | None:
    """The shard folder of a record ID: by `year` the year it carries (CMP-2026-0001 ->
    2026); by `hundred` the ID with its last two digits as xx (CMP-2026-0001 ->
    CMP-2026-00xx, a folder of at most 100 records). None: the record is not sharded."""
    if how == "year":
        m = _YEAR.search(record_id)
        return m.group(0) if m else None
    if how == "hundred" and _SEQ.search(record_id):
        return record_id[:-2] + "xx"
    return None


def find_root(start: str | os.PathLike | None) -> Path:
    """-C/--store, else $QMS_STORE, else the nearest folder upward holding qms.yaml."""
    explicit = start or os.environ.get("QMS_STORE")
    if explicit:
        root = Path(explicit).expanduser().resolve()
        if not root.is_dir():
            raise NotAStore(_("{path}: no such folder").format(path=explicit))
        if not (root / CONFIG_FILE).is_file():
            raise NotAStore(_("{path}: not a qms store (no {config}; create one with 'qms init')").format(
                path=explicit, config=CONFIG_FILE))
        return root
    here = Path.cwd().resolve()
    found = nearest_store(here)
    if found is not None:
        return found
    raise NotAStore(
        _("{path}: not inside a qms store (no {config} here or above); "
          "use -C PATH, set QMS_STORE, or create one with 'qms init PATH'").format(path=here, config=CONFIG_FILE)
    )


def _has_git(root: Path) -> bool:
    return any((p / ".git").exists() for p in [root, *root.parents])


class Store:
    """A store on disk: finds and reads its records, and writes every change as one commit
    under the store's lock."""

    def __init__(self, root: Path):
        self.root = root
        self._config: Config | None = None
        self._fetched: dict[tuple[str, str], Any] = {}
        self.notes: list[str] = []  # what opening the store recovered, for the user
        self.skipped: list[str] = []  # linked record folders that reading did not follow
        self.linked: list[str] = []  # the links met under records/ (paths in the store)
        self._staged: dict[str, bytes] = {}  # files attached by this action, written with its commit

    @staticmethod
    def open(path: str | os.PathLike | None = None) -> Store:
        """The store at `path` (else $QMS_STORE, else found upward), an interrupted write
        finished or rolled back first; refused (NotAStore) outside a git repository."""
        root = find_root(path)
        if not _has_git(root):
            raise NotAStore(
                _("{path}: has {config} but is not a git repository; run 'git init' there "
                  "(every change to a store is a git commit)").format(path=root, config=CONFIG_FILE)
            )

        store = Store(root)
        # a write interrupted earlier is finished or undone before anything is read
        store.notes = lock.settle(root)
        return store

    @property
    def config(self) -> Config:
        """The store's qms.yaml, read once (the store's language taken up with it)."""
        if self._config is None:
            self._config = Config.load(self.root)
            use_store_language(self._config.data.get("lang") or "zh")
        return self._config

    def record_type(self, name: str) -> RecordType:
        """The declaration of record type `name` as this store runs it; an unknown type is
        refused (BadInput)."""
        return self.config.record_type(name)

    def now(self) -> datetime:
        """QMS_NOW if set (for deadlines and overdue lists), else the clock."""
        raw = os.environ.get("QMS_NOW")
        if raw:
            try:
                moment = values.parse_datetime(raw, self.config.tz)
            except ValueError as e:
                raise BadInput(f"QMS_NOW='{raw}': {e}") from None  # not a sentence
            if values.day_out_of_bounds(moment):
                raise BadInput(_("QMS_NOW='{value}': expected a moment from 1900 to 2999").format(value=raw))
            return moment
        return datetime.now(self.config.tz)

    # -- finding and reading -------------------------------------------------------------
    def type_folder(self, type_name: str) -> Path:
        """The folder of a type's records, records/<type>/."""
        return self.root / RECORDS / type_name

    def path_of(self, type_name: str, record_id: str) -> Path | None:
        """The file of `record_id`: records/<type>/<ID>.yaml or one shard folder down
        (the folders qms.yaml `shard` would use are tried first). Links are not followed
        into: a record that is a link is found, and refused when read."""
        check_id(record_id)
        folder = self.type_folder(type_name)
        name = f"{record_id}.yaml"
        flat = folder / name
        if os.path.lexists(flat):
            return flat
        for how in SHARDS[1:]:
            shard = shard_of(record_id, how)
            if shard and os.path.lexists(folder / shard / name):
                return folder / shard / name
        try:
            subs = [e.path for e in os.scandir(folder)
                    if e.is_dir(follow_symlinks=False) and not e.name.startswith(".")]
        except OSError:
            return None
        for sub in sorted(subs):
            p = Path(sub) / name
            if os.path.lexists(p):
                return p
        return None

    def new_path(self, type_name: str, record_id: str) -> Path:
        """Where a new record is filed (qms.yaml `shard`)."""
        folder = self.type_folder(type_name)
        shard = shard_of(record_id, self.config.shard)
        return folder / shard / f"{record_id}.yaml" if shard else folder / f"{record_id}.yaml"

    def locate(self, record_id: str, type_name: str | None = None) -> tuple[str, Path]:
        """(type, file) of record `record_id`, among that type's records or every type's; a
        record not in the store is refused (BadInput)."""
        check_id(record_id)
        names = [type_name] if type_name else self._type_folders()
        for name in names:
            if type_name:
                self.record_type(name)  # an unknown type is its own error
            p = self.path_of(name, record_id)
            if p is not None:
                return name, p
        if type_name:
            raise BadInput(_("no {type} record {id} in {folder}").format(
                type=type_name, id=quote(record_id), folder=self.root / RECORDS))
        raise BadInput(_("no record {id} in {folder}").format(id=quote(record_id), folder=self.root / RECORDS))

    def _type_folders(self) -> list[str]:
        """The folders of records/ (not links to folders elsewhere: validate reports them)."""
        base = self.root / RECORDS
        if base.is_symlink() or not base.is_dir():
            return []
        return sorted(e.name for e in os.scandir(base) if e.is_dir(follow_symlinks=False))

    def rel(self, path: Path) -> str:
        """`path` relative to the store root, with forward slashes."""
        return path.relative_to(self.root).as_posix()

    def read(self, record_id: str, type_name: str | None = None, *, kind: str = "safe") -> Record:
        """Record `record_id` as its file holds it; refused when it is not in the store, cannot
        be read, or its ID or state does not fit (BadInput, BadFile)."""

        name, path = self.locate(record_id, type_name)
        data = yamlio.load(path, self.rel(path), kind, root=self.root)
        return self._record(name, path, data)

    def _record(self, type_name: str, path: Path, data: Any) -> Record:

        rel = self.rel(path)

        def line_of(field: str) -> int | None:
            """The line of `field` in the record's file, None if it cannot be told."""

            try:
                text = yamlio.decode(yamlio.read(path, rel, self.root), rel)
            except QmsError:
                return None
            return yamlio.field_lines(text).get(field)

        rid = data.get("id")
        if rid != path.stem:
            raise BadFile(rel, _("id: '{id}' does not match the file name '{name}'").format(id=rid, name=path.stem),
                          line_of("id"))
        state = data.get("state")
        rt = self.record_type(type_name)
        if not isinstance(state, str) or state not in rt.workflow.states:
            raise BadFile(
                rel, _("state: '{state}' is not a state of {type} (expected one of {states})").format(
                    state=state, type=type_name, states=", ".join(rt.workflow.states)), line_of("state"),
            )
        return Record(id=rid, type=type_name, state=state, data=data, path=rel)

    def listing(self, type_name: str | None = None, *, stat: bool = False) -> list[RecordFile]:
        """Every record file, records/<type>/[<shard>/]<ID>.yaml, in a stable order, without
        reading any: the one walker of records/ (lists, reports, numbering and validate all
        use it). Nothing is followed through a link: each link met (records/ itself, a
        type's folder, a shard folder, a record file) is named in `self.linked` and said in
        `self.skipped`, for lists and reports to say what they left out and for validate to
        report. Names starting with a dot are not records; folders deeper than MAX_DEPTH
        are not walked. `stat`: each file's stat as well, from the folder listing."""
        base = self.root / RECORDS
        if base.is_symlink():
            self._linked(RECORDS)
            return []
        if type_name is not None:
            tops = [(type_name, str(base / type_name))]
        else:
            try:
                with os.scandir(base) as entries:
                    tops = []
                    for e in sorted(entries, key=lambda e: e.name):
                        if e.name.startswith("."):
                            continue
                        if e.is_symlink():
                            self._linked(f"{RECORDS}/{e.name}")
                        elif e.is_dir(follow_symlinks=False):
                            tops.append((e.name, e.path))
            except OSError:
                return []
        out: list[RecordFile] = []

        def walk(tname: str, folder: str, prefix: str, depth: int) -> None:
            """Every record file under `folder`, naming each link met, no deeper than MAX_DEPTH."""
            try:
                with os.scandir(folder) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError:
                return
            for e in entries:
                if e.name.startswith("."):
                    continue
                if e.is_symlink():
                    self._linked(f"{RECORDS}/{tname}/{prefix}{e.name}")
                elif e.is_dir(follow_symlinks=False):
                    if depth < MAX_DEPTH:
                        walk(tname, e.path, f"{prefix}{e.name}/", depth + 1)
                elif e.name.endswith(".yaml"):
                    st = None
                    if stat:
                        try:
                            st = e.stat(follow_symlinks=False)
                        except OSError:
                            pass
                    out.append(RecordFile(tname, f"{RECORDS}/{tname}/{prefix}{e.name}", e.path, st))

        for tname, folder in tops:
            if os.path.islink(folder):
                self._linked(f"{RECORDS}/{tname}")
            else:
                walk(tname, folder, "", 0)
        return out

    def _linked(self, rel: str) -> None:
        if rel not in self.linked:
            self.linked.append(rel)
        self._skip(f"{rel}: {_(LINK)}")

    def record_files(self, type_name: str | None = None) -> Iterator[tuple[str, Path]]:
        """(type, path) of every record file (see `listing`)."""
        for f in self.listing(type_name):
            yield f.type, Path(f.path)

    def _skip(self, note: str) -> None:
        if note not in self.skipped:
            self.skipped.append(note)

    def record_ids(self, type_name: str) -> Iterator[str]:
        """The ID (file name) of every record of a type, without reading them: what
        numbering needs. A record file that is a link still holds its ID."""
        for f in self.listing(type_name):
            yield f.rel.rpartition("/")[2][:-5]
        prefix = f"{RECORDS}/{type_name}/"
        for rel in self.linked:
            if rel.startswith(prefix) and rel.endswith(".yaml"):
                yield rel.rpartition("/")[2][:-5]

    def records(self, type_name: str | None = None, then: Any = None) -> list[Any]:
        """Every record (or the error that reading it gave), for lists and reports; read on
        several processes when there are many. With `then`, each record is passed through
        `then(record)` where it was read, and that result (None: left out) comes back
        instead: a list row is much less to hand back than a record."""

        def read(item: tuple[str, Path]) -> Any:
            """One record read and passed through `then`, or the error it gave, in a form that
            travels between processes."""

            name, path = item
            try:
                rec = self._record(name, path, yamlio.load(path, self.rel(path), root=self.root))
            except QmsError as e:  # this record is unreadable: the others are still listed
                return QmsError(str(e)), (), None  # plain, so that it travels between processes
            try:
                found = then(rec) if then is not None else rec
            except QmsError as e:  # e.g. qms.yaml names an unknown time limit: stops the command
                return None, (), (str(e), e.exit_code)
            # what the calendar learnt on the way (a year it lacks) travels back too
            return found, (tuple(self.config.calendar.warnings) if then is not None else ()), None

        calendar = self.config.calendar  # loaded once, before any worker starts
        out = []
        for found, warnings, stop in map_many(read, list(self.record_files(type_name))):
            if stop is not None:
                error = QmsError(stop[0])
                error.exit_code = stop[1]
                raise error
            for w in warnings:
                if w not in calendar.warnings:
                    calendar.warnings.append(w)
            if found is not None:
                out.append(found)
        return out

    # -- writing -------------------------------------------------------------------------
    def evaluator(self, rt: RecordType, data: Any, *, computing: bool = False, today=None,
                  on_paper: bool = False):
        """Requirements and computed values of `data`, reading other records as needed.
        `today` is the day of the action (its commit date, or with `on_paper` the day it
        happened on paper, 补录); by default the clock's."""

        return Evaluator(
            rt=rt, data=data, types=self.record_type, fetch=self.fetch, scan=self.scan,
            today=today or self.now().date(), tz=self.config.tz, computing=computing, now=self.now(),
            today_words=_("the day it happened on paper") if on_paper else _("today"),
        )

    def fetch(self, type_name: str, record_id: str) -> Any:
        """Another record's data (read-only), or None if there is no such record."""
        key = (type_name, record_id)
        if key not in self._fetched:

            try:
                p = self.path_of(type_name, record_id)
            except BadInput:
                p = None
            self._fetched[key] = yamlio.load(p, self.rel(p), root=self.root) if p else None
        return self._fetched[key]

    def scan(self, type_name: str, problems: list[str] | None = None) -> list[Any]:
        """Every readable record of a type (for copy numbers, effects and reports; never for
        single-record reads); with `problems`, why each other one could not be read."""
        out = []
        for rec in self.records(type_name):
            if isinstance(rec, Record):
                self._fetched[(type_name, rec.id)] = rec.data
                out.append(rec.data)
            elif problems is not None and isinstance(rec, Exception) and str(rec) not in problems:
                problems.append(str(rec))
        return out

    def role_names(self, rt: RecordType, role_spec, data: Any) -> list[str]:
        """The roles a move's role spec means for this record ("@approve": by approvals)."""
        if role_spec is None:
            return []
        names = list(role_spec) if isinstance(role_spec, tuple) else [role_spec]
        resolved = []
        for name in names:
            if not name.startswith("@"):
                resolved.append(name)
                continue
            key = self.evaluator(rt, data).first(rt.approvals.key) if rt.approvals.key else None
            table = {**rt.approvals.default, **(self.config.approvals)}
            entry = table.get(str(key)) or {}
            role = entry.get(name[1:]) if isinstance(entry, dict) else None
            if not role:
                raise Refused(_("qms.yaml approvals: no '{role}' role for {field} '{value}'").format(
                    role=name[1:], field=rt.approvals.key, value=key))
            resolved.append(role)
        return resolved

    def holds(self, rt: RecordType, role_spec, data: Any, actor, day, needed_for: str = "") -> tuple[bool, str]:
        """(True, the role held) if `actor` holds a role `role_spec` allows for `data` on
        `day`; else (False, why not: what `needed_for` needs, and how a holder is named)."""
        if role_spec is None:
            return True, ""
        try:
            resolved = self.role_names(rt, role_spec, data)
        except Refused as e:
            return False, e.message
        department = department_of(self.config, rt, data, self.fetch)
        held = held_role(self.config, resolved, actor.email, day, department)
        if held is not None:
            return True, held  # the role the signature is made in
        quoted = [f"'{r}'" for r in resolved]
        wanted = quoted[0] if quoted else ""
        for one in quoted[1:]:
            wanted = _("{first} or {second}").format(first=wanted, second=one)
        limited = any(
            h.department for r in resolved for h in (self.config.roles[r].holders if r in self.config.roles else ())
        )
        holders = sorted(
            {h.email for r in resolved for h in (self.config.roles[r].holders if r in self.config.roles else ())
             if h.covers(day) and h.serves(department)}
        )

        dept = f" --department {department}" if department and limited else ""
        admin = guard(self.config)
        if department and limited:
            why = _("{email} does not hold the role {roles} for department '{department}' on {day}").format(
                email=actor.email, roles=wanted, department=department, day=day)
        else:
            why = _("{email} does not hold the role {roles} on {day}").format(email=actor.email, roles=wanted, day=day)
        why += _(" (holders: {holders})").format(holders=", ".join(holders)) if holders \
            else _(" (qms.yaml names no holder)")
        if needed_for:
            why += _(", which {action} needs").format(action=needed_for)
        why += _("; a holder of '{role}' can grant it").format(role=admin) if admin else _("; to grant it")
        return False, why + f": qms role grant {resolved[0]} {actor.email} --name NAME{dept}"

    def _signature(self, meaning: str, actor, when: datetime, role, source, target,
                   on: date | datetime | None = None):
        """A signature: who, in which role, when it was signed (`at`, the commit time) and,
        for a paper record entered afterwards (补录), when the act happened (`on`)."""
        from ruamel.yaml.comments import CommentedMap

        sig = CommentedMap()
        sig["meaning"] = meaning
        sig["name"] = actor.name
        sig["email"] = actor.email
        if role:
            sig["role"] = role if isinstance(role, str) else " | ".join(role)
        sig["at"] = when
        if on is not None:
            sig["on"] = on
        if source is not None:
            sig["from"] = source
        sig["to"] = target
        return sig

    def _sign(self, data: Any, sig) -> None:
        from ruamel.yaml.comments import CommentedSeq

        if "signatures" not in data or data["signatures"] is None:
            data["signatures"] = CommentedSeq()
        data["signatures"].append(sig)

    def paper_time(self, on: str | None) -> date | datetime | None:
        """`--on` as typed: when the act happened on paper (补录), or None."""
        if on is None:
            return None
        try:
            return values.parse_paper_time(on, self.config.tz)
        except ValueError as e:
            raise BadInput(_("--on {value}: {problem} (when the act happened on paper)").format(
                value=quote(on), problem=e)) from None

    def _check_paper_time(self, rt: RecordType, data: Any, on: date | datetime | None, when: datetime,
                          whose: str) -> None:
        """A paper time is not after the act is entered and signed (`when`), nor before
        what the record already holds: the date it is numbered by (e.g. received_at) and
        when each earlier signed act happened."""
        tz = self.config.tz
        earlier: list[tuple[str, date | datetime]] = []
        if rt.numbering_date:
            raw = values.get(data, rt.numbering_date)
            start = values.to_date(raw) if isinstance(raw, date) and not isinstance(raw, datetime) \
                else values.to_datetime(raw, tz) or values.to_date(raw)
            if start is not None:
                earlier.append((f"{rt.numbering_date} ({rt.label_of(rt.numbering_date, language())})", start))
        for sig in values.signatures(data):
            done = values.acted(sig, tz)
            if done is not None:
                what = _("the '{meaning}' signature (on paper)") if values.paper_time(sig, tz) is not None \
                    else _("the '{meaning}' signature")
                earlier.append((what.format(meaning=sig.get("meaning")), done))
        if on is None:  # signed as it happens: not before what the record already holds either
            problem = values.paper_time_problem(when, None, earlier, tz)
            if problem:
                raise Refused(_("{prefix}the time of signing, {time}, {problem}: a signature "
                                "is not dated before what it signs (check the computer's clock and "
                                "GIT_COMMITTER_DATE; for an act done earlier on paper, use --on)").format(
                    prefix=whose, time=values.shown_time(when, tz), problem=problem))
            return
        problem = values.paper_time_problem(on, when, earlier, tz)
        if problem:
            # later than its signing is the first thing paper_time_problem checks
            expected = (_("not after it is entered and signed") if values.later(on, when, tz)
                        else _("not before what the record already holds"))
            raise Refused(_("{prefix}--on {time} {problem} (expected when the act happened on paper: {expected})").format(
                prefix=whose, time=values.shown_time(on, tz), problem=problem, expected=expected))

    def _refuse_unmet(self, missing, rt, head: str, state: str) -> None:
        if missing:
            raise Refused(
                _("{head}: {count} field(s) missing or wrong").format(head=head, count=len(missing)),
                details=[
                    _("{field}: {problem} in state '{state}' ({label})").format(
                        field=f, problem=why, state=state, label=rt.label_of(f.split(" [")[0], language()))
                    for f, why in missing
                ],
            )

    def _pin(self, rt: RecordType, data: Any, state: str) -> None:
        """Pin the SHA-256 of attached content when the record enters a pinning state."""
        if state not in rt.pin_in:
            return
        from ruamel.yaml.comments import CommentedMap

        for name, spec in rt.fields.items():
            if spec.type == "file" and spec.pin and not values.is_empty(data.get(name)):
                if values.is_empty(data.get(spec.pin)):
                    data[spec.pin] = self.file_sha256(data[name], f"{name}")
                    _place(rt, data, spec.pin)
        # every other attached file too: evidence is pinned with the record (envelope `pins`)
        pins = data.get("pins") if isinstance(data.get("pins"), dict) else CommentedMap()
        for path, spec, value in values.walk(rt.fields, data):
            if spec.type == "file" and not spec.pin and isinstance(value, str) and value not in pins:
                pins[value] = self.file_sha256(value, path)
        if pins:
            data["pins"] = pins
            _place(rt, data, "pins")

    def file_sha256(self, rel: str, field_name: str) -> str:
        """The SHA-256 of an attached file, to pin it: the file must be a file of the
        store (no link, device or pipe) and at most safefs.ATTACHMENT_LIMIT bytes."""

        if rel in self._staged:
            return hashlib.sha256(self._staged[rel]).hexdigest()
        try:
            values.check_file_path(rel)
        except ValueError as e:
            raise BadInput(f"{field_name}: {e}") from None
        what, where = safefs.kind(self.root, rel)
        if what == "missing":
            raise Refused(_("{field}: the file '{path}' is not in the store").format(field=field_name, path=rel))
        try:
            return safefs.sha256(self.root, rel, safefs.ATTACHMENT_LIMIT)
        except BadInput as e:
            raise BadInput(f"{field_name}: {e}") from None

    def new(
        self,
        type_name: str,
        assignments: list[str] = (),
        initial: dict | None = None,
        on: str | None = None,
        by: gitops.Actor | None = None,
    ) -> Change:
        """Register a record in its first state. `on`: when it was registered on paper
        (补录), if it is entered afterwards. `by`: who registers it and when (default: the
        git identity, now)."""
        from ruamel.yaml.comments import CommentedMap

        rt = self.record_type(type_name)
        wf = rt.workflow
        actor = by or gitops.actor(self.root)
        paper = self.paper_time(on)
        self._staged = {}
        data = CommentedMap()
        data["id"] = None
        data["type"] = rt.name
        data["state"] = wf.initial
        for key, value in (initial or {}).items():
            if key in ENVELOPE_KEYS:
                raise BadInput(_("{field}: set by qms, not by the input file").format(field=key))
            if rt.kept(str(key)) and key not in rt.compute:
                raise Refused(_("{field}: kept by qms, not given in the input file").format(field=key))
            data[key] = value
        self._assign(rt, data, assignments, computed_ok=True)
        with lock.store_lock(self.root) as notes:
            self._fetched.clear()
            when = actor.when.astimezone(self.config.tz)
            day = values.day_of(paper, self.config.tz) or when.date()  # the day of the act
            ev = self.evaluator(rt, data, computing=True, today=day, on_paper=paper is not None)
            for name in rt.compute:
                if values.is_empty(values.get(data, name)):
                    value, _why = ev.computed(name)
                    if value is not None:
                        values.put(data, name, value, new_map=CommentedMap)
            _order_fields(rt, data)
            self._check_schema(rt, data, f"new {rt.name}")
            self._check_refs(rt, data)
            self._check_paper_time(rt, data, paper, when, f"new {rt.name}: ")
            held = None
            if wf.create.role:
                ok, held = self.holds(rt, wf.create.role, data, actor, day,
                                      _("registering a {type}").format(type=_label(rt.label).lower()))
                if not ok:
                    raise NotAuthorised(held)
            if wf.create.sign:
                self._sign(data, self._signature(wf.create.sign, actor, when, held, None, wf.initial, paper))
            missing = ev.unmet([*wf.requirements(wf.initial), *wf.create.requires])
            self._refuse_unmet(missing, rt, _("cannot register the {type}").format(type=_label(rt.label).lower()),
                               wf.initial)
            data["id"] = self._next_id(rt, data, paper)
            self._file_under_id(rt, data)
            path = self.new_path(rt.name, data["id"])
            trailers = [(Trailer.RECORD, f"{rt.name}/{data['id']}"), (Trailer.ACTION, "new")]
            if wf.create.sign:
                trailers.append((Trailer.SIGNATURE, f"{wf.create.sign} by {actor.email}"))
            if paper is not None:
                trailers.append((Trailer.ON, paper.isoformat()))
            message = _message(f"{rt.name} {data['id']}: new ({wf.initial})", "", trailers)
            commit = self._write({path: (data, None)}, message, date=when if wf.create.sign else None, actor=by)
        return Change(self._record(rt.name, path, data), commit, tuple(notes))

    def set(self, type_name: str, record_id: str, assignments: list[str], comment: str = "",
            by: gitops.Actor | None = None) -> Change:
        """Edit fields without changing the state. `by`: who edits and when (default: the
        git identity, now)."""
        rt = self.record_type(type_name)
        by or gitops.actor(self.root)  # an identity is needed before anything else
        if not assignments:
            raise BadInput(_("nothing to set: give FIELD=VALUE"))
        _check_comment(comment)
        self._staged = {}
        with lock.store_lock(self.root) as notes:
            self._fetched.clear()
            actor = by or gitops.actor(self.root)
            _type, path = self.locate(record_id, type_name)
            data, style = yamlio.load_for_edit(path, self.rel(path), root=self.root)
            record = self._record(rt.name, path, data)
            self._check_file_is_sound(rt, data, record.path)
            ok, why = self.holds(rt, rt.workflow.edit, data, actor, actor.when.astimezone(self.config.tz).date(),
                                 _("editing {type} {id}").format(type=rt.name, id=record_id))
            if not ok:
                raise NotAuthorised(why)
            if rt.workflow.states[record.state].final:
                raise Refused(
                    _("{type} {id} is {state}: a {state} record is not "
                      "edited (its history in git is the record of what was done)").format(
                        type=rt.name, id=record_id, state=record.state)
                )
            changed = self._assign(rt, data, assignments)
            for name in changed:
                spec = rt.field(name)
                pinned = [f for f, s in rt.fields.items() if s.pin and (name == s.pin or name == f)]
                if pinned and record.state in rt.pin_in:
                    raise Refused(
                        _("{type} {id} is {state}: its approved content "
                          "({fields}) is pinned and is changed only by a new revision").format(
                            type=rt.name, id=record_id, state=record.state, fields=", ".join(pinned))
                    )
                del spec
            self._check_schema(rt, data, record.path)
            self._check_refs(rt, data)
            missing = self.evaluator(rt, data).unmet(rt.workflow.requirements(record.state))
            if missing:
                raise Refused(
                    _("{type} {id}: the change would leave state '{state}' incomplete").format(
                        type=rt.name, id=record_id, state=record.state),
                    details=[f"{f}: {why}" for f, why in missing],
                )
            message = _message(
                f"{rt.name} {record_id}: set {', '.join(changed)}",
                body=comment,
                trailers=[
                    (Trailer.RECORD, f"{rt.name}/{record_id}"),
                    (Trailer.ACTION, "set " + " ".join(changed)),
                ],
            )
            commit = self._write({path: (data, style)}, message, actor=by)
        return Change(self._record(rt.name, path, data), commit, tuple(notes))

    def move(
        self,
        type_name: str,
        record_id: str,
        target: str,
        assignments: list[str] = (),
        comment: str = "",
        on: str | None = None,
        by: gitops.Actor | None = None,
    ) -> Change:
        """A workflow move, signed. `on`: when the act happened on paper (补录), if it is
        entered afterwards; the signature's `at` stays the time it is entered and signed.
        `by`: who signs and when (default: the git identity, now)."""
        rt = self.record_type(type_name)
        wf = rt.workflow
        target = state_named(rt, target)
        by or gitops.actor(self.root)
        _check_comment(comment)
        paper = self.paper_time(on)
        self._staged = {}
        with lock.store_lock(self.root) as notes:
            self._fetched.clear()
            # the signature's time is the commit's own time, as git reads it (never QMS_NOW)
            actor = by or gitops.actor(self.root)
            when = actor.when.astimezone(self.config.tz)
            day = values.day_of(paper, self.config.tz) or when.date()  # the day of the act
            _type, path = self.locate(record_id, type_name)
            data, style = yamlio.load_for_edit(path, self.rel(path), root=self.root)
            record = self._record(rt.name, path, data)
            self._check_file_is_sound(rt, data, record.path)
            move = wf.move(record.state, target)
            if move is None:
                onward = [m.target for m in wf.moves_from(record.state)]
                if onward:
                    raise Refused(_("{type} {id} is '{state}': it cannot move to '{target}'; it can move to: {states}")
                                  .format(type=rt.name, id=record_id, state=record.state, target=target,
                                          states=", ".join(onward)))
                raise Refused(_("{type} {id} is '{state}': it cannot move to '{target}' (a final state)").format(
                    type=rt.name, id=record_id, state=record.state, target=target))
            self._assign(rt, data, assignments)
            self._check_paper_time(rt, data, paper, when, f"{rt.name} {record_id}: ")
            ok, held = self.holds(rt, move.role, data, actor, day,
                                  _("moving {type} {id} to '{target}'").format(type=rt.name, id=record_id, target=target))
            if not ok:
                raise NotAuthorised(held)
            self._check_schema(rt, data, record.path)
            self._check_refs(rt, data)
            data["state"] = target
            self._sign(data, self._signature(move.sign, actor, when, held or None, record.state, target, paper))
            self._pin(rt, data, target)
            ev = self.evaluator(rt, data, computing=True, today=day, on_paper=paper is not None)
            missing = ev.unmet([*wf.requirements(target), *move.requires])
            self._refuse_unmet(missing, rt, _("{type} {id} cannot move to '{target}'").format(
                type=rt.name, id=record_id, target=target), target)
            changes = {path: (data, style)}
            effects = self._effects(rt, data, target, actor, when, changes, paper)
            trailers = [
                (Trailer.RECORD, f"{rt.name}/{record_id}"),
                (Trailer.ACTION, f"move {target}"),
                (Trailer.SIGNATURE, f"{move.sign} by {actor.email}"),
                *(((Trailer.ON, paper.isoformat()),) if paper is not None else ()),
                *((Trailer.EFFECT, e) for e in effects),
            ]
            message = _message(f"{rt.name} {record_id}: {record.state} -> {target}", comment, trailers)
            commit = self._write(changes, message, date=when, actor=by)
        return Change(self._record(rt.name, path, data), commit, tuple(notes))

    def _effects(self, rt: RecordType, data: Any, state: str, actor, when, changes: dict,
                 on: date | datetime | None = None) -> list[str]:
        """Apply what entering `state` does to other records; add them to `changes`. They
        are done when the move is: on paper on `on`, if it was entered afterwards."""
        from ruamel.yaml.comments import CommentedMap


        done: list[str] = []
        effects = rt.effects.get(state) or ()
        if not effects:
            return done
        day = values.day_of(on, self.config.tz) or when.date()  # the day of the act

        def fill(template) -> str:
            """An effect's value with `{field}` and `{today}` filled in from this record."""
            if isinstance(template, dict):  # worded in the store's language
                template = str(template.get(self.config.lang) or next(iter(template.values())))

            def one(m):
                """What one placeholder stands for."""
                if m.group(1) == "today":
                    return day.isoformat()
                value = values.get(data, m.group(1))
                return "" if value is None else str(value)

            return re.sub(r"\{([\w.]+)\}", one, template)

        for effect in effects:
            targets: list[tuple[str, str]] = []  # (type, id)
            if effect.kind in ("update", "update_each"):
                spec = rt.field(effect.target)
                ref_spec = spec.items if spec is not None and spec.type == "list" else spec
                ids = values.get(data, effect.target)
                ids = ids if isinstance(ids, list) else [ids]
                targets = [(ref_spec.to, str(i)) for i in ids if not values.is_empty(i)]
            else:
                for other in self.scan(effect.target):
                    if effect.except_self and other.get("id") == data.get("id"):
                        continue
                    if all(str(values.get(other, k)) == fill(v) for k, v in effect.where) and not (
                        effect.unless and all(str(values.get(other, k)) == fill(v) for k, v in effect.unless)
                    ):
                        targets.append((effect.target, str(other.get("id"))))
            for type_name, rid in targets:
                ort = self.record_type(type_name)
                path = self.path_of(type_name, rid)
                if path is None:
                    raise Refused(_("{field}: {type} '{id}' is not in the store").format(
                        field=effect.target, type=type_name, id=rid))
                if path in changes:
                    odata, ostyle = changes[path]
                else:
                    odata, ostyle = yamlio.load_for_edit(path, self.rel(path), root=self.root)
                orecord = self._record(type_name, path, odata)
                words = []
                if effect.set:
                    self._assign(ort, odata, [f"{k}={fill(v)}" for k, v in effect.set], internal=True)
                    words.append("set " + " ".join(k for k, _value in effect.set))
                if effect.move:
                    omove = ort.workflow.move(orecord.state, effect.move)
                    if omove is None:
                        raise Refused(
                            _("{type} {id} is '{state}': it cannot move to "
                              "'{target}', which {source_type} {source_id} entering '{source_state}' needs").format(
                                type=type_name, id=rid, state=orecord.state, target=effect.move,
                                source_type=rt.name, source_id=data["id"], source_state=state)
                        )
                    self._check_paper_time(ort, odata, on, when,
                                           _("{type} {id} (which {source_type} {source_id} entering '{source_state}' "
                                             "signs): ").format(type=type_name, id=rid, source_type=rt.name,
                                                                source_id=data["id"], source_state=state))
                    odata["state"] = effect.move
                    ok, held = self.holds(ort, omove.role, odata, actor, day)
                    self._sign(odata, self._signature(omove.sign, actor, when, held if ok else None,
                                                      orecord.state, effect.move, on))
                    words.append(f"move {effect.move}")
                self._check_schema(ort, odata, self.rel(path))
                changes[path] = (odata, ostyle)
                done.append(f"{type_name}/{rid} {'; '.join(words)}")
        del CommentedMap
        return done

    def _assign(self, rt: RecordType, data: Any, assignments: list[str], *, internal: bool = False,
                computed_ok: bool = False) -> list[str]:
        """Apply FIELD=VALUE assignments. Fields qms maintains are refused unless `internal`
        (an effect of another record's move) or, at creation, checked by a compute rule."""
        from ruamel.yaml.comments import CommentedMap

        changed = []
        for item in assignments:
            key, sep, raw = _split_assignment(item)
            if not sep:
                raise BadInput(_("'{item}': expected FIELD=VALUE (e.g. customer.name=上汽大众)").format(
                    item=_printable(item)))
            if _printable(item) != item:
                raise BadInput(
                    _("{field}: the value is not UTF-8 text (set the terminal to UTF-8, "
                      "e.g. chcp 65001 or LANG=zh_CN.UTF-8)").format(field=_printable(key))
                )
            problem = values.text_problem(raw)
            if problem:
                raise BadInput(_("{field}: the value {problem}").format(field=key.removesuffix("+").strip(),
                                                                         problem=problem))
            append = key.endswith("+")
            path = key[:-1].strip() if append else key.strip()
            values.check_path(path)
            if path.split(".")[0] in ENVELOPE_KEYS:
                raise BadInput(
                    _("{field}: kept by qms (the ID, type, state and signatures change only "
                      "through 'new' and 'move')").format(field=path)
                )
            spec = rt.field(path)
            if spec is None:
                raise BadInput(_("{field}: {type} has no such field").format(field=path, type=rt.name))
            if not internal and rt.kept(path) and not (computed_ok and path in rt.compute):
                whose = f"{rt.name} {data.get('id')}: " if data.get("id") else ""
                raise Refused(_("{prefix}{field}: kept by qms ({label} changes only through {moves})").format(
                    prefix=whose, field=path, label=rt.label_of(path, language()), moves=self._who_sets(rt, path)))
            staged = raw.startswith("@") and (spec.type == "file" or (
                spec.type == "list" and spec.items is not None and spec.items.type == "file"))
            if staged:
                raw = self._stage(rt, data, raw[1:], path)  # the file, copied under files/TYPE/ID/
            try:
                if spec.type == "list" and spec.items is not None and spec.items.type == "object":
                    value = self._object_item(spec.items, raw, path)
                    if not append:
                        value = [value]
                elif spec.type == "list":
                    item_spec = spec.items
                    if append:
                        value = values.coerce(item_spec, raw, self.config.tz)
                    elif staged:
                        value = [values.coerce(item_spec, raw, self.config.tz)]
                    else:
                        parts = [p for p in (s.strip() for s in LIST_SEPARATORS.split(raw)) if p]
                        value = [values.coerce(item_spec, p, self.config.tz) for p in parts]
                elif append:
                    raise ValueError(_("'+=' appends to a list field"))
                else:
                    value = values.coerce(spec, raw, self.config.tz)
            except ValueError as e:
                raise BadInput(f"{path}: {quote(raw)}: {e}") from None
            fresh = _new_keys(data, path)
            values.put(data, path, value, append=append and spec.type == "list", new_map=CommentedMap)
            for new_path in fresh:
                _place(rt, data, new_path)
            changed.append(path)
        return changed

    def _object_item(self, spec, raw: str, path: str):
        """A list item that is a group of fields, given as a YAML flow mapping:
        reviews+={at: 2026-06-01, by: 赵敏, outcome: no_change}."""
        from ruamel.yaml.comments import CommentedMap


        text = raw.strip()
        if not (text.startswith("{") and text.endswith("}")):
            raise ValueError(_("expected {{field: value, ...}}, e.g. {{at: 2026-06-01, by: 赵敏}}").format())
        parsed = yamlio.parse(f"item: {text}\n", f"--set {path}")["item"]
        if not isinstance(parsed, dict):
            raise ValueError(_("expected {{field: value, ...}}").format())
        item = CommentedMap()
        for key, value in parsed.items():
            sub = spec.fields.get(str(key))
            if sub is None:
                raise ValueError(_("'{key}' is not a field here (expected {fields})").format(
                    key=key, fields=", ".join(spec.fields)))
            item[str(key)] = values.coerce(sub, str(value), self.config.tz) if not isinstance(value, (dict, list)) else value
        item.fa.set_flow_style()
        return item

    def _who_sets(self, rt: RecordType, path: str) -> str:
        """Which moves set a kept field, in words for a refusal."""
        found = []
        if path in rt.compute:
            found.append(_("the {type}'s own moves (qms computes it)").format(type=rt.name))
        for name in self.config.type_names():
            try:
                other = self.record_type(name)
            except QmsError:
                continue
            for state, effects in other.effects.items():
                for e in effects:
                    target = other.field(e.target) if e.kind != "update_all" else None
                    hits = (e.kind == "update_all" and e.target == rt.name) or (
                        target is not None and getattr(target, "to", None) == rt.name)
                    if hits and any(k == path for k, _value in e.set):
                        found.append(_("{type} entering '{state}'").format(type=other.name, state=state))
        return ", ".join(found) if found else _("the moves that make it")

    NEW_FOLDER = ".new"  # where a new record's attachments wait for its ID

    @property
    def attached(self) -> list[str]:
        """The files the last action attached (paths in the store)."""
        return list(self._staged)

    def attachment_limit(self) -> int:
        """The largest file that may be attached, in bytes (qms.yaml `attachments.max_mb`)."""
        raw = self.config.attachments.get("max_mb", ATTACHMENT_MB)
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not 0 < raw <= safefs.ATTACHMENT_LIMIT >> 20:
            raise BadInput(_("{config}: attachments.max_mb: expected a number of megabytes from 1 to {limit}").format(
                config=CONFIG_FILE, limit=safefs.ATTACHMENT_LIMIT >> 20))
        return int(raw * (1 << 20))

    def _stage(self, rt: RecordType, data: Any, source: str, field: str) -> str:
        """Attach the file `source` (a path on this computer, as the user typed it): its
        bytes are copied to files/TYPE/ID/NAME with the record's change and pinned by their
        SHA-256 at once. A file already there with other content is never overwritten: the
        copy gets the next free name (NAME-2.pdf). Returns the path in the store."""
        import stat as stat_

        from ruamel.yaml.comments import CommentedMap


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
        limit = self.attachment_limit()
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
        rel = self._free_name(f"{FILES}/{rt.name}/{data.get('id') or self.NEW_FOLDER}", name, raw)
        self._staged[rel] = raw
        pins = data.get("pins") if isinstance(data.get("pins"), dict) else CommentedMap()
        pins[rel] = hashlib.sha256(raw).hexdigest()
        data["pins"] = pins
        _place(rt, data, "pins")
        return rel

    def _free_name(self, folder: str, name: str, raw: bytes) -> str:
        """folder/name, or folder/stem-N.ext when that is taken by other content."""

        stem, dot, ext = name.rpartition(".") if "." in name else (name, "", "")
        for n in range(1, 1000):
            rel = f"{folder}/{name if n == 1 else f'{stem}-{n}{dot}{ext}'}"
            if rel in self._staged:
                if self._staged[rel] == raw:
                    return rel
                continue
            what, _where = safefs.kind(self.root, rel)
            if what == "missing":
                return rel
            if what == "file" and safefs.sha256(self.root, rel, safefs.ATTACHMENT_LIMIT) == hashlib.sha256(raw).hexdigest():
                return rel  # the same file is already attached there
        raise Refused(_("{folder}: a thousand files named like {name}; rename the file").format(
            folder=folder, name=quote(name)))

    def _file_under_id(self, rt: RecordType, data: Any) -> None:
        """A new record's attachments move from the waiting folder to files/TYPE/ID/."""

        waiting = f"{FILES}/{rt.name}/{self.NEW_FOLDER}/"
        if not any(k.startswith(waiting) for k in self._staged):
            return
        moved: dict[str, str] = {}
        for old in [k for k in self._staged if k.startswith(waiting)]:
            raw = self._staged.pop(old)
            moved[old] = self._free_name(f"{FILES}/{rt.name}/{data['id']}", old[len(waiting):], raw)
            self._staged[moved[old]] = raw
        for path, spec, value in list(values.walk(rt.fields, data)):
            if spec.type == "file" and value in moved:
                values.put(data, path, moved[value])
        pins = data["pins"]
        for old, new in moved.items():
            pins[new] = pins.pop(old)

    def _check_refs(self, rt: RecordType, data: Any) -> None:
        """Every reference names a record that is in the store, every attached file a file
        that is there (put it under files/ first)."""

        whose = f"{rt.name} {data.get('id')}: " if data.get("id") else ""
        for path, spec, value in values.walk(rt.fields, data):
            if spec.type == "ref" and not values.is_empty(value):
                if self.fetch(spec.to, str(value)) is None:
                    raise Refused(_("{prefix}{field}: {type} {id} is not in the store").format(
                        prefix=whose, field=path, type=spec.to, id=quote(value)))
            if spec.type == "file" and isinstance(value, str) and value in self._staged:
                continue  # attached by this action
            if spec.type == "file" and isinstance(value, str) and value:
                what, where = safefs.kind(self.root, value)
                if what == "link":
                    raise BadInput(f"{whose}{path}: {where} {_(safefs.LINK)}")
                if what == "special":
                    raise BadInput(f"{whose}{path}: {quote(value)} {_(safefs.SPECIAL)}")
                if what != "file":
                    raise Refused(_("{prefix}{field}: the file {path} is not in the store (put it under files/ first)")
                                  .format(prefix=whose, field=path, path=quote(value)))

    def _check_file_is_sound(self, rt: RecordType, data: Any, rel: str) -> None:
        """A record validate would reject (a hand-broken envelope, signature or field) is
        not changed on top: it is fixed first, by the person who broke it."""

        ctx = Context(root=self.root, types={rt.name: rt}, store=self)
        loaded = [Loaded(rt.name, rel, data)]
        problems = [f for check in (check_envelope, check_signatures, check_schema, check_text)
                    for f in check(loaded, ctx) if f.severity is Severity.ERROR]
        if problems:
            raise BadInput(
                _("{path}: fix the file before changing it ({count} problem(s), see qms validate)").format(
                    path=rel, count=len(problems)),
                details=[f"{f.field}: {f.message}" for f in problems[:10]],
            )

    def _check_as_validate(self, changes: dict) -> None:
        """Every record this action writes, checked in memory by validate's own record
        checks (envelope, fields, text, signatures, what its state requires): a write never
        leaves a record `qms validate` would report; every problem is named at once."""
        store = self

        class _Read:  # the records the checks read through references, as the store holds them
            def get(self, key):
                return store.fetch(*key)

        loaded = []
        types: dict[str, RecordType] = {}
        for path, (data, _style) in changes.items():
            if isinstance(data, dict) and isinstance(data.get("type"), str):
                types[data["type"]] = self.record_type(data["type"])
                loaded.append(Loaded(data["type"], self.rel(path), data))
        ctx = Context(root=self.root, types=types, store=self, by_id=_Read())
        problems = [f for check in (check_envelope, check_schema, check_text, check_signatures,
                                    check_state_requirements)
                    for f in check(loaded, ctx) if f.severity is Severity.ERROR]
        if problems:
            raise Refused(
                _("the change would leave {count} problem(s) that qms validate reports; nothing was written").format(
                    count=len(problems)),
                details=[f"{f.source}: {f.field}: {f.message}" for f in problems[:10]],
            )

    def _check_schema(self, rt: RecordType, data: Any, source: str) -> None:
        # a field a person added by hand is a warning for validate, and is kept as it is
        problems = [(p.path, p.message) for p in values.check_fields(rt.fields, data, envelope=True)
                    if p.severity is Severity.ERROR]
        if problems:
            raise BadInput(
                _("{source}: {count} field(s) do not fit the {type} form").format(
                    source=source, count=len(problems), type=rt.name),
                details=[f"{p}: {m}" for p, m in problems],
            )

    def _next_id(self, rt: RecordType, data: Any, on: date | datetime | None = None) -> str:
        """The next free ID; its year is the numbering date's, else that of the registration
        on paper (`on`), else this year."""
        own = data.get(rt.own_number) if rt.own_number else None
        if isinstance(own, str) and own.strip():
            return self._own_id(rt, own)
        scheme = rt.scheme(data)
        when = values.to_datetime(values.get(data, rt.numbering_date), self.config.tz) if rt.numbering_date else None
        if when is None and on is not None:
            when = on if isinstance(on, datetime) else datetime.combine(on, datetime.min.time(), self.config.tz)
        year = (when or self.now()).astimezone(self.config.tz).year
        site = self.config.site
        if "{site}" in scheme and not site:
            raise BadInput(_("{config}: site: the numbering '{scheme}' needs a site code").format(
                config=CONFIG_FILE, scheme=scheme))
        fmt_fields = {"year": year, "site": site}
        if "{seq" not in scheme:  # one record per period, e.g. the manual LX-SH-2026
            rid = scheme.format(**fmt_fields)
            if self.path_of(rt.name, rid) is not None:
                raise Refused(_("{type} {id} already exists (its numbering '{scheme}' has no sequence)").format(
                    type=rt.name, id=rid, scheme=scheme))
            return rid
        pattern = re.escape(scheme)
        pattern = re.sub(r"\\\{seq(:0?(\d+)d?)?\\\}", r"(?P<seq>\\d+)", pattern)
        for k, v in fmt_fields.items():
            pattern = pattern.replace(re.escape("{" + k + "}"), re.escape(str(v)))
        rx = re.compile(f"^{pattern}$")
        highest = 0
        for stem in self.record_ids(rt.name):
            m = rx.match(stem)
            if m:
                highest = max(highest, int(m.group("seq")))
        return scheme.format(seq=highest + 1, **fmt_fields)

    def _own_id(self, rt: RecordType, own: str) -> str:
        """The ID of a record registered under its own number: the number with every
        character a file name cannot hold as '-' (GB/T 27922-2011 → GB-T-27922-2011)."""
        rid = re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9_.-]", "-", own.strip())).strip("-.")
        if not rid or not ID_PATTERN.match(rid) or ".." in rid:
            raise BadInput(_("{field}: {number} cannot be a record number (expected letters and digits, "
                             "such as GB/T 27922-2011); leave it empty to number the {type} as qms does").format(
                field=rt.own_number, number=quote(own), type=rt.name))
        for tname in self._type_folders():
            if self.path_of(tname, rid) is not None:
                raise Refused(_("{field}: {number} is already registered as {type} {id}").format(
                    field=rt.own_number, number=quote(own), type=tname, id=rid))
        return rid

    def _schema_line(self, path: Path, data: Any, text: str) -> str:
        """Name the record's JSON Schema for editors, where the store has exported them."""
        schema = self.root / "schemas" / f"{data.get('type')}.schema.json"
        if text.startswith("# yaml-language-server:") or not schema.is_file():
            return text
        rel = os.path.relpath(schema, path.parent).replace(os.sep, "/")
        newline = "\r\n" if text.endswith("\r\n") else "\n"
        return f"# yaml-language-server: $schema={rel}{newline}" + text

    def _attachments(self, changes: dict) -> list[str]:
        """The store files the changed records attach or pin."""

        found: set[str] = set()
        for data, _style in changes.values():
            try:
                rt = self.record_type(str(data.get("type")))
            except QmsError:
                continue
            for _path, spec, value in values.walk(rt.fields, data):
                if spec.type == "file" and isinstance(value, str) and value:
                    found.add(value)
            if isinstance(data.get("pins"), dict):
                found.update(str(k) for k in data["pins"])
        return sorted(f for f in found if not f.startswith(("/", "-")) and ".." not in f.split("/")
                      and f not in self._staged)

    def _write(self, changes: dict, message: str, date: datetime | None = None,
               actor: gitops.Actor | None = None) -> str:
        """Write every changed record and commit them together: one action, one commit.
        `actor`: an explicit author and time (else git's identity and clock)."""
        date = date or (actor.when if actor is not None else None)
        self._check_as_validate(changes)
        texts: dict[str, bytes] = {}
        checks = gitops.Checks(self.root, self._attachments(changes))  # asked of git meanwhile
        try:
            self._texts(changes, texts)
            texts.update(self._staged)  # the files attached, in the same commit as the record
            for rel in texts:  # a write stays in the store: no link on its way
                safefs.check_writable(self.root, rel)
            if all(safefs.kind(self.root, rel)[0] == "file"
                   and safefs.read_bytes(self.root, rel, yamlio.MAX_BYTES + 1) == new for rel, new in texts.items()):
                return ""  # the record already holds these values: nothing to commit
            checks.finish(date or gitops.actor(self.root).when, self.now())
        finally:
            checks.cancel()
        lock.begin(self.root, texts, message.splitlines()[0])
        try:
            for rel, new in texts.items():
                yamlio.atomic_write(self.root / rel, new)
            commit = gitops.commit(self.root, list(texts), message, date=date.isoformat() if date else None,
                                   sign=self.config.require_signed_commits,
                                   track=lock.git_pid_file(self.root), author=actor)
        except BaseException:
            lock.roll_back(self.root)
            raise
        lock.end(self.root)
        return commit

    def _texts(self, changes: dict, texts: dict[str, bytes]) -> None:
        """The text of each changed record, checked to read back as what was meant."""

        for path, (data, style) in changes.items():
            rel = self.rel(path)
            for field, problem in values.text_problems(data):
                raise BadInput(f"{data.get('type')} {data.get('id') or _('(new)')}: {field}: {problem}")
            text = yamlio.dump(data, style or yamlio.DEFAULT_STYLE)
            text = self._schema_line(path, data, text)
            # what we write must read back as what we meant, or nothing is written
            if len(text.encode("utf-8")) > yamlio.MAX_BYTES:
                raise BadInput(_("{path}: the record would be over {limit:,} bytes; "
                                 "put long texts in a file under files/ and attach it").format(
                    path=rel, limit=yamlio.MAX_BYTES))
            changed = _text_changed(data, yamlio.parse(text, rel, "safe"))
            if changed:
                raise BadInput(_("{field}: the text cannot be stored exactly as given (a control "
                                 "character such as U+0085 would be read back as a line break); remove it").format(
                    field=changed))
            texts[rel] = text.encode("utf-8")


def state_named(rt: RecordType, word: str) -> str:
    """The state `word` names: the state itself or its label as forms print it (已联系顾客,
    Acknowledged), in any language; else a refusal that lists them, with the closest."""

    wf = rt.workflow
    found = choice(word, {name: state.label for name, state in wf.states.items()})
    if found is not None:
        return found
    words = [*wf.states, *(w for st in wf.states.values() for w in st.label.values())]
    listed = ", ".join(f"{n} ({st.label.get('zh', n)})" for n, st in wf.states.items())
    raise BadInput(_("{word} is not a state of {type}{hint} (expected one of {states})").format(
        word=quote(word), type=rt.name, hint=did_you_mean(word, words), states=listed))


def _label(label: dict) -> str:
    """A record type's label in the language of the message being made (else its English)."""
    return label.get(language()) or label["en"]


def _split_assignment(item: str) -> tuple[str, str, str]:
    """FIELD=VALUE (FIELD＝VALUE, as a Chinese keyboard types it, too): split at the first
    of either, so that a value may hold both."""
    ascii_at, wide_at = item.find("="), item.find("＝")
    if wide_at >= 0 and (ascii_at < 0 or wide_at < ascii_at):
        key, _sep, raw = item.partition("＝")
        return key, "=", raw
    return item.partition("=")


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
    parent_path, _dot, key = path.rpartition(".")
    parent = values.get(data, parent_path) if parent_path else data
    if not hasattr(parent, "insert") or key not in parent:
        return
    if parent_path:
        spec = rt.field(parent_path)
        declared = list(spec.fields) if spec is not None else []
    else:
        declared = [k for k in ENVELOPE_KEYS if k not in ("pins", "signatures")] + list(rt.fields) + ["pins", "signatures"]
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


def _check_comment(comment: str) -> None:
    problem = values.text_problem(comment or "")
    if problem:
        raise BadInput(_("--comment: the text {problem}").format(problem=problem))


def _message(subject: str, body: str, trailers: list[tuple[str, str]]) -> str:
    parts = [subject]
    if body.strip():
        parts.append(body.strip())
    parts.append("\n".join(f"{k}: {v}" for k, v in trailers))
    return "\n\n".join(parts) + "\n"


def _printable(text: str) -> str:
    """Command-line text as it can be shown: bytes that were not UTF-8 (a GBK terminal)
    arrive as lone surrogates and are shown as the bytes they were (\\xbf\\xcd)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _text_changed(meant: Any, read: Any, path: str = "") -> str | None:
    """The first field whose text would not read back as written (YAML folds some
    characters, e.g. NEL, into line breaks), or None."""
    if isinstance(meant, dict) and isinstance(read, dict):
        for k, v in meant.items():
            found = _text_changed(v, read.get(k), f"{path}.{k}" if path else str(k))
            if found:
                return found
    elif isinstance(meant, list) and isinstance(read, list) and len(meant) == len(read):
        for i, (a, b) in enumerate(zip(meant, read)):
            found = _text_changed(a, b, f"{path}.{i}" if path else str(i))
            if found:
                return found
    elif isinstance(meant, str) and str(meant) != read:
        return path or _("(record)")
    return None
