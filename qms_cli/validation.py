"""`qms validate`: every record through RECORD_CHECKS, then STORE_CHECKS over all of them.

What RECORD_CHECKS found in a record is kept in `.qms/cache/` (store/cache.py), keyed by
the record's git blob hash and the blob of every record read while checking it, so a
second run reads only what changed. Records not found there are read and checked on
several processes when there are many of them (qms_cli/parallel.py)."""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from .checks import RECORD_CHECKS, STORE_CHECKS, Context, Loaded, Summary, facts_of, says_in_state
from .errors import BadFile, BadInput, Finding, QmsError, Severity
from .files import safefs, yamlio
from .files.safefs import read_file
from .i18n import N_, _
from .model.rules import ahead_of_now
from .parallel import map_many
from .paths import FILES
from .store import NOT_UTF8
from .store.cache import Cache, facts_key, fingerprint
from .store.git import blob_id
from .text import CONTROL, printable


@dataclass
class Result:
    """What a validate run found, how many record files the store has, and how many were
    checked afresh (the others as last seen)."""

    findings: list[Finding]
    records: int  # record files in the store
    examined: int  # records read and checked afresh (the others were as last seen)


class _OnDisk:
    """(type, id) -> another record's data, read on first use; remembers each file's blob
    so that a finding depending on it is kept only while the file stays the same."""

    def __init__(self, where: dict[tuple[str, str], str]):
        self.where = where
        self.memo: dict[tuple[str, str], tuple[Any, str | None]] = {}

    def get(self, key, default=None):
        """A record's data by (type, ID), `default` if it is not there or cannot be read."""
        if key not in self.memo:
            self.memo[key] = self._read(key)
        data = self.memo[key][0]
        return default if data is None else data

    def blob(self, key) -> str | None:
        """The blob id of the record's file as read, None if it could not be read."""
        self.get(key)
        return self.memo[key][1]

    def _read(self, key) -> tuple[Any, str | None]:

        path = self.where.get(key)
        if path is None:
            return None, None
        try:
            raw = read_file(path, yamlio.MAX_BYTES + 1)
        except QmsError:
            return None, None
        try:
            return yamlio.parse(yamlio.decode(raw, path), path), blob_id(raw)
        except QmsError:
            return None, blob_id(raw)


# What validate looks through for links besides records/: everything qms reads or writes
# in a store. A link found is a finding; qms never follows one.
LINKED_PLACES = ("qms.yaml", FILES, "templates", "types", "reports", "schemas", ".qms", "qms-anchors.txt")


def _links(store, found: list[str]) -> list[Finding]:

    for place in LINKED_PLACES:
        found.extend(safefs.links_under(store.root, place))
    return [Finding(rel, "", _("{problem}; replace it with the file or folder itself").format(problem=_(safefs.LINK)))
            for rel in sorted(set(found))]


def _lines(findings: list[Finding], text: str | None) -> list[Finding]:
    """Findings pointed at the line a person edits (a missing field: its parent's line)."""

    if not findings or text is None:
        return findings
    lines = yamlio.field_lines(text)
    out = []
    for f in findings:
        if f.line is None:
            line = lines.get(f.field)
            parts = f.field.split(".")
            while line is None and len(parts) > 1:
                parts.pop()
                line = lines.get(".".join(parts))
            if line is None:  # a whole group missing: point at what requires it
                line = lines.get("state") if says_in_state(f.message) else lines.get("id")
            f = Finding(f.source, f.field, f.message, line, f.severity)
        out.append(f)
    return out


def _examine(job: tuple[str, str, str], ctx: Context) -> tuple[str, str | None, dict]:
    """Read one record and run RECORD_CHECKS on it: what the cache keeps of it."""

    tname, rel, path = job
    entry: dict = {"facts": None, "fkey": facts_key(None)}  # facts: None when it cannot be read
    try:
        raw = read_file(path, yamlio.MAX_BYTES, source=rel, what=N_("a record"))
    except BadFile as e:
        entry["findings"] = [["", e.problem, None, "error"]]
        return rel, None, entry
    blob = blob_id(raw)
    try:
        if tname not in ctx.types:
            ctx.types[tname] = ctx.store.record_type(tname)
        text = yamlio.decode(raw, rel)
        data = yamlio.parse(text, rel)
    except BadFile as e:
        entry["findings"] = [["", e.problem, e.line, "error"]]
        return rel, blob, entry
    except QmsError as e:
        entry["findings"] = [["", e.message, None, "error"]]
        return rel, blob, entry
    loaded = Loaded(tname, rel, data, plain_text="\\" not in text and not CONTROL.search(text))
    ctx.used = set()
    try:
        found = [f for check in RECORD_CHECKS for f in check([loaded], ctx)]
        used = sorted(ctx.used)
    finally:
        ctx.used = None
    if found:
        entry["findings"] = [[f.field, f.message, f.line, f.severity] for f in _lines(found, text)]
    if used:
        entry["deps"] = [[t, i, ctx.by_id.blob((t, i))] for t, i in used]
    entry["facts"] = facts_of(ctx.types[tname], loaded)
    entry["fkey"] = facts_key(entry["facts"])
    return rel, blob, entry


def _examine_all(jobs: list[tuple[str, str, str]], ctx: Context) -> list[tuple[str, str | None, dict]]:

    return map_many(lambda job: _examine(job, ctx), jobs)


def _check(jobs: list[tuple[str, str, str]], ctx: Context, kept: Cache, entries: dict[str, dict],
           blob_of: dict[str, str | None]) -> int:
    """Read and check the records `jobs` names, put what was found in `entries` and keep
    it in the cache; how many were read."""
    if not jobs:
        return 0
    for tname in {j[0] for j in jobs}:  # loaded once, before any worker starts
        if tname not in ctx.types:
            try:
                ctx.types[tname] = ctx.store.record_type(tname)
            except QmsError:
                pass  # each record of the type says why
    for rel, blob, entry in _examine_all(jobs, ctx):
        entries[rel] = entry
        # a time found to lie ahead of now stops being so as the clock runs: asked afresh
        if blob and blob == blob_of.get(rel) and not any(ahead_of_now(str(f[1])) for f in entry.get("findings", ())):
            kept.keep(rel, blob, entry)
    return len(jobs)


def _select(store, files: list, targets: list[str], links: list[str]) -> tuple[list, list[str]]:
    """The record files `targets` names (IDs, files or folders), in listing order, and the
    links among records it names (reported, never read)."""
    chosen: set[str] = set()
    named_links: set[str] = set()
    for t in targets:
        if "/" in t or t.endswith(".yaml"):
            p = os.path.realpath(store.root / t)
            match = [f[1] for f in files if (q := os.path.realpath(f[2])) == p or q.startswith(p + os.sep)]
            lmatch = [rel for rel in links if (q := os.path.abspath(store.root / rel)) == os.path.abspath(store.root / t)
                      or q.startswith(p + os.sep)]
        else:
            match = [f[1] for f in files if f[1].endswith(f"/{t}.yaml")]
            lmatch = [rel for rel in links if rel.endswith(f"/{t}.yaml")]
        if not match and not lmatch:
            raise BadInput(_("{target}: no such record in the store (expected a record ID or a path under records/)").format(
                target=t))
        chosen.update(match)
        named_links.update(lmatch)
    return [f for f in files if f[1] in chosen], sorted(named_links)


def run(store, targets: list[str], *, strict: bool = False, cache: bool = True) -> Result:
    """Validate the store, or the records `targets` names, and say how much was checked
    afresh; a qms.yaml qms cannot run on is the one finding. With `strict`, warnings count
    as errors; a target naming no record is refused (BadInput)."""
    try:
        config = store.config
        type_names = set(config.type_names())
    except QmsError as e:  # a qms.yaml qms cannot run on: the one finding (named once)
        message = e.message.removeprefix("qms.yaml: ")
        return Result([Finding("qms.yaml", "", message)], 0, 0)
    files = store.listing(stat=True)  # (type, rel, path, stat)
    links = list(store.linked)
    selected, named_links = _select(store, files, targets, links) if targets else (files, links)

    kept = Cache(store.root, fingerprint(store.root), read=cache)
    known: dict[str, set[str]] = defaultdict(set)
    where: dict[tuple[str, str], str] = {}
    blobs_now: dict[tuple[str, str], str | None] = {}
    blob_of: dict[str, str | None] = {}
    for tname, rel, path, st in files:
        key = (tname, rel[rel.rfind("/") + 1 : -5])
        known[tname].add(key[1])
        blob_of[rel] = blob = kept.blob(rel, path, st)
        if key not in where:
            where[key] = path
            blobs_now[key] = blob

    findings: list[Finding] = []
    if not targets:  # every type the store runs is checked, whether it has records or not
        if kept.declarations is None:  # else as the last run found them: qms, qms.yaml and types/ are the same
            kept.declarations = []
            for tname in sorted(type_names):
                try:
                    store.record_type(tname)
                except QmsError as e:
                    local = f"types/{tname}.yaml"
                    kept.declarations.append([local if (store.root / local).exists() else "qms.yaml", e.message])
            local_types = store.root / "types"
            if local_types.is_dir() and not local_types.is_symlink():  # what type_names() could not take
                kept.declarations += [[f"types/{printable(p.name)}", _(NOT_UTF8)] for p in sorted(local_types.glob("*.yaml"))
                                      if printable(p.name) != p.name]
            kept.changed = True
        findings.extend(Finding(str(d[0]), "", str(d[1])) for d in kept.declarations
                        if isinstance(d, list) and len(d) == 2)
    entries: dict[str, dict] = {}
    jobs = []
    for tname, rel, path, _stat in selected:
        if tname not in type_names:
            findings.append(Finding(rel, "type", _("records/{type}/ is not a record type's folder").format(type=tname)))
            continue
        blob = blob_of[rel]
        old = kept.entry(rel, blob, blobs_now) if blob else None
        if old is not None:
            entries[rel] = old
        else:
            jobs.append((tname, rel, path))
    ctx = Context(
        root=store.root, types={}, known=known, store=store, by_id=_OnDisk(where),
        file_kind=kept.kind, sha256=kept.sha256,
    )
    examined = _check(jobs, ctx, kept, entries, blob_of)
    # the store-wide checks read only the records' facts, the IDs in the store and the
    # attached files: while all of those are as last time, so is what they find (the key
    # of a record's facts: as checked this run, else as kept)
    key = None
    if not targets:
        h = hashlib.sha1()
        records, none = kept.records, ("", "", "")
        h.update("\n".join(f"{rel}\t{(entries[rel].get('fkey') or records.get(rel, none)[2]) if rel in entries else ''}"
                           for _t, rel, _p, _s in files).encode())
        key = h.hexdigest()
    across = kept.across_kept(key) if key else None
    if across is not None:
        across = [Finding(*f) for f in across]
    else:
        summaries, lost = [], []
        for tname, rel, path, _stat in selected:
            entry = entries.get(rel)
            if entry is None:
                continue
            known_facts, facts = (True, entry["facts"]) if "facts" in entry else kept.facts_of(rel, blob_of[rel])
            if not known_facts:
                lost.append((tname, rel, path))
        if lost:  # facts.json did not have them: read those records again
            examined += _check(lost, ctx, kept, entries, blob_of)
        for tname, rel, _path, _stat in selected:
            entry = entries.get(rel)
            if entry is None:
                continue
            facts = entry["facts"] if "facts" in entry else kept.facts_of(rel, blob_of[rel])[1]
            if facts is not None:
                summaries.append(Summary(tname, rel, facts))
        kinds: dict[str, str] = {}
        digests: dict[str, str | None] = {}

        def file_kind(rel: str) -> str:
            kinds[rel] = kept.kind(rel)
            return kinds[rel]

        def sha256(rel: str) -> str | None:
            if rel not in digests:
                digests[rel] = kept.sha256(rel)
            return digests[rel]

        ctx.file_kind, ctx.sha256 = file_kind, sha256
        across = [f for check in STORE_CHECKS for f in check(summaries, ctx)]
        if key:
            kept.across = {"key": key, "kinds": kinds, "sha256": digests,
                           "findings": [[f.source, f.field, f.message, f.line, f.severity.value] for f in across]}
    for tname, rel, _path, _stat in selected:
        entry = entries.get(rel)
        if entry is not None:
            findings.extend(Finding(rel, field, message, line, severity)
                            for field, message, line, severity in entry.get("findings", ()))
    by_source: dict[str, list[Finding]] = defaultdict(list)
    for f in across:
        by_source[f.source].append(f)
    for rel, group in by_source.items():
        try:
            text = yamlio.decode(yamlio.read(store.root / rel, rel, store.root), rel)
        except QmsError:
            text = None
        findings.extend(_lines(group, text))
    if targets:  # only the links among the records named
        findings.extend(Finding(rel, "", _("{problem}; replace it with the file or folder itself").format(problem=_(safefs.LINK)))
                        for rel in named_links)
    else:
        findings.extend(_links(store, links))
        findings.extend(Finding(rel, "", _(NOT_UTF8)) for rel in store.misnamed)
    kept.save(complete=not targets)
    if strict:
        findings = [Finding(f.source, f.field, f.message, f.line, Severity.ERROR) if f.severity is Severity.WARNING else f
                    for f in findings]
    for w in config.calendar.warnings:
        findings.append(Finding("qms.yaml", "calendar", w, severity=Severity.WARNING))
    # qms.yaml is text printed on every form and list: the same rule as records
    findings.extend(Finding("qms.yaml", path, message) for path, message in config.text_problems)
    findings.sort(key=lambda f: (f.source, f.line or 0, f.field))
    return Result(findings, len(files), examined)


def validate(store, targets: list[str] = (), *, strict: bool = False, cache: bool = True) -> list[Finding]:
    """Findings for the whole store, or for the records `targets` names (IDs or paths).
    With `strict`, warnings count as errors."""
    return run(store, list(targets), strict=strict, cache=cache).findings
