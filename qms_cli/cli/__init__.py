"""The `qms` command line: typer apps that parse, make one library call and print.

Only typer is imported at start-up; everything else (ruamel, GitPython, jinja2, rich
tables) is imported inside the command that uses it, so `qms --help` stays fast."""

from __future__ import annotations

import sys

from ..errors import EXIT_BAD_INPUT, QmsError
from ..i18n import _, usage_error
from ..paths import builtin_type_names, store_on_command_line, store_type_names
from . import records, rolecmds, storecmds  # noqa: F401  (their commands register on `app`)
from .base import app, err


for _name in builtin_type_names():
    app.add_typer(records.type_app(_name), name=_name)

# A store's own record types (its types/NAME.yaml) get the same verbs, found as qms finds
# the store; a name that is already a command keeps the command.
_taken = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups} | {
    "help", "version"}
_root = store_on_command_line(sys.argv[1:])
for _name in store_type_names(_root):
    if _name not in _taken:
        app.add_typer(records.type_app(_name, _root / "types" / f"{_name}.yaml"), name=_name)


def _is(error: BaseException, name: str) -> bool:
    """Whether `error` is click's NAME (click, or the copy inside typer)."""
    return any(c.__name__ == name for c in type(error).__mro__)


def main() -> None:
    try:
        code = app(standalone_mode=False)
    except QmsError as e:  # raised outside a command, e.g. while building one
        err(str(e))
        sys.exit(e.exit_code if e.exit_code else EXIT_BAD_INPUT)
    except Exception as e:
        if _is(e, "NoArgsIsHelpError"):  # `qms` or `qms complaint` alone: the help, as asked
            e.show()
            sys.exit(e.exit_code)
        if _is(e, "UsageError"):  # the command line itself cannot be read: said in qms's language
            sys.stderr.write(usage_error(e) + "\n")
            sys.exit(e.exit_code)
        if _is(e, "Abort"):
            sys.stderr.write(_("aborted") + "\n")
            sys.exit(1)
        if _is(e, "ClickException"):
            e.show()
            sys.exit(e.exit_code)
        raise
    sys.exit(code if isinstance(code, int) else 0)
