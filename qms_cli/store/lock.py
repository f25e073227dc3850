"""Serialising writers and surviving a crash.

Every write holds the store's lock (`.qms/lock`, a cross-platform file lock). Before
touching a record file, the writer leaves a journal (`.qms/journal.json`) with each file's
previous content and the blob id of its new content; after the commit the journal goes.
The next qms command of any kind that finds a journal (`settle`, before it reads
anything) finishes the story under the lock: if HEAD holds the new content the action
completed; otherwise the files are put back as they were. While qms's own git runs, its
process id is kept in `.qms/git.pid`: a git killed with qms leaves `.git/index.lock`
behind, and the journal with that file proves the lock is qms's own, so the recovery
clears it; any other index.lock is only named."""

from __future__ import annotations

import base64
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from ..errors import BadInput, Busy
from ..files import safefs
from ..files.yamlio import MAX_BYTES, atomic_write
from ..i18n import _
from ..paths import FILES, RECORDS
from . import git as gitops

STATE_DIR = ".qms"
LOCK_WAIT_SECONDS = 60.0  # how long a writer waits for the lock, unless QMS_LOCK_TIMEOUT says otherwise

# the folders a journal may name: what qms writes (anything else is a forged journal)
JOURNALLED = (RECORDS, FILES)
JOURNALLED_FILES = ("qms.yaml",)  # written by `qms role grant|revoke`


def lock_wait() -> float:
    """How long to wait for a lock: $QMS_LOCK_TIMEOUT seconds as set now (a number from 0),
    else LOCK_WAIT_SECONDS."""
    try:
        wait = float(os.environ.get("QMS_LOCK_TIMEOUT", LOCK_WAIT_SECONDS))
    except ValueError:
        return LOCK_WAIT_SECONDS
    return wait if 0 <= wait < float("inf") else LOCK_WAIT_SECONDS


def state_dir(root: Path) -> Path:
    """The store's .qms/ folder, made (and git-ignored) if missing; a link or a file in its
    place is refused (BadInput)."""
    d = root / STATE_DIR
    if d.is_symlink() or (os.path.lexists(d) and not d.is_dir()):
        raise BadInput(_("{folder}: is a link or a file; qms keeps its lock and journal in a folder "
                         "{folder}/ of the store: remove it (it is never committed)").format(folder=STATE_DIR))
    if not d.is_dir():
        d.mkdir(exist_ok=True)
        # ignored by git without touching the store's own .gitignore
        (d / ".gitignore").write_text("*\n", encoding="utf-8")
    return d


def git_pid_file(root: Path) -> Path:
    """Where the process id of qms's running git is kept (see the module's docstring)."""
    return state_dir(root) / "git.pid"


def settle(root: Path) -> list[str]:
    """Before any command reads the store: if a write was interrupted (a journal is
    there), finish or roll it back now, under the lock, so that nothing shown is a value
    about to be undone. Returns what was recovered, for the user. Costs one lstat when
    there is nothing to do."""
    if not os.path.lexists(root / STATE_DIR / "journal.json"):
        return []
    try:
        with store_lock(root) as notes:
            return list(notes)
    except OSError as e:
        raise Busy(
            _("an interrupted qms action is pending in {journal} and cannot be finished "
              "here ({reason}); run qms where the store can be written, before reading it").format(
                journal=f"{STATE_DIR}/journal.json", reason=e.strerror)
        ) from None


@contextmanager
def held(path: Path, busy: Callable[[float], str], unusable: Callable[[OSError], str] | None = None) -> Iterator[None]:
    """Hold the file lock `path` (a cross-platform file lock) for the block: another qms
    holding it is waited for lock_wait() seconds, then Busy(busy(those seconds)), exit 1;
    a lock file that cannot be made (a folder in its place, a folder that cannot be
    written) is BadInput(unusable(the error)) where `unusable` says how to put it."""
    from filelock import FileLock, Timeout

    wait = lock_wait()
    lock = FileLock(str(path), timeout=wait)
    try:
        lock.acquire()
    except Timeout:
        raise Busy(busy(wait)) from None
    except OSError as e:
        if unusable is None:
            raise
        raise BadInput(unusable(e)) from None
    try:
        yield
    finally:
        lock.release()


@contextmanager
def store_lock(root: Path) -> Iterator[list[str]]:
    """Hold the lock; yields a list that receives notes about recovered actions."""
    with held(state_dir(root) / "lock", lambda seconds: _(
            "another qms process has been changing this store for {seconds:.0f} s; "
            "try again (the lock is {lock})").format(seconds=seconds, lock=f"{STATE_DIR}/lock")):
        notes: list[str] = []
        recover(root, notes)
        yield notes


def _journal(root: Path) -> Path:
    return root / STATE_DIR / "journal.json"


def begin(root: Path, changes: dict[str, bytes], summary: str) -> None:
    """Leave the journal of a write before any file is touched: each file's previous content
    and its new content's blob id. A file qms never writes is refused (BadInput)."""
    entries = {}
    for rel, new in changes.items():
        _check_journalled(rel)
        old = safefs.read_bytes(root, rel, MAX_BYTES + 1) if safefs.kind(root, rel)[0] == "file" else None
        entries[rel] = {
            "old": base64.b64encode(old).decode() if old is not None else None,
            "new_blob": gitops.blob_id(new),
        }
    atomic_write(_journal(root), json.dumps({"summary": summary, "files": entries}))


def end(root: Path) -> None:
    """Remove the journal: the write is over (committed or rolled back)."""
    j = _journal(root)
    if j.exists():
        j.unlink()


def _check_journalled(rel: str) -> None:
    parts = safefs.parts_of(rel)
    if tuple(parts) not in [(f,) for f in JOURNALLED_FILES] and (parts[0] not in JOURNALLED or len(parts) < 2):
        raise BadInput(_("{journal} names '{path}', which qms never writes; "
                         "delete the journal if you did not write it").format(
            journal=f"{STATE_DIR}/journal.json", path=rel))


def roll_back(root: Path) -> None:
    """Put every file of the journal back as it was before the action (only files
    under records/ and files/, never through a link)."""
    data = json.loads(_journal(root).read_text(encoding="utf-8"))
    for rel in data["files"]:
        _check_journalled(rel)
        safefs.check_writable(root, rel)
    for rel, entry in data["files"].items():
        path = root / rel
        if entry["old"] is None:
            if path.exists():
                path.unlink()
        else:
            atomic_write(path, base64.b64decode(entry["old"]))
    gitops.unstage(root, list(data["files"]))
    end(root)


def git_dir(root: Path) -> Path:
    """The git folder of the clone (or worktree) at `root`: where qms keeps what is not
    the store's (the lock, the journal, qms remind's record of what it sent)."""
    return _git_dir(root)


def _git_dir(root: Path) -> Path:
    # the nearest .git upward, as git finds it: a store may be a folder of a larger
    # repository (its .git is the repository's, not a folder to make in the store)
    for folder in (root, *root.parents):
        gitdir = folder / ".git"
        if gitdir.is_file():  # a worktree: "gitdir: <path>"
            text = gitdir.read_text(encoding="utf-8", errors="replace").strip()
            if text.startswith("gitdir:"):
                found = Path(text[7:].strip())
                return found if found.is_absolute() else (folder / found).resolve()
        if gitdir.is_dir():
            return gitdir
    return root / ".git"


def _alive(pid: int, start: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # there, but not ours to signal
        return True
    # the same process, not a later one given the same number
    return not start or gitops.process_start(pid) == start


def _own_git(root: Path) -> tuple[int, str, int] | None:
    """(pid, start, when the file was written) of the git qms was running, if it says."""
    path = root / STATE_DIR / "git.pid"
    try:
        st = os.lstat(path)
        pid, _sep, start = path.read_text(encoding="utf-8").strip().partition(" ")
        return int(pid), start.strip(), st.st_mtime_ns
    except (OSError, ValueError):
        return None


def _wait_for_git(root: Path, notes: list[str]) -> None:
    """A qms killed during its commit may leave its git still finishing (it removes its
    index.lock when done): wait for it. A git killed with qms leaves index.lock for ever:
    when .qms/git.pid names that git, it is gone, and the lock is not older than it, the
    lock is qms's own and is removed (with git's other lock files of that moment). Any
    other index.lock is named, not touched."""
    import time

    gitdir = _git_dir(root)
    lock = gitdir / "index.lock"
    own = _own_git(root)
    deadline = time.monotonic() + (lock_wait() if own else 10)
    while lock.exists() and time.monotonic() < deadline and (own is None or _alive(own[0], own[1])):
        time.sleep(0.05)
    if lock.exists() and own is not None and not _alive(own[0], own[1]):
        pid, _start, since = own
        _remove_stale(gitdir, [lock, *gitdir.glob(f"next-index-{pid}.lock"), gitdir / "HEAD.lock",
                               *(gitdir / "refs" / "heads").rglob("*.lock")], pid, since, notes)
    if lock.exists():
        raise Busy(
            _("{lock} is still there after an interrupted qms action: if no git command is "
              "running on this store, delete that file and run qms again").format(lock=lock)
        )
    (root / STATE_DIR / "git.pid").unlink(missing_ok=True)


def clear_own_git(root: Path, notes: list[str]) -> None:
    """Where .qms/git.pid names a git that qms ran and that was killed with it (`qms sync`
    keeps no journal of files, so recover() does not look): the lock files it left on the
    refs a sync moves (its fetch, push, replay or switch: refs/remotes, refs/tags,
    refs/heads, refs/qms-sync, packed-refs, FETCH_HEAD) go, with a note, and its index.lock as `_wait_for_git` says;
    any other index.lock is named (Busy)."""
    own = _own_git(root)
    if own is not None and not _alive(own[0], own[1]):
        gitdir = _git_dir(root)
        pid, _start, since = own
        _remove_stale(gitdir, [gitdir / "packed-refs.lock", gitdir / "FETCH_HEAD.lock",
                               *(f for part in ("remotes", "tags", "heads", "qms-sync")
                                 for f in (gitdir / "refs" / part).rglob("*.lock"))], pid, since, notes)
    _wait_for_git(root, notes)


def _remove_stale(gitdir: Path, files: list[Path], pid: int, since: int, notes: list[str]) -> None:
    """Remove the lock files among `files` that qms's own git `pid`, killed, left: those
    no older than the moment it started (`since`, ns); say which went."""
    removed = []
    for f in files:
        try:
            if f.is_file() and not f.is_symlink() and f.stat().st_mtime_ns >= since - 1_000_000_000:
                f.unlink()
                removed.append(f.relative_to(gitdir).as_posix())
        except OSError:
            pass
    if removed:
        notes.append(_("removed {files} left in .git by qms's own git (process {pid}), "
                       "killed during the interrupted action").format(files=", ".join(removed), pid=pid))


def _remove_temporaries(root: Path, files: dict) -> None:
    for rel in files:
        path = root / rel
        for tmp in path.parent.glob(f".{path.name}.*.tmp"):
            tmp.unlink(missing_ok=True)


def _tracked(root: Path, rel: str) -> bool:
    import subprocess

    try:
        p = subprocess.run(["git", "ls-files", "--error-unmatch", "--", rel], cwd=root,
                           capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return p.returncode == 0


def recover(root: Path, notes: list[str]) -> None:
    """Finish an interrupted write, if a journal is there: kept where HEAD holds every new
    content, else rolled back, and said in `notes`. A journal committed to git, or naming
    a file qms never writes, is refused (BadInput)."""
    j = _journal(root)
    for tmp in (root / STATE_DIR).glob(".journal.json.*.tmp"):
        tmp.unlink(missing_ok=True)
    if not j.exists():
        return
    if _tracked(root, f"{STATE_DIR}/journal.json"):
        raise BadInput(_("{journal} is committed to this store's git; qms's journal is never "
                         "committed, so it is not acted on: remove it from git (git rm --cached "
                         "{journal}) and delete it").format(journal=f"{STATE_DIR}/journal.json"))
    try:
        data = json.loads(safefs.read_bytes(root, f"{STATE_DIR}/journal.json", 64 * MAX_BYTES))
        files = data["files"]
        if not isinstance(files, dict) or not all(
            isinstance(e, dict) and isinstance(e.get("new_blob"), str) and isinstance(e.get("old"), (str, type(None)))
            for e in files.values()
        ):
            raise ValueError
    except (ValueError, KeyError, TypeError, OSError):
        # the journal itself was cut short: nothing had been written yet
        j.unlink()
        return
    for rel in files:
        _check_journalled(rel)
    _wait_for_git(root, notes)
    _remove_temporaries(root, files)
    done = all(gitops.head_blob(root, rel) == e["new_blob"] for rel, e in files.items())
    if done:
        end(root)
        notes.append(_("an interrupted action had completed: {summary}").format(summary=data.get("summary", "")))
    else:
        roll_back(root)
        notes.append(_("rolled back an interrupted action: {summary}").format(summary=data.get("summary", "")))
