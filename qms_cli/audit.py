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
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import BadInput, Finding, QmsError
from .model import values

ANCHORS = "qms-anchors.txt"
ZERO = "0" * 40
LINK_MODE = "120000"


@dataclass
class Change:
    """One file a commit changed, as `git log --raw` tells it."""

    status: str  # A M D R C T
    path: str
    new_path: str | None  # renames and copies
    old_blob: str | None
    new_blob: str | None
    new_mode: str


@dataclass
class Commit:
    sha: str
    parents: list[str]
    author: str
    email: str
    date: str
    message: str
    changes: list[Change]

    @property
    def trailers(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for line in self.message.splitlines():
            key, sep, value = line.partition(": ")
            if sep and key.startswith("QMS-"):
                out.setdefault(key, []).append(value.strip())
        return out


def _git(root: Path, *args: str, input: str | None = None) -> str:
    import os

    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0")
    p = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, input=input, env=env,
                       encoding="utf-8", errors="replace")
    if p.returncode != 0:
        raise QmsError(f"git {args[0]}: {p.stderr.strip() or 'failed'}")
    return p.stdout


def _raw_change(line: str) -> Change | None:
    # ":100644 100644 <old> <new> M\tpath" or ":... R086\told\tnew"
    head, _, paths = line.partition("\t")
    cols = head[1:].split()
    names = paths.split("\t")
    if len(cols) < 5 or not names or not names[0]:
        return None
    old, new = cols[2], cols[3]
    return Change(cols[4][0], names[0], names[1] if len(names) > 1 else None,
                  None if old == ZERO else old, None if new == ZERO else new, cols[1])


def commits(root: Path, since: str | None) -> list[Commit]:
    """Every commit after `since` (or all), parents first, with the files each changed.
    The fields are split on a marker made afresh for each run, which no commit message
    can hold, so a message cannot forge the files a commit changed."""
    import secrets

    mark = "qms-" + secrets.token_hex(16)
    fmt = f"{mark}c%n%H%n%P%n%an%n%ae%n%aI%n%B{mark}e"
    rng = [f"{since}..HEAD"] if since else ["HEAD"]
    out = _git(root, "-c", "core.quotepath=off", "log", "--reverse", "--topo-order", "-M", "--raw",
               "--no-abbrev", f"--format={fmt}", *rng)
    result = []
    for chunk in out.split(f"{mark}c\n")[1:]:
        head, _, rest = chunk.partition(f"{mark}e")
        lines = head.split("\n", 5)
        sha, parents, author, email, date, message = (lines + [""] * 6)[:6]
        changes = [c for c in (_raw_change(ln) for ln in rest.splitlines() if ln.startswith(":")) if c]
        result.append(Commit(sha, parents.split(), author, email, date, message, changes))
    return result


class _Blobs:
    """Blobs read one at a time from one `git cat-file --batch`: a blob over the record
    size limit is skipped without being held (memory stays bounded by that limit), and
    the last few read are remembered (a record's content after one commit is usually its
    content before its next)."""

    TOO_BIG = object()

    def __init__(self, root: Path, limit: int, keep: int = 64):
        import os

        self.limit = limit
        self.keep = keep
        self.memo: dict[str, Any] = {}
        self.p = subprocess.Popen(["git", "cat-file", "--batch"], cwd=root, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  env=dict(os.environ, GIT_OPTIONAL_LOCKS="0"))

    def read(self, spec: str | None) -> Any:
        """The bytes of a blob (by id, or rev:path), None if there is none, TOO_BIG."""
        if spec is None:
            return None
        if spec in self.memo:
            value = self.memo.pop(spec)
            self.memo[spec] = value
            return value
        assert self.p.stdin is not None and self.p.stdout is not None
        self.p.stdin.write(spec.encode("utf-8", "replace") + b"\n")
        self.p.stdin.flush()
        header = self.p.stdout.readline().split()
        if len(header) < 3 or header[1] != b"blob":
            value = None
            if len(header) >= 3:  # another kind of object: skip its content
                self._skip(int(header[2]) + 1)
        else:
            size = int(header[2])
            if size > self.limit:
                self._skip(size + 1)
                value = self.TOO_BIG
            else:
                value = self.p.stdout.read(size)
                self.p.stdout.read(1)
        self.memo[spec] = value
        if len(self.memo) > self.keep:
            self.memo.pop(next(iter(self.memo)))
        return value

    def _skip(self, n: int) -> None:
        assert self.p.stdout is not None
        while n > 0:
            got = self.p.stdout.read(min(n, 1 << 20))
            if not got:
                break
            n -= len(got)

    def close(self) -> None:
        try:
            if self.p.stdin:
                self.p.stdin.close()
            self.p.wait(timeout=30)
        except (OSError, subprocess.SubprocessError):
            self.p.kill()


def _parse(raw: Any, source: str) -> Any:
    from .store import yamlio

    if raw is None or raw is _Blobs.TOO_BIG:
        return None
    try:
        return yamlio.parse(yamlio.decode(raw, source), source)
    except QmsError:
        return None


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


def audit(store, since: str | None = None) -> list[Finding]:
    from .config import Config
    from .store.yamlio import MAX_BYTES

    root = store.root
    if since:
        try:
            _git(root, "rev-parse", "--verify", f"{since}^{{commit}}")
        except QmsError:
            raise BadInput(f"--since {since}: not a commit of this store") from None
    history = commits(root, since)
    blobs = _Blobs(root, MAX_BYTES)
    configs: dict[str | None, Config | None] = {}
    config_blob: dict[str, str | None] = {}  # commit -> the blob of its qms.yaml

    def config_of(blob: str | None) -> Config | None:
        if blob not in configs:
            data = _parse(blobs.read(blob), "qms.yaml")
            configs[blob] = Config(root=root, data=data) if isinstance(data, dict) else None
        return configs[blob]

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
    try:
        for c in history:
            where = f"commit {c.sha[:10]} ({c.date[:10]}, {c.email})"
            parent = c.parents[0] if c.parents else None
            before_cfg = qms_yaml_at(parent) if parent else None
            now_cfg = before_cfg
            for ch in c.changes:
                if (ch.new_path or ch.path) == "qms.yaml":
                    now_cfg = ch.new_blob
            config_blob[c.sha] = now_cfg
            for ch in c.changes:
                if ch.new_mode == LINK_MODE:
                    findings.append(Finding(where, ch.new_path or ch.path,
                                            "adds a symbolic link: qms never follows links in a store, and a link "
                                            "may point outside it (replace it with the file itself)"))
            if len(c.parents) > 1:
                continue  # a merge: the commits it brings were audited themselves
            trailers = c.trailers
            if (trailers.get("QMS-Action") or [""])[0] == "import":
                findings.append(Finding(where, "", f"{len(c.changes)} files imported as they were (signatures "
                                                   f"in them predate this store)", severity="note"))
                continue
            cfg = config_of(now_cfg) or store.config
            day = datetime.fromisoformat(c.date).date()
            for ch in c.changes:
                status, path, new = ch.status, ch.path, ch.new_path
                if path == "qms.yaml" and status != "D":
                    findings.extend(_check_roles_change(c, where, config_of(before_cfg) if parent else None, cfg, day))
                    continue
                if not path.startswith("records/"):
                    continue
                if status == "D":
                    findings.append(Finding(where, path, "record deleted (records are cancelled, never deleted)"))
                    continue
                if status == "R" and Path(path).name != Path(new or "").name:
                    findings.append(Finding(where, path, f"record renamed to {new}"))
                    continue
                parts = Path(path).parts
                if len(parts) < 3:
                    continue
                try:
                    rt = cfg.record_type(parts[1])
                except QmsError:
                    continue  # not a record type's folder: validate reports that
                before = _parse(blobs.read(ch.old_blob) if status in ("M", "R", "T") and parent else None, path)
                raw_after = blobs.read(ch.new_blob)
                if raw_after is _Blobs.TOO_BIG:
                    findings.append(Finding(where, path, f"the record is over {MAX_BYTES:,} bytes after this commit"))
                    continue
                after = _parse(raw_after, path)
                if not isinstance(after, dict):
                    findings.append(Finding(where, path, "the record cannot be read after this commit"))
                    continue
                findings.extend(_check_record(c, where, path, rt, before, after, cfg, day, trailers))
    finally:
        blobs.close()
    findings.extend(_check_signed(store, since))
    findings.extend(_check_anchors(store))
    return findings


def _check_record(c, where, path, rt, before, after, cfg, day, trailers) -> list[Finding]:
    out = []
    old_state = before.get("state") if isinstance(before, dict) else None
    new_state = after.get("state")
    old_sigs = values.signatures(before) if isinstance(before, dict) else []
    new_sigs = values.signatures(after)
    if "QMS-Action" not in trailers:
        old_leaves, new_leaves = _leaves(before or {}), _leaves(after)
        changed = sorted(k for k in old_leaves.keys() | new_leaves.keys() if old_leaves.get(k) != new_leaves.get(k))
        free_text = before is not None and old_state == new_state and old_sigs == new_sigs and all(
            (spec := rt.field(k)) is not None and spec.type == "text" for k in changed
        )
        named = ", ".join(changed[:6]) + (f" and {len(changed) - 6} more" if len(changed) > 6 else "")
        if free_text:
            out.append(Finding(where, path, f"hand edit of {named or 'layout'} by {c.author}", severity="note"))
        else:
            out.append(Finding(where, path, "record changed without qms trailers" + (f" ({named})" if changed else "")))
        return out
    if before is None:
        if new_state != rt.workflow.initial:
            out.append(Finding(where, path, f"created in state '{new_state}', not '{rt.workflow.initial}'"))
    elif old_state != new_state and rt.workflow.move(old_state, new_state) is None:
        out.append(Finding(where, path, f"{old_state} -> {new_state} is not a move of {rt.name}"))
    if new_sigs[: len(old_sigs)] != old_sigs:
        out.append(Finding(where, path, "earlier signatures were changed or removed"))
    for sig in new_sigs[len(old_sigs):]:
        if not isinstance(sig, dict):
            continue
        email = str(sig.get("email", ""))
        if email.lower() != c.email.lower():
            out.append(Finding(where, path, f"signature '{sig.get('meaning')}' names {email}, but the commit is by {c.email}"))
        at = values.to_datetime(sig.get("at"), cfg.tz)
        committed = datetime.fromisoformat(c.date)
        if at is not None and abs((at - committed).total_seconds()) > 60:
            out.append(Finding(where, path, f"signature time {at.isoformat()} is not the commit time {c.date}"))
        roles = [r.strip() for r in str(sig.get("role") or "").split("|") if r.strip()]
        if roles and not any(r in cfg.roles and cfg.roles[r].held_by(email, day) for r in roles):
            out.append(Finding(where, path, f"{email} did not hold the role {' or '.join(roles)} on {day} "
                                            f"(signature '{sig.get('meaning')}')"))
    return out


def _check_roles_change(c, where, old_cfg, new_cfg, day) -> list[Finding]:
    """When qms.yaml says `audit: {roles_signed_by: management_representative}`, a commit that
    changes roles must be made by a holder of that role (as qms.yaml stood before it)."""
    if old_cfg is None:
        return []
    needed = ((old_cfg.data.get("audit") or {}).get("roles_signed_by")) if isinstance(old_cfg.data, dict) else None
    if not needed or old_cfg.data.get("roles") == new_cfg.data.get("roles"):
        return []
    role = old_cfg.roles.get(needed)
    if role and role.held_by(c.email, day):
        return []
    return [Finding(where, "qms.yaml", f"roles changed by {c.email}, who does not hold '{needed}'")]


def _check_signed(store, since) -> list[Finding]:
    if not store.config.data.get("require_signed_commits"):
        return []
    rng = [f"{since}..HEAD"] if since else ["HEAD"]
    out = []
    log = _git(store.root, "log", "--format=%H %G? %ae", *rng, "--", "records", "qms.yaml")
    for line in log.splitlines():
        sha, status, email = (line.split() + ["", "", ""])[:3]
        if status not in ("G", "U"):
            out.append(Finding(f"commit {sha[:10]} ({email})", "", f"not signed or the signature cannot be verified ({status})"))
    return out


ANCHORS_LIMIT = 16 * 1024 * 1024


def _read_anchors(store) -> str | None:
    from .store import safefs

    if not os.path.lexists(store.root / ANCHORS):
        return None
    raw = safefs.read_bytes(store.root, ANCHORS, ANCHORS_LIMIT, what="the anchors file")
    return raw.decode("utf-8", "replace")


def _check_anchors(store) -> list[Finding]:
    try:
        text = _read_anchors(store)
    except QmsError as e:
        return [Finding(ANCHORS, "", e.message)]
    if text is None:
        return []
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        sha = line.split()[0] if line.strip() and not line.startswith("#") else None
        if not sha:
            continue
        if not re.fullmatch(r"[0-9a-f]{40}([0-9a-f]{24})?", sha):
            out.append(Finding(ANCHORS, "", f"'{sha[:60]}' is not a commit id", line=n))
            continue
        p = subprocess.run(["git", "merge-base", "--is-ancestor", sha, "HEAD"], cwd=store.root, capture_output=True)
        if p.returncode != 0:
            out.append(Finding(ANCHORS, "", f"anchored commit {sha[:10]} is no longer in the history: "
                                            f"history was rewritten after it was anchored", line=n))
    return out


def anchor(store) -> str:
    """Record the current head in qms-anchors.txt (one commit); later audits check that it
    stays in the history."""
    from .store import git as gitops
    from .store import lock, safefs
    from .store.yamlio import atomic_write

    with lock.store_lock(store.root):
        head = _git(store.root, "rev-parse", "HEAD").strip()
        who = gitops.actor(store.root)
        safefs.check_writable(store.root, ANCHORS)
        text = _read_anchors(store) or (
            "# Commits anchored by `qms audit --anchor`: each must stay in the history.\n")
        text += f"{head} {who.when.isoformat()} {who.email}\n"
        atomic_write(store.root / ANCHORS, text)
        gitops.commit(store.root, [ANCHORS], f"qms: anchor {head[:10]}\n\nQMS-Action: anchor {head}\n",
                      sign=bool(store.config.data.get("require_signed_commits")), track=lock.git_pid_file(store.root))
    return head
