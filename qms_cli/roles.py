"""The authority: who holds which role on which day, for which department, and who may
change the rules (the store's admin role, `audit: {rules_signed_by: ROLE}`). The write path
(a move's signer) and `qms audit` (every signature in the history) both ask it, so they
judge a signature the same way. Pure functions over a Config; changing the roles and rules
(which commits) is engine/governance.py."""

from __future__ import annotations

from datetime import date

from typing import Any

from .config import Config
from .errors import NotAuthorised, Refused
from .i18n import _
from .model.declaration import RecordType
from .model.rules import Evaluator, Fetch

def guard(cfg: Config) -> str | None:
    """The role whose holders may change the rules, if the store names one."""
    return cfg.audit.guard


def listing(cfg: Config) -> list[dict]:
    """Every holding of every role as a row (role, label, name, email, from, until,
    department), in qms.yaml's order."""
    rows = []
    for name, role in cfg.roles.items():
        for h in role.holders:
            rows.append({"role": name, "label": role.label, "name": h.name, "email": h.email,
                         "from": h.start.isoformat() if h.start else None,
                         "until": h.end.isoformat() if h.end else None, "department": h.department})
    return rows


def require_admin(cfg: Config, email: str, day: date, what: str) -> None:
    """Refuse unless `email` holds the store's admin role on `day` (where it names one).
    `what`: "roles" or "rules", what is being changed."""
    admin = guard(cfg)
    if admin is None:
        return
    held = cfg.roles.get(admin)
    if held is None or not held.held_by(email, day):
        if what == "roles":
            message = _("{email} does not hold the role '{role}' on {day}, which changing the roles needs "
                        "(qms.yaml audit.rules_signed_by, as committed)")
        else:
            message = _("{email} does not hold the role '{role}' on {day}, which changing the rules needs "
                        "(qms.yaml audit.rules_signed_by, as committed)")
        raise NotAuthorised(message.format(email=email, role=admin, day=day))


def department_of(cfg: Config, rt: RecordType, data: Any, fetch: Fetch | None = None) -> str | None:
    """The department whose head a record's approvals need (the type's `approvals.department`
    path, e.g. holder.department, or document.department through the record it names);
    None where the type's approvals are not limited to a department."""
    if not rt.approvals.department:
        return None
    found = Evaluator(rt=rt, data=data, types=cfg.record_type, fetch=fetch).first(rt.approvals.department)
    return str(found) if found not in (None, "") else None


def held_role(cfg: Config, roles: list[str], email: str, day: date, department: str | None = None) -> str | None:
    """The first of `roles` that `email` holds on `day` (a holding limited to a department
    counts only for that department), else None."""
    for name in roles:
        role = cfg.roles.get(name)
        if role is not None and role.held_by(email, day, department):
            return name
    return None


def role_names(cfg: Config, rt: RecordType, role_spec, data: Any, fetch: Fetch | None = None) -> list[str]:
    """The roles a move's role spec means for this record: a role's name, a choice of
    names, or "@approve" and the like, looked up in the approvals table by the record's
    category (qms.yaml `approvals`, else the type's defaults). A category the table lacks
    is refused (Refused)."""
    if role_spec is None:
        return []
    names = list(role_spec) if isinstance(role_spec, tuple) else [role_spec]
    resolved = []
    for name in names:
        if not name.startswith("@"):
            resolved.append(name)
            continue
        key = Evaluator(rt=rt, data=data, types=cfg.record_type, fetch=fetch).first(rt.approvals.key) \
            if rt.approvals.key else None
        table = {**rt.approvals.default, **cfg.approvals}
        entry = table.get(str(key)) or {}
        role = entry.get(name[1:]) if isinstance(entry, dict) else None
        if not role:
            raise Refused(_("qms.yaml approvals: no '{role}' role for {field} '{value}'").format(
                role=name[1:], field=rt.approvals.key, value=key))
        resolved.append(role)
    return resolved


def authority(cfg: Config, rt: RecordType, role_spec, data: Any, email: str, day: date, needed_for: str = "",
              fetch: Fetch | None = None) -> tuple[bool, str]:
    """(True, the role held: the one a signature is made in) if `email` holds, on `day`,
    a role `role_spec` allows for this record (for its department, where the type's
    approvals are limited to one); else (False, why not: what `needed_for` needs, who
    holds it, and the command that grants it)."""
    if role_spec is None:
        return True, ""
    try:
        resolved = role_names(cfg, rt, role_spec, data, fetch)
    except Refused as e:
        return False, e.message
    department = department_of(cfg, rt, data, fetch)
    held = held_role(cfg, resolved, email, day, department)
    if held is not None:
        return True, held
    quoted = [f"'{r}'" for r in resolved]
    wanted = quoted[0] if quoted else ""
    for one in quoted[1:]:
        wanted = _("{first} or {second}").format(first=wanted, second=one)
    holdings = [h for r in resolved for h in (cfg.roles[r].holders if r in cfg.roles else ())]
    limited = any(h.department for h in holdings)
    holders = sorted({h.email for h in holdings if h.covers(day) and h.serves(department)})
    dept = f" --department {department}" if department and limited else ""
    admin = guard(cfg)
    if department and limited:
        why = _("{email} does not hold the role {roles} for department '{department}' on {day}").format(
            email=email, roles=wanted, department=department, day=day)
    else:
        why = _("{email} does not hold the role {roles} on {day}").format(email=email, roles=wanted, day=day)
    why += _(" (holders: {holders})").format(holders=", ".join(holders)) if holders \
        else _(" (qms.yaml names no holder)")
    if needed_for:
        why += _(", which {action} needs").format(action=needed_for)
    why += _("; a holder of '{role}' can grant it").format(role=admin) if admin else _("; to grant it")
    return False, why + f": qms role grant {resolved[0]} {email} --name NAME{dept}"
