"""`qms role`: who may sign what, listed and changed through qms (one signed commit each);
`qms rules commit`. The two groups' help is in registry.COMMANDS."""

from __future__ import annotations

from typing import Optional

import typer

from ..i18n import _
from .base import emit_json, err, handled, lang_of, open_store, options

role_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)


@role_app.command("list", help=_("Every role and its holders, with the days each holding covers."))
@handled
def role_list(json: bool = typer.Option(False, "--json", help=_("Print as JSON."))) -> None:
    from ..roles import guard, listing
    from ..text import visible

    store = open_store()
    rows = listing(store.config)
    if json or options().json:
        emit_json({"admin_role": guard(store.config), "holders": rows})
        return
    lang = lang_of(store)
    for r in rows:
        label = r["label"].get(lang) if isinstance(r["label"], dict) else None
        term = f"{r['from'] or '…'} – {r['until'] or '…'}"
        dept = f"  ({r['department']})" if r["department"] else ""
        typer.echo(visible(f"{r['role']:<28} {label or '':<10} {r['name']} <{r['email']}>  {term}{dept}", one_line=True))
    admin = guard(store.config)
    err(_("roles are changed by the holders of '{role}' (qms.yaml audit.rules_signed_by)").format(role=admin) if admin else
        _("qms.yaml names no admin role (audit.rules_signed_by): anyone may change the roles, and audit cannot tell"))


def _change(verb: str, role: str, person: str, **kw) -> None:
    from ..engine.governance import change

    store = open_store()
    commit, said, notes = change(store, verb, role, person, **kw)
    for n in notes:
        err(n)
    typer.echo(f"{said} ({commit[:10]})")


@role_app.command("grant", help=_("Give PERSON the role ROLE from a day; one commit signed by the admin role."))
@handled
def role_grant(
    role: str = typer.Argument(..., metavar="ROLE"),
    person: str = typer.Argument(..., metavar="PERSON", help=_("The person's e-mail address (their git user.email).")),
    name: Optional[str] = typer.Option(None, "--name", help=_("The person's name as forms print it.")),
    start: Optional[str] = typer.Option(None, "--from", help=_("First day of the holding (default: today)."), metavar="DATE"),
    until: Optional[str] = typer.Option(None, "--until", help=_("Last day of the holding (default: open)."), metavar="DATE"),
    department: Optional[str] = typer.Option(None, "--department", help=_("Only for this department (a department head).")),
    comment: str = typer.Option("", "--comment", "-m", help=_("Why: goes into the commit message.")),
) -> None:
    _change("grant", role, person, name=name, start=start, until=until, department=department, comment=comment)


@role_app.command("revoke", help=_("End PERSON's holding of ROLE on a day (kept in qms.yaml: signatures made under it stay valid)."))
@handled
def role_revoke(
    role: str = typer.Argument(..., metavar="ROLE"),
    person: str = typer.Argument(..., metavar="PERSON", help=_("The person's e-mail address.")),
    until: Optional[str] = typer.Option(None, "--until", help=_("Last day PERSON holds the role (default: today)."), metavar="DATE"),
    comment: str = typer.Option("", "--comment", "-m", help=_("Why: goes into the commit message.")),
) -> None:
    _change("revoke", role, person, until=until, comment=comment)


rules_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)


@rules_app.command("commit", help=_(
    "Commit the changed rules (qms.yaml but its roles, types/, reports/, templates/) as one "
    "commit signed by a holder of the admin role; `qms audit` reports a change made otherwise."))
@handled
def rules_commit(
    comment: str = typer.Option(..., "--comment", "-m", help=_("Why the rules change: goes into the commit message.")),
) -> None:
    from ..engine.governance import commit_rules

    store = open_store()
    commit, paths, notes = commit_rules(store, comment)
    for n in notes:
        err(n)
    typer.echo(_("rules: {paths} ({commit})").format(paths=", ".join(paths), commit=commit[:10]))
