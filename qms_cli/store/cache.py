"""What `qms validate` learnt about each record file, kept in `.qms/cache/` (git-ignored).

Every entry is keyed by the file's git blob hash (SHA-1 of "blob <size>\\0" + content, as
`git hash-object` computes it), so a changed file never gets an old answer. To avoid
reading 10,000 files to hash them, a file whose size, modification time, change time and
inode are those recorded with its hash is taken to be unchanged, as git's own index does;
a file modified within two seconds of the run that hashed it is hashed again ("racy git").
What was found in a record is also keyed by everything that decides it: the qms code,
qms.yaml, the store's type declarations, and the blob of every other record read while
checking it. Deleting the folder only costs time. The cache is plain JSON (never pickle:
it executes nothing), and it is ignored when git tracks anything under .qms/, so that a
cache committed to a store cannot speak for records in CI."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .. import __version__
from ..errors import QmsError, Severity
from ..files import safefs
from ..files.safefs import read_file
from ..files.yamlio import MAX_BYTES, atomic_write
from ..i18n import language
from ..model.values import check_file_path
from .git import blob_id  # the id git gives a file's bytes

FORMAT = 2
RACY_NS = 2_000_000_000  # coarse file systems keep times in whole seconds (FAT: two)


def stat_key(st: os.stat_result) -> list[int]:
    """What is kept of a file's stat to tell it unchanged: size, modification time, change
    time, inode."""
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def fingerprint(root: Path) -> str:
    """What, besides a record's own bytes and the records it refers to, decides what is
    found in it: the qms code and its declarations, qms.yaml, the store's types/."""

    # findings are cached as the sentences they print, so in the language they print in
    h = hashlib.sha1(f"{FORMAT} {__version__} {sys.version_info[:2]} {language()}".encode())
    package = Path(__file__).resolve().parent.parent
    for dirpath, dirnames, filenames in os.walk(package):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith((".py", ".yaml", ".mo")):
                st = os.stat(os.path.join(dirpath, name))
                h.update(f"{os.path.relpath(os.path.join(dirpath, name), package)} {st.st_size} {st.st_mtime_ns}\n".encode())

    types = root / "types"
    local = sorted(types.glob("*.yaml")) if types.is_dir() and not types.is_symlink() else []
    for path in [root / "qms.yaml", *local]:
        try:  # never through a link, never more than a record's size
            h.update(path.name.encode() + b"\0" + safefs.read_bytes(root, path.relative_to(root).as_posix(), MAX_BYTES))
        except QmsError:
            h.update(path.name.encode() + b"\0unreadable")
    return h.hexdigest()


class Cache:
    """One run's view of `.qms/cache/validate.json`.

    `records` maps each record file to [size, mtime, ctime, inode, blob, entry]; the entry
    (what RECORD_CHECKS found, the records read, the facts) is null when it was made under
    another fingerprint. `files` maps attached files to [size, mtime, ctime, inode, SHA-256]."""

    def __init__(self, root: Path, fp: str, *, read: bool = True):
        self.root = root
        self.fp = fp
        self.path = root / ".qms" / "cache" / "validate.json"
        self.started_ns = time.time_ns()
        self.written_ns = 0  # when the run that wrote the cache started
        self.old: dict[str, list] = {}
        self.old_files: dict[str, list] = {}
        self.records: dict[str, list] = {}
        self.files: dict[str, list] = {}
        self.changed = not read  # whether there is anything new to write
        # what the declarations of the store's types were found to hold ([[source, message],
        # ...]), kept while the fingerprint (qms, qms.yaml, types/) is the same; None: unknown
        self.declarations: list | None = None
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
            return
        try:
            doc = json.loads(raw)
            if doc.get("format") != FORMAT:
                return
            written = int(doc["started_ns"])
            old, files = doc["records"], doc["files"]
            if not isinstance(old, dict) or not isinstance(files, dict):
                return
            if doc.get("fingerprint") != self.fp:
                for v in old.values():
                    v[5] = None
            else:
                self.changed = False
                declared = doc.get("declarations")
                self.declarations = declared if isinstance(declared, list) else None
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
        old = self.old.get(rel)
        if self._trusted(old, st):
            self.records[rel] = old
            return old[4]

        try:
            raw = read_file(path, MAX_BYTES)
        except QmsError:
            return None
        blob = blob_id(raw)
        entry = old[5] if old is not None and old[4] == blob else None  # touched, not changed
        self.records[rel] = [*stat_key(st), blob, entry]
        self.changed = True
        return blob

    def sha256(self, rel: str) -> str | None:
        """The SHA-256 of an attached file under files/ (None if it is not there, or is a
        link, a device or too big to pin), from its stat when that is safe, as for records."""

        try:
            check_file_path(rel)
            if safefs.kind(self.root, rel)[0] != "file":
                return None
            st = os.stat(self.root / rel)
        except (ValueError, OSError, QmsError):
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
        """What was found in `rel` when it had this blob, if every record read while
        checking it is also as it was then."""
        rec = self.records.get(rel)
        e = rec[5] if rec is not None and rec[4] == blob else None
        if not e or not _sound(e):
            return None
        for dep_type, dep_id, dep_blob in e.get("deps", ()):
            if blobs_now.get((dep_type, dep_id)) != dep_blob:
                return None
        return e

    def keep(self, rel: str, blob: str, entry: dict) -> None:
        """Keep what was found in `rel` with this blob; nothing is kept if the file changed
        while it was being checked."""
        rec = self.records.get(rel)
        if rec is None or rec[4] != blob:
            return  # the file changed while it was being checked: let the next run look again
        if rec[5] is not entry:
            rec = self.records[rel] = [*rec[:5], entry]
            self.changed = True

    def save(self, *, complete: bool) -> None:
        """Write what this run learnt. Every record file is stat-checked or hashed on every
        run, so `records` is whole; a run over some records only keeps what earlier runs
        found in the others. Failing to write costs only time."""
        if not self.changed and len(self.records) == len(self.old) and len(self.files) == len(self.old_files):
            return
        records, files = self.records, self.files
        if not complete:
            # an attached file not looked at this run keeps its hash only if it was safe
            # to trust (a racy one would be trusted against this run's later start time)
            safe = self.written_ns - RACY_NS
            files = {**{k: v for k, v in self.old_files.items() if v[1] < safe}, **files}
        doc = {"format": FORMAT, "fingerprint": self.fp, "started_ns": self.started_ns,
               "records": records, "files": files}
        if self.declarations is not None:
            doc["declarations"] = self.declarations
        try:

            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.path, json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
        except OSError:
            pass


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


def _tracked_by_git(root: Path) -> bool:
    try:
        out = subprocess.run(["git", "ls-files", "--", ".qms"], cwd=root, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return True
    return out.returncode != 0 or bool(out.stdout.strip())
