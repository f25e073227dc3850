"""The `qms` command line: typer apps that parse, make one library call and print.

Only typer is imported at start-up: the commands are listed from one table
(cli/registry.py) and a command's module is imported only when it is run, and everything
else (ruamel, GitPython, jinja2, rich tables) inside the command that uses it, so
`qms --help` stays fast however many commands there are."""

from __future__ import annotations

import sys

from ..i18n import _, usage_error
from .base import app, err


def _is(error: BaseException, name: str) -> bool:
    """Whether `error` is click's NAME (click, or the copy inside typer)."""
    return any(c.__name__ == name for c in type(error).__mro__)


def main() -> None:
    try:
        code = app(standalone_mode=False)
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
        from ..errors import EXIT_BAD_INPUT, QmsError  # here: `qms --help` never needs them

        if isinstance(e, QmsError):  # raised outside a command, e.g. while building one
            err(str(e))
            sys.exit(e.exit_code if e.exit_code else EXIT_BAD_INPUT)
        raise
    sys.exit(code if isinstance(code, int) else 0)
