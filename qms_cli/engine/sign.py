"""Stage 5, sign: the signature a move (or a registration) adds, in the role held, with the
time it is signed (`at`, the commit's time) and, for a paper record entered afterwards
(补录), when the act happened (`on`)."""

from __future__ import annotations

from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from ..model.record import Signature
from .action import Action


def sign(act: Action, data: Any, meaning: str, role, source: str | None, target: str) -> Signature:
    """Add the actor's signature `meaning` for the move source → target to `data`; the
    signature added."""
    sig = Signature(meaning=meaning, name=act.actor.name, email=act.actor.email,
                    role=(role if isinstance(role, str) else " | ".join(role)) if role else None,
                    at=act.when, on=act.paper, source=source, target=target)
    if "signatures" not in data or data["signatures"] is None:
        data["signatures"] = CommentedSeq()
    data["signatures"].append(sig.as_mapping(CommentedMap))
    return sig
