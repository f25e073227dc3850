"""Store-wide validation: named pure functions `(records, context) -> findings`, never
raising on the first problem. RECORD_CHECKS look at one record (and what it refers to);
STORE_CHECKS look across records, at each record's facts. `validate()` (qms_cli/validation.py)
reads the records, keeps what it found between runs, and runs every check."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

from ..errors import Finding
from ..i18n import N_, _, language
from ..model import values
from ..model.declaration import RecordType
from ..model.named import NAMED
from ..model.rules import Evaluator


@dataclass
class Context:
    """What checks may look at besides the records: types, files, the set of known IDs."""

    root: Path
    types: dict[str, RecordType]
    known: dict[str, set[str]] = field(default_factory=dict)  # type -> IDs in the store
    file_kind: Callable[[str], str] = lambda rel: "missing"  # safefs.kind: file, link, special, ...
    store: Any = None
    by_id: Any = field(default_factory=dict)  # (type, id) -> data; anything with .get
    sha256: Callable[[str], str | None] = lambda rel: None  # an attached file's digest, None if missing
    used: set | None = None  # when a set: collects the (type, id) of records read while checking
    # a write checks its records as of the day of its act (on paper, 补录, where it was
    # entered afterwards), computed values included; validate checks them as of today
    today: date | None = None
    today_words: str = "today"
    computing: bool = False
    scan: Callable[[str], list] | None = None

    def evaluator(self, rt: RecordType, data: dict):
        """Requirements over this record and the records it refers to (from those read)."""

        def fetch(type_name: str, rid: str):
            """Another record's data by type and ID, noted as read when the checks collect that."""
            if self.used is not None:
                self.used.add((type_name, rid))
            return self.by_id.get((type_name, rid))

        def types(name: str) -> RecordType:
            """The declaration of a record type, loaded from the store on first use."""
            if name not in self.types and self.store is not None:
                self.types[name] = self.store.record_type(name)
            return self.types[name]

        return Evaluator(rt=rt, data=data, types=types, fetch=fetch, tz=self.store.config.tz if self.store else None,
                         now=self.store.now() if self.store else None, today=self.today,
                         today_words=self.today_words, computing=self.computing, scan=self.scan,
                         config=self.store.config if self.store else None)


@dataclass(frozen=True)
class Loaded:
    """A record file as RECORD_CHECKS see it: its type (the folder), its path in the store
    and what it holds."""

    type: str
    path: str
    data: dict
    # the file's text holds no control character and no backslash (so no YAML escape
    # that makes one): no value can hold one, and check_text need not walk them
    plain_text: bool = False


def check_envelope(records: list[Loaded], ctx: Context) -> Iterable[Finding]:
    """The envelope of each record: its ID is its file name, its type its folder, its
    state one of the type's, its signatures a list."""
    for r in records:
        rt = ctx.types[r.type]
        rid = r.data.get("id")
        stem = Path(r.path).stem
        if rid != stem:
            yield Finding(r.path, "id", _("'{id}' does not match the file name '{stem}'").format(id=rid, stem=stem))
        if r.data.get("type") != r.type:
            yield Finding(
                r.path, "type", _("'{given}' but the file is in records/{type}/").format(given=r.data.get("type"), type=r.type)
            )
        state = r.data.get("state")
        if not isinstance(state, str) or state not in rt.workflow.states:
            yield Finding(
                r.path, "state", _("'{state}' is not a state of {type} (expected one of {choices})").format(
                    state=state, type=r.type, choices=", ".join(rt.workflow.states))
            )
        sigs = r.data.get("signatures")
        if sigs is not None and not isinstance(sigs, list):
            yield Finding(r.path, "signatures", _("expected a list of signatures"))


def check_schema(records: list[Loaded], ctx: Context) -> Iterable[Finding]:
    """Every stored field against its declaration (type, values, bounds); a field the type
    does not declare is a warning."""
    for r in records:
        rt = ctx.types[r.type]
        for path, message, severity in values.check_fields(rt.fields, r.data, envelope=True):
            yield Finding(r.path, path, message, severity=severity)


def check_text(records: list[Loaded], ctx: Context) -> Iterable[Finding]:
    """No control characters anywhere (terminal escape sequences, direction overrides):
    qms refuses them at write, and shows escaped whatever a hand edit put there."""
    for r in records:
        if r.plain_text:
            continue
        for path, message in values.text_problems(r.data):
            yield Finding(r.path, path, message)


# what a state's requirement that a record does not meet says (runner.py points it at the
# record's `state:` line when the field is missing altogether)
IN_STATE = N_("{why} in state '{state}'")


def says_in_state(message: str) -> bool:
    """Whether a finding is one of check_state_requirements' (in English or the language
    of the run)."""
    for template in {IN_STATE, _(IN_STATE)}:
        pieces = template.format(why="\0", state="\0").split("\0")
        if re.search(".*?".join(map(re.escape, pieces)), message, re.S):
            return True
    return False


def check_state_requirements(records: list[Loaded], ctx: Context) -> Iterable[Finding]:
    """What each record's state requires of it (with the states it includes); a record in
    no known state is left to check_envelope."""
    for r in records:
        rt = ctx.types[r.type]
        state = r.data.get("state")
        if not isinstance(state, str) or state not in rt.workflow.states:
            continue
        ev = ctx.evaluator(rt, r.data)
        for path, why in ev.unmet(rt.workflow.requirements(state)):
            yield Finding(r.path, path.split(" [")[0], _(IN_STATE).format(why=why, state=state))


def check_named(records: list[Loaded], ctx: Context) -> Iterable[Finding]:
    """The named checks each record's type declares (`checks:`, model/named.py)."""
    for r in records:
        rt = ctx.types[r.type]
        if not rt.checks:
            continue
        ev = ctx.evaluator(rt, r.data)
        for call in rt.checks:
            fn = NAMED.get(call.fn)
            if fn is None:  # refused when the type is loaded; a declaration built otherwise
                continue
            for path, message in fn(ev, *call.args):
                yield Finding(r.path, path, message)


def check_signatures(records: list[Loaded], ctx: Context) -> Iterable[Finding]:
    """Each signature names who, when, and a move the workflow has."""
    for r in records:
        rt = ctx.types[r.type]
        raw = r.data.get("signatures")
        for i, sig in enumerate(raw if isinstance(raw, list) else []):
            if not isinstance(sig, dict):
                yield Finding(r.path, f"signatures.{i}", _("expected meaning, name, email, at, from, to"))
                continue
            created = i == 0 and "from" not in sig and sig.get("to") == rt.workflow.initial
            for key in ("meaning", "email", "at", "to") + (() if created else ("from",)):
                if values.is_empty(sig.get(key)):
                    yield Finding(r.path, f"signatures.{i}.{key}", _("required in a signature"))
            if sig.get("from") and sig.get("to") and rt.workflow.move(sig["from"], sig["to"]) is None:
                yield Finding(
                    r.path, f"signatures.{i}", _("{source} -> {target} is not a move of {type}").format(
                        source=sig["from"], target=sig["to"], type=r.type)
                )
            if "on" in sig:
                yield from _check_paper_time(r, rt, raw, i, sig, ctx)
        sigs = values.signatures(r.data)
        if sigs and sigs[-1].get("to") != r.data.get("state"):
            yield Finding(
                r.path, "state",
                _("'{state}' but the last signed move went to '{target}'").format(
                    state=r.data.get("state"), target=sigs[-1].get("to")),
            )


def _check_paper_time(r: Loaded, rt: RecordType, raw: list, i: int, sig: dict, ctx: Context) -> Iterable[Finding]:
    """A signature entered afterwards (补录) says when the act happened on paper (`on`): a
    date or date-time, not after it was signed (`at`), not before an earlier signed act."""
    tz = ctx.store.config.tz if ctx.store is not None else None
    on = values.paper_time(sig, tz)
    if on is None:
        value = sig.get("on")
        what = (_(values.EXPECTED_PAPER_TIME) if not isinstance(value, (date, datetime))
                else _("expected a date from {first} to {last}").format(first=values.DAY_MIN.year, last=values.DAY_MAX.year))
        yield Finding(r.path, f"signatures.{i}.on", _("{problem} (when the act happened on paper)").format(problem=what))
        return
    earlier = [(_("the '{meaning}' signature (signatures.{index})").format(meaning=s.get("meaning"), index=j), done)
               for j, s in enumerate(raw[:i]) if isinstance(s, dict) and (done := values.acted(s, tz)) is not None]
    problem = values.paper_time_problem(on, values.to_datetime(sig.get("at"), tz or timezone.utc), earlier, tz)
    if problem:
        yield Finding(r.path, f"signatures.{i}.on",
                      _("{time} {problem}; a paper time is when the act happened, "
                        "before it was entered and after the acts before it").format(
                          time=values.shown_time(on, tz), problem=problem))




def facts_of(rt: RecordType, r: Loaded) -> dict:
    """What the store-wide checks need to know of one record: its ID, what it refers to,
    the files it attaches and pins, and its declared unique combinations. Plain lists and
    text, so that they can be kept between runs."""
    refs, files, pins, unique = [], [], [], []
    for path, spec, value in values.walk(rt.fields, r.data):
        if spec.type == "ref" and isinstance(value, str):
            refs.append([path, spec.to or "", value])
        elif spec.type == "file" and isinstance(value, str):
            try:
                values.check_file_path(value)
            except ValueError:
                continue  # reported by check_schema
            files.append([path, value])
    recorded = r.data.get("pins")
    if isinstance(recorded, dict):
        for rel, pinned in recorded.items():
            pins.append([f"pins.{rel}", str(rel), str(pinned), "pins"])
    if r.data.get("state") in rt.pin_in:
        for name, spec in rt.fields.items():
            rel, pinned = r.data.get(name), r.data.get(spec.pin) if spec.pin else None
            if spec.type == "file" and spec.pin and isinstance(rel, str) and pinned:
                pins.append([name, rel, str(pinned), "approved"])
    for fields, replaces in rt.unique:
        if all(values.get(r.data, f) is not None for f in fields):
            key = [str(values.get(r.data, f)) for f in fields]
            unique.append([list(fields), key, _text_or_none(r.data.get(replaces)) if replaces else None,
                           bool(replaces)])
    rid = r.data.get("id")
    facts = {"id": rid if isinstance(rid, str) else None}
    for key, found in (("refs", refs), ("files", files), ("pins", pins), ("unique", unique)):
        if found:  # kept for every record between runs: only what there is
            facts[key] = found
    return facts


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class Summary:
    """A record as the store-wide checks see it: where it is, and its facts."""

    type: str
    path: str
    facts: dict


def check_references(records: list[Summary], ctx: Context) -> Iterable[Finding]:
    """Each reference names a record that is in the store."""
    for r in records:
        for path, to, value in r.facts.get("refs", ()):
            if value not in ctx.known.get(to, set()):
                yield Finding(r.path, path, _("refers to {type} '{id}', which is not in the store").format(type=to, id=value))


def check_files(records: list[Summary], ctx: Context) -> Iterable[Finding]:
    """Each attached file is in the store (what kind of file it is: check_file_kinds)."""
    for r in records:
        for path, value in r.facts.get("files", ()):
            if ctx.file_kind(value) not in ("file", "link", "special"):  # missing, or a folder
                yield Finding(r.path, path, _("attached file '{file}' is not in the store").format(file=value))


def check_file_kinds(records: list[Summary], ctx: Context) -> Iterable[Finding]:
    """Each attached file that is there is a regular file of the store: not a link (nor under
    one), not a device, pipe or socket."""
    for r in records:
        for path, value in r.facts.get("files", ()):
            what = ctx.file_kind(value)
            if what == "link":
                yield Finding(r.path, path, _("attached file '{file}' is (or lies under) a symbolic link; "
                                              "qms does not follow links in a store").format(file=value))
            elif what == "special":
                yield Finding(r.path, path, _("attached file '{file}' is not a regular file (a device, a pipe "
                                              "or a socket)").format(file=value))


def back_links(types: dict[str, RecordType]) -> list[tuple]:
    """The links both ways the declarations keep: (T, F, U, P, many) where a record of T
    naming a record of U in its reference field F is listed by that record's P (a list
    when `many`), as T's effects write it ({P+: "{id}"} or {P: "{id}"}): a complaint's
    `returns`, a return's `capas`, a survey's `capa`, a service's compensations. `many`
    links are written when the record of T is registered (its first state's effects)."""
    out = []
    for t_name, rt in types.items():
        for state, effects in rt.effects.items():
            for effect in effects:
                spec = rt.fields.get(effect.target) if effect.kind == "update" else None
                if spec is None or spec.type != "ref" or not spec.to:
                    continue
                for key, value in effect.set:
                    if value != "{id}":
                        continue
                    many = key.endswith("+")
                    if many and state != rt.workflow.initial:
                        continue  # listed only once it reaches that state: checked one way only
                    out.append((t_name, effect.target, spec.to, key.rstrip("+"), many))
    return out


def check_links(records: list[Summary], ctx: Context) -> Iterable[Finding]:
    """Links both ways agree: a record that lists another (a complaint's returns, a
    survey's CAPA) lists only records that name it back, and a record registered from
    another (a return from its complaint) is listed there."""
    if ctx.store is None:
        return
    types = {name: ctx.store.record_type(name) for name in ctx.store.config.type_names()}
    links = back_links(types)
    if not links:
        return
    lang = language()
    refs: dict[tuple[str, str], dict[str, list[str]]] = {}  # (type, id) -> {path: [ids]}
    where: dict[tuple[str, str], str] = {}
    for r in records:
        rid = r.facts.get("id")
        if not rid:
            continue
        where[(r.type, rid)] = r.path
        by_path: dict[str, list[str]] = {}
        for path, _to, value in r.facts.get("refs", ()):
            base = path.rsplit(".", 1)[0] if path.rsplit(".", 1)[-1].isdigit() else path
            by_path.setdefault(base, []).append(value)
        refs[(r.type, rid)] = by_path
    for t_name, field_, u_name, listing, many in links:
        for (rtype, rid), paths in refs.items():
            if rtype == u_name:  # each record it lists names it back
                for other in paths.get(listing, []):
                    named = refs.get((t_name, other))
                    if named is None:
                        continue  # not in the store: check_references says so
                    back = named.get(field_, [])
                    if rid not in back:
                        yield Finding(where[(rtype, rid)], listing, _(
                            "lists {type} {other}, whose {field} is {back}, not {id}").format(
                            type=t_name, other=other, field=types[t_name].label_of(field_, lang),
                            back=", ".join(back) or _("empty"), id=rid))
            elif rtype == t_name and many:  # each record registered from another is listed there
                for target in paths.get(field_, []):
                    listed = refs.get((u_name, target))
                    if listed is not None and rid not in listed.get(listing, []):
                        yield Finding(where[(rtype, rid)], field_, _(
                            "names {type} {target}, whose {listing} does not list it").format(
                            type=u_name, target=target, listing=types[u_name].label_of(listing, lang)))


def check_duplicate_ids(records: list[Summary], ctx: Context) -> Iterable[Finding]:
    """No two record files carry the same ID, whatever folders they lie in: each is
    reported with the others."""
    from collections import Counter

    stems = [r.path[r.path.rfind("/") + 1 : -5] for r in records]
    twice = {stem for stem, n in Counter(stems).items() if n > 1}
    where = defaultdict(list)
    for stem, r in zip(stems, records):
        if stem in twice:
            where[stem].append(r.path)
    for rid, paths in where.items():
        if len(paths) > 1:
            for p in paths:
                others = ", ".join(x for x in paths if x != p)
                yield Finding(p, "id", _("'{id}' is also the ID of {others}").format(id=rid, others=others))


def check_pinned_content(records: list[Summary], ctx: Context) -> Iterable[Finding]:
    """Approved content is pinned by its SHA-256: a file changed afterwards is reported."""
    for r in records:
        for field_path, rel, pinned, kind in r.facts.get("pins", ()):
            digest = ctx.sha256(rel)
            if kind == "pins":
                if digest is None:
                    yield Finding(r.path, field_path, _("pinned file is not in the store"))
                elif digest != pinned:
                    yield Finding(r.path, field_path, _("the file changed after it was pinned"))
            elif digest is not None and digest != pinned:  # a missing file: check_files says so
                yield Finding(
                    r.path, field_path,
                    _("'{file}' changed after it was approved (SHA-256 {digest}…, pinned {pinned}…)").format(
                        file=rel, digest=digest[:12], pinned=pinned[:12]),
                )


def check_unique(records: list[Summary], ctx: Context) -> Iterable[Finding]:
    """Declared unique combinations, e.g. a copy number within a document (a damaged
    copy's replacement may share its number)."""
    seen: dict[tuple, list[tuple[Summary, str | None]]] = defaultdict(list)
    for r in records:
        for fields, key, replaced, declared in r.facts.get("unique", ()):
            seen[(r.type, tuple(fields), tuple(key), declared)].append((r, replaced))
    for (_type, fields, key, replaces), group in seen.items():
        if len(group) < 2:
            continue
        ids = {g.facts["id"] for g, _rep in group}
        chained = replaces and all(
            rep in ids or any(orep == g.facts["id"] for _other, orep in group) for g, rep in group
        )
        if not chained:
            for g, _rep in group:
                others = ", ".join(sorted(str(o.facts["id"]) for o, _rep in group if o is not g))
                yield Finding(g.path, fields[-1], _("{value} is also held by {others}").format(
                    value="/".join(key), others=others))


# Checks of one record on its own (and the records it refers to): their findings are kept
# between runs, keyed by the record's content and by what it read.
RECORD_CHECKS = [check_envelope, check_schema, check_text, check_state_requirements, check_signatures, check_named]
# Checks across records, over each record's facts: run every time, they are cheap.
STORE_CHECKS = [check_references, check_links, check_files, check_file_kinds, check_duplicate_ids,
                check_pinned_content, check_unique]
