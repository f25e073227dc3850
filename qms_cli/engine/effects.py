"""Stage 7, effects: what a record entering a state does to other records (an approved
revision makes the document effective; a recall moves every copy), done by the same act,
on the same day, in the same commit."""

from __future__ import annotations

import re
from typing import Any

from ..errors import Refused
from ..files import yamlio
from ..i18n import _
from ..model import values
from ..model.declaration import RecordType
from .action import Action
from .assign import assign
from .authorise import held
from .check import check_paper_time
from .sign import sign


def effects(act: Action, rt: RecordType, data: Any, state: str, changes: dict) -> list[str]:
    """Apply what entering `state` does to other records; add them to `changes` ({path:
    (data, layout)}). Each is said in words for the commit's trailers."""
    store = act.store
    done: list[str] = []
    declared = rt.effects.get(state) or ()
    if not declared:
        return done
    day = act.day

    def fill(template) -> str:
        """An effect's value with `{field}` and `{today}` filled in from this record."""
        if isinstance(template, dict):  # worded in the store's language
            template = str(template.get(store.config.lang) or next(iter(template.values())))

        def one(m):
            """What one placeholder stands for."""
            if m.group(1) == "today":
                return day.isoformat()
            value = values.get(data, m.group(1))
            return "" if value is None else str(value)

        return re.sub(r"\{([\w.]+)\}", one, template)

    for effect in declared:
        targets: list[tuple[str, str]] = []  # (type, id)
        if effect.kind in ("update", "update_each"):
            spec = rt.field(effect.target)
            ref_spec = spec.items if spec is not None and spec.type == "list" else spec
            ids = values.get(data, effect.target)
            ids = ids if isinstance(ids, list) else [ids]
            targets = [(ref_spec.to, str(i)) for i in ids if not values.is_empty(i)]
        else:
            for other in store.scan(effect.target):
                if effect.except_self and other.get("id") == data.get("id"):
                    continue
                if all(str(values.get(other, k)) == fill(v) for k, v in effect.where) and not (
                    effect.unless and all(str(values.get(other, k)) == fill(v) for k, v in effect.unless)
                ):
                    targets.append((effect.target, str(other.get("id"))))
        for type_name, rid in targets:
            ort = store.record_type(type_name)
            path = store.path_of(type_name, rid)
            if path is None:
                raise Refused(_("{field}: {type} '{id}' is not in the store").format(
                    field=effect.target, type=type_name, id=rid))
            if path in changes:
                odata, ostyle = changes[path]
            else:
                odata, ostyle = yamlio.load_for_edit(path, store.rel(path), root=store.root)
            orecord = store.record_of(type_name, path, odata)
            words = []
            if effect.set:
                assign(act, ort, odata, [f"{k}={fill(v)}" for k, v in effect.set], internal=True)
                words.append("set " + " ".join(k for k, _value in effect.set))
            if effect.move:
                omove = ort.workflow.move(orecord.state, effect.move)
                if omove is None:
                    raise Refused(
                        _("{type} {id} is '{state}': it cannot move to "
                          "'{target}', which {source_type} {source_id} entering '{source_state}' needs").format(
                            type=type_name, id=rid, state=orecord.state, target=effect.move,
                            source_type=rt.name, source_id=data["id"], source_state=state)
                    )
                check_paper_time(act, ort, odata,
                                 _("{type} {id} (which {source_type} {source_id} entering '{source_state}' "
                                   "signs): ").format(type=type_name, id=rid, source_type=rt.name,
                                                      source_id=data["id"], source_state=state))
                odata["state"] = effect.move
                ok, role = held(act, ort, omove.role, odata)
                sign(act, odata, omove.sign, role if ok else None, orecord.state, effect.move)
                words.append(f"move {effect.move}")
            changes[path] = (odata, ostyle)
            done.append(f"{type_name}/{rid} {'; '.join(words)}")
    return done
