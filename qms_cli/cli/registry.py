"""The one table of qms's commands: each name with the module and attribute that make it and
its help. `qms --help` lists every command with the first sentence of its help from here
alone; a command's module is imported, and its typer command built, only when that command
is run or its own help is asked for. So start-up stays the same as commands are added.

A new top-level command is a function (decorated with base.handled) or a typer.Typer (a
group of verbs) in a module of this package, and one line in COMMANDS. The record types,
built in and a store's own types/NAME.yaml, are groups of the same verbs (records.type_app),
listed from their declaration's label line alone."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Callable, NamedTuple

import typer
from typer.core import TyperCommand, TyperGroup

from ..i18n import N_, _, for_help, language
from ..paths import builtin_type_label, builtin_type_names, store_on_command_line, store_type_names, type_label

Built = TyperCommand | TyperGroup  # what typer makes of a function, of a typer.Typer


class Entry(NamedTuple):
    """A command of the table: `attribute` of `module` (relative to this package) is a
    function (one command) or a typer.Typer (a group of verbs); `help` is its help, whose
    first sentence is its line in `qms --help`."""

    module: str
    attribute: str
    help: str


# In the order `qms --help` lists them; the record types follow.
COMMANDS: dict[str, Entry] = {
    "init": Entry(".storecmds", "init", N_(
        "A new store: git init, qms.yaml, records/, CI workflows and a pre-commit config; one commit. "
        "You hold every role the record types use until you name others (qms role grant).")),
    "demo": Entry(".storecmds", "demo", N_(
        "Copy the sample store to PATH and play a complaint end to end there; print what to open.")),
    "validate": Entry(".storecmds", "validate", N_(
        "Every record against its schema, its state's requirements, references and attached "
        "files; exit 1 with one line per finding. Records unchanged since the last run (same "
        "content, same records they refer to) are not read again.")),
    "log": Entry(".storecmds", "log", N_("The record's history from git: date, actor, move or edit, comment.")),
    "render": Entry(".storecmds", "render", N_("The paper form (客诉处理单 ...) as Markdown or PDF.")),
    "report": Entry(".storecmds", "report", N_(
        "Ledgers and lists: 受控文件清单 (controlled-documents), copies to recall (recall), the complaints ledger.")),
    "publish": Entry(".publishcmd", "publish", N_(
        "The store as a static HTML site in DIR: forms, lists, ledgers, the overdue dashboard and a search, "
        "in Chinese and English; only what changed is rewritten.")),
    "audit": Entry(".storecmds", "audit", N_(
        "The store's git history: trailers, legal moves, signers and their roles at the "
        "time, time never running backwards, no record deleted, merges that only combine, no "
        "anchored history rewritten; exit 1 with one line per finding.")),
    "remind": Entry(".remindcmd", "remind", N_(
        "What is due soon or overdue, by person and role: to the terminal, an e-mail, or a WeCom, DingTalk "
        "or Feishu group robot; sent once a day (--dry-run shows it, --force sends again).")),
    "sync": Entry(".synccmd", "sync", N_(
        "Bring this clone and its git server together: fetch, replay this clone's commits on top, renumber "
        "new records whose numbers were taken meanwhile, merge records changed on both sides, push.")),
    "role": Entry(".rolecmds", "role_app", N_("Who holds which role: list, grant, revoke (signed by the admin role).")),
    "rules": Entry(".rolecmds", "rules_app", N_(
        "The store's rules (qms.yaml settings, types/, reports/, templates/): committed by the admin role.")),
    "schema": Entry(".storecmds", "schema_app", N_("JSON Schema of the record types, for editors.")),
    "export": Entry(".ledgercmds", "export", N_(
        "A record type's ledger as xlsx or csv: a row per record, a column per field, typed cells, "
        "never a formula; qms import reads it back.")),
    "import": Entry(".ledgercmds", "import_ledger", N_(
        "Register the rows of a ledger (xlsx or csv, Chinese or English headings) as records in one "
        "commit; every row is imported, already there, or reported with its row number.")),
}

# Names a store's own record type cannot take, besides the commands above.
RESERVED = frozenset({"help", "version"})


class LazyCommand(TyperCommand):
    """A command as `qms --help` lists it: its name and help, and how to build it. The real
    command is built (its module imported) when a command line names it; click then parses
    and runs that one, since make_context hands over to it."""

    def __init__(self, name: str, help: str, build: Callable[[], Built]):
        super().__init__(name, help=help, rich_markup_mode=None)
        self._build = build
        self._command: Built | None = None

    def command(self) -> Built:
        """The real command, built the first time it is needed, with its help in the
        language help is made in."""
        if self._command is None:
            self._command = for_help(self._build)
        return self._command

    def make_context(self, info_name, args, parent=None, **extra):
        """The context of the real command: parsing, help and invoking are then its own."""
        return self.command().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx):
        """Run the real command."""
        return self.command().invoke(ctx)

    def to_info_dict(self, ctx):
        """The real command's description."""
        return self.command().to_info_dict(ctx)


def _built(name: str, target, help: str | None) -> Built:
    """The click command typer makes of `target` (a function or a typer.Typer) as `qms NAME`."""
    holder = typer.Typer(rich_markup_mode=None, add_completion=False, pretty_exceptions_enable=False)
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name, **({"help": help} if help is not None else {}))
    else:
        holder.command(name, help=help)(target)
    return typer.main.get_group(holder).commands[name]


def build(name: str, entry: Entry) -> Built:
    """The command NAME of the table, its module imported."""
    module = importlib.import_module(entry.module, __package__)
    return _built(name, getattr(module, entry.attribute), _(entry.help))


def type_help(type_name: str, declaration: Path | None = None) -> str:
    """The help of a record type's verbs, from its declaration's label line alone: a
    store's own types/NAME.yaml (`declaration`), else the built-in one."""
    if declaration is None:
        label = builtin_type_label(type_name, language())
    else:  # a store's own declaration is untrusted: no escape sequence reaches the terminal
        from ..text import controls

        label = type_label(declaration, language(), type_name)
        if controls(label):
            label = type_name
    return _("{label} records ({type}): new, show, list, set, move, fields.").format(label=label, type=type_name)


def _type_verbs(type_name: str, declaration: Path | None) -> Built:
    """The verbs of a record type as `qms TYPE`, the record commands' module imported."""
    from .records import type_app

    return _built(type_name, type_app(type_name, declaration), None)


def type_command(type_name: str, declaration: Path | None = None) -> LazyCommand:
    """`qms TYPE`, the verbs of a record type, listed without parsing its declaration."""
    return LazyCommand(type_name, type_help(type_name, declaration),
                       lambda: _type_verbs(type_name, declaration))


def commands(argv: list[str]) -> dict[str, LazyCommand]:
    """Every command of `qms`, none built yet: the table's, the built-in record types',
    then the record types of the store that the command line `argv` names, found as qms
    finds it (a name already taken keeps its command)."""
    found: dict[str, LazyCommand] = {}
    for name, entry in COMMANDS.items():
        found[name] = LazyCommand(name, _(entry.help), lambda name=name, entry=entry: build(name, entry))
    for name in builtin_type_names():
        found[name] = type_command(name)
    root = store_on_command_line(argv)
    for name in store_type_names(root):
        if name not in found and name not in RESERVED:
            found[name] = type_command(name, root / "types" / f"{name}.yaml")
    return found


class RootGroup(TyperGroup):
    """`qms` itself: typer builds it with the root options; its commands are those of
    `commands`, found from the command line this process was started with."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        for name, command in for_help(lambda: commands(sys.argv[1:])).items():
            self.commands.setdefault(name, command)
