"""`qms remind`: everything due soon or overdue in a store, by person and role, and how it
is sent (standard output, e-mail over SMTP, a WeCom / DingTalk / Feishu group robot).

What is due comes from the declarations alone: each record type's deadlines (who acts:
`who: {role:, owner:}`, else the role of the move that meets the limit, else of the
record's next moves) and its `reminders:` (list items with their own due date and owner,
such as a CAPA's actions). The store is read once, one scan per record type.

Sending is idempotent per day and channel: what was sent is kept in the clone's git folder
(`qms-remind.json`, never in the store's tracked files). Secrets (SMTP password, the
robot's URL with its token, the signing secret) come only from environment variables that
qms.yaml names. A failed send raises SendFailed (exit 1) and records nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import smtplib
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Iterator

from .calendar import due as compute_due
from .calendar import end_of, parse_duration
from .config import EMAIL_ADDRESS, Config
from .deadlines import deadlines
from .errors import BadInput, Refused, SendFailed
from .files.yamlio import atomic_write
from .i18n import _, language, ngettext
from .model import values
from .model.declaration import RecordType
from .roles import role_names
from .store.lock import git_dir, held

CHANNELS = ("stdout", "email", "webhook")
# the most a group robot takes of a message, in bytes of UTF-8: WeCom's markdown content
# 4,096, DingTalk's markdown text 20,000, Feishu's whole request 20 KB (its text is sent as
# JSON, in which a line break or a quote takes two bytes, beside the signature)
ROBOT_TEXT_LIMIT = {"wecom": 4096, "dingtalk": 20000, "feishu": 18000}
STATE_FILE = "qms-remind.json"
LOCK_FILE = "qms-remind.lock"


@dataclass(frozen=True)
class Item:
    """One thing due: the record, what is due (the deadline's or the list's label, and the
    item's own text), when, and whether it is already late."""

    record: str
    type: str
    what: str
    due: datetime
    overdue: bool
    late: str  # "3 days overdue", "due in 2 days"

    def command(self) -> str:
        return f"qms {self.type} show {self.record}"

    def as_dict(self) -> dict:
        return {"record": self.record, "type": self.type, "what": self.what, "due": self.due.isoformat(),
                "overdue": self.overdue, "late": self.late, "command": self.command()}


@dataclass
class Group:
    """Who is reminded: a named person (an owner as written, with the e-mail qms.yaml gives
    that name, if any), or the holders of a role on the day."""

    role: str | None
    role_label: str
    person: str | None = None
    email: str | None = None
    holders: list[tuple[str, str]] = field(default_factory=list)  # (name, email)
    items: list[Item] = field(default_factory=list)

    def heading(self, own=lambda t: " ".join(str(t).split())) -> str:
        """The group's heading: who, with their e-mail, and the role; each name, address
        and label (a record's owner as written, qms.yaml's holders and roles) through `own`,
        which keeps it on its line (and, for a robot, shows Markdown's marks as themselves)."""
        if self.person:
            who = f"{own(self.person)} {own(f'<{self.email}>')}" if self.email else own(self.person)
            return f"{who} · {own(self.role_label)}" if self.role_label else who
        people = ", ".join(f"{own(n)} {own(f'<{e}>')}" for n, e in self.holders) or _("no holder in qms.yaml")
        return f"{own(self.role_label)}: {people}"

    def emails(self) -> list[str]:
        return [self.email] if self.email else [e for _n, e in self.holders]

    def as_dict(self) -> dict:
        return {"person": self.person, "email": self.email, "role": self.role, "role_label": self.role_label,
                "holders": [{"name": n, "email": e} for n, e in self.holders],
                "items": [i.as_dict() for i in self.items]}


@dataclass
class Reminders:
    """What `qms remind` found: the moment, the window, the groups, and the records it
    could not read."""

    now: datetime
    within: str
    horizon: datetime
    company: str
    groups: list[Group]
    problems: list[str]

    @property
    def items(self) -> list[Item]:
        return [i for g in self.groups for i in g.items]

    def counts(self) -> tuple[int, int]:
        """(overdue, due soon), each record's item counted once however many are reminded."""
        seen = {(i.record, i.what, i.due): i.overdue for i in self.items}
        late = sum(1 for v in seen.values() if v)
        return late, len(seen) - late

    def title(self) -> str:
        late, soon = self.counts()
        return _("Due and overdue on {day}: {late} overdue, {soon} due within {within}").format(
            day=self.now.strftime("%Y-%m-%d"), late=late, soon=soon, within=self.within)

    def text(self, robot: str | None = None, limit: int | None = None) -> str:
        """The reminder as a quality engineer reads it (Markdown that reads as plain text);
        for a chat robot (`robot`, its kind), the records' own text with Markdown's marks
        shown as themselves. With `limit` (bytes of UTF-8, as a robot counts them), what does
        not fit is left out: the groups keep their first items, taken round by round through
        them, and a last line says how many were left out."""
        own = (_text_only if robot == "feishu" else _plain) if robot else (lambda t: " ".join(str(t).split()))
        head = [f"# {own(self.company) + ' · ' if self.company else ''}{self.title()}"]
        if not self.groups:
            head += ["", _("Nothing is due within {within}.").format(within=self.within)]
        blocks = []  # (a group's heading, its item lines)
        for g in self.groups:
            blocks.append((["", f"## {g.heading(own)}"], [_("- {id} {what}: due {due}, {late}; see `{command}`").format(
                id=own(i.record), what=own(i.what), due=values.shown_time(i.due, self.now.tzinfo),
                late=i.late, command=_code(i.command())) for i in g.items]))
        lines = head + [line for heading, items in blocks for line in heading + items]
        whole = "\n".join(lines) + "\n"
        if limit is None or len(whole.encode("utf-8")) <= limit:
            return whole
        total = sum(len(items) for _h, items in blocks)

        def size(some: list[str]) -> int:
            return sum(len(line.encode("utf-8")) + 1 for line in some)

        def tail(left: int) -> list[str]:
            return ["", _("… and {n} more not shown here (a {kind} message holds at most {limit} bytes): "
                          "`qms remind` lists them all").format(n=left, kind=robot or "", limit=limit)]

        # round by round, each group's next item (its most urgent first), so that everyone
        # reminded sees their own first items however long another's list is
        taken = [0] * len(blocks)
        used, budget, full = size(head), limit - size(tail(total)), False
        for n in range(max(len(items) for _h, items in blocks)):
            for g, (heading, items) in enumerate(blocks):
                if n >= len(items):
                    continue
                cost = size(([*heading] if n == 0 else []) + [items[n]])
                if used + cost > budget:
                    full = True
                    break
                taken[g], used = n + 1, used + cost
            if full:
                break
        kept = head + [line for (heading, items), k in zip(blocks, taken) if k for line in heading + items[:k]]
        shown = sum(taken)
        return "\n".join(kept + tail(total - shown)) + "\n"

    def as_dict(self) -> dict:
        """The reminder as JSON (--json): what is due, by group, and what could not be read."""
        late, soon = self.counts()
        return {"now": self.now.isoformat(timespec="minutes"), "within": self.within,
                "horizon": self.horizon.isoformat(timespec="minutes"), "overdue": late, "due_soon": soon,
                "groups": [g.as_dict() for g in self.groups], "problems": self.problems}

    def digest(self) -> str:
        return hashlib.sha256(self.text().encode("utf-8")).hexdigest()[:16]


# -- what is due ------------------------------------------------------------------------------
def _how_late(due: datetime, now: datetime) -> str:
    if now > due:
        delta = now - due
        if delta.days >= 1:
            return ngettext("{n} day overdue", "{n} days overdue", delta.days).format(n=delta.days)
        hours = max(1, delta.seconds // 3600)
        return ngettext("{n} hour overdue", "{n} hours overdue", hours).format(n=hours)
    delta = due - now
    if delta.days >= 1:
        return ngettext("due in {n} day", "due in {n} days", delta.days).format(n=delta.days)
    hours = max(1, delta.seconds // 3600)
    return ngettext("due in {n} hour", "due in {n} hours", hours).format(n=hours)


def _roles(cfg: Config, rt: RecordType, spec, data: Any) -> list[str]:
    try:
        return role_names(cfg, rt, spec, data)
    except Refused:  # an approvals table without the record's category: validate says so
        return []


def _acting_roles(cfg: Config, rt: RecordType, met_by: str | None, data: Any) -> list[str]:
    """The role that acts to meet a limit: the first role of the move into the state that
    meets it (from the record's state where there is one), else of the record's next move,
    else of whoever edits the type's records. One role, so that each item is said once; a
    declaration that wants several says `who: {role: [a, b]}`."""
    state = data.get("state")
    moves = rt.workflow.moves_from(state)
    if met_by and met_by.startswith("moved:"):
        target = met_by.split(":", 1)[1]
        moves = [m for m in moves if m.target == target] or [m for m in rt.workflow.moves if m.target == target]
    found: list[str] = []
    for move in moves:
        found += [r for r in _roles(cfg, rt, move.role, data) if r not in found]
    return (found or _roles(cfg, rt, rt.workflow.edit, data))[:1]


def _owners(value: Any) -> list[str]:
    names = value if isinstance(value, list) else [value]
    return [str(n).strip() for n in names if not values.is_empty(n) and str(n).strip()]


class _Groups:
    def __init__(self, cfg: Config, day, lang: str):
        self.cfg, self.day, self.lang = cfg, day, lang
        self.by_key: dict[tuple, Group] = {}
        self.emails = {h.name: h.email for r in cfg.roles.values() for h in r.holders if h.covers(day)}

    def _label(self, role: str | None) -> str:
        found = self.cfg.roles.get(role) if role else None
        return (found.label.get(self.lang) or role) if found else (role or "")

    def add(self, item: Item, roles: list[str], owners: list[str]) -> None:
        role = roles[0] if roles else None
        if owners:
            for name in owners:
                key = ("person", name, role)
                if key not in self.by_key:
                    self.by_key[key] = Group(role, self._label(role), person=name, email=self.emails.get(name))
                self.by_key[key].items.append(item)
            return
        for r in roles or [None]:
            key = ("role", r)
            if key not in self.by_key:
                held = self.cfg.roles.get(r) if r else None
                holders = [(h.name, h.email) for h in held.holders if h.covers(self.day)] if held else []
                self.by_key[key] = Group(r, self._label(r) or _("(no role)"), holders=holders)
            self.by_key[key].items.append(item)

    def sorted(self) -> list[Group]:
        groups = list(self.by_key.values())
        for g in groups:
            g.items.sort(key=lambda i: (i.due, i.record))
        # named people first by name, then roles in qms.yaml's order
        order = {name: i for i, name in enumerate(self.cfg.roles)}
        return sorted(groups, key=lambda g: (g.person is None, g.person or "", order.get(g.role or "", 999)))


def within_of(cfg: Config, within: str | None) -> str:
    """The window: --within, else qms.yaml remind.within; refused (BadInput) unless a duration."""
    text = (within or cfg.remind.within).strip()
    try:
        parse_duration(text)
    except ValueError as e:
        raise BadInput(f"--within: {e}") from None  # not a sentence: the duration says what it expects
    return text


def collect(store, within: str | None = None, lang: str | None = None) -> Reminders:
    """Everything due within the window (or overdue) in the store, by person and role."""
    cfg: Config = store.config
    lang = lang or language()
    window = within_of(cfg, within)
    now = store.now()
    tz = cfg.tz
    horizon = compute_due(now, window, cfg.calendar, tz)
    groups = _Groups(cfg, now.date(), lang)
    problems: list[str] = []
    for name in cfg.type_names():
        rt = store.record_type(name)
        if not rt.deadlines and not rt.reminders:
            continue
        for data in store.scan(name, problems):
            rid = str(data.get("id"))
            for d in deadlines(rt, data, cfg, now):
                if d.status not in ("open", "overdue") or d.due > horizon:
                    continue
                spec = next(s for s in rt.deadlines if s.name == d.name)
                roles = list(spec.who_roles) or _acting_roles(cfg, rt, spec.met_by, data)
                owners = _owners(values.get(data, spec.who_owner)) if spec.who_owner else []
                item = Item(rid, name, d.label.get(lang) or d.name, d.due, d.status == "overdue",
                            _how_late(d.due, now))
                groups.add(item, roles, owners)
            for r in rt.reminders:
                if data.get("state") in r.not_in:
                    continue
                listed = values.get(data, r.each)
                for entry in listed if isinstance(listed, list) else []:
                    if not isinstance(entry, dict):
                        continue
                    done = r.item_field(r.done)
                    if done and not values.is_empty(entry.get(done)):
                        continue
                    raw_due = entry.get(r.item_field(r.due))
                    moment = values.to_datetime(raw_due, tz) if isinstance(raw_due, datetime) else None
                    day = values.to_date(raw_due) if moment is None else None
                    when = moment or (end_of(day, tz) if day else None)
                    if when is None or when > horizon:
                        continue
                    what = r.label.get(lang) or r.each
                    text = entry.get(r.item_field(r.what)) if r.what else None
                    if not values.is_empty(text):
                        what = f"{what} “{' '.join(str(text).split())[:60]}”"
                    item = Item(rid, name, what, when, now > when, _how_late(when, now))
                    roles = list(r.role) or _roles(cfg, rt, rt.workflow.edit, data)[:1]
                    groups.add(item, roles, _owners(entry.get(r.item_field(r.owner))) if r.owner else [])
    return Reminders(now, window, horizon, cfg.company, groups.sorted(),
                     problems + [str(s) for s in getattr(store, "skipped", [])])


# -- what was sent ----------------------------------------------------------------------------
def _state_path(store) -> Path:
    return git_dir(store.root) / STATE_FILE


def _read_state(store) -> dict:
    try:
        data = json.loads(_state_path(store).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def sent_today(store, channel: str, day: str) -> dict | None:
    """What was sent on `channel` on `day`, if anything (its digest and time)."""
    entry = _read_state(store).get(channel)
    return entry if isinstance(entry, dict) and entry.get("day") == day else None


def _record_sent(store, channel: str, day: str, digest: str) -> None:
    state = _read_state(store)
    state[channel] = {"day": day, "digest": digest, "at": datetime.now().astimezone().isoformat(timespec="seconds")}
    atomic_write(_state_path(store), (json.dumps(state, indent=1, sort_keys=True) + "\n").encode("utf-8"))


# -- sending ----------------------------------------------------------------------------------
def _secret(name: str | None, setting: str) -> str | None:
    if name is None:
        return None
    found = os.environ.get(name)
    if not found:
        raise BadInput(_("qms.yaml {setting} names the environment variable {name}, which is not set").format(
            setting=setting, name=name))
    return found


@dataclass(frozen=True)
class Outgoing:
    """A message ready to send: the channel, where to (what may be shown: never a secret),
    the subject or payload, and how to send it."""

    channel: str
    shown_to: str
    subject: str
    body: str
    payload: dict | None = None


def email_message(cfg: Config, found: Reminders) -> tuple[EmailMessage, list[str]]:
    settings = cfg.remind.email
    if settings is None:
        raise BadInput(_("--to email: qms.yaml has no remind.email settings (host, from, to)"))
    to = list(settings.to)
    if settings.to_holders:
        for address in (e for g in found.groups for e in g.emails()):
            if address.lower() not in {a.lower() for a in to}:  # one copy each, however many groups
                to.append(address)
    if not to:
        raise BadInput(_("--to email: nobody to send to (qms.yaml remind.email.to, or to_holders with holders' "
                         "e-mail addresses)"))
    msg = EmailMessage()
    # the store's subject is text with {title} in it, never a format string
    msg["Subject"] = settings.subject.replace("{title}", found.title()) if settings.subject else \
        f"[qms] {found.title()}"
    bad = [a for a in to if not EMAIL_ADDRESS.fullmatch(a)]  # a holder's address from qms.yaml too
    if bad:
        raise BadInput(_("--to email: not an e-mail address: {addresses}").format(
            addresses=", ".join(repr(a) for a in bad)))
    try:
        # not formataddr, which refuses an address in Chinese (质量@例子.cn): the address is
        # checked (no <, >, quote or line break), and smtplib sends such a message with SMTPUTF8
        msg["From"] = f"qms <{settings.sender}>"
        msg["To"] = ", ".join(to)
        msg.set_content(found.text(), charset="utf-8")
    except ValueError as e:
        raise BadInput(_("--to email: the message cannot be made: {error}").format(error=e)) from None
    return msg, to


def _code(text: str) -> str:
    """A command as it goes between backticks: one line, no backtick to end the code span
    (within it Markdown's marks are text, and a backslash would be shown)."""
    return " ".join(text.replace("`", "'").split())


def _text_only(text: Any) -> str:
    """A record's own text as it goes into a Feishu text message, which shows Markdown (and a
    backslash) as written and reads only its <at user_id=...> tags: the angle brackets
    made full-width, so a record cannot @all the group."""
    return " ".join(str(text).split()).replace("<", "＜").replace(">", "＞")


def _plain(text: Any) -> str:
    """A record's own text as it goes into a chat robot's Markdown: the characters that make
    a link, a mention, emphasis or code shown as themselves (a record cannot @all a group or
    hide a link in a reminder)."""
    return re.sub(r"([\\`*_\[\]()<>@#!|~])", r"\\\1", " ".join(str(text).split()))


def webhook_payload(kind: str, text: str, title: str, secret: str | None, now_ms: int) -> tuple[dict, dict]:
    """(JSON body, query parameters) for a group robot. DingTalk's signed request: the
    query gets timestamp (ms) and sign = base64(HMAC-SHA256(secret, "timestamp\\nsecret"));
    Feishu's: the body gets timestamp (s) and sign = base64(HMAC-SHA256("timestamp\\nsecret",
    ""))."""
    query: dict[str, str] = {}
    if kind == "wecom":
        body: dict = {"msgtype": "markdown", "markdown": {"content": text}}
    elif kind == "dingtalk":
        body = {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
        if secret:
            stamp = str(now_ms)
            digest = hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest()
            query = {"timestamp": stamp, "sign": base64.b64encode(digest).decode()}
    else:  # feishu
        body = {"msg_type": "text", "content": {"text": text}}
        if secret:
            stamp = str(now_ms // 1000)
            digest = hmac.new(f"{stamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
            body = {"timestamp": stamp, "sign": base64.b64encode(digest).decode(), **body}
    return body, query


SMTP_HOST_ENV = "QMS_SMTP_HOST"  # the server a login may go to, set beside the password


def _send_email(cfg: Config, msg: EmailMessage, to: list[str]) -> None:
    s = cfg.remind.email
    assert s is not None
    user = _secret(s.user_env, "remind.email.user_env")
    password = _secret(s.password_env, "remind.email.password_env")
    where = f"{s.host}:{s.port}"
    if user and password and not (s.ssl or s.starttls):
        raise BadInput(_("remind.email: a password is sent only over an encrypted connection: set ssl: true or "
                         "starttls: true"))
    if user and password:
        # qms.yaml comes with the store (a merge request, another plant): the login goes only
        # to the server the environment that holds the password names as well
        pinned = os.environ.get(SMTP_HOST_ENV, "").strip()
        if not pinned:
            raise BadInput(_("remind.email: the login is sent only to the server the environment names too: set "
                             "{env}={host} where {password} is set").format(env=SMTP_HOST_ENV, host=s.host,
                                                                          password=s.password_env))
        if pinned.rstrip(".").casefold() != str(s.host).rstrip(".").casefold():
            raise BadInput(_("remind.email: qms.yaml names the server {host}, but {env} names {pinned}: the login "
                             "is not sent (if the server moved, change both)").format(
                                 host=s.host, env=SMTP_HOST_ENV, pinned=pinned))
    try:
        if s.ssl:  # the server's certificate is verified, as for STARTTLS
            smtp_ = smtplib.SMTP_SSL(s.host, s.port, timeout=cfg.remind.timeout, context=ssl.create_default_context())
        else:
            smtp_ = smtplib.SMTP(s.host, s.port, timeout=cfg.remind.timeout)
        with smtp_ as smtp:
            if s.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if user and password:
                smtp.login(user, password)
            refused = smtp.send_message(msg, from_addr=s.sender, to_addrs=to)
    except smtplib.SMTPRecipientsRefused as e:
        raise SendFailed(_("e-mail not sent: {server} refused the recipients {to}").format(
            server=where, to=", ".join(f"{a} ({c} {m.decode(errors='replace')})"
                                       for a, (c, m) in e.recipients.items()))) from None
    except smtplib.SMTPResponseException as e:
        raise SendFailed(_("e-mail not sent: {server} answered {code} {message}").format(
            server=where, code=e.smtp_code, message=e.smtp_error.decode(errors="replace")
            if isinstance(e.smtp_error, bytes) else e.smtp_error)) from None
    except (socket.timeout, TimeoutError):
        raise SendFailed(_("e-mail not sent: {server} did not answer within {seconds} s").format(
            server=where, seconds=cfg.remind.timeout)) from None
    except (smtplib.SMTPException, OSError, ValueError) as e:  # ValueError: a name the resolver refuses
        raise SendFailed(_("e-mail not sent: {server}: {error}").format(server=where, error=e)) from None
    if refused:
        raise SendFailed(_("e-mail not sent to everyone: {server} refused {to}").format(
            server=where, to=", ".join(refused)))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A robot answers where it is called: a redirect is its answer (urllib would follow it,
    turn the POST into a GET without the message, and take the next page's 200 as sent)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx code


ROBOT_ANSWER_LIMIT = 1 << 20  # a robot's answer is a few bytes of JSON; more is not one


def _robot_url(url: str, kind: str, name: str) -> tuple[urllib.parse.SplitResult, str]:
    """The robot's URL taken apart, with its host; refused (BadInput) unless an http(s) URL
    that urllib can send to: never shown, since it holds the robot's token."""
    problem = BadInput(_("{kind} robot: the environment variable {name} does not hold an http(s) URL").format(
        kind=kind, name=name))
    # http.client refuses a URL with a space or a control character, naming the URL
    if re.search(r"[\x00-\x20\x7f-\x9f]", url):
        raise problem
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 -- a port that is not a number from 0 to 65535 raises here
        host.encode("idna")  # a label longer than 63 characters, or empty, raises UnicodeError
    except (ValueError, UnicodeError):
        raise problem from None
    if parts.scheme not in ("https", "http") or not host or "%" in host:
        raise problem
    return parts, host


def _send_webhook(cfg: Config, url: str, body: dict, query: dict) -> None:
    kind = cfg.remind.webhook.kind if cfg.remind.webhook else "webhook"
    parts, host = _robot_url(url, kind, cfg.remind.webhook.url_env if cfg.remind.webhook else "?")
    if query:  # into the URL's query, before any #fragment
        url = urllib.parse.urlunsplit(parts._replace(
            query=(parts.query + "&" if parts.query else "") + urllib.parse.urlencode(query)))
    request = urllib.request.Request(url, data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                                     headers={"Content-Type": "application/json; charset=utf-8"}, method="POST")
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=cfg.remind.timeout) as response:
            answer = response.read(ROBOT_ANSWER_LIMIT + 1)
    except urllib.error.HTTPError as e:
        raise SendFailed(_("{kind} robot message not sent: {host} answered HTTP {code} {reason}").format(
            kind=kind, host=host, code=e.code, reason=e.reason)) from None
    except (socket.timeout, TimeoutError):
        raise SendFailed(_("{kind} robot message not sent: {host} did not answer within {seconds} s").format(
            kind=kind, host=host, seconds=cfg.remind.timeout)) from None
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise SendFailed(_("{kind} robot message not sent: {host} did not answer within {seconds} s").format(
                kind=kind, host=host, seconds=cfg.remind.timeout)) from None
        raise SendFailed(_("{kind} robot message not sent: {host}: {error}").format(
            kind=kind, host=host, error=reason)) from None
    except OSError as e:
        raise SendFailed(_("{kind} robot message not sent: {host}: {error}").format(
            kind=kind, host=host, error=e)) from None
    except (http.client.HTTPException, ValueError):  # no HTTP answer (a status line, a body cut short)
        # not the exception's text: http.client's may quote the URL, with the token
        raise SendFailed(_("{kind} robot message not sent: {host} gave no valid HTTP answer").format(
            kind=kind, host=host)) from None
    try:
        reply = json.loads(answer.decode("utf-8")) if len(answer) <= ROBOT_ANSWER_LIMIT else None
    except ValueError:
        reply = None
    if not isinstance(reply, dict):  # every robot answers a JSON object; a login page is no answer
        raise SendFailed(_("{kind} robot message not sent: {host} did not answer as the robot does "
                           "(a JSON object with errcode or code)").format(kind=kind, host=host))
    code = reply.get("errcode", reply.get("code", reply.get("StatusCode", 0)))
    if code not in (0, None):
        message = reply.get("errmsg") or reply.get("msg") or reply.get("StatusMessage") or ""
        raise SendFailed(_("{kind} robot message not sent: the robot answered error {code} {message}").format(
            kind=kind, code=code, message=message))


@dataclass(frozen=True)
class Outcome:
    """What `send` did: sent, or not (already sent today, nothing due, a dry run), and what
    it sent or would send."""

    channel: str
    sent: bool
    why: str  # sent | dry-run | already-sent | nothing-due
    to: str = ""
    preview: str = ""
    digest: str = ""


def send(store, found: Reminders, channel: str, *, dry_run: bool = False, force: bool = False) -> Outcome:
    """Send the reminders on `channel` (email or webhook): once a day unless `force`;
    with `dry_run`, only what would be sent. A failed send raises SendFailed and records
    nothing; a missing setting or environment variable raises BadInput."""
    if channel not in ("email", "webhook"):
        raise BadInput(_("--to {channel}: expected stdout, email or webhook").format(channel=channel))
    cfg: Config = store.config
    day = found.now.strftime("%Y-%m-%d")
    digest = found.digest()
    if channel == "email":
        msg, to = email_message(cfg, found)
        shown = ", ".join(to)
        preview = f"Subject: {msg['Subject']}\nTo: {shown}\n\n{found.text()}"
    else:
        hook = cfg.remind.webhook
        if hook is None:
            raise BadInput(_("--to webhook: qms.yaml has no remind.webhook settings (kind, url_env)"))
        url = _secret(hook.url_env, "remind.webhook.url_env")
        secret = _secret(hook.secret_env, "remind.webhook.secret_env")
        body, query = webhook_payload(hook.kind, found.text(robot=hook.kind, limit=ROBOT_TEXT_LIMIT[hook.kind]),
                                      found.title(), secret,
                                      int(time.time() * 1000))
        shown = f"{hook.kind} ({hook.url_env})"
        preview = json.dumps({k: v for k, v in body.items() if k not in ("sign", "timestamp")},
                             ensure_ascii=False, indent=1)
    if not found.groups:
        return Outcome(channel, False, "nothing-due", shown, preview, digest)
    if dry_run:
        return Outcome(channel, False, "dry-run", shown, preview, digest)
    with _sending(store):  # a second run (two cron lines, a retry) waits, then finds it sent
        if not force and sent_today(store, channel, day):
            return Outcome(channel, False, "already-sent", shown, preview, digest)
        state = _state_path(store)
        if os.path.lexists(state) and not state.is_file():  # checked before sending what it could not record
            raise BadInput(_("{file} is not a file: qms remind keeps there what it sent each day; remove it").format(
                file=f".git/{STATE_FILE}"))
        if channel == "email":
            _send_email(cfg, msg, to)
        else:
            assert url is not None
            _send_webhook(cfg, url, body, query)
        try:
            _record_sent(store, channel, day, digest)
        except OSError as e:
            raise SendFailed(_("sent to {to}, but {file} could not be written ({reason}): a second run today "
                               "sends again").format(to=shown, file=f".git/{STATE_FILE}",
                                                     reason=e.strerror or e)) from None
    return Outcome(channel, True, "sent", shown, preview, digest)


@contextmanager
def _sending(store) -> Iterator[None]:
    """Hold the clone's remind lock (`.git/qms-remind.lock`) while what was sent today is
    read, the message sent and recorded; waits QMS_LOCK_TIMEOUT seconds, then Busy (exit 1)."""
    with held(git_dir(store.root) / LOCK_FILE,
              lambda seconds: _("another qms remind has been sending from this clone for {seconds:.0f} s; try again "
                                "(the lock is {lock})").format(seconds=seconds, lock=f".git/{LOCK_FILE}"),
              # a folder in its place, a git folder that cannot be written
              lambda e: _("{lock} cannot be taken ({reason}): qms remind holds it while it sends").format(
                  lock=f".git/{LOCK_FILE}", reason=e.strerror or e)):
        yield
