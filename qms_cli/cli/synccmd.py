"""`qms sync`: this clone and its git server brought together. Named, with its help, in
registry.COMMANDS."""

from __future__ import annotations

from typing import Optional

import typer

from ..i18n import _
from .base import emit_json, err, handled, open_store, options


def _check(store, since: str, ids: list[str]) -> list[str]:
    """What qms audit finds in the commits after `since` (what a sync replayed) and qms
    validate in the records `ids` (those it merged): errors only."""
    from ..audit import audit
    from ..errors import Severity
    from ..validation import validate

    found = [f for f in audit(store, since=since) if f.severity is Severity.ERROR]
    if ids:
        found += [f for f in validate(store, ids, cache=False) if f.severity is Severity.ERROR]
    return [str(f) for f in found]


@handled
def sync(
    remote: Optional[str] = typer.Option(None, "--remote", metavar="REMOTE",
                                         help=_("The remote to sync with (default: the branch's upstream, "
                                                "else origin).")),
    resolve: Optional[str] = typer.Option(None, "--resolve", metavar="ID",
                                          help=_("Settle the conflict on record ID (with --take).")),
    take: Optional[str] = typer.Option(None, "--take", metavar="ours|theirs",
                                       help=_("With --resolve: keep this clone's values (ours) or the "
                                              "remote's (theirs) where both changed the same field.")),
    go_on: bool = typer.Option(False, "--continue",
                               help=_("Go on after editing the conflicting records by hand.")),
    abort: bool = typer.Option(False, "--abort", help=_("Give up the stopped sync; the branch stays as it was.")),
    no_push: bool = typer.Option(False, "--no-push", help=_("Fetch and replay, but do not push.")),
) -> None:
    from ..sync import sync as run_sync

    store = open_store()
    outcome = run_sync(store, remote=remote, resolve=resolve, take=take, go_on=go_on, abort=abort,
                       push=not no_push, check=_check)
    if options().json:
        emit_json(outcome.as_dict())
        if outcome.conflicts or outcome.findings:
            raise typer.Exit(1)
        return
    for note in outcome.notes:
        typer.echo(note)
    for old, new in outcome.renumbered:
        typer.echo(_("renumbered {old} → {new}").format(old=old, new=new))
    if outcome.findings:
        err(_("the synced history would not pass qms audit or qms validate, so nothing was pushed and the branch is "
              "as it was:"))
        for f in outcome.findings:
            err("  " + f)
        if outcome.conflicts:
            err(_("settle each record it names with qms sync --resolve ID --take theirs (the server's version stays, "
                  "this clone's change to it is dropped), or qms sync --abort: {ids}").format(
                ids=", ".join(c.id for c in outcome.conflicts)))
        raise typer.Exit(1)
    if outcome.conflicts:
        for c in outcome.conflicts:
            err(_("{id}: changed here by {commit} ({subject}) and on {remote}:").format(
                id=c.id, commit=c.commit[:10], subject=c.subject, remote=outcome.remote))
            for f, ours, theirs in c.fields:
                err("  " + _("{field}: ours {ours} | theirs {theirs}").format(
                    field=f or _("the file"), ours=ours, theirs=theirs))
        err(_("nothing was pushed and the branch is as it was. For each record: qms sync --resolve ID --take "
              "ours|theirs, or edit its file (it shows both versions) and run qms sync --continue; qms sync "
              "--abort gives up"))
        raise typer.Exit(1)
    if abort:
        return
    if outcome.merged:
        typer.echo(_("merged field by field (both sides changed them): {ids}").format(ids=", ".join(outcome.merged)))
    if not (outcome.fetched or outcome.replayed or outcome.pushed):
        typer.echo(_("{remote}/{branch}: already in step").format(remote=outcome.remote, branch=outcome.remote_branch))
        return
    typer.echo(_("{remote}/{branch}: {fetched} commits fetched, {replayed} replayed on top of them, "
                 "{pushed} pushed").format(remote=outcome.remote, branch=outcome.remote_branch, fetched=outcome.fetched,
                                           replayed=outcome.replayed, pushed=outcome.pushed))
