"""`qms sync`: this clone's unpushed commits brought together with its remote's.

Git is the distributed engine; this makes it safe for records:
- fetch; if the remote is ahead, this clone fast-forwards; if only this clone is ahead, it
  pushes;
- else this clone's own commits (those the remote does not hold) are replayed on top of
  the remote's, oldest first, keeping each commit's author, author date and committer,
  re-dated to the time of the sync (so time never runs backwards in the history) with the
  original commit time kept in a `QMS-Synced:` trailer, which `qms audit` reads;
- a record this clone created whose ID the remote took meanwhile is renumbered in the
  replay (its file, the ID in it, every reference to it in this clone's records and in
  the commit messages, its attached files' folder and names), the creating commit carrying
  `QMS-Renumbered: OLD -> NEW`;
- a record both sides changed is merged field by field: changes to different fields
  combine, items appended to a list on both sides are kept in order, and the same field
  changed both ways (a state, a value, signatures on both sides) is a conflict: the sync
  stops, shows both values, pushes nothing and leaves the branch as it was, until
  `--resolve ID --take ours|theirs` or a hand edit and `--continue` (or `--abort`);
- the replayed history is checked by `qms audit`, and the merged and renumbered records
  by `qms validate`, before it is pushed when a record was merged, renumbered or a conflict
  settled; a merged record they find fault with is a conflict like the others (`--take
  theirs` drops this clone's change to it);
- a push that loses a race fetches and replays again.

The branch is switched to the replayed commits only at the end, in one step that a
killed sync finishes on its next run (`.qms/sync.json`); nothing is pushed before it. Only
the branch is fetched, never the remote's tags (anchor tags are read by `qms audit
--anchors-from`).
Git's own plumbing does the work: one `git fast-import` writes every replayed commit
(`git commit-tree -S` one by one where the store requires signed commits)."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from .errors import BadInput, QmsError, Refused
from .files import safefs, yamlio
from .files.yamlio import atomic_write
from .i18n import _
from .paths import RECORDS
from .store import lock
from .store import git as gitops
from .store.git import Trailer
from .text import quote

STATE_FILE = "sync.json"
ZERO = "0" * 40
ANCHORS = "qms-anchors.txt"
ANCHOR_TAGS = "refs/tags/qms-anchor-"
MAX_BLOB = 64 << 20  # the largest file a sync reads to merge or renumber it
TRIES = 6  # pushes tried before giving up when other clones keep winning the race
CONFLICT_LABELS = ("ours (this clone)", "theirs")
YAML_RULES = ("qms.yaml",)


# --------------------------------------------------------------------------- git


def _git(root: Path, *args: str, input: bytes | None = None, env: dict | None = None,
         check: bool = True, track: bool = False) -> subprocess.CompletedProcess:
    """Run git. `track`: for a git that takes the index lock, its process id is kept in
    .qms/git.pid while it runs, so that the index.lock a killed sync leaves is known to be
    qms's own and cleared by the next run (store/lock.py)."""
    if track:
        pid_file = lock.git_pid_file(root)
        with subprocess.Popen(["git", "-c", "core.quotepath=off", *args], cwd=root,
                              stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env={**os.environ, **(env or {})}) as child:
            pid_file.write_text(f"{child.pid} {gitops.process_start(child.pid)}\n", encoding="utf-8")
            out, err = child.communicate(input)
        pid_file.unlink(missing_ok=True)
        p = subprocess.CompletedProcess(child.args, child.returncode, out, err)
    else:
        p = subprocess.run(["git", "-c", "core.quotepath=off", *args], cwd=root, input=input,
                           capture_output=True, env={**os.environ, **(env or {})},
                           stdin=None if input is not None else subprocess.DEVNULL)
    if check and p.returncode != 0:
        said = p.stderr.decode("utf-8", "replace").strip() or p.stdout.decode("utf-8", "replace").strip()
        last = said.splitlines()[-1] if said else str(p.returncode)
        raise QmsError(f"git {args[0]}: {last}")  # not a sentence: git's own words
    return p


def _out(root: Path, *args: str, **kw) -> str:
    return _git(root, *args, **kw).stdout.decode("utf-8", "replace").strip()


def _rev(root: Path, ref: str) -> str | None:
    p = _git(root, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}", check=False)
    return p.stdout.decode().strip() or None if p.returncode == 0 else None


class _Blobs:
    """Blob contents through one `git cat-file --batch`."""

    def __init__(self, root: Path):
        self.p = subprocess.Popen(["git", "cat-file", "--batch"], cwd=root, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.cache: dict[str, bytes] = {}

    def read(self, sha: str) -> bytes:
        if sha not in self.cache:
            assert self.p.stdin is not None and self.p.stdout is not None
            self.p.stdin.write(sha.encode() + b"\n")
            self.p.stdin.flush()
            head = self.p.stdout.readline().split()
            if len(head) < 3 or head[1] == b"missing":
                raise QmsError(_("git holds no object {id}").format(id=sha[:10]))
            size = int(head[2])
            if size > MAX_BLOB:
                while size > 0:  # passed over, never held in memory
                    size -= len(self.p.stdout.read(min(size, 1 << 20)) or b"\0" * size)
                self.p.stdout.read(1)
                raise BadInput(_("git object {id}: over {limit:,} bytes, too big for a record or its files to be "
                                 "merged").format(id=sha[:10], limit=MAX_BLOB))
            data = self.p.stdout.read(size)
            self.p.stdout.read(1)
            self.cache[sha] = data
        return self.cache[sha]

    def close(self) -> None:
        if self.p.poll() is None:
            self.p.stdin.close()  # type: ignore[union-attr]
            self.p.wait()


# ----------------------------------------------------------------------- results


@dataclass
class Conflict:
    """A record (or other file) changed both ways by this clone's commit and the remote."""

    id: str
    path: str
    commit: str  # this clone's commit being replayed
    subject: str
    fields: list[tuple[str, str, str]]  # (field, ours, theirs) as shown
    theirs: str | None = None  # the remote's blob it was found against

    def as_dict(self) -> dict:
        return {"id": self.id, "path": self.path, "commit": self.commit, "subject": self.subject,
                "fields": [{"field": f, "ours": o, "theirs": t} for f, o, t in self.fields],
                "theirs": self.theirs}


@dataclass
class Outcome:
    """What a sync did."""

    remote: str = ""
    branch: str = ""
    fetched: int = 0  # commits that came from the remote
    replayed: int = 0  # this clone's commits replayed on top of them
    pushed: int = 0
    renumbered: list[tuple[str, str]] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)  # records both sides changed, merged field by field
    conflicts: list[Conflict] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)  # audit's, when the replay would not pass it
    notes: list[str] = field(default_factory=list)
    tries: int = 0
    head: str = ""
    remote_branch: str = ""

    def as_dict(self) -> dict:
        return {"remote": self.remote, "branch": self.branch, "fetched": self.fetched, "replayed": self.replayed,
                "pushed": self.pushed, "renumbered": [{"from": a, "to": b} for a, b in self.renumbered],
                "merged": self.merged, "conflicts": [c.as_dict() for c in self.conflicts],
                "findings": self.findings, "notes": self.notes, "tries": self.tries, "head": self.head,
                "remote_branch": self.remote_branch}


# ------------------------------------------------------------------------- state


def _state_path(root: Path) -> Path:
    return lock.state_dir(root) / STATE_FILE


def _load_state(root: Path) -> dict:
    path = root / ".qms" / STATE_FILE
    if not path.is_file() or path.is_symlink():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise BadInput(_("{file}: not a sync state qms wrote; delete it and run qms sync again").format(
            file=f".qms/{STATE_FILE}")) from None
    return data if isinstance(data, dict) else {}


def _save_state(root: Path, state: dict) -> None:
    atomic_write(_state_path(root), json.dumps(state, ensure_ascii=False, indent=1))


def _drop_state(root: Path) -> None:
    path = root / ".qms" / STATE_FILE
    if path.exists():
        path.unlink()


# ------------------------------------------------------------------- local work


@dataclass
class Change:
    old_mode: str
    new_mode: str
    old: str | None  # blob ids; None for a file added / deleted
    new: str | None
    path: str


@dataclass
class Local:
    sha: str
    author: str  # "Name <email> unix +zone"
    committer_name: str
    committer_email: str
    committer_date: str  # "unix +zone"
    message: str
    changes: list[Change] = field(default_factory=list)

    @property
    def subject(self) -> str:
        return self.message.split("\n", 1)[0]


def _locals(root: Path, upstream: str, head: str) -> list[Local]:
    """This clone's commits the remote does not hold, oldest first (merges left out: their
    sides are replayed), each with the files it changed against its first parent."""
    mark = gitops.log_marker()
    fmt = (mark + "f").join(["%H", "%an <%ae> %ad", "%cn", "%ce", "%cd", "%B"]) + mark + "e"
    text = _git(root, "log", "--reverse", "--topo-order", "--no-merges", "--date=raw", f"--format={fmt}",
                f"{upstream}..{head}").stdout.decode("utf-8", "replace")
    out: list[Local] = []
    for chunk in text.split(mark + "e"):
        chunk = chunk.lstrip("\n")
        if not chunk:
            continue
        sha, author, cname, cemail, cdate, message = chunk.split(mark + "f")
        out.append(Local(sha, author, cname, cemail, cdate, message.rstrip("\n") + "\n"))
    if not out:
        return out
    raw = _git(root, "diff-tree", "-r", "-z", "--no-renames", "--root", "--stdin",
               input="".join(c.sha + "\n" for c in out).encode()).stdout.split(b"\0")
    by_sha = {c.sha: c for c in out}
    current: Local | None = None
    i = 0
    while i < len(raw):
        item = raw[i].decode("utf-8", "surrogateescape")
        if not item:
            i += 1
            continue
        if not item.startswith(":"):
            current = by_sha.get(item.strip())
            i += 1
            continue
        old_mode, new_mode, old, new, _status = item[1:].split()
        path = raw[i + 1].decode("utf-8", "surrogateescape")
        i += 2
        if current is not None:
            current.changes.append(Change(old_mode, new_mode, None if old == ZERO else old,
                                          None if new == ZERO else new, path))
    return out


def _tree(root: Path, commit: str, paths: list[str] | None = None) -> dict[str, tuple[str, str]]:
    """path -> (mode, blob) of `commit`'s files (all, or those under `paths`)."""
    out: dict[str, tuple[str, str]] = {}
    chunks = [None] if paths is None else [paths[i:i + 500] for i in range(0, len(paths), 500)]
    for chunk in chunks:
        if chunk == []:
            continue
        raw = _git(root, "--literal-pathspecs", "ls-tree", "-r", "-z", "--full-tree", commit,
                   *(["--", *chunk] if chunk else [])).stdout
        for entry in raw.split(b"\0"):
            if not entry:
                continue
            head, _sep, path = entry.decode("utf-8", "surrogateescape").partition("\t")
            mode, _kind, blob = head.split()
            out[path] = (mode, blob)
    return out


def _record_id(path: str) -> tuple[str, str] | None:
    """(type, ID) of a record's file path, None for any other file."""
    parts = path.split("/")
    if len(parts) >= 3 and parts[0] == RECORDS and parts[-1].endswith(".yaml"):
        return parts[1], parts[-1][: -len(".yaml")]
    return None


# ------------------------------------------------------------------ renumbering


def _next_number(rid: str, taken: set[str]) -> str | None:
    """The ID after the highest of `taken` that shares `rid`'s form (its text before the
    sequence number at the end, the number's width kept)."""
    m = re.fullmatch(r"(.*?)(\d+)", rid)
    if not m:
        return None
    prefix, digits = m.group(1), m.group(2)
    rx = re.compile(re.escape(prefix) + r"(\d+)")
    highest = max((int(x.group(1)) for t in taken if (x := rx.fullmatch(t))), default=0)
    return f"{prefix}{highest + 1:0{len(digits)}d}"


class Renumbering:
    """OLD -> NEW IDs and how a path, a record's text and a message change with them."""

    def __init__(self, store, mapping: dict[str, tuple[str, str]]):
        self.mapping = {old: new for old, (_t, new) in mapping.items()}
        self.types = {old: t for old, (t, _n) in mapping.items()}
        self.store = store
        self.rx = re.compile(r"(?<![A-Za-z0-9_.\-])(" + "|".join(re.escape(k) for k in sorted(
            self.mapping, key=len, reverse=True)) + r")(?![A-Za-z0-9_])") if self.mapping else None

    def text(self, text: str) -> str:
        if self.rx is None:
            return text
        return self.rx.sub(lambda m: self.mapping[m.group(1)], text)

    def path(self, path: str) -> str:
        if not self.mapping:
            return path
        rec = _record_id(path)
        if rec and rec[1] in self.mapping and self.types[rec[1]] == rec[0]:
            return self.store.rel(self.store.new_path(rec[0], self.mapping[rec[1]]))
        parts = path.split("/")
        if len(parts) >= 4 and parts[0] == "files" and parts[2] in self.mapping and self.types[parts[2]] == parts[1]:
            # the file's own name too, where it carries the ID (the record's text names it so)
            return "/".join([*parts[:2], self.mapping[parts[2]], *(self.text(x) for x in parts[3:])])
        return path


# ------------------------------------------------------------------------ merging

MISSING = object()


def _shown(value: Any) -> str:
    if value is MISSING:
        return _("(absent)")
    if isinstance(value, list) and value and all(isinstance(v, dict) and "meaning" in v for v in value):
        return "; ".join(f"{v.get('meaning')} {v.get('email', '')} {v.get('at', '')}".strip() for v in value)
    text = json.dumps(value, ensure_ascii=False, default=str) if isinstance(value, (dict, list)) else str(value)
    return text if len(text) <= 120 else text[:117] + "..."


def merge3(base: Any, ours: Any, theirs: Any, path: str = "", take: str | None = None,
           conflicts: list | None = None) -> Any:
    """Theirs with our changes (base -> ours) applied field by field; a field both changed
    differently is a conflict, appended to `conflicts` as (field, ours, theirs) and settled
    by `take` ('ours' / 'theirs') when given (theirs is kept otherwise). Lists appended to on
    both sides keep both sides' new items, theirs first; signatures never combine this way
    (each is a signed act following the ones before it)."""
    if conflicts is None:
        conflicts = []
    if _same(ours, base):
        return theirs
    if _same(theirs, base) or _same(theirs, ours):
        return ours
    if isinstance(base, dict) and isinstance(ours, dict) and isinstance(theirs, dict):
        out = theirs  # theirs as loaded (its key order and comments), our changes put in
        for key in list(ours.keys()) + [k for k in base if k not in ours]:
            b, o, t = base.get(key, MISSING), ours.get(key, MISSING), theirs.get(key, MISSING)
            merged = merge3(b, o, t, f"{path}.{key}" if path else str(key), take, conflicts)
            if merged is MISSING:
                out.pop(key, None)
            elif key not in out or not _same(out[key], merged):
                out[key] = merged
        return out
    if (isinstance(base, list) and isinstance(ours, list) and isinstance(theirs, list) and path != "signatures"
            and _prefix(base, ours) and _prefix(base, theirs)):
        unmatched = list(theirs[len(base):])  # an item both sides appended is kept once, each other one
        for x in ours[len(base):]:
            hit = next((i for i, y in enumerate(unmatched) if _same(x, y)), None)
            if hit is None:
                theirs.append(x)
            else:
                unmatched.pop(hit)
        return theirs
    conflicts.append((path, ours, theirs))
    return ours if take == "ours" else theirs


def _same(a: Any, b: Any) -> bool:
    if a is MISSING or b is MISSING:
        return a is b
    return _plain(a) == _plain(b)


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, datetime):
        return v.isoformat()
    return v


def _prefix(base: list, longer: list) -> bool:
    return len(longer) >= len(base) and all(_same(a, b) for a, b in zip(base, longer))


def _is_yaml(path: str) -> bool:
    return (path.startswith(RECORDS + "/") and path.endswith(".yaml")) or path in YAML_RULES or (
        path.startswith("types/") and path.endswith(".yaml"))


# ------------------------------------------------------------------------ replay


@dataclass
class Replay:
    head: str  # the replayed commits' last (the remote's head when none)
    count: int
    renumbered: list[tuple[str, str]]
    merged: list[str]
    conflicts: list[Conflict]
    conflict_files: dict[str, bytes]  # path -> text with conflict markers, for a hand edit
    merges: dict[str, Conflict] = field(default_factory=dict)  # merged ID -> where (its first merge)


class _Replayer:
    def __init__(self, store, upstream: str, locals_: list[Local], resolutions: dict):
        self.store = store
        self.root = store.root
        self.upstream = upstream
        self.locals = locals_
        self.resolutions = resolutions
        self.blobs = _Blobs(self.root)
        self.new_blobs: dict[str, bytes] = {}  # blob id -> content made here (fast-import writes them)

    # -- blobs
    def read(self, sha: str | None) -> bytes | None:
        if sha is None:
            return None
        if sha in self.new_blobs:
            return self.new_blobs[sha]
        return self.blobs.read(sha)

    def put(self, data: bytes) -> str:
        sha = gitops.blob_id(data)
        self.new_blobs.setdefault(sha, data)
        return sha

    # -- the whole replay
    def run(self) -> Replay:
        try:
            return self._run()
        finally:
            self.blobs.close()

    def _renumbering(self) -> tuple[Renumbering, list[tuple[str, str]]]:
        up_tree = self.up_tree
        up_ids: dict[str, str] = {}
        for path in up_tree:
            rec = _record_id(path)
            if rec:
                up_ids[rec[1]] = path
        local_new: list[tuple[str, str, Local, Change]] = []
        for c in self.locals:
            for ch in c.changes:
                rec = _record_id(ch.path)
                if rec and ch.old is None and ch.new is not None:
                    local_new.append((rec[0], rec[1], c, ch))
        taken = set(up_ids) | {rid for _t, rid, _c, _ch in local_new}
        mapping: dict[str, tuple[str, str]] = {}
        order = []
        for tname, rid, c, ch in local_new:
            if rid not in up_ids or rid in mapping:
                continue
            new = self._renumberable(tname, rid, ch) and _next_number(rid, taken)
            if not new:  # numbered by its own number: the same record registered twice, merged as such
                continue
            taken.add(new)
            mapping[rid] = (tname, new)
            order.append((rid, new))
        return Renumbering(self.store, mapping), order

    def _renumberable(self, tname: str, rid: str, ch: Change) -> bool:
        """Whether a record is numbered by a sequence qms gives (not by its own number, such
        as a standard's GB/T 27922-2011, nor one per period)."""
        try:
            rt = self.store.record_type(tname)
            data = yamlio.parse(yamlio.decode(self.read(ch.new) or b"", ch.path), ch.path)
            if rt.own_number and str(data.get(rt.own_number) or "").strip():
                return False
            return "{seq" in rt.scheme(data)
        except QmsError:
            return False

    def _run(self) -> Replay:
        root = self.root
        touched = sorted({ch.path for c in self.locals for ch in c.changes})
        self.up_tree = _tree(root, self.upstream, [RECORDS + "/"])
        conflicts: list[Conflict] = []
        renum, order = self._renumbering()
        targets = sorted({renum.path(p) for p in touched} - set(self.up_tree))
        current: dict[str, tuple[str, str] | None] = {p: self.up_tree.get(p) for p in touched if p in self.up_tree}
        current.update({p: v for p, v in _tree(root, self.upstream, targets).items()} if targets else {})
        created_by: dict[str, str] = {}  # local commit -> renumbered IDs it created
        for c in self.locals:
            for ch in c.changes:
                rec = _record_id(ch.path)
                if rec and ch.old is None and rec[1] in renum.mapping:
                    created_by.setdefault(c.sha, []).append(rec[1])
        commits: list[tuple[Local, str, list[tuple[str, str | None, str]]]] = []
        merged: list[str] = []
        merges: dict[str, Conflict] = {}
        conflict_files: dict[str, bytes] = {}
        transformed: dict[tuple[str, str], str | None] = {}

        def ours(sha: str | None, path: str) -> str | None:
            if sha is None or not renum.mapping or not _is_yaml(path):
                return sha
            key = (sha, path)
            if key not in transformed:
                raw = self.read(sha) or b""
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    transformed[key] = sha
                else:
                    new = renum.text(text)
                    transformed[key] = sha if new == text else self.put(new.encode("utf-8"))
            return transformed[key]

        for c in self.locals:
            entries: list[tuple[str, str | None, str]] = []  # (path, blob or None to delete, mode)
            for ch in c.changes:
                path = renum.path(ch.path)
                old, new = ours(ch.old, path), ours(ch.new, path)
                theirs = current.get(path)
                t_blob = theirs[1] if theirs else None
                if t_blob == old:
                    result = new
                elif t_blob == new:
                    continue
                else:
                    result = self._merge(c, path, old, new, t_blob, conflicts, conflict_files)
                    if result is False:
                        continue
                    rec = _record_id(path)
                    if rec and rec[1] not in merged:
                        merged.append(rec[1])
                        merges[rec[1]] = Conflict(rec[1], path, c.sha, c.subject, [])
                mode = ch.new_mode if result is not None else (theirs[0] if theirs else ch.old_mode)
                current[path] = (mode, result) if result is not None else None
                entries.append((path, result, mode))
            if entries:
                commits.append((c, self._message(c, renum, created_by.get(c.sha, [])), entries))
        if conflicts:
            return Replay(self.upstream, 0, order, merged, conflicts, conflict_files)
        head = self._write(commits)
        return Replay(head, len(commits), order, merged, [], {}, merges)

    def _merge(self, c: Local, path: str, base: str | None, ours: str | None, theirs: str | None,
               conflicts: list[Conflict], files: dict[str, bytes]) -> str | None | bool:
        """The blob of `path` with both sides' changes, None to delete it, False to leave it
        as theirs; a conflict is added to `conflicts` (and the file with markers to `files`)."""
        rec = _record_id(path)
        rid = rec[1] if rec else path
        res = self.resolutions.get(rid)
        if isinstance(res, dict):
            # a hand edit: the record as it is to be after this clone's last commit on it (the
            # earlier ones are in it), made against the remote's version the conflict showed; a
            # newer remote version is merged with it as with any change of this clone's
            if c.sha in (res.get("earlier") or ()):
                return False
            if res.get("commit") == c.sha and isinstance(res.get("blob"), str):
                if res.get("theirs") == theirs:
                    return res["blob"]
                self.resolutions.pop(rid)
                try:
                    return self._merge(c, path, res.get("theirs"), res["blob"], theirs, conflicts, files)
                finally:
                    self.resolutions[rid] = res
        take = res if res in ("ours", "theirs") else None
        if take == "theirs":
            return False  # the server's version stands; this clone's change to it is dropped
        if path == ANCHORS and ours is not None and theirs is not None:
            return self.put(_union_lines(self.read(base) or b"", self.read(ours) or b"", self.read(theirs) or b""))
        if ours is None or theirs is None:  # deleted on one side, changed on the other
            if take == "ours":
                return ours
            if take == "theirs":
                return False
            conflicts.append(Conflict(rid, path, c.sha, c.subject, theirs=theirs, fields=[(
                "", _("deleted") if ours is None else _("changed"), _("deleted") if theirs is None else _("changed"))]))
            return False
        if _is_yaml(path):
            try:
                b = yamlio.parse(yamlio.decode(self.read(base), path), path, "rt") if base else {}
                o_text = yamlio.decode(self.read(ours), path)
                t_text = yamlio.decode(self.read(theirs), path)
                o, t = yamlio.parse(o_text, path, "rt"), yamlio.parse(t_text, path, "rt")
            except QmsError:
                pass
            else:
                found: list[tuple[str, Any, Any]] = []
                result = merge3(b, o, t, "", take, found)
                if found and take is None:
                    conflicts.append(Conflict(rid, path, c.sha, c.subject,
                                              [(f, _shown(x), _shown(y)) for f, x, y in found], theirs))
                    files[path] = self._merge_file(base, ours, theirs)[1]
                    return False
                return self._dump(result, t_text)  # (take == "theirs" returned above, before any merge)
        clean, text = self._merge_file(base, ours, theirs)
        if clean:
            return self.put(text)
        if take == "ours":
            return ours
        if take == "theirs":
            return False
        conflicts.append(Conflict(rid, path, c.sha, c.subject, [("", _("changed"), _("changed"))], theirs))
        files[path] = text
        return False

    def _dump(self, data: Any, like: str) -> str:
        style = yamlio.edit_style(like.replace("\r\n", "\n"))
        text = yamlio.dump(data, (*style, "\r\n" in like))
        return self.put(text.encode("utf-8"))

    def _merge_file(self, base: str | None, ours: str | None, theirs: str | None) -> tuple[bool, bytes]:
        """`git merge-file` of the three: (whether it merged cleanly, the text, with conflict
        markers where it did not)."""
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            names = []
            for name, sha in (("ours", ours), ("base", base), ("theirs", theirs)):
                p = Path(d) / name
                p.write_bytes(self.read(sha) or b"")
                names.append(str(p))
            p = subprocess.run(["git", "merge-file", "-p", "-L", CONFLICT_LABELS[0], "-L", "base", "-L",
                                CONFLICT_LABELS[1], *names], capture_output=True)
        return p.returncode == 0, p.stdout

    def _message(self, c: Local, renum: Renumbering, created: list[str]) -> str:
        message = renum.text(c.message).rstrip("\n")
        lines = [f"{Trailer.SYNCED}: {_iso(c.committer_date)} {c.sha}"] if f"{Trailer.SYNCED}:" not in message \
            else []
        for old in created:
            new = renum.mapping[old]
            if not re.search(rf"^{Trailer.RENUMBERED}: .* -> {re.escape(new)}$", message, re.M):
                lines.append(f"{Trailer.RENUMBERED}: {old} -> {new}")
        if not lines:
            return message + "\n"
        return message + "\n" + "\n".join(lines) + "\n"

    def _write(self, commits: list[tuple[Local, str, list[tuple[str, str | None, str]]]]) -> str:
        """The replayed commits, written by one git fast-import (or commit-tree -S one by one
        where commits are signed); the last one's id."""
        if not commits:
            return self.upstream
        now = _now(self.root)
        last = int(_out(self.root, "log", "-1", "--format=%ct", self.upstream) or 0)
        if self.store.config.require_signed_commits:
            return self._write_signed(commits, now, last)
        ref = f"refs/qms-sync/{os.getpid()}"
        out = [b"feature done\n"]
        for n, (c, message, entries) in enumerate(commits):
            stamp = max(now, last)
            last = stamp
            msg = message.encode("utf-8")
            out.append(f"commit {ref}\nmark :{n + 1}\nauthor {c.author}\n"
                       f"committer {c.committer_name} <{c.committer_email}> {stamp} {_zone(c.committer_date)}\n"
                       .encode("utf-8"))
            out.append(b"data %d\n" % len(msg) + msg + b"\n")
            if n == 0:
                out.append(f"from {self.upstream}\n".encode())
            for path, blob, mode in entries:
                qpath = _fi_path(path)
                if blob is None:
                    out.append(b"D " + qpath + b"\n")
                elif blob in self.new_blobs:
                    data = self.new_blobs[blob]
                    out.append(f"M {mode} inline ".encode() + qpath + b"\n" + b"data %d\n" % len(data) + data + b"\n")
                else:
                    out.append(f"M {mode} {blob} ".encode() + qpath + b"\n")
            out.append(b"\n")
        out.append(b"done\n")
        _git(self.root, "fast-import", "--quiet", "--date-format=raw", "--force", input=b"".join(out), track=True)
        head = _out(self.root, "rev-parse", ref)
        _git(self.root, "update-ref", "-d", ref, track=True)
        return head

    def _write_signed(self, commits, now: int, last: int) -> str:
        parent = self.upstream
        tree_index = lock.state_dir(self.root) / "sync.index"
        env = {"GIT_INDEX_FILE": str(tree_index)}
        try:
            _git(self.root, "read-tree", parent, env=env)
            for c, message, entries in commits:
                info = []
                for path, blob, mode in entries:
                    if blob is not None and blob in self.new_blobs:
                        _git(self.root, "hash-object", "-w", "--stdin", input=self.new_blobs[blob])
                    info.append(f"0 {ZERO}\t{path}" if blob is None else f"{mode} {blob}\t{path}")
                _git(self.root, "update-index", "--index-info", input=("\n".join(info) + "\n").encode(), env=env)
                tree = _out(self.root, "write-tree", env=env)
                stamp = max(now, last)
                last = stamp
                name, _sep, rest = c.author.partition(" <")
                email, _sep, adate = rest.partition("> ")
                parent = _out(self.root, "commit-tree", "-S", tree, "-p", parent, input=message.encode("utf-8"), env={
                    "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": adate,
                    "GIT_COMMITTER_NAME": c.committer_name, "GIT_COMMITTER_EMAIL": c.committer_email,
                    "GIT_COMMITTER_DATE": f"{stamp} {_zone(c.committer_date)}"})
        finally:
            if tree_index.exists():
                tree_index.unlink()
        return parent


def _fi_path(path: str) -> bytes:
    raw = path.encode("utf-8", "surrogateescape")
    if any(ch in raw for ch in b'"\n\\') or raw.startswith(b'"') or b" " in raw:
        return b'"' + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"').replace(b"\n", b"\\n") + b'"'
    return raw


def _union_lines(base: bytes, ours: bytes, theirs: bytes) -> bytes:
    """The anchors file: theirs, then the lines ours added (anchors only ever grow)."""
    have = theirs.splitlines(keepends=True)
    if have and not have[-1].endswith(b"\n"):
        have[-1] += b"\n"
    known = set(base.splitlines()) | set(x.rstrip(b"\n") for x in have)
    added = [ln + b"\n" for ln in ours.splitlines() if ln not in known]
    return b"".join(have + added)


def _zone(raw_date: str) -> str:
    parts = raw_date.split()
    return parts[1] if len(parts) > 1 else "+0000"


def _iso(raw_date: str) -> str:
    """'1772765100 +0800' -> '2026-03-06T10:45:00+08:00'."""
    try:
        stamp, zone = raw_date.split()
        sign = -1 if zone.startswith("-") else 1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5])))
        return datetime.fromtimestamp(int(stamp), tz).isoformat()
    except (ValueError, IndexError, OverflowError):
        return raw_date


def _now(root: Path) -> int:
    """The time a commit made now would carry (git honours GIT_COMMITTER_DATE)."""
    ident = _git(root, "var", "GIT_COMMITTER_IDENT", check=False).stdout.decode("utf-8", "replace")
    try:
        return int(ident.rsplit(">", 1)[1].split()[0])
    except (IndexError, ValueError):
        return int(time.time())


# --------------------------------------------------------------------------- sync


def _branch(root: Path) -> str:
    p = _git(root, "symbolic-ref", "-q", "--short", "HEAD", check=False)
    name = p.stdout.decode().strip()
    if p.returncode != 0 or not name:
        raise BadInput(_("the store is not on a branch (a detached HEAD): check out the branch to sync, "
                         "such as 'git switch main'"))
    return name


def _revs(root: Path, *refs: str) -> list[str | None]:
    """The commit of each ref (None where there is none), asked of git at once."""
    p = _git(root, "rev-parse", *refs, check=False)
    lines = p.stdout.decode().split()
    if p.returncode == 0 and len(lines) == len(refs):
        return list(lines)
    return [_rev(root, r) for r in refs]


def _remote(root: Path, branch: str, wanted: str | None) -> tuple[str, str]:
    """(remote, its branch) this branch syncs with: --remote, else the branch's upstream,
    else origin (or the only remote) and the branch of the same name."""
    settings: dict[str, str] = {}
    raw = _git(root, "config", "-z", "--get-regexp", r"^(remote\..*\.url|branch\..*\.(remote|merge))$",
               check=False).stdout.decode("utf-8", "replace")
    for entry in raw.split("\0"):
        key, _sep, value = entry.partition("\n")
        settings.setdefault(key, value)
    remotes = sorted({k[len("remote."):-len(".url")] for k in settings if k.startswith("remote.")})
    merge = settings.get(f"branch.{branch}.merge", "")
    if wanted:
        if wanted not in remotes:
            raise BadInput(_("--remote {remote}: not a remote of this store (it has: {remotes})").format(
                remote=quote(wanted), remotes=", ".join(remotes) or _("none")))
        remote = wanted
    else:
        remote = settings.get(f"branch.{branch}.remote", "")
        if remote not in remotes:
            remote = "origin" if "origin" in remotes else (remotes[0] if len(remotes) == 1 else "")
    if not remote:
        raise BadInput(_("the store has no remote to sync with: add the git server's store with "
                         "'git remote add origin URL' (or clone it with 'qms init --clone URL')")
                       if not remotes else _("the store has several remotes ({remotes}): name one with --remote").format(
            remotes=", ".join(remotes)))
    return remote, (merge.removeprefix("refs/heads/") if merge else branch)


def _check_clean(root: Path, allowed: set[str] = frozenset()) -> None:
    git_dir = Path(_out(root, "rev-parse", "--absolute-git-dir"))
    for name, what in (("rebase-merge", "rebase"), ("rebase-apply", "rebase"), ("MERGE_HEAD", "merge"),
                       ("CHERRY_PICK_HEAD", "cherry-pick")):
        if (git_dir / name).exists():
            raise Refused(_("a git {what} is in progress in this store: finish or abort it first").format(what=what))
    # tracked: status writes the index's refreshed stat data, so a status killed with qms
    # leaves an index.lock that the next sync clears
    raw = _git(root, "status", "--porcelain=v1", "-z", "--untracked-files=no", track=True).stdout
    dirty = [e[3:].decode("utf-8", "replace") for e in raw.split(b"\0") if len(e) > 3 and e[2:3] == b" "]
    dirty = [d for d in dirty if d not in allowed and not d.startswith(".qms/")]
    if dirty:
        shown = ", ".join(dirty[:5]) + (_(" and {n} more").format(n=len(dirty) - 5) if len(dirty) > 5 else "")
        raise Refused(_("uncommitted changes in {files}: commit them through qms (or put them aside with "
                        "'git stash') before qms sync").format(files=shown))


def _anchored(root: Path, commits: list[Local]) -> list[str]:
    """This clone's unpushed commits that an anchor names (a tag or the anchors file)."""
    shas = {c.sha for c in commits}
    found = set()
    for line in _out(root, "for-each-ref", "--format=%(objectname) %(*objectname)", ANCHOR_TAGS).splitlines():
        found.update(x for x in line.split() if x in shas)
    for c in commits:
        for ch in c.changes:
            if ch.path == ANCHORS and ch.new:
                found.update(x for x in re.findall(r"^([0-9a-f]{40})", _git(root, "cat-file", "blob", ch.new)
                                                   .stdout.decode("utf-8", "replace"), re.M) if x in shas)
    return sorted(found)


def _switch(root: Path, branch: str, old: str, new: str) -> None:
    """Move the branch, its index and working files from `old` to `new` (only the files that
    differ), journalled so that a killed sync finishes this on its next run."""
    _save_state(root, {**_load_state(root), "switch": {"branch": branch, "from": old, "to": new}})
    # the index's stat data first (a file touched, a clone copied or restored), whatever git
    # status managed to write: else read-tree takes an unchanged file for a changed one
    # ("not uptodate. Cannot merge")
    _git(root, "update-index", "-q", "--refresh", check=False, track=True)
    if _out(root, "ls-tree", "--name-only", new, "--", ".qms"):
        _drop_switch(root)
        raise Refused(_("the remote's history tracks .qms/, the folder where qms keeps this clone's own lock and "
                        "state: remove it from the store on the server (git rm -r --cached .qms) first"))
    p = _git(root, "read-tree", "-m", "-u", old, new, track=True, check=False)
    if p.returncode != 0:
        _drop_switch(root)
        said = p.stderr.decode("utf-8", "replace").strip().splitlines()
        raise Refused(_("the working files cannot be brought up to date ({error}): commit or put aside "
                        "('git stash') the changes to them, then run qms sync again").format(
            error=said[0] if said else p.returncode))
    _git(root, "update-ref", f"refs/heads/{branch}", new, old, track=True)
    state = _load_state(root)
    state.pop("switch", None)
    _save_state(root, state) if state else _drop_state(root)


def _drop_switch(root: Path) -> None:
    """The switch did not start: its journal entry goes, nothing to finish."""
    state = _load_state(root)
    state.pop("switch", None)
    _save_state(root, state) if state else _drop_state(root)


def _finish_switch(root: Path, state: dict, notes: list[str]) -> dict:
    """A switch a killed sync left half done: finished when the branch is where it was left."""
    sw = state.pop("switch", None)
    if not isinstance(sw, dict):
        return state
    branch, old, new = str(sw.get("branch")), str(sw.get("from")), str(sw.get("to"))
    at = _rev(root, f"refs/heads/{branch}")
    if at in (old, new) and _rev(root, new):
        _git(root, "read-tree", "--reset", "-u", new, track=True)
        _git(root, "update-ref", f"refs/heads/{branch}", new, track=True)
        notes.append(_("finished the interrupted sync: {branch} is at {commit}").format(branch=branch,
                                                                                    commit=new[:10]))
    if state:
        _save_state(root, state)
    else:
        _drop_state(root)
    return state


def _push(root: Path, remote: str, branch: str, remote_branch: str, first: bool) -> bool:
    """Push; False when the remote moved on meanwhile (another clone won the race)."""
    p = _git(root, "push", "--porcelain", *(["-u"] if first else []), remote,
             f"refs/heads/{branch}:refs/heads/{remote_branch}", check=False, track=True)
    out = p.stdout.decode("utf-8", "replace")
    if p.returncode == 0:
        return True
    if re.search(r"^!\t.*\[(rejected|remote rejected)\] \((fetch first|non-fast-forward|stale info|"
                 r"cannot lock ref[^)]*|failed to update ref)\)", out, re.M):
        return False
    said = (p.stderr.decode("utf-8", "replace").strip() or out.strip()).splitlines()
    raise QmsError(_("git push to {remote} failed: {error}").format(remote=remote, error=said[-1] if said else ""))


def sync(store, *, remote: str | None = None, resolve: str | None = None, take: str | None = None,
         go_on: bool = False, abort: bool = False, push: bool = True,
         check: Callable[[Any, str, list[str]], list[str]] | None = None) -> Outcome:
    """Bring this clone and its remote together (see the module's docstring). `check(store,
    since, ids)`: what `qms audit` finds in the commits after `since` and `qms validate` in
    the records `ids`, asked of a replay that merged a record or settled a conflict (given by
    the caller, so that a sync with nothing to merge never loads them)."""
    root = store.root
    outcome = Outcome()
    with lock.store_lock(root) as notes:
        outcome.notes.extend(notes)
        if os.path.lexists(root / ".qms" / "git.pid"):  # a sync killed with its git: its index.lock goes
            lock.clear_own_git(root, outcome.notes)
        state = _finish_switch(root, _load_state(root), outcome.notes)
        pending = [c for c in state.get("conflicts") or [] if isinstance(c, dict) and all(
            isinstance(c.get(k), str) for k in ("id", "path", "commit"))]
        files = [c["path"] for c in pending if isinstance(c, dict) and isinstance(c.get("path"), str)]
        unaudited = state.pop("audit", None)  # a replay switched to but not checked: the sync was stopped
        unaudited = unaudited if isinstance(unaudited, dict) and _rev(root, "HEAD") == unaudited.get("at") \
            and _rev(root, str(unaudited.get("back"))) else None
        if abort:
            if not state and not unaudited:
                raise BadInput(_("no sync is waiting to be finished"))
            _restore(root, files)
            if unaudited:
                _switch(root, _branch(root), unaudited["at"], unaudited["back"])
            _drop_state(root)
            outcome.notes.append(_("sync abandoned: the branch is as it was before it"))
            return outcome
        if (resolve or go_on) and not pending:
            raise BadInput(_("no sync is waiting to be finished (--resolve and --continue follow a sync that "
                             "stopped on conflicts)"))
        if pending and not (resolve or go_on):
            raise Refused(_("a sync stopped on conflicts in {ids}: settle each with 'qms sync --resolve ID --take "
                            "ours|theirs', or edit the file and run 'qms sync --continue' (or 'qms sync "
                            "--abort')").format(ids=", ".join(sorted({c['id'] for c in pending}))))
        resolutions = dict(state.get("resolutions") or {})
        if resolve:
            ids = {c["id"]: c for c in pending}
            if resolve not in ids:
                raise BadInput(_("--resolve {id}: not one of the conflicts ({ids})").format(
                    id=quote(resolve), ids=", ".join(sorted(ids))))
            if take not in ("ours", "theirs"):
                raise BadInput(_("--take: expected ours or theirs"))
            resolutions[resolve] = take
            _restore(root, [ids[resolve]["path"]])
        elif go_on:
            by_id: dict[str, list[dict]] = {}
            for c in pending:
                by_id.setdefault(c["id"], []).append(c)
            for rid, found in by_id.items():
                if rid in resolutions and not isinstance(resolutions[rid], dict):
                    continue
                last = found[-1]  # the file shows the record as after this clone's last commit on it
                resolutions[rid] = {"commit": last["commit"], "earlier": [c["commit"] for c in found[:-1]],
                                    "theirs": last.get("theirs"), "blob": _hand_resolution(root, last["path"])}
            _restore(root, files)
        elif take:
            raise BadInput(_("--take goes with --resolve ID"))
        gd = root / ".git"
        if not gd.is_dir() or (gd / "refs" / "qms-sync").exists() or (gd / "packed-refs").exists():
            for ref in _out(root, "for-each-ref", "--format=%(refname)", "refs/qms-sync/").split():
                _git(root, "update-ref", "-d", ref, check=False, track=True)  # left by a sync killed while writing
        branch = _branch(root)
        outcome.branch = branch
        remote, remote_branch = _remote(root, branch, remote or state.get("remote"))
        outcome.remote, outcome.remote_branch = remote, remote_branch
        if unaudited or resolutions:
            _check_clean(root)
        if unaudited and check is not None:  # checked now, before anything is pushed
            store.forget()
            findings = check(store, str(unaudited.get("since")), [m for m in unaudited.get("merged") or []
                                                                   if isinstance(m, str)])
            if findings:
                _switch(root, branch, unaudited["at"], unaudited["back"])
                _save_state(root, state) if state else _drop_state(root)
                outcome.findings = findings
                return outcome
        if state or resolutions:
            _save_state(root, {"remote": remote, "resolutions": resolutions})
        renumbered: dict[str, str] = {}
        for attempt in range(TRIES):
            outcome.tries = attempt + 1
            seen = _rev(root, f"refs/remotes/{remote}/{remote_branch}")  # the server's branch as last fetched
            fetched = _git(root, "fetch", "-q", "--no-tags", remote,
                           f"+refs/heads/{remote_branch}:refs/remotes/{remote}/{remote_branch}", check=False,
                           track=True)
            if fetched.returncode != 0:
                said = fetched.stderr.decode("utf-8", "replace").strip()
                if "couldn't find remote ref" not in said:
                    raise QmsError(_("cannot fetch from {remote}: {error}").format(
                        remote=remote, error=said.splitlines()[-1] if said else _("git gave no reason")))
                _git(root, "update-ref", "-d", f"refs/remotes/{remote}/{remote_branch}", check=False, track=True)
            head, upstream = _revs(root, "HEAD", f"refs/remotes/{remote}/{remote_branch}")
            if head is None:
                raise BadInput(_("the store has no commit yet: nothing to sync"))
            if upstream is None:  # an empty remote: this clone's history is the first
                if push and _push(root, remote, branch, remote_branch, first=True):
                    outcome.pushed = int(_out(root, "rev-list", "--count", head))
                break
            if seen and upstream and seen != upstream and not _is_ancestor(root, seen, upstream):
                _git(root, "update-ref", f"refs/remotes/{remote}/{remote_branch}", seen, check=False, track=True)
                raise Refused(_("{remote}/{branch} no longer holds {commit}, which it held when this clone last "
                                "fetched: its history was rewritten on the server (a force-push). Nothing was "
                                "pushed; ask who keeps the server what happened (protect the branch against "
                                "force-pushes)").format(remote=remote, branch=remote_branch, commit=seen[:10]))
            if head == upstream:
                break
            if _is_ancestor(root, head, upstream):  # only the remote moved: fast-forward
                _check_clean(root)
                outcome.fetched += int(_out(root, "rev-list", "--count", f"{head}..{upstream}"))
                _switch(root, branch, head, upstream)
                break
            if not _is_ancestor(root, upstream, head):
                _check_clean(root)
                outcome.fetched += int(_out(root, "rev-list", "--count", f"{head}..{upstream}"))
                locals_ = _locals(root, upstream, head)
                anchored = _anchored(root, locals_)
                if anchored:
                    raise Refused(_("commit {commit} of this clone is anchored (qms audit --anchor) but not on "
                                    "{remote}: an anchored commit is never replayed; push it as it is with a merge "
                                    "(git pull --no-rebase; qms audit accepts a merge that only combines)").format(
                        commit=anchored[0][:10], remote=remote))
                if store.config.require_signed_commits:
                    me = gitops.actor(root).email.lower()
                    other = next((c for c in locals_ if c.committer_email.lower() != me), None)
                    if other is not None:
                        raise Refused(_("commit {commit} of this clone was committed by {email}: this store requires "
                                        "signed commits, and a replayed commit is signed again by whoever syncs; "
                                        "let {email} run qms sync").format(commit=other.sha[:10],
                                                                           email=other.committer_email))
                replay = _Replayer(store, upstream, locals_, resolutions).run()
                if replay.conflicts:
                    outcome.conflicts = replay.conflicts
                    outcome.renumbered = replay.renumbered
                    for path, text in replay.conflict_files.items():
                        try:
                            safefs.check_writable(root, path)  # never through a link
                        except QmsError:
                            continue
                        atomic_write(root / path, text)
                    _save_state(root, {"remote": remote, "resolutions": resolutions,
                                       "conflicts": [c.as_dict() for c in replay.conflicts]})
                    return outcome
                for a, b in replay.renumbered:
                    first = next((k for k, v in renumbered.items() if v == a), a)
                    renumbered[first] = b
                outcome.replayed = replay.count
                outcome.merged = replay.merged
                renamed = [b for _a, b in replay.renumbered]
                checked = bool(replay.merged or resolutions or renamed) and check is not None
                if checked:  # journalled: a sync stopped before the check below has the next run check
                    _save_state(root, {**_load_state(root), "audit": {"since": upstream, "back": head,
                                                                      "at": replay.head, "merged": replay.merged + renamed}})
                _switch(root, branch, head, replay.head)
                if checked:
                    store.forget()
                    findings = check(store, upstream, replay.merged + renamed)
                    if findings:
                        _switch(root, branch, replay.head, head)
                    state = _load_state(root)
                    state.pop("audit", None)
                    _save_state(root, state) if state else _drop_state(root)
                    if findings:
                        outcome.findings = findings
                        outcome.renumbered = list(renumbered.items())
                        # a merged record found at fault is settled as a conflict is
                        faulted = [replace(m, fields=[("", _("merged"), f) for f in findings if m.id in f])
                                   for i, m in replay.merges.items() if any(i in f for f in findings)
                                   and resolutions.get(i) != "theirs"]
                        if faulted:
                            outcome.conflicts = faulted
                            _save_state(root, {"remote": remote, "resolutions": resolutions,
                                               "conflicts": [c.as_dict() for c in faulted]})
                        return outcome
                head = replay.head
            if not push:
                break
            if _push(root, remote, branch, remote_branch, first=False):
                outcome.pushed = int(_out(root, "rev-list", "--count", f"{upstream}..{head}"))
                break
            time.sleep(random.uniform(0.05, 0.3) * (attempt + 1))  # another clone won: fetch and replay again
        else:
            raise QmsError(_("{remote} kept moving while this clone synced ({n} tries): run qms sync "
                             "again").format(remote=remote, n=TRIES))
        outcome.renumbered = list(renumbered.items())
        outcome.head = _rev(root, "HEAD") or ""
        _drop_state(root)
    return outcome


def _is_ancestor(root: Path, a: str, b: str) -> bool:
    return _git(root, "merge-base", "--is-ancestor", a, b, check=False).returncode == 0


def _restore(root: Path, paths: list[str]) -> None:
    """Put conflict files back as the branch holds them."""
    paths = [p for p in paths if _git(root, "cat-file", "-e", f"HEAD:{p}", check=False).returncode == 0]
    if paths:
        _git(root, "--literal-pathspecs", "checkout", "-q", "HEAD", "--", *paths, track=True)


def _hand_resolution(root: Path, path: str) -> str:
    """The blob of a conflict file as the user left it: no markers left, a readable record."""
    try:
        raw = yamlio.read(root / path, path, root)
    except QmsError as e:
        raise BadInput(str(e)) from None
    text = yamlio.decode(raw, path)
    if re.search(r"^(<<<<<<<|>>>>>>>|=======)( |$)", text, re.M):
        raise Refused(_("{path}: still holds conflict markers (<<<<<<< ... >>>>>>>): keep one version of "
                        "each field, then run qms sync --continue").format(path=path))
    if _is_yaml(path):
        yamlio.parse(text, path)
    return _out(root, "hash-object", "-w", "--stdin", input=raw)


