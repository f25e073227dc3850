"""A store's configuration (qms.yaml) and the record types it runs: the built-in
declarations in qms_cli/types/, a store's own in <store>/types/, each extended by
qms.yaml `types:` (extra fields, extra requirements) and `numbering:`.

qms.yaml is read once into `Settings`, a tree of frozen dataclasses: every key known
(an unknown one is refused with the closest known one) and every value checked, a bad
one refused naming qms.yaml, the key and what was expected. Nothing outside this module
reads the YAML itself."""

from __future__ import annotations

import copy
import ipaddress
import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .calendar import WorkCalendar, parse_duration
from .errors import BadInput
from .files import safefs, yamlio
from .i18n import _
from .model import values
from .model.declaration import RecordType
from .model.named import unknown
from .suggest import did_you_mean
from .text import is_text, quote
from .paths import BUILTIN_TYPES, PACKAGE_DIR, builtin_type_names, data_dir, sample_store_dir  # noqa: F401

CONFIG_FILE = "qms.yaml"
LANGS = ("zh", "en")
SHARDS = ("none", "year", "hundred")
DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_PROFILE = "iatf16949"
ATTACHMENT_MB = 20  # the largest attachment unless qms.yaml says otherwise (attachments.max_mb)
# What qms.yaml may say, and inside the blocks whose keys are settings (not names of roles,
# types or categories). A key not here is refused with the closest one: a typo
# (`require_signed_commit: true`) would otherwise be silently without effect.
SETTINGS = ("company", "site", "site_in_numbers", "lang", "timezone", "shard", "time_limits", "calendar", "numbering",
            "roles",
            "types", "approvals", "attachments", "require_signed_commits", "audit", "targets", "remind", "pdf", "publish")
BLOCK_SETTINGS = {
    "audit": ("rules_signed_by", "roles_signed_by", "back_entry_days"),
    "attachments": ("max_mb",),
    "pdf": ("font",),
    "publish": ("commit_url",),
    "calendar": ("workdays", "holidays"),
    "remind": ("within", "timeout", "email", "webhook"),
}
REMIND_EMAIL_SETTINGS = ("host", "port", "from", "to", "to_holders", "starttls", "ssl", "user_env", "password_env",
                         "subject")
REMIND_WEBHOOK_SETTINGS = ("kind", "url_env", "secret_env")
WEBHOOK_KINDS = ("wecom", "dingtalk", "feishu")
DEFAULT_REMIND_WITHIN = "2wd"
DEFAULT_REMIND_TIMEOUT = 10.0  # seconds a mail server or a webhook has to answer
ROLE_SETTINGS = ("label", "holders")  # of a role under roles:
HOLDER_SETTINGS = ("name", "email", "from", "until", "department", "key")  # of a holding
TYPE_SETTINGS = ("fields", "requires", "moves", "approvals", "checks")  # of a type under types:
LINE_BREAK = re.compile("[\n\u2028\u2029]")
FONT_FAMILY = re.compile(r"[^\W_][\w .-]{0,99}")


# -- the model -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Holding:
    """One person's holding of a role: who, from and until which day (None: open), the
    department it is limited to, if any, and the signing keys qms.yaml lists for them
    (SSH public keys or GPG fingerprints, `key:`)."""

    email: str
    name: str
    start: date | None
    end: date | None
    department: str | None = None
    keys: tuple[str, ...] = ()

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


@dataclass(frozen=True)
class TimeLimits:
    """qms.yaml `time_limits:`: the profile it names (of qms_cli/time_limits.yaml), the
    store's own overrides, and the limits they make together, each a checked duration:
    {type: {limit: duration, or {key value: duration}}}."""

    profile: str
    overrides: dict[str, Any]
    limits: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Calendar:
    """qms.yaml `calendar:`: the days the plant works although the official calendar rests
    (`workdays`), and those it rests although it is a working day (`holidays`)."""

    workdays: frozenset[date] = frozenset()
    holidays: frozenset[date] = frozenset()


@dataclass(frozen=True)
class TypeExtension:
    """What qms.yaml `types.<type>:` adds to a record type's declaration: fields (merged
    into the declared ones), requirements by state, changes of moves by "FROM->TO" (role:
    and/or requires:), and whose department head approves (`approvals: {department: ...}`,
    None when it says nothing)."""

    fields: dict[str, Any] = field(default_factory=dict)
    requires: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    moves: dict[str, dict[str, Any]] = field(default_factory=dict)
    approvals: dict[str, Any] | None = None
    checks: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Attachments:
    """qms.yaml `attachments:`: the largest file that may be attached, in megabytes."""

    max_mb: int | float = ATTACHMENT_MB


@dataclass(frozen=True)
class PdfSettings:
    """qms.yaml `pdf:`: the font family PDF forms are set in (`font`, e.g. Noto Sans CJK SC);
    None: one with the Chinese characters found through fontconfig."""

    font: str | None = None


@dataclass(frozen=True)
class PublishSettings:
    """qms.yaml `publish:`: the web page of a commit of the store's repository, with
    `{commit}` where the commit's hash goes (`commit_url`), so that a published site links
    each signature to its commit; None: the hash is shown without a link."""

    commit_url: str | None = None

    def link(self, commit: str) -> str | None:
        """The web page of `commit` (a full hash), None when no commit_url is set."""
        return self.commit_url.replace("{commit}", commit) if self.commit_url else None


@dataclass(frozen=True)
class AuditSettings:
    """qms.yaml `audit:`: the role whose holders alone change the rules (`rules_signed_by`,
    or `roles_signed_by`, its name before the rules grew) and how many days after the act a
    paper record may be entered (`back_entry_days`, None: audit's own default)."""

    rules_signed_by: str | None = None
    roles_signed_by: str | None = None
    back_entry_days: int | None = None

    @property
    def guard(self) -> str | None:
        """The role whose holders may change the rules, None when qms.yaml names none."""
        return self.rules_signed_by or self.roles_signed_by


@dataclass(frozen=True)
class RemindEmail:
    """qms.yaml `remind.email:`: the SMTP server qms remind sends through, the sender, who
    receives every reminder (`to`) and whether each person reminded who has an e-mail in
    qms.yaml receives it too (`to_holders`). The login's user and password are read from the
    environment variables named here (`user_env`, `password_env`), never from the store."""

    host: str
    port: int = 25
    sender: str = ""
    to: tuple[str, ...] = ()
    to_holders: bool = False
    starttls: bool = False
    ssl: bool = False
    user_env: str | None = None
    password_env: str | None = None
    subject: str = ""


@dataclass(frozen=True)
class RemindWebhook:
    """qms.yaml `remind.webhook:`: a group robot (wecom, dingtalk or feishu) whose URL, with
    its token, is in the environment variable `url_env`, and whose signing secret (DingTalk's
    and Feishu's signed requests), if any, is in `secret_env`."""

    kind: str
    url_env: str
    secret_env: str | None = None


@dataclass(frozen=True)
class RemindSettings:
    """qms.yaml `remind:`: how far ahead `qms remind` looks (`within`, a duration such as
    2wd), how long a server has to answer (`timeout`, seconds), and where it sends."""

    within: str = DEFAULT_REMIND_WITHIN
    timeout: float = DEFAULT_REMIND_TIMEOUT
    email: RemindEmail | None = None
    webhook: RemindWebhook | None = None


@dataclass(frozen=True)
class Settings:
    """Everything qms.yaml says, each value checked and typed; what it leaves out has its
    default. Made by `read_settings`."""

    company: str
    site: str
    lang: str
    timezone: ZoneInfo
    shard: str
    time_limits: TimeLimits
    calendar: Calendar
    numbering: dict[str, str | dict[str, Any]]
    roles: dict[str, Role]
    types: dict[str, TypeExtension]
    approvals: dict[str, dict[str, str]]
    attachments: Attachments
    require_signed_commits: bool
    audit: AuditSettings
    targets: dict[str, dict[int, float]]  # e.g. {satisfaction: {2026: 97.0}}
    pdf: PdfSettings
    remind: RemindSettings = RemindSettings()
    publish: PublishSettings = PublishSettings()
    site_in_numbers: bool = False


@dataclass(frozen=True)
class _Unreadable:
    """A setting of a qms.yaml read as written that could not be read: why, and what it
    said (so that two such compare by what they said)."""

    message: str
    written: Any


# -- reading each setting ---------------------------------------------------------------------
def _bad(message: str, **names: Any) -> BadInput:
    return BadInput(message.format(file=CONFIG_FILE, **names))


def _is_text(value: Any) -> bool:
    """A scalar qms takes as text: a string, a number or a date (not a list, a mapping or
    true/false)."""
    return isinstance(value, (str, int, float, date)) and not isinstance(value, bool)


def _line(value: Any, where: str) -> str:
    """A setting that is one piece of text ('' when unset); a list or a mapping is refused."""
    if value is None:
        return ""
    if not _is_text(value):
        raise _bad(_("{file}: {key}: expected one line of text, not {value}"), key=where, value=quote(value))
    return str(value)


def _date_or_none(value: Any, where: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise BadInput(_("{file}: {field}: expected a date such as 2026-01-01").format(
            file=CONFIG_FILE, field=where)) from None


def _role_name(value: Any, where: str) -> str:
    if not _is_text(value) or not str(value).strip():
        raise _bad(_("{file}: {key}: expected the name of a role, not {value}"), key=where, value=quote(value))
    return str(value)


def _refuse_unknown(block: dict, known: tuple[str, ...], prefix: str) -> None:
    for key in block:
        if str(key) not in known:
            raise _bad(_("{file}: {key}: not a setting of qms.yaml{hint} (settings here: {known})"),
                       key=f"{prefix}{key}", hint=did_you_mean(str(key), known), known=", ".join(known))


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
    _refuse_unknown(data, SETTINGS, "")
    for name, known in BLOCK_SETTINGS.items():
        if isinstance(data.get(name), dict):
            _refuse_unknown(data[name], known, f"{name}.")


def _lang(value: Any, as_written: bool) -> str:
    lang = value or "zh"
    if lang not in LANGS:
        raise _bad(_("{file}: lang: expected zh or en, not '{value}'"), value=lang)
    return lang


def _timezone(value: Any, as_written: bool) -> ZoneInfo:
    name = str(value or DEFAULT_TIMEZONE)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _bad(_("{file}: timezone: unknown time zone '{name}' (e.g. Asia/Shanghai)"), name=name) from None


def _shard(value: Any, as_written: bool) -> str:
    value = value or "none"
    if value not in SHARDS:
        raise _bad(_("{file}: shard: expected none, year or hundred, not '{value}'"), value=value)
    return value


@cache
def _presets() -> dict:
    """The time-limit profiles qms ships, read once."""
    return yamlio.load(PACKAGE_DIR / "time_limits.yaml", _("built-in time limits"))


def _deep_merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def _time_limits(value: Any, as_written: bool) -> TimeLimits:
    presets = _presets()
    profile = value or DEFAULT_PROFILE
    overrides: dict = {}
    if isinstance(value, dict):
        overrides = copy.deepcopy({k: v for k, v in value.items() if k != "profile"})
        profile = value.get("profile") or DEFAULT_PROFILE
    if not isinstance(profile, str) or profile not in presets:
        raise _bad(_("{file}: time_limits: unknown profile '{profile}' (expected one of {profiles})"),
                   profile=profile, profiles=", ".join(presets))
    for tname, items in overrides.items():
        if items is not None and not isinstance(items, dict):
            raise _bad(_("{file}: time_limits.{type}: expected time limits by name, such as {{report: 5wd}}, "
                         "not {value}"), type=tname, value=quote(items))
    limits = _deep_merge(copy.deepcopy({k: v for k, v in presets[profile].items() if k != "label"}), overrides)
    for tname, items in limits.items():
        for lname, limit in (items or {}).items():
            for v in limit.values() if isinstance(limit, dict) else [limit]:
                try:
                    parse_duration(v)
                except ValueError as e:
                    raise BadInput(f"{CONFIG_FILE}: time_limits.{tname}.{lname}: {e}") from None  # not a sentence
    return TimeLimits(profile=profile, overrides=overrides, limits=limits)


def _calendar(value: Any, as_written: bool) -> Calendar:
    raw = value or {}
    if not isinstance(raw, dict):
        raise _bad(_("{file}: calendar: expected workdays: and holidays: lists"))

    def days(key: str) -> frozenset[date]:
        """The dates listed under `calendar.<key>`."""
        listed = raw.get(key)
        if listed is None:
            return frozenset()
        if not isinstance(listed, list):
            raise _bad(_("{file}: calendar.{key}: expected a list of dates such as [2026-05-09], not {value}"),
                       key=key, value=quote(listed))
        return frozenset(d for i, v in enumerate(listed) if (d := _date_or_none(v, f"calendar.{key}.{i}")))

    return Calendar(workdays=days("workdays"), holidays=days("holidays"))


def _numbering(value: Any, as_written: bool) -> dict[str, str | dict[str, Any]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _bad(_("{file}: numbering: expected a scheme by record type, such as "
                     "complaint: CMP-{{year}}-{{seq:04}}, not {value}"), value=quote(value))
    out: dict[str, str | dict[str, Any]] = {}
    for name, scheme in value.items():
        if scheme is None or scheme == "":
            continue
        if isinstance(scheme, dict):
            out[str(name)] = copy.deepcopy(scheme)
        elif _is_text(scheme):
            out[str(name)] = str(scheme)
        else:
            raise _bad(_("{file}: numbering.{type}: expected a scheme such as CMP-{{year}}-{{seq:04}}, "
                         "or schemes by category, not {value}"), type=name, value=quote(scheme))
    return out


def _holding(h: Any, role: str, i: int, as_written: bool) -> Holding:
    if isinstance(h, str):
        h = {"email": h}
    if not isinstance(h, dict) or not h.get("email") or not _is_text(h["email"]):
        raise _bad(_("{file}: roles.{role}.holders.{index}: expected an email"), role=role, index=i)
    where = f"roles.{role}.holders.{i}"
    if not as_written:
        _refuse_unknown(h, HOLDER_SETTINGS, f"{where}.")
    raw_keys = h.get("key")
    keys = raw_keys if isinstance(raw_keys, list) else [raw_keys] if raw_keys else []
    if not all(_is_text(k) for k in keys):
        raise _bad(_("{file}: {key}: expected a signing key (an SSH public key or a GPG fingerprint), "
                     "or a list of them"), key=f"{where}.key")
    department = h.get("department")
    return Holding(
        email=str(h["email"]),
        name=_line(h.get("name"), f"{where}.name") or str(h["email"]),
        start=_date_or_none(h.get("from"), f"{where}.from"),
        end=_date_or_none(h.get("until"), f"{where}.until"),
        department=None if department is None else _line(department, f"{where}.department"),
        keys=tuple(str(k).strip() for k in keys),
    )


def _roles(value: Any, as_written: bool) -> dict[str, Role]:
    raw = value or {}
    if not isinstance(raw, dict):
        raise _bad(_("{file}: roles: expected a mapping of role names"))
    roles = {}
    for name, spec in raw.items():
        spec = spec or {}
        if not isinstance(spec, dict):
            raise _bad(_("{file}: roles.{role}: expected label: and holders:"), role=name)
        if not as_written:
            _refuse_unknown(spec, ROLE_SETTINGS, f"roles.{name}.")
        listed = spec.get("holders") or []
        if not isinstance(listed, list):
            raise _bad(_("{file}: roles.{role}.holders: expected a list of holders, such as "
                         "[{{name: 李雷, email: li.lei@example.com}}]"), role=name)
        label = spec.get("label") or {"zh": name, "en": name}
        if not isinstance(label, dict) or not all(_is_text(v) for v in label.values()):
            raise _bad(_("{file}: roles.{role}.label: expected a label by language, such as "
                         "{{zh: 质量工程师, en: Quality engineer}}"), role=name)
        roles[str(name)] = Role(name=str(name), label={str(k): str(v) for k, v in label.items()},
                                holders=tuple(_holding(h, name, i, as_written) for i, h in enumerate(listed)))
    return roles


def _type_extension(name: str, ext: Any) -> TypeExtension:
    ext = ext or {}
    if not isinstance(ext, dict):
        raise _bad(_("{file}: types.{type}: expected fields: and requires:"), type=name)
    unknown = set(ext) - set(TYPE_SETTINGS)
    if unknown:
        raise _bad(_("{file}: types.{type}: unknown key(s) {keys} "
                     "(expected fields:, requires:, moves:, approvals: or checks:)"),
                   type=name, keys=", ".join(sorted(map(str, unknown))))
    fields = ext.get("fields") or {}
    if not isinstance(fields, dict):
        raise _bad(_("{file}: types.{type}.fields: expected fields by name, such as "
                     "sales_order: {{type: text}}, not {value}"), type=name, value=quote(fields))
    approvals = ext.get("approvals")
    # whose department head approves: e.g. the document's owning department instead of the
    # receiving one (distribution: {approvals: {department: document.department}})
    if approvals is not None and (not isinstance(approvals, dict) or not set(approvals) <= {"department"}):
        raise _bad(_("{file}: types.{type}.approvals: expected {{department: FIELD}}"), type=name)
    moves = ext.get("moves") or {}
    if not isinstance(moves, dict):
        raise _bad(_("{file}: types.{type}.moves: expected changes by move, such as "
                     "received->acknowledged: {{role: sales}}, not {value}"), type=name, value=quote(moves))
    for key, change in moves.items():
        # "from->to": {role: ..., requires: [...]}: who signs a step, and what it needs
        if not isinstance(change, dict) or not set(change) <= {"role", "requires"} or not change:
            raise _bad(_("{file}: types.{type}.moves.{move}: expected role: and/or requires:"), type=name, move=key)
    checks = ext.get("checks") or []
    if not isinstance(checks, list):
        raise _bad(_("{file}: types.{type}.checks: expected a list such as [{{fn: different_signers, args: "
                     "[prepared, approved]}}], not {value}"), type=name, value=quote(checks))
    requires = ext.get("requires") or {}
    if not isinstance(requires, dict):
        raise _bad(_("{file}: types.{type}.requires: expected requirements by state, such as "
                     "acknowledged: [sales_order], not {value}"), type=name, value=quote(requires))
    for state, reqs in requires.items():
        if reqs is not None and not isinstance(reqs, list):
            raise _bad(_("{file}: types.{type}.requires.{state}: expected a list of requirements, such as "
                         "[sales_order], not {value}"), type=name, state=state, value=quote(reqs))
    return TypeExtension(
        fields=copy.deepcopy(fields),
        requires={str(state): tuple(copy.deepcopy(reqs or [])) for state, reqs in requires.items()},
        moves={str(key): copy.deepcopy(change) for key, change in moves.items()},
        approvals=copy.deepcopy(approvals),
        checks=tuple(copy.deepcopy(checks)),
    )


def _types(value: Any, as_written: bool) -> dict[str, TypeExtension]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _bad(_("{file}: types: expected changes by record type, such as "
                     "complaint: {{fields: ..., requires: ...}}, not {value}"), value=quote(value))
    return {str(name): _type_extension(name, ext) for name, ext in value.items()}


def _approvals(value: Any, as_written: bool) -> dict[str, dict[str, str]]:
    if value is None:
        return {}
    example = "{review: quality_manager, approve: management_representative}"
    if not isinstance(value, dict):
        raise _bad(_("{file}: approvals: expected roles by document category, such as procedure: {example}, "
                     "not {value}"), example=example, value=quote(value))
    out: dict[str, dict[str, str]] = {}
    for category, steps in value.items():
        steps = steps or {}
        if not isinstance(steps, dict):
            raise _bad(_("{file}: approvals.{category}: expected roles by step, such as {example}, not {value}"),
                       category=category, example=example, value=quote(steps))
        out[str(category)] = {str(step): _role_name(role, f"approvals.{category}.{step}")
                              for step, role in steps.items() if role is not None}
    return out


def _attachments(value: Any, as_written: bool) -> Attachments:
    raw = (value if isinstance(value, dict) else {}).get("max_mb", ATTACHMENT_MB)
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not 0 < raw <= safefs.ATTACHMENT_LIMIT >> 20:
        raise BadInput(_("{config}: attachments.max_mb: expected a number of megabytes from 1 to {limit}").format(
            config=CONFIG_FILE, limit=safefs.ATTACHMENT_LIMIT >> 20))
    return Attachments(max_mb=raw)


def _site_in_numbers(value: Any, as_written: bool) -> bool:
    if value is not None and not isinstance(value, bool) and not as_written:
        raise _bad(_("{file}: site_in_numbers: expected true or false, not {value}"), value=quote(value))
    return bool(value)


def _require_signed_commits(value: Any, as_written: bool) -> bool:
    if as_written:  # as qms has always read it
        return bool(value)
    if value is not None and not isinstance(value, bool):
        raise _bad(_("{file}: require_signed_commits: expected true or false, not {value}"), value=quote(value))
    return bool(value)


TARGETS = ("satisfaction",)  # the yearly quality objectives qms measures against


def _targets(value: Any, as_written: bool) -> dict[str, dict[int, float]]:
    """`targets: {satisfaction: {2026: 97, 2027: 98}}`: a yearly objective (a percentage)
    per year (seed 003: 顾客满意度在一年内达到95%，二年内达到97%，三年内达到98%)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _bad(_("{file}: targets: expected {{satisfaction: {{YEAR: PERCENT}}}}, not {value}"), value=quote(value))
    out: dict[str, dict[int, float]] = {}
    for name, years in value.items():
        if str(name) not in TARGETS:
            if as_written:
                continue
            raise _bad(_("{file}: targets: unknown target '{name}' (expected one of {names})"),
                       name=name, names=", ".join(TARGETS))
        if not isinstance(years, dict):
            raise _bad(_("{file}: targets.{name}: expected YEAR: PERCENT, such as {{2026: 97}}, not {value}"),
                       name=name, value=quote(years))
        found: dict[int, float] = {}
        for year, pct in years.items():
            ok_year = isinstance(year, int) and not isinstance(year, bool) and 1900 <= year <= 2999
            ok_pct = isinstance(pct, (int, float)) and not isinstance(pct, bool) and 0 <= pct <= 100
            if not (ok_year and ok_pct):
                raise _bad(_("{file}: targets.{name}: expected YEAR: PERCENT (a year, a percentage from 0 to 100), "
                             "not {year}: {value}"), name=name, year=quote(year), value=quote(pct))
            found[year] = float(pct)
        out[str(name)] = found
    return out


def _audit(value: Any, as_written: bool) -> AuditSettings:
    block = value if isinstance(value, dict) else {}
    days = block.get("back_entry_days")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 0):
        if not as_written:
            raise _bad(_("{file}: audit.back_entry_days: expected a whole number of days, 0 or more, not {value}"),
                       value=quote(days))
        days = None  # a commit's own qms.yaml: audit's default, as it has always read it

    def role(key: str) -> str | None:
        """The role `audit.<key>` names, None when it names none."""
        named = block.get(key)
        if not named:
            return None
        return str(named) if as_written else _role_name(named, f"audit.{key}")

    return AuditSettings(rules_signed_by=role("rules_signed_by"), roles_signed_by=role("roles_signed_by"),
                         back_entry_days=days)


def _env_name(value: Any, where: str) -> str | None:
    """The name of an environment variable (QMS_SMTP_PASSWORD), never the secret itself;
    only a QMS_ variable, so that a store cannot name another secret of the user's (a
    cloud key, a token) to have it sent somewhere or printed."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not re.fullmatch(r"QMS_[A-Z0-9_]{1,60}", value):
        # not the value: one written here by mistake is the secret itself (the robot's URL with its
        # token, a password), which every command would otherwise print, into every CI log
        raise _bad(_("{file}: {key}: expected the name of an environment variable starting QMS_ that holds "
                     "the secret (e.g. QMS_WEBHOOK_URL); what is written there is not shown, as it may be the "
                     "secret itself: that belongs in the environment, never in the store"), key=where)
    return value


EMAIL_ADDRESS = re.compile(r"[^@\s<>,;\"\x00-\x1f\x7f]{1,64}@[^@\s<>,;\"\x00-\x1f\x7f]{1,255}")


def _subject(value: Any) -> str:
    """A reminder mail's subject: one line of at most 200 characters, no control
    characters; {title} stands for the reminder's title."""
    text = _line(value, "remind.email.subject")
    if len(text) > 200 or re.search(r"[\x00-\x1f\x7f]", text):
        raise _bad(_("{file}: remind.email.subject: expected one line of at most 200 characters, not {value}"),
                   value=quote(text[:80]))
    return text


# a host name as DNS takes it (after IDNA): labels of 1 to 63 letters, digits, - and _
HOST_NAME = re.compile(r"(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_][A-Za-z0-9_-]{0,62})*\.?")


def _mail_host(value: Any) -> bool:
    """Whether `value` names a mail server: a host name (one in Chinese too) or an IP
    address; socket would choke on a label over 63 characters with an internal error."""
    if not isinstance(value, str) or not value.strip():
        return False
    text = value.strip()
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        pass
    try:
        return bool(HOST_NAME.fullmatch(text.encode("idna").decode("ascii")))
    except UnicodeError:
        return False


def _settings_block(raw: Any, known: tuple[str, ...], key: str, as_written: bool) -> None:
    """A block of settings (remind.email:) is a mapping of the keys qms knows there."""
    if not isinstance(raw, dict):
        raise _bad(_("{file}: {key}: expected settings ({known}), not {value}"), key=key,
                   known=", ".join(f"{k}:" for k in known), value=quote(raw))
    if not as_written:
        _refuse_unknown(raw, known, f"{key}.")


def _remind(value: Any, as_written: bool) -> RemindSettings:
    block = value if isinstance(value, dict) else {}
    within = block.get("within")
    if within is None or within == "":
        within = DEFAULT_REMIND_WITHIN
    try:
        parse_duration(str(within))
    except ValueError as e:
        raise BadInput(f"{CONFIG_FILE}: remind.within: {e}") from None  # not a sentence
    timeout = block.get("timeout", DEFAULT_REMIND_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 600:
        raise _bad(_("{file}: remind.timeout: expected a number of seconds from 0 to 600, not {value}"),
                   value=quote(timeout))
    email = webhook = None
    raw = block.get("email")
    if raw is not None:
        _settings_block(raw, REMIND_EMAIL_SETTINGS, "remind.email", as_written)
        if not _mail_host(raw.get("host")):
            raise _bad(_("{file}: remind.email.host: expected the mail server's name, e.g. smtp.example.com"))
        port = raw.get("port", 25)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise _bad(_("{file}: remind.email.port: expected a port number such as 25 or 587, not {value}"),
                       value=quote(port))
        to = raw.get("to") or []
        to = [to] if isinstance(to, str) else to
        if not isinstance(to, list) or not all(isinstance(a, str) and EMAIL_ADDRESS.fullmatch(a) for a in to):
            raise _bad(_("{file}: remind.email.to: expected a list of e-mail addresses, not {value}"),
                       value=quote(raw.get("to")))
        sender = raw.get("from")
        if not isinstance(sender, str) or not EMAIL_ADDRESS.fullmatch(sender):
            raise _bad(_("{file}: remind.email.from: expected the sender's e-mail address, not {value}"),
                       value=quote(sender))
        flags = {}
        for key in ("to_holders", "starttls", "ssl"):
            flag = raw.get(key, False)
            if not isinstance(flag, bool):
                raise _bad(_("{file}: remind.email.{key}: expected true or false, not {value}"), key=key,
                           value=quote(flag))
            flags[key] = flag
        if not to and not flags["to_holders"]:
            raise _bad(_("{file}: remind.email: expected to: (addresses) or to_holders: true, or both"))
        if flags["ssl"] and flags["starttls"]:  # an encrypted connection cannot be encrypted again
            raise _bad(_("{file}: remind.email: expected ssl: true (port 465) or starttls: true (port 587), "
                         "not both"))
        user_env = _env_name(raw.get("user_env"), "remind.email.user_env")
        password_env = _env_name(raw.get("password_env"), "remind.email.password_env")
        if bool(user_env) != bool(password_env):  # one alone was never used: the mail went without a login
            raise _bad(_("{file}: remind.email: expected both user_env and password_env (the login's user and "
                         "password), or neither"))
        email = RemindEmail(host=raw["host"].strip(), port=port, sender=sender, to=tuple(to), **flags,
                            user_env=user_env, password_env=password_env, subject=_subject(raw.get("subject")))
    raw = block.get("webhook")
    if raw is not None:
        _settings_block(raw, REMIND_WEBHOOK_SETTINGS, "remind.webhook", as_written)
        if raw.get("kind") not in WEBHOOK_KINDS:
            raise _bad(_("{file}: remind.webhook.kind: expected one of {kinds}, not {value}"),
                       kinds=", ".join(WEBHOOK_KINDS), value=quote(raw.get("kind")))
        url_env = _env_name(raw.get("url_env"), "remind.webhook.url_env")
        if url_env is None:
            raise _bad(_("{file}: remind.webhook.url_env: expected the name of the environment variable "
                         "that holds the robot's URL (e.g. QMS_WEBHOOK_URL)"))
        webhook = RemindWebhook(kind=raw["kind"], url_env=url_env,
                                secret_env=_env_name(raw.get("secret_env"), "remind.webhook.secret_env"))
    return RemindSettings(within=str(within), timeout=float(timeout), email=email, webhook=webhook)


def _pdf(value: Any, as_written: bool) -> PdfSettings:
    font = (value if isinstance(value, dict) else {}).get("font")
    if font is None or font == "":
        return PdfSettings()
    # a family name goes into the PDF's stylesheet: letters, digits, spaces, - _ . only
    if not isinstance(font, str) or not FONT_FAMILY.fullmatch(font.strip()):
        raise _bad(_("{file}: pdf.font: expected the name of a font family, such as Noto Sans CJK SC, not {value}"),
                   value=quote(font))
    return PdfSettings(font=font.strip())


# a commit's web page: http(s), a host, {commit} once; no spaces, quotes or angle brackets
COMMIT_URL = re.compile(r"https?://[^\s/\"'<>`]+/[^\s\"'<>`{}]*\{commit\}[^\s\"'<>`{}]*")


def _publish(value: Any, as_written: bool) -> PublishSettings:
    url = (value if isinstance(value, dict) else {}).get("commit_url")
    if url is None or url == "":
        return PublishSettings()
    if not isinstance(url, str) or not COMMIT_URL.fullmatch(url.strip()):
        raise _bad(_("{file}: publish.commit_url: expected an http(s) address with {{commit}} where the commit's "
                     "hash goes, such as https://git.example.com/qa/store/-/commit/{{commit}}, not {value}"),
                   value=quote(url))
    return PublishSettings(commit_url=url.strip())


# How each setting is read: (what qms.yaml says there or None, whether it is read as written)
_READERS: dict[str, Callable[[Any, bool], Any]] = {
    "company": lambda value, as_written: _line(value or None, "company"),
    "site": lambda value, as_written: _line(value or None, "site"),
    "site_in_numbers": _site_in_numbers,
    "lang": _lang,
    "timezone": _timezone,
    "shard": _shard,
    "time_limits": _time_limits,
    "calendar": _calendar,
    "numbering": _numbering,
    "roles": _roles,
    "types": _types,
    "approvals": _approvals,
    "attachments": _attachments,
    "require_signed_commits": _require_signed_commits,
    "audit": _audit,
    "targets": _targets,
    "remind": _remind,
    "pdf": _pdf,
    "publish": _publish,
}


def read_settings(data: Any, *, as_written: bool = False) -> tuple[Settings, dict[str, _Unreadable]]:
    """qms.yaml's parsed YAML as `Settings`, and the settings that could not be read.

    Checked (the default): an unknown key anywhere qms knows the keys, or a bad value, is
    refused (BadInput naming qms.yaml, the key and what was expected); the second result
    is then empty. `as_written` (a commit's own qms.yaml, or the one committed before a
    change of the rules): no key is refused, and a setting that cannot be read takes its
    default and is returned with why, for `Config` to refuse only when it is asked for."""
    if not as_written:
        check_keys(data)
    elif not isinstance(data, dict):
        raise BadInput(_("{file}: expected settings (company:, roles: ...), not a {kind}").format(
            file=CONFIG_FILE, kind=type(data).__name__))
    read: dict[str, Any] = {}
    unreadable: dict[str, _Unreadable] = {}
    for key, reader in _READERS.items():
        try:
            read[key] = reader(data.get(key), as_written)
        except BadInput as e:
            if not as_written:
                raise
            unreadable[key] = _Unreadable(e.message, copy.deepcopy(data.get(key)))
            read[key] = reader(None, as_written)
    return Settings(**read), unreadable


def _text_problems(data: Any, settings: Settings) -> tuple[tuple[str, str], ...]:
    """What validate reports of qms.yaml's text: a control character in any key or text,
    and a line break in the company name or site, printed at the top of every form."""
    found = list(values.text_problems(data))
    for key in ("company", "site"):
        if LINE_BREAK.search(getattr(settings, key)):
            found.append((key, _("a line break; expected one line, as printed at the top of every form")))
    return tuple(found)


# -- the configuration a store runs on ---------------------------------------------------------
class Config:
    """A store's qms.yaml, read once into `settings`, and the record types it runs, each
    declaration read once and kept."""

    def __init__(self, root: Path, settings: Settings, *, type_files: dict[str, bytes] | None = None,
                 unreadable: dict[str, _Unreadable] | None = None,
                 text_problems: tuple[tuple[str, str], ...] = ()):
        """The configuration of the store at `root` from `settings` (use `load` or `parse`).
        `type_files`: the store's own types as a commit held them (audit judges a commit by
        its parent's rules): name -> the declaration's bytes; None: the store's types/
        folder as it is."""
        self.root = root
        self.settings = settings
        self.type_files = type_files
        self._unreadable = dict(unreadable or {})
        self._text_problems = text_problems
        self._types: dict[str, RecordType] = {}

    @staticmethod
    def load(root: Path) -> Config:
        """The store's qms.yaml as it is now, every key and value checked (a commit's own
        qms.yaml, read by audit, is taken as it was written: see `parse`)."""
        return Config.parse(root, yamlio.load(root / CONFIG_FILE, CONFIG_FILE, root=root))

    @staticmethod
    def parse(root: Path, data: Any, *, as_written: bool = False) -> Config:
        """The configuration of the store at `root` from qms.yaml's parsed YAML `data`,
        checked as `read_settings` says: with `as_written`, no key is refused and a setting
        that cannot be read is refused (BadInput) only when it is asked for."""
        settings, unreadable = read_settings(data, as_written=as_written)
        return Config(root, settings, unreadable=unreadable, text_problems=_text_problems(data, settings))

    def with_type_files(self, type_files: dict[str, bytes]) -> Config:
        """The same settings with the store's own types as a commit held them (name -> the
        declaration's bytes), each declaration read afresh."""
        return Config(self.root, self.settings, type_files=type_files, unreadable=self._unreadable,
                      text_problems=self._text_problems)

    def problem(self, key: str) -> str | None:
        """Why setting `key` of a qms.yaml read as written could not be read, None when it
        was (always None for a checked one)."""
        found = self._unreadable.get(key)
        return found.message if found is not None else None

    def rule(self, key: str) -> Any:
        """Setting `key` as qms reads it, to compare with another configuration's: equal
        exactly when both say the same (a setting that could not be read compares by what
        was written there)."""
        return self._unreadable.get(key) or getattr(self.settings, key)

    def _get(self, key: str) -> Any:
        found = self._unreadable.get(key)
        if found is not None:
            raise BadInput(found.message)
        return getattr(self.settings, key)

    @property
    def text_problems(self) -> tuple[tuple[str, str], ...]:
        """(key path, problem) for each key or text of qms.yaml that a form or list cannot
        print as it is: a control character anywhere, a line break in company or site."""
        return self._text_problems

    # -- what audit, attachments and signing are set to ------------------------------------
    @property
    def audit(self) -> AuditSettings:
        """The `audit:` settings (rules_signed_by, back_entry_days), each None when unset."""
        return self._get("audit")

    @property
    def approvals(self) -> dict[str, dict[str, str]]:
        """The `approvals:` table: by document category, the role of each step; {} when
        there is none."""
        return self._get("approvals")

    @property
    def attachment_limit(self) -> int:
        """The largest file that may be attached, in bytes (`attachments.max_mb`)."""
        return int(self._get("attachments").max_mb * (1 << 20))

    @property
    def site_in_numbers(self) -> bool:
        """Whether every record number carries the site code (CMP-SH-2026-0042): plants that
        share one store through a git server then never give the same number."""
        return self._get("site_in_numbers")

    @property
    def require_signed_commits(self) -> bool:
        """Whether qms.yaml asks for signed commits: qms signs its own, and audit reports
        unsigned ones. False unless it says so."""
        return self._get("require_signed_commits")

    @property
    def remind(self) -> RemindSettings:
        """The `remind:` settings: how far ahead qms remind looks, and where it sends."""
        return self._get("remind")

    def target(self, name: str, year: int) -> float | None:
        """The yearly objective `name` (satisfaction) qms.yaml sets for `year`, a percentage;
        None when it sets none."""
        return (self._get("targets").get(name) or {}).get(year)

    @property
    def pdf_font(self) -> str | None:
        """The font family qms.yaml sets for PDF forms (`pdf.font`), None when it sets none."""
        return self._get("pdf").font

    @property
    def publish(self) -> PublishSettings:
        """The `publish:` settings: the web page of a commit, for a published site's links."""
        return self._get("publish")

    # -- plain settings ------------------------------------------------------------------
    @property
    def company(self) -> str:
        """The company name printed at the top of every form, '' when unset."""
        return self._get("company")

    @property
    def site(self) -> str:
        """The store's site code (the {site} of record numbers), '' when unset."""
        return self._get("site")

    @property
    def shard(self) -> str:
        """How new records are filed: `hundred` puts records/<type>/CMP-2026-00xx/<ID>.yaml
        (at most 100 records a folder), `year` records/<type>/2026/<ID>.yaml; `none` (the
        default) records/<type>/<ID>.yaml. A commit rewrites the folder it writes into:
        one of 10,000 records costs git a 470 KB tree every time."""
        return self._get("shard")

    @property
    def lang(self) -> str:
        """The store's language: zh (the default) or en."""
        return self._get("lang")

    @property
    def tz(self) -> ZoneInfo:
        """The store's time zone (Asia/Shanghai by default)."""
        return self._get("timezone")

    @cached_property
    def calendar(self) -> WorkCalendar:
        """The working-day calendar: mainland China's official one with the store's own
        workdays and holidays (one per configuration: it keeps what it has looked up, and
        its warnings)."""
        days = self._get("calendar")
        return WorkCalendar(workdays=set(days.workdays), holidays=set(days.holidays))

    # -- roles ---------------------------------------------------------------------------
    @property
    def roles(self) -> dict[str, Role]:
        """Every role of qms.yaml by name, with its holders, in qms.yaml's order."""
        return self._get("roles")

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
        elif local.is_dir():  # a name that is not UTF-8 names no type (validate says so)
            names.update(p.stem for p in local.glob("*.yaml") if is_text(p.stem))
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
            data = yamlio.load_declaration(None, source, root=self.root, raw=self.type_files[name])
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
        data = yamlio.load_declaration(path, source, root=self.root if path == local else None)  # its own, fresh
        data = self._extend(name, data)
        rt = RecordType.from_dict(data, source)
        problem = unknown(rt)  # a function qms does not have (a commit's own types: skipped when run)
        if problem:
            raise BadInput(f"{source}: {problem}")
        self._types[name] = rt
        return rt

    def _extend(self, name: str, data: dict) -> dict:
        """Apply qms.yaml's `numbering:` and `types.<name>:` to a declaration."""
        numbering = copy.deepcopy(self._get("numbering").get(name))
        if isinstance(numbering, dict) and isinstance(data.get("numbering"), dict):
            merged = dict(data["numbering"])
            merged["schemes"] = {**(merged.get("schemes") or {}), **numbering}
            data["numbering"] = merged
        elif numbering:
            data["numbering"] = numbering
        ext = self._get("types").get(name)
        if ext is None:
            return data
        if ext.fields:
            data["fields"] = _deep_merge(data.get("fields") or {}, copy.deepcopy(ext.fields))
        if ext.approvals is not None:
            data["approvals"] = {**(data.get("approvals") or {}), **ext.approvals}
        if ext.checks:  # named checks the store adds (e.g. 编制 · 审核 · 批准 by different people)
            data["checks"] = [*(data.get("checks") or []), *copy.deepcopy(ext.checks)]
        for key, change in ext.moves.items():
            # "from->to": {role: ..., requires: [...]}: who signs a step, and what it needs
            source, _arrow, target = key.replace(" ", "").partition("->")
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
                    move.update(copy.deepcopy(change))
                    found = True
                    break
            if not found:
                raise BadInput(_("{file}: types.{type}.moves: {move} is not a move of {type} "
                                 "(expected FROM->TO, e.g. received->acknowledged)").format(
                    file=CONFIG_FILE, type=name, move=key))
        for state, reqs in ext.requires.items():
            states = data["workflow"]["states"]
            if state not in states:
                raise BadInput(_("{file}: types.{type}.requires: no state '{state}'").format(
                    file=CONFIG_FILE, type=name, state=state))
            states[state] = dict(states[state] or {})
            states[state]["requires"] = list(states[state].get("requires") or []) + copy.deepcopy(list(reqs))
        return data

    # -- time limits ---------------------------------------------------------------------
    @property
    def time_limit_profile(self) -> tuple[str, dict]:
        """(profile name, {type: {limit: duration or {key value: duration}}})."""
        limits = self._get("time_limits")
        return limits.profile, limits.limits

    def time_limit(self, type_name: str, limit: str, key_value: Any) -> str | None:
        """The duration qms.yaml's time-limit profile sets for `limit` of a type, by the
        record's key value where it varies (else its default); None when there is none."""
        value = (self.time_limit_profile[1].get(type_name) or {}).get(limit)
        if isinstance(value, dict):
            return value.get(str(key_value)) or value.get("default")
        return value
