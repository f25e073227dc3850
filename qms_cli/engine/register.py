"""Registering a record, the stages `new` and an import share: the blank record in its
first state, then (under the store's lock) its computed values, the time of the act, the
registrant's authority and signature. Numbering and the checks follow in the caller."""

from __future__ import annotations

from typing import Any

from ruamel.yaml.comments import CommentedMap

from ..i18n import _, language
from ..model import values
from ..model.declaration import RecordType
from .action import Action
from .authorise import authorise
from .check import check_paper_time
from .layout import order_fields
from .sign import sign


def blank(act: Action) -> Any:
    """A record of the action's type in its first state, with no ID yet."""
    data = CommentedMap()
    data["id"] = None
    data["type"] = act.rt.name
    data["state"] = act.rt.workflow.initial
    return data


def prepare(act: Action, data: Any) -> None:
    """Fill in what the type computes, check the time of the act, refuse a registrant who
    holds no role that registers this type (NotAuthorised), and sign the registration."""
    rt = act.rt
    wf = rt.workflow
    ev = act.evaluator(rt, data, computing=True)
    for name in rt.compute:
        if values.is_empty(values.get(data, name)):
            value, _why = ev.computed(name)
            if value is not None:
                values.put(data, name, value, new_map=CommentedMap)
    order_fields(rt, data)
    check_paper_time(act, rt, data, f"new {rt.name}: ")
    held = None
    if wf.create.role:
        held = authorise(act, rt, wf.create.role, data, _("registering a {type}").format(type=type_label(rt).lower()))
    if wf.create.sign:
        sign(act, data, wf.create.sign, held, None, wf.initial)


def type_label(rt: RecordType) -> str:
    """A record type's label in the language of the message being made (else its English)."""
    return rt.label.get(language()) or rt.label["en"]
