"""The `qms` command line: typer apps that parse, make one library call and print.

Only typer is imported at start-up: the commands are listed from one table
(cli/registry.py) and a command's module is imported only when it is run, and everything
else (ruamel, GitPython, jinja2, rich tables) inside the command that uses it, so
`qms --help` stays fast however many commands there are."""

from __future__ import annotations

import errno
import os
import sys

from ..i18n import _, usage_error
from .base import app, err, process_will_end


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
        if isinstance(e, BrokenPipeError):  # `qms --help | head`: what was not read is not missed
            sys.exit(0)
        if isinstance(e, OSError) and e.filename is None:  # the help or a usage message not written (a full disk)
            unwritten(e)
            sys.exit(2)
        from ..errors import EXIT_BAD_INPUT, QmsError  # here: `qms --help` never needs them

        if isinstance(e, QmsError):  # raised outside a command, e.g. while building one
            err(str(e))
            sys.exit(e.exit_code if e.exit_code else EXIT_BAD_INPUT)
        raise
    sys.exit(code if isinstance(code, int) else 0)


def run() -> None:
    """The `qms` program (and `python -m qms_cli`): main(), then the process ends with its
    exit code once the exit handlers have run and the output is out, without freeing what
    the command held one object at a time: a publish or validate of 10,000 records holds
    about a million objects, which took Python 50 ms to free at exit (the system takes the
    memory back at once). main() itself ends with SystemExit, as a program embedding it
    expects."""
    process_will_end()
    try:
        main()
    except SystemExit as e:
        if e.code is not None and not isinstance(e.code, int):
            raise
        _leave(e.code or 0)
    _leave(0)


def _leave(code: int) -> None:
    """End the process with `code`: exit handlers run, standard output and error flushed,
    nothing freed (see run)."""
    import atexit

    exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if exit_handlers is None:
        sys.exit(code)
    exit_handlers()
    try:
        if sys.stdout is not None:  # None: started with it closed (`qms --help >&-`)
            sys.stdout.flush()
    except BrokenPipeError:  # `qms list | head`: what was not read is not missed
        pass
    except OSError as e:
        if not (sys.platform == "win32" and e.errno == errno.EINVAL):  # Windows' word for a pipe whose reader stopped
            unwritten(e)
            code = code or 2
    except ValueError:  # closed
        pass
    try:
        if sys.stderr is not None:
            sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(code)


def unwritten(e: OSError) -> None:
    """Standard output could not be written (a full disk): said in one line, and what is
    still to be written dropped (standard output is /dev/null from now on), so that it is
    said once. The caller exits with 2."""
    try:
        err(_("{path}: cannot write ({reason})").format(path="<stdout>", reason=e.strerror))
    except OSError:
        pass
    sys.stdout = open(os.devnull, "w")
