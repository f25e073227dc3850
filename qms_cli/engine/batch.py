"""A batch of new records (`qms import`): each row goes through the stages of `new` —
assign, compute, authorise, sign, number, check — under one hold of the store's lock, and
every record that passes is written by one commit (`QMS-Action: import`, a `QMS-Record:`
per record), which `qms audit` judges as an import: new records only, each valid.

All or nothing: a row that the stages refuse is reported with its problems, and unless
`skip_bad` nothing is written. A row whose natural key (the type's `natural_key:`) a
record of the store, or an earlier row, already holds is that record: reported as present
and skipped, not an error. A row may give its own ID: kept when it fits the type's
numbering and is free, else the record is numbered as `new` numbers it (and the row says
so). Numbers run on from the IDs given earlier in the same batch."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Sequence


from ..errors import QmsError, Refused
from ..i18n import _, language
from ..model import values
from ..model.declaration import RecordType
from ..store import ID_PATTERN, Store, lock
from ..store import git as gitops
from ..store.git import Trailer
from ..suggest import choice, fold
from ..text import quote
from .action import Action, begin, now_under_lock
from .assign import assign, split_assignment
from .check import check_change
from .commit import message, write
from .number import fits, next_id
from .register import blank, prepare

MAX_ROWS = 20_000  # rows one import may hold (one commit of as many files)


@dataclass(frozen=True)
class Row:
    """One row of a ledger as the write path takes it: its number in the ledger (as the
    person who fills it in sees it), FIELD=VALUE assignments as `new --set` takes them,
    the ID it gives (kept when free and fitting) and the state it gives (which must be the
    type's first state: an import registers records, it does not sign their later acts)."""

    number: int
    assignments: tuple[str, ...]
    id: str | None = None
    state: str | None = None


@dataclass(frozen=True)
class Imported:
    """A row written as a record: its ID, and why it is not the ID the row gave (or "")."""

    row: int
    id: str
    note: str = ""


@dataclass(frozen=True)
class Skipped:
    """A row not written: why, in one or more lines. `present`: the store (or an earlier
    row) already holds the record, which is no error."""

    row: int
    problems: tuple[str, ...]
    present: bool = False


@dataclass(frozen=True)
class Batch:
    """What an import did: the rows written (none unless every row passed, or `skip_bad`),
    the rows skipped as already present, the rows refused, and the commit ("" when nothing
    was written)."""

    type: str
    imported: tuple[Imported, ...]
    present: tuple[Skipped, ...]
    refused: tuple[Skipped, ...]
    commit: str
    notes: tuple[str, ...] = field(default_factory=tuple)


def import_records(store: Store, type_name: str, rows: Sequence[Row], by: gitops.Actor | None = None,
                   skip_bad: bool = False, source: str = "") -> Batch:
    """Register a record of `type_name` for each row, in one commit. Every row is judged
    before anything is written; with refused rows nothing is written unless `skip_bad`
    (then the others are). `by`: who registers them and when (default: the git identity,
    now); `source`: the ledger's name, for the commit message."""
    if len(rows) > MAX_ROWS:
        raise Refused(_("{count:,} rows: an import holds at most {limit:,}; split the ledger").format(
            count=len(rows), limit=MAX_ROWS))
    act = begin(store, type_name, None, by)
    rt, wf = act.rt, act.rt.workflow
    present: list[Skipped] = []
    refused: list[Skipped] = []
    with lock.store_lock(store.root) as notes:
        now_under_lock(act)
        known = _known_keys(act, rt)
        ready: list[tuple[Row, Any]] = []
        for row in rows:
            try:
                data = _prepare(act, rt, row)
            except QmsError as e:
                refused.append(Skipped(row.number, _problems(e)))
                continue
            key = _key(act, rt, data, _number_hint(rt, data, row))
            if key is not None and key in known:
                present.append(Skipped(row.number, (known[key],), present=True))
                continue
            if key is not None:
                known[key] = _("the same as row {row}").format(row=row.number)
            ready.append((row, data))
        imported, written = _number_and_check(act, rt, ready, refused)
        refused.sort(key=lambda s: s.row)
        if (refused and not skip_bad) or not written:
            return Batch(rt.name, (), tuple(present), tuple(refused), "", tuple(notes))
        trailers = [(Trailer.RECORD, f"{rt.name}/{i.id}") for i in imported]
        trailers.append((Trailer.ACTION, "import"))
        if wf.create.sign:
            trailers.append((Trailer.SIGNATURE, f"{wf.create.sign} by {act.actor.email}"))
        rows_text = ", ".join(str(i.row) for i in imported)
        body = f"Rows {rows_text} of {source}." if source else f"Rows {rows_text}."  # git history: English
        count = len(imported)
        text = message(f"{rt.name}: import {count} record{'s' if count != 1 else ''} ({wf.initial})", body, trailers)
        commit = write(act, written, text, date=act.when if wf.create.sign else None)
    return Batch(rt.name, tuple(imported), tuple(present), tuple(refused), commit, tuple(notes))


def _prepare(act: Action, rt: RecordType, row: Row) -> Any:
    """The stages of `new` up to numbering: the row's values assigned and checked against
    the type, computed values filled in, the time checked, the actor authorised, the
    registration signed."""
    wf = rt.workflow
    if row.state is not None and row.state.strip():
        named = choice(row.state.strip(), {name: st.label for name, st in wf.states.items()})
        if named != wf.initial:
            first = wf.states[wf.initial].label.get(language()) or wf.initial
            raise Refused(_("state: {state}: an import registers a record in its first state, {first} ({initial}); "
                            "the moves after it are signed with qms {type} move").format(
                state=quote(row.state), first=first, initial=wf.initial, type=rt.name))
    for item in row.assignments:
        key, _sep, raw = split_assignment(item)
        path = key.removesuffix("+").strip()
        spec = rt.field(path)
        files = spec is not None and (spec.type == "file" or (
            spec.type == "list" and spec.items is not None and spec.items.type == "file"))
        if files and raw.strip().startswith("@"):
            raise Refused(_("{field}: a ledger does not attach files from this computer ({value}); attach them "
                            "afterwards with qms {type} attach").format(field=path, value=quote(raw), type=rt.name))
    data = blank(act)
    assign(act, rt, data, list(row.assignments), computed_ok=True)
    for effect in rt.effects.get(wf.initial) or ():
        # registering it changes another record (a return is listed in its complaint); an import
        # only adds records, so such a row is registered with `new`, which makes that change too
        if effect.kind == "update_all" or not values.is_empty(values.get(data, effect.target)):
            raise Refused(_("{field}: a {type} that names it is registered with qms {type} new, which also "
                            "lists it there; an import only adds records").format(field=effect.target, type=rt.name))
    prepare(act, data)
    return data


def _number_and_check(act: Action, rt: RecordType, ready: list[tuple[Row, Any]],
                      refused: list[Skipped]) -> tuple[list[Imported], dict]:
    """Number each prepared row and check the record it makes as `new` checks it: first the
    rows whose own ID is kept, then the others in ledger order, each numbered after the
    IDs given before it. A refused row gives its number back."""
    store, wf = act.store, rt.workflow
    taken: list[str] = []
    done: dict[int, Imported] = {}
    written: dict = {}
    uniques: dict[tuple, int] = {}

    def keep(row: Row, data: Any) -> bool:
        """Whether the row's own ID is free and one the numbering would give."""
        rid = (row.id or "").strip()
        if not rid or not ID_PATTERN.match(rid) or ".." in rid or rid in taken:
            return False
        try:
            return fits(act, rt, data, rid) and store.path_of(rt.name, rid) is None
        except QmsError:
            return False

    def number(row: Row, data: Any, rid: str | None) -> None:
        """Give the row its ID (`rid`, else the next free one) and check the record."""
        try:
            data["id"] = rid or next_id(act, rt, data, taken)
            path = store.new_path(rt.name, data["id"])
            try:
                check_change(act, {path: (data, None)}, _("row {row}").format(row=row.number),
                             requires=[(data, list(wf.create.requires))])
            except QmsError as e:  # its problems, each a line (the heading says what was tried)
                refused.append(Skipped(row.number, tuple(e.details) or (e.message,)))
                return
            _check_unique(rt, data, row, uniques)
        except QmsError as e:
            refused.append(Skipped(row.number, _problems(e)))
            return
        taken.append(data["id"])
        given = (row.id or "").strip()
        note = _("numbered {id}: {given} is taken or does not fit the numbering").format(
            id=data["id"], given=quote(given)) if given and given != data["id"] else ""
        done[row.number] = Imported(row.number, data["id"], note)
        written[path] = (data, None)

    rest = []
    for row, data in ready:
        if keep(row, data):
            number(row, data, (row.id or "").strip())
        else:
            rest.append((row, data))
    for row, data in rest:
        number(row, data, None)
    return [done[n] for n in sorted(done)], written


def _check_unique(rt: RecordType, data: Any, row: Row, seen: dict[tuple, int]) -> None:
    """What the type declares unique (a document's copy numbers) is unique within the
    batch too: the store's own records are checked by check_change."""
    for fields, replaces in rt.unique:
        if replaces and not values.is_empty(values.get(data, replaces)):
            continue
        key = tuple(str(values.get(data, f)) for f in fields)
        if any(values.is_empty(values.get(data, f)) for f in fields):
            continue
        mark = (fields, key)
        if mark in seen:
            raise Refused(_("{fields}: the same as row {row}'s; import the later rows in a second run").format(
                fields=", ".join(f"{f}={v}" for f, v in zip(fields, key)), row=seen[mark]))
        seen[mark] = row.number


def _problems(e: QmsError) -> tuple[str, ...]:
    """A refusal as the lines a report lists: the message, then each of its details."""
    return (e.message, *e.details)


def _known_keys(act: Action, rt: RecordType) -> dict[tuple, str]:
    """The natural key of every record of the type in the store, with words naming it."""
    if not rt.natural_key:
        return {}
    out: dict[tuple, str] = {}
    for data in act.store.scan(rt.name):
        key = _key(act, rt, data, rt.number_of(data))
        if key is not None:
            out.setdefault(key, _("already in the store as {type} {id}").format(type=rt.name, id=data.get("id")))
    return out


def _number_hint(rt: RecordType, data: Any, row: Row) -> str | None:
    """The number a row gives for `id` in a natural key: its own number where the type
    keeps one, else the ID the ledger gives."""
    own = values.get(data, rt.own_number) if rt.own_number else None
    if isinstance(own, str) and own.strip():
        return own
    return row.id.strip() if row.id and row.id.strip() else None


def _key(act: Action, rt: RecordType, data: Any, number: str | None) -> tuple | None:
    """The record's natural key as compared (text folded, times as instants), None when
    the type declares none or a part of it is empty."""
    if not rt.natural_key:
        return None
    parts = []
    for path in rt.natural_key:
        value = number if path == "id" else values.get(data, path)
        if values.is_empty(value):
            return None
        parts.append(_compared(value, act.tz))
    return tuple(parts)


def _compared(value: Any, tz) -> Any:
    """A value as a natural key compares it."""
    if isinstance(value, datetime):
        moment = values.to_datetime(value, tz)
        return moment.astimezone(timezone.utc).isoformat() if moment else str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return tuple(_compared(v, tz) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _compared(v, tz)) for k, v in value.items()))
    if isinstance(value, str):
        moment = values.to_datetime(value, tz) if ("T" in value and value[:1].isdigit()) else None
        if moment is not None:
            return moment.astimezone(timezone.utc).isoformat()
        return " ".join(fold(value).split())
    return str(value)
