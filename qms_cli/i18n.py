"""The language qms speaks: messages, refusals and help in English or Chinese.

Every sentence a user reads is written in English at the place it is made, as
`_("Complaint {id} is closed").format(id=...)`, and looked up in the Chinese catalog
(`locale/zh/LC_MESSAGES/qms.mo`, compiled by Babel from `qms.po`) when the language is zh.
Placeholders are named, so a translator sees whole sentences and may reorder them.

Which language: `--lang`, else `$QMS_LANG`, else the store's `lang:` in qms.yaml, else
the system locale ($LC_ALL, $LC_MESSAGES, $LANG: zh_* is Chinese), else English. Help is
made when the commands are built, before any store is opened, so for help the store is
found from the command line as `qms` will find it (-C/--store, $QMS_STORE, the nearest
qms.yaml upward) and its `lang:` read with a pattern, without parsing YAML.

Imports only the standard library (gettext, which `qms --help` needs anyway) and paths."""

from __future__ import annotations

import gettext as _gettext
import os
import re
import sys
from pathlib import Path

from .paths import option_on_command_line, store_on_command_line

LANGS = ("zh", "en")
DOMAIN = "qms"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

_explicit: str | None = None  # --lang of the command being run
_parsed = False  # whether the command line has been parsed (else argv is read for --lang)
_store: str | None = None  # lang: of the store that command opened
_guess: str | None = None  # the store found from argv, before any store is opened
_argv: str | None = None  # --lang read from argv before it is parsed ("" when absent)
_catalogs: dict[str, _gettext.NullTranslations] = {}
_LANG_LINE = re.compile(rb"^lang:[ \t]*['\"]?(zh|en)['\"]?[ \t]*(?:#.*)?$", re.M)


def N_(message: str) -> str:
    """Marks a message kept in a table for translation where it is used (`_(TABLE[k])`)."""
    return message


def set_language(explicit: str | None) -> None:
    """The command line's --lang (None when not given); forgets the last store's language."""
    global _explicit, _store, _parsed
    _explicit = explicit if explicit in LANGS else None
    _store = None
    _parsed = True


def use_store_language(lang: str | None) -> None:
    """The opened store's `lang:`, used when neither --lang nor $QMS_LANG says otherwise."""
    global _store
    _store = lang if lang in LANGS else None


def _from_environment() -> str | None:
    value = os.environ.get("QMS_LANG", "").strip().lower()
    return value if value in LANGS else None


def _from_locale() -> str:
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def _lang_of(config: Path | None) -> str | None:
    """The `lang:` line of a qms.yaml (zh when it has none, as the store reads it)."""
    if config is None:
        return None
    try:
        if not config.is_file() or config.is_symlink() or config.stat().st_size > 1 << 20:
            return None
        m = _LANG_LINE.search(config.read_bytes())
    except OSError:
        return None
    return m.group(1).decode() if m else "zh"


def _argv_lang(argv: list[str]) -> str | None:
    value = option_on_command_line(argv, "--lang")
    return value if value in LANGS else None


def language() -> str:
    """The language of the command being run: zh or en."""
    global _guess, _argv
    if _explicit:
        return _explicit
    if not _parsed:  # help is made before the command line is parsed: read --lang from it
        if _argv is None:
            _argv = _argv_lang(sys.argv[1:]) or ""
        if _argv:
            return _argv
    lang = _from_environment() or _store
    if lang:
        return lang
    if _guess is None:
        root = store_on_command_line(sys.argv[1:])
        _guess = _lang_of(root / "qms.yaml" if root else None) or _from_locale()
    return _guess


def for_help(build):
    """What `build()` returns, made in the language of help: the one `language()` says
    before the command line is parsed (its --lang wherever it stands, else $QMS_LANG, else
    the store found from it), as when every command was built at start-up. A command
    built only when it is run (cli.registry) gets the help it had then."""
    global _explicit, _parsed, _store
    saved = _explicit, _parsed, _store
    _explicit, _parsed, _store = None, False, None
    try:
        return build()
    finally:
        _explicit, _parsed, _store = saved


def _catalog(lang: str, domain: str = DOMAIN) -> _gettext.NullTranslations:
    catalog = _catalogs.get(f"{domain}.{lang}")
    if catalog is None:
        catalog = _gettext.translation(domain, str(LOCALE_DIR), languages=[lang], fallback=True)
        _catalogs[f"{domain}.{lang}"] = catalog
    return catalog


def _(message: str) -> str:
    """`message` in the language of the command being run."""
    lang = language()
    if lang == "en":
        return message
    return _catalog(lang).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    lang = language()
    if lang == "en":
        return singular if n == 1 else plural
    return _catalog(lang).ngettext(singular, plural, n)


# The words the command-line parser itself prints (Usage:, Options, Error: No such option)
# come from click (typer >= 0.28 carries its own copy as typer._click), which looks them up
# with `gettext.gettext` in the process-wide default domain, whose language only
# $LANGUAGE/$LANG decide, or writes a few of them as plain text. Those lookups are pointed
# at our own `click` catalog, so the parser follows qms's language like the rest.
_PARSER_PARTS = ("core", "decorators", "exceptions", "formatting", "parser", "types", "termui")
_PARSER_MODULES = tuple(f"{base}.{part}" for base in ("click", "typer._click") for part in _PARSER_PARTS) + (
    "typer.core", "typer.main")


def _parser_gettext(message: str) -> str:
    lang = language()
    return message if lang == "en" else _catalog(lang, "click").gettext(message)


def _parser_ngettext(singular: str, plural: str, n: int) -> str:
    lang = language()
    if lang == "en":
        return singular if n == 1 else plural
    return _catalog(lang, "click").ngettext(singular, plural, n)


def _short_help_in(original):
    def short_help(help: str, max_length: int = 45) -> str:
        """A command's line in a list of commands: its first sentence. click finds it by
        ". " and shortens at spaces, which a Chinese sentence has neither of; here it ends
        at 。 and is cut by display width (a Chinese character takes two columns)."""
        if language() == "en":
            return original(help, max_length)
        import unicodedata

        text = " ".join(help.partition("\n\n")[0].split())
        text = re.split(r"(?<=。)|(?<=\. )", text, maxsplit=1)[0].strip()
        width = 0
        for i, ch in enumerate(text):
            width += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
            if width > max_length - 3 and i < len(text) - 1:
                return text[:i].rstrip("，、；： ") + "..."
        return text

    short_help.translated = True
    return short_help


def _usage_in(original):
    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        if prefix is None:
            prefix = _parser_gettext("Usage:") + " "
        return original(self, prog, args, prefix)

    write_usage.translated = True
    return write_usage


def _help_option_in(original):
    def get_help_option(self, ctx):
        option = original(self, ctx)
        if option is not None and isinstance(getattr(option, "help", None), str):
            option.help = _parser_gettext("Show this message and exit.")
        return option

    get_help_option.translated = True
    return get_help_option


# typer's copy of click writes these in English; they are read back and said again.
_PARSER_SENTENCES = [  # patterns, compiled when a command line is refused
    (r"^No such option: (?P<name>.+?)(?: \(Possible options: (?P<possibilities>.+)\))?$",
     "No such option: {name}"),
    (r"^No such command (?P<name>'[^']*')\.$",
     "No such command {name}."),
    (r"^Missing argument (?P<name>.+?)\.$", "Missing argument {name}."),
    (r"^Missing option (?P<name>.+?)\.$", "Missing option {name}."),
    (r"^Missing parameter (?P<name>.+?)\.$", "Missing parameter {name}."),
    (r"^Got unexpected extra argument(?:s|\(s\))? \((?P<args>.*)\)$", "Got unexpected extra arguments ({args})"),
    (r"^Option (?P<name>'[^']*') requires an argument\.$", "Option {name} requires an argument."),
    (r"^Option (?P<name>'[^']*') does not take a value\.$", "Option {name} does not take a value."),
    (r"^Invalid value for (?P<param_hint>.+?): (?P<message>.+)$", "Invalid value for {param_hint}: {message}"),
]


_TYPER_SUGGESTION = r"(?<=[.。])\. Did you mean (?P<possibilities>.+)\?$"


def _parser_sentence(message: str) -> str:
    suggestion = ""
    m = re.search(_TYPER_SUGGESTION, message, re.S)  # typer adds ". Did you mean 'move'?" to click's sentence
    if m:
        message = message[: m.start()]
        suggestion = m.group("possibilities")
    for pattern, msgid in _PARSER_SENTENCES:
        m = re.match(pattern, message, re.S)
        if m:
            found = {k: v for k, v in m.groupdict().items() if k != "possibilities"}
            message = _parser_gettext(msgid).format(**found)
            suggestion = suggestion or (m.groupdict().get("possibilities") or "")
            break
    if suggestion:
        message += ("" if message.endswith(("。", ".")) else "，") + _parser_gettext("Did you mean {possibilities}?").format(possibilities=suggestion)
    return message


def usage_error(error) -> str:
    """What the parser says about a command line it cannot read (an unknown option, a
    missing argument), in the language of qms: usage, where to find help, the error."""
    ctx = getattr(error, "ctx", None)
    lines = []
    if ctx is not None:
        lines.append(ctx.get_usage())
        if ctx.command.get_help_option(ctx) is not None:
            lines.append(_parser_gettext("Try '{command} {option}' for help.").format(
                command=ctx.command_path, option=ctx.help_option_names[0]))
        lines.append("")
    message = error.format_message()
    if language() != "en":
        message = _parser_sentence(message)
    lines.append(_parser_gettext("Error: {message}").format(message=message))
    return "\n".join(lines)


def translate_parser() -> None:
    """Make click's and typer's own words (already imported by the command line) follow
    the language of qms. Where a version of them is laid out otherwise, it stays English."""
    for name in _PARSER_MODULES:
        module = sys.modules.get(name)
        if module is None:
            continue
        if callable(getattr(module, "_", None)):
            module._ = _parser_gettext
        if callable(getattr(module, "ngettext", None)):
            module.ngettext = _parser_ngettext
        for attr in ("_make_default_short_help", "make_default_short_help"):
            short = getattr(module, attr, None)
            if callable(short) and not getattr(short, "translated", False):
                setattr(module, attr, _short_help_in(short))
        formatter = getattr(module, "HelpFormatter", None)
        if name.endswith(".formatting") and formatter is not None and not getattr(
                formatter.write_usage, "translated", False):
            formatter.write_usage = _usage_in(formatter.write_usage)
        command = getattr(module, "Command", None)
        if name.endswith(".core") and command is not None and callable(getattr(command, "get_help_option", None)) \
                and not getattr(command.get_help_option, "translated", False):
            command.get_help_option = _help_option_in(command.get_help_option)
