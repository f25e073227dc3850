"""Robustness (issue 5): many writers at once, writers killed halfway, hostile files and
hostile command-line values, and the hand edits people make.

The contract under test is CLI.md's: exit 0 done, 1 refused or findings, 2 bad input, and
never 3 (an internal error is a bug) nor a traceback; whatever is refused or rejected
leaves the store as it was; every action is one commit; a write interrupted at any moment
is finished or undone by the next write (STYLE.md "Git through GitPython, carefully").

Bounded for CI (about 90 s on two cores): 16 processes at once, 104 writes each given a
SIGKILL at a seeded random moment, and GENERATED_CASES (2,020) generated cases, the same
on every run (`derandomize=True`; a failure is shown as found, or shrunk to its smallest
form with QMS_FUZZ_SHRINK=1)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from conftest import QE, RECEIVED, git, identity_env, sets
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from qms_cli.engine.assign import split_assignment
from qms_cli.text import visible

ID = "CMP-2026-0001"
REL = f"records/complaint/{ID}.yaml"
ACK = [
    "contact.at=2026-03-06T10:40",
    "contact.by=李雷",
    "contact.summary=已电话联系孙工",
    "interim_countermeasure=客户处在库品全检",
]

# A complaint in state 'received' as a person or qms writes it (STYLE.md habit 5).
VALID = """\
id: CMP-2026-0001
type: complaint
state: received
customer:
  name: 上汽大众汽车有限公司
  contact_person: 孙工
product:
  part_number: 5QD 611 701 B
batch: B1
channel: phone
received_at: 2026-03-06T10:00:00+08:00
original: oral
description: 接头渗油
class: general
investigation:
  departments:
    - 质控部
disposition: [rework]
"""


# ------------------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def _in_process_runs_fast(monkeypatch):
    """Thousands of generated cases run the CLI in-process; two costs there are the same
    in every call and have nothing to do with what is tested, so they are paid once:
    typer's runner rebuilding the click command from the app (about 10 ms), and reading
    the built-in record type declarations that ship with the package (about 12 ms; keyed
    by file and modification time, handed out as copies). Child processes pay both."""
    import copy

    import typer.main
    import typer.testing

    from qms_cli.cli import app
    from qms_cli.files import yamlio

    if hasattr(typer.testing, "_get_command"):
        built = typer.main.get_command(app)
        monkeypatch.setattr(
            typer.testing,
            "_get_command",
            lambda a: built if a is app else typer.main.get_command(a),
        )
    package = Path(yamlio.__file__).resolve().parent.parent
    read = yamlio.load_declaration
    seen: dict = {}

    def load_declaration(path, source, root=None):
        p = Path(path).resolve()
        if package not in p.parents:
            return read(path, source, root=root)
        key = (p, p.stat().st_mtime_ns)
        if key not in seen:
            seen[key] = read(path, source, root=root)
        return copy.deepcopy(seen[key])

    monkeypatch.setattr(yamlio, "load_declaration", load_declaration)


def head(root: Path) -> str:
    """HEAD's commit id, read from .git without starting git (fast enough to check after
    every one of thousands of commands)."""
    gitdir = root / ".git"
    ref = (gitdir / "HEAD").read_text().strip()
    if not ref.startswith("ref: "):
        return ref
    loose = gitdir / ref[5:]
    if loose.is_file():
        return loose.read_text().strip()
    return git(root, "rev-parse", "HEAD").strip()


def record_bytes(root: Path) -> dict[str, bytes]:
    out = {}
    base = root / "records"
    if base.is_dir():
        for p in sorted(base.rglob("*")):
            if p.is_file():
                out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out


def snapshot(root: Path):
    """What a refused or rejected command must leave as it was: HEAD, the index, every
    file under records/, and no journal of an unfinished action."""
    index = root / ".git" / "index"
    return (
        head(root),
        index.read_bytes() if index.exists() else None,
        record_bytes(root),
        (root / ".qms" / "journal.json").exists(),
    )


def describe(args, r) -> str:
    shown = [a if len(a) < 200 else a[:200] + f"...({len(a)} chars)" for a in args]
    return f"qms {shown!r}\nexit {r.code}\nstdout: {r.out[:2000]}\nstderr: {r.err[:2000]}"


def contract(args, r) -> None:
    """Exit 0, 1 or 2; never 3 nor a traceback (the `qms` fixture already raises on one)."""
    assert r.code in (0, 1, 2), describe(args, r)
    assert "Traceback" not in r.text and "internal error" not in r.err, describe(args, r)


def blob(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def head_tree(root: Path, under: str = "records") -> dict[str, str]:
    """path -> blob id of every file under `under` in HEAD."""
    out = {}
    for line in git(root, "ls-tree", "-r", "HEAD", "--", under).splitlines():
        meta, path = line.split("\t", 1)
        out[path] = meta.split()[2]
    return out


def worktree_matches_head(root: Path) -> list[str]:
    """The record files whose working copy differs from HEAD (or exists on one side only)."""
    tree = head_tree(root)
    files = {rel: blob(data) for rel, data in record_bytes(root).items()}
    return sorted(rel for rel in set(tree) | set(files) if tree.get(rel) != files.get(rel))


def parse_record(data: bytes):
    y = YAML(typ="safe", pure=True)
    return y.load(data.decode("utf-8"))


def commit_by_hand(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


@pytest.fixture
def seeded(store, qms) -> Path:
    """The store holding VALID as CMP-2026-0001, committed by hand; clean."""
    path = store / REL
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(VALID, encoding="utf-8")
    commit_by_hand(store, "hand-written CMP-2026-0001")
    r = qms("validate")
    assert r.code == 0, r.text
    return store


class Restore:
    """Puts the seeded store back between generated cases (a case may commit)."""

    def __init__(self, root: Path):
        self.root = root
        self.base = head(root)
        self.files = record_bytes(root)

    def __call__(self) -> None:
        if head(self.root) != self.base:
            git(self.root, "reset", "-q", "--hard", self.base)
        current = record_bytes(self.root)
        for rel in set(current) - set(self.files):
            (self.root / rel).unlink()
        for rel, data in self.files.items():
            if current.get(rel) != data:
                (self.root / rel).write_bytes(data)


# Generated cases per test; GENERATED_CASES is their sum (at least 2,000).
CASES = {
    "hostile_record_files": 180,
    "hostile_values": 470,
    "hostile_ids": 1250,
    "hand_edits": 120,
    "control_characters": 60,
    "shown_escaped": 40,
    "spreadsheet_values": 40,
    "template_escapes": 120,
}
GENERATED_CASES = sum(CASES.values())


def fuzz(name: str):
    """Deterministic and bounded: the same cases on every run, and no shrinking of a
    failure unless QMS_FUZZ_SHRINK=1 asks for the smallest example (it can take minutes)."""
    phases = [Phase.explicit, Phase.generate]
    if os.environ.get("QMS_FUZZ_SHRINK"):
        phases.append(Phase.shrink)
    return settings(
        max_examples=CASES[name],
        deadline=None,
        derandomize=True,
        database=None,
        phases=phases,
        report_multiple_bugs=False,
        print_blob=False,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
            HealthCheck.filter_too_much,
        ],
    )


# ===================================================================== 1. concurrency

WORKER = r"""
import json, subprocess, sys
store, ack = sys.argv[1], json.loads(sys.argv[2])
received = json.loads(sys.argv[3])
base = [sys.executable, "-m", "qms_cli", "-C", store, "complaint"]
new = subprocess.run(base + ["new", *received], capture_output=True, text=True)
out = {"new": [new.returncode, new.stdout, new.stderr]}
if new.returncode == 0:
    rid = new.stdout.strip()
    move = subprocess.run(base + ["move", rid, "acknowledged", *ack], capture_output=True,
                          text=True)
    out["move"] = [move.returncode, move.stdout, move.stderr]
print(json.dumps(out))
"""


def test_sixteen_processes_create_and_move_complaints_at_once(store, qms):
    n = 16
    env = dict(os.environ, **identity_env(QE))
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                str(store),
                json.dumps(sets(*ACK)),
                json.dumps(sets(*RECEIVED, f"batch=W{i:02d}")),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=store,
        )
        for i in range(n)
    ]
    results = []
    for p in procs:
        out, errtext = p.communicate(timeout=300)
        assert p.returncode == 0, errtext
        results.append(json.loads(out))
    failed = [r for r in results if r["new"][0] != 0 or r.get("move", [1])[0] != 0]
    assert not failed, json.dumps(failed, ensure_ascii=False, indent=1)
    for r in results:
        assert r["new"][2] == "" and r["move"][2] == "", r  # nothing to recover, no warnings
    ids = [r["new"][1].strip() for r in results]
    assert len(set(ids)) == n, ids
    assert sorted(ids) == [f"CMP-2026-{i:04d}" for i in range(1, n + 1)]

    # every action exactly one commit, each touching the one record it names
    log = git(store, "log", "--format=%x1e%H%x1f%P%x1f%s", "--name-only", "HEAD").split("\x1e")[1:]
    assert len(log) == 1 + 2 * n, len(log)
    actions: dict[str, list[str]] = {}
    for entry in log[:-1]:  # the last is the store's first commit
        header, *files = [ln for ln in entry.splitlines() if ln.strip()]
        sha, parents, subject = header.split("\x1f")
        assert len(parents.split()) == 1, f"{sha}: a merge commit"
        m = re.fullmatch(
            r"complaint (CMP-2026-\d{4}): (new \(received\)|received -> acknowledged)", subject
        )
        assert m, subject
        assert files == [f"records/complaint/{m.group(1)}.yaml"], (subject, files)
        actions.setdefault(m.group(1), []).append(m.group(2))
    assert sorted(actions) == sorted(ids)
    for rid, steps in actions.items():
        assert steps == ["received -> acknowledged", "new (received)"], (rid, steps)  # newest first

    batches = set()
    for rid in ids:
        data = parse_record((store / f"records/complaint/{rid}.yaml").read_bytes())
        assert data["state"] == "acknowledged" and data["id"] == rid
        batches.add(data["batch"])
    assert batches == {f"W{i:02d}" for i in range(n)}  # no worker's record got another's fields

    fsck = subprocess.run(
        ["git", "fsck", "--strict"], cwd=store, capture_output=True, text=True, check=False
    )
    assert fsck.returncode == 0 and "error" not in fsck.stderr, fsck.stdout + fsck.stderr
    assert git(store, "status", "--porcelain", "--untracked-files=all") == ""
    r = qms("validate")
    assert r.code == 0, r.text
    assert f"{n} records, 0 finding(s)" in r.err
    r = qms("audit")
    assert r.code == 0, r.text


# ===================================================================== 2. crash safety

NOTES = ("rolled back an interrupted action", "an interrupted action had completed")
KILLED_WRITES, SPAWNED_WRITES, PER_BATCH, DELAY = 104, 4, 4, 2.0


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group is still running (zombies do not count)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def wait_for_group(pgid: int, timeout: float = 30) -> None:
    """Wait until the git processes a killed qms had started have ended by themselves."""
    end = time.monotonic() + timeout
    while _group_alive(pgid):
        assert time.monotonic() < end, f"processes of group {pgid} still running after {timeout} s"
        time.sleep(0.01)


def start_qms(root: Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ, **identity_env(QE))
    return subprocess.Popen(
        [sys.executable, "-m", "qms_cli", "-C", str(root), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=root,
        start_new_session=True,  # its own process group: we can tell when its git children end
    )


def only_notes(err: str) -> list[str]:
    """The recovery notes in `err`; anything else there is a failure."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    others = [ln for ln in lines if not any(n in ln for n in NOTES)]
    assert not others, err
    return lines


def no_tmp_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in (root / "records").rglob("*.tmp"))


# A qms ready to run: the launcher imports what a write needs once, then forks one child
# per command, which runs the CLI's main() in a process group of its own and is killed
# like any qms process. So the delays land in the write itself (lock, journal, file, git
# add, git commit) instead of in Python's start-up, and a hundred writes take seconds.
LAUNCHER = r"""
import contextlib, io, json, os, signal, sys
import filelock, git, ruamel.yaml
import qms_cli.cli, qms_cli.store, qms_cli.store.git, qms_cli.store.lock, qms_cli.files.yamlio
store = sys.argv[1]
for warm in (["validate"], ["complaint", "show", "CMP-2026-0001"], ["complaint", "list"],
             ["complaint", "set", "CMP-2026-0001", "no_such_field=1"]):
    try:  # runs that change nothing but import and load what a write will use
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            qms_cli.cli.app(["-C", store, *warm], standalone_mode=False)
    except BaseException:
        pass
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the children are reaped without us
for line in sys.stdin:
    argv, out = json.loads(line)
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # qms waits for its git children
        os.setsid()
        os.dup2(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), 1)
        os.dup2(os.open(out + ".err", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), 2)
        sys.argv = ["qms", *argv]
        code = 0
        try:
            qms_cli.cli.main()
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        sys.stdout.flush()
        sys.stderr.flush()
        with open(out + ".exit.tmp", "w") as f:  # renamed into place: a kill leaves no half-written code
            f.write(str(code))
        os.replace(out + ".exit.tmp", out + ".exit")
        os._exit(code)
    print(pid, flush=True)
"""


class Launcher:
    def __init__(self, root: Path, logs: Path):
        self.root, self.logs, self.n = root, logs, 0
        logs.mkdir(exist_ok=True)
        env = dict(os.environ, **identity_env(QE))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=root,
        )

    def start(self, *args: str) -> Forked:
        self.n += 1
        out = self.logs / f"{self.n}.out"
        self.proc.stdin.write(json.dumps([["-C", str(self.root), *args], str(out)]) + "\n")
        self.proc.stdin.flush()
        return Forked(int(self.proc.stdout.readline()), out)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


class Forked:
    def __init__(self, pid: int, out: Path):
        self.pid, self.out = pid, out
        self.exit = Path(str(out) + ".exit")

    def finished(self) -> bool:
        return self.exit.exists()

    def kill(self) -> bool:
        """SIGKILL unless it has finished; True if it was killed."""
        if self.finished():
            return False
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            return False
        return True

    def wait(self, timeout: float = 60) -> int | None:
        """Its exit code, or None if it was killed; returns once it and its git are gone."""
        wait_for_group(self.pid, timeout)
        return int(self.exit.read_text()) if self.exit.exists() else None

    def err(self) -> str:
        err = Path(str(self.out) + ".err")
        return err.read_text(errors="replace") if err.exists() else ""


class Spawned:
    """A `python -m qms_cli` child process (start-up included), with the same face."""

    def __init__(self, root: Path, *args: str):
        self.proc = start_qms(root, *args)
        self.pid = self.proc.pid
        self._err = ""

    def finished(self) -> bool:
        return self.proc.poll() is not None

    def kill(self) -> bool:
        if self.finished():
            return False
        self.proc.kill()
        return True

    def wait(self, timeout: float = 60) -> int | None:
        _, self._err = self.proc.communicate(timeout=timeout)
        wait_for_group(self.pid, timeout)
        return None if self.proc.returncode == -signal.SIGKILL else self.proc.returncode

    def err(self) -> str:
        return self._err


def _calibrate(store: Path, start) -> tuple[float, float]:
    """How long one uncontended write takes this way, here, and how long of that its
    journal exists (from the write of the file to the commit): the delays scale with them."""
    journal = store / ".qms" / "journal.json"
    t0 = time.monotonic()
    w = start("complaint", "set", ID, "batch=calibration")
    seen = []
    while not w.finished():
        assert time.monotonic() - t0 < 60, "the calibration write did not finish"
        if journal.exists():
            seen.append(time.monotonic())
        time.sleep(0.0005)
    life = time.monotonic() - t0
    assert w.wait() == 0, w.err()
    return life, (seen[-1] - seen[0] if len(seen) > 1 else life / 5)


def _kill_batch(
    store: Path, work, rng: random.Random, life: float, window: float, in_write: float
) -> int:
    """Kill each of `work` after its own random delay; or, with `in_write`, wait until one
    of them has begun writing (its journal is there) and kill them all at a random moment
    of the first `in_write` of that write (its file and git add come first, then the
    commit). Returns how many were killed (the others had finished)."""
    killed = 0
    began = time.monotonic()
    if in_write:
        journal = store / ".qms" / "journal.json"
        while not journal.exists() and not all(w.finished() for w in work):
            assert time.monotonic() - began < 60, "no write began"
            time.sleep(0.0002)
        time.sleep(rng.uniform(0, in_write * window))
        return sum(w.kill() for w in work)
    # several at once take longer, and the later ones wait for the lock
    for w, delay in sorted(((w, rng.uniform(0, DELAY * life)) for w in work), key=lambda wd: wd[1]):
        time.sleep(max(0.0, began + delay - time.monotonic()))
        killed += w.kill()
    return killed


def test_writers_killed_at_random_moments_never_corrupt_the_store(store, qms, tmp_path):
    """SIGKILL to `qms` at seeded random moments of its writes (its git children are left
    to finish, as they are when only the qms process dies): KILLED_WRITES writes in
    batches of PER_BATCH started together, most forked from a launcher so that the kill
    lands in the write itself, some as fresh `python -m qms_cli` processes so that it may
    land in start-up too; every other forked batch is killed while one of its writes has
    its journal out. After each batch the next write succeeds; at the end the store is
    whole."""
    r = qms("complaint", "new", *sets(*RECEIVED), who=QE)
    assert r.code == 0 and r.out.strip() == ID, r.text
    launcher = Launcher(store, tmp_path / "logs")
    rng = random.Random(20260306)
    writes = killed = batch = 0
    notes: list[str] = []
    try:
        starters = [
            (lambda *a: Spawned(store, *a), SPAWNED_WRITES, False),
            (launcher.start, KILLED_WRITES - SPAWNED_WRITES, True),
        ]
        for start, count, forked in starters:
            life, window = _calibrate(store, start)
            done = 0
            while done < count:
                batch += 1
                work = []
                for k in range(PER_BATCH):
                    if rng.random() < 0.5:
                        args = ["complaint", "new", *sets(*RECEIVED, f"batch=N{batch}.{k}")]
                    else:
                        args = [
                            "complaint",
                            "set",
                            ID,
                            f"batch=S{batch}.{k}",
                            f"quantity_affected={batch * 10 + k}",
                        ]
                    work.append(start(*args))
                done += len(work)
                # forked batches: every other one is killed inside a write, alternately early
                # in it (before git commits) and anywhere in it
                in_write = 0.0 if not forked or batch % 2 else (0.4 if batch % 4 else 1.2)
                killed += _kill_batch(store, work, rng, life, window, in_write)
                for w in work:
                    if w.wait() is not None:
                        notes += only_notes(w.err())
                assert not (store / ".git" / "index.lock").exists(), "git's index.lock left behind"
                # the next write succeeds, finishing or undoing whatever was interrupted
                r = qms("complaint", "set", ID, f"batch=R{batch}", who=QE)
                assert r.code == 0, f"after batch {batch}: {r.text}"
                notes += only_notes(r.err)
                assert not (store / ".qms" / "journal.json").exists()
                assert no_tmp_files(store) == []
            writes += done
    finally:
        launcher.close()

    print(
        f"{writes} writes in {batch} batches, {killed} killed, {len(notes)} recovered: "
        f"{sum('rolled back' in n for n in notes)} rolled back, "
        f"{sum('had completed' in n for n in notes)} completed"
    )
    assert writes >= 100
    assert killed >= writes // 2, f"only {killed} of {writes} writes were killed"
    # both ways of recovering were taken (typically 5-15 and 2-7 times)
    assert (
        len(notes) >= 5
        and any("rolled back" in n for n in notes)
        and any("had completed" in n for n in notes)
    ), f"too few kills landed inside a write ({notes}): the test proved little"
    assert not list((store / ".qms").glob("*.tmp")), list((store / ".qms").iterdir())

    # the store is whole
    assert no_tmp_files(store) == []
    assert git(store, "status", "--porcelain", "--", "records") == ""
    assert worktree_matches_head(store) == []
    for rel, data in record_bytes(store).items():
        parsed = parse_record(data)
        assert isinstance(parsed, dict) and parsed["id"] == Path(rel).stem, rel
    fsck = subprocess.run(
        ["git", "fsck", "--strict"], cwd=store, capture_output=True, text=True, check=False
    )
    assert fsck.returncode == 0 and "error" not in fsck.stderr, fsck.stdout + fsck.stderr
    r = qms("validate")
    assert r.code == 0, r.text
    r = qms("audit")
    assert r.code == 0, r.text
    # every commit after the store's first is one action on one record
    log = git(store, "log", "--format=%x1e%s", "--name-only", "HEAD").split("\x1e")[1:-1]
    for entry in log:
        subject, *files = [ln for ln in entry.splitlines() if ln.strip()]
        assert len(files) == 1 and files[0].startswith("records/complaint/"), (subject, files)


SLOW_HOOK = """#!/bin/sh
touch "{marker}"
sleep {seconds}
"""


def _slow_commits(store: Path, seconds: float) -> Path:
    """A pre-commit hook that takes a while (as `pre-commit` running `qms validate` does in
    a store made by `qms init`), and tells when it has started."""
    marker = store / ".git" / "hook-started"
    hook = store / ".git" / "hooks" / "pre-commit"
    hook.write_text(SLOW_HOOK.format(marker=marker, seconds=seconds), encoding="utf-8")
    hook.chmod(0o755)
    return marker


def _kill_during_commit(store: Path, marker: Path, *, whole_group: bool) -> None:
    proc = start_qms(store, "complaint", "set", ID, "batch=KILLED")
    end = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < end, "the commit never started"
        time.sleep(0.002)
    if whole_group:
        os.killpg(proc.pid, signal.SIGKILL)
    else:
        proc.kill()
    proc.communicate(timeout=60)


def test_a_write_right_after_qms_was_killed_during_its_commit(store, qms):
    """qms is killed while its `git commit` runs (a slow pre-commit hook makes the moment
    certain); git carries on and commits. The next write comes at once, as a person
    retrying would: it must not undo what git is committing, nor fail on git's
    index.lock; afterwards HEAD and the working tree agree."""
    r = qms("complaint", "new", *sets(*RECEIVED), who=QE)
    assert r.code == 0, r.text
    marker = _slow_commits(store, 0.8)
    before = head(store)
    _kill_during_commit(store, marker, whole_group=False)
    nxt = qms("complaint", "set", ID, "batch=NEXT", who=QE)
    (store / ".git" / "hooks" / "pre-commit").unlink()
    wait_until = time.monotonic() + 30  # for the orphaned git to finish, before looking
    while (store / ".git" / "index.lock").exists() and time.monotonic() < wait_until:
        time.sleep(0.02)
    contract(["complaint", "set", ID, "batch=NEXT"], nxt)
    problems = []
    if nxt.code != 0:
        problems.append(f"the next write failed: exit {nxt.code}: {nxt.err.strip()}")
    drift = worktree_matches_head(store)
    if drift:
        diff = git(store, "diff", "HEAD", "--", "records")
        problems.append(f"HEAD and the working tree disagree on {drift}:\n{diff}")
    subjects = git(store, "log", "--format=%s", f"{before}..HEAD").splitlines()
    third = qms("complaint", "set", ID, "quantity_affected=7", who=QE)
    assert third.code == 0, third.text
    changed = git(store, "show", "--format=", "-U0", "HEAD", "--", REL)
    if re.search(r"^[-+]batch:", changed, re.MULTILINE):
        problems.append(
            "the following 'set quantity_affected' commit also changed batch:\n" + changed
        )
    assert not problems, f"commits since the kill: {subjects}\n" + "\n".join(problems)


def test_a_git_killed_with_qms_leaves_index_lock_and_the_next_write_clears_it(store, qms):
    """qms and its git are killed together (SIGKILL to the process group, as a CI job's
    timeout or `kill -9 -PGID` does) while git commits: git's own index.lock stays
    behind. qms wrote down which git it started (.qms/git.pid); that git is gone, so the
    next command removes the lock, says so, rolls the interrupted action back and does
    its own work."""
    r = qms("complaint", "new", *sets(*RECEIVED), who=QE)
    assert r.code == 0, r.text
    marker = _slow_commits(store, 30)
    committed = head(store)
    _kill_during_commit(store, marker, whole_group=True)
    (store / ".git" / "hooks" / "pre-commit").unlink()
    assert (store / ".git" / "index.lock").exists(), "premise: git's lock was left behind"
    args = ["complaint", "set", ID, "batch=AFTER"]
    r = qms(*args, who=QE)
    contract(args, r)
    assert r.code == 0, describe(args, r)
    assert "index.lock" in r.err and "rolled back" in r.err, describe(args, r)
    assert not (store / ".git" / "index.lock").exists()
    assert git(store, "rev-parse", "HEAD^").strip() == committed  # the killed set never landed
    assert "batch: AFTER" in (store / "records" / "complaint" / f"{ID}.yaml").read_text(encoding="utf-8")
    assert git(store, "status", "--porcelain", "--untracked-files=all") == ""
    assert no_tmp_files(store) == []


def test_an_index_lock_qms_did_not_leave_blocks_writes_and_is_named(store, qms):
    """An index.lock that no git of qms's left (another tool, a person's git in another
    terminal) is not qms's to remove: the write waits, then exits 1 naming the file, and
    changes nothing."""
    r = qms("complaint", "new", *sets(*RECEIVED), who=QE)
    assert r.code == 0, r.text
    lock = store / ".git" / "index.lock"
    lock.write_bytes(b"")
    before, committed = snapshot(store), head(store)
    args = ["complaint", "set", ID, "batch=AFTER"]
    r = qms(*args, who=QE)  # waits 10 s for the lock to go, then says so
    contract(args, r)
    assert r.code in (1, 2), describe(args, r)
    assert r.err.startswith("qms: ") and "index.lock" in r.err, describe(args, r)
    assert snapshot(store) == before and head(store) == committed
    assert lock.exists()  # not ours to remove


# ================================================================ 3. hostile input

# fmt: off
SPECIAL = ":{}[]&*!|>'\"%@`#,-?\t \\\n\r="
NASTY_VALUES = [
    "[1, 2]", "{a: 1}", "{a: {b: [c]}}", "null", "~", "''", '""', "true", "false", "0", "-1",
    "1e400", ".nan", "-.inf", "0x1F", "0o17", "0b101", "1_000", "123456789012345678901234567890",
    "2026-13-45", "2026-02-30T25:61:00", "0000-01-01", "9999-12-31T23:59:59+14:00",
    "2026-03-06T10:00:00+99:00", "2026-03-06 10:00", "2026-03-06", "10:00",
    "|\n  block\n  text", ">-\n  folded\n  text", "'unterminated", '"bad \\q escape"',
    '"\\x00\\u2028\\U0010FFFF"', "!!binary aGVsbG8=", "!!set {a, b}", "!!omap [a: 1]",
    "!!pairs [a: 1]", "!!int abc", "!!int ''", "!!float x", "!!bool maybe", "!!null x",
    "!!timestamp 2026-99-99", "!!timestamp x", "!!str [a]", "!!map [1]", "!!seq {a: 1}",
    "*undefined", "&a x", "@reserved", "`backtick", "%", "=", "<<: {a: 1}", "{<<: {a: 1}}",
    "!!python/object/apply:os.system ['touch PWNED']", "!!python/name:os.system",
    "!custom x", "!<tag:example.com,2000:x> y", "!!str", "- a", "? a", "[", "{", "]", "}",
    "[[[[", "a: b: c", "{a, b}", "[a: 1]", "\"multi\n  line\"", "'it''s'", "- [a, {b: c}]",
]
TAGS = [
    "!!python/object:builtins.object", "!!python/object/apply:os.system", "!!python/name:os.system",
    "!!python/module:os", "!!binary", "!!set", "!!omap", "!!pairs", "!!merge", "!!value", "!!yaml",
    "!custom", "!", "!<tag:yaml.org,2002:str>", "!<!>", "!e!x", "!!str", "!!int", "!!float",
    "!!bool", "!!null", "!!timestamp", "!!map", "!!seq",
]
KEYS_AS_YAML = [
    "? [a, b]\n: c\n", "? {a: 1}\n: x\n", "1: x\n", "null: x\n", "~: x\n", "true: x\n",
    "2026-01-01: x\n", "1.5: x\n", "'': x\n", "[a]: b\n", "{a: 1}: b\n", "? |\n  block\n: x\n",
    "-1: x\n", "0x10: x\n", ".inf: x\n", "? \n: x\n", "customer.name: x\n", "\"id\": other\n",
]
# fmt: on


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _value_lines(text: str) -> list[int]:
    return [i for i, ln in enumerate(_lines(text)) if re.match(r"^\s*[\w]+:", ln)]


def m_noise(draw, text):
    pos = draw(st.integers(0, len(text)))
    junk = draw(st.text(alphabet=SPECIAL + "ab1é中", min_size=1, max_size=8))
    return text[:pos] + junk + text[pos:]


def m_truncate(draw, text):
    return text[: draw(st.integers(0, len(text)))]


def m_delete_span(draw, text):
    a = draw(st.integers(0, len(text)))
    b = draw(st.integers(a, min(len(text), a + 40)))
    return text[:a] + text[b:]


def m_value(draw, text):
    lines = _lines(text)
    candidates = _value_lines(text)
    if not candidates:
        return text
    i = draw(st.sampled_from(candidates))
    key = lines[i].split(":", 1)[0]
    value = draw(
        st.one_of(
            st.sampled_from(NASTY_VALUES),
            st.integers().map(str),
            st.floats(allow_nan=True).map(repr),
            st.text(max_size=20).map(json.dumps),
            st.text(max_size=20).map(lambda s: json.dumps(s, ensure_ascii=False)),
            st.recursive(
                st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5)),
                lambda inner: st.one_of(
                    st.lists(inner, max_size=3),
                    st.dictionaries(st.text(max_size=4), inner, max_size=3),
                ),
                max_leaves=8,
            ).map(lambda v: json.dumps(v, ensure_ascii=False)),
        )
    )
    indent = " " * (len(key) - len(key.lstrip()) + 2)
    value = value.replace("\n", "\n" + indent)
    lines[i] = f"{key}: {value}\n"
    return "".join(lines)


def m_huge_value(draw, text):
    n = draw(st.sampled_from([5_000, 60_000, 1_100_000]))  # the last over the 1 MiB cap
    key = draw(st.sampled_from(["description", "batch", "customer", "id", "zzz"]))
    unit = draw(st.sampled_from(["x", "接", "😀", "a b ", "- "]))
    return text + f"{key}: {(unit * (n // len(unit.encode())))}\n"


def m_many_keys(draw, text):
    n = draw(st.sampled_from([100, 500]))
    if draw(st.booleans()):
        return text + "".join(f"k{i}: {i}\n" for i in range(n))
    return text + "attachments:\n" + "".join(f"  - files/{i}.pdf\n" for i in range(n))


def m_deep(draw, text):
    # around MAX_DEPTH (64), and past Python's recursion limit in the round-trip parser
    # (600; deeper only costs time: that parser takes seconds at 1,000)
    depth = draw(st.sampled_from([30, 64, 65, 66, 200, 600]))
    kind = draw(st.sampled_from(["flow-seq", "flow-map", "block-map", "block-seq"]))
    key = draw(st.sampled_from(["customer", "description", "deep"]))
    if kind == "flow-seq":
        body = "[" * depth + "]" * depth
    elif kind == "flow-map":
        body = "{a: " * depth + "x" + "}" * depth
    elif kind == "block-map":
        body = "\n" + "".join("  " * (i + 1) + "a:\n" for i in range(depth))
    else:
        body = "\n" + "".join("  " * (i + 1) + "-\n" for i in range(depth))
    return text + f"{key}: {body}\n"


def m_alias_bomb(draw, text):
    levels = draw(st.integers(1, 12))
    bomb = ['lol0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        bomb.append(f"lol{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    if draw(st.booleans()):
        bomb.append(f"description: *l{levels - 1}")
    if draw(st.booleans()):  # an alias to a mapping, merged
        bomb.append("contact: &c {by: x}\nd1: {<<: *c}")
    return text + "\n".join(bomb) + "\n"


def m_tag(draw, text):
    lines = _lines(text)
    candidates = _value_lines(text)
    if not candidates:
        return text
    i = draw(st.sampled_from(candidates))
    key, _, rest = lines[i].partition(":")
    tag = draw(st.sampled_from(TAGS))
    if draw(st.booleans()):
        lines[i] = f"{key}: {tag} {rest.strip() or 'x'}\n"
    else:
        key = draw(st.sampled_from(["batch", "zzz", "customer"]))
        lines.append(f"{key}: {tag} {draw(st.sampled_from(NASTY_VALUES[:20]))}\n")
    if draw(st.booleans()):
        lines.insert(0, "%TAG !e! tag:example.com,2000:\n---\n")
    return "".join(lines)


def m_duplicate(draw, text):
    lines = _lines(text)
    candidates = _value_lines(text)
    if not candidates:
        return text + "id: CMP-2026-0001\nid: CMP-2026-0001\n"
    i = draw(st.sampled_from(candidates))
    j = draw(st.integers(0, len(lines)))
    line = lines[i] if lines[i].endswith("\n") else lines[i] + "\n"
    if draw(st.booleans()):
        line = re.sub(r":.*", ": other", line)
    return "".join(lines[:j] + [line] + lines[j:])


def m_line_endings(draw, text):
    how = draw(st.sampled_from(["crlf", "cr", "mixed", "lsep", "nel", "ff"]))
    if how == "crlf":
        return text.replace("\n", "\r\n")
    if how == "cr":
        return text.replace("\n", "\r")
    if how == "mixed":
        lines = _lines(text)
        return "".join(
            ln.replace("\n", draw(st.sampled_from(["\n", "\r\n", "\r"]))) for ln in lines
        )
    return text.replace(
        "\n", {"lsep": "\u2028", "nel": "\x85", "ff": "\f\n"}[how], draw(st.integers(1, 5))
    )


def m_tabs(draw, text):
    how = draw(st.sampled_from(["indent", "after-colon", "trailing", "everywhere", "top"]))
    if how == "indent":
        return re.sub(r"^  ", "\t", text, count=draw(st.integers(1, 4)), flags=re.MULTILINE)
    if how == "after-colon":
        return text.replace(": ", ":\t", draw(st.integers(1, 6)))
    if how == "trailing":
        return text.replace("\n", "\t\n", draw(st.integers(1, 6)))
    if how == "top":
        return "\t" + text
    return text.replace(" ", "\t")


def m_control(draw, text):
    ch = draw(
        st.sampled_from(
            [
                chr(c)
                for c in list(range(32))
                + [
                    127,
                    0x85,
                    0xA0,
                    0x2028,
                    0x2029,
                    0xFEFF,
                    0xFFFE,
                    0xFFFF,
                    0x200B,
                    0x202E,
                    0x3000,
                    0xE000,
                    0x10FFFF,
                ]
            ]
        )
    )
    pos = draw(st.integers(0, len(text)))
    return text[:pos] + ch * draw(st.integers(1, 3)) + text[pos:]


def m_documents(draw, text):
    how = draw(
        st.sampled_from(
            ["two", "start", "end", "yaml11", "yaml12", "yaml20", "empty-doc", "only-end"]
        )
    )
    return {
        "two": text + "---\n" + text,
        "start": "---\n" + text,
        "end": text + "...\n",
        "yaml11": "%YAML 1.1\n---\n" + text,
        "yaml12": "%YAML 1.2\n---\n" + text,
        "yaml20": "%YAML 2.0\n---\n" + text,
        "empty-doc": "---\n---\n" + text,
        "only-end": "...\n",
    }[how]


def m_not_a_mapping(draw, text):
    return draw(
        st.sampled_from(
            [
                "",
                " ",
                "\n",
                "#\n",
                "~\n",
                "null\n",
                "42\n",
                "'text'\n",
                "[]\n",
                "{}\n",
                "- a\n- b\n",
                "- " + text.replace("\n", "\n  "),
                "|\n  " + text.replace("\n", "\n  "),
                "--- >\n  x\n",
            ]
        )
    )


def m_odd_keys(draw, text):
    return text + draw(st.sampled_from(KEYS_AS_YAML))


def m_envelope(draw, text):
    key = draw(st.sampled_from(["id", "type", "state", "signatures", "pins"]))
    value = draw(
        st.sampled_from(
            [
                "[]",
                "[1]",
                "{a: 1}",
                "null",
                "5",
                "true",
                "closed",
                "cancelled",
                "acknowledged",
                "''",
                "CMP-2026-0002",
                "../../x",
                "complaint",
                "document",
                "[{meaning: x}]",
                (
                    "[{meaning: acknowledged, name: 李雷, email: li.lei@example.com,"
                    " at: 2026-03-06T10:00:00+08:00, to: received}]"
                ),
                "[1, [2], {at: never}]",
                "{files/x.pdf: abc}",
                "[files/x]",
            ]
        )
    )
    lines = [ln for ln in _lines(text) if not ln.startswith(f"{key}:")]
    return "".join(lines) + f"{key}: {value}\n"


def m_unicode(draw, text):
    how = draw(
        st.sampled_from(
            ["fullwidth-colon", "fullwidth-space", "random-value", "random-key", "bidi"]
        )
    )
    if how == "fullwidth-colon":
        return text.replace(": ", "：", draw(st.integers(1, 3)))
    if how == "fullwidth-space":
        return text.replace(" ", "\u3000", draw(st.integers(1, 5)))
    if how == "bidi":
        return text.replace("general", "\u202egeneral\u202c")
    s = draw(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12))
    if how == "random-value":
        return text + f"description: {s}\n"
    return text + f"{s}: x\n"


def m_indent(draw, text):
    lines = _lines(text)
    i = draw(st.integers(0, max(0, len(lines) - 1)))
    if not lines:
        return text
    shift = draw(st.sampled_from([-2, -1, 1, 2, 3, 8]))
    ln = lines[i]
    stripped = ln.lstrip(" ")
    lines[i] = " " * max(0, len(ln) - len(stripped) + shift) + stripped
    return "".join(lines)


def m_random(draw, text):
    return draw(st.text(max_size=200))


TEXT_MUTATIONS = [
    m_noise,
    m_truncate,
    m_delete_span,
    m_value,
    m_value,
    m_huge_value,
    m_many_keys,
    m_deep,
    m_alias_bomb,
    m_tag,
    m_tag,
    m_duplicate,
    m_line_endings,
    m_tabs,
    m_control,
    m_documents,
    m_not_a_mapping,
    m_odd_keys,
    m_envelope,
    m_envelope,
    m_unicode,
    m_indent,
    m_random,
]


def b_invalid_utf8(draw, data):
    pos = draw(st.integers(0, len(data)))
    junk = draw(
        st.sampled_from(
            [
                b"\x80",
                b"\xff",
                b"\xc3",
                b"\xe6\x8e",
                b"\xed\xa0\x80",
                b"\xf4\x90\x80\x80",
                b"\xc0\xaf",
                b"\xfe\xff",
            ]
        )
    )
    return data[:pos] + junk + data[pos:]


def b_encoding(draw, data):
    text = data.decode("utf-8", errors="replace")
    enc = draw(
        st.sampled_from(
            ["gbk", "gb18030", "utf-16", "utf-16-le", "utf-32", "big5", "shift_jis", "latin-1"]
        )
    )
    return text.encode(enc, errors="replace")


def b_bom(draw, data):
    bom = draw(
        st.sampled_from(
            [
                b"\xef\xbb\xbf",
                b"\xef\xbb\xbf\xef\xbb\xbf",
                b"\xff\xfe",
                b"\xfe\xff",
                b"\xff\xfe\x00\x00",
            ]
        )
    )
    if draw(st.booleans()):
        return bom + data
    pos = draw(st.integers(0, len(data)))
    return data[:pos] + bom + data[pos:]


def b_nul(draw, data):
    pos = draw(st.integers(0, len(data)))
    return data[:pos] + b"\x00" * draw(st.integers(1, 4)) + data[pos:]


BYTE_MUTATIONS = [b_invalid_utf8, b_encoding, b_bom, b_nul]


@st.composite
def hostile_records(draw) -> bytes:
    text = VALID
    for _ in range(draw(st.integers(1, 3))):
        text = draw(st.sampled_from(TEXT_MUTATIONS))(draw, text)
    data = text.encode("utf-8", errors="surrogatepass")
    if draw(st.integers(0, 3)) == 0:
        data = draw(st.sampled_from(BYTE_MUTATIONS))(draw, data)
    return data


RECORD_COMMANDS = [
    ["validate"],
    ["complaint", "show", ID],
    ["complaint", "show", ID, "--json"],
    ["complaint", "set", ID, "batch=X"],
    ["complaint", "move", ID, "acknowledged", *sets(*ACK)],
    ["log", ID],
    ["render", ID],
    ["complaint", "list", "--json"],
]
WRITES = ("set", "move")


# the warnings Python does not show outside tests unless asked to
QUIET_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


def run_checked(qms, root: Path, args: list[str], **kw):
    """Run one command and hold it to the contract; a refusal leaves the store as it was,
    a read never changes it, a successful write is one commit of one file."""
    before = snapshot(root)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = qms(*args, who=QE, **kw)
    contract(args, r)
    # what Python prints on stderr for a warning: a source path and a line of library code
    shown = [w for w in caught if not issubclass(w.category, QUIET_WARNINGS)]
    assert not shown, (
        f"a Python warning reaches the user: {shown[0].category.__name__}: "
        f"{str(shown[0].message).strip()[:300]}\n" + describe(args, r)
    )
    after = snapshot(root)
    is_write = len(args) > 1 and args[1] in (*WRITES, "new")
    if r.code != 0 or not is_write:
        assert after == before, "the store changed: " + describe(args, r)
    else:
        assert after[0] != before[0] or after[2] == before[2], describe(args, r)
        assert not after[3], "a journal was left: " + describe(args, r)
    if r.code != 0 and args != ["validate"]:
        # one of ours, or the argument parser's usage error (typer's convention)
        assert r.err.startswith(("qms: ", "Usage: ")), describe(args, r)
    return r


def check_record_file(seeded: Path, qms, content: bytes) -> None:
    """`content` in records/complaint/CMP-2026-0001.yaml, not committed (as a person leaves
    a file they are editing): every command of RECORD_COMMANDS keeps the contract."""
    restore = Restore(seeded)
    try:
        (seeded / REL).write_bytes(content)
        for args in RECORD_COMMANDS:
            r = run_checked(qms, seeded, args)
            if args == ["validate"]:
                # one line per finding or warning, each naming the file (CLI.md)
                found = [ln for ln in r.out.splitlines() if ln.strip()]
                assert all(ln.startswith(REL) for ln in found), describe(args, r)
                assert found or r.code == 0, describe(args, r)
            elif r.code == 2 and args[0] != "validate":
                assert ID in r.err, "names neither the record nor its file: " + describe(args, r)
            elif r.code == 0 and args[1:2] == ["set"]:
                # what qms wrote reads back, and it is exactly what it committed
                assert worktree_matches_head(seeded) == [], describe(args, r)
                assert parse_record((seeded / REL).read_bytes())["batch"] == "X"
        assert not (seeded / "PWNED").exists()
    finally:
        restore()


@fuzz("hostile_record_files")
@given(content=hostile_records())
def test_hostile_record_files(seeded, qms, content):
    """Malformed and hostile record files: broken syntax, wrong types, huge strings, deep
    nesting, alias bombs, unknown tags, duplicate keys, bytes that are not UTF-8, BOMs,
    CRLF and lone CR, tabs, control characters, several documents, odd keys."""
    check_record_file(seeded, qms, content)


# The same, for files worth naming one by one (each found or feared by the generator above).
SIG = (
    "\nsignatures:\n  - {meaning: acknowledged, name: 李雷, email: li.lei@example.com, to: received"
)
HOSTILE_FILES = {
    "signatures: a number": VALID + "signatures: 5\n",
    "signatures: true": VALID + "signatures: true\n",
    "signatures: a mapping": VALID + "signatures: {a: 1}\n",
    "signatures: a list of numbers": VALID + "signatures: [1, [2]]\n",
    "a signature without a time": VALID + "signatures: [{meaning: x}]\n",
    "a signature whose time is text": VALID.rstrip("\n") + SIG + ", at: never}\n",
    "a signature whose time is a date": VALID.rstrip("\n") + SIG + ", at: 2026-03-06}\n",
    "!!bool on text": VALID.replace("class: general", "class: !!bool general"),
    "!!bool on an empty string": VALID + "customer_confirmation: !!bool ''\n",
    "!!bool 0": VALID + "major_quality_problem: !!bool 0\n",
    "!!float on text": VALID.replace("channel: phone", "channel: !!float phone"),
    "!!int on text": VALID + "quantity_affected: !!int abc\n",
    "!!timestamp on text": VALID + "received_at: !!timestamp x\n",
    "!!binary": VALID + "batch: !!binary aGVsbG8=\n",
    "!!python/object/apply": VALID + "batch: !!python/object/apply:os.system ['touch PWNED']\n",
    "state: a list": VALID.replace("state: received", "state: []"),
    "state: a mapping": VALID.replace("state: received", "state: {a: 1}"),
    "id: a list": VALID.replace("id: CMP-2026-0001", "id: [CMP-2026-0001]"),
    "id: a number": VALID.replace("id: CMP-2026-0001", "id: 5"),
    "type: another": VALID.replace("type: complaint", "type: document"),
    "a key with a line break": VALID + "? |\n  two\n  lines\n: x\n",
    "a number as key": VALID + "1: x\n",
    "a list as key": VALID + "? [a, b]\n: c\n",
    "a merge key": VALID + "contact: {<<: {by: x}}\n",
    "duplicate anchors": VALID + "a: &x 1\nb: &x 2\n",
    "an alias bomb": VALID + 'l0: &l0 ["lol", "lol"]\nl1: &l1 [*l0, *l0]\nl2: &l2 [*l1, *l1]\n',
    "nested 600 deep": VALID + "deep: " + "[" * 600 + "]" * 600 + "\n",
    "just over 1 MiB": VALID + "description: " + "x" * (1 << 20) + "\n",
    "YAML 2.0": "%YAML 2.0\n---\n" + VALID,
    "two documents": VALID + "---\n" + VALID,
    "only a document marker": "---\n",
    "a BOM inside": VALID.replace("batch:", "\ufeffbatch:"),
    "a NUL byte": VALID.replace("B1", "B\x001"),
    "a lone surrogate (not UTF-8)": VALID.replace("B1", "B\ud8001"),
    "GBK": VALID.encode("gbk").decode("latin-1"),
    "UTF-16 with its BOM": VALID.encode("utf-16").decode("latin-1"),
    "a line separator": VALID.replace("B1", "B\u20281"),
}


@pytest.mark.parametrize("name", list(HOSTILE_FILES))
def test_hostile_record_file_examples(seeded, qms, name):
    text = HOSTILE_FILES[name]
    if name in ("GBK", "UTF-16 with its BOM"):
        content = text.encode("latin-1")
    else:
        content = text.encode("utf-8", errors="surrogatepass")
    check_record_file(seeded, qms, content)


# --------------------------------------------------------------- hostile command-line values

# What a command line can carry: any text but NUL; bytes that are not UTF-8 reach Python as
# surrogate escapes (a GBK terminal typing 客诉 sends b'\xbf\xcd\xcb\xdf').
ARGV_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
NOT_UTF8 = [
    b.decode("utf-8", "surrogateescape") for b in (b"\xbf\xcd\xcb\xdf", b"\xff", b"CMP\xe6")
]


def argv_text(max_size: int, **kw):
    return st.text(ARGV_CHARS, max_size=max_size, **kw)


# fmt: off
KNOWN_PATHS = [
    "batch", "customer.name", "customer", "quantity_affected", "class", "received_at",
    "investigation.departments", "investigation.departments.0", "disposition", "disposition.0",
    "attachments", "d4.root_cause", "contact.at", "original_file", "major_quality_problem",
    "report.file", "closure_plan.due", "description", "id", "state", "signatures.0.email",
    "pins", "customer_confirmation.result",
]
# fmt: on
# fmt: off
HOSTILE_STRINGS = [
    "", " ", "=", "==", "a=b=c", "../", "../../etc/passwd", "/etc/passwd", "files/../../x",
    "files/../qms.yaml", "C:\\Windows\\win.ini", "\\\\server\\share", "~", "null", "~/x",
    "{a: 1}", "[1, 2]", "!!python/object/apply:os.system ['touch PWNED']", "*alias", "&a x",
    "'", '"', "\n", "\r\n", "\r", "\x1b[31mred", "\u2028", "\u202e", "\ufeff",
    "\x85", " leading", "trailing ", "\ttab", "#comment", "key: value", "- item", "| block",
    "> folded", "%YAML", "@", "`", "---", "...", "2026-13-45", "2026-03-06T10:00+99:00",
    "99999999999999999999999", "-1", "1e400", "nan", "yes", "是", "general　", "ｇｅｎｅｒａｌ",
    "General", "rework,burn", ",", ",,,", "rework,,scrap", "{{ 7*7 }}", "{% raw %}",
    "$(touch PWNED)", "; touch PWNED", "|| true", "\\", "\\n", "0", "-", "+",
    "\x01", "\x7f", *NOT_UTF8,
]
# fmt: on


ARG_MAX_STRLEN = 131_072  # the most bytes one command-line argument can hold (Linux)


def _long(unit_and_size):
    unit, size = unit_and_size
    return unit * (size // len(unit.encode()))


hostile_text = st.one_of(
    st.sampled_from(HOSTILE_STRINGS),
    argv_text(40),
    st.text(
        st.characters(
            blacklist_categories=("Cs",), blacklist_characters="\x00", max_codepoint=0x9F
        ),
        max_size=20,
    ),
    st.tuples(
        st.sampled_from(["x", "接", "😀", "a=", "../", "\n", " "]),
        st.sampled_from([100, 4_097, 70_000, ARG_MAX_STRLEN - 100]),
    ).map(_long),
    st.tuples(st.sampled_from(HOSTILE_STRINGS), argv_text(10)).map("".join),
)
hostile_paths = st.one_of(
    st.sampled_from(KNOWN_PATHS),
    st.sampled_from(KNOWN_PATHS).flatmap(
        lambda p: st.sampled_from(
            [
                p + ".",
                "." + p,
                p + "..x",
                p + "\n",
                p + " ",
                " " + p,
                p + ".0",
                p + ".99999999999999999999",
                p + ".-1",
                p.upper(),
                p + ".٣",
                p + "\x01",
                "../" + p,
                p + "/x",
                p + "[0]",
            ]
        )
    ),
    hostile_text,
)


@st.composite
def assignments(draw):
    path = draw(hostile_paths)
    value = draw(hostile_text)
    op = draw(st.sampled_from(["=", "+=", "=", "="]))
    return f"{path}{op}{value}", path, op, value


TEXT_FIELDS = {"batch", "customer.name", "description", "d4.root_cause"}


@fuzz("hostile_values")
@given(
    verb=st.sampled_from(["set", "set", "new", "move"]),
    assignment=assignments(),
    extra=st.booleans(),
)
def test_hostile_set_values(seeded, qms, verb, assignment, extra):
    """`--set` paths and values with unicode, control characters, '../', '=' signs and
    very long strings: each is either taken exactly or refused; nothing is half-written."""
    item, path, op, value = assignment
    restore = Restore(seeded)
    try:
        more = ["batch=B2"] if extra else []
        if verb == "set":
            args = ["complaint", "set", ID, *more, item]
        elif verb == "new":
            args = ["complaint", "new", *sets(*RECEIVED, *more, item)]
        else:
            args = ["complaint", "move", ID, "acknowledged", *sets(*ACK, *more, item)]
        r = run_checked(qms, seeded, args)
        if r.code == 2 and "Usage: " not in r.err:
            # CLI.md: the error names the field (here, the one assignment that can be wrong)
            field = split_assignment(item)[0].removesuffix("+").strip()  # as qms splits it (at = or ＝)
            shown = field.encode("utf-8", "backslashreplace").decode()  # as stderr shows it
            try:  # or as the bytes the terminal sent
                sent = field.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            except UnicodeEncodeError:
                sent = shown
            # control characters shown escaped
            escaped = {visible(t, one_line=o) for t in (field, shown, sent) for o in (False, True)}
            assert field in r.err or shown in r.err or sent in r.err or any(e in r.err for e in escaped), (
                "names no field: " + describe(args, r))
        if r.code == 0:
            rid = r.out.strip() if verb == "new" else ID
            rel = f"records/complaint/{rid}.yaml"
            assert worktree_matches_head(seeded) == [], describe(args, r)
            data = parse_record((seeded / rel).read_bytes())
            if op == "=" and path in TEXT_FIELDS:
                stored = data
                for part in path.split("."):
                    stored = stored[part]
                assert stored == value, f"stored {stored!r}, given {value!r}: " + describe(args, r)
            # what qms committed, qms reads back
            v = qms("validate")
            assert v.code == 0, "after " + describe(args, r) + "\nvalidate: " + v.text
            s = qms("complaint", "show", rid, "--json")
            assert s.code == 0, "after " + describe(args, r) + "\nshow: " + s.text
        assert not (seeded / "PWNED").exists()
    finally:
        restore()


def test_long_values_never_make_a_record_qms_cannot_read(seeded, qms):
    """Nine values of 120,000 characters in one `set` (each fits in a command-line
    argument; together they pass the 1 MiB a record file may have): qms either refuses,
    or writes a record it can still read, validate and edit."""
    fields = [
        "batch",
        "description",
        "translation",
        "clarification",
        "interim_countermeasure",
        "customer.address",
        "product.name",
        "d4.root_cause",
        "d5.corrective_action",
    ]
    args = ["complaint", "set", ID, *[f"{f}={'x' * 120_000}" for f in fields]]
    r = run_checked(qms, seeded, args)
    if r.code != 0:
        assert r.code == 2 and ID in r.err, describe(args, r)
        return
    size = (seeded / REL).stat().st_size
    problems = []
    for follow in (["complaint", "show", ID], ["validate"], ["complaint", "set", ID, "batch=B2"]):
        f = qms(*follow, who=QE)
        contract(follow, f)
        if f.code != 0:
            problems.append(f"qms {' '.join(follow)} -> exit {f.code}: {f.text.strip()[:300]}")
    assert not problems, f"set wrote a {size:,}-byte record (exit 0), then:\n" + "\n".join(problems)


# ---------------------------------------------------------------------------- hostile IDs

# fmt: off
hostile_ids = st.one_of(
    st.sampled_from([
        "", " ", ".", "..", "../x", "../../etc/passwd", "/etc/passwd", "/", "//", "a/b", "a\\b",
        "C:\\x", "C:", "~", "~/x", f"{ID}/../{ID}", f"./{ID}", f"{ID}/", f"{ID}.yaml", f"{ID}\n",
        f"{ID}\x01", f" {ID}", f"{ID} ", ID.lower(), "ＣＭＰ-2026-0001", "CMP-2026-０００１",
        f"records/complaint/{ID}", f"records/complaint/{ID}.yaml", f"complaint/{ID}", "records",
        "qms", "qms.yaml", ".git", ".qms", ".qms/lock", "-", "--", "-x", "--json", "*", "?",
        "CMP-2026-*", "CON", "NUL", "A" * 79, "A" * 80, "A" * 81, "A" * 5_000, "é", "客诉",
        "\u202eCMP", "CMP\u2028", "%2e%2e%2f", "..%2f", "\t", "CMP-2026-0002", *NOT_UTF8,
    ]),
    argv_text(30),
    st.tuples(st.sampled_from(["", "../", "/", "./", "~/", "C:\\", "records/", "\\\\?\\"]),
              argv_text(15)).map("".join),
)
# fmt: on
ID_COMMANDS = [
    lambda i: ["complaint", "show", i],
    lambda i: ["complaint", "set", i, "batch=X"],
    lambda i: ["complaint", "move", i, "acknowledged", *sets(*ACK)],
    lambda i: ["log", i],
    lambda i: ["render", i],
    lambda i: ["validate", i],
    lambda i: ["complaint", "show", "--json", "--", i],
    lambda i: ["complaint", "set", "--", i, "batch=X"],
]


@fuzz("hostile_ids")
@given(rid=hostile_ids, command=st.sampled_from(ID_COMMANDS))
def test_hostile_ids(seeded, qms, rid, command):
    """Path-like, absolute, empty, unicode and very long IDs: bad input (exit 2), naming
    nothing outside the store and changing nothing."""
    restore = Restore(seeded)
    try:
        args = command(rid)
        before = snapshot(seeded)
        r = run_checked(qms, seeded, args)
        if rid != ID:
            assert snapshot(seeded) == before, "the store changed: " + describe(args, r)
            if args[0] == "validate":
                pass  # a path to the records or a folder above them is a fine target
            elif rid.startswith("-") and "--" not in args:
                assert r.code in (0, 2), describe(args, r)  # read as an option (or --help)
            else:
                assert r.code == 2, describe(args, r)
        assert not (seeded / "PWNED").exists()
    finally:
        restore()


# ======================================================================= 4. hand edits

COMMENTED = """\
# 客诉 from 上汽大众 — entered by hand
id: CMP-2026-0001
type: complaint
state: received
customer:
  name: 上汽大众汽车有限公司  # 顾客名称 as on the letter
  contact_person: 孙工
product:
  part_number: 5QD 611 701 B
batch: B1
channel: phone
received_at: 2026-03-06T10:00:00+08:00
original: oral
description: 接头渗油
class: general
investigation:
  departments:
    - 质控部
disposition: [rework]
"""

# fmt: off
ENUM_SPELLINGS = [
    "General", "GENERAL", "general\u3000", "\u3000general", "ｇｅｎｅｒａｌ", "Ｇｅｎｅｒａｌ",
    "一般投诉", "General complaint", "general.", "general。", "'General'", "gen eral",
]
# fmt: on


def _top_blocks(text: str) -> list[str]:
    """The top-level keys with their nested lines, each block one string."""
    blocks: list[str] = []
    for ln in _lines(text):
        if ln.startswith((" ", "\t")) and blocks:
            blocks[-1] += ln
        else:
            blocks.append(ln)
    return blocks


def e_reorder(draw, text):
    blocks = _top_blocks(text)
    head_, body = ([blocks[0]], blocks[1:]) if blocks[0].startswith("#") else ([], blocks)
    return "".join(head_ + draw(st.permutations(body)))


def e_comment_line(draw, text):
    lines = _lines(text)
    i = draw(st.integers(0, len(lines)))
    indent = re.match(r"[ ]*", lines[i] if i < len(lines) else "").group(0)
    words = draw(
        st.sampled_from(
            ["备注：已电话确认", "TODO ask 孙工", "changed 2026-03-07 by 李雷", "#", "---", "a: b"]
        )
    )
    return "".join(lines[:i] + [f"{indent}# {words}\n"] + lines[i:])


def e_inline_comment(draw, text):
    lines = _lines(text)
    candidates = [i for i, ln in enumerate(lines) if re.match(r"^\s*\w+: \S", ln) and "#" not in ln]
    if not candidates:
        return text
    i = draw(st.sampled_from(candidates))
    lines[i] = (
        lines[i].rstrip("\n")
        + draw(st.sampled_from(["  # 核对过", " # checked", "\t# tab before"]))
        + "\n"
    )
    return "".join(lines)


def e_crlf(draw, text):
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def e_tab_indent(draw, text):
    return re.sub(r"^  (?=\S)", "\t", text, count=draw(st.integers(1, 3)), flags=re.MULTILINE)


def e_bom(draw, text):
    return "\ufeff" + text.lstrip("\ufeff")


def e_enum(draw, text):
    key, good = draw(
        st.sampled_from([("class", "general"), ("channel", "phone"), ("original", "oral")])
    )
    spelling = (
        draw(st.sampled_from(ENUM_SPELLINGS))
        .replace("general", good)
        .replace("General", good.title())
    )
    return re.sub(rf"^{key}: {good}$", f"{key}: {spelling}", text, flags=re.MULTILINE)


def e_trailing_spaces(draw, text):
    lines = _lines(text)
    for i in draw(st.sets(st.integers(0, max(0, len(lines) - 1)), max_size=4)):
        if lines[i].endswith("\r\n"):
            lines[i] = lines[i][:-2] + draw(st.sampled_from(["  ", " ", "\t", "\u3000"])) + "\r\n"
        elif lines[i].endswith("\n"):
            lines[i] = lines[i][:-1] + draw(st.sampled_from(["  ", " ", "\t", "\u3000"])) + "\n"
    return "".join(lines)


def e_blank_lines(draw, text):
    lines = _lines(text)
    i = draw(st.integers(0, len(lines)))
    return "".join(lines[:i] + ["\n"] * draw(st.integers(1, 3)) + lines[i:])


def e_no_final_newline(draw, text):
    return text.rstrip("\r\n")


def e_four_spaces(draw, text):
    return re.sub(r"^( +)", lambda m: m.group(1) * 2, text, flags=re.MULTILINE)


def e_quotes(draw, text):
    q = draw(st.sampled_from(["'", '"']))
    # the value only: a comment after it stays a comment
    return re.sub(
        r"^(batch|description|channel): ([^#\r\n]*?)[ \t]*([ \t]#[^\r\n]*)?(\r?)$",
        lambda m: f"{m.group(1)}: {q}{m.group(2)}{q}{m.group(3) or ''}{m.group(4)}",
        text,
        flags=re.MULTILINE,
    )


def e_space_before_colon(draw, text):
    return text.replace("batch:", "batch :").replace("channel:", "channel  :")


def e_fullwidth_colon(draw, text):
    key = draw(st.sampled_from(["batch", "channel", "description"]))
    return re.sub(rf"^{key}: ", f"{key}：", text, flags=re.MULTILINE)


def e_flow_style(draw, text):
    block = (
        "customer:\n  name: 上汽大众汽车有限公司  # 顾客名称 as on the letter\n"
        "  contact_person: 孙工\n"
    )
    return text.replace(block, "customer: {name: 上汽大众汽车有限公司, contact_person: 孙工}\n")


REMARKS = ["remark: 已电话确认  # 李雷\n", "备注: 客户要求8D\n", "note:\n  - 见附件\n"]


def e_remark(draw, text):
    return text + draw(st.sampled_from(REMARKS))


def e_fullwidth_text(draw, text):
    return text.replace(
        "接头渗油",
        draw(st.sampled_from(["接头渗油，已拍照。", "接头渗油（批次Ｂ１）", "接头渗油：见附件"])),
    )


HAND_EDITS = [
    e_reorder,
    e_comment_line,
    e_inline_comment,
    e_crlf,
    e_tab_indent,
    e_bom,
    e_enum,
    e_trailing_spaces,
    e_blank_lines,
    e_no_final_newline,
    e_four_spaces,
    e_quotes,
    e_space_before_colon,
    e_fullwidth_colon,
    e_flow_style,
    e_fullwidth_text,
    e_remark,
]


@st.composite
def hand_edited(draw):
    text = COMMENTED
    used = draw(st.lists(st.sampled_from(HAND_EDITS), min_size=1, max_size=4, unique=True))
    for edit in used:
        text = edit(draw, text)
    return text, [e.__name__ for e in used]


def comments_of(text: str) -> list[str]:
    """The comments a person wrote, as text (without line ends)."""
    out = []
    for ln in text.replace("\r", "\n").splitlines():
        if "#" in ln and not ln.strip().startswith(("- ", "'", '"')):
            c = ln[ln.index("#") :].strip()
            if c.strip("# "):
                out.append(c)
    return out


FINDING = re.compile(rf"^{re.escape(REL)}:(\d+): (.+)$")
SHOW_ERROR = re.compile(rf"^qms: {re.escape(REL)}:(\d+): ")


def judge_hand_edit(qms, root: Path, text: str, edits) -> str:
    """'accepted' or 'reported', asserting what either means (see the test's docstring)."""
    path = root / REL
    path.write_bytes(text.encode("utf-8"))
    where = f"edits {edits}, file:\n{text}"
    v = run_checked(qms, root, ["validate"])
    assert v.code in (0, 1), f"{where}\n{v.text}"
    n_lines = len(text.replace("\r\n", "\n").split("\n"))
    show = run_checked(qms, root, ["complaint", "show", ID])
    if v.code == 0:
        assert show.code == 0, f"validate passed but show did not: {where}\n{show.text}"
        before = path.read_bytes()
        s = run_checked(qms, root, ["complaint", "set", ID, "batch=B9"])
        assert s.code == 0, f"validate passed but set did not: {where}\n{s.text}"
        after = path.read_bytes().decode("utf-8")
        assert parse_record(after.encode())["batch"] == "B9"
        lost = [c for c in comments_of(before.decode("utf-8-sig")) if c not in after]
        assert not lost, f"set lost the comments {lost}: {where}\nafter set:\n{after}"
        endings = {"CRLF" if m.group(0) == "\r\n" else "LF" for m in re.finditer(r"\r?\n", after)}
        assert len(endings) <= 1, f"set left mixed line endings: {where}\nafter set:\n{after!r}"
        assert run_checked(qms, root, ["validate"]).code == 0, f"after set: {where}\n{after}"
        return "accepted"
    found = [ln for ln in v.out.splitlines() if ln.strip()]
    for ln in found:
        m = FINDING.match(ln)
        assert m, f"a finding without file and line: {ln!r}\n{where}"
        assert 1 <= int(m.group(1)) <= n_lines, f"line out of range: {ln!r}\n{where}"
    parse_error = show.code == 2
    if parse_error:
        assert SHOW_ERROR.match(show.err), f"show names no file and line: {show.err!r}\n{where}"
    else:
        assert show.code == 0, f"{where}\n{show.text}"
        # a record that reads but breaks its form: each finding names the field
        for ln in found:
            rest = FINDING.match(ln).group(2)
            assert re.match(r"[\w.]+: ", rest), f"a finding without a field: {ln!r}\n{where}"
    s = run_checked(qms, root, ["complaint", "set", ID, "batch=B9"])
    assert s.code in (1, 2), f"validate reported the file but set went ahead: {where}\n{s.text}"
    return "reported"


@fuzz("hand_edits")
@given(edit=hand_edited())
def test_hand_edits_are_accepted_or_reported_with_line_and_field(seeded, qms, edit):
    """Each hand edit is either accepted (validate clean, `set` works and keeps the
    person's comments) or reported (validate exit 1 with 'FILE:LINE: field: ...', or show
    exit 2 naming the file and the line; then `set` refuses) — never a traceback."""
    text, edits = edit
    restore = Restore(seeded)
    try:
        judge_hand_edit(qms, seeded, text, edits)
    finally:
        restore()


def _line_of(text: str, start: str) -> int:
    for i, ln in enumerate(text.replace("\ufeff", "").splitlines(), 1):
        if ln.startswith(start):
            return i
    raise AssertionError(start)


@pytest.mark.parametrize(
    "edit",
    [
        "reordered keys",
        "comments",
        "windows line endings",
        "a BOM",
        "trailing spaces",
        "four-space indentation",
        "quoted values",
        "flow style",
        "full-width punctuation in text",
        "BOM, CRLF and comments",
    ],
)
def test_harmless_hand_edits_are_accepted(seeded, qms, edit):
    text = {
        "reordered keys": "".join(reversed(_top_blocks(COMMENTED)[1:])),
        "comments": COMMENTED + "# 结束\n",
        "windows line endings": COMMENTED.replace("\n", "\r\n"),
        "a BOM": "\ufeff" + COMMENTED,
        "trailing spaces": COMMENTED.replace("\n", "  \n"),
        "four-space indentation": re.sub(r"^( +)", r"\1\1", COMMENTED, flags=re.MULTILINE),
        "quoted values": COMMENTED.replace("channel: phone", "channel: 'phone'").replace(
            "class: general", 'class: "general"'
        ),
        "flow style": e_flow_style(None, COMMENTED),
        "full-width punctuation in text": COMMENTED.replace(
            "接头渗油", "接头渗油，已拍照（见附件）。"
        ),
        "BOM, CRLF and comments": "\ufeff" + (COMMENTED + "# 结束\n").replace("\n", "\r\n"),
    }[edit]
    assert judge_hand_edit(qms, seeded, text, [edit]) == "accepted"


@pytest.mark.parametrize("spelling", ENUM_SPELLINGS)
def test_a_misspelt_enum_value_is_reported_at_its_line(seeded, qms, spelling):
    text = COMMENTED.replace("class: general", f"class: {spelling}")
    assert judge_hand_edit(qms, seeded, text, [spelling]) == "reported"
    r = qms("validate")
    expected = f"{REL}:{_line_of(text, 'class:')}: class: "
    assert expected in r.out, f"expected {expected!r} in\n{r.out}"


@pytest.mark.parametrize(
    "edit, line_start",
    [
        ("tabs in indentation", "\tname:"),
        ("full-width colon", "batch："),
    ],
)
def test_a_hand_edit_that_breaks_the_yaml_is_reported_at_its_line(seeded, qms, edit, line_start):
    text = {
        "tabs in indentation": COMMENTED.replace("  name:", "\tname:"),
        "full-width colon": COMMENTED.replace("batch: B1", "batch：B1"),
    }[edit]
    assert judge_hand_edit(qms, seeded, text, [edit]) == "reported"
    r = qms("complaint", "show", ID)
    line = _line_of(text, line_start)
    # the problem is on that line, or where YAML notices it, the line after
    m = SHOW_ERROR.match(r.err)
    assert m and int(m.group(1)) in (line, line + 1), f"expected line {line}: {r.err}"


@pytest.mark.parametrize("remark", REMARKS)
def test_a_field_of_ones_own(seeded, qms, remark):
    """A person adds a field the form does not declare (validate warns about it): it is
    accepted or reported like any other hand edit, not something validate passes and
    `set` then refuses."""
    judge_hand_edit(qms, seeded, COMMENTED + remark, ["remark"])


# ======================================================= 5. a store someone else wrote

# text with the characters a terminal, a form or a spreadsheet acts on
CONTROL_CHARS = [chr(c) for c in [*range(0x01, 0x09), 0x0B, 0x0C, 0x0D, *range(0x0E, 0x20), 0x7F,
                                  *range(0x80, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]]
ESCAPES = ["\x1b[2J", "\x1b]0;owned\x07", "\x1b]52;c;cm0gLXJmIC8=\x07", "\x9b31m", "\u202egnp.exe",
           "\r# heading", "\x85", "\x0b"]
plain_text = st.text(st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="\u2028\u2029"),
                     max_size=12)


@st.composite
def with_control(draw):
    """A text value with at least one control character (or an escape sequence) in it."""
    before, after = draw(plain_text), draw(plain_text)
    middle = draw(st.one_of(st.sampled_from(CONTROL_CHARS), st.sampled_from(ESCAPES)))
    return before + middle + after


@fuzz("control_characters")
@given(value=with_control(), field=st.sampled_from(sorted(TEXT_FIELDS)), verb=st.sampled_from(["set", "new"]))
def test_control_characters_are_refused_at_write(seeded, qms, value, field, verb):
    """A terminal control character (C0 but tab and line feed, DEL, C1, direction
    overrides) in any text field is refused with exit 2, naming the field, and nothing
    is written."""
    restore = Restore(seeded)
    try:
        item = f"{field}={value}"
        args = (["complaint", "set", ID, item] if verb == "set"
                else ["complaint", "new", *sets(*RECEIVED, item)])
        r = run_checked(qms, seeded, args)
        assert r.code == 2, describe(args, r)
        assert field in r.err and "U+" in r.err, describe(args, r)
    finally:
        restore()


def _raw_controls(text: str) -> list[str]:
    """The control characters a terminal would act on, as they reach it."""
    return sorted({f"U+{ord(c):04X}" for c in text if c in CONTROL_CHARS and c != "\r"}
                  | ({"CR"} if "\r" in text.replace("\r\n", "") else set()))


def _yaml_quoted(text: str) -> str:
    """`text` as a YAML double-quoted scalar, every character that is not plainly
    printable written as an escape (as a person's editor or another tool may write it)."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch in CONTROL_CHARS or ch in "\n\t\u2028\u2029\ufeff" or not ch.isprintable():
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


@fuzz("shown_escaped")
@given(value=with_control(), field=st.sampled_from(["description", "customer.name", "batch"]))
def test_control_characters_already_in_a_record_are_shown_escaped(seeded, qms, value, field):
    """A record that holds control characters (written by hand, or by an older qms) is
    reported by validate, and show, list, log and the form print them escaped: nothing
    on stdout or stderr is a character the terminal acts on."""
    restore = Restore(seeded)
    try:
        key = field.split(".")[-1]
        text = re.sub(rf"(?m)^(\s*{key}): .*$", lambda m: m.group(1) + ": " + _yaml_quoted(value), VALID, count=1)
        assert text != VALID
        (seeded / REL).write_text(text, encoding="utf-8")
        commit_by_hand(seeded, "hand edit with " + value)
        for args in (["validate"], ["complaint", "show", ID], ["complaint", "list"], ["log", ID],
                     ["render", ID], ["complaint", "show", ID, "--json"]):
            r = run_checked(qms, seeded, args)
            assert r.code in ((1,) if args == ["validate"] else (0,)), describe(args, r)
            assert _raw_controls(r.out) == [] and _raw_controls(r.err) == [], describe(args, r)
            if args == ["validate"]:
                assert field in r.out, describe(args, r)
    finally:
        restore()


FORMULA = ["=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠", " =", "  +"]


@fuzz("spreadsheet_values")
@given(start=st.sampled_from(FORMULA), rest=plain_text.filter(lambda t: t.strip() != ""),
       fmt=st.sampled_from(["csv", "xlsx"]))
def test_a_value_a_spreadsheet_would_run_stays_text(seeded, qms, tmp_path_factory, start, rest, fmt):
    """A customer name that starts like a formula (OWASP's CSV injection list, with the
    full-width forms) reaches csv with a leading ' and xlsx as a text cell holding the
    name itself; never a formula."""
    restore = Restore(seeded)
    try:
        name = start + rest
        args = ["complaint", "set", ID, f"customer.name={name}"]
        r = run_checked(qms, seeded, args)
        if r.code != 0:  # a line break is a control character only as CR
            assert r.code == 2, describe(args, r)
            return
        out = tmp_path_factory.mktemp("ledger") / f"complaints.{fmt}"
        args = ["report", "complaints", "--format", fmt, "-o", str(out)]
        r = run_checked(qms, seeded, args)
        assert r.code == 0, describe(args, r)
        if fmt == "csv":
            import csv
            import io

            rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
            cell = rows[1][rows[0].index("顾客名称")]
            assert cell == "'" + name, (name, cell)
        else:
            from openpyxl import load_workbook

            sheet = load_workbook(out).active
            top = next(row[0].row for row in sheet.iter_rows() if row[0].value == "客诉编号")  # below the title
            head = [c.value for c in sheet[top]]
            cell = sheet.cell(row=top + 1, column=head.index("顾客名称") + 1)
            assert cell.data_type == "s" and cell.value == name, (name, cell.data_type, cell.value)
    finally:
        restore()


# what a template author reaches for to get out of a sandbox
SANDBOX_BASES = ["r", "v", "label", "range", "''", "[]", "{}", "id", "company", "history", "loop",
                 "self", "lipsum", "cycler", "joiner", "namespace", "dict", "r.get", "'%s'.format",
                 "(1).real", "signatures", "deadlines", "caller", "varargs"]
SANDBOX_STEPS = [".__class__", ".__mro__", "[1]", ".__subclasses__()", ".__globals__", ".__init__",
                 ".__builtins__", "['__import__']('os')", ".__self__", ".__dict__", ".mro()", ".__base__",
                 ".os", ".popen('touch PWNED')", ".read()", ".system('touch PWNED')", ".func_globals",
                 ".gi_frame", ".f_globals", ".__getitem__('os')", ".update({'a': 1})", ".append(1)",
                 ".pop()", "|attr('__class__')", "|attr('__globals__')", "|map('__class__')|list",
                 ".environment", "._TemplateReference__context", ".__code__", ".co_consts",
                 "|format('%s')", ".__reduce_ex__(2)", ".__getattribute__('__class__')"]


@st.composite
def escape_attempts(draw):
    expr = draw(st.sampled_from(SANDBOX_BASES))
    for step in draw(st.lists(st.sampled_from(SANDBOX_STEPS), min_size=1, max_size=6)):
        expr += step
    wrapper = draw(st.sampled_from(["{{ %s }}", "{%% set x = %s %%}{{ x }}", "{%% for x in [%s] %%}{{ x }}{%% endfor %%}",
                                    "{%% if %s %%}yes{%% endif %%}", "{%% macro m() %%}{{ %s }}{%% endmacro %%}{{ m() }}"]))
    return wrapper % expr


@fuzz("template_escapes")
@given(body=escape_attempts())
def test_a_store_template_never_reaches_python(seeded, qms, body):
    """A store's own form template that climbs from any value it is given towards
    Python's classes, globals, modules or the environment: the form fails with exit 2
    naming the template (or prints only data); nothing runs, nothing is read from
    outside the store, the record is untouched."""
    restore = Restore(seeded)
    try:
        (seeded / "templates").mkdir(exist_ok=True)
        (seeded / "templates" / "complaint.zh.md.j2").write_text("Form\n" + body + "\n", encoding="utf-8")
        out = seeded.parent / "form.md"
        args = ["render", ID, "-o", str(out)]
        r = qms(*args, who=QE)
        contract(args, r)
        assert r.code in (0, 2), describe(args, r)
        if r.code == 2:
            assert r.err.startswith("qms: ") and "complaint.zh.md.j2" in r.err, describe(args, r)
            assert not out.exists(), describe(args, r)
        else:
            text = out.read_text(encoding="utf-8")
            for leak in ("<function", "<built-in", "<class", "<module", "os.environ", "__builtins__",
                         "root:", "uid="):
                assert leak not in text, f"{leak} in the form: " + describe(args, r) + "\n" + text[:500]
        assert not (seeded / "PWNED").exists() and not Path("PWNED").exists(), describe(args, r)
        assert worktree_matches_head(seeded) == []
    finally:
        if (seeded.parent / "form.md").exists():
            (seeded.parent / "form.md").unlink()
        restore()


def test_an_assignment_without_a_field_is_said_so_before_its_value(seeded, qms):
    """'＝=…' (a Chinese keyboard's ＝ first): qms splits at the ＝, so no field is named;
    that is what it says, before anything about the value (it said ': the value contains
    the control character …', naming an empty field)."""
    r = qms("--lang", "en", "complaint", "set", ID, "＝=a\x07b", who=QE, root=seeded)
    assert r.code == 2 and "'': expected a field path" in r.err and "control character" not in r.err, r.text
    r = qms("--lang", "en", "complaint", "set", ID, "batch=a\x07b", who=QE, root=seeded)
    assert r.code == 2 and "batch: the value contains the control character U+0007" in r.err, r.text
    assert worktree_matches_head(seeded) == []
