"""The store: a git repository with qms.yaml and records/<type>/<ID>.yaml.

`Store` finds records by ID without reading the others and reads them; everything written
goes through the engine (qms_cli/engine/), one commit per action, under the store's lock.
It never prints; it raises QmsError."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from operator import attrgetter
from typing import Any, Callable, Iterator, NamedTuple

from ..config import CONFIG_FILE, Config
from ..errors import BadFile, BadInput, NotAStore, QmsError
from ..files import yamlio
from ..files.safefs import LINK
from ..i18n import N_, _, use_store_language
from ..model import values
from ..model.declaration import RecordType
from ..model.record import Record
from ..model.rules import Evaluator
from ..parallel import map_many
from ..paths import RECORDS, nearest_store
from ..text import is_text, printable, quote
from . import known, lock


ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")


MAX_DEPTH = 8  # folders below a type's folder that are walked (shards use one)
_name = attrgetter("name")
# what is wrong with a name under records/ that is not UTF-8 (after "PATH: ")
NOT_UTF8 = N_("its name is not UTF-8 text; qms can neither name nor publish it (rename it)")


def _lstat(entry: os.DirEntry) -> os.stat_result | None:
    try:
        return entry.stat(follow_symlinks=False)
    except OSError:
        return None


class RecordFile(NamedTuple):  # a tuple: made 10,000 times by a listing
    """A record file found under records/, not yet read: its type (the folder), its path
    in the store and on disk, and (when asked for) its stat."""

    type: str
    rel: str
    path: str
    stat: os.stat_result | None = None


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
    """A store on disk: finds and reads its records (qms_cli/engine/ writes them)."""

    def __init__(self, root: Path):
        self.root = root
        self._config: Config | None = None
        self._fetched: dict[tuple[str, str], Any] = {}
        self.notes: list[str] = []  # what opening the store recovered, for the user
        self.skipped: list[str] = []  # linked record folders that reading did not follow
        self.linked: list[str] = []  # the links met under records/ (paths in the store)
        self.misnamed: list[str] = []  # the names under records/ that are not UTF-8 (as text.printable shows them)
        # what forms computed from records, kept for the next form: only while the
        # records cannot change under it (a HeldStore's view), else None
        self.memo: dict | None = None

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
            use_store_language(self._config.lang)
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
        names = [type_name] if type_name else self.type_folders()
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

    def type_folders(self) -> list[str]:
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
        return self.record_of(name, path, data)

    def record_of(self, type_name: str, path: Path, data: Any) -> Record:
        """`data`, read from `path`, as a Record of `type_name`; refused (BadFile, naming the
        line) when its ID is not its file name or its state is not one of the type's."""

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
        report. A name that is not UTF-8 is not walked either: named (escaped) in
        `self.misnamed` and said in `self.skipped`. Names starting with a dot are not
        records; folders deeper than MAX_DEPTH are not walked. `stat`: each file's stat as well, from the folder listing."""
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
                        if not is_text(e.name):
                            self._misnamed(f"{RECORDS}/{e.name}")
                        elif e.is_symlink():
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
                    entries = sorted(it, key=_name)
            except OSError:
                return
            for e in entries:  # 10,000 records: the cost of this loop is the cost of a warm validate
                name = e.name
                if name.startswith("."):
                    continue
                if not is_text(name):
                    self._misnamed(prefix + name)
                    continue
                if name.endswith(".yaml") and e.is_file(follow_symlinks=False):  # a record: most names
                    out.append(RecordFile(tname, prefix + name, e.path, _lstat(e) if stat else None))
                elif e.is_symlink():
                    self._linked(prefix + name)
                elif e.is_dir(follow_symlinks=False):
                    if depth < MAX_DEPTH:
                        walk(tname, e.path, f"{prefix}{name}/", depth + 1)
                elif name.endswith(".yaml"):  # not a regular file: reading it says so
                    out.append(RecordFile(tname, prefix + name, e.path, _lstat(e) if stat else None))

        for tname, folder in tops:
            if os.path.islink(folder):
                self._linked(f"{RECORDS}/{tname}")
            else:
                walk(tname, folder, f"{RECORDS}/{tname}/", 0)
        return out

    def _misnamed(self, rel: str) -> None:
        shown = printable(rel)
        if shown not in self.misnamed:
            self.misnamed.append(shown)
        self._skip(f"{shown}: {_(NOT_UTF8)}")

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
                rec = self.record_of(name, path, yamlio.load(path, self.rel(path), root=self.root))
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
            today_words=_("the day it happened on paper") if on_paper else _("today"), config=self.config,
        )

    def forget(self) -> None:
        """Forget the records read so far (an action re-reads them under the store's lock)."""
        self._fetched.clear()

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

    def referring(self, type_name: str, field: str, target: Any) -> list[Any]:
        """The data of every readable record of `type_name` whose `field` is `target` or a
        list holding it (a document's copies, a plan's surveys), in listing order."""
        out = []
        for d in self.scan(type_name):
            value = values.get(d, field)
            if value == target or (isinstance(value, list) and target in value):
                out.append(d)
        return out

    def matching(self, type_name: str, field: str, how: str, wanted: set[str],
                 problems: list[str] | None = None) -> list[tuple[int, Any]]:
        """(place among scan's, data) of every readable record of `type_name` whose `field`
        names one of `wanted` the way `how` says (known.KEYS: "id", or "known_as": the names
        a customer is known by), in scan's order; `problems` as for scan."""
        keys_of = known.KEYS[how]
        return [(n, data) for n, data in enumerate(self.scan(type_name, problems))
                if any(k in wanted for k in keys_of(values.get(data, field)))]

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


class HeldStore(Store):
    """A read-only view of a store for a command that reads the whole store many times
    over (publish: a form per record, every ledger, lists): each type's records are read
    once, when first asked for (on several processes when there are many), and records,
    scan, fetch, read and referring are answered from them; referring through an index
    per (type, field). What is read is also noted in `watch` while a caller sets it (a
    `Watch`): publish keys each page by the records it looked at. `now`: the moment the
    view reads the store as of, for deadlines (default: the store's clock)."""

    def __init__(self, store: Store, now: datetime | None = None):
        self.__dict__.update(store.__dict__)
        self._now = now
        self._held: dict[str, list[Any]] = {}  # type -> records() as Store gives it
        self._ids: dict[str, dict[str, Record]] = {}  # type -> ID -> record
        self._index: dict[tuple[str, str], dict[Any, list[Any]]] = {}
        # see matching: (type, field, keys) -> (the records indexed, the index); shared by views
        self._keyed: dict[tuple[str, str, str], tuple[list[Any], dict[Any, list[tuple[int, Any]]]]] = {}
        self._where: dict[str, list[RecordFile]] | None = None
        self._files_of: HeldStore | None = None  # the store a view takes its listing from
        self.watch: Watch | None = None
        self.types_read: set[str] = set()
        self.memo = {}
        self.missed: set[str] = set()  # see view() and Part
        self.partial: set[str] = set()  # the types held in part
        self.later: dict[str, Callable[[], list[Any]]] = {}  # type -> how to get its records, when first asked

    def now(self) -> datetime:
        """The moment given (publish: the start of the day it publishes), else the store's."""
        return self._now or Store.now(self)

    def hold(self, type_name: str, records: list[Any]) -> None:
        """Take `records` (what records(type_name) gives) as that type's, read elsewhere."""
        self._held[type_name] = records
        self._ids[type_name] = {r.id: r for r in records if isinstance(r, Record)}

    def held(self, type_name: str) -> list[Any]:
        """Every record of a type (or the error reading it gave), read once (through
        `later`, where the type has a way there)."""
        if type_name not in self._held:
            later = self.later.pop(type_name, None)
            self.hold(type_name, later() if later is not None else Store.records(self, type_name))
        return self._held[type_name]

    def records(self, type_name: str | None = None, then: Any = None) -> list[Any]:
        """As Store.records, from the records held."""
        if type_name is None:
            return Store.records(self, None, then)
        self.types_read.add(type_name)
        found = self.held(type_name)
        if self.watch is not None:
            self.watch.types.add(type_name)
            if self.watch.fields is not None:
                keys = self.watch.fields.setdefault(type_name, set())
                found = [Record(r.id, r.type, r.state, Seen(r.data, keys), r.path) if isinstance(r, Record)
                         and isinstance(r.data, dict) else r for r in found]
        if then is None:
            return list(found)
        out = []
        for rec in found:
            if not isinstance(rec, Record):
                out.append(rec)
                continue
            got = then(rec)
            if got is not None:
                out.append(got)
        return out

    def scan(self, type_name: str, problems: list[str] | None = None) -> list[Any]:
        """As Store.scan, from the records held."""
        out = []
        for rec in self.records(type_name):
            if isinstance(rec, Record):
                out.append(rec.data)
            elif problems is not None and isinstance(rec, Exception) and str(rec) not in problems:
                problems.append(str(rec))
        return out

    def held_record(self, type_name: str, record_id: str) -> Record | None:
        """The record `record_id` of a type held (None: not held, or no such record)."""
        ids = self._ids.get(type_name)
        rec = ids.get(record_id) if ids is not None else None
        # a record held in part (publish's ledgers) is read whole when asked for by ID
        return None if rec is not None and type(rec.data) is Part else rec

    def view(self) -> HeldStore:
        """Another view of the same store holding what this one holds so far: `hold` on it
        (records in part, `Part`) leaves this one as it is. `missed` gathers what was asked
        of its records in part beyond what they hold."""
        other = HeldStore(self, self._now)
        other._held, other._ids, other._keyed = dict(self._held), dict(self._ids), self._keyed
        other._files_of = self  # the same files: listed once, by this one, when first asked for
        return other

    def _files(self) -> dict[str, list[RecordFile]]:
        """ID -> the record files of that name, by one listing of records/."""
        if self._where is None and self._files_of is not None:
            self._where = self._files_of._files()
        if self._where is None:
            where: dict[str, list[RecordFile]] = {}
            for f in self.listing():
                where.setdefault(f.rel.rpartition("/")[2][:-5], []).append(f)
            self._where = where
        return self._where

    def locate(self, record_id: str, type_name: str | None = None) -> tuple[str, Path]:
        """As Store.locate (from one listing where the ID names one file); noted in `watch`."""
        try:
            check_id(record_id)
            files = self._files().get(record_id, [])
            if type_name is not None:
                self.record_type(type_name)  # an unknown type is its own error
                files = [f for f in files if f.type == type_name]
            if len(files) == 1 and not self.linked:  # a link met: Store.locate's own search
                found = (files[0].type, Path(files[0].path))
            else:
                found = Store.locate(self, record_id, type_name)
        except BadInput:
            if self.watch is not None:
                self.watch.ids.setdefault(record_id, None)
            raise
        if self.watch is not None:
            self.watch.ids[record_id] = found[0]
        return found

    def fetch(self, type_name: str, record_id: str) -> Any:
        """As Store.fetch, from the records held where that type is held."""
        if self.watch is not None:
            self.watch.ids[record_id] = type_name
        rec = self.held_record(type_name, record_id)
        return rec.data if rec is not None else Store.fetch(self, type_name, record_id)

    def read(self, record_id: str, type_name: str | None = None, *, kind: str = "safe") -> Record:
        """As Store.read, from the records held where the record's type is held."""
        if type_name is not None and kind == "safe":
            rec = self.held_record(type_name, record_id)
            if rec is not None:
                if self.watch is not None:
                    self.watch.ids[record_id] = type_name
                return rec
        return Store.read(self, record_id, type_name, kind=kind)

    def referring(self, type_name: str, field: str, target: Any) -> list[Any]:
        """As Store.referring, through an index of the type's records by `field`; noted in
        `watch` with the IDs found."""
        key = (type_name, field)
        index = self._index.get(key)
        if index is None:
            index = self._index[key] = {}
            watch, self.watch = self.watch, None  # what the question found is noted, not the whole type
            for data in self.scan(type_name):
                value = values.get(data, field)
                for v in (value if isinstance(value, list) else (value,)):
                    try:
                        hits = index.setdefault(v, [])
                    except TypeError:  # a list or mapping where a value was expected: equals no ID
                        continue
                    if not hits or hits[-1] is not data:  # once per record
                        hits.append(data)
            self.watch = watch
        try:
            found = list(index.get(target, ()))
        except TypeError:
            found = Store.referring(self, type_name, field, target)
        if self.watch is not None:
            self.watch.queries[(type_name, field, target if isinstance(target, str) else "\0" + repr(target))] = \
                [str(d.get("id")) for d in found]
        return found


    def matching(self, type_name: str, field: str, how: str, wanted: set[str],
                 problems: list[str] | None = None) -> list[tuple[int, Any]]:
        """As Store.matching, through an index of the type's records by the keys of `field`
        (made once; each report about one customer then reads its own records, not every
        one). Noted in `watch` as a question (`matched`: what was asked, the IDs found) and
        the fields read of the records found, which come as `Seen`; not as a read of the
        whole type."""
        held = self.held(type_name)
        kept = self._keyed.get((type_name, field, how))
        if kept is not None and kept[0] is held:  # the same records (a view holding them too)
            index = kept[1]
        else:
            index = {}
            keys_of = known.KEYS[how]
            watch, self.watch = self.watch, None  # the question is noted below, not the whole type
            try:
                for n, data in enumerate(self.scan(type_name)):
                    for k in set(keys_of(values.get(data, field))):
                        index.setdefault(k, []).append((n, data))
            finally:
                self.watch = watch
            self._keyed[(type_name, field, how)] = (held, index)
        found = sorted({n: data for k in wanted for n, data in index.get(k, ())}.items(), key=lambda x: x[0])
        if problems is not None:
            for rec in held:
                if isinstance(rec, Exception) and str(rec) not in problems:
                    problems.append(str(rec))
        self.types_read.add(type_name)
        if self.watch is not None:
            self.watch.matched.append((type_name, field, how, sorted(wanted), [str(d.get("id")) for _n, d in found]))
            if self.watch.fields is not None:
                keys = self.watch.fields.setdefault(type_name, set())
                keys.add(field.split(".")[0])
                found = [(n, Seen(data, keys) if isinstance(data, dict) else data) for n, data in found]
        return found


class Watch:
    """What reading some records looked at: records by ID (-> type, None where there is
    none), types read whole, and referring's questions with the IDs they found. With
    `fields`, the records of the types read whole come as `Seen`, and `fields` gathers,
    per type, the top-level fields read of them (ALL: every field)."""

    def __init__(self, fields: bool = False) -> None:
        self.ids: dict[str, str | None] = {}
        self.types: set[str] = set()
        self.queries: dict[tuple[str, str, str], list[str]] = {}
        # matching's questions: (type, field, how, the keys wanted, the IDs found)
        self.matched: list[tuple[str, str, str, list[str], list[str]]] = []
        self.fields: dict[str, set[str]] | None = {} if fields else None


ALL = "*"  # in Watch.fields: every field was read (iterated, copied, compared whole)


class _Whole(dict):
    """A record's data that says (`_whole`) when it is read whole: iterated, copied,
    compared, counted or pickled."""

    __slots__ = ()

    def _whole(self) -> None:
        raise NotImplementedError

    def keys(self):
        """As dict.keys; read whole."""
        self._whole()
        return dict.keys(self)

    def items(self):
        """As dict.items; read whole."""
        self._whole()
        return dict.items(self)

    def values(self):
        """As dict.values; read whole."""
        self._whole()
        return dict.values(self)

    def __iter__(self):
        self._whole()
        return dict.__iter__(self)

    def __len__(self):
        self._whole()
        return dict.__len__(self)

    def __eq__(self, other):
        self._whole()
        return dict.__eq__(self, other)

    def __ne__(self, other):
        self._whole()
        return dict.__ne__(self, other)

    __hash__ = None  # type: ignore[assignment]

    def copy(self):
        """A plain dict of the fields held; read whole."""
        self._whole()
        return dict(dict.items(self))

    def __repr__(self):
        self._whole()
        return dict.__repr__(self)

    def __reduce__(self):
        self._whole()
        return (dict, (dict(dict.items(self)),))


class Part(_Whole):
    """Some top-level fields of a record's data (a ledger's projection, kept by publish
    from the last time it read the record whole): `known` names the fields it answers
    for, present or not. Asking it for any other field, or for the whole (iterating,
    copying, comparing, counting), adds that field (or ALL) to `missed`, the caller's
    sign that what was made from it cannot be used; it then answers as if the field
    were absent."""

    __slots__ = ("known", "missed")

    def __init__(self, data: dict, known: frozenset, missed: set):
        super().__init__(data)
        self.known = known
        self.missed = missed

    def _has(self, key) -> bool:
        try:
            if key in self.known:
                return True
        except TypeError:  # an unhashable key: no field
            pass
        self.missed.add(key if isinstance(key, str) else repr(key))
        return False

    def __getitem__(self, key):
        if not self._has(key):
            raise KeyError(key)
        return dict.__getitem__(self, key)

    def get(self, key, default=None):
        """As dict.get, for a field it answers for."""
        return dict.get(self, key, default) if self._has(key) else default

    def __contains__(self, key):
        return self._has(key) and dict.__contains__(self, key)

    def _whole(self) -> None:
        self.missed.add(ALL)


class Seen(_Whole):
    """A record's data that notes in `keys` the name of each top-level field read of it,
    and ALL when it is read whole (iterated, copied, compared, counted). Over a `Part`,
    it also notes in the Part's `missed` what the Part does not answer for."""

    __slots__ = ("_keys", "_part")

    def __init__(self, data: dict, keys: set[str]):
        if type(data) is Part:
            super().__init__(dict.items(data))
            self._part: Part | None = data
        else:
            super().__init__(data)
            self._part = None
        self._keys = keys

    def __getitem__(self, key):
        self._keys.add(key)
        if self._part is not None and not self._part._has(key):
            raise KeyError(key)
        return dict.__getitem__(self, key)

    def get(self, key, default=None):
        """As dict.get, noting the field."""
        self._keys.add(key)
        if self._part is not None and not self._part._has(key):
            return default
        return dict.get(self, key, default)

    def __contains__(self, key):
        self._keys.add(key)
        if self._part is not None and not self._part._has(key):
            return False
        return dict.__contains__(self, key)

    def _whole(self) -> None:
        self._keys.add(ALL)
        if self._part is not None:
            self._part.missed.add(ALL)
