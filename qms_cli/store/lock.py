"""Serialising writers and surviving a crash.

Every write holds the store's lock (`.qms/lock`, a cross-platform file lock). Before
touching a record file, the writer leaves a journal (`.qms/journal.json`) with each file's
previous content and the blob id of its new content; after the commit the journal goes.
The next writer that finds a journal finishes the story: if HEAD holds the new content
the action completed; otherwise the files are put back as they were."""

from __future__ import annotations

import base64
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import Busy
from . import git as gitops
from .yamlio import atomic_write

STATE_DIR = ".qms"
LOCK_WAIT_SECONDS = float(os.environ.get("QMS_LOCK_TIMEOUT", "60"))


def state_dir(root: Path) -> Path:
    d = root / STATE_DIR
    if not d.is_dir():
        d.mkdir(exist_ok=True)
        # ignored by git without touching the store's own .gitignore
        (d / ".gitignore").write_text("*\n", encoding="utf-8")
    return d


@contextmanager
def store_lock(root: Path) -> Iterator[list[str]]:
    """Hold the lock; yields a list that receives notes about recovered actions."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(state_dir(root) / "lock"), timeout=LOCK_WAIT_SECONDS)
    try:
        lock.acquire()
    except Timeout:
        raise Busy(
            f"another qms process has been changing this store for {LOCK_WAIT_SECONDS:.0f} s; "
            f"try again (the lock is {STATE_DIR}/lock)"
        ) from None
    try:
        notes: list[str] = []
        recover(root, notes)
        yield notes
    finally:
        lock.release()


def _journal(root: Path) -> Path:
    return root / STATE_DIR / "journal.json"


def begin(root: Path, changes: dict[str, bytes], summary: str) -> None:
    entries = {}
    for rel, new in changes.items():
        path = root / rel
        old = path.read_bytes() if path.exists() else None
        entries[rel] = {
            "old": base64.b64encode(old).decode() if old is not None else None,
            "new_blob": gitops.blob_id(new),
        }
    atomic_write(_journal(root), json.dumps({"summary": summary, "files": entries}))


def end(root: Path) -> None:
    j = _journal(root)
    if j.exists():
        j.unlink()


def roll_back(root: Path) -> None:
    """Put every file of the journal back as it was before the action."""
    data = json.loads(_journal(root).read_text(encoding="utf-8"))
    for rel, entry in data["files"].items():
        path = root / rel
        if entry["old"] is None:
            if path.exists():
                path.unlink()
        else:
            atomic_write(path, base64.b64decode(entry["old"]))
    gitops.unstage(root, list(data["files"]))
    end(root)


def _wait_for_git(root: Path, notes: list[str]) -> None:
    """A qms killed during its commit may leave its git still finishing (it removes its
    index.lock when done); a git killed itself leaves index.lock for ever."""
    import time

    lock = root / ".git" / "index.lock"
    deadline = time.monotonic() + 10
    while lock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    if lock.exists():
        raise Busy(
            f"{lock} is still there after an interrupted qms action: if no git command is "
            f"running on this store, delete that file and run qms again"
        )


def _remove_temporaries(root: Path, files: dict) -> None:
    for rel in files:
        path = root / rel
        for tmp in path.parent.glob(f".{path.name}.*.tmp"):
            tmp.unlink(missing_ok=True)


def recover(root: Path, notes: list[str]) -> None:
    j = _journal(root)
    for tmp in (root / STATE_DIR).glob(".journal.json.*.tmp"):
        tmp.unlink(missing_ok=True)
    if not j.exists():
        return
    try:
        data = json.loads(j.read_text(encoding="utf-8"))
        files = data["files"]
    except (ValueError, KeyError, OSError):
        # the journal itself was cut short: nothing had been written yet
        j.unlink()
        return
    _wait_for_git(root, notes)
    _remove_temporaries(root, files)
    done = all(gitops.head_blob(root, rel) == e["new_blob"] for rel, e in files.items())
    if done:
        end(root)
        notes.append(f"an interrupted action had completed: {data.get('summary', '')}")
    else:
        roll_back(root)
        notes.append(f"rolled back an interrupted action: {data.get('summary', '')}")
