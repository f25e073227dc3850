"""Where a field goes: the keys of a record kept in the order its form declares them, so a
record file reads like the paper form (signatures last)."""

from __future__ import annotations

from typing import Any

from ..model import values
from ..model.declaration import ENVELOPE_KEYS, RecordType


def new_keys(data: Any, path: str) -> list[str]:
    """The prefixes of `path` that do not exist yet (mapping keys that put() will add)."""
    out, cur, parts = [], data, path.split(".")
    for i, part in enumerate(parts):
        if isinstance(cur, dict):
            if part not in cur:
                out.append(".".join(parts[: i + 1]))
                break
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            break
    return out


def place(rt: RecordType, data: Any, path: str) -> None:
    """Move a key just added to a mapping to where the declaration puts it, so a record
    reads in the form's order (signatures stay last)."""
    parent_path, _dot, key = path.rpartition(".")
    parent = values.get(data, parent_path) if parent_path else data
    if not hasattr(parent, "insert") or key not in parent:
        return
    if parent_path:
        spec = rt.field(parent_path)
        declared = list(spec.fields) if spec is not None else []
    else:
        declared = [k for k in ENVELOPE_KEYS if k not in ("pins", "signatures")] + list(rt.fields) + ["pins", "signatures"]
    if key not in declared:
        return
    rank = {k: i for i, k in enumerate(declared)}
    keys = [k for k in parent if k != key]
    pos = 0
    for i, k in enumerate(keys):
        if rank.get(k, len(rank)) < rank[key]:
            pos = i + 1
    value = parent.pop(key)
    parent.insert(pos, key, value)


def order_fields(rt: RecordType, data: Any) -> None:
    """Put a new record's fields in the order the type declares them."""
    order = {k: i for i, k in enumerate([*ENVELOPE_KEYS, *rt.fields])}
    items = sorted(data.items(), key=lambda kv: order.get(kv[0], len(order)))
    for k in list(data.keys()):
        del data[k]
    for k, v in items:
        data[k] = v
