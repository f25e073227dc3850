"""Ledgers in and out: `qms export` and `qms import`. Each is named, with its help, in
registry.COMMANDS, which imports this module only to run one."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..i18n import _, ngettext
from .base import emit_json, err, handled, lang_of, open_store, options


@handled
def export(
    type_name: str = typer.Argument(..., metavar="TYPE", help=_("The record type (complaint, document, ...).")),
    fmt: str = typer.Option("xlsx", "--format", metavar="xlsx|csv", help=_("xlsx (default) or csv.")),
    output: Optional[Path] = typer.Option(None, "-o", "--output", metavar="FILE",
                                          help=_("Write to FILE (xlsx needs it; -o - is standard output).")),
) -> None:
    from ..errors import BadInput
    from ..ledgers import FORMATS
    from ..ledgers import export as run
    from .storecmds import write_out

    if fmt not in FORMATS:
        raise BadInput(_("--format '{format}': expected xlsx or csv").format(format=fmt))
    if fmt == "xlsx" and output is None:
        raise BadInput(_("--format xlsx writes a file: give -o FILE.xlsx (or -o - for standard output)"))
    store = open_store()
    data, count, left_out = run(store, type_name, fmt, lang_of(store))
    for p in left_out:  # said, as `report` says it
        err(_("{problem} (left out of the report)").format(problem=p))
    write_out(store, "", output, count, writer=lambda: data)


@handled
def import_ledger(
    type_name: str = typer.Argument(..., metavar="TYPE", help=_("The record type (complaint, document, ...).")),
    ledger: Path = typer.Argument(..., metavar="LEDGER.xlsx|csv",
                                  help=_("The ledger: an xlsx workbook (its first sheet) or a csv file.")),
    map_file: Optional[Path] = typer.Option(
        None, "--map", metavar="MAP.yaml",
        help=_("Headings the record type does not know, each mapped to a field path ({heading: field.path}; "
               "null leaves a column out).")),
    skip_bad: bool = typer.Option(
        False, "--skip-bad",
        help=_("Import the good rows even when others are refused (listed; exit 1). Without it a ledger "
               "with one bad row changes nothing.")),
    json: bool = typer.Option(False, "--json", help=_("Print the outcome as JSON.")),
) -> None:
    from ..ledgers import import_ledger as run

    store = open_store()
    batch, notes = run(store, type_name, ledger, map_file, skip_bad)
    for n in notes:
        err(n)
    if json or options().json:
        emit_json({
            "type": batch.type, "commit": batch.commit,
            "imported": [{"row": i.row, "id": i.id, "note": i.note} for i in batch.imported],
            "present": [{"row": s.row, "why": s.problems[0]} for s in batch.present],
            "refused": [{"row": s.row, "problems": list(s.problems)} for s in batch.refused],
        })
    else:
        for i in batch.imported:
            typer.echo(f"{i.id}" + (f"  ({_('row {row}').format(row=i.row)}; {i.note})" if i.note else ""))
        for s in batch.present:
            err(_("row {row}: {why}; skipped").format(row=s.row, why=s.problems[0]))
        for s in batch.refused:
            err(_("row {row}: {problem}").format(row=s.row, problem=s.problems[0]))
            for d in s.problems[1:]:
                err(f"  {d}")  # not a sentence
        for n in batch.notes:
            err(n)
        imported, present, refused = len(batch.imported), len(batch.present), len(batch.refused)
        if batch.commit:
            err(ngettext("{n} record imported in commit {commit}", "{n} records imported in commit {commit}",
                         imported).format(n=imported, commit=batch.commit[:10]))
        if present:
            err(ngettext("{n} row already there, skipped", "{n} rows already there, skipped", present).format(n=present))
        if refused and batch.commit:
            err(ngettext("{n} row refused and left out", "{n} rows refused and left out", refused).format(n=refused))
        elif refused and skip_bad:
            err(ngettext("{n} row refused; no row could be imported", "{n} rows refused; no row could be imported",
                         refused).format(n=refused))
        elif refused:
            err(ngettext("{n} row could not be imported; nothing was written (correct it, or give --skip-bad "
                         "to import the other rows)",
                         "{n} rows could not be imported; nothing was written (correct them, or give --skip-bad "
                         "to import the other rows)", refused).format(n=refused))
        elif not batch.commit:
            err(_("nothing to import: every row is already there"))
    if batch.refused:
        raise typer.Exit(1)
