"""Files inside a store, read and written without ever following a link out of it.

A store may come from another plant, a merge request or a supplier, and git carries
symbolic links: `records/complaint/X.yaml -> /etc/passwd`, `templates -> /`, `files/a.pdf
-> /dev/zero`, `records/complaint -> ../../other-store/records/complaint`. Every path
below the store root is walked one name at a time without following links (on POSIX
with `O_NOFOLLOW` relative to the folder already opened, so a link swapped in meanwhile
is not followed either); devices, pipes and sockets are refused; a file's size is checked
before it is read, and no more than the limit is ever read.

Paths are given relative to the store root, with forward slashes."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path

from ..errors import BadFile, BadInput
from ..i18n import N_, _

# what is wrong with a name, after "PATH: "; in English: translate where shown, `_(LINK)`
LINK = N_("is a symbolic link; qms does not follow links in a store (put the file itself there)")
SPECIAL = N_("is not a regular file (a device, a pipe or a socket); qms reads only files")
_DIRFD = os.open in os.supports_dir_fd and hasattr(os, "O_NOFOLLOW")
_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a pipe is opened without waiting for a writer
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
CHUNK = 1 << 20
# The largest attached file (customer letter, photo, 8D report, document content) qms
# reads to pin; a larger one is refused before a byte of it is read.
ATTACHMENT_LIMIT = 256 * 1024 * 1024


def parts_of(rel: str) -> list[str]:
    """The names of a path relative to the store; absolute paths, `..` and empty names
    are refused (nothing outside the store is named)."""
    text = str(rel).replace("\\", "/")
    parts = text.split("/")
    if not text or text.startswith("/") or ":" in parts[0] or any(p in ("", ".", "..") for p in parts):
        raise BadInput(_("'{path}': expected a path inside the store, such as files/complaint/letter.pdf").format(
            path=rel))
    return parts


def kind(root: Path, rel: str) -> tuple[str, str]:
    """What is at `rel`: ("file" | "dir" | "missing" | "link" | "special", the path of the
    name that decided it). A link anywhere on the way is "link", naming that link."""
    parts = parts_of(rel)
    cur = str(root)
    for i, name in enumerate(parts):
        cur = os.path.join(cur, name)
        where = "/".join(parts[: i + 1])
        try:
            st = os.lstat(cur)
        except OSError:
            return "missing", where
        if stat.S_ISLNK(st.st_mode):
            return "link", where
        last = i == len(parts) - 1
        if not last and not stat.S_ISDIR(st.st_mode):
            return "missing", where
        if last:
            if stat.S_ISREG(st.st_mode):
                return "file", where
            if stat.S_ISDIR(st.st_mode):
                return "dir", where
            return "special", where
    return "missing", rel


def _refusal(root: Path, rel: str, source: str, e: OSError | None = None) -> BadFile:
    what, where = kind(root, rel)
    if what == "link":
        return BadFile(where if where != rel else source, _(LINK))
    if what == "special":
        return BadFile(source, _(SPECIAL))
    if what == "dir":
        return BadFile(source, _("is a folder, not a file"))
    if what == "missing" or e is None or e.errno in (errno.ENOENT, errno.ENOTDIR):
        return BadFile(source, _("no such file"))
    return BadFile(source, _("cannot be read ({reason})").format(reason=e.strerror))


def _open(root: Path, rel: str, source: str) -> int:
    parts = parts_of(rel)
    if not _DIRFD:  # no openat (Windows): look at each name, then open
        what, _where = kind(root, rel)
        if what != "file":
            raise _refusal(root, rel, source)
        try:
            return os.open(os.path.join(root, *parts), _FLAGS)
        except OSError as e:
            raise _refusal(root, rel, source, e) from None
    try:
        fd = os.open(root, _FLAGS | _DIRECTORY)
    except OSError as e:
        raise BadFile(source, _("the store cannot be read ({reason})").format(reason=e.strerror)) from None
    try:
        for name in parts[:-1]:
            try:
                nxt = os.open(name, _FLAGS | _DIRECTORY | _NOFOLLOW, dir_fd=fd)
            except OSError as e:
                raise _refusal(root, rel, source, e) from None
            os.close(fd)
            fd = nxt
        try:
            return os.open(parts[-1], _FLAGS | _NOFOLLOW | _NONBLOCK, dir_fd=fd)
        except OSError as e:
            raise _refusal(root, rel, source, e) from None
    finally:
        os.close(fd)


def _too_big(source: str, size: int, limit: int, what: str) -> BadFile:
    """`what`: the file as the refusal names it ("a record"), in English (marked N_ where it is given)."""
    return BadFile(source, _("the file is {size:,} bytes; {what} may be at most {limit:,}").format(
        size=size, what=_(what), limit=limit))


def _read_fd(fd: int, source: str, limit: int, what: str) -> bytes:
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise BadFile(source, _(SPECIAL))
        if st.st_size > limit:
            raise _too_big(source, st.st_size, limit, what)
        if st.st_size < CHUNK:  # the common case: one read, one byte more than stat said
            first = os.read(fd, st.st_size + 1)
            if len(first) <= st.st_size:
                return first
            chunks, total = [first], len(first)  # it grows as it is read: on, to the limit
            if total > limit:
                raise _too_big(source, total, limit, what)
        else:
            chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(CHUNK, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:  # it grew while being read
                raise _too_big(source, total, limit, what)
        return b"".join(chunks)
    except OSError as e:
        raise BadFile(source, _("cannot be read ({reason})").format(reason=e.strerror)) from None
    finally:
        os.close(fd)


def read_bytes(root: Path, rel: str, limit: int, *, source: str | None = None, what: str = N_("it")) -> bytes:
    """The bytes of the file `rel` of the store, refusing links, non-files, and files over
    `limit` bytes (checked before reading; never more than `limit` bytes are read)."""
    source = source or rel
    return _read_fd(_open(root, rel, source), source, limit, what)


def read_file(path: str | Path, limit: int, *, source: str | None = None, what: str = N_("it"),
              follow: bool = False) -> bytes:
    """The bytes of a file named by its full path: a link is refused (unless `follow`: a
    file the user named on the command line), and so are devices, pipes, sockets and
    files over `limit` bytes. Bulk readers use it on files whose folders were walked
    without following links."""
    source = source or str(path)
    try:
        fd = os.open(path, _FLAGS | _NONBLOCK | (0 if follow else _NOFOLLOW))
    except OSError as e:
        try:
            if not follow and stat.S_ISLNK(os.lstat(path).st_mode):
                raise BadFile(source, _(LINK)) from None
        except OSError:
            pass
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            raise BadFile(source, _("no such file")) from None
        if e.errno == errno.ENXIO:
            raise BadFile(source, _(SPECIAL)) from None
        raise BadFile(source, _("cannot be read ({reason})").format(reason=e.strerror)) from None
    return _read_fd(fd, source, limit, what)


def sha256(root: Path, rel: str, limit: int, *, source: str | None = None) -> str:
    """The SHA-256 of the file `rel` of the store, read in chunks (links, non-files and
    files over `limit` refused, as by read_bytes)."""
    source = source or rel
    fd = _open(root, rel, source)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise BadFile(source, _(SPECIAL))
        if st.st_size > limit:
            raise _too_big(source, st.st_size, limit, N_("an attached file"))
        h, total = hashlib.sha256(), 0
        while True:
            chunk = os.read(fd, CHUNK)
            if not chunk:
                break
            total += len(chunk)
            if total > limit:
                raise _too_big(source, total, limit, N_("an attached file"))
            h.update(chunk)
        return h.hexdigest()
    except OSError as e:
        raise BadFile(source, _("cannot be read ({reason})").format(reason=e.strerror)) from None
    finally:
        os.close(fd)


def check_writable(root: Path, rel: str) -> None:
    """Refuse to write `rel` if any name on its way (or the file itself) is a link, or a
    name on the way is not a folder: a write stays inside the store. Missing folders are
    fine (they are made)."""
    parts = parts_of(rel)
    cur = str(root)
    for i, name in enumerate(parts):
        cur = os.path.join(cur, name)
        try:
            st = os.lstat(cur)
        except OSError:
            return
        where = "/".join(parts[: i + 1])
        if stat.S_ISLNK(st.st_mode):
            raise BadInput(_("{path}: {problem}; nothing was written").format(path=where, problem=_(LINK)))
        if i < len(parts) - 1 and not stat.S_ISDIR(st.st_mode):
            raise BadInput(_("{path}: is not a folder; nothing was written").format(path=where))
        if i == len(parts) - 1 and not stat.S_ISREG(st.st_mode):
            raise BadInput(_("{path}: {problem}; nothing was written").format(path=where, problem=_(SPECIAL)))


def links_under(root: Path, folder: str, *, limit: int = 1000) -> list[str]:
    """The links in `folder` of the store and below it (the folder itself included), as
    paths relative to the store; at most `limit` of them."""
    found: list[str] = []
    what, where = kind(root, folder) if folder else ("dir", "")
    if what == "link":
        return [where]
    if what != "dir":
        return found
    stack = [folder]
    while stack and len(found) < limit:
        sub = stack.pop()
        try:
            entries = list(os.scandir(os.path.join(root, sub)))
        except OSError:
            continue
        for e in sorted(entries, key=lambda e: e.name):
            rel = f"{sub}/{e.name}" if sub else e.name
            if e.is_symlink():
                found.append(rel)
            elif e.is_dir(follow_symlinks=False) and e.name != ".git":
                stack.append(rel)
    return sorted(found)[:limit]
