"""The write path: every change to a store goes through one pipeline, one stage per module,

    load → assign → authorise → check → sign → pin → effects → commit

run by three entries: `new` registers a record, `set` edits fields, `move` takes a record
through its workflow. Each accepts an explicit actor and time (`by`), so `demo` and imports
need no environment tricks. A stage never prints; it raises QmsError, and nothing is written
unless every stage passes. `check` runs twice: on the act before it is signed (its comment,
its time on paper), and, once signatures, pins and effects are in place, on everything the
commit would write, with the checks `qms validate` runs."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import BadInput, Refused
from ..i18n import _
from ..model.declaration import ENVELOPE_KEYS, RecordType
from ..model.record import Record
from ..store import Store, known, lock
from ..store import git as gitops
from ..store.git import Trailer
from ..suggest import choice, did_you_mean
from ..text import quote
from .action import begin, now_under_lock
from .assign import assign
from .attach import file_under_id
from .authorise import authorise
from .check import check_change, check_comment, check_paper_time
from .commit import message, write
from .effects import effects
from .register import blank, prepare, type_label
from .load import load
from .number import next_id
from .pin import pin
from .sign import sign


@dataclass(frozen=True)
class Change:
    """What a write did: the record after it, the commit ("" when nothing changed), notes
    for the user and the files it attached (paths in the store)."""

    record: Record
    commit: str
    notes: tuple[str, ...] = ()
    attached: tuple[str, ...] = ()


def new(store: Store, type_name: str, assignments: list[str] = (), initial: dict | None = None,
        on: str | None = None, by: gitops.Actor | None = None) -> Change:
    """Register a record in its first state. `initial`: fields read from an input file;
    `on`: when it was registered on paper (补录), if it is entered afterwards; `by`: who
    registers it and when (default: the git identity, now)."""
    act = begin(store, type_name, on, by)
    rt, wf = act.rt, act.rt.workflow
    data = blank(act)
    for key, value in (initial or {}).items():
        if key in ENVELOPE_KEYS:
            raise BadInput(_("{field}: set by qms, not by the input file").format(field=key))
        if rt.kept(str(key)) and key not in rt.compute:
            raise Refused(_("{field}: kept by qms, not given in the input file").format(field=key))
        data[key] = value
    assign(act, rt, data, list(assignments), computed_ok=True)
    with lock.store_lock(store.root) as notes:
        now_under_lock(act)
        prepare(act, data)
        data["id"] = next_id(act, rt, data)
        file_under_id(act, data)
        path = store.new_path(rt.name, data["id"])
        changes = {path: (data, None)}
        done = effects(act, rt, data, wf.initial, changes)  # e.g. a return named in its complaint
        check_change(act, changes, _("cannot register the {type}").format(type=type_label(rt).lower()),
                     requires=[(data, list(wf.create.requires))])
        trailers = [(Trailer.RECORD, f"{rt.name}/{data['id']}"), (Trailer.ACTION, "new")]
        if wf.create.sign:
            trailers.append((Trailer.SIGNATURE, f"{wf.create.sign} by {act.actor.email}"))
        if act.paper is not None:
            trailers.append((Trailer.ON, act.paper.isoformat()))
        trailers.extend((Trailer.EFFECT, e) for e in done)
        text = message(f"{rt.name} {data['id']}: new ({wf.initial})", "", trailers)
        commit = write(act, changes, text, date=act.when if wf.create.sign else None)
    return Change(store.record_of(rt.name, path, data), commit, tuple(notes), tuple(act.staged))


def set(store: Store, type_name: str, record_id: str, assignments: list[str], comment: str = "",
        by: gitops.Actor | None = None) -> Change:
    """Edit fields without changing the state: refused in a final state, and for content
    pinned by an approval. `by`: who edits and when (default: the git identity, now)."""
    act = begin(store, type_name, None, by)
    rt = act.rt
    if not assignments:
        raise BadInput(_("nothing to set: give FIELD=VALUE"))
    check_comment(comment)
    with lock.store_lock(store.root) as notes:
        now_under_lock(act)
        path, data, style, record = load(act, record_id)
        authorise(act, rt, rt.workflow.edit, data, _("editing {type} {id}").format(type=rt.name, id=record_id))
        if rt.workflow.states[record.state].final:
            raise Refused(
                _("{type} {id} is {state}: a {state} record is not "
                  "edited (its history in git is the record of what was done)").format(
                    type=rt.name, id=record_id, state=record.state)
            )
        changed = assign(act, rt, data, list(assignments))
        for name in changed:
            pinned = [f for f, s in rt.fields.items() if s.pin and (name == s.pin or name == f)]
            if pinned and record.state in rt.pin_in:
                raise Refused(
                    _("{type} {id} is {state}: its approved content "
                      "({fields}) is pinned and is changed only by a new revision").format(
                        type=rt.name, id=record_id, state=record.state, fields=", ".join(pinned))
                )
        changes = {path: (data, style)}
        check_change(act, changes, _("{type} {id}: the change was not made").format(type=rt.name, id=record_id))
        text = message(
            f"{rt.name} {record_id}: set {', '.join(changed)}",
            body=comment,
            trailers=[(Trailer.RECORD, f"{rt.name}/{record_id}"), (Trailer.ACTION, "set " + " ".join(changed))],
        )
        commit = write(act, changes, text)
    return Change(store.record_of(rt.name, path, data), commit, tuple(notes), tuple(act.staged))


def move(store: Store, type_name: str, record_id: str, target: str, assignments: list[str] = (),
         comment: str = "", on: str | None = None, by: gitops.Actor | None = None) -> Change:
    """A workflow move, signed. `on`: when the act happened on paper (补录), if it is
    entered afterwards; the signature's `at` stays the time it is entered and signed.
    `by`: who signs and when (default: the git identity, now)."""
    act = begin(store, type_name, on, by)
    rt, wf = act.rt, act.rt.workflow
    target = state_named(rt, target)
    check_comment(comment)
    with lock.store_lock(store.root) as notes:
        now_under_lock(act)
        path, data, style, record = load(act, record_id)
        step = wf.move(record.state, target)
        if step is None:
            onward = [m.target for m in wf.moves_from(record.state)]
            if onward:
                raise Refused(_("{type} {id} is '{state}': it cannot move to '{target}'; it can move to: {states}")
                              .format(type=rt.name, id=record_id, state=record.state, target=target,
                                      states=", ".join(onward)))
            raise Refused(_("{type} {id} is '{state}': it cannot move to '{target}' (a final state)").format(
                type=rt.name, id=record_id, state=record.state, target=target))
        assign(act, rt, data, list(assignments))
        check_paper_time(act, rt, data, f"{rt.name} {record_id}: ")
        held = authorise(act, rt, step.role, data,
                         _("moving {type} {id} to '{target}'").format(type=rt.name, id=record_id, target=target))
        data["state"] = target
        sign(act, data, step.sign, held or None, record.state, target)
        pin(act, rt, data, target)
        changes = {path: (data, style)}
        done = effects(act, rt, data, target, changes)
        check_change(act, changes, _("{type} {id} cannot move to '{target}'").format(
            type=rt.name, id=record_id, target=target), requires=[(data, list(step.requires))])
        trailers = [
            (Trailer.RECORD, f"{rt.name}/{record_id}"),
            (Trailer.ACTION, f"move {target}"),
            (Trailer.SIGNATURE, f"{step.sign} by {act.actor.email}"),
            *(((Trailer.ON, act.paper.isoformat()),) if act.paper is not None else ()),
            *((Trailer.EFFECT, e) for e in done),
        ]
        text = message(f"{rt.name} {record_id}: {record.state} -> {target}", comment, trailers)
        commit = write(act, changes, text, date=act.when)
    return Change(store.record_of(rt.name, path, data), commit, tuple(notes), tuple(act.staged))


def link(store: Store, type_name: str, record_id: str, names: list[str],
         by: gitops.Actor | None = None) -> Change | None:
    """Add `names` to the names a record is known by in free text (a customer's aliases:
    `known_as:` in its declaration), one commit; None when it already has them all.
    Refused for a name another record of the type is known by."""
    rt = store.record_type(type_name)
    if rt.known_as is None:
        raise BadInput(_("a {type} is not known by a name others write").format(type=type_name))
    if not names:
        raise BadInput(_("name the names to link to {id}, as the records write them").format(id=record_id))
    taken = known.index(store, rt)
    own = store.read(record_id, rt.name)
    mine = {known.key(n) for n in known.names_of(rt, own.data)}
    adding: list[str] = []
    for name in names:
        text = " ".join(str(name).split())
        if not text:
            raise BadInput(_("an empty name is not a name"))
        other = taken.get(known.key(text))
        if other is not None and other != own.id:
            raise Refused(_("'{name}' is already the name of {other}: a name belongs to one {type}").format(
                name=text, other=other, type=rt.name))
        if known.key(text) not in mine and text not in adding:
            adding.append(text)
    if not adding:
        return None
    return set(store, rt.name, own.id, [f"{rt.known_as.add_to}+={n}" for n in adding],
               _("known as: {names}").format(names="; ".join(adding)), by=by)


def state_named(rt: RecordType, word: str) -> str:
    """The state `word` names: the state itself or its label as forms print it (已联系顾客,
    Acknowledged), in any language; else a refusal that lists them, with the closest."""
    wf = rt.workflow
    found = choice(word, {name: state.label for name, state in wf.states.items()})
    if found is not None:
        return found
    words = [*wf.states, *(w for st in wf.states.values() for w in st.label.values())]
    listed = ", ".join(f"{n} ({st.label.get('zh', n)})" for n, st in wf.states.items())
    raise BadInput(_("{word} is not a state of {type}{hint} (expected one of {states})").format(
        word=quote(word), type=rt.name, hint=did_you_mean(word, words), states=listed))

