"""`qms remind`: what is due soon or overdue, by person and role, to the terminal, an
e-mail or a group robot. Named, with its help, in registry.COMMANDS."""

from __future__ import annotations

from typing import Optional

import typer

from ..i18n import _
from .base import emit_json, err, handled, lang_of, open_store, options


@handled
def remind(
    to: str = typer.Option("stdout", "--to", metavar="stdout|email|webhook",
                           help=_("Where the reminders go: the terminal (default), the e-mail of qms.yaml "
                                  "remind.email, or the group robot of remind.webhook.")),
    within: Optional[str] = typer.Option(None, "--within", metavar="DURATION",
                                         help=_("How far ahead to look, e.g. 3d or 2wd (working days); "
                                                "default: qms.yaml remind.within, else 2wd.")),
    dry_run: bool = typer.Option(False, "--dry-run", help=_("Show what would be sent; send nothing.")),
    force: bool = typer.Option(False, "--force", help=_("Send again although it was sent today.")),
) -> None:
    from ..errors import BadInput
    from ..remind import CHANNELS, collect, send

    if to not in CHANNELS:
        raise BadInput(_("--to {channel}: expected stdout, email or webhook").format(channel=to))
    store = open_store()
    found = collect(store, within, lang_of(store))
    for problem in found.problems:
        err(problem)
    if to == "stdout":
        if options().json:
            emit_json(found.as_dict())
        else:
            typer.echo(found.text(), nl=False)
        return
    outcome = send(store, found, to, dry_run=dry_run, force=force)
    if options().json:
        emit_json({**found.as_dict(), "channel": to, "sent": outcome.sent, "why": outcome.why,
                   "to": outcome.to, "digest": outcome.digest})
        return
    if outcome.why == "dry-run":
        typer.echo(_("dry run: would send to {to}:").format(to=outcome.to))
        typer.echo(outcome.preview)
    elif outcome.why == "nothing-due":
        typer.echo(_("nothing is due within {within}; nothing sent").format(within=found.within))
    elif outcome.why == "already-sent":
        typer.echo(_("already sent to {to} today; nothing sent (--force sends again)").format(to=outcome.to))
    else:
        typer.echo(_("sent to {to}: {title}").format(to=outcome.to, title=found.title()))
