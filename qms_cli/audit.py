"""`qms audit`: the store's git history as an audit trail, checked.

Every commit that changes a record is read with the record before and after it: a
commit without qms trailers, a state change that is not a move of the workflow, a
signature not made by the commit's author or by someone who did not hold the role that
day (by the qms.yaml of that commit), signatures rewritten, a record deleted or renamed,
roles changed without the required signature, unsigned commits where the store requires
signing, and anchored commits that are no longer in the history. A commit without
trailers that only changes free text is a hand edit: reported as a note, not a finding."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator

from .checks import RECORD_CHECKS, Context, Loaded
from .config import Config
from .errors import BadInput, Finding, QmsError, Severity
from .files import safefs, yamlio
from .files.yamlio import MAX_BYTES, atomic_write
from .i18n import N_, _, ngettext
from .model import values
from .paths import RECORDS
from .roles import department_of, guard, held_role
from .store import git as gitops
from .store import lock
from .store.git import Trailer, log_format, log_marker, logged, trailers_of
from .text import quote

ANCHORS = "qms-anchors.txt"
ZERO = "0" * 40
LINK_MODE = "120000"


RECORDS_PREFIX = f"{RECORDS}/"


@dataclass(slots=True)
class Change:
    """One file a commit changed, as `git log --raw` tells it."""

    status: str  # A M D R C T
    path: str
    new_path: str | None  # renames and copies
    old_blob: str | None
    new_blob: str | None
    new_mode: str


@dataclass(slots=True)
class Merged:
    """One file a merge left different from every parent (`git log -c --raw`)."""

    path: str
    parent_blobs: list[str | None]
    blob: str | None
    mode: str = ""  # of the result


@dataclass(slots=True)
class Commit:
    sha: str
    parents: list[str]
    author: str
    email: str
    date: str
    message: str
    changes: list[Change]
    committer_email: str = ""
    committer_date: str = ""
    merged: list[Merged] | None = None
    both: list[tuple[str, list[str | None]]] | None = None  # merges: records changed on every side
    trailers: dict[str, list[str]] = field(default_factory=dict)
    streamed: bool = True  # its record blobs come from the walk's stream (else: asked one by one)


def _git(root: Path, *args: str, input: str | None = None) -> str:
    import os

    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0")
    p = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, input=input, env=env,
                       encoding="utf-8", errors="replace")
    if p.returncode != 0:
        verb = next((a for i, a in enumerate(args) if not a.startswith("-") and (i == 0 or args[i - 1] != "-c")), "")
        if not p.stderr.strip():
            raise QmsError(_("git {command}: failed").format(command=verb))
        raise QmsError(f"git {verb}: {p.stderr.strip().splitlines()[0]}")  # not a sentence: git's own words
    return p.stdout


# ":100644 100644 <old> <new> M\tpath" or ":... R086\told\tnew" (a merge's lines start "::")
_RAW = re.compile(r"^:[0-7]+ ([0-7]+) ([0-9a-f]+) ([0-9a-f]+) ([A-Z])[0-9]*\t([^\t\n]+)(?:\t([^\t\n]+))?$", re.MULTILINE)


def _changes(text: str) -> list[Change]:
    """The files changed, from `git log --raw` or `git diff-tree --raw` output."""
    return [Change(status, path, new_path or None, None if old == ZERO else old, None if new == ZERO else new, mode)
            for mode, old, new, status, path, new_path in _RAW.findall(text)]


def _merged(line: str) -> Merged | None:
    # "::100644 100644 100644 <p1> <p2> <result> MM\tpath" (one colon per parent)
    head, _sep, path = line.partition("\t")
    n = len(head) - len(head.lstrip(":"))
    cols = head[n:].split()
    if len(cols) < 2 * (n + 1) or not path:
        return None
    blobs = [None if b == ZERO else b for b in cols[n + 1: 2 * n + 2]]
    return Merged(path, blobs[:-1], blobs[-1], cols[n])


def commits(root: Path, since: str | None, want: Callable[[list[str]], None] | None = None) -> Iterator[Commit]:
    """Every commit after `since` (or all), parents first, with the files each changed,
    read as `git log` writes them: the walk starts on the first commits while git is still
    diffing the later ones. `want` is told the record blobs of each group of commits before
    they are handed on, so that they can be asked of git ahead of the walk; a group is
    handed on whole before the next is told.
    The fields are split on a marker made afresh for each run, which no commit message
    can hold, so a message cannot forge the files a commit changed."""
    import tempfile

    mark = log_marker()
    fmt = log_format(mark)
    rng = [f"{since}..HEAD"] if since else ["HEAD"]
    with tempfile.TemporaryFile() as err:
        p = subprocess.Popen(["git", "-c", "core.quotepath=off", "log", "--reverse", "--topo-order", "-M", "--raw",
                              "--no-abbrev", f"--format={fmt}", *rng], cwd=root, stdout=subprocess.PIPE,
                             stderr=err, env=dict(os.environ, GIT_OPTIONAL_LOCKS="0"))
        try:
            merges = _merges(root, rng)  # while git starts on the log
            assert p.stdout is not None
            sep = f"{mark}c\n"
            bsep, left, done = sep.encode(), b"", False
            while not done:
                chunk = p.stdout.read1(1 << 18)
                done = not chunk
                buf = left + chunk
                # the whole commits read so far, decoded at once (the marker is ASCII, so
                # splitting before or after decoding gives the same commits)
                cut = len(buf) if done else buf.rfind(bsep)
                if cut < 0:
                    left = buf
                    continue
                left = buf[cut:]
                group: list[Commit] = []
                ids: list[str] = []
                for part in buf[:cut].decode("utf-8", "replace").split(sep):
                    if not part:
                        continue
                    c = _commit(part, mark, merges)
                    new = [] if c.merged is not None else [ch.new_blob for ch in c.changes if ch.new_blob and
                                                           (ch.new_path or ch.path).startswith(RECORDS_PREFIX)]
                    if len(new) > _Stream.BATCH:  # one commit of many records (an import): read one by one
                        c.streamed, new = False, []
                    if group and len(ids) + len(new) > _Stream.BATCH:
                        if want is not None:
                            want(ids)
                        yield from group  # the walk takes every blob of the group before the next is asked
                        group, ids = [], []
                    group.append(c)
                    ids.extend(new)
                if want is not None:
                    want(ids)
                yield from group
            if p.wait() != 0:
                err.seek(0)
                text = err.read().decode("utf-8", "replace").strip()
                if not text:
                    raise QmsError(_("git {command}: failed").format(command="log"))
                raise QmsError(f"git log: {text.splitlines()[0]}")  # not a sentence: git's own words
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            if p.stdout is not None:
                p.stdout.close()


def _commit(chunk: str, mark: str, merges: dict[str, tuple[list[Merged], list]]) -> Commit:
    g = logged(chunk, mark)
    c = Commit(g.sha, g.parents, g.author, g.email, g.date, g.message, _changes(g.rest), g.committer_email,
               g.committer_date, trailers=trailers_of(g.message))
    if len(c.parents) > 1:
        c.merged, c.both = merges.get(g.sha, ([], []))
    return c


def _merges(root: Path, rng: list[str]) -> dict[str, tuple[list[Merged], list]]:
    """For every merge in `rng`: what it left different from every parent (one diff-tree
    for all), and the records each side changed since they parted."""
    parents = {line.split()[0]: line.split()[1:]
               for line in _git(root, "rev-list", "--min-parents=2", "--parents", *rng).splitlines() if line.strip()}
    if not parents:
        return {}
    out: dict[str, list[Merged]] = {sha: [] for sha in parents}
    current = None
    for line in _git(root, "-c", "core.quotepath=off", "diff-tree", "-r", "-c", "--no-abbrev", "--stdin",
                     input="\n".join(parents) + "\n").splitlines():
        if line.startswith("::") and current is not None:
            m = _merged(line)
            if m:
                current.append(m)
        elif line.strip() in out:
            current = out[line.strip()]
    return {sha: (merged, _changed_on_both_sides(root, parents[sha])) for sha, merged in out.items()}


def _changed_on_both_sides(root: Path, parents: list[str]) -> list[tuple[str, list[str | None]]]:
    try:
        base = _git(root, "merge-base", "--octopus", *parents).strip()
    except QmsError:
        base = ""  # unrelated histories: every record of either side is the other's news
    sides = []
    for p in parents:
        out = _git(root, "-c", "core.quotepath=off", "diff-tree", "-r", "--no-commit-id", "--no-renames", "--raw",
                   "--no-abbrev", *( [base, p] if base else ["--root", p]), "--", RECORDS_PREFIX)
        sides.append({ch.path: ch.new_blob for ch in _changes(out)})
    common = set(sides[0]).intersection(*sides[1:])
    return [(path, [side[path] for side in sides]) for path in sorted(common)]


class _Blobs:
    """Blobs read one at a time from one `git cat-file --batch`: a blob over the record
    size limit is skipped without being held (memory stays bounded by that limit), and
    the last few read are remembered (a record's content after one commit is usually its
    content before its next)."""

    TOO_BIG = object()

    def __init__(self, root: Path, limit: int, keep: int = 64, texts: _Texts | None = None):
        self.limit = limit
        self.keep = keep
        self.memo: dict[str, Any] = {}
        self.texts = texts  # record texts the walk keeps: looked in first
        self.p = _cat_file(root)

    def read(self, spec: str | None) -> Any:
        """The bytes of a blob (by id, or rev:path), None if there is none, TOO_BIG."""
        if spec is None:
            return None
        if self.texts is not None and spec in self.texts.items:
            return self.texts.items[spec]
        if spec in self.memo:
            value = self.memo.pop(spec)
            self.memo[spec] = value
            return value
        assert self.p.stdin is not None and self.p.stdout is not None
        self.p.stdin.write(spec.encode("utf-8", "replace") + b"\n")
        self.p.stdin.flush()
        _name, value = _answer(self.p.stdout, self.limit)
        self.remember(spec, value)
        return value

    def remember(self, spec: str, value: Any) -> None:
        """A blob read elsewhere (the stream), for read() to find."""
        self.memo[spec] = value
        if len(self.memo) > self.keep:
            self.memo.pop(next(iter(self.memo)))

    def close(self) -> None:
        try:
            if self.p.stdin:
                self.p.stdin.close()
            self.p.wait(timeout=30)
        except (OSError, subprocess.SubprocessError):
            self.p.kill()


class _Stream:
    """The record blobs a walk will need, in the order it needs them, asked of a second
    `git cat-file --batch` a batch at a time as the walk learns of them: no round trip per
    blob. A batch is asked only once every blob asked before it has been taken, and is
    small enough for the pipe to hold, so asking never waits on git (no deadlock, no
    thread); memory stays bounded by one batch. Where git has `--batch-command` (2.36 on),
    it holds its answers to a batch until the batch is asked whole (`--buffer`, then
    `flush`): a few large writes, not three small ones a blob."""

    BATCH = 512  # blob ids asked at once: 50 bytes each ("contents <id>"), well within a pipe's 64 KiB
    CHUNK = 1 << 18  # bytes of git's answers read at once

    def __init__(self, root: Path, limit: int):
        self.root, self.limit = root, limit
        self.p: subprocess.Popen | None = None
        self.buf, self.pos = b"", 0  # git's output read but not yet taken: buf[pos:]
        self.command = False  # asked through --batch-command --buffer

    def want(self, ids: list[str]) -> None:
        """Ask for these blobs next: at most BATCH of them, and only when every blob asked
        before has been taken."""
        if not ids:
            return
        if self.p is None:
            self.command = gitops.version() >= (2, 36)
            mode = ["--batch-command", "--buffer"] if self.command else ["--batch"]
            self.p = _cat_file(self.root, *mode, bufsize=1 << 20)  # few reads for many small blobs
        assert self.p.stdin is not None
        if self.command:
            asked = "".join(f"contents {i}\n" for i in ids) + "flush\n"
        else:
            asked = "".join(i + "\n" for i in ids)
        try:
            self.p.stdin.write(asked.encode())
            self.p.stdin.flush()
        except OSError as e:
            raise QmsError(_("git cat-file stopped while the history was read ({error})").format(
                error=e.strerror or e)) from None

    def take(self, blob: str) -> Any:
        """The next blob of the stream, which is `blob` (others before it are passed over)."""
        while True:
            name, value = self._answer()
            if name is None or name == blob:
                return value

    def _answer(self) -> tuple[str | None, Any]:
        """What `_answer` reads, sliced out of large reads of git's output (two reads a
        blob cost more than the blob): the buffer holds one read and at most one blob."""
        buf, pos = self.buf, self.pos
        nl = buf.find(b"\n", pos)
        if nl >= 0:  # the usual answer: a blob within the limit, all of it read already
            header = buf[pos:nl].split()
            if len(header) == 3 and header[1] == b"blob":
                end = nl + 1 + int(header[2])
                if end < len(buf) and end - nl - 1 <= self.limit:
                    self.pos = end + 1
                    return header[0].decode(), buf[nl + 1:end]
        return self._read_answer()

    def _read_answer(self) -> tuple[str | None, Any]:
        assert self.p is not None and self.p.stdout is not None
        f, buf, pos = self.p.stdout, self.buf, self.pos
        nl = buf.find(b"\n", pos)
        while nl < 0:
            chunk = f.read1(self.CHUNK)
            buf, pos = buf[pos:] + chunk, 0
            if not chunk:
                nl = len(buf)  # the end: what is left is the last (partial) line
                break
            nl = buf.find(b"\n")
        header = buf[pos:nl].split()
        pos = nl + 1
        if not header:
            self.buf, self.pos = buf, pos
            return None, None
        if len(header) < 3:  # "<name> missing"
            self.buf, self.pos = buf, pos
            return header[0].decode("utf-8", "replace"), None
        size = int(header[2])
        end = pos + size + 1  # the blob and its newline
        if header[1] != b"blob" or size > self.limit:  # passed over unread (memory stays bounded)
            if end > len(buf):
                _skip(f, end - len(buf))
                buf, end = b"", 0
            self.buf, self.pos = buf, end
            return header[0].decode(), _Blobs.TOO_BIG if header[1] == b"blob" else None
        if end > len(buf):
            buf = buf[pos:] + f.read(end - len(buf))
            pos, end = 0, size + 1
        self.buf, self.pos = buf, end
        return header[0].decode(), buf[pos:end - 1]

    def close(self) -> None:
        if self.p is None:
            return
        for f in (self.p.stdin, self.p.stdout):
            try:
                f.close() if f else None
            except OSError:
                pass
        self.p.kill()
        self.p.wait()


def _cat_file(root: Path, *mode: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(["git", "cat-file", *(mode or ["--batch"])], cwd=root, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, GIT_OPTIONAL_LOCKS="0"), **kw)


def _answer(f, limit: int) -> tuple[str | None, Any]:
    """One answer of `git cat-file --batch`: (the name asked, the blob's bytes), None for a
    missing object or one that is not a blob, _Blobs.TOO_BIG for a blob over `limit`, which
    is passed over unread; (None, None) at the end of the stream."""
    header = f.readline().split()
    if not header:
        return None, None
    if len(header) < 3:  # "<name> missing"
        return header[0].decode("utf-8", "replace"), None
    size = int(header[2])
    if header[1] != b"blob" or size > limit:
        _skip(f, size + 1)
        return header[0].decode(), _Blobs.TOO_BIG if header[1] == b"blob" else None
    value = f.read(size)
    f.read(1)
    return header[0].decode(), value


def _skip(f, n: int) -> None:
    while n > 0:
        got = f.read(min(n, 1 << 20))
        if not got:
            break
        n -= len(got)


from hashlib import sha1 as _sha1  # noqa: E402  (what a record's signatures were, compared by digest)

# One line `KEY: VALUE` whose value is a plain scalar that cannot open, close or continue
# anything else: no quote, bracket, brace, comment, anchor, alias, tag, block indicator,
# escape or further `: `. Replacing such a value by another keeps every other line's meaning.
_SIMPLE = re.compile(rb"( *)([A-Za-z_][A-Za-z0-9_]*): ([^\s\-?:,\[\]{}#&*!|>'\"%@`\\]"
                     rb"[^'\"#\\:\n]*(?::(?! |$)[^'\"#\\:\n]*)*)")  # `:` only when no `: ` or end follows


_TYPED = re.compile(rb"[-+0-9.:TtZz _eExXoObB]*|(?i:y|yes|n|no|true|false|on|off|null|~|\.inf|\.nan)")


def _same_structure(old: bytes, new: bytes, key: bytes = b"") -> bool:
    """Whether `new` is `old` with only single-line plain values of the same keys replaced,
    none of them the top-level `state`, none from the top-level `signatures:` on: then the
    record's state and signatures are those of `old`, without parsing `new`. `key` (from
    _set_key), the top-level key the commit says it set, is only where the changed line is
    looked for first: the answer is the same for any key."""
    if old.find(b"\r") >= 0 or new.find(b"\r") >= 0 or new.find(b"\t") >= 0:  # (`in` costs an exception)
        return False
    # the usual case, one value set: the one line where the two differ, at the key the
    # commit names or else found by halving
    line = _only_line(old, new, key) if key else None
    if line is None:
        head = _common_prefix(old, new)
        start = old.rfind(b"\n", 0, head) + 1
        end_old = old.find(b"\n", head)
        end_old = len(old) if end_old < 0 else end_old
        end_new = end_old + len(new) - len(old)
        if head <= end_new and old[end_old:] == new[end_new:]:  # all after that line is the same: one line
            line = start, end_old, end_new
    if line is not None:
        start, end_old, end_new = line
        if _from_signatures(old, start):
            return old == new
        return _plain_swap(old[start:end_old], new[start:end_new])
    tail = _common_suffix(old, new, limit=min(len(old), len(new)) - start)
    end_old, end_new = old.find(b"\n", start, len(old) - tail), new.find(b"\n", start, len(new) - tail)
    if end_old < 0 and end_new < 0:  # one line differs (or none)
        end_old, end_new = old.find(b"\n", start), new.find(b"\n", start)
        if start >= _signatures_at(old):
            return old == new
        return _plain_swap(old[start:end_old if end_old >= 0 else len(old)],
                           new[start:end_new if end_new >= 0 else len(new)])
    i, j = _signatures_at(old), _signatures_at(new)
    if old[i:] != new[j:]:
        return False
    a, b = old[:i].split(b"\n"), new[:j].split(b"\n")
    if len(a) != len(b):
        return False
    return all(_plain_swap(x, y) for x, y in zip(a, b) if x != y)


def _only_line(old: bytes, new: bytes, key: bytes) -> tuple[int, int, int] | None:
    """Where the line `key` (b"\\nKEY: ", see _set_key) starts and ends in `old` and in `new`,
    when the two texts are the same but for that line; None otherwise (they may still
    differ in one other line)."""
    start = old.find(key) + 1
    if not start:
        return None
    end_old = old.find(b"\n", start)
    end_old = len(old) if end_old < 0 else end_old
    end_new = end_old + len(new) - len(old)
    if (end_new < start or new.find(b"\n", start, end_new) >= 0 or not new.startswith(old[:start])
            or not new.endswith(old[end_old:])):
        return None
    return start, end_old, end_new


@lru_cache(maxsize=256)
def _set_key(action: str) -> bytes:
    """Where the line of the top-level key a `set` of one field names starts ('set batch':
    b"\\nbatch: "), else b""."""
    fields = action[len("set "):].split() if action.startswith("set ") else []
    return b"\n" + fields[0].encode("utf-8", "replace") + b": " if len(fields) == 1 and "." not in fields[0] else b""


def _plain_swap(x: bytes, y: bytes) -> bool:
    """Whether line `y` is line `x` with another single-line plain value of the same key."""
    if x == y:
        return True
    mx, my = _SIMPLE.fullmatch(x), _SIMPLE.fullmatch(y)
    if not mx or not my:
        return False
    indent, key = mx.group(1, 2)
    if (indent, key) != my.group(1, 2) or not indent and key in (b"state", b"signatures", b"id", b"type"):
        return False
    # a number, date, yes/no or null is read (and bounded) by the parser, not here
    return not _TYPED.fullmatch(my.group(3))


def _common_prefix(a: bytes, b: bytes) -> int:
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: bytes, b: bytes, limit: int) -> int:
    lo, hi, la, lb = 0, max(0, limit), len(a), len(b)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[la - mid:la - lo] == b[lb - mid:lb - lo]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _from_signatures(text: bytes, start: int) -> bool:
    """Whether the line starting at `start` is at or after the top-level `signatures:`
    (`start >= _signatures_at(text)`), reading `text` only up to that line."""
    return (start >= len(text) or text.startswith(b"signatures:")
            or text.find(b"\nsignatures:", 0, start + 11) >= 0)  # the line at or before `start`


def _signatures_at(text: bytes) -> int:
    """Where the line of the top-level `signatures:` starts (the end if there is none)."""
    if text.startswith(b"signatures:"):
        return 0
    return text.find(b"\nsignatures:") + 1 or len(text)


class _Texts:
    """Record texts read in the walk, kept for the next change of the same record, up to a
    budget of bytes (the oldest go first)."""

    def __init__(self, budget: int = 32 << 20):
        self.budget = budget
        self.used = 0
        self.items: dict[str, bytes] = {}

    def put(self, blob: str, raw: Any) -> None:
        if not isinstance(raw, bytes) or blob in self.items:
            return
        self.items[blob] = raw
        self.used += len(raw)
        while self.used > self.budget and self.items:
            self.used -= len(self.items.pop(next(iter(self.items))))

    def get(self, blob: str | None) -> bytes | None:
        return self.items.get(blob) if blob else None


def _summary(data: dict) -> tuple[str, bytes]:
    """What a record's change is judged on when nothing else changed: its state and its
    signatures (by digest)."""
    return str(data.get("state")), _sha1(repr(values.signatures(data)).encode("utf-8", "replace")).digest()


def _parse(raw: Any, source: str) -> Any:

    if raw is None or raw is _Blobs.TOO_BIG:
        return None
    try:
        return yamlio.parse(yamlio.decode(raw, source), source)
    except QmsError:
        return None


# what every judgement of a commit needs of the qms.yaml before it
JUDGED_BY = ("roles", "timezone")


def _config_as_written(root: Path, data: Any) -> Config | None:
    """A commit's own qms.yaml as audit judges by it: taken as it was written (no key
    refused, a setting audit never asks for not read); None when it is not settings, or
    its roles or time zone cannot be read (the rules before it then still apply)."""
    if not isinstance(data, dict):
        return None
    cfg = Config.parse(root, data, as_written=True)
    return None if any(cfg.problem(key) for key in JUDGED_BY) else cfg


def _leaves(data: Any) -> dict[str, Any]:
    """Every leaf value by its dotted path: linear in the size of the record."""
    out: dict[str, Any] = {}
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        prefix, value = stack.pop()
        if isinstance(value, dict) and value:
            stack.extend((f"{prefix}{k}.", v) for k, v in value.items())
        elif isinstance(value, list) and value:
            stack.extend((f"{prefix}{i}.", v) for i, v in enumerate(value))
        else:
            out[prefix[:-1]] = value
    return out


def _and_more(shown: list[str], more: int) -> str:
    """`shown` as a list, with how many more were left out (none when `more` < 1)."""
    listed = ", ".join(shown)
    return _("{items} and {n} more").format(items=listed, n=more) if more > 0 else listed


def _listed(items: list[str], limit: int) -> str:
    """The first `limit` of `items`, and how many more there are."""
    return _and_more(items[:limit], len(items) - limit)


def _either(names: list[str]) -> str:
    """'a or b or c': one of these names."""
    out = names[0] if names else ""
    for name in names[1:]:
        out = _("{first} or {second}").format(first=out, second=name)
    return out


IMPORT_NOT_ADDED = {"D": N_("an import may only add new records; this one deleted a record"),
                    "M": N_("an import may only add new records; this one changed a record"),
                    "R": N_("an import may only add new records; this one renamed a record")}


def audit(store, since: str | None = None, anchors_from: str | None = None) -> list[Finding]:

    root = store.root
    if since:
        try:
            _git(root, "rev-parse", "--verify", f"{since}^{{commit}}")
        except QmsError:
            raise BadInput(_("--since {since}: not a commit of this store").format(since=since)) from None
    if subprocess.run(["git", "rev-parse", "--verify", "-q", "HEAD"], cwd=root, capture_output=True).returncode:
        return []  # no commit yet: no history to audit
    if _git(root, "rev-parse", "--is-shallow-repository").strip() == "true":
        raise BadInput(_("{root}: a shallow clone holds only part of the history, which audit must read whole "
                         "(git fetch --unshallow; in CI, check out with fetch-depth: 0)").format(root=root))
    texts = _Texts()
    blobs = _Blobs(root, MAX_BYTES, texts=texts)
    stream = _Stream(root, MAX_BYTES)
    history = commits(root, since, want=stream.want)
    known: dict[str, tuple[str, bytes]] = {}  # record blob -> its _summary, from a parse or by construction
    configs: dict[str | None, Config | None] = {}
    config_blob: dict[str, str | None] = {}  # commit -> the blob of its qms.yaml

    types_at: dict[str, dict[str, str]] = {}  # commit -> {type: blob of its types/<type>.yaml}
    judged: dict[tuple, Config | None] = {}

    def config_of(blob: str | None) -> Config | None:
        if blob not in configs:
            configs[blob] = _config_as_written(root, _parse(blobs.read(blob), "qms.yaml"))
        return configs[blob]

    def types_of(sha: str | None) -> dict[str, str]:
        """The store's own types in commit `sha` (from the walk, or asked of git once)."""
        if sha is None:
            return {}
        if sha not in types_at:
            state = {}
            for line in _git(root, "ls-tree", sha, "types/").splitlines():
                head, _sep, path = line.partition("\t")
                cols = head.split()
                if len(cols) == 3 and cols[1] == "blob" and path.endswith(".yaml") and path.count("/") == 1:
                    state[path[len("types/"):-len(".yaml")]] = cols[2]
            types_at[sha] = state
        return types_at[sha]

    def rules_of(blob: str | None, sha: str | None) -> Config | None:
        """qms.yaml `blob` with the types commit `sha` held: the rules a later commit is
        judged by."""
        state = types_of(sha)
        key = (blob, id(state))  # every state is kept in types_at: ids are not reused
        if key not in judged:
            base = config_of(blob)
            files = {}
            for name, b in state.items():
                raw = blobs.read(b)
                if isinstance(raw, bytes):
                    files[name] = raw
            judged[key] = base.with_type_files(files) if base is not None else None
        return judged[key]

    def walk_types(c: Commit) -> None:
        if c.merged is not None:
            types_of(c.sha)  # a merge: as its tree holds them
            return
        state = types_of(c.parents[0]) if c.parents else {}
        for ch in c.changes:
            if ch.path.startswith("types/") or (ch.new_path or "").startswith("types/"):
                break
        else:
            types_at[c.sha] = state  # shared, never changed in place
            return
        state = dict(state)
        for ch in c.changes:
            for path, blob in ((ch.path, None), (ch.new_path or ch.path, ch.new_blob)):
                if path.startswith("types/") and path.endswith(".yaml") and path.count("/") == 1:
                    name = path[len("types/"):-len(".yaml")]
                    if blob is None:
                        state.pop(name, None)
                    elif ch.new_mode != LINK_MODE:
                        state[name] = blob
        types_at[c.sha] = state

    def qms_yaml_at(sha: str | None) -> str | None:
        """The blob of qms.yaml in commit `sha` (from the walk, or asked of git once)."""
        if sha is None:
            return None
        if sha not in config_blob:
            try:
                config_blob[sha] = _git(root, "rev-parse", "--verify", "-q", f"{sha}:qms.yaml").strip() or None
            except QmsError:
                config_blob[sha] = None
        return config_blob[sha]

    findings: list[Finding] = []
    committed: dict[str, datetime] = {}  # commit -> its committer date
    roots_seen = 0
    signing: list[tuple[str, str, str, str | None]] = []  # (commit, where, signer, qms.yaml blob before it)
    anchored: list[tuple[str, str]] = []  # (commit, where it was anchored), from every version
    try:
        for c in history:
            parent = c.parents[0] if c.parents else None
            before_cfg = qms_yaml_at(parent) if parent else None
            now_cfg = before_cfg
            touched_cfg = False
            rules = []  # the rules files this commit changed
            for ch in c.changes:
                path = ch.new_path or ch.path
                if path.startswith(RECORDS_PREFIX):
                    if ch.new_blob and c.merged is None:
                        raw = stream.take(ch.new_blob) if c.streamed else blobs.read(ch.new_blob)
                        if isinstance(raw, bytes):
                            texts.put(ch.new_blob, raw)  # where blobs.read finds it
                        else:
                            blobs.remember(ch.new_blob, raw)
                elif path == "qms.yaml" or path.startswith(("types/", "reports/", "templates/")):
                    rules.append(path)
                    if path == "qms.yaml":
                        now_cfg = ch.new_blob
                if ch.path == "qms.yaml" or path == "qms.yaml":
                    touched_cfg = True
                if ch.new_mode == LINK_MODE:
                    findings.append(Finding(_where(c), path,
                                            _("adds a symbolic link: qms never follows links in a store, and a link "
                                              "may point outside it (replace it with the file itself)")))
            if c.merged is not None:  # a merge: qms.yaml as it came out of it
                for m in c.merged:
                    if m.path == "qms.yaml":
                        now_cfg = m.blob
            if touched_cfg and config_of(now_cfg) is None:
                # deleted or unreadable: a finding, and the rules stay those that could last be read
                findings.append(Finding(_where(c), "qms.yaml", _("deleted by this commit") if now_cfg is None else
                                        _("cannot be read after this commit (the rules before it still apply)")))
                now_cfg = before_cfg
            config_blob[c.sha] = now_cfg
            if not c.parents and roots_seen:
                findings.append(Finding(_where(c), "", _("a second start of history (a commit with no parent) joined "
                                                     "to the store: its records and rules came from no audited "
                                                     "commit")))
            roots_seen += not c.parents
            if c.merged is not None:  # a side's own change to qms.yaml is not in the combined diff: ask git
                config_blob.pop(c.sha, None)
            findings.extend(_check_time(c, committed))
            for ch in c.changes:
                if ANCHORS in (ch.path, ch.new_path):
                    findings.extend(_check_anchors_change(c, _where(c), ch, blobs, anchored))
            if c.merged is not None:
                findings.extend(_check_merge(c, _where(c), blobs))
                continue
            trailers = c.trailers
            action = (trailers.get(Trailer.ACTION) or [""])[0]
            # every commit is judged by the rules as they stood before it
            walk_types(c)
            cfg = (rules_of(before_cfg, parent) if parent else rules_of(now_cfg, c.sha)) or store.config
            if action == "import":
                findings.extend(_check_import(c, _where(c), cfg, blobs, first=parent is None, store=store,
                                              known=known))
                continue
            signed = bool(trailers.get(Trailer.SIGNATURE))
            if rules and parent and config_of(now_cfg) is not None:
                findings.extend(_check_rules_change(c, _where(c), config_of(before_cfg), config_of(now_cfg),
                                                    _day(c), rules, trailers))
            for ch in c.changes:
                status, path, new = ch.status, ch.path, ch.new_path
                if path == "qms.yaml":
                    continue
                if not path.startswith(RECORDS_PREFIX):
                    continue
                if status == "D":
                    findings.append(Finding(_where(c), path, _("record deleted (records are cancelled, never deleted)")))
                    continue
                if status == "R" and Path(path).name != Path(new or "").name:
                    findings.append(Finding(_where(c), path, _("record renamed to {path}").format(path=new)))
                    continue
                parts = path.split("/")
                if len(parts) < 3:
                    continue
                try:
                    rt = cfg.record_type(parts[1])
                except QmsError:
                    continue  # not a record type's folder: validate reports that
                raw_after = blobs.read(ch.new_blob)
                rid = parts[-1].removesuffix(".yaml")
                summary = known.get(ch.old_blob) if status == "M" and Trailer.ACTION in trailers else None
                old_raw = texts.get(ch.old_blob) if summary is not None else None
                claimed = False
                if (summary is not None and old_raw is not None and isinstance(raw_after, bytes)
                        and _same_structure(old_raw, raw_after, _set_key(action))):
                    _remember(known, ch.new_blob, summary)  # its text went into texts as it was read
                    claim, claimed = _claim_problem(trailers, rt.name, rid, summary[0]), True
                    if claim:
                        findings.append(Finding(_where(c), path, claim))
                    if summary[0] in rt.workflow.states and not rt.workflow.states[summary[0]].final:
                        continue  # only plain values changed, by qms: state and signatures as they were
                before = _parse(blobs.read(ch.old_blob) if status in ("M", "R", "T") and parent else None, path)
                if raw_after is _Blobs.TOO_BIG:
                    findings.append(Finding(_where(c), path, _("the record is over {limit:,} bytes after this commit")
                                            .format(limit=MAX_BYTES)))
                    continue
                after = _parse(raw_after, path)
                if not isinstance(after, dict):
                    findings.append(Finding(_where(c), path, _("the record cannot be read after this commit")))
                    continue
                _remember(known, ch.new_blob, _summary(after))
                texts.put(ch.new_blob, raw_after)
                if not claimed:
                    claim = _claim_problem(trailers, rt.name, rid, str(after.get("state")))
                    if claim:
                        findings.append(Finding(_where(c), path, claim))
                found, added = _check_record(c, _where(c), path, rt, before, after, cfg, _day(c), trailers,
                                             store.fetch)
                findings.extend(found)
                signed = signed or added
            if signed:
                signing.append((c.sha, _where(c), c.email, before_cfg if parent else now_cfg))
            if signed and c.committer_email and c.committer_email.lower() != c.email.lower():
                findings.append(Finding(_where(c), "", _("a signature authored by {author} was committed by "
                                                     "{committer}: whoever commits a signature must be its signer")
                                        .format(author=c.email, committer=c.committer_email)))
    finally:
        history.close()
        blobs.close()
        stream.close()
    findings.extend(_check_signed(store, since))
    if store.config.require_signed_commits:
        findings.extend(_check_keys(root, signing, config_of))
    findings.extend(_check_anchors(store, anchored, anchors_from))
    return findings


def _when(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _claim_problem(trailers: dict, type_name: str, rid: str, state: str | None) -> str | None:
    """Trailers are claims, checked against what the commit did to a record: a commit by qms
    names every record it changes (QMS-Record, or QMS-Effect for records its move changed),
    and a move leaves its record in the state it names."""
    action = (trailers.get(Trailer.ACTION) or [""])[0]
    if not action or action.startswith(("import", "rules", "role", "anchor", "init")):
        return None
    key = f"{type_name}/{rid}"
    named = key in (trailers.get(Trailer.RECORD) or ())
    if not named and not any(e.split(" ", 1)[0] == key for e in trailers.get(Trailer.EFFECT) or ()):
        if not trailers.get(Trailer.RECORD):
            return _("changed by a commit whose trailers do not name it (QMS-Record: none)")
        return _("changed by a commit whose trailers do not name it (QMS-Record: {records})").format(
            records=", ".join(trailers[Trailer.RECORD]))
    if named and action.startswith("move ") and state is not None:
        target = action[len("move "):].strip()
        if state != target:
            return _("the commit claims a move to '{target}', but leaves the record in '{state}'").format(
                target=target, state=state)
    return None


KNOWN_KEPT = 200_000  # record versions whose summary is remembered (a few dozen bytes each)


def _remember(known: dict, blob: str | None, summary: tuple) -> None:
    if blob:
        known[blob] = summary
        if len(known) > KNOWN_KEPT:
            known.pop(next(iter(known)))


def _where(c: Commit) -> str:
    """How a finding names its commit (made only for a finding: most commits have none)."""
    return f"commit {c.sha[:10]} ({c.date[:10]}, {c.email})"


def _synced_time(c: Commit, trailers: dict) -> str | None:
    """The commit time a commit replayed by qms sync had before (its `QMS-Synced:`
    trailer); None for any other commit, and for a trailer dated after the replay itself
    (a replay comes after what it replays)."""
    for value in trailers.get(Trailer.SYNCED) or ():
        stamp = (value.split() or [""])[0]
        before, after = _when(stamp), _when(c.committer_date)
        if before is not None and after is not None and before <= after:
            return stamp
    return None


def _day(c: Commit):
    """The day a commit was authored."""
    return datetime.fromisoformat(c.date).date()


def _check_time(c: Commit, committed: dict[str, datetime]) -> list[Finding]:
    """Time never runs backwards: a commit is not dated before the commits it follows."""
    when = _when(c.committer_date)
    if when is None:
        return []
    committed[c.sha] = when
    out = []
    for p in c.parents:
        before = committed.get(p)
        if before is not None and when < before:
            out.append(Finding(_where(c), "", _("committed at {time}, before the commit it follows "
                                            "({parent}, {parent_time}): its date was set back").format(
                time=when.isoformat(), parent=p[:10], parent_time=before.isoformat())))
            break
    return out


RULES = ("qms.yaml", "types/", "reports/", "templates/", ANCHORS)


def _check_merge(c: Commit, where: str, blobs: _Blobs) -> list[Finding]:
    """A merge may only combine what each side did: every value of a record it changed
    comes from one of its parents, it deletes nothing both sides kept, and it does not
    change the rules or the anchors."""
    out = []
    merged_paths = {m.path for m in c.merged or ()}
    for path, side_blobs in c.both or ():
        if path in merged_paths:
            continue  # judged below, with what the merge made of it
        sig_lists = [values.signatures(p) if isinstance(p, dict) else [] for p in
                     (_parse(blobs.read(b), path) for b in side_blobs)]
        longest = max(sig_lists, key=len)
        if any(sl != longest[: len(sl)] for sl in sig_lists):
            out.append(Finding(where, path, _("the merge joins two histories of the record, each with acts signed "
                                              "the other has not: one must be replayed after the other (qms sync)")))
    for m in c.merged or ():
        if m.mode == LINK_MODE:
            out.append(Finding(where, m.path, _("the merge adds a symbolic link: qms never follows links in a store")))
            continue
        if m.path.startswith(RULES[1:]) or m.path in RULES:
            out.append(Finding(where, m.path, _("the merge changed this file beyond what either side did")))
            continue
        if not m.path.startswith(RECORDS_PREFIX):
            continue
        if m.blob is None:
            out.append(Finding(where, m.path, _("the merge deleted a record that both sides kept")))
            continue
        after = _parse(blobs.read(m.blob), m.path)
        parsed = [p if isinstance(p, dict) else {} for p in (_parse(blobs.read(b), m.path) for b in m.parent_blobs)]
        # signed acts on one side only: the other side's signatures are the start of this side's
        sig_lists = [values.signatures(p) for p in parsed]
        longest = max(sig_lists, key=len)
        if any(sl != longest[: len(sl)] for sl in sig_lists):
            out.append(Finding(where, m.path, _("the merge joins two histories of the record, each with acts signed "
                                                "the other has not: one must be replayed after the other (qms sync)")))
            continue
        ahead = parsed[sig_lists.index(longest)]
        if isinstance(after, dict) and (values.signatures(after) != longest or after.get("state") != ahead.get("state")):
            out.append(Finding(where, m.path, _("the merge changed the record's state or signatures beyond what "
                                                "either side did")))
            continue
        sides = [_leaves(p) for p in parsed]
        new = _leaves(after) if isinstance(after, dict) else {}
        made = sorted(k for k, v in new.items() if all(side.get(k) != v for side in sides))
        if not isinstance(after, dict) or made:
            if made:
                message = _("the merge changed the record beyond what either side did ({fields})").format(
                    fields=_listed(made, 6))
            else:
                message = _("the merge changed the record beyond what either side did")
            out.append(Finding(where, m.path, message))
    return out


def _check_import(c: Commit, where: str, cfg, blobs: _Blobs, first: bool, store=None,
                  known: dict | None = None) -> list[Finding]:
    """An import may only add new records that validate (schema, state, requirements,
    signatures: what `qms validate` checks in one record), as the records it brings read each
    other. A store's first commit may also bring its qms.yaml. The state and signatures of
    each record read go into `known`, as for any record parsed in the walk."""

    out = []
    added = 0
    brought: dict[tuple[str, str], Any] = {}  # what the records of the import read through references
    checked = []
    for ch in c.changes:
        path = ch.new_path or ch.path
        if not path.startswith(RECORDS_PREFIX):
            if not first and (path in RULES or path.startswith(RULES[1:])):
                out.append(Finding(where, path, _("an import changed the rules (only records may be imported)")))
            continue
        if ch.status != "A":
            out.append(Finding(where, path, _(IMPORT_NOT_ADDED.get(ch.status, IMPORT_NOT_ADDED["M"]))))
            continue
        parts = Path(path).parts
        data = _parse(blobs.read(ch.new_blob), path)
        if known is not None and isinstance(data, dict):
            _remember(known, ch.new_blob, _summary(data))
        try:
            rt = cfg.record_type(parts[1]) if len(parts) >= 3 else None
        except QmsError:
            rt = None
        if rt is None:
            out.append(Finding(where, path, _("an import added a file that is not a record of a known type")))
        elif not isinstance(data, dict):
            out.append(Finding(where, path, _("an import added a record that cannot be read")))
        else:
            brought[(rt.name, Path(path).stem)] = data
            checked.append((path, data, rt))
    for path, data, rt in checked:
        ctx = Context(root=cfg.root, types={rt.name: rt}, store=store, by_id=brought)
        try:
            problems = [f for check in RECORD_CHECKS for f in check([Loaded(rt.name, path, data)], ctx)]
        except (QmsError, KeyError) as e:
            problems = [Finding(path, "", str(e))]
        problems = [f for f in problems if f.severity is Severity.ERROR]
        if problems:
            first_problem = f"{problems[0].field}: {problems[0].message}" if problems[0].field else problems[0].message
            if len(problems) > 1:
                message = _("an import added a record that does not validate ({problem} and {n} more)").format(
                    problem=first_problem, n=len(problems) - 1)
            else:
                message = _("an import added a record that does not validate ({problem})").format(
                    problem=first_problem)
            out.append(Finding(where, path, message))
        else:
            added += 1
    if added:
        out.append(Finding(where, "", ngettext("{n} record imported as they were (signatures in them predate "
                                               "this store)",
                                               "{n} records imported as they were (signatures in them predate "
                                               "this store)", added).format(n=added), severity=Severity.NOTE))
    return out


def _when_of(value: Any, tz) -> Any:
    """A stored date or date-time as a date (a whole day) or an aware date-time."""
    from datetime import date as Date

    if isinstance(value, datetime) or (isinstance(value, str) and ("T" in value or " " in value.strip())):
        return values.to_datetime(value, tz)
    if isinstance(value, Date):
        return value
    return values.to_date(value) if isinstance(value, str) else None


def _effect_allows(trailers: dict, after: dict, changed: list[str]) -> bool:
    """Whether the commit's `QMS-Effect:` trailers name this record and the fields changed
    (a move elsewhere may set fields of a record in a final state: destroying the copies of
    an obsolete document, say)."""
    me = f"{after.get('type')}/{after.get('id')} "
    allowed: set[str] = set()
    for effect in trailers.get(Trailer.EFFECT) or ():
        if effect.startswith(me):
            for part in effect[len(me):].split(";"):
                words = part.split()
                if words and words[0] == "set":
                    allowed.update(words[1:])
    return bool(allowed) and all(k in allowed or k.split(".")[0] in allowed for k in changed)


BACK_ENTRY_DAYS = 30  # how long after the act a paper record may be entered (audit.back_entry_days)


def _check_record(c, where, path, rt, before, after, cfg, day, trailers, fetch=None) -> tuple[list[Finding], bool]:
    """The findings of one record's change, and whether it added a signature."""
    out = []
    old_state = before.get("state") if isinstance(before, dict) else None
    new_state = after.get("state")
    old_sigs = values.signatures(before) if isinstance(before, dict) else []
    new_sigs = values.signatures(after)
    old_leaves, new_leaves = _leaves(before or {}), _leaves(after)
    changed = sorted(k for k in old_leaves.keys() | new_leaves.keys() if old_leaves.get(k) != new_leaves.get(k))
    named = _listed(changed, 6)
    final = old_state in rt.workflow.states and rt.workflow.states[old_state].final
    if final and changed and not _effect_allows(trailers, after, changed):
        out.append(Finding(where, path, _("a record in the final state '{state}' was changed ({fields}): "
                                          "such a record is never edited").format(state=old_state, fields=named)))
        return out, False
    if Trailer.ACTION not in trailers:
        free_text = before is not None and old_state == new_state and old_sigs == new_sigs and all(
            (spec := rt.field(k)) is not None and spec.type == "text" for k in changed
        )
        if free_text:
            if named:
                message = _("hand edit of {fields} by {author}").format(fields=named, author=c.author)
            else:
                message = _("hand edit of layout by {author}").format(author=c.author)
            out.append(Finding(where, path, message, severity=Severity.NOTE))
        elif changed:
            out.append(Finding(where, path, _("record changed without qms trailers ({fields})").format(fields=named)))
        else:
            out.append(Finding(where, path, _("record changed without qms trailers")))
        return out, new_sigs[: len(old_sigs)] == old_sigs and len(new_sigs) > len(old_sigs)
    if before is None:
        if new_state != rt.workflow.initial:
            out.append(Finding(where, path, _("created in state '{state}', not '{initial}'").format(
                state=new_state, initial=rt.workflow.initial)))
    elif old_state != new_state:
        move = rt.workflow.move(old_state, new_state)
        if move is None:
            out.append(Finding(where, path, _("{source} -> {target} is not a move of {type}").format(
                source=old_state, target=new_state, type=rt.name)))
        elif move.sign and not any(isinstance(sig, dict) and sig.get("to") == new_state and sig.get("from") == old_state
                                   for sig in new_sigs[len(old_sigs):]):
            out.append(Finding(where, path, _("{source} -> {target} without the '{signature}' signature "
                                              "that move needs").format(source=old_state, target=new_state,
                                                                        signature=move.sign)))
    if new_sigs[: len(old_sigs)] != old_sigs:
        out.append(Finding(where, path, _("earlier signatures were changed or removed")))
    window = cfg.audit.back_entry_days
    window = BACK_ENTRY_DAYS if window is None else window
    # the events a signature may not precede: the record's own date, then each earlier act
    tz = cfg.tz
    start = _when_of(values.get(after, rt.numbering_date), tz) if rt.numbering_date else None
    last = start
    for sig in old_sigs:
        moment = values.acted(sig, tz)
        if moment is not None and (last is None or values.later(moment, last, tz)):
            last = moment
    committed = datetime.fromisoformat(c.date)
    # whose department's head may sign, as the write path decides it (a record it names is
    # read as the store holds it now)
    department = None
    if len(new_sigs) > len(old_sigs):
        try:
            department = department_of(cfg, rt, after, fetch)
        except QmsError:
            pass
    for sig in new_sigs[len(old_sigs):]:
        if not isinstance(sig, dict):
            continue
        meaning = sig.get("meaning")
        email = str(sig.get("email", ""))
        if email.lower() != c.email.lower():
            out.append(Finding(where, path, _("signature '{meaning}' names {email}, but the commit is by {author}")
                               .format(meaning=meaning, email=email, author=c.email)))
        at = values.to_datetime(sig.get("at"), cfg.tz)
        # a rebase or amend re-dates the commit; qms sync's replay keeps the time it had
        for stamp in dict.fromkeys([c.date, _synced_time(c, trailers) or c.committer_date or c.date]):
            when = _when(stamp)
            if at is not None and when is not None and abs((at - when).total_seconds()) > 60:
                out.append(Finding(where, path, _("signature time {time} is not the commit time {commit_time}")
                                   .format(time=at.isoformat(), commit_time=stamp)))
                break
        acted = values.acted(sig, tz)
        if acted is not None and last is not None and values.later(last, acted, tz):
            if last is start:
                message = _("signature '{meaning}' is dated {time}, before {field} {field_time}").format(
                    meaning=meaning, time=values.shown_time(acted, tz), field=rt.numbering_date,
                    field_time=values.shown_time(last, tz))
            else:
                message = _("signature '{meaning}' is dated {time}, before an earlier act ({earlier})").format(
                    meaning=meaning, time=values.shown_time(acted, tz), earlier=values.shown_time(last, tz))
            out.append(Finding(where, path, message))
        on = values.paper_time(sig, tz)
        sig_day = day
        if on is not None:
            sig_day = values.day_of(on, tz)
            late = (committed.astimezone(tz).date() - sig_day).days
            if late > window:
                out.append(Finding(where, path, _("signature '{meaning}' entered afterwards {late} days after the "
                                                  "act ({time}); the store allows {window} (audit.back_entry_days)")
                                   .format(meaning=meaning, late=late, time=values.shown_time(on, tz), window=window)))
        if acted is not None and (last is None or values.later(acted, last, tz)):
            last = acted
        roles = [r.strip() for r in str(sig.get("role") or "").split("|") if r.strip()]
        if roles and held_role(cfg, roles, email, sig_day, department) is None:
            if department and held_role(cfg, roles, email, sig_day) is not None:
                message = _("{email} did not hold the role {roles} for department '{department}' on {day} "
                            "(signature '{meaning}')").format(email=email, roles=_either(roles), department=department,
                                                            day=sig_day, meaning=meaning)
            else:
                message = _("{email} did not hold the role {roles} on {day} (signature '{meaning}')").format(
                    email=email, roles=_either(roles), day=sig_day, meaning=meaning)
            out.append(Finding(where, path, message))
    return out, len(new_sigs) > len(old_sigs)


RULE_KEYS = ("roles", "approvals", "time_limits", "numbering", "site_in_numbers", "types", "audit",
             "require_signed_commits", "calendar")


def _check_rules_change(c, where, old_cfg, new_cfg, day, paths: list[str], trailers) -> list[Finding]:
    """Where the rules before a commit name an admin role (`audit: {rules_signed_by: ROLE}`),
    the rules (roles, approvals, time limits, numbering, the store's types/, reports/ and
    templates/) are changed only by a holder of that role that day, and the roles only with
    `qms role` (a hand change to them is a finding). Removing the guard is judged by the
    rules before it, like any other change."""

    if old_cfg is None:
        return []
    needed = guard(old_cfg)
    if not needed:
        return []
    keys = [k for k in RULE_KEYS if "qms.yaml" in paths and old_cfg.rule(k) != new_cfg.rule(k)]
    files = [p for p in paths if p != "qms.yaml"]
    if not keys and not files:
        return []
    role = old_cfg.roles.get(needed)
    if not (role and role.held_by(c.email, day)):
        if keys == ["roles"] and not files:
            message = _("roles changed by {email}, who does not hold '{role}'").format(email=c.email, role=needed)
        else:
            what = _and_more(keys + files[:3], len(files) - 3)
            message = _("the rules ({rules}) changed by {email}, who does not hold '{role}'").format(
                rules=what, email=c.email, role=needed)
        return [Finding(where, "qms.yaml" if keys else files[0], message)]
    action = (trailers.get(Trailer.ACTION) or [""])[0]
    out = []
    if "roles" in keys and not action.startswith("role "):
        out.append(Finding(where, "qms.yaml", _("roles changed by hand by {email}: roles change only with "
                                                "`qms role grant|revoke`, one signed commit each").format(email=c.email)))
    others = [k for k in keys if k != "roles"] + files
    if others and not action.startswith("rules "):
        out.append(Finding(where, "qms.yaml" if keys and keys != ["roles"] else files[0] if files else "qms.yaml",
                           _("the rules ({rules}) changed by hand by {email}: the rules change only with "
                             "`qms rules commit`, signed by a holder of '{role}'").format(
                               rules=_listed(others, 4), email=c.email, role=needed)))
    return out


PRINCIPAL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+")  # an e-mail that cannot add principals or options
SSH_KEY = re.compile(r"(ssh-(ed25519|rsa|dss)|ecdsa-sha2-\S+|sk-\S+) [A-Za-z0-9+/=]+")


def _keys_of(cfg) -> dict[str, list[str]]:
    """The signing keys qms.yaml lists, by holder e-mail (lower case): SSH public keys and
    GPG fingerprints (`key:` of a holder)."""
    out: dict[str, list[str]] = {}
    for role in cfg.roles.values() if cfg is not None else ():
        for h in role.holders:
            if h.keys:
                out.setdefault(h.email.lower(), []).extend(h.keys)
    return out


def _check_keys(root: Path, signing, config_of) -> list[Finding]:
    """Each commit that signs is signed with a key qms.yaml (as it stood before the commit)
    lists for the signer: SSH keys through git's own verification against an allowed-signers
    file made from that qms.yaml, GPG keys by their fingerprint."""
    import tempfile

    out: list[Finding] = []
    groups: dict[str | None, list[tuple[str, str, str]]] = {}
    for sha, where, email, blob in signing:
        groups.setdefault(blob, []).append((sha, where, email))
    with tempfile.TemporaryDirectory(prefix="qms-audit-") as tmp:
        for n, (blob, items) in enumerate(groups.items()):
            keys = _keys_of(config_of(blob))
            allowed = Path(tmp) / f"allowed-{n}"
            allowed.write_text("".join(f'{email} namespaces="git" {m.group(0)}\n' for email, ks in keys.items()
                                       if PRINCIPAL.fullmatch(email)
                                       for k in ks if (m := SSH_KEY.match(k))), encoding="utf-8")
            verdict = {}
            text = _git(root, "-c", f"gpg.ssh.allowedSignersFile={allowed}", "log", "--no-walk=unsorted", "--stdin",
                        "--format=%H%x1f%G?%x1f%GF%x1f%GS", input="\n".join(sha for sha, _where, _email in items) + "\n")
            for line in text.splitlines():
                parts = line.split("\x1f")
                if len(parts) == 4:
                    verdict[parts[0]] = parts[1:]
            for sha, where, email in items:
                status, fingerprint, signer = verdict.get(sha, ["N", "", ""])
                listed = keys.get(email.lower(), [])
                ssh = [k for k in listed if SSH_KEY.match(k)]
                gpg = [re.sub(r"\s", "", k).upper() for k in listed if not SSH_KEY.match(k)]
                if status not in ("G", "U"):
                    continue  # unsigned: _check_signed names it
                if not listed:
                    out.append(Finding(where, "", _("signed, but qms.yaml lists no signing key for {email}: the key "
                                                    "is not tied to the signer").format(email=email), severity=Severity.NOTE))
                elif ssh and status == "G" and signer.lower() == email.lower():
                    continue
                elif gpg and fingerprint and any(fingerprint.upper().endswith(k[-16:]) for k in gpg if k):
                    continue
                else:
                    if fingerprint:
                        message = _("signed with a key ({fingerprint}) that qms.yaml does not list for {email}, "
                                    "whose signature the commit carries").format(fingerprint=fingerprint, email=email)
                    else:
                        message = _("signed with a key (unknown) that qms.yaml does not list for {email}, whose "
                                    "signature the commit carries").format(email=email)
                    out.append(Finding(where, "", message))
    return out


def _check_signed(store, since) -> list[Finding]:
    if not store.config.require_signed_commits:
        return []
    rng = [f"{since}..HEAD"] if since else ["HEAD"]
    out = []
    log = _git(store.root, "log", "--format=%H %G? %ae", *rng, "--", RECORDS, "qms.yaml")
    for line in log.splitlines():
        sha, status, email = (line.split() + ["", "", ""])[:3]
        if status not in ("G", "U"):
            out.append(Finding(f"commit {sha[:10]} ({email})", "",
                               _("not signed or the signature cannot be verified ({status})").format(status=status)))
    return out


ANCHORS_LIMIT = 16 * 1024 * 1024


def _read_anchors(store) -> str | None:

    if not os.path.lexists(store.root / ANCHORS):
        return None
    raw = safefs.read_bytes(store.root, ANCHORS, ANCHORS_LIMIT, what=_("the anchors file"))
    return raw.decode("utf-8", "replace")


def _anchor_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def _check_anchors_change(c: Commit, where: str, ch: Change, blobs: _Blobs,
                          anchored: list[tuple[str, str]]) -> list[Finding]:
    """Anchors only ever grow: a commit may add lines to the anchors file, never change,
    remove or move them."""
    if ch.status == "D" or (ch.status == "R" and ch.new_path != ANCHORS):
        return [Finding(where, ANCHORS, _("the anchors file was deleted (anchors only ever grow)"))]
    old = blobs.read(ch.old_blob) if ch.status != "A" else b""
    new = blobs.read(ch.new_blob)
    if old is _Blobs.TOO_BIG or new is _Blobs.TOO_BIG or new is None:
        return [Finding(where, ANCHORS, _("the anchors file is too large to read"))]
    old_lines = _anchor_lines((old or b"").decode("utf-8", "replace"))
    new_lines = _anchor_lines(new.decode("utf-8", "replace"))
    for line in new_lines:
        anchored.append((line.split()[0], f"{ANCHORS} in {c.sha[:10]}"))
    if new_lines[: len(old_lines)] != old_lines:
        gone = next((o for o, n in zip(old_lines + [""], new_lines + [""]) if o != n), "")
        return [Finding(where, ANCHORS, _("an anchor was removed or changed ('{anchor}'): anchors only ever grow")
                        .format(anchor=gone.split()[0] if gone else ""))]
    return []


def _history(root: Path) -> set[str]:
    return set(_git(root, "rev-list", "HEAD").split())


def _check_anchors(store, anchored: list[tuple[str, str]], anchors_from: str | None = None) -> list[Finding]:
    """Every commit ever anchored (in any version of the anchors file, in the working
    copy, and outside this clone with --anchors-from) is still in the history."""
    out: list[Finding] = []
    wanted: list[tuple[str, str, int | None]] = [(sha, src, None) for sha, src in anchored]
    try:
        text = _read_anchors(store)
    except QmsError as e:
        return [Finding(ANCHORS, "", e.message)]
    if text is not None:
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip() and not line.startswith("#"):
                wanted.append((line.split()[0], ANCHORS, n))
        head = _head_anchors(store)
        if head is not None and _anchor_lines(text)[: len(head)] != head:
            out.append(Finding(ANCHORS, "", _("the anchors file differs from the committed one in lines already "
                                              "anchored: anchors only ever grow")))
    elif _head_anchors(store):
        out.append(Finding(ANCHORS, "", _("the committed anchors file is missing from the working copy")))
    if anchors_from:
        found, problems = _outside_anchors(store, anchors_from)
        out.extend(problems)
        wanted.extend(found)
    if not wanted:
        return out
    history = _history(store.root)
    seen = set()
    for sha, src, line in wanted:
        if (sha, src) in seen:
            continue
        seen.add((sha, src))
        if not re.fullmatch(r"[0-9a-f]{40}([0-9a-f]{24})?", sha):
            out.append(Finding(src, "", _("'{value}' is not a commit id").format(value=sha[:60]), line=line))
        elif sha not in history:
            out.append(Finding(src, "", _("anchored commit {commit} is no longer in the history: "
                                          "history was rewritten after it was anchored").format(commit=sha[:10]),
                               line=line))
    return out


def _head_anchors(store) -> list[str] | None:
    try:
        text = _git(store.root, "cat-file", "-p", f"HEAD:{ANCHORS}")
    except QmsError:
        return None
    return _anchor_lines(text)


TAG_PREFIX = "qms-anchor-"


def _outside_anchors(store, source: str) -> tuple[list[tuple[str, str, int | None]], list[Finding]]:
    """Anchors kept outside this clone: a file (as CI keeps it) or a remote's anchor tags.
    A tag of this clone that points elsewhere than the remote's is a finding."""

    if source.startswith("-"):
        raise BadInput(_("--anchors-from {source}: expected a remote (such as origin) or a file").format(
            source=quote(source)))
    path = Path(source).expanduser()
    if path.is_file():
        try:
            raw = safefs.read_bytes(path.parent, path.name, ANCHORS_LIMIT, what=_("the anchors file"))
        except QmsError as e:
            raise BadInput(f"--anchors-from {source}: {e.message}") from None  # not a sentence: the option, then the reason
        lines = raw.decode("utf-8", "replace").splitlines()
        return [(ln.split()[0], source, n) for n, ln in enumerate(lines, 1)
                if ln.strip() and not ln.startswith("#")], []
    try:
        listing = _git(store.root, "ls-remote", "--tags", source, f"refs/tags/{TAG_PREFIX}*")
    except QmsError as e:
        raise BadInput(_("--anchors-from {source}: neither a file nor a remote git can read ({error})").format(
            source=source, error=e.message.splitlines()[0])) from None
    remote: dict[str, str] = {}
    for line in listing.splitlines():
        sha, _sep, ref = line.partition("\t")
        name = ref.removeprefix("refs/tags/")
        if name.endswith("^{}"):
            remote[name[:-3]] = sha  # the commit an annotated tag points to
        else:
            remote.setdefault(name, sha)
    local = {}
    for line in _git(store.root, "for-each-ref", "--format=%(refname:short) %(*objectname) %(objectname)",
                     f"refs/tags/{TAG_PREFIX}*").splitlines():
        parts = line.split()
        if len(parts) >= 2:
            local[parts[0]] = parts[1] if len(parts) == 3 else parts[-1]
    problems = [Finding(f"tag {name}", "", _("points to {here} here but to {there} on {source}: the tag was moved")
                        .format(here=local[name][:10], there=sha[:10], source=source))
                for name, sha in sorted(remote.items()) if name in local and local[name] != sha]
    history = _history(store.root)
    found = []
    for name, sha in sorted(remote.items()):
        if sha not in history and _behind(store.root, source, name, sha):
            problems.append(Finding(f"tag {name} on {source}", "", _("anchors {commit}, which this clone has not "
                                                                     "fetched yet: pull, then audit again")
                                    .format(commit=sha[:10]), severity=Severity.NOTE))
            continue
        found.append((sha, f"tag {name} on {source}", None))
    return found, problems


def _behind(root: Path, source: str, name: str, sha: str) -> bool:
    """Whether the anchored commit lies ahead of this clone (it has not pulled it yet),
    rather than off its history: fetched by the tag (into FETCH_HEAD only), then asked."""
    try:
        _git(root, "fetch", "-q", "--no-tags", source, f"refs/tags/{name}")
    except QmsError:
        return False
    p = subprocess.run(["git", "merge-base", "--is-ancestor", "HEAD", sha], cwd=root, capture_output=True)
    return p.returncode == 0


def anchor(store) -> tuple[str, list[str]]:
    """Record the current head in qms-anchors.txt (one commit) and as an annotated tag
    (signed where the store signs), pushed where the store has a remote, so that the
    anchor is witnessed outside this clone. Returns the head and what was done."""

    sign = store.config.require_signed_commits
    with lock.store_lock(store.root):
        head = _git(store.root, "rev-parse", "HEAD").strip()
        who = gitops.actor(store.root)
        safefs.check_writable(store.root, ANCHORS)
        text = _read_anchors(store) or (
            "# Commits anchored by `qms audit --anchor`: each must stay in the history.\n")
        text += f"{head} {who.when.isoformat()} {who.email}\n"
        atomic_write(store.root / ANCHORS, text)
        gitops.commit(store.root, [ANCHORS], f"qms: anchor {head[:10]}\n\nQMS-Action: anchor {head}\n",
                      sign=sign, track=lock.git_pid_file(store.root))
        tag = TAG_PREFIX + who.when.astimezone().strftime("%Y%m%d-%H%M%S") + "-" + head[:10]
        taken = set(_git(store.root, "tag", "-l", f"{tag}*").split())
        n = 2
        while tag in taken:  # the same head anchored twice in one second
            tag = f"{tag.rsplit('.', 1)[0]}.{n}"
            n += 1
        _git(store.root, "tag", "-s" if sign else "-a", "-m", f"qms audit anchor: {head} by {who.email}", tag, head)
    done = [_("anchored {commit} in {file} and as tag {tag}").format(commit=head[:10], file=ANCHORS, tag=tag)]
    remotes = _git(store.root, "remote").split()
    if remotes:
        remote = "origin" if "origin" in remotes else remotes[0]
        try:
            _git(store.root, "push", "-q", remote, f"refs/tags/{tag}")
            done.append(_("pushed tag {tag} to {remote}").format(tag=tag, remote=remote))
        except QmsError as e:
            done.append(_("the tag was not pushed to {remote} ({error}): push it with 'git push {remote} {tag}' so "
                          "that the anchor is witnessed outside this clone").format(
                remote=remote, error=e.message.splitlines()[-1], tag=tag))
    return head, done
