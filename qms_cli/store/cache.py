"""What `qms validate` learnt about each record file, kept in `.qms/cache/` (git-ignored).

Every record is keyed by the file's git blob hash (SHA-1 of "blob <size>\\0" + content, as
`git hash-object` computes it), so a changed file never gets an old answer. To avoid
reading 10,000 files to hash them, a file whose size, modification time, change time and
inode are those recorded with its hash is taken to be unchanged, as git's own index does;
a file modified within two seconds of the run that hashed it is hashed again ("racy git").
What was found in a record is also keyed by everything that decides it: the qms code,
qms.yaml, the store's type declarations, QMS_NOW, and the blob of every other record read
while checking it. Deleting the folder only costs time. The cache is plain JSON (never
pickle: it executes nothing), and it is ignored when git tracks anything under .qms/, so
that a cache committed to a store cannot speak for records in CI.

Two files, so that a run where little changed reads little: `validate.json` holds, per
record, its stat, its blob and a key of its facts (four lists), what was found in the
records that have findings or read others, and what the store-wide checks found last time
with what they looked at; `facts.json` holds each record's facts (references, attached and
pinned files, unique keys), read only when the store-wide checks must run again."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from .. import __version__
from ..errors import QmsError, Severity
from ..files import safefs
from ..files.safefs import read_file
from ..files.yamlio import MAX_BYTES, atomic_write
from ..i18n import language
from ..model.values import check_file_path
from .git import blob_id  # the id git gives a file's bytes

FORMAT = 3
RACY_NS = 2_000_000_000  # coarse file systems keep times in whole seconds (FAT: two)
NOTHING_FOUND: Mapping = MappingProxyType({})  # the entry of a record with no findings that reads no other


def stat_key(st: os.stat_result) -> list[int]:
    """What is kept of a file's stat to tell it unchanged: size, modification time, change
    time, inode."""
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def facts_key(facts) -> str:
    """A short key of a record's facts (what the store-wide checks read of it): equal keys,
    equal facts."""
    text = json.dumps(facts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:20]


def fingerprint(root: Path, content: bool = False) -> str:
    """What, besides a record's own bytes and the records it refers to, decides what is
    found in it: the qms code and its declarations, qms.yaml, the store's types/, and the
    moment date rules are judged against when QMS_NOW sets it (the clock only runs forward,
    and a time found ahead of it is never kept; QMS_NOW may go back). The code is taken by
    each file's size and time, or with `content` by its bytes (the same qms installed again,
    as CI does for each pipeline, is the same code)."""

    # findings are cached as the sentences they print, so in the language they print in
    h = hashlib.sha1(f"{FORMAT} {__version__} {sys.version_info[:2]} {language()} "
                     f"{os.environ.get('QMS_NOW', '')!r}".encode())
    package = Path(__file__).resolve().parent.parent
    for dirpath, dirnames, filenames in os.walk(package):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith((".py", ".yaml", ".mo")):
                path = os.path.join(dirpath, name)
                if content:
                    with open(path, "rb") as f:
                        h.update(f"{os.path.relpath(path, package)}\0".encode() + f.read())
                    continue
                st = os.stat(path)
                h.update(f"{os.path.relpath(path, package)} {st.st_size} {st.st_mtime_ns}\n".encode())

    types = root / "types"
    local = sorted(types.glob("*.yaml")) if types.is_dir() and not types.is_symlink() else []
    for path in [root / "qms.yaml", *local]:
        try:  # never through a link, never more than a record's size
            h.update(os.fsencode(path.name) + b"\0" + safefs.read_bytes(root, path.relative_to(root).as_posix(), MAX_BYTES))
        except QmsError:
            h.update(os.fsencode(path.name) + b"\0unreadable")
    return h.hexdigest()


class Cache:
    """One run's view of `.qms/cache/`.

    `records` maps each record file to (stat, blob, facts key): the stat as one string
    (size, modification time, change time, inode), and the key of the facts found in that
    blob under this fingerprint ("" when nothing found is kept: the record is checked
    again). `found` holds, for the records that have them, the findings and the records
    read ("deps") that go with that blob. `files` maps attached files to [size, mtime,
    ctime, inode, SHA-256]. `across` is what the store-wide checks found last time and
    everything they looked at (see `across_kept`)."""

    def __init__(self, root: Path, fp: str, *, read: bool = True):
        self.root = root
        self.fp = fp
        self.path = root / ".qms" / "cache" / "validate.json"
        self.facts_path = self.path.with_name("facts.json")
        self.started_ns = time.time_ns()
        self.written_ns = 0  # when the run that wrote the cache started
        self.old: dict[str, tuple] = {}  # rel -> (stat, blob, facts key), as last written
        self.old_found: dict[str, dict] = {}
        self.old_files: dict[str, list] = {}
        self.records: dict[str, tuple] = {}  # this run's, as `old`
        self.found: dict[str, dict] = {}  # this run's, as `old_found`
        self.files: dict[str, list] = {}
        self.facts: dict[str, list] = {}  # rel -> [blob, facts] of the records checked this run
        self._old_facts: dict[str, list] | None = None  # facts.json, read on first need
        self._kinds: dict[str, str] = {}
        self._facts_lost = False  # a record's facts were not in facts.json: write it anew
        self.changed = not read  # whether there is anything new to write
        # what the declarations of the store's types were found to hold ([[source, message],
        # ...]), kept while the fingerprint (qms, qms.yaml, types/) is the same; None: unknown
        self.declarations: list | None = None
        self.old_across: dict | None = None
        self.across: dict | None = None  # what to keep of this run's store-wide checks
        self.read = read
        if read:
            self._load()

    def _load(self) -> None:
        try:
            raw = self.path.read_bytes()
        except OSError:
            self.changed = True
            return
        self.changed = True
        if _tracked_by_git(self.root):
            self.read = False
            return
        try:
            doc = json.loads(raw)
            if doc.get("format") != FORMAT:
                return
            written = int(doc["started_ns"])
            index, found, files = doc["records"], doc["found"], doc["files"]
            if not isinstance(index, dict) or not isinstance(found, dict) or not isinstance(files, dict):
                return
            rels, stats, blobs, keys = index["rel"], index["stat"], index["blob"], index["facts"]
            if not all(isinstance(x, list) for x in (rels, stats, blobs, keys)):
                return
            if not len(rels) == len(stats) == len(blobs) == len(keys):
                return
            same = doc.get("fingerprint") == self.fp
            # in C, not a Python loop: a 10,000-record store reads this on every run
            old = dict(zip(rels, zip(stats, blobs, keys if same else [""] * len(rels))))
            if same:
                self.changed = False
                declared = doc.get("declarations")
                self.declarations = declared if isinstance(declared, list) else None
                across = doc.get("across")
                self.old_across = across if isinstance(across, dict) else None
                self.old_found = found
            self.written_ns, self.old, self.old_files = written, old, files
        except (ValueError, KeyError, TypeError, AttributeError, IndexError):
            pass  # a damaged cache is no cache

    def _trusted(self, old: list | None, st: os.stat_result) -> bool:
        return (old is not None and old[0] == st.st_size and old[1] == st.st_mtime_ns
                and old[2] == st.st_ctime_ns and old[3] == st.st_ino
                and st.st_mtime_ns < self.written_ns - RACY_NS)

    def blob(self, rel: str, path: str, st: os.stat_result | None = None) -> str | None:
        """The blob hash of a record file, from its stat when that is safe; None if the
        file cannot be read (the reader reports why)."""
        try:
            st = st or os.stat(path)
        except OSError:
            return None
        key = f"{st.st_size} {st.st_mtime_ns} {st.st_ctime_ns} {st.st_ino}"
        old = self.old.get(rel)
        if old is not None and old[0] == key and st.st_mtime_ns < self.written_ns - RACY_NS:
            self.records[rel] = old
            return old[1]
        try:
            raw = read_file(path, MAX_BYTES)
        except QmsError:
            return None
        blob = blob_id(raw)
        # touched, not changed: what was found in it still holds
        self.records[rel] = (key, blob, old[2] if old is not None and old[1] == blob else "")
        self.changed = True
        return blob

    def kind(self, rel: str) -> str:
        """What is at `rel` in the store, as safefs.kind says (file, dir, missing, link,
        special; under a link: link), each folder on the way looked at once a run."""
        what = self._kinds.get(rel)
        if what is None:
            try:
                safefs.parts_of(rel)
            except QmsError:
                return "missing"
            parent, _sep, _name = rel.rpartition("/")
            up = self.kind(parent) if parent else "dir"
            if up != "dir":
                what = "link" if up == "link" else "missing"
            else:
                try:
                    mode = os.lstat(os.path.join(self.root, rel)).st_mode
                except OSError:
                    mode = None
                what = ("missing" if mode is None else "link" if stat.S_ISLNK(mode) else "file" if stat.S_ISREG(mode)
                        else "dir" if stat.S_ISDIR(mode) else "special")
            self._kinds[rel] = what
        return what

    def sha256(self, rel: str) -> str | None:
        """The SHA-256 of an attached file under files/ (None if it is not there, or is a
        link, a device or too big to pin), from its stat when that is safe, as for records."""

        try:
            check_file_path(rel)
            if self.kind(rel) != "file":
                return None
            st = os.stat(self.root / rel)
        except (ValueError, OSError):
            return None
        old = self.files.get(rel) or self.old_files.get(rel)
        if self._trusted(old, st):
            self.files[rel] = old
            return old[4]
        try:
            digest = safefs.sha256(self.root, rel, safefs.ATTACHMENT_LIMIT)
        except QmsError:
            return None
        self.files[rel] = [*stat_key(st), digest]
        self.changed = True
        return digest

    def entry(self, rel: str, blob: str, blobs_now: dict) -> dict | None:
        """What was found in `rel` when it had this blob ({"findings", "deps"}; its facts:
        `facts_of`), if every record read while checking it is also as it was then."""
        rec = self.records.get(rel)
        if rec is None or rec[1] != blob or not rec[2]:
            return None
        e = self.old_found.get(rel)
        if e is None:
            return NOTHING_FOUND
        if not _sound(e):
            return None
        for dep_type, dep_id, dep_blob in e.get("deps", ()):
            if blobs_now.get((dep_type, dep_id)) != dep_blob:
                return None
        return e

    def keep(self, rel: str, blob: str, entry: dict) -> None:
        """Keep what was found in `rel` with this blob (its findings, the records it read,
        its facts); nothing is kept if the file changed while it was being checked."""
        rec = self.records.get(rel)
        if rec is None or rec[1] != blob:
            return  # the file changed while it was being checked: let the next run look again
        found = {k: entry[k] for k in ("findings", "deps") if entry.get(k)}
        if found:
            self.found[rel] = found
        self.facts[rel] = [blob, entry.get("facts")]
        if rec[2] != entry["fkey"]:
            self.records[rel] = (rec[0], rec[1], entry["fkey"])
            self.changed = True

    def facts_of(self, rel: str, blob: str | None) -> tuple[bool, dict | None]:
        """(known, facts) of a record with this blob: checked this run, or as facts.json
        keeps them; (False, None) when neither knows (the record is checked again)."""
        got = self.facts.get(rel)
        if got is None:
            if self._old_facts is None:
                self._old_facts = self._load_facts()
            got = self._old_facts.get(rel)
        if isinstance(got, list) and len(got) == 2 and got[0] == blob and (got[1] is None or _sound_facts(got[1])):
            return True, got[1]
        self._facts_lost = True
        return False, None

    def _load_facts(self) -> dict[str, list]:
        if not self.read:
            return {}
        try:
            doc = json.loads(self.facts_path.read_bytes())
            if doc.get("format") == FORMAT and doc.get("fingerprint") == self.fp and isinstance(doc.get("facts"), dict):
                return doc["facts"]
        except (OSError, ValueError, AttributeError):
            pass
        return {}

    def across_kept(self, key: str) -> list | None:
        """What the store-wide checks found last time, if they would find it again: the same
        records with the same facts (`key`), and every attached file they looked at of the
        same kind and content."""
        a = self.old_across
        if not a or a.get("key") != key:
            return None
        try:
            kinds, digests, found = a["kinds"], a["sha256"], a["findings"]
            if not all(self.kind(rel) == k for rel, k in kinds.items()):
                return None
            if not all(self.sha256(rel) == d for rel, d in digests.items()):
                return None
            if _sound({"findings": [f[1:] for f in found]}) and all(isinstance(f[0], str) for f in found):
                return found
        except (KeyError, TypeError, AttributeError, IndexError, ValueError, QmsError):
            pass
        return None

    def save(self, *, complete: bool) -> None:
        """Write what this run learnt. Every record file is stat-checked or hashed on every
        run, so `records` is whole; a run over some records only keeps what earlier runs
        found in the others. Failing to write costs only time."""
        if (not self.changed and len(self.records) == len(self.old) and len(self.files) == len(self.old_files)
                and self.across in (None, self.old_across)):
            return
        files = self.files
        if not complete:
            # an attached file not looked at this run keeps its hash only if it was safe
            # to trust (a racy one would be trusted against this run's later start time)
            safe = self.written_ns - RACY_NS
            files = {**{k: v for k, v in self.old_files.items() if v[1] < safe}, **files}
        found = {}
        for rel, (_st, _blob, key) in self.records.items():
            if key:
                e = self.found.get(rel) if rel in self.facts else self.old_found.get(rel)
                if e:
                    found[rel] = e
        records = list(self.records.items())
        index = {"rel": [r[0] for r in records], "stat": [r[1][0] for r in records],
                 "blob": [r[1][1] for r in records], "facts": [r[1][2] for r in records]}
        doc = {"format": FORMAT, "fingerprint": self.fp, "started_ns": self.started_ns,
               "records": index, "found": found, "files": files}
        if self.declarations is not None:
            doc["declarations"] = self.declarations
        across = self.across if self.across is not None else self.old_across
        if across is not None:
            doc["across"] = across
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # facts.json first: facts are keyed by blob, so a run cut short between the two
            # writes leaves facts.json ahead of validate.json, never wrong for it
            self._save_facts()
            atomic_write(self.path, json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
        except OSError:
            pass

    def _save_facts(self) -> None:
        """Rewrite facts.json when a record's facts are new to it."""
        if not self._facts_lost and all(self.old.get(rel, ("", "", ""))[2] == self.records[rel][2]
                                        for rel in self.facts if rel in self.records):
            return
        facts = {}
        for rel, (_st, blob, key) in self.records.items():
            if not key:
                continue
            known, got = self.facts_of(rel, blob)
            if known:
                facts[rel] = [blob, got]
        atomic_write(self.facts_path, json.dumps({"format": FORMAT, "fingerprint": self.fp, "facts": facts},
                                                 ensure_ascii=False, separators=(",", ":")))


_SEVERITIES = {s.value for s in Severity}


def _sound(entry) -> bool:
    """An entry as `validate` writes it; anything else (a hand edit, a damaged file) is
    no entry, and the record is checked afresh."""
    if not isinstance(entry, dict):
        return False
    deps, findings = entry.get("deps", []), entry.get("findings", [])
    return (isinstance(deps, list) and all(isinstance(d, list) and len(d) == 3 for d in deps)
            and isinstance(findings, list)
            and all(isinstance(f, list) and len(f) == 4 and isinstance(f[0], str) and isinstance(f[1], str)
                    and (f[2] is None or type(f[2]) is int) and f[3] in _SEVERITIES for f in findings))


def _sound_facts(facts) -> bool:
    """Facts as `facts_of` makes them: an ID, and lists of lists (refs, files, pins, unique)."""
    return (isinstance(facts, dict) and (facts.get("id") is None or isinstance(facts["id"], str))
            and all(k == "id" or (isinstance(v, list) and all(isinstance(x, list) for x in v)) for k, v in facts.items()))


def _tracked_by_git(root: Path) -> bool:
    try:
        out = subprocess.run(["git", "ls-files", "--", ".qms"], cwd=root, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return True
    return out.returncode != 0 or bool(out.stdout.strip())
