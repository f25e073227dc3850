"""Stage 3, authorise: the actor holds, on the day of the act, a role the workflow allows
for this record (qms_cli/roles.py decides, as it does for `qms audit`)."""

from __future__ import annotations

from typing import Any

from ..errors import NotAuthorised
from ..model.declaration import RecordType
from ..roles import authority
from .action import Action


def authorise(act: Action, rt: RecordType, role_spec, data: Any, needed_for: str = "") -> str:
    """The role the actor signs in (empty when the act needs none); refused
    (NotAuthorised, saying who holds it and how it is granted) when the actor holds none."""
    ok, role = held(act, rt, role_spec, data, needed_for)
    if not ok:
        raise NotAuthorised(role)
    return role


def held(act: Action, rt: RecordType, role_spec, data: Any, needed_for: str = "") -> tuple[bool, str]:
    """(True, the role held) or (False, why not), without refusing: an effect signs
    another record in the role held, if any."""
    store = act.store
    return authority(store.config, rt, role_spec, data, act.actor.email, act.day, needed_for, store.fetch)
