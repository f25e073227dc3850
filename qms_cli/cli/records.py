"""The verbs every record type shares (new, show, list, set, move, fields), built from the
type's name when a command line names the type (cli.registry): no record type has command
code of its own."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..errors import BadInput
from ..i18n import N_, _
from .base import emit_json, err, handled, lang_of, open_store, options
from .registry import type_help

ON_HELP = N_(
    "When the act happened on paper, for a paper record entered afterwards (补录): a date "
    "(2026-10-15) or a date and time (2026-10-15T14:30). The signature keeps the time it is "
    "entered and signed, and records this beside it; deadlines, date rules and role terms go "
    "by it. Not later than it is signed, nor earlier than what the record already holds."
)


def print_notes(notes) -> None:
    for n in notes:
        err(n)


def _want_json(flag: bool) -> bool:
    return flag or options().json


def _print_missing(store, type_name: str, period: str | None, lang: str, missing: bool, as_json: bool,
                   other_options: bool) -> None:
    """`list --missing`: what other records call for and the store does not hold."""
    from ..text import spreadsheet
    from ..views import missing as find_missing

    if not missing:
        raise BadInput(_("--period goes with --missing (to narrow a list by date, use --where FIELD>=VALUE)"))
    if other_options:
        raise BadInput(_("--missing lists what is not recorded: it takes --period, not --where, --state, --sort "
                         "or --overdue"))
    heads, rows, problems = find_missing(store, type_name, period, lang)
    if as_json:
        emit_json([dict(zip(heads, row)) for row in rows])
    else:
        typer.echo("\t".join(heads))
        for row in rows:
            typer.echo("\t".join(spreadsheet(" ".join(str(c).split())) for c in row))
        err(_("{n} missing").format(n=len(rows)))
    for p in problems:
        err(p)


def _declares(type_name: str, declaration: Path | None, key: str) -> bool:
    """Whether a type's declaration (a store's own, else the built-in one) has the top-level
    `key`: read as text, so that building a type's verbs parses nothing."""
    import re

    from ..paths import BUILTIN_TYPES

    for path in (declaration, BUILTIN_TYPES / f"{type_name}.yaml"):
        if path is not None and path.is_file():
            try:
                text = path.read_text(encoding="utf-8", errors="replace")[:1 << 20]
            except OSError:
                continue
            if re.search(rf"^{re.escape(key)}:", text, re.M):
                return True
    return False


def type_app(type_name: str, declaration: Path | None = None) -> typer.Typer:
    """The verbs of one record type; `declaration` is a store's own types/NAME.yaml."""
    sub = typer.Typer(
        help=type_help(type_name, declaration),
        no_args_is_help=True,
        rich_markup_mode=None,
    )

    @sub.command("new", help=_(
        "Register a new record in its first state; commits it and prints its ID. With "
        "--on, a record registered on paper earlier and entered now (补录)."))
    @handled
    def new(
        set_: List[str] = typer.Option([], "--set", "-s", help=_("FIELD=VALUE (dotted path; repeat). FIELD+=VALUE appends to a list."), metavar="FIELD=VALUE"),
        file: Optional[Path] = typer.Option(None, "--file", "-f", help=_("A YAML file of fields to start from."), metavar="F.yaml"),
        on: Optional[str] = typer.Option(None, "--on", help=_(ON_HELP), metavar="DATE[THH:MM]"),
        json: bool = typer.Option(False, "--json", help=_("Print the new record as JSON.")),
    ) -> None:
        from .. import engine
        from ..files import yamlio
        from ..views import plain

        store = open_store()
        initial = None
        if file is not None:
            initial = yamlio.load(file, str(file))
        change = engine.new(store, type_name, list(set_), initial, on=on)
        print_notes(change.notes)
        if _want_json(json):
            emit_json(plain(change.record.data))
        else:
            typer.echo(change.record.id)

    @sub.command("show", help=_("The record, its state, its deadlines and what it still lacks for its next moves."))
    @handled
    def show(
        record_id: str = typer.Argument(..., metavar="ID"),
        json: bool = typer.Option(False, "--json", help=_("Print as JSON.")),
    ) -> None:
        from ..views import describe

        store = open_store()
        record = store.read(record_id, type_name)
        lang = lang_of(store)
        view = describe(store, record, lang)
        if _want_json(json):
            emit_json(view)
        else:
            from .show import print_record

            print_record(view, lang)
        print_notes(store.config.calendar.warnings)

    @sub.command("list", help=_(
        "A table of the records (rich) or a JSON list. An unknown field, state or enum "
        "value is an error that names the closest known one."))
    @handled
    def list_(
        where: List[str] = typer.Option(
            [], "--where", "-w", metavar="FIELD=VALUE",
            help=_("A filter (repeat to narrow): FIELD=VALUE is exactly that value (an enum value or "
                   "state also by its label, a date or time also by its start: received_at=2026-03); "
                   "FIELD~TEXT contains the text, case ignored (a list: any item); FIELD>=VALUE and "
                   "FIELD<=VALUE bound a date, time or number (received_at>=2026-03-01: from that day "
                   "on, in the store's time zone). ＝ and ～ work as = and ~."),
        ),
        state: Optional[str] = typer.Option(None, "--state", help=_("Only records in this state (its name or label, e.g. closed or 已结案)."), metavar="STATE"),
        sort: Optional[str] = typer.Option(None, "--sort", help=_("Sort by this field's value (dates by time, numbers by size, states and enum values in their declared order); records without it come last."), metavar="FIELD"),
        desc: bool = typer.Option(False, "--desc", help=_("Largest, latest or last first (with --sort; alone: the usual order reversed).")),
        overdue: bool = typer.Option(False, "--overdue", help=_("Only records with a deadline past due at QMS_NOW (or now).")),
        missing: bool = typer.Option(False, "--missing", help=_("What other records call for and is not recorded: "
                                                                "each customer and period of an approved survey "
                                                                "plan without its survey.")),
        period: Optional[str] = typer.Option(None, "--period", help=_("With --missing: only what falls in this period "
                                                                      "(2026, 2026-H1, 2026-Q3)."), metavar="PERIOD"),
        json: bool = typer.Option(False, "--json", help=_("Print as JSON.")),
    ) -> None:
        from ..views import listing

        store = open_store()
        lang = lang_of(store)
        if missing or period is not None:
            _print_missing(store, type_name, period, lang, missing, _want_json(json), bool(where or state or sort
                                                                                          or overdue))
            return
        rows, problems = listing(store, type_name, list(where), overdue, lang,
                                 state=state, sort=sort, descending=desc)
        if _want_json(json):
            emit_json(rows)
        else:
            from .show import print_table

            print_table(store.record_type(type_name), rows, lang)
        for p in problems:
            err(p)
        print_notes(store.config.calendar.warnings)

    @sub.command("set", help=_("Edit fields without changing state; commits."))
    @handled
    def set_(
        record_id: str = typer.Argument(..., metavar="ID"),
        assignments: List[str] = typer.Argument(..., metavar="FIELD=VALUE..."),
        comment: str = typer.Option("", "--comment", "-m", help=_("Why: goes into the commit message.")),
        json: bool = typer.Option(False, "--json", help=_("Print the record as JSON.")),
    ) -> None:
        from .. import engine
        from ..views import plain

        store = open_store()
        change = engine.set(store, type_name, record_id, list(assignments), comment)
        print_notes(change.notes)
        if _want_json(json):
            emit_json(plain(change.record.data))
        else:
            typer.echo(_("{id}: updated ({commit})").format(id=record_id, commit=change.commit[:10]) if change.commit
                       else _("{id}: unchanged (it already holds these values; nothing committed)").format(id=record_id))

    @sub.command("attach", help=_(
        "Attach files (a customer's letter, an 8D report, photos): each is copied to "
        "files/TYPE/ID/, pinned by its SHA-256 and committed with the record; the same as "
        "`set ID FIELD=@PATH` (FIELD+=@PATH for a list of files)."))
    @handled
    def attach(
        record_id: str = typer.Argument(..., metavar="ID"),
        field: str = typer.Argument(..., metavar="FIELD", help=_("A file field, e.g. original_file, report.file, attachments.")),
        paths: List[Path] = typer.Argument(..., metavar="PATH...", help=_("Files on this computer.")),
        comment: str = typer.Option("", "--comment", "-m", help=_("Why: goes into the commit message.")),
    ) -> None:
        from .. import engine
        from ..views import field_paths

        store = open_store()
        rt = store.record_type(type_name)

        def holds_files(spec) -> bool:
            return spec is not None and (spec.type == "file" or (
                spec.type == "list" and spec.items is not None and spec.items.type == "file"))

        spec = rt.field(field.strip())
        is_list = holds_files(spec) and spec.type == "list"
        if not holds_files(spec):
            files = [p for p in field_paths(rt) if holds_files(rt.field(p))]
            raise BadInput(_("{field}: not a file field of {type} (file fields: {fields})").format(
                field=field, type=rt.name, fields=", ".join(files) or _("none")))
        if not is_list and len(paths) > 1:
            raise BadInput(_("{field}: holds one file; give one PATH (or attach the others to a list of files)")
                           .format(field=field))
        op = "+=@" if is_list else "=@"
        change = engine.set(store, type_name, record_id, [f"{field.strip()}{op}{p}" for p in paths], comment)
        print_notes(change.notes)
        attached = change.attached
        typer.echo(_("{id}: attached {files} ({commit})").format(
                       id=record_id, files=", ".join(attached), commit=change.commit[:10]) if change.commit
                   else _("{id}: unchanged (these files are already attached; nothing committed)").format(id=record_id))

    @sub.command("move", help=_(
        "A workflow move: checks the move exists, the target state's required fields and "
        "the actor's role; records the signature; commits. With --on, an act done on paper "
        "earlier and entered now (补录): the role is checked on that date."))
    @handled
    def move(
        record_id: str = typer.Argument(..., metavar="ID"),
        target: str = typer.Argument(..., metavar="STATE"),
        set_: List[str] = typer.Option([], "--set", "-s", help=_("FIELD=VALUE to set with the move (repeat)."), metavar="FIELD=VALUE"),
        comment: str = typer.Option("", "--comment", "-m", help=_("Why: goes into the commit message.")),
        on: Optional[str] = typer.Option(None, "--on", help=_(ON_HELP), metavar="DATE[THH:MM]"),
        json: bool = typer.Option(False, "--json", help=_("Print the record as JSON.")),
    ) -> None:
        from .. import engine
        from ..views import plain

        store = open_store()
        change = engine.move(store, type_name, record_id, target, list(set_), comment, on=on)
        print_notes(change.notes)
        if _want_json(json):
            emit_json(plain(change.record.data))
        else:
            typer.echo(f"{record_id}: {target} ({change.commit[:10]})")

    if _declares(type_name, declaration, "known_as"):
        @sub.command("link", help=_(
            "Match the names complaints and returns write in free text to this record. Without "
            "arguments: each name no record is known by yet, how many records write it and the "
            "closest; with ID NAME...: the names become names ID is known by (one commit). The "
            "records that write them are not edited."))
        @handled
        def link(
            record_id: Optional[str] = typer.Argument(None, metavar="[ID]"),
            names: Optional[List[str]] = typer.Argument(None, metavar="[NAME...]"),
            json: bool = typer.Option(False, "--json", help=_("Print as JSON.")),
        ) -> None:
            from .. import engine
            from ..store import known

            store = open_store()
            rt = store.record_type(type_name)
            if record_id is None:
                problems: list[str] = []
                rows = known.unmatched(store, rt, problems)
                if _want_json(json):
                    emit_json([{"name": n, "records": ids, "closest": near} for n, ids, near in rows])
                else:
                    for name, ids, near in rows:
                        hint = "  " + _("closest: {id}").format(id=near) if near else ""
                        typer.echo(f"{name}\t{len(ids)}\t{', '.join(ids[:5])}{' ...' if len(ids) > 5 else ''}{hint}")
                    err(_("{n} name(s) no {type} is known by").format(n=len(rows), type=type_name))
                for p in problems:
                    err(p)
                return
            change = engine.link(store, rt.name, record_id, list(names or []))
            if change is None:
                typer.echo(_("{id}: unchanged (it is already known by these names; nothing committed)").format(
                    id=record_id))
            else:
                typer.echo(_("{id}: updated ({commit})").format(id=record_id, commit=change.commit[:10]))

    @sub.command("fields", help=_("The fields of this record type, their kinds and the states that require them."))
    @handled
    def fields(json: bool = typer.Option(False, "--json", help=_("Print as JSON."))) -> None:
        from .show import field_table

        store = open_store()
        rt = store.record_type(type_name)
        rows = field_table(rt, lang_of(store))
        if _want_json(json):
            emit_json(rows)
        else:
            for r in rows:
                extra = f"  [{' | '.join(r['values'])}]" if r["values"] else ""
                req = "  " + _("required in: {states}").format(states=", ".join(r["required_in"])) if r["required_in"] else ""
                typer.echo(f"{r['path']:<34} {r['type']:<9} {r['label']}{extra}{req}")

    return sub
