"""`qms audit`: the store's git history as an audit trail, checked.

Every commit that changes a record is read with the record before and after it: a
commit without qms trailers, a state change that is not a move of the workflow, a
signature not made by the commit's author or by someone who did not hold the role that
day (by the qms.yaml of that commit), signatures rewritten, a record deleted or renamed,
roles changed without the required signature, unsigned commits where the store requires
signing, and anchored commits that are no longer in the history. A commit without
trailers that only changes free text is a hand edit: reported as a note, not a finding."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import BadInput, Finding, QmsError
from .model import values

ANCHORS = "qms-anchors.txt"
_SEP, _FLD = "\x1e", "\x1f"


@dataclass
class Commit:
    sha: str
    parents: list[str]
    author: str
    email: str
    date: str
    message: str
    changes: list[tuple[str, str, str | None]]  # (status, path, new path for renames)

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
    p = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, input=input, env=env)
    if p.returncode != 0:
        raise QmsError(f"git {args[0]}: {p.stderr.strip() or 'failed'}")
    return p.stdout


def commits(root: Path, since: str | None) -> list[Commit]:
    fmt = _SEP + _FLD.join(["%H", "%P", "%an", "%ae", "%aI", "%B"]) + _FLD
    rng = [f"{since}..HEAD"] if since else ["HEAD"]
    out = _git(root, "log", "--reverse", "-M", "--name-status", f"--format={fmt}", *rng, "--", "records", "qms.yaml")
    result = []
    for chunk in out.split(_SEP)[1:]:
        parts = chunk.split(_FLD)
        sha, parents, author, email, date, message, rest = (parts + [""] * 7)[:7]
        changes = []
        for line in rest.strip().splitlines():
            cols = line.split("\t")
            if len(cols) >= 2:
                changes.append((cols[0][0], cols[1], cols[2] if len(cols) > 2 else None))
        result.append(Commit(sha, parents.split(), author, email, date, message, changes))
    return result


def _blobs(root: Path, specs: list[str]) -> dict[str, str | None]:
    """Read many `rev:path` at once (git cat-file --batch)."""
    if not specs:
        return {}
    p = subprocess.run(["git", "cat-file", "--batch"], cwd=root, input=("\n".join(specs) + "\n").encode(),
                       capture_output=True)
    data, out, pos = p.stdout, {}, 0
    for spec in specs:
        end = data.index(b"\n", pos)
        header = data[pos:end].decode()
        pos = end + 1
        if header.endswith("missing"):
            out[spec] = None
            continue
        size = int(header.split()[2])
        out[spec] = data[pos:pos + size].decode("utf-8", "replace")
        pos += size + 1
    return out


def _parse(text: str | None, source: str) -> Any:
    from .store import yamlio

    if text is None:
        return None
    try:
        return yamlio.parse(text, source)
    except QmsError:
        return None


def _leaves(data: Any, prefix: str = "") -> dict[str, Any]:
    out = {}
    if isinstance(data, dict):
        for k, v in data.items():
            out.update(_leaves(v, f"{prefix}{k}."))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out.update(_leaves(v, f"{prefix}{i}."))
    else:
        out[prefix[:-1]] = data
    return out


def audit(store, since: str | None = None) -> list[Finding]:
    from .config import Config

    root = store.root
    if since:
        try:
            _git(root, "rev-parse", "--verify", f"{since}^{{commit}}")
        except QmsError:
            raise BadInput(f"--since {since}: not a commit of this store") from None
    history = commits(root, since)
    specs = []
    for c in history:
        parent = c.parents[0] if c.parents else None
        for status, path, new in c.changes:
            if path.startswith("records/") or path == "qms.yaml":
                specs.append(f"{c.sha}:{new or path}")
                if parent:
                    specs.append(f"{parent}:{path}")
    blobs = _blobs(root, specs)
    configs: dict[str, Config] = {}

    def config_at(sha: str | None) -> Config | None:
        if sha is None:
            return None
        key = f"{sha}:qms.yaml"
        if key not in configs:
            text = blobs.get(key)
            if text is None:
                text = _blobs(root, [key]).get(key)
            data = _parse(text, "qms.yaml") if text else None
            configs[key] = Config(root=root, data=data) if data is not None else None  # type: ignore[assignment]
        return configs[key]

    findings: list[Finding] = []
    for c in history:
        where = f"commit {c.sha[:10]} ({c.date[:10]}, {c.email})"
        parent = c.parents[0] if c.parents else None
        if len(c.parents) > 1:
            continue  # a merge: the commits it brings were audited themselves
        trailers = c.trailers
        if (trailers.get("QMS-Action") or [""])[0] == "import":
            findings.append(Finding(where, "", f"{len(c.changes)} files imported as they were (signatures "
                                               f"in them predate this store)", severity="note"))
            continue
        cfg = config_at(c.sha) or store.config
        day = datetime.fromisoformat(c.date).date()
        for status, path, new in c.changes:
            if path == "qms.yaml":
                findings.extend(_check_roles_change(c, where, config_at(parent), cfg, day))
                continue
            if not path.startswith("records/"):
                continue
            if status == "D":
                findings.append(Finding(where, path, "record deleted (records are cancelled, never deleted)"))
                continue
            if status == "R" and Path(path).name != Path(new or "").name:
                findings.append(Finding(where, path, f"record renamed to {new}"))
                continue
            type_name = Path(path).parts[1]
            try:
                rt = cfg.record_type(type_name)
            except QmsError:
                continue  # not a record type's folder: validate reports that
            before = _parse(blobs.get(f"{parent}:{path}") if parent else None, path)
            after = _parse(blobs.get(f"{c.sha}:{new or path}"), path)
            if after is None:
                findings.append(Finding(where, path, "the record cannot be read after this commit"))
                continue
            findings.extend(_check_record(c, where, path, rt, before, after, cfg, day, trailers))
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
        changed = sorted(
            k for k in set(_leaves(before or {})) | set(_leaves(after))
            if _leaves(before or {}).get(k) != _leaves(after).get(k)
        )
        free_text = before is not None and old_state == new_state and old_sigs == new_sigs and all(
            (spec := rt.field(k)) is not None and spec.type == "text" for k in changed
        )
        if free_text:
            out.append(Finding(where, path, f"hand edit of {', '.join(changed) or 'layout'} by {c.author}",
                               severity="note"))
        else:
            out.append(Finding(where, path, "record changed without qms trailers"
                               + (f" ({', '.join(changed[:6])})" if changed else "")))
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


def _check_anchors(store) -> list[Finding]:
    path = store.root / ANCHORS
    if not path.is_file():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        sha = line.split()[0] if line.strip() and not line.startswith("#") else None
        if not sha:
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
    from .store import lock

    with lock.store_lock(store.root):
        head = _git(store.root, "rev-parse", "HEAD").strip()
        who = gitops.actor(store.root)
        path = store.root / ANCHORS
        text = path.read_text(encoding="utf-8") if path.is_file() else (
            "# Commits anchored by `qms audit --anchor`: each must stay in the history.\n")
        text += f"{head} {who.when.isoformat()} {who.email}\n"
        path.write_text(text, encoding="utf-8")
        gitops.commit(store.root, [ANCHORS], f"qms: anchor {head[:10]}\n\nQMS-Action: anchor {head}\n",
                      sign=bool(store.config.data.get("require_signed_commits")))
    return head
