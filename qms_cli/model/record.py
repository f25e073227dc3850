"""A record as read from its file, and a signature as a record holds it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Callable


@dataclass(frozen=True)
class Record:
    """One record as read from its file: the envelope plus every field as stored."""

    id: str
    type: str
    state: str
    data: Any
    path: str  # relative to the store root, with forward slashes


@dataclass(frozen=True)
class Signature:
    """One signature: its meaning (e.g. approve), who signed and in which role, when it was
    signed (`at`, the commit's time) and, for a paper record entered afterwards (补录),
    when the act happened (`on`); the move it signs, from `source` to `target` (no
    source: the record's registration)."""

    meaning: str
    name: str
    email: str
    role: str | None
    at: datetime
    target: str
    on: date | datetime | None = None
    source: str | None = None

    def as_mapping(self, new_map: Callable[[], Any] = dict) -> Any:
        """The signature as a record file holds it, its keys in the order forms print them."""
        sig = new_map()
        sig["meaning"] = self.meaning
        sig["name"] = self.name
        sig["email"] = self.email
        if self.role:
            sig["role"] = self.role
        sig["at"] = self.at
        if self.on is not None:
            sig["on"] = self.on
        if self.source is not None:
            sig["from"] = self.source
        sig["to"] = self.target
        return sig
