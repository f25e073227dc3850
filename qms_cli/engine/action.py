"""One action on the store (a `new`, `set` or `move`) as the stages see it: the store, the
record type, who acts and when, the time on paper (补录) and the files it attaches."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ..errors import BadInput
from ..i18n import _
from ..model import values
from ..model.declaration import RecordType
from ..model.rules import Evaluator
from ..store import Store
from ..store import git as gitops
from ..text import quote


@dataclass
class Action:
    """What every stage of one action shares. `actor` is who acts and the time the commit
    will carry (`when`, in the store's time zone); `paper` when the act happened on paper,
    if it is entered afterwards; `explicit` whether the actor was given (demo, import)
    rather than read from git; `staged` the files attached, written with the commit."""

    store: Store
    rt: RecordType
    actor: gitops.Actor
    paper: date | datetime | None = None
    explicit: bool = False
    staged: dict[str, bytes] = field(default_factory=dict)

    @property
    def tz(self):
        """The store's time zone."""
        return self.store.config.tz

    @property
    def when(self) -> datetime:
        """When the act is entered and signed: the commit's own time, as git reads it."""
        return self.actor.when.astimezone(self.tz)

    @property
    def day(self) -> date:
        """The day of the act: on paper, else the day it is entered."""
        return values.day_of(self.paper, self.tz) or self.when.date()

    def evaluator(self, rt: RecordType, data: Any, *, computing: bool = False) -> Evaluator:
        """Requirements and computed values of `data` as of the day of the act."""
        return self.store.evaluator(rt, data, computing=computing, today=self.day, on_paper=self.paper is not None)


def begin(store: Store, type_name: str, on: str | None, by: gitops.Actor | None) -> Action:
    """An action of `by` (else the git identity, now) on a record of `type_name`; `on`, as
    typed, when the act happened on paper. An unknown type, a missing git identity or a bad
    --on is refused before anything is read."""
    rt = store.record_type(type_name)
    actor = by or gitops.actor(store.root)
    return Action(store=store, rt=rt, actor=actor, paper=paper_time(store, on), explicit=by is not None)


def now_under_lock(act: Action) -> None:
    """Re-read the git identity's clock once the store's lock is held (an explicit actor
    keeps its own time), and forget what was read before the lock."""
    act.store.forget()
    if not act.explicit:
        act.actor = gitops.actor(act.store.root)


def paper_time(store: Store, on: str | None) -> date | datetime | None:
    """`--on` as typed: when the act happened on paper (补录), or None."""
    if on is None:
        return None
    try:
        return values.parse_paper_time(on, store.config.tz)
    except ValueError as e:
        raise BadInput(_("--on {value}: {problem} (when the act happened on paper)").format(
            value=quote(on), problem=e)) from None
