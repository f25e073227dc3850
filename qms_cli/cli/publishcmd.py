"""`qms publish DIR`: the store as a static HTML site. Named, with its help, in
registry.COMMANDS."""

from __future__ import annotations

from pathlib import Path

import typer

from ..i18n import _
from .base import emit_json, err, handled, open_store, options, process_ends


@handled
def publish(
    directory: Path = typer.Argument(..., metavar="DIR", help=_("The folder the site is written to.")),
    lang: str = typer.Option("zh,en", "--lang", metavar="zh,en",
                             help=_("The languages of the site, comma-separated (default: zh,en).")),
    pdf: bool = typer.Option(False, "--pdf", help=_("Also each record's form as a PDF beside its page (the pdf "
                                                   "extra: pip install 'qms-cli[pdf]'), linked from it.")),
) -> None:
    from ..publish import publish as publish_site

    store = open_store()
    langs = [x.strip() for x in lang.replace("，", ",").split(",") if x.strip()]
    outcome = publish_site(store, directory, langs, pdf=pdf, last=process_ends())
    for problem in outcome.problems:
        err(problem)
    if options().json:
        emit_json(outcome.as_dict())
        return
    typer.echo(_("{written} written, {unchanged} unchanged, {removed} removed").format(
        written=len(outcome.written), unchanged=len(outcome.unchanged), removed=len(outcome.removed)))
