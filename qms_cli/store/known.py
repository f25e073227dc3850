"""Records known by name: where other records write a name in free text (a complaint's
customer.name) and one record holds that name or an alias (a customer, `known_as:` in its
declaration). Matching is by the name as written, spaces and the letter case of Latin
letters aside, so that 上汽大众汽车有限公司（宁波分公司） is one customer's alias and not a guess.
Records that name one are never edited to say so: a closed complaint stays as it was
signed, and the customer record carries the names it is known by (engine.link adds one)."""

from __future__ import annotations

from typing import Any

from ..model import values
from ..suggest import closest


def key(name: Any) -> str:
    """A name as it is matched: its words, single-spaced, Latin letters in lower case."""
    return " ".join(str(name).split()).casefold()


def id_keys(value: Any) -> list[str]:
    """The IDs a field names (one, or each of a list), as text."""
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def name_keys(value: Any) -> list[str]:
    """A name as it is matched against the names a record is known by; none if empty."""
    return [] if values.is_empty(value) else [key(value)]


# how a field names a record (a report's `match: {FIELD: id | known_as}`) -> its keys
KEYS = {"id": id_keys, "known_as": name_keys}


def names_of(rt, data: Any) -> list[str]:
    """Every name a record of `rt` is known by (its name and aliases), as written."""
    out: list[str] = []
    for path in rt.known_as.names:
        value = values.get(data, path)
        for one in value if isinstance(value, list) else [value]:
            if not values.is_empty(one) and str(one).strip() not in out:
                out.append(str(one).strip())
    return out


def index(store, rt, problems: list[str] | None = None) -> dict[str, str]:
    """{matched name: record ID} over every record of `rt` in the store."""
    found: dict[str, str] = {}
    for data in store.scan(rt.name, problems):
        for name in names_of(rt, data):
            found.setdefault(key(name), str(data.get("id")))
    return found


def written(store, rt, problems: list[str] | None = None) -> dict[str, list[str]]:
    """{name as written: IDs of the records that write it} over the records that name a
    record of `rt` in free text (complaints and returns, for a customer)."""
    out: dict[str, list[str]] = {}
    for type_name, path in rt.known_as.by:
        for data in store.scan(type_name, problems):
            name = values.get(data, path)
            if not values.is_empty(name):
                out.setdefault(" ".join(str(name).split()), []).append(str(data.get("id")))
    return out


def unmatched(store, rt, problems: list[str] | None = None) -> list[tuple[str, list[str], str | None]]:
    """(name, the records that write it, the closest record's ID or None) for each name
    written in free text that no record of `rt` is known by, most used first."""
    known = index(store, rt, problems)
    by_name = dict(known)
    out = []
    for name, ids in written(store, rt, problems).items():
        if key(name) in known:
            continue
        near = closest(key(name), list(by_name), cutoff=0.5)
        out.append((name, sorted(ids), by_name[near] if near else None))
    return sorted(out, key=lambda row: (-len(row[1]), row[0]))
