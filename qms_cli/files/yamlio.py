"""Reading and writing record files.

Round-trip (ruamel `rt`) for the one record being edited, so comments, key order and
quoting written by hand survive; the C-accelerated safe loader for bulk reads. Both refuse
what a record must never contain: anchors and aliases, custom tags, duplicate keys, a
file over MAX_BYTES, text that is not UTF-8, and a document that is not a mapping.
YAML 1.2 throughout: `no`, `on`, `yes` stay text."""

from __future__ import annotations

import io
import math
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Any

from ..errors import BadFile, BadInput, QmsError
from ..i18n import N_, _
from ..paths import private_cache
from ..text import visible
from . import fastyaml, output, safefs

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 64
# The tags plain YAML data resolves to; anything else (custom tags, !!python/..., !!binary,
# !!set) is refused in a record.
ALLOWED_TAGS = {
    f"tag:yaml.org,2002:{t}"
    for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")
}
MERGE = "tag:yaml.org,2002:merge"


def _yaml(kind: str):
    from ruamel.yaml import YAML

    y = YAML(typ=kind, pure=False) if kind == "safe" else YAML()
    if kind == "rt":
        y.indent(mapping=2, sequence=4, offset=2)
        y.width = 4096  # never fold a long text at a space: hand edits and diffs stay line-true
        y.preserve_quotes = True
        y.allow_unicode = True
    return y


_cache: dict[str, Any] = {}


def yaml_for(kind: str):
    if kind not in _cache:
        _cache[kind] = _yaml(kind)
    return _cache[kind]


def decode(raw: bytes, source: str) -> str:
    if len(raw) > MAX_BYTES:
        raise BadFile(source, _("the file is {size:,} bytes; a record may be at most {limit:,}").format(
            size=len(raw), limit=MAX_BYTES))
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadFile(source, _("byte {position}: not UTF-8 text (save the file as UTF-8)").format(
            position=e.start)) from None
    if "\ufeff" in text:  # a byte-order mark pasted inside the file (two files joined)
        line = text[: text.index("\ufeff")].count("\n") + 1
        raise BadFile(source, _("a byte-order mark (BOM) inside the file: delete it"), line)
    return text


def _check_nodes(root, source: str) -> None:
    """Refuse aliases (a node reached twice), anchors, custom tags and runaway nesting."""
    seen: set[int] = set()
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        line = node.start_mark.line + 1 if node.start_mark else None
        if id(node) in seen or getattr(node, "anchor", None):
            raise BadFile(source, _("YAML anchors and aliases (&, *) are not allowed in records"), line)
        seen.add(id(node))
        tag = node.tag if isinstance(node.tag, str) else getattr(node.tag, "value", None)
        if tag == MERGE:
            raise BadFile(source, _("YAML merge keys (<<) are not allowed in records: quote '<<' to mean the text"), line)
        if tag == "tag:yaml.org,2002:value":
            raise BadFile(source, _("a bare '=' is YAML's value marker: quote it ('=') to mean the text"), line)
        if tag and tag not in ALLOWED_TAGS:
            raise BadFile(source, _("YAML tag '{tag}' is not allowed in records").format(tag=tag), line)
        if depth > MAX_DEPTH:
            raise BadFile(source, _("nested more than {depth} levels deep").format(depth=MAX_DEPTH), line)
        if node.id == "mapping":
            for k, v in node.value:
                stack.append((k, depth + 1))
                stack.append((v, depth + 1))
        elif node.id == "sequence":
            for v in node.value:
                stack.append((v, depth + 1))


_DEEP = re.compile(r"^ {%d}" % (2 * MAX_DEPTH), re.M)
_BARE_EQUALS = re.compile(r"(?m)(?:[:\[,-])[ \t]*=[ \t]*(?:$|[,\]}#])")  # YAML's '=' value tag


def _may_be_hostile(text: str) -> bool:
    """Whether the node walk is needed: only tags (!), aliases (*), anchors (&) or deep
    nesting need it, and each leaves a trace in the text."""
    return ("!" in text or "*" in text or "&" in text or "<<" in text or _BARE_EQUALS.search(text) is not None
            or text.count("[") + text.count("{") >= MAX_DEPTH or _DEEP.search(text) is not None)


def parse_fast(text: str, source: str) -> Any:
    """Bulk reading (validate, lists, reports): libyaml, YAML 1.2 scalars, same checks."""

    if "\t" in text:
        # libyaml and ruamel disagree on some tabs (before a comment, in indentation): a
        # file with tabs must also be one the editing reader takes, or it is refused here too
        parse(text, source, "rt")
    try:
        node = fastyaml.compose(text)
        if node is None:
            raise BadFile(source, _("the file is empty; expected the fields of a record"))
        if _may_be_hostile(text):
            _check_nodes(node, source)
            if "&" in text:
                for event in fastyaml.events(text):
                    if getattr(event, "anchor", None):
                        line = event.start_mark.line + 1 if event.start_mark else None
                        raise BadFile(source, _("YAML anchors and aliases (&, *) are not allowed in records"), line)
        data = fastyaml.construct(node)
    except BadInput:
        raise
    except fastyaml.YAMLError as e:
        line, problem = _error_line(e)
        raise BadFile(source, _("{problem} (not valid YAML)").format(problem=problem), line) from None
    except RecursionError:
        raise BadFile(source, _("nested too deeply")) from None
    except (ValueError, TypeError, OverflowError, KeyError, AttributeError, IndexError) as e:  # !!bool general
        raise _bad_value(e, text, source) from None
    if not isinstance(data, dict):
        raise BadFile(source, _("expected a mapping of fields (key: value) at the top"))
    return data


_KEY = re.compile(r"\s*(?:-\s+)?([^\s:#'\"][^:#]*?)\s*:(?:\s|$)")


def _bad_value(e: Exception, text: str, source: str) -> BadFile:
    """A value YAML could not turn into data (2026-13-45, `!!float phone`, a number of
    thousands of digits): the file, the line and, where the line shows it, the field."""
    line = _node_line(e)
    message = str(e).strip().splitlines()[0] if str(e).strip() else ""
    if "integer string conversion" in message:
        problem = _("a number of more than 4,300 digits; expected a whole number of at most 15 digits")
    elif message and not isinstance(e, IndexError):
        problem = _("{problem} (not a valid value)").format(problem=message)
    else:
        problem = _("a value does not match its YAML tag (not a valid value)")
    if line is not None:
        lines = text.splitlines()
        key = _KEY.match(lines[line - 1]) if 0 < line <= len(lines) else None
        if key:
            problem = f"{visible(key.group(1), one_line=True)[:60]}: {problem}"
    return BadFile(source, problem, line)


def _node_line(e: Exception) -> int | None:
    # the traceback's frames hold the node being constructed; its mark gives the line
    tb = e.__traceback__
    line = None
    while tb is not None:
        node = tb.tb_frame.f_locals.get("node")
        mark = getattr(node, "start_mark", None)
        if mark is not None:
            line = mark.line + 1
        tb = tb.tb_next
    return line


def _check_anchors(y, text: str, source: str) -> None:
    for event in y.parse(text):
        if getattr(event, "anchor", None):
            line = event.start_mark.line + 1 if event.start_mark else None
            raise BadFile(source, _("YAML anchors and aliases (&, *) are not allowed in records"), line)


def _error_line(e: Exception) -> tuple[int | None, str]:
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    problem = getattr(e, "problem", None) or str(e).splitlines()[0]
    return (mark.line + 1 if mark is not None else None), problem


def parse(text: str, source: str, kind: str = "safe") -> Any:
    """Parse one YAML document from `text`; `kind` is 'rt' (editable) or 'safe' (fast)."""
    if kind == "safe":
        return parse_fast(text, source)
    from ruamel.yaml.error import YAMLError

    y = yaml_for(kind)
    try:
        with warnings.catch_warnings():
            # ruamel warns (on stderr) about a reused anchor; anchors are refused below anyway
            warnings.simplefilter("ignore")
            node = y.compose(text)
        if node is None:
            raise BadFile(source, _("the file is empty; expected the fields of a record"))
        _check_nodes(node, source)
        if "&" in text:  # the C composer drops anchors: look at the events, only when one may be there
            _check_anchors(y, text, source)
        data = y.constructor.construct_document(node)
    except BadInput:
        raise
    except YAMLError as e:
        line, problem = _error_line(e)
        raise BadFile(source, _("{problem} (not valid YAML)").format(problem=problem), line) from None
    except RecursionError:
        raise BadFile(source, _("nested too deeply")) from None
    except (ValueError, TypeError, OverflowError, KeyError, AttributeError, IndexError) as e:
        # e.g. 2026-13-45, or `!!float phone` (ruamel's float constructor raises IndexError)
        raise _bad_value(e, text, source) from None
    if not isinstance(data, dict):
        raise BadFile(source, _("expected a mapping of fields (key: value) at the top"))
    return data


def read(path: Path, source: str, root: Path | None = None, what: str = N_("a record")) -> bytes:
    """A file's bytes, at most MAX_BYTES of them: inside the store `root` without
    following any link (records, qms.yaml, declarations); without `root`, a file the user
    named (a link is followed, as for any file given on the command line). Devices, pipes
    and sockets are refused, and the size is checked before reading. `what` names the file
    in a refusal over the size ("a record"), in English: it is translated where it is shown."""

    if root is not None:
        rel = Path(path).relative_to(root).as_posix()
        return safefs.read_bytes(root, rel, MAX_BYTES, source=source, what=what)
    return safefs.read_file(path, MAX_BYTES, source=source, what=what, follow=True)


def load(path: Path, source: str, kind: str = "safe", *, root: Path | None = None) -> Any:
    """One record (or qms.yaml) read and parsed; see read() for `root`."""
    return parse(decode(read(path, source, root), source), source, kind)


def load_declaration(path: Path | None, source: str, *, root: Path | None = None, raw: bytes | None = None) -> Any:
    """A record type declaration or other file of the package: YAML anchors allowed (they
    keep declarations short), nothing else relaxed. A store's own (`root` given) is read
    without following links and refused over MAX_BYTES; `raw`: a store's own as an older
    commit held it (audit), checked as a store's own. Each call gives data of its own
    (nothing shared with another caller), parsed once and kept (_declaration_kept)."""
    if raw is not None and len(raw) > MAX_BYTES:
        raise BadFile(source, _("over {limit:,} bytes").format(limit=MAX_BYTES))
    if raw is None:
        raw = read(path, source, root, N_("a declaration")) if root is not None else None
    else:
        root = root or Path(".")
    try:
        raw = raw if raw is not None else path.read_bytes()
    except OSError as e:
        raise BadFile(source, _("cannot be read ({reason})").format(reason=e.strerror)) from None
    data = _declaration_kept(raw)
    if data is not None:
        if root is not None:
            _check_expanded(data, source)
        return data
    from ruamel.yaml.error import YAMLError  # the full reader: merge keys, other tags, its own refusals

    try:
        data = yaml_for("safe").load(raw)
    except OSError as e:
        raise BadFile(source, _("cannot be read ({reason})").format(reason=e.strerror)) from None
    except YAMLError as e:
        line, problem = _error_line(e)
        raise BadFile(source, _("{problem} (not valid YAML)").format(problem=problem), line) from None
    except RecursionError:
        raise BadFile(source, _("nested too deeply")) from None
    if not isinstance(data, dict):
        raise BadFile(source, _("expected a mapping at the top"))
    if root is not None:
        _check_expanded(data, source)
    return data


_PLAIN_TAGS = frozenset("tag:yaml.org,2002:" + t for t in ("str", "map", "seq", "int", "float", "bool", "null",
                                                            "timestamp"))


def _declaration_fast(raw: bytes) -> Any:
    """A declaration read by libyaml (a sixth of the time, and no pure-Python reader to
    import), when it is a plain mapping of plain values, anchors and aliases included;
    None for anything else (merge keys, other tags, an error), which the full reader reads
    and, where it must, refuses with its own words."""
    sizes: dict[int, int] = {}  # node -> values it stands for with its aliases expanded

    def size(n) -> int:
        """Values under `n` once expanded; over the limit for a tag this reader leaves alone
        or a node that contains itself (each alias is counted once per place it stands)."""
        key = id(n)
        if key in sizes:
            return sizes[key]
        if n is None or n.tag not in _PLAIN_TAGS:
            return DECLARATION_NODES + 1
        sizes[key] = DECLARATION_NODES + 1  # while counting: a node inside itself is refused
        if isinstance(n.value, str):
            total = 1
        else:
            children = [v for pair in n.value for v in pair] if n.tag.endswith(":map") else n.value
            total = 1 + sum(size(c) for c in children)
        sizes[key] = min(total, DECLARATION_NODES + 1)
        return sizes[key]

    try:
        node = fastyaml.compose(raw.decode("utf-8-sig"))
        if size(node) > DECLARATION_NODES:  # built by the full reader, which shares what aliases repeat
            return None
        data = fastyaml.construct(node)
    except (UnicodeDecodeError, fastyaml.YAMLError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _declaration_kept(raw: bytes) -> Any:
    """_declaration_fast(raw), kept between runs as JSON in a folder of the user's alone
    (paths.private_cache), named by the SHA-256 of the bytes and of this reader's code: a
    declaration is parsed once, not by every command (30 ms of each start that reads every
    record type and ledger). A declaration holding what JSON does not give back exactly (a
    date, a key that is not text, a whole number past 64 bits) is not kept; a kept file
    that cannot be read is parsed again."""
    folder = private_cache()
    if folder is None:
        return _declaration_fast(raw)
    import hashlib

    import orjson

    path = folder / f"declaration-{hashlib.sha256(_reader_key() + raw).hexdigest()}.json"
    try:
        data = orjson.loads(path.read_bytes())
        if isinstance(data, dict):
            return data
    except (OSError, ValueError):
        pass
    data = _declaration_fast(raw)
    if data is not None and _exact_in_json(data, 0):
        try:
            output.write(path, orjson.dumps(data), str(path))
        except QmsError:  # the folder full or gone: parsed again next time
            pass
        except TypeError:  # orjson.JSONEncodeError: a lone surrogate (PyYAML without libyaml reads "\ud800")
            pass
    return data


_READER: list[bytes] = []


def _reader_key() -> bytes:
    """What a declaration's parse depends on besides its bytes: this reader's code and libyaml's."""
    if not _READER:
        import hashlib

        import yaml

        code = b"".join(Path(m.__file__).read_bytes() for m in (fastyaml, sys.modules[__name__]))
        _READER.append(hashlib.sha256(code + yaml.__version__.encode()).digest())
    return _READER[0]


def _exact_in_json(value: Any, depth: int) -> bool:
    """Whether JSON (read back by orjson) gives `value` back equal in type and value."""
    t = type(value)
    if t is str or t is bool or value is None:
        return True
    if t is int:
        return -(2 ** 63) <= value < 2 ** 64
    if t is float:
        return math.isfinite(value)
    if depth > 200:
        return False
    if t is list:
        return all(_exact_in_json(x, depth + 1) for x in value)
    if t is dict:
        return all(type(k) is str and _exact_in_json(v, depth + 1) for k, v in value.items())
    return False


DECLARATION_NODES = 200_000  # values a store's declaration may hold with its aliases expanded


def _check_expanded(data: Any, source: str) -> None:
    """Refuse a declaration whose aliases multiply it (the "billion laughs": ten aliases
    of ten aliases of ... is a few lines of text and more values than memory holds).
    Counts values as every reader will walk them, stopping at the limit."""
    count, stack = 0, [data]
    while stack:
        node = stack.pop()
        count += 1
        if count > DECLARATION_NODES:
            raise BadFile(source, _("more than {limit:,} values once its aliases (*) are "
                                    "expanded; write the declaration out").format(limit=DECLARATION_NODES))
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def field_lines(text: str) -> dict[str, int]:
    """Dotted path -> 1-based line, for pointing findings at the line a person edits."""
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    try:
        root = yaml_for("safe").compose(text)
    except Exception:
        return {}
    out: dict[str, int] = {}
    stack = [(root, "")]
    while stack:
        node, prefix = stack.pop()
        if isinstance(node, MappingNode):
            for k, v in node.value:
                path = f"{prefix}{k.value}"
                out[path] = k.start_mark.line + 1
                stack.append((v, path + "."))
        elif isinstance(node, SequenceNode):
            for i, v in enumerate(node.value):
                path = f"{prefix}{i}"
                out[path] = v.start_mark.line + 1
                stack.append((v, path + "."))
    return out


DEFAULT_STYLE = (2, 4, 2)  # mapping indent, sequence indent, dash offset


def edit_style(text: str) -> tuple[int, int, int]:
    """The indentation a (possibly hand-written) record uses, so that writing it back
    changes only the lines whose values changed."""
    from ruamel.yaml.util import load_yaml_guess_indent

    try:
        _data, indent, dash = load_yaml_guess_indent(text)
    except Exception:  # the file was already checked by parse(); guessing is best effort
        return DEFAULT_STYLE
    if not indent:
        return DEFAULT_STYLE
    if dash is None:  # no lists in the file yet: its mapping indent, our list style
        return (indent, indent + 2, 2) if indent >= 2 else DEFAULT_STYLE
    return (_mapping_indent(text) or indent, max(indent, dash + 2), dash)


def _mapping_indent(text: str) -> int | None:
    """How far a nested mapping is indented under its key (ruamel's guess reports the
    list indent when a file has lists; a file may indent the two differently)."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    for a, b in zip(lines, lines[1:]):
        sa, sb = a.lstrip(" "), b.lstrip(" ")
        if sa.startswith("-") or sb.startswith("-") or not sa.rstrip().endswith(":"):
            continue
        deeper = (len(b) - len(sb)) - (len(a) - len(sa))
        if deeper > 0:
            return deeper
    return None


def load_for_edit(path: Path, source: str, *, root: Path) -> tuple[Any, tuple[int, int, int]]:
    text = decode(read(path, source, root), source)
    # a file saved with Windows line endings is edited as such, and written back as such
    crlf = "\r\n" in text
    if crlf:
        text = text.replace("\r\n", "\n")
    return parse(text, source, "rt"), (*edit_style(text), crlf)


def dump(data: Any, style: tuple = DEFAULT_STYLE) -> str:
    y = yaml_for("rt")
    mapping, sequence, offset = style[:3]
    y.indent(mapping=mapping, sequence=sequence, offset=offset)
    buf = io.StringIO()
    y.dump(data, buf)
    text = buf.getvalue()
    return text.replace("\n", "\r\n") if len(style) > 3 and style[3] else text


def atomic_write(path: Path, content: str | bytes) -> None:
    """Write via a temporary file in the same folder, fsync, rename: all or nothing."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:  # a write that failed (a full disk) names its file, never taken for stdout's
        if e.filename is None:
            e.filename = str(path)
        raise
    finally:
        if tmp.exists():
            tmp.unlink()
    if hasattr(os, "O_DIRECTORY"):
        fd = os.open(path.parent, os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
