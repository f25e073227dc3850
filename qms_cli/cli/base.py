"""What every command shares: the typer app and its global options, the language, the
error-to-exit-code wrapper, opening the store. Command modules import this; the app finds
them through the table of cli.registry, which imports one only when its command is run."""

from __future__ import annotations

import errno
import functools
import os
import sys
from typing import Callable, Optional

import typer

from .. import __version__
from ..i18n import _, set_language, translate_parser
from .registry import RootGroup

EXIT_INTERNAL = 3
# output that could not be written: no room, over a quota or a size limit, or the device failed
# (those this platform's errno names)
_UNWRITTEN = tuple(getattr(errno, n) for n in ("ENOSPC", "EDQUOT", "EIO", "EFBIG") if hasattr(errno, n))

app = typer.Typer(
    name="qms",
    help=_(
        "Quality records as code: customer complaints, returns, CAPA, product recalls, after-sales service, "
        "customer satisfaction and document control as YAML files in a git repository. Every change is one commit."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    cls=RootGroup,
)


class Options:
    """Global options, kept on the click context."""

    def __init__(self, store: str | None, json: bool, lang: str | None):
        self.store = store
        self.json = json
        self.lang = lang


_current = Options(None, False, None)


def options() -> Options:
    """The global options of the command being run (set by the root callback)."""
    return _current


def err(message: str) -> None:
    """One message on stderr; a control character in it (from a record, a file name, a
    value typed) is shown escaped, never acted on by the terminal."""
    from ..text import visible

    sys.stderr.write(f"qms: {visible(message)}\n")


def emit_json(data) -> None:
    """One JSON document on stdout. JSON escapes C0 itself; DEL, C1 and direction
    overrides are escaped too (\\u009b), so that no terminal acts on a value."""
    import json

    from ..text import CONTROL

    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    typer.echo(CONTROL.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text))


def handled(fn: Callable) -> Callable:
    """Turn the library's errors into a message on stderr and the documented exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from ..errors import QmsError  # here, not at start-up: `qms --help` runs no command

        try:
            return fn(*args, **kwargs)
        except QmsError as e:
            err(str(e))
            raise typer.Exit(e.exit_code) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            err(_("interrupted; nothing was committed for the action under way"))
            raise typer.Exit(130) from None
        except BrokenPipeError:
            raise typer.Exit(0) from None
        except Exception as e:
            if isinstance(e, OSError) and e.errno in _UNWRITTEN:
                if e.filename is not None and e.errno != errno.EIO:  # a file written (atomic_write names it): a full disk
                    err(_("{path}: cannot write ({reason})").format(path=e.filename, reason=e.strerror))
                    raise typer.Exit(2) from None
                if e.filename is None:
                    from . import unwritten  # stdout on a full disk

                    unwritten(e)
                    raise typer.Exit(2) from None
            if os.environ.get("QMS_DEBUG"):  # a bug: said in one line, never a traceback
                raise
            err(
                _("internal error: {kind}: {error} (this is a bug in qms; rerun with QMS_DEBUG=1 for details)")
                .format(kind=type(e).__name__, error=e)
            )
            raise typer.Exit(EXIT_INTERNAL) from None

    return wrapper


_PROCESS = {"ends": False}  # set by cli.run: the process ends after the command, without freeing


def process_ends() -> bool:
    """Whether the process ends when the command returns (the `qms` program, cli.run), so
    that a command may leave what it holds to that end instead of freeing it; False where
    the command line is run inside another program (a test, an embedding)."""
    return _PROCESS["ends"]


def process_will_end() -> None:
    """Said by cli.run before the command runs: see process_ends."""
    _PROCESS["ends"] = True


def open_store():
    """The store the options name; what opening it recovered (an interrupted write
    finished or rolled back) is said on stderr."""
    from ..store import Store

    store = Store.open(options().store)
    for note in store.notes:
        err(note)
    return store


def lang_of(store, explicit: str | None = None) -> str:
    lang = explicit or options().lang or store.config.lang
    if lang not in ("zh", "en"):
        from ..errors import QmsError

        raise QmsError(_("--lang: expected zh or en, not '{lang}'").format(lang=lang))
    return lang


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"qms {__version__}")  # not a sentence
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    store: Optional[str] = typer.Option(
        None, "-C", "--store", help=_("The store (default: $QMS_STORE, else the nearest folder upward with qms.yaml)."),
        metavar="PATH",
    ),
    json: bool = typer.Option(False, "--json", help=_("Machine-readable output: one JSON document on stdout.")),
    lang: Optional[str] = typer.Option(None, "--lang", help=_("zh or en: language of messages, help and forms (default: $QMS_LANG for messages, else the store's lang:)."), metavar="zh|en"),
    version: bool = typer.Option(False, "--version", callback=version_callback, is_eager=True, help=_("Show the version and exit.")),
) -> None:
    if lang is not None and lang not in ("zh", "en"):
        raise typer.BadParameter(_("expected zh or en"), param_hint="--lang")
    global _current
    _current = Options(store, json, lang)
    set_language(lang)


translate_parser()

