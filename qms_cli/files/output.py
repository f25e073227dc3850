"""Where `-o FILE` (forms, ledgers) and `qms schema export` may write.

A form or ledger is written beside the store or into it, never over it: not over a file
git tracks (a record, qms.yaml, a template someone signed off), not anywhere under
records/, .git or .qms, and not through a link that leads there (the link is followed
to the file it names, and that file is what is checked). The file is replaced
atomically: a half-written ledger is never left in its place."""

from __future__ import annotations

import os
import stat
import subprocess
import tempfile
from pathlib import Path

from ..errors import BadInput
from ..i18n import _
from ..paths import RECORDS

PROTECTED = (".git", ".qms", RECORDS)  # folders of the store nothing is written into
PROTECTED_FILES = ("qms.yaml", "qms-anchors.txt")


def target(root: Path, output: Path) -> Path:
    """The file `output` names (links followed), after refusing what would overwrite
    part of the store at `root`."""
    shown = str(output)
    real = Path(os.path.realpath(output))
    if real.is_dir():
        raise BadInput(_("{path}: is a folder; give a file name (-o FILE)").format(path=shown))
    store = Path(os.path.realpath(root))
    try:
        rel = real.relative_to(store)
    except ValueError:
        return real  # outside the store: the user's own file
    parts = rel.parts
    named = shown if str(rel) == shown else _("{path} (the store's {file})").format(path=shown, file=rel.as_posix())
    if not parts:
        raise BadInput(_("{path}: is the store itself; give a file name (-o FILE)").format(path=shown))
    if parts[0] in PROTECTED:
        raise BadInput(_("{path}: qms never writes a form or a ledger under {folder}/ of the store; "
                         "choose a file outside it").format(path=named, folder=parts[0]))
    if rel.as_posix() in PROTECTED_FILES:
        raise BadInput(_("{path}: is the store's {file}; choose another file").format(path=named, file=rel.as_posix()))
    if _tracked(store, rel.as_posix()):
        raise BadInput(_("{path}: is a file of the store under version control; qms does not "
                         "overwrite it (choose another file, or change it with git)").format(path=named))
    return real


def _tracked(store: Path, rel: str) -> bool:
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--", f":(literal){rel}"], cwd=store,
                             capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return bool(out.stdout.strip(b"\0"))


def write(path: Path, data: bytes, shown: str) -> None:
    """Write `data` to `path`: through a temporary file in the same folder and a rename,
    so the file is either the old one or the whole new one. A device or pipe (such as
    /dev/stdout) is written to directly."""
    try:
        st = os.stat(path)
    except OSError:
        st = None
    try:
        if st is not None and not stat.S_ISREG(st.st_mode):
            with open(path, "wb") as f:
                f.write(data)
            return
        fd, tmp = tempfile.mkstemp(prefix=".qms-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            if st is not None:
                os.chmod(tmp, stat.S_IMODE(st.st_mode))
            else:  # what a new file would get (mkstemp makes it private)
                mask = os.umask(0)
                os.umask(mask)
                os.chmod(tmp, 0o666 & ~mask)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError as e:
        raise BadInput(_("{path}: cannot write ({reason})").format(path=shown, reason=e.strerror)) from None
