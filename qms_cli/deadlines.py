"""Deadlines of one record: the type declares which limits apply (start field, what meets
them); the store's time-limit profile says how long each is. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .calendar import due as compute_due
from .calendar import end_of
from .config import Config
from .model import values
from .model.declaration import RecordType
from .model.rules import Evaluator


@dataclass(frozen=True)
class Deadline:
    name: str
    label: dict[str, str]
    limit: str  # e.g. "5wd"
    due: datetime
    met_at: datetime | None
    status: str  # met | late | open | overdue | stopped
    extended: bool = False

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "limit": self.limit,
            "due": self.due.isoformat(),
            "met_at": self.met_at.isoformat() if self.met_at else None,
            "status": self.status,
            "extended_by_plan": self.extended,
        }


def moved_at(data: Any, state: str, tz) -> datetime | None:
    """When the record last moved into `state`, from its signatures: when the act happened
    (on paper, for one entered afterwards; a paper date alone counts as that day)."""
    when = None
    for sig in values.signatures(data):
        if sig.get("to") == state:
            when = values.acted_at(sig, tz) or when
    return when


def _latest_start(rt: RecordType, data: Any, paths, tz):
    """The start of a limit: the latest of the filled-in fields; a date stays a date."""
    best = None
    for path in paths:
        found = Evaluator(rt, data).first(path)
        moment = values.to_datetime(found, tz) if isinstance(found, datetime) else None
        day = values.to_date(found) if moment is None else None
        if moment is None and day is None and isinstance(found, str):
            moment = values.to_datetime(found, tz)
        value = moment if moment is not None else day
        if value is None:
            continue
        key = value if isinstance(value, datetime) else datetime.combine(value, datetime.min.time(), tz)
        if best is None or key > best[0]:
            best = (key, value)
    return best[1] if best else None


def deadlines(rt: RecordType, data: Any, config: Config, now: datetime) -> list[Deadline]:
    tz = config.tz
    key_value = values.get(data, rt.deadline_key) if rt.deadline_key else None
    out = []
    for spec in rt.deadlines:
        start = _latest_start(rt, data, spec.start, tz)
        if spec.limit:
            limit = spec.limit
        else:  # the record's own number of units where it has one, else the store's time limit
            n = values.get(data, spec.limit_field) if spec.limit_field else None
            limit = f"{n}{spec.limit_unit}" if isinstance(n, int) and not isinstance(n, bool) else \
                config.time_limit(rt.name, spec.name, key_value)
        if start is None or not limit:
            continue
        try:
            when = compute_due(start, limit, config.calendar, tz)
        except (ValueError, OverflowError):  # a limit out of bounds: validate reports the field
            continue
        extended = False
        if spec.extended_by:
            plan = values.to_date(values.get(data, spec.extended_by))
            if plan and end_of(plan, tz) > when:
                when, extended = end_of(plan, tz), True
        if spec.met_by is None:
            met = None
        elif spec.met_by.startswith("moved:"):
            met = moved_at(data, spec.met_by.split(":", 1)[1], tz)
        else:
            met_value = values.get(data, spec.met_by)
            met = values.to_datetime(met_value, tz)  # a moment, written as a date-time or as text
            day = values.to_date(met_value) if met is None else None
            if day is not None:  # only a day: done on that day
                met = datetime.combine(day, datetime.min.time(), tz)
        skipped = bool(spec.skip_when) and all(
            values.get(data, k) in allowed for k, allowed in spec.skip_when
        )
        if met is not None:
            status = "met" if met <= when else "late"
        elif skipped or data.get("state") in rt.deadlines_stop_in:
            status = "stopped"
        else:
            status = "overdue" if now > when else "open"
        out.append(Deadline(spec.name, spec.label, limit, when, met, status, extended))
    return out
