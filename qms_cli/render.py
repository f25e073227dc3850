"""Paper forms as Markdown: Jinja2 over `<type>.<lang>.md.j2`, from the store's own
templates/ first, then the built-in ones; StrictUndefined, so a template that names
something the record does not offer fails loudly instead of printing a blank.

A store's templates are untrusted (they come with the store, from whoever pushed to
it), and so is every value a form shows. So:
- the store's templates run in Jinja2's immutable sandbox: no attribute that starts
  with `_`, no changing lists or dicts, no modules, files or environment; `lipsum`,
  `cycler` and `joiner` are gone, and so are the filters that make HTML
  (qms's own built-in templates, which are code of qms, run outside it, several times
  faster, with the same filters and the same escape);
- templates are read by a loader that takes only names like `complaint.zh.md.j2`, from
  the store's `templates/` (never through a link, at most 256 KiB) or the built-in
  folder;
- every value printed is escaped for Markdown and for raw HTML (`text.markdown`): the
  output is autoescaped, store text is carried as `Text` (whose HTML form is that
  escape), and what a template computes from it is escaped again on the way out;
  template literals are escaped too, except where a template marks its own text
  `|safe` (built-in forms never do so on a value);
- a form of the store's own template is filled in within limits: 30 seconds, 1 GiB more
  memory (where the system offers them: Linux and macOS, not Windows); every form within
  16 MiB of output.
A template that breaks a rule gets one line naming the template and line (exit 2).
Compiled templates are kept per store for the life of the process; the built-in forms
also between runs (Jinja's bytecode cache, `_compiled_forms`), a store's never."""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import re
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from markupsafe import Markup

from .config import data_dir
from .deadlines import deadlines
from .errors import BadInput, QmsError
from .files import safefs
from .i18n import N_, _
from .model import values
from .reports import shown  # values with the separators of the form's language (、 ； in zh)
from .store import git as gitops
from .model.record import Record
from .store.git import LogEntry, Trailer
from .text import markdown
from .views import plain

TEMPLATE_LIMIT = 256 * 1024  # the largest form template read
OUTPUT_LIMIT = 16 * 1024 * 1024  # the longest form written
TIME_LIMIT = 30  # seconds to fill in one form
MEMORY_HEADROOM = 1 << 30  # memory a form may take beyond what qms already uses
# what a template is called: <type>.<lang>.md.j2 and files it includes, never a path
TEMPLATE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*")
BUILT_IN = " (built in)"


# ------------------------------------------------------------------------ store text


class Text(str):
    """A string from the store. Jinja's autoescape asks a value for its HTML form
    (`__html__`); for store text that is the Markdown escape, so a value is escaped the
    same way however a template combines it. Slicing, case changes, splitting ... keep
    the result store text."""

    __slots__ = ()

    def __html__(self) -> Markup:
        return Markup(markdown(str(self)))

    def __getitem__(self, key):
        return Text(str.__getitem__(self, key))

    def __add__(self, other):
        if isinstance(other, str) and not hasattr(other, "__html__") or isinstance(other, Text):
            return Text(str.__add__(self, other))
        return NotImplemented

    def __radd__(self, other):
        if isinstance(other, str) and not hasattr(other, "__html__"):
            return Text(str.__add__(other, self))
        return NotImplemented

    def __mul__(self, n):
        return Text(str.__mul__(self, n))

    __rmul__ = __mul__

    def __mod__(self, args):
        return Text(str.__mod__(self, args))


def _keeping(name: str, many: bool = False) -> Callable:
    orig = getattr(str, name)
    if many:
        def method(self, *args, **kwargs):
            return [Text(p) for p in orig(self, *args, **kwargs)]
    else:
        def method(self, *args, **kwargs):
            return Text(orig(self, *args, **kwargs))
    method.__name__ = name
    return method


for _name in ("capitalize", "casefold", "center", "expandtabs", "format", "ljust", "lower",
              "lstrip", "removeprefix", "removesuffix", "replace", "rjust", "rstrip", "strip",
              "swapcase", "title", "translate", "upper", "zfill"):
    setattr(Text, _name, _keeping(_name))
for _name in ("split", "rsplit", "splitlines", "partition", "rpartition"):
    setattr(Text, _name, _keeping(_name, many=True))


class _TextDict(dict):
    """A dict store_text made: every string in it is already Text."""

    __slots__ = ()


class _TextList(list):
    """A list store_text made: every string in it is already Text."""

    __slots__ = ()


def store_text(value: Any) -> Any:
    """`value` (from a record, a declaration, qms.yaml or git) with every string in it
    made `Text`, dicts and lists copied; other values as they are. What store_text made
    already (a signature a function hands back from the record) is taken as it is."""
    if isinstance(value, str):
        return value if isinstance(value, Text) else Text(value)
    if isinstance(value, (_TextDict, _TextList)):
        return value
    if isinstance(value, dict):
        return _TextDict({store_text(k): store_text(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return _TextList([store_text(v) for v in value])
    return value


def _giving_text(fn: Callable) -> Callable:
    def call(*args, **kwargs):
        return store_text(fn(*args, **kwargs))

    call.__name__ = getattr(fn, "__name__", "function")
    return call


# ----------------------------------------------------------------------- environment


def _finalize(value: Any) -> Any:
    """Every printed value, before autoescape: markup that the engine itself made
    (macros, blocks, `|cell`) and store text pass on (autoescape asks store text for its
    Markdown escape); anything else is escaped here."""
    if hasattr(value, "__html__"):
        return value
    if value is None:
        return Markup("")
    return Markup(markdown(value))


def _cell(value: Any) -> Any:
    """A value that is safe inside a Markdown table cell (the escape every value gets;
    kept as a filter so that templates say where a cell is)."""
    if isinstance(value, Markup):
        return value
    if hasattr(value, "__html__"):
        return value.__html__()
    return Markup(markdown(value))


def _join(value: Any, d: str = "", attribute: Any = None) -> Any:
    items = list(value)
    if attribute is not None:
        items = [i.get(attribute) if isinstance(i, dict) else None for i in items]
    return Markup(_cell(d)).join(_cell(i) for i in items)


def _json(value: Any, indent: int | None = None) -> str:
    """As JSON text, which is then escaped like any other value."""
    import json

    return json.dumps(value, ensure_ascii=False, indent=indent, sort_keys=True, default=str)


class _Loader(jinja2.BaseLoader):
    """Form templates by name, from the store's templates/ (no links, no paths, at most
    TEMPLATE_LIMIT bytes) and then the built-in folder."""

    def __init__(self, root: Path):
        self.root = root
        self.builtin = data_dir("templates")

    def get_source(self, environment, template: str):

        if not TEMPLATE_NAME.fullmatch(template or ""):
            raise jinja2.TemplateNotFound(template)
        rel = f"templates/{template}"
        what, where = safefs.kind(self.root, rel)
        if what in ("link", "special"):
            problem = safefs.LINK if what == "link" else safefs.SPECIAL
            raise BadInput(f"{where}: {_(problem)}")
        if what == "file":
            raw = safefs.read_bytes(self.root, rel, TEMPLATE_LIMIT, what=N_("a form template"))
            stamp = _stamp(self.root / rel)
            return _decode(raw, rel), rel, lambda: _stamp(self.root / rel) == stamp
        path = self.builtin / template
        if path.is_file():
            # a built-in template holds until the store gains its own of that name
            return _decode(path.read_bytes(), template), template + BUILT_IN, \
                lambda: not os.path.lexists(self.root / rel)
        raise jinja2.TemplateNotFound(template)


def _stamp(path: Path):
    try:
        st = path.lstat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _decode(raw: bytes, source: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise BadInput(_("{source}: byte {position}: not UTF-8 text (save the template as UTF-8)").format(
            source=source, position=e.start)) from None


_ENVIRONMENTS: dict[str, Any] = {}


def environment(store):
    """The sandboxed environment for `store` (one per store and process, so each
    template is compiled once)."""
    key = str(store.root)
    env = _ENVIRONMENTS.get(key)
    if env is None:
        env = _ENVIRONMENTS[key] = _build(store.root)
    return env


class _BuiltInLoader(jinja2.BaseLoader):
    """The built-in form templates alone (qms's own files, never the store's)."""

    def __init__(self) -> None:
        self.folder = data_dir("templates")

    def get_source(self, environment, template: str):
        path = self.folder / template
        if not TEMPLATE_NAME.fullmatch(template or "") or not path.is_file():
            raise jinja2.TemplateNotFound(template)
        return _decode(path.read_bytes(), template), template + BUILT_IN, lambda: True


_BUILT_IN: list[Any] = []


def built_in_environment():
    """The environment of qms's own form templates: not sandboxed, since they are qms's
    code, not the store's (the values they show are escaped all the same). A form the
    store overrides, even by a link or a broken file, is filled by `environment(store)`.
    The built-in templates include no other template, so none of them can reach one of
    the store's (tests/test_render.py checks)."""
    if not _BUILT_IN:
        env = jinja2.Environment(loader=_BuiltInLoader(), undefined=jinja2.StrictUndefined, autoescape=True,
                                 finalize=_finalize, trim_blocks=True, lstrip_blocks=True,
                                 keep_trailing_newline=True, auto_reload=False, bytecode_cache=_compiled_forms())
        _configure(env)
        _BUILT_IN.append(env)
    return _BUILT_IN[0]


def _compiled_forms() -> Any:
    """Where the built-in forms are kept compiled between runs (Jinja's own cache, in a
    folder of the user's alone under the temporary folder, written atomically): a form
    is compiled once, not by every command that fills it. The files are named for this
    module's bytes too, since how a form compiles is set here; a form's source is checked
    by Jinja. None where there is no such folder: forms are then compiled each run."""
    try:
        # and for Jinja's version: its mark on a kept file says only the Python it ran on
        digest = hashlib.sha1(Path(__file__).read_bytes() + jinja2.__version__.encode()).hexdigest()[:16]
        return _FormCache(pattern=f"__qms_form_{digest}_%s.cache")
    except (OSError, RuntimeError):  # no temporary folder of one's own to be had: nothing kept
        return None


class _FormCache(jinja2.FileSystemBytecodeCache):
    """Jinja's cache of compiled templates, where one that cannot be read or kept (the
    temporary folder full, unreadable) is compiled for this run alone."""

    def load_bytecode(self, bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError):  # Jinja's mark right, the rest not
            bucket.reset()

    def dump_bytecode(self, bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


WIDTH_LIMIT = 100_000  # the widest padding, repeat or number a template may ask for
POWER_DIGITS = 4_000  # the most digits a power in a form may have
# a width or precision of 100,000 or more in a %-format or a {}-format
_WIDE_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\d{6,}|\d*\.\d{6,})|\{[^{}]*:[^{}]*\d{6,}")
# a width taken from the arguments: `%*d`, `{0:{1}}`
_WIDTH_ARG = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*\.?\*|\{[^{}]*:[^{}]*\{")
_PADDING = frozenset(["center", "ljust", "rjust", "zfill", "expandtabs"])


def _guard_width(*values: Any) -> None:
    for v in values:
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) > WIDTH_LIMIT:
            raise SecurityError(_("a width over {limit:,} is not allowed in a form").format(limit=WIDTH_LIMIT))


def _guard_format(spec: Any, args: Any = ()) -> None:
    """`spec % args` or `spec.format(*args)` asks for no width over WIDTH_LIMIT."""
    if not isinstance(spec, str):
        return
    if _WIDE_SPEC.search(spec):
        raise SecurityError(_("a format width over {limit:,} is not allowed in a form").format(limit=WIDTH_LIMIT))
    if _WIDTH_ARG.search(spec):
        if isinstance(args, dict):
            args = list(args.values())
        elif not isinstance(args, (list, tuple)):
            args = [args]
        _guard_width(*args)


def _guard_power(left: Any, right: Any) -> None:
    import math

    if not isinstance(right, (int, float)) or isinstance(right, bool):
        return
    if abs(right) > 100:
        raise SecurityError(_("a power over 100 is not allowed in a form"))
    if isinstance(left, int) and abs(left) > 1 and right > 0 \
            and right * math.log10(abs(left)) > POWER_DIGITS:
        raise SecurityError(_("a power of more than {digits:,} digits is not allowed in a form").format(digits=POWER_DIGITS))


def _center(value: Any, width: int = 80) -> Any:
    _guard_width(width)
    return jinja2.filters.do_center(value, width)


def _indent(value: Any, width: Any = 4, first: bool = False, blank: bool = False) -> Any:
    _guard_width(width)
    if isinstance(width, str) and len(width) > WIDTH_LIMIT:
        raise SecurityError(_("a width over {limit:,} is not allowed in a form").format(limit=WIDTH_LIMIT))
    return jinja2.filters.do_indent(value, width, first, blank)


def _format(value: Any, *args: Any, **kwargs: Any) -> Any:
    _guard_format(value, kwargs or args)
    return jinja2.filters.do_format(value, *args, **kwargs)


def _build(root: Path):
    class Sandbox(ImmutableSandboxedEnvironment):
        # `*`, `**` and `%` are where a one-line template asks for a gigabyte or an hour
        intercepted_binops = frozenset(["*", "**", "%"])

        def call_binop(self, context, operator, left, right):
            if operator == "**":
                _guard_power(left, right)
            elif operator == "%":
                _guard_format(left, right)
            elif operator == "*":
                for a, b in ((left, right), (right, left)):
                    if isinstance(a, (str, list, tuple)) and isinstance(b, int) and len(a) * b > WIDTH_LIMIT:
                        raise SecurityError(_("a repeat over {limit:,} characters is not allowed in a form").format(
                            limit=WIDTH_LIMIT))
            return super().call_binop(context, operator, left, right)

        def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (as Jinja names it)
            if isinstance(getattr(__obj, "__self__", None), str) and getattr(__obj, "__name__", "") in _PADDING:
                _guard_width(*args, *kwargs.values())
            return super().call(__context, __obj, *args, **kwargs)

        def wrap_str_format(self, value):
            wrapped = super().wrap_str_format(value)
            if wrapped is None:
                return None
            spec = value.__self__
            _guard_format(spec)

            def checked(*args, **kwargs):
                _guard_format(spec, [*args, *kwargs.values()] if value.__name__ == "format" else (args or [{}])[0])
                return wrapped(*args, **kwargs)

            return checked

    env = Sandbox(
        loader=_Loader(root),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=True,
    )
    _configure(env)
    return env


def _configure(env) -> None:
    """What a form template has: no objects it has no use for, no filter that writes
    HTML, and the Markdown escape for every value."""
    for name in ("lipsum", "cycler", "joiner"):  # objects a template has no use for
        env.globals.pop(name, None)
    for name in ("urlize", "xmlattr"):  # filters that write HTML
        env.filters.pop(name, None)
    env.filters.update(cell=_cell, e=_cell, escape=_cell, forceescape=_cell, join=_join, tojson=_json,
                       center=_center, indent=_indent, format=_format)


# ---------------------------------------------------------------------------- limits


class _TooLong(BaseException):
    """Raised by the alarm when a form takes longer than TIME_LIMIT."""


class _Limits:
    """TIME_LIMIT seconds and MEMORY_HEADROOM more memory while a form is filled in,
    where the system offers them (the main thread of a POSIX process)."""

    def __enter__(self):
        import signal
        import threading

        self.alarm = self.memory = None
        if hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():
            def ring(signum, frame):
                raise _TooLong()

            self.alarm = signal.signal(signal.SIGALRM, ring)
            signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT)
        try:
            import resource

            with open("/proc/self/statm") as f:
                used = int(f.read().split()[0]) * resource.getpagesize()
            soft, hard = resource.getrlimit(resource.RLIMIT_AS)
            cap = used + MEMORY_HEADROOM
            if (soft == resource.RLIM_INFINITY or soft > cap) and (hard == resource.RLIM_INFINITY or hard >= cap):
                resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
                self.memory = (soft, hard)
        except (ImportError, OSError, ValueError):
            pass
        return self

    def __exit__(self, *exc):
        import signal

        if self.alarm is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.alarm)
        if self.memory is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, self.memory)
        return False


def _where(e: BaseException) -> str:
    """`templates/X:LINE` of the innermost template line that raised `e`."""
    for frame in reversed(traceback.extract_tb(e.__traceback__)):
        if frame.filename.startswith("templates/") or frame.filename.endswith(BUILT_IN):
            return f"{frame.filename}:{frame.lineno}"
    return ""


def _fill(env, template, context: dict, record_id: str, limits: bool = True) -> str:
    name = template.filename or template.name
    try:
        with _Limits() if limits else contextlib.nullcontext():
            parts, size = [], 0
            for part in template.generate(**context):
                size += len(part)
                if size > OUTPUT_LIMIT:
                    raise BadInput(_("{template}: the form for {id} would be over {size} MiB; nothing was written").format(
                        template=name, id=record_id, size=OUTPUT_LIMIT // (1 << 20)))
                parts.append(part)
            return "".join(parts)
    except QmsError:
        raise
    except _TooLong:
        raise BadInput(_("{template}: the form for {id} took longer than {seconds} s to fill in; "
                         "nothing was written").format(template=name, id=record_id, seconds=TIME_LIMIT)) from None
    except MemoryError:
        raise BadInput(_("{template}: the form for {id} needed more than {size} GiB of memory; "
                         "nothing was written").format(template=name, id=record_id, size=MEMORY_HEADROOM >> 30)) from None
    except SecurityError as e:
        at = _where(e) or name
        raise BadInput(_("{where}: not allowed in a form template ({problem}); a form may only show "
                         "the record's values; nothing was written").format(where=at, problem=e)) from None
    except jinja2.TemplateSyntaxError as e:
        raise BadInput(f"{e.filename or e.name}:{e.lineno}: {e.message}") from None
    except jinja2.TemplateNotFound as e:
        at = _where(e) or name
        raise BadInput(_("{where}: includes '{name}', which is not a form template in the store's "
                         "templates/ or built in (a template is named by its file name, never a path)").format(
                             where=at, name=e.name)) from None
    except jinja2.UndefinedError as e:
        at = _where(e) or name
        raise BadInput(_("{id}: form template {where}: {problem}").format(id=record_id, where=at, problem=e.message)) from None
    except RecursionError:
        raise BadInput(_("{template}: nested too deeply to fill in for {id}").format(template=name, id=record_id)) from None
    except Exception as e:  # a hand-broken record, or a template that does arithmetic on text
        at = _where(e) or name
        raise BadInput(_("{id}: cannot be printed on {where} ({error}: {problem}); run qms validate {id}").format(
            id=record_id, where=at, error=type(e).__name__, problem=e)) from None


# ---------------------------------------------------------------------------- render


def render(store, record_id: str, lang: str, type_name: str | None = None, form: str | None = None, *,
           history: list[LogEntry] | None = None, now: datetime | None = None, record: Record | None = None) -> str:
    """The form of a record as Markdown: its type's main form, or the one `form` names of
    the others it declares (`forms:`), filled from its template. `history`: the record's
    commits, already read (a whole store's, by git.log_all); None: read from git here.
    `now`: the moment the form is printed as of (default: the store's clock). `record`:
    the record, already read (else read here)."""
    if record is None:
        record = store.read(record_id, type_name)
    _known_form(store.record_type(record.type), record.type, form)
    return fill(store, record, form_context(store, record, lang, history=history, now=now), form)


def _known_form(rt, type_name: str, form: str | None) -> None:
    if form is not None and form not in rt.forms:
        raise BadInput(_("--form '{form}': a {type} has {choices}").format(
            form=form, type=type_name,
            choices=", ".join(rt.forms) if rt.forms else _("one form only (leave --form out)")))


def signature_commits(record: Record, history: list[LogEntry]) -> list[str | None]:
    """For each of the record's signatures, in order, the commit that signed it: the
    commits of its history whose trailers name this record and sign with that meaning by
    that person, taken in order; None where the history holds no such commit (a record
    entered by hand or imported without trailers)."""
    mine = f"{record.type}/{record.id}"
    waiting: dict[tuple[str, str], list[str]] = {}
    for entry in history:
        named = entry.trailers.get(Trailer.RECORD) or []
        if named and mine not in named:
            continue  # a commit that names records signs those it names
        for sig in entry.trailers.get(Trailer.SIGNATURE) or []:
            meaning, _by, email = sig.rpartition(" by ")
            waiting.setdefault((meaning, email.strip().lower()), []).append(entry.commit)
    out: list[str | None] = []
    for s in values.signatures(record.data):
        key = (str(s.get("meaning")), str(s.get("email") or "").strip().lower())
        queue = waiting.get(key)
        out.append(queue.pop(0) if queue else None)
    return out


def form_context(store, record: Record, lang: str, *, history: list[LogEntry] | None = None,
                 now: datetime | None = None, due: list | None = None) -> dict:
    """What the record's forms show, computed once for all who lay it out: its values and
    labels, state, deadlines, history, its signatures (each with the commit that made it,
    where its history holds one), the records it refers to, and the functions a template
    asks for other records. `fill` makes a Markdown form of it; the published page lays
    out its references and signature commits beside that form, and the PDF prints the
    same form. `history`: the record's commits, already read (None: read from git here);
    `now`: the moment the forms are as of (default: the store's clock); `due`: the record's
    deadlines as of `now`, already worked out (None: worked out here)."""
    rt = store.record_type(record.type)
    data = record.data
    config = store.config
    now = now or store.now()

    def v(path: str) -> str:
        """The value at `path` as a person reads it (labels for codes), or ''."""
        value = values.get(data, path)
        spec = rt.field(path)
        if values.is_empty(value):
            return ""
        return shown(spec, value, lang) if spec else str(value)

    def label(path: str) -> str:
        return rt.label_of(path, lang)

    def signature(meaning: str) -> dict | None:
        found = None
        for s in values.signatures(data):
            if isinstance(s, dict) and s.get("meaning") == meaning:
                found = plain(s)
        return found

    def local(iso: str) -> str:
        moment = values.to_datetime(iso, config.tz)
        return moment.astimezone(config.tz).strftime("%Y-%m-%d %H:%M") if moment else iso

    def role_label(code: str | None) -> str:
        role = config.roles.get(code or "")
        return (role.label.get(lang) or code) if role else (code or "")

    memo = store.memo

    def kept(key: tuple, make: Callable[[], Any]) -> Any:
        """make() as store text, made once for all the forms filled from a view of the
        store that cannot change (publish's); each form still asks the store itself, so
        that what it looked at is noted."""
        if memo is None or not all(isinstance(k, (str, int)) for k in key):
            return store_text(make())
        found = memo.get(key)
        if found is None:
            found = memo[key] = store_text(make())
        return found

    def other(rid: str) -> dict | None:
        try:
            tname, _path = store.locate(str(rid))
        except BadInput:
            return None
        found = store.fetch(tname, str(rid))
        return kept(("record", tname, str(rid)), lambda: plain(found)) if found is not None else None

    def number_of(rid: str) -> str:
        """Another record's number as printed: its own number where its type keeps one."""
        try:
            tname, _path = store.locate(str(rid))
        except BadInput:
            return str(rid)
        found = store.fetch(tname, str(rid))
        return store.record_type(tname).number_of(found) if found is not None else str(rid)

    def related(type_name: str, field: str, target: str | None = None) -> list[dict]:
        """Records of `type_name` whose `field` names `target` (default: this record)."""
        target = target or record.id
        found = store.referring(type_name, field, target)
        return kept(("related", type_name, field, target),
                    lambda: sorted((plain(d) for d in found), key=lambda d: str(d.get("id"))))

    def sig(rec: dict | None, meaning: str) -> dict | None:
        found = None
        for s_ in values.signatures(rec or {}):
            if isinstance(s_, dict) and s_.get("meaning") == meaning:
                found = s_
        return found

    def label_of(type_name: str, path: str) -> str:
        return store.record_type(type_name).label_of(path, lang)

    def value_of(type_name: str, path: str, value) -> str:
        spec = store.record_type(type_name).field(path)
        if values.is_empty(value):
            return ""
        return shown(spec, value, lang) if spec else str(value)

    def state_label_of(type_name: str, state: str) -> str:
        states = store.record_type(type_name).workflow.states
        return states[state].label[lang] if state in states else str(state)

    entries = gitops.log(store.root, record.path) if history is None else history
    commits = signature_commits(record, entries)
    history = [
        {
            "date": local(e.date),
            "author": e.author,
            "email": e.email,
            "action": (e.trailers.get(Trailer.ACTION) or [e.subject])[0],
            "subject": e.subject,
            "comment": e.body,
            # done on paper earlier and entered at `date` (补录): when, as its QMS-On trailer says
            "on": (e.trailers.get(Trailer.ON) or [None])[0],
        }
        for e in entries
    ]
    functions = {
        "v": v,
        "label": label,
        "signature": signature,
        "role_label": role_label,
        "meaning_label": lambda m: rt.meaning_label(m, lang),
        "record": other,
        "number_of": number_of,
        "related": related,
        "sig": sig,
        "label_of": label_of,
        "value_of": value_of,
        "state_label_of": state_label_of,
    }
    context = {
        "id": record.id,
        "number": rt.number_of(data),  # its own number, for one that keeps it
        "r": plain(data),
        "state": record.state,
        "state_label": rt.workflow.states[record.state].label[lang],
        "state_labels": {k: st.label[lang] for k, st in rt.workflow.states.items()},
        "type_label": rt.label[lang],
        "company": config.company,
        "site": config.site,
        "deadlines": [
            dict(d.as_dict(), label=d.label[lang]) for d in (deadlines(rt, data, config, now) if due is None else due)
        ],
        # each with the commit that signed it (None: entered by hand) and its meaning's label
        "signatures": [dict(plain(s), commit=c, meaning_label=rt.meaning_label(str(s.get("meaning")), lang))
                       for s, c in zip(values.signatures(data), commits)],
        # (field, its label, type, ID) of each record this one refers to
        "references": [{"field": p, "label": rt.label_of(p, lang), "type": to, "id": i}
                       for p, to, i in rt.references(data)],
        # the named checks the record is held to (its type's and the store's), with their
        # arguments: a form can state a rule the store sets (the approval amounts)
        "checks": [{"fn": c.fn, "args": [str(a) for a in c.args]} for c in rt.checks],
        "history": history,
        "lang": lang,
        "now": now.strftime("%Y-%m-%d %H:%M"),
    }
    context = store_text(context)
    context.update({k: _giving_text(fn) for k, fn in functions.items()})
    return context


def fill(store, record: Record, context: dict, form: str | None = None) -> str:
    """The record's main form, or its form `form`, as Markdown: its template filled from
    `context` (form_context's for the record, in the form's language)."""
    rt = store.record_type(record.type)
    _known_form(rt, record.type, form)
    lang = str(context["lang"])
    context = dict(context, form=Text(form or ""),
                   form_title=store_text(rt.forms[form][lang] if form else rt.form[lang]))
    name = f"{record.type}.{form}.{lang}.md.j2" if form else f"{record.type}.{lang}.md.j2"
    # qms's own template, unless the store has something of that name (its own form, or a
    # link or folder, which the store's loader refuses)
    sandboxed = safefs.kind(store.root, f"templates/{name}")[0] != "missing" \
        or not TEMPLATE_NAME.fullmatch(name) or not (data_dir("templates") / name).is_file()
    env = environment(store) if sandboxed else built_in_environment()
    try:
        template = env.get_template(name)
    except jinja2.TemplateNotFound:
        raise BadInput(_("no form template {name} (in the store's templates/ or built in)").format(name=name)) from None
    except jinja2.TemplateSyntaxError as e:
        raise BadInput(f"{e.filename or e.name}:{e.lineno}: {e.message}") from None
    except RecursionError:
        raise BadInput(_("{template}: nested too deeply to read").format(template=name)) from None
    return _fill(env, template, context, record.id, limits=sandboxed)
