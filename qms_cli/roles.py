"""The authority: who holds which role on which day, for which department, and who may
change the rules (the store's admin role, `audit: {rules_signed_by: ROLE}`). The write path
(a move's signer) and `qms audit` (every signature in the history) both ask it, so they
judge a signature the same way. Pure functions over a Config; changing the roles and rules
(which commits) is store/governance.py."""

from __future__ import annotations

from datetime import date

from typing import Any

from .config import Config
from .errors import NotAuthorised
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
