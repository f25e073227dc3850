"""A store's configuration (qms.yaml) and the record types it runs: the built-in
declarations in qms_cli/types/, a store's own in <store>/types/, each extended by
qms.yaml `types:` (extra fields, extra requirements) and `numbering:`."""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .calendar import WorkCalendar, parse_duration
from .errors import BadInput
from .files import yamlio
from .i18n import _
from .model.declaration import RecordType
from .suggest import did_you_mean
from .text import quote
from .paths import BUILTIN_TYPES, PACKAGE_DIR, builtin_type_names, data_dir, sample_store_dir  # noqa: F401

CONFIG_FILE = "qms.yaml"
LANGS = ("zh", "en")
# What qms.yaml may say, and inside the blocks whose keys are settings (not names of roles,
# types or categories). A key not here is refused with the closest one: a typo
# (`require_signed_commit: true`) would otherwise be silently without effect.
SETTINGS = ("company", "site", "lang", "timezone", "shard", "time_limits", "calendar", "numbering", "roles",
            "types", "approvals", "attachments", "require_signed_commits", "audit")
BLOCK_SETTINGS = {
    "audit": ("rules_signed_by", "roles_signed_by", "back_entry_days"),
    "attachments": ("max_mb",),
    "calendar": ("workdays", "holidays"),
}


@dataclass(frozen=True)
class Holding:
    """One person's holding of a role: who, from and until which day (None: open), and the
    department it is limited to, if any."""

    email: str
    name: str
    start: date | None
    end: date | None
    department: str | None = None

    def covers(self, day: date) -> bool:
        """Whether the holding runs on `day` (its first and last days included)."""
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)

    def serves(self, department: str | None) -> bool:
        """A holding limited to a department (a department head) counts only there."""
        return self.department is None or department is None or self.department == department


@dataclass(frozen=True)
class Role:
    """A role of qms.yaml `roles:`: its name, its labels by language, and everyone who
    holds or held it."""

    name: str
    label: dict[str, str]
    holders: tuple[Holding, ...]

    def held_by(self, email: str, day: date, department: str | None = None) -> bool:
        """Whether `email` (in any case) holds the role on `day`, for `department` where a
        holding is limited to one."""
        email = email.lower()
        return any(
            h.email.lower() == email and h.covers(day) and h.serves(department) for h in self.holders
        )


def _date_or_none(value: Any, where: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise BadInput(_("{file}: {field}: expected a date such as 2026-01-01").format(
            file=CONFIG_FILE, field=where)) from None


def check_keys(data: Any) -> None:
    """Refuse a qms.yaml that is not a mapping of known settings, naming the unknown key and
    the closest known one."""
    if not isinstance(data, dict):
        raise BadInput(_("{file}: expected settings (company:, roles: ...), not a {kind}").format(
            file=CONFIG_FILE, kind=type(data).__name__))
    for name in BLOCK_SETTINGS:
        if data.get(name) is not None and not isinstance(data[name], dict):
            raise BadInput(_("{file}: {key}: expected settings ({known}), not {value}").format(
                file=CONFIG_FILE, key=name, known=", ".join(f"{k}:" for k in BLOCK_SETTINGS[name]),
                value=quote(data[name])))
    blocks = [("", data, SETTINGS)] + [
        (f"{name}.", data[name], known) for name, known in BLOCK_SETTINGS.items() if isinstance(data.get(name), dict)]
    for prefix, block, known in blocks:
        for key in block:
            if str(key) not in known:
                raise BadInput(_("{file}: {key}: not a setting of qms.yaml{hint} (settings here: {known})").format(
                    file=CONFIG_FILE, key=f"{prefix}{key}", hint=did_you_mean(str(key), known),
                    known=", ".join(known)))


def _deep_merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


@dataclass
class Config:
    """A store's qms.yaml and the record types it runs, each declaration read once and kept."""

    root: Path
    data: dict
    _types: dict[str, RecordType] = field(default_factory=dict)
    # the store's own types as a commit held them (audit judges a commit by its parent's
    # rules): name -> the declaration's bytes; None: the store's types/ folder as it is
    type_files: dict[str, bytes] | None = None

    @staticmethod
    def load(root: Path) -> Config:
        """The store's qms.yaml as it is now, its keys checked (a commit's own qms.yaml, read
        by audit, is taken as it was written)."""
        data = yamlio.load(root / CONFIG_FILE, CONFIG_FILE, root=root)
        check_keys(data)
        return Config(root=root, data=data)

    # -- what audit, attachments and signing are set to ------------------------------------
    def _block(self, name: str) -> dict:
        block = self.data.get(name) if isinstance(self.data, dict) else None
        return block if isinstance(block, dict) else {}

    @property
    def audit(self) -> dict:
        """The `audit:` block (rules_signed_by, back_entry_days), {} when there is none."""
        return self._block("audit")

    @property
    def approvals(self) -> dict:
        """The `approvals:` table, by document category, {} when there is none."""
        return self._block("approvals")

    @property
    def attachments(self) -> dict:
        """The `attachments:` block (max_mb), {} when there is none."""
        return self._block("attachments")

    @property
    def require_signed_commits(self) -> bool:
        """Whether qms.yaml asks for signed commits: qms signs its own, and audit reports
        unsigned ones. False unless it says so."""
        return bool(self.data.get("require_signed_commits")) if isinstance(self.data, dict) else False

    # -- plain settings ------------------------------------------------------------------
    @property
    def company(self) -> str:
        """The company name printed at the top of every form, '' when unset."""
        return str(self.data.get("company") or "")

    @property
    def site(self) -> str:
        """The store's site code (the {site} of record numbers), '' when unset."""
        return str(self.data.get("site") or "")

    @property
    def shard(self) -> str:
        """How new records are filed: `hundred` puts records/<type>/CMP-2026-00xx/<ID>.yaml
        (at most 100 records a folder), `year` records/<type>/2026/<ID>.yaml; `none` (the
        default) records/<type>/<ID>.yaml. A commit rewrites the folder it writes into:
        one of 10,000 records costs git a 470 KB tree every time."""
        value = self.data.get("shard") or "none"
        if value not in ("none", "year", "hundred"):
            raise BadInput(_("{file}: shard: expected none, year or hundred, not '{value}'").format(
                file=CONFIG_FILE, value=value))
        return value

    @property
    def lang(self) -> str:
        """The store's language, zh (the default) or en; anything else is refused (BadInput)."""
        lang = self.data.get("lang") or "zh"
        if lang not in LANGS:
            raise BadInput(_("{file}: lang: expected zh or en, not '{value}'").format(file=CONFIG_FILE, value=lang))
        return lang

    @cached_property
    def tz(self) -> ZoneInfo:
        """The store's time zone (Asia/Shanghai by default); an unknown one is refused (BadInput)."""
        name = str(self.data.get("timezone") or "Asia/Shanghai")
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise BadInput(_("{file}: timezone: unknown time zone '{name}' (e.g. Asia/Shanghai)").format(
                file=CONFIG_FILE, name=name)) from None

    @cached_property
    def calendar(self) -> WorkCalendar:
        """The working-day calendar: mainland China's official one (unless `official: false`)
        with the store's own workdays and holidays; a day that is not a date is refused."""
        raw = self.data.get("calendar") or {}
        if not isinstance(raw, dict):
            raise BadInput(_("{file}: calendar: expected workdays: and holidays: lists").format(file=CONFIG_FILE))

        def days(key: str) -> set[date]:
            """The dates listed under `calendar.<key>`."""
            out = set()
            for i, v in enumerate(raw.get(key) or []):
                d = _date_or_none(v, f"calendar.{key}.{i}")
                if d:
                    out.add(d)
            return out

        return WorkCalendar(
            workdays=days("workdays"),
            holidays=days("holidays"),
            use_official=raw.get("official", True) is not False,
        )

    # -- roles ---------------------------------------------------------------------------
    @cached_property
    def roles(self) -> dict[str, Role]:
        """Every role of qms.yaml by name, with its holders; a role or holding that is not
        well formed (no email, a bad date) is refused (BadInput)."""
        raw = self.data.get("roles") or {}
        if not isinstance(raw, dict):
            raise BadInput(_("{file}: roles: expected a mapping of role names").format(file=CONFIG_FILE))
        roles = {}
        for name, spec in raw.items():
            spec = spec or {}
            holders = []
            if not isinstance(spec, dict):
                raise BadInput(_("{file}: roles.{role}: expected label: and holders:").format(file=CONFIG_FILE, role=name))
            for i, h in enumerate(spec.get("holders") or []):
                if isinstance(h, str):
                    h = {"email": h}
                if not isinstance(h, dict) or not h.get("email"):
                    raise BadInput(_("{file}: roles.{role}.holders.{index}: expected an email").format(
                        file=CONFIG_FILE, role=name, index=i))
                holders.append(
                    Holding(
                        email=str(h["email"]),
                        name=str(h.get("name") or h["email"]),
                        start=_date_or_none(h.get("from"), f"roles.{name}.holders.{i}.from"),
                        end=_date_or_none(h.get("until"), f"roles.{name}.holders.{i}.until"),
                        department=h.get("department"),
                    )
                )
            label = spec.get("label") or {"zh": name, "en": name}
            roles[str(name)] = Role(name=str(name), label=label, holders=tuple(holders))
        return roles

    def person_name(self, email: str) -> str | None:
        """The name qms.yaml gives the person with `email` (in any role, any case), None if no
        role names them."""
        for role in self.roles.values():
            for h in role.holders:
                if h.email.lower() == email.lower():
                    return h.name
        return None

    # -- record types --------------------------------------------------------------------
    def type_names(self) -> list[str]:
        """The names of every record type the store runs, sorted: the built-in ones and the
        store's own types/ (or those the commit held)."""
        names = set(builtin_type_names())
        local = self.root / "types"
        if self.type_files is not None:
            names.update(self.type_files)
        elif local.is_dir():
            names.update(p.stem for p in local.glob("*.yaml"))
        return sorted(names)

    def record_type(self, name: str) -> RecordType:
        """The declaration of record type `name` as the store runs it (its own before the
        built-in one, extended by qms.yaml); an unknown type is refused (BadInput)."""
        if name in self._types:
            return self._types[name]

        local = self.root / "types" / f"{name}.yaml"
        builtin = BUILTIN_TYPES / f"{name}.yaml"
        named = re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,63}", name) is not None
        if self.type_files is not None and named and name in self.type_files:
            source = _("types/{name}.yaml (as the commit held it)").format(name=name)
            data = copy.deepcopy(yamlio.load_declaration(None, source, root=self.root, raw=self.type_files[name]))
            rt = RecordType.from_dict(self._extend(name, data), source)
            self._types[name] = rt
            return rt
        if self.type_files is None and named and os.path.lexists(local):  # a link is found, and refused when read
            path, source = local, f"types/{name}.yaml"
        elif named and builtin.is_file() and name.isidentifier():
            path, source = builtin, _("built-in type {name}").format(name=name)
        else:
            raise BadInput(
                _("unknown record type '{name}' (expected one of {types})").format(
                    name=name, types=", ".join(self.type_names()))
            )
        data = copy.deepcopy(yamlio.load_declaration(path, source, root=self.root if path == local else None))
        data = self._extend(name, data)
        rt = RecordType.from_dict(data, source)
        self._types[name] = rt
        return rt

    def _extend(self, name: str, data: dict) -> dict:
        """Apply qms.yaml's `numbering:` and `types.<name>:` to a declaration."""
        numbering = (self.data.get("numbering") or {}).get(name)
        if isinstance(numbering, dict) and isinstance(data.get("numbering"), dict):
            merged = dict(data["numbering"])
            merged["schemes"] = {**(merged.get("schemes") or {}), **numbering}
            data["numbering"] = merged
        elif numbering:
            data["numbering"] = numbering
        ext = (self.data.get("types") or {}).get(name) or {}
        if not isinstance(ext, dict):
            raise BadInput(_("{file}: types.{type}: expected fields: and requires:").format(file=CONFIG_FILE, type=name))
        if ext.get("fields"):
            data["fields"] = _deep_merge(data.get("fields") or {}, ext["fields"])
        unknown = set(ext) - {"fields", "requires", "moves", "approvals"}
        if unknown:
            raise BadInput(_("{file}: types.{type}: unknown key(s) {keys} "
                             "(expected fields:, requires:, moves: or approvals:)").format(
                file=CONFIG_FILE, type=name, keys=", ".join(sorted(map(str, unknown)))))
        if ext.get("approvals") is not None:
            # whose department head approves: e.g. the document's owning department instead of
            # the receiving one (distribution: {approvals: {department: document.department}})
            if not isinstance(ext["approvals"], dict) or not set(ext["approvals"]) <= {"department"}:
                raise BadInput(_("{file}: types.{type}.approvals: expected {{department: FIELD}}").format(
                    file=CONFIG_FILE, type=name))
            data["approvals"] = {**(data.get("approvals") or {}), **ext["approvals"]}
        for key, change in (ext.get("moves") or {}).items():
            # "from->to": {role: ..., requires: [...]}: who signs a step, and what it needs
            source, _arrow, target = str(key).replace(" ", "").partition("->")
            if not isinstance(change, dict) or not set(change) <= {"role", "requires"} or not change:
                raise BadInput(_("{file}: types.{type}.moves.{move}: expected role: and/or requires:").format(
                    file=CONFIG_FILE, type=name, move=key))
            found = False
            for move in (data.get("workflow") or {}).get("moves") or []:
                if not isinstance(move, dict):
                    continue
                sources = move.get("from") if isinstance(move.get("from"), list) else [move.get("from")]
                if str(move.get("to")) == target and source in map(str, sources):
                    if len(sources) > 1:  # one of several sources: that one becomes a move of its own
                        move["from"] = [s for s in sources if str(s) != source]
                        move = dict(move, **{"from": source})
                        data["workflow"]["moves"].append(move)
                    move.update(change)
                    found = True
                    break
            if not found:
                raise BadInput(_("{file}: types.{type}.moves: {move} is not a move of {type} "
                                 "(expected FROM->TO, e.g. received->acknowledged)").format(
                    file=CONFIG_FILE, type=name, move=key))
        for state, reqs in (ext.get("requires") or {}).items():
            states = data["workflow"]["states"]
            if state not in states:
                raise BadInput(_("{file}: types.{type}.requires: no state '{state}'").format(
                    file=CONFIG_FILE, type=name, state=state))
            states[state] = dict(states[state] or {})
            states[state]["requires"] = list(states[state].get("requires") or []) + list(reqs)
        return data

    # -- time limits ---------------------------------------------------------------------
    @cached_property
    def time_limit_profile(self) -> tuple[str, dict]:
        """(profile name, {type: {limit: duration or {key value: duration}}})."""

        presets = yamlio.load(PACKAGE_DIR / "time_limits.yaml", _("built-in time limits"))
        raw = self.data.get("time_limits") or "iatf16949"
        overrides: dict = {}
        if isinstance(raw, dict):
            overrides = {k: v for k, v in raw.items() if k != "profile"}
            raw = raw.get("profile") or "iatf16949"
        if raw not in presets:
            raise BadInput(
                _("{file}: time_limits: unknown profile '{profile}' (expected one of {profiles})").format(
                    file=CONFIG_FILE, profile=raw, profiles=", ".join(presets))
            )
        limits = {k: v for k, v in presets[raw].items() if k != "label"}
        limits = _deep_merge(limits, overrides)
        for tname, items in limits.items():
            for lname, value in (items or {}).items():
                for v in value.values() if isinstance(value, dict) else [value]:
                    try:
                        parse_duration(v)
                    except ValueError as e:
                        raise BadInput(f"{CONFIG_FILE}: time_limits.{tname}.{lname}: {e}") from None  # not a sentence
        return str(raw), limits

    def time_limit(self, type_name: str, limit: str, key_value: Any) -> str | None:
        """The duration qms.yaml's time-limit profile sets for `limit` of a type, by the
        record's key value where it varies (else its default); None when there is none."""
        value = (self.time_limit_profile[1].get(type_name) or {}).get(limit)
        if isinstance(value, dict):
            return value.get(str(key_value)) or value.get("default")
        return value
