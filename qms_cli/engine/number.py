"""Numbering a new record: the next free number of its scheme (CMP-2026-0042), or the
number it carries itself (a standard registered as GB-T-27922-2011)."""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime
from typing import Any

from ..config import CONFIG_FILE
from ..errors import BadInput, Refused
from ..i18n import _
from ..model import values
from ..model.declaration import RecordType
from ..store import ID_PATTERN
from ..store import git as gitops
from ..text import quote
from .action import Action


def next_id(act: Action, rt: RecordType, data: Any, taken: Collection[str] = ()) -> str:
    """The next free ID; its year is the numbering date's, else that of the registration
    on paper, else this year. `taken`: IDs given to records not yet written (earlier rows
    of the same import), which count as used."""
    store = act.store
    own = data.get(rt.own_number) if rt.own_number else None
    if isinstance(own, str) and own.strip():
        return own_id(act, rt, own, taken)
    scheme, fmt_fields, rx = _scheme(act, rt, data)
    if rx is None:  # one record per period, e.g. the manual LX-SH-2026
        rid = scheme.format(**fmt_fields)
        if rid in taken or store.path_of(rt.name, rid) is not None:
            raise Refused(_("{type} {id} already exists (its numbering '{scheme}' has no sequence)").format(
                type=rt.name, id=rid, scheme=scheme))
        return rid
    highest = 0
    for stem in (*store.record_ids(rt.name), *taken):
        m = rx.match(stem)
        if m:
            highest = max(highest, int(m.group("seq")))
    return scheme.format(seq=highest + 1, **fmt_fields)


def fits(act: Action, rt: RecordType, data: Any, rid: str) -> bool:
    """Whether `rid` is an ID the type's numbering would give this record (its scheme,
    site and year; any sequence number): an imported ledger's own number is kept only then."""
    own = data.get(rt.own_number) if rt.own_number else None
    if isinstance(own, str) and own.strip():
        return False  # numbered by its own number
    scheme, fmt_fields, rx = _scheme(act, rt, data)
    return rid == scheme.format(**fmt_fields) if rx is None else rx.match(rid) is not None


def _scheme(act: Action, rt: RecordType, data: Any) -> tuple[str, dict, re.Pattern | None]:
    """(scheme, its year and site, the pattern of its IDs with the sequence as `seq`; None
    for a scheme without a sequence)."""
    store, on, tz = act.store, act.paper, act.tz
    scheme = with_site(rt.scheme(data), store.config.site_in_numbers)
    when = values.to_datetime(values.get(data, rt.numbering_date), tz) if rt.numbering_date else None
    if when is None and on is not None:
        when = on if isinstance(on, datetime) else datetime.combine(on, datetime.min.time(), tz)
    year = (when or store.now()).astimezone(tz).year
    site = numbering_site(store) if "{site}" in scheme else store.config.site
    if "{site}" in scheme and not site:
        raise BadInput(_("{config}: site: the numbering '{scheme}' needs a site code").format(
            config=CONFIG_FILE, scheme=scheme))
    fmt_fields = {"year": year, "site": site}
    if "{seq" not in scheme:
        return scheme, fmt_fields, None
    pattern = re.escape(scheme)
    pattern = re.sub(r"\\\{seq(:0?(\d+)d?)?\\\}", r"(?P<seq>\\d+)", pattern)
    for k, v in fmt_fields.items():
        pattern = pattern.replace(re.escape("{" + k + "}"), re.escape(str(v)))
    return scheme, fmt_fields, re.compile(f"^{pattern}$")


def numbering_site(store) -> str:
    """The site code this clone numbers with: the clone's own `git config qms.site` (each
    plant's clone of a shared store sets its own), else qms.yaml's `site`."""
    own = gitops.config_value(store.root, "qms.site")
    if own is None:
        return store.config.site
    if not re.fullmatch(r"[A-Za-z0-9]{1,10}", own):
        raise BadInput(_("git config qms.site: '{value}': expected a short code of letters and digits, such as "
                         "SH").format(value=own[:40]))
    return own


def with_site(scheme: str, site_in_numbers: bool) -> str:
    """The scheme with the site code before its first placeholder where qms.yaml says
    `site_in_numbers: true` and the scheme does not place it itself: CMP-{year}-{seq:04}
    gives CMP-SH-2026-0042."""
    if not site_in_numbers or "{site}" in scheme or "{" not in scheme:
        return scheme
    at = scheme.index("{")
    return scheme[:at] + "{site}-" + scheme[at:]


def own_id(act: Action, rt: RecordType, own: str, taken: Collection[str] = ()) -> str:
    """The ID of a record registered under its own number: the number with every
    character a file name cannot hold as '-' (GB/T 27922-2011 → GB-T-27922-2011); refused
    when a record (or one of `taken`, not yet written) already has it."""
    store = act.store
    rid = re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9_.-]", "-", own.strip())).strip("-.")
    if not rid or not ID_PATTERN.match(rid) or ".." in rid:
        raise BadInput(_("{field}: {number} cannot be a record number (expected letters and digits, "
                         "such as GB/T 27922-2011); leave it empty to number the {type} as qms does").format(
            field=rt.own_number, number=quote(own), type=rt.name))
    if rid in taken:
        raise Refused(_("{field}: {number} is already registered as {type} {id}").format(
            field=rt.own_number, number=quote(own), type=rt.name, id=rid))
    for tname in store.type_folders():
        if store.path_of(tname, rid) is not None:
            raise Refused(_("{field}: {number} is already registered as {type} {id}").format(
                field=rt.own_number, number=quote(own), type=tname, id=rid))
    return rid


