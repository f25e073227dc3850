"""Benchmarks for qms: a table of medians, each against a baseline measured in the same run.

The machines here are shared and noisy, so absolute times mean little; every row is the ratio
of a qms command to a baseline timed minutes apart in the same run, with its target:

    qms --version, qms --help        vs  python -c "import typer"                       <= 1.3
    validate --no-cache (cold)       vs  PyYAML CSafeLoader parsing the same files only  <= 1.5
    validate, nothing changed (warm) vs  the cold validate                               <= 0.1
    validate, one record changed     vs  the cold validate                               <= 0.1
    complaint new / move, N records  vs  the same command on a 10-record store           <= 1.2
    complaint show, N records        vs  the same on the 10-record store                 <= 1.2
    complaint new, N records         vs  import typer+ruamel.yaml+git, + git add + git commit
                                         of one small file in the same repo (sum)        <= 1.5
    qms log ID (10,000 commits)      vs  git log --format=... -- FILE (commit graph with
                                         changed-path filters written)                   <= 1.5
    qms audit (10,000 commits; the demo store's history)
                                     vs  git log --name-status of the same history       <= 3
    complaint list --overdue, report complaints, report on-time, report failures
                                     vs  the cold validate                               <= 1
    peak memory of validate --no-cache on 100,000 records (--big)                       <= 500 MB
    doorstop validating N items      vs  qms validate --no-cache on N records: speed-up  >= 20
    doorstop publish all, N items    vs  qms publish of N records into an empty folder:
                                         speed-up                                       >= 3
    doorstop publish all, N items    vs  qms publish after one `qms complaint set`, into
                                         the site of the last publish: speed-up          >= 20
    doorstop publish all, N items    vs  qms publish --lang zh (N pages of forms, as many
                                         as doorstop's pages; shown, not a target)
    qms sync, nothing to do          vs  git fetch from the same remote                 ~ 1
    qms sync, 50 unpushed `complaint new` commits and 50 incoming `complaint set` commits
                                     vs  git pull --rebase && git push of the same       <= 2
    qms sync, the same but the 50 incoming commits are `complaint new` (every local ID
    taken: 50 renumberings)          vs  the same git baseline (git alone cannot do it)  <= 2

Below the table: how many bytes git writes for one `qms complaint new` commit on the flat
10,000-record store and on the same store sharded by year (records/<type>/2026/ID.yaml) and
by hundred (records/<type>/CMP-2026-00xx/ID.yaml; qms.yaml `shard:` says which).

Run it with the dev virtualenv's python (qms is run as `<that python> -m qms_cli`):

    python bench/bench.py                      # sizes 1,000 and 10,000, 5 runs, doorstop 1,000
    python bench/bench.py --sizes 1000 --runs 3
    python bench/bench.py --big --runs 1       # adds the 100,000-record memory row (slow to build)
    python bench/bench.py --doorstop 0         # no doorstop row (nor its virtualenv)
    python bench/bench.py --only publish --publish 10000   # the publish rows alone (minutes each)
    python bench/bench.py --layout flat        # one folder per type (default: hundred, as qms init)
    python bench/bench.py --only sync          # the qms sync rows only

The sync rows run on the 1,000-record store: a bare server cloned from it, another clone's 50
commits pushed there, and a clone with 50 unpushed commits of its own (all made by qms, once,
under bench/out/sync-*); each timed run starts from a fresh copy of those folders (untimed), so
qms sync and its git baseline start from the same state, the remote a local path.

Every timed command gets one untimed warm-up run first and runs without
PYTHONDONTWRITEBYTECODE (users have .pyc files). Slow measures take at most 3 runs.

Stores are generated once under bench/out/ (git-ignored) and reused while their stamp
(.git/bench-stamp: a hash of the generator's source and of the sample records it clones)
matches; a reused store is reset to its generated commit first. A store of N records is
half complaints (`complaint_text`, ~1.5 KB of Chinese text, acknowledged) and half
document control: clusters cloned from the sample store's document LX-CX-2024-001 with its
2 revisions and 12 distributions, every ID rewritten (LX-CX-B00007, REV-B00007-2,
DST-B00007-04) and the distributions padded to ~1.5 KB. The log store has 10,000 commits
over 50 complaints, written with `git fast-import`. doorstop is installed on demand into
bench/out/doorstop-venv. Not part of the test suite."""

from __future__ import annotations

import argparse
import hashlib
import inspect
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
SAMPLE = REPO / "records"
PY = sys.executable
QMS = [PY, "-m", "qms_cli"]
WHO = {"GIT_AUTHOR_NAME": "李雷", "GIT_AUTHOR_EMAIL": "li.lei@example.com",
       "GIT_COMMITTER_NAME": "李雷", "GIT_COMMITTER_EMAIL": "li.lei@example.com"}
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | WHO
DEVNULL = subprocess.DEVNULL

GENERATOR_VERSION = "3"  # bump by hand too, e.g. when qms changes what a valid record is
CLUSTER_DOC = "LX-CX-2024-001"  # the sample document cloned, with every record that names it
SMALL = 10  # records of the store that new/move/show on N records are compared with
LOG_COMMITS, LOG_FILES = 10_000, 50
SIZES: dict[str, tuple[int, float]] = {}  # store name: (record files, average bytes) as generated

NEW = ["complaint", "new", "--set", "customer.name=上汽大众汽车有限公司", "--set", "product.part_number=5QD 611 701 B",
       "--set", "channel=phone", "--set", "received_at=2026-03-06T10:00", "--set", "original=oral",
       "--set", "description=接头渗油", "--set", "class=general"]
ACK = ["--set", "contact.at=2026-03-06T10:30", "--set", "contact.by=李雷",
       "--set", "contact.summary=电话联系客户SQE，确认失效数量", "--set", "interim_countermeasure=库存及在途产品全检"]
FILLER = "本柜存放受控文件正本及复印件，钥匙由部门文件管理员保管，每月检查一次文件的完整性、有效性和标识，发现破损及时申请更换。"


# --- timing -------------------------------------------------------------------------------

def run(cmd: list[str], cwd: Path | None = None, ok=(0, 1), stdout=DEVNULL) -> subprocess.CompletedProcess:
    p = subprocess.run([str(c) for c in cmd], check=False, cwd=cwd, env=ENV, stdin=DEVNULL, stdout=stdout, stderr=subprocess.PIPE)
    if ok is not None and p.returncode not in ok:
        raise SystemExit(f"{' '.join(map(str, cmd))} (in {cwd or '.'}) exited {p.returncode}:\n"
                         f"{p.stderr.decode(errors='replace')[-800:]}")
    return p


def timed(cmd: list[str], cwd: Path | None = None, ok=(0, 1)) -> float:
    t = time.perf_counter()
    run(cmd, cwd, ok)
    return time.perf_counter() - t


def median(cmd, runs: int, *, cwd: Path | None = None, setup=None, ok=(0, 1)) -> float:
    """Median wall time of `runs` runs of `cmd`, after one untimed warm-up run. `setup()`, if
    given, runs untimed before each run (warm-up included); `cmd` may then be a function of
    what setup returned."""
    times = []
    for i in range(runs + 1):
        arg = setup() if setup else None
        t = timed(cmd(arg) if callable(cmd) else cmd, cwd, ok)
        if i:
            times.append(t)
    return statistics.median(times)


def git(root: Path, *args: str, ok=(0,)) -> str:
    return run(["git", *args], root, ok, stdout=subprocess.PIPE).stdout.decode().strip()


# --- stores -------------------------------------------------------------------------------

def complaint_text(i: int, rnd: random.Random) -> str:
    day = 1 + i % 28
    month = 1 + (i // 28) % 12
    words = "客户装配线发现制动软管接头处渗油，批量发生，生产线停线。临时对策：库存及在途产品全检。" * 6
    return (
        f"id: CMP-2026-{i:05d}\ntype: complaint\nstate: acknowledged\n"
        f"customer:\n  name: 上汽大众汽车有限公司（安亭总装{rnd.randint(1, 9)}厂）\n  contact_person: 孙工\n"
        f"product:\n  name: 前制动软管总成\n  part_number: 5QD 611 {rnd.randint(100, 999)} B\n"
        f"batch: HZ25{month:02d}{day:02d}-B{rnd.randint(1, 9)}\nquantity_affected: {rnd.randint(1, 2000)}\n"
        f"channel: email\nreceived_at: 2025-{month:02d}-{day:02d} 09:40:00+08:00\nreceived_by: 李雷\n"
        f"original: oral\ndescription: {words[: 200 + rnd.randint(0, 150)]}\nclass: general\n"
        f"major_quality_problem: false\nreply_needed: true\n"
        f"contact:\n  at: 2025-{month:02d}-{day:02d} 10:30:00+08:00\n  by: 李雷\n  summary: {words[:120]}\n"
        f"interim_countermeasure: {words[:160]}\n"
        f"signatures:\n  - meaning: acknowledged\n    name: 李雷\n    email: li.lei@example.com\n"
        f"    role: quality_engineer\n    at: 2025-{month:02d}-{day:02d} 10:30:00+08:00\n"
        f"    from: received\n    to: acknowledged\n"
    )


def sample_cluster() -> list[tuple[str, str, str]]:
    """(type, id, text) of the sample document CLUSTER_DOC and of every record naming it."""
    out = []
    for f in sorted(SAMPLE.glob("*/*.yaml")):
        text = f.read_text(encoding="utf-8")
        if f.stem == CLUSTER_DOC or CLUSTER_DOC in text:
            out.append((f.parent.name, f.stem, text))
    return out


def cluster_records(k: int, cluster: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Cluster number k: every ID rewritten (in names and contents), distributions padded."""
    tag = f"B{k:05d}"
    new_ids = {CLUSTER_DOC: f"LX-CX-{tag}"}
    revs = [i for t, i, _ in cluster if t == "revision"]
    dsts = [i for t, i, _ in cluster if t == "distribution"]
    new_ids |= {old: f"REV-{tag}-{n}" for n, old in enumerate(revs, 1)}
    new_ids |= {old: f"DST-{tag}-{n:02d}" for n, old in enumerate(dsts, 1)}
    counts: dict[str, int] = {}
    for _t, old, _text in cluster:  # loans, destructions ... naming the document: LN-B00001-01
        if old not in new_ids:
            prefix = old.split("-")[0]
            counts[prefix] = counts.get(prefix, 0) + 1
            new_ids[old] = f"{prefix}-{tag}-{counts[prefix]:02d}"
    pattern = re.compile(r"(?<![A-Za-z0-9_.-])(" + "|".join(map(re.escape, new_ids)) + r")(?![A-Za-z0-9_])")
    out = []
    for type_name, old, text in cluster:
        text = pattern.sub(lambda m: new_ids[m.group(1)], text)
        if type_name == "distribution":
            short = 1500 - len(text.encode())
            if short > 0:  # lengthen holder.location, one line, a plain scalar
                pad = (FILLER * 20)[: short // 3]
                text = re.sub(r"^(  location: .*)$", lambda m, pad=pad: m.group(1) + "，" + pad, text, count=1, flags=re.MULTILINE)
        out.append((type_name, new_ids[old], text))
    return out


def shard(record_id: str, layout: str) -> str:
    """The folder under records/<type>/ of `record_id`, by qms.yaml's `shard` rule: ''
    (flat), its first 20xx year, or the ID with its last two digits as xx."""
    if layout == "year":
        m = re.search(r"(?<!\d)20\d\d(?!\d)", record_id)
        if m:
            return m.group(0)
    if layout == "hundred" and re.search(r"\d{3,}$", record_id):
        return record_id[:-2] + "xx"
    return ""


def stamp_of(*parts) -> str:
    h = hashlib.sha256(GENERATOR_VERSION.encode())
    for fn in (complaint_text, sample_cluster, cluster_records, shard, generate_store, git_init_commit):
        h.update(inspect.getsource(fn).encode())
    for f in [REPO / "qms.yaml", *sorted((REPO / "files").rglob("*"))] + [SAMPLE / t / f"{i}.yaml" for t, i, _ in sample_cluster()]:
        if f.is_file():
            h.update(f.read_bytes())
    h.update(repr(parts).encode())
    return h.hexdigest()[:16]


def reuse(root: Path, stamp: str) -> bool:
    """True if `root` was generated with `stamp`: then reset to its generated commit."""
    f = root / ".git" / "bench-stamp"
    if not f.is_file():
        return False
    want, _, commit = f.read_text().partition(" ")
    if want != stamp:
        return False
    git(root, "reset", "-q", "--hard", commit.strip())
    git(root, "clean", "-q", "-fd")  # .qms/ is ignored, so kept
    return True


def git_init_commit(root: Path, stamp: str, message: str = "bench store") -> None:
    (root / ".gitignore").write_text(".qms/\n", encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "-c", "gc.auto=0", "commit", "-q", "-m", message)  # no background gc: packed next
    git(root, "gc", "-q")  # packed, as a used repository is: no loose objects, no auto gc mid-run
    (root / ".git" / "bench-stamp").write_text(f"{stamp} {git(root, 'rev-parse', 'HEAD')}")


def make_store(n: int, layout: str = "flat", mixed: bool = True) -> Path:
    """A store of n records (mixed: half complaints, half document-control clusters)."""
    name = f"store-{n}" + ("" if layout == "flat" else f"-{layout}") + ("" if mixed else "-complaints")
    root = OUT / name
    stamp = stamp_of(n, layout, mixed)
    if not reuse(root, stamp):
        generate_store(root, stamp, n, layout, mixed)
    SIZES[root.name] = avg_size(root)
    return root


def generate_store(root: Path, stamp: str, n: int, layout: str, mixed: bool) -> None:
    print(f"generating {root.relative_to(REPO)} ...", file=sys.stderr, flush=True)
    t = time.perf_counter()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    shutil.copy(REPO / "qms.yaml", root / "qms.yaml")
    if layout != "flat":  # qms files its own new records the same way
        with open(root / "qms.yaml", "a", encoding="utf-8") as f:
            f.write(f"shard: {layout}\n")
    shutil.copytree(REPO / "files", root / "files")
    rnd = random.Random(n)
    cluster = sample_cluster()
    clusters = (n // 2) // len(cluster) if mixed else 0
    records = []
    for k in range(1, clusters + 1):
        records += cluster_records(k, cluster)
        src = REPO / "files" / "documents" / CLUSTER_DOC  # its content files, byte for byte (sha256 pinned)
        shutil.copytree(src, root / "files" / "documents" / f"LX-CX-B{k:05d}")
    for i in range(1, n - len(records) + 1):
        records.append(("complaint", f"CMP-2026-{i:05d}", complaint_text(i, rnd)))
    for type_name, record_id, text in records:
        folder = root / "records" / type_name / shard(record_id, layout)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{record_id}.yaml").write_text(text, encoding="utf-8")
    git_init_commit(root, stamp)
    print(f"  {len(records):,} records in {time.perf_counter() - t:.0f}s", file=sys.stderr, flush=True)
    p = run(QMS + ["-C", root, "validate"], stdout=subprocess.PIPE)
    if p.returncode:  # the store must be clean, or validate measures the reporting of findings
        print(f"  WARNING: {root.name} does not validate clean:\n{p.stdout.decode()[:2000]}", file=sys.stderr)


def record_files(root: Path) -> list[Path]:
    return sorted((root / "records").rglob("*.yaml"))


def avg_size(root: Path) -> tuple[int, float]:
    files = record_files(root)
    return len(files), sum(f.stat().st_size for f in files) / max(1, len(files))


def make_log_store() -> Path:
    """LOG_COMMITS commits, each a qms-style `set batch` of one of LOG_FILES complaints."""
    root = OUT / "store-log"
    stamp = stamp_of("log", LOG_COMMITS, LOG_FILES, inspect.getsource(make_log_store))
    if reuse(root, stamp):
        return root
    print(f"generating {root.relative_to(REPO)} ...", file=sys.stderr, flush=True)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    rnd = random.Random(1)
    texts = {i: complaint_text(i, rnd) for i in range(1, LOG_FILES + 1)}
    stream = bytearray()

    def blob(data: str | bytes) -> bytes:
        data = data.encode() if isinstance(data, str) else data
        return b"data %d\n" % len(data) + data + b"\n"

    when = 1_700_000_000
    for c in range(LOG_COMMITS):
        when += 600
        if c == 0:
            msg = "qms: bench log store\n\nQMS-Action: import\n"
            files = {"qms.yaml": (REPO / "qms.yaml").read_bytes(), ".gitignore": b".qms/\n"}
            files |= {f"records/complaint/CMP-2026-{i:05d}.yaml": texts[i] for i in texts}
        else:
            i = 1 + c % LOG_FILES
            rid = f"CMP-2026-{i:05d}"
            texts[i] = re.sub(r"^batch: .*$", f"batch: HZ{c:06d}-B{c % 9 + 1}", texts[i], count=1, flags=re.MULTILINE)
            msg = f"complaint {rid}: set batch\n\nQMS-Record: complaint/{rid}\nQMS-Action: set batch\n"
            files = {f"records/complaint/{rid}.yaml": texts[i]}
        who = f"李雷 <li.lei@example.com> {when} +0800\n".encode()
        stream += b"commit refs/heads/main\nauthor " + who + b"committer " + who + blob(msg)
        for path, data in files.items():
            stream += f"M 100644 inline {path}\n".encode() + blob(data)
        stream += b"\n"
    git(root, "init", "-q", "-b", "main")
    p = subprocess.run(["git", "fast-import", "--quiet"], check=False, cwd=root, input=bytes(stream), env=ENV, capture_output=True)
    if p.returncode:
        raise SystemExit(f"git fast-import failed: {p.stderr.decode()[-800:]}")
    git(root, "reset", "-q", "--hard", "main")
    git(root, "commit-graph", "write", "--reachable", "--changed-paths")
    (root / ".git" / "bench-stamp").write_text(f"{stamp} {git(root, 'rev-parse', 'HEAD')}")
    return root


# --- sync ---------------------------------------------------------------------------------

SYNC_COMMITS = 50


def make_sync_setup(layout: str) -> Path:
    """bench/out/sync-<layout>/: clone/ (the 1,000-record store plus SYNC_COMMITS unpushed
    `qms complaint new` commits, its origin ../server.git), server-set.git (the store plus
    another clone's SYNC_COMMITS `qms complaint set` commits on existing complaints) and
    server-new.git (the same number of `qms complaint new` commits: every ID the clone gave
    is taken there). Made once while the stamp matches; copied per timed run."""
    root = OUT / f"sync-{layout}"
    base = make_store(1000, layout)
    stamp = stamp_of("sync", layout, SYNC_COMMITS, inspect.getsource(make_sync_setup),
                     (base / ".git" / "bench-stamp").read_text())
    if (root / "stamp").is_file() and (root / "stamp").read_text() == stamp:
        return root
    print(f"generating {root.relative_to(REPO)} ...", file=sys.stderr, flush=True)
    t = time.perf_counter()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    head = git(base, "rev-parse", "HEAD")
    for kind in ("set", "new"):
        server = root / f"server-{kind}.git"
        run(["git", "clone", "-q", "--bare", "--no-local", base, server], ok=(0,))
        other = root / "other"
        run(["git", "clone", "-q", server, other], ok=(0,))
        complaints = sorted(p.stem for p in (other / "records" / "complaint").rglob("*.yaml"))
        for i in range(SYNC_COMMITS):
            if kind == "set":
                run(QMS + ["-C", other, "complaint", "set", complaints[i], f"batch=HZ260301-S{i:02d}"], ok=(0,))
            else:  # a complaint of its own: one with the very same content would be the same record, kept once
                run(QMS + ["-C", other] + [a.replace("description=接头渗油", f"description=另一工厂的客诉 {i}")
                                           for a in NEW], ok=(0,))
        git(other, "push", "-q", "origin", "main")
        shutil.rmtree(other)
        git(server, "gc", "-q")
    clone = root / "clone"
    run(["git", "clone", "-q", "--no-local", base, clone], ok=(0,))  # it last synced before the others pushed
    assert git(clone, "rev-parse", "HEAD") == head
    git(clone, "remote", "set-url", "origin", "../server.git")  # whichever server a run copies beside it
    for _i in range(SYNC_COMMITS):
        run(QMS + ["-C", clone] + NEW, ok=(0,))
    (root / "stamp").write_text(stamp)
    print(f"  done in {time.perf_counter() - t:.0f}s", file=sys.stderr, flush=True)
    return root


def sync_run(setup: Path, kind: str, in_step: bool = False):
    """A setup for `median`: a fresh copy of the clone and of server-<kind>.git under
    bench/out/sync-run/; returns the clone's path."""
    def prepare() -> Path:
        work = OUT / "sync-run"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        shutil.copytree(setup / f"server-{kind}.git", work / "server.git", symlinks=True)
        shutil.copytree(setup / "clone", work / "clone", symlinks=True)
        if in_step:  # nothing to do: the clone holds just what the server holds
            git(work / "clone", "fetch", "-q", "origin")
            git(work / "clone", "reset", "-q", "--hard", "origin/main")
        return work / "clone"
    return prepare


def sync_rows(runs: int, layout: str, row) -> None:
    """qms sync against git's own commands, from the same prepared state each run."""
    setup = make_sync_setup(layout)
    in_step = sync_run(setup, "set", in_step=True)()
    fetch = median(["git", "fetch", "-q", "origin"], runs * 2, cwd=in_step, ok=(0,))
    nothing = median(QMS + ["-C", in_step, "sync"], runs * 2, ok=(0,))
    row("qms sync, nothing to do", nothing, "git fetch", fetch, "<= 1.5")
    row("qms sync, nothing to do", nothing, "git fetch + qms --version",
        fetch + median(QMS + ["--version"], runs * 2, ok=(0,)), "<= 1.5")
    # git's own: the same local commits rebased on the incoming `set` commits (no ID taken:
    # with the `new` commits git's rebase stops on 50 add/add conflicts)
    plain = median(lambda c: ["sh", "-c", f"cd '{c}' && git pull -q --rebase && git push -q"], runs,
                   setup=sync_run(setup, "set"), ok=(0,))
    for kind, label in (("set", "set"), ("new", "new: renumbered")):
        prepare = sync_run(setup, kind)
        clone = prepare()  # the outcome checked once: every commit of both sides on the server
        p = run(QMS + ["-C", clone, "--json", "sync"], ok=(0,), stdout=subprocess.PIPE)
        if f'"pushed": {SYNC_COMMITS}' not in p.stdout.decode():
            raise SystemExit(f"qms sync did not push {SYNC_COMMITS} commits: {p.stdout.decode()[:500]}")
        ours = median(lambda c: QMS + ["-C", c, "sync"], runs, setup=prepare, ok=(0,))
        row(f"qms sync, {SYNC_COMMITS} out, {SYNC_COMMITS} in ({label})", ours,
            "git pull --rebase && git push", plain, "<= 2")
    shutil.rmtree(OUT / "sync-run", ignore_errors=True)


# --- doorstop -----------------------------------------------------------------------------

def doorstop_bin() -> Path:
    venv = OUT / "doorstop-venv"
    exe = venv / "bin" / "doorstop"
    if not exe.exists():
        print("installing doorstop into bench/out/doorstop-venv ...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "doorstop"], check=True)
    return exe


def make_doorstop_tree(n: int, exe: Path) -> Path:
    """A doorstop tree of n items REQ0001.yml ... with ~1.5 KB of Chinese text each, in git;
    the item keys are those of an item made by `doorstop add`."""
    root = OUT / f"doorstop-{n}"
    stamp = stamp_of("doorstop", n, inspect.getsource(make_doorstop_tree))
    if reuse(root, stamp):
        return root
    print(f"generating {root.relative_to(REPO)} ...", file=sys.stderr, flush=True)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    run([exe, "create", "REQ", "./reqs", "--digits", "4"], root, ok=(0,))
    run([exe, "add", "REQ"], root, ok=(0,))
    model = (root / "reqs" / "REQ0001.yml").read_text(encoding="utf-8")
    assert re.search(r"^text: ''$", model, re.MULTILINE), model
    words = "系统应在收到顾客投诉后24小时内完成登记、分类与初步联系，并在规定时限内提交8D报告。"
    for i in range(1, n + 1):
        body = (words * 20)[: 480 + i % 40]  # ~1.5 KB in UTF-8
        text = model.replace("text: ''", f"text: |\n  REQ{i:04d}：{body}")
        (root / "reqs" / f"REQ{i:04d}.yml").write_text(text, encoding="utf-8")
    git_init_commit(root, stamp, "doorstop tree")
    return root


# --- measures -----------------------------------------------------------------------------

def loose_bytes(root: Path) -> tuple[int, int]:
    """(count, bytes) of the loose objects in root/.git/objects."""
    count = size = 0
    for d in (root / ".git" / "objects").glob("[0-9a-f][0-9a-f]"):
        for f in d.iterdir():
            count += 1
            size += f.stat().st_size
    return count, size


def growth(root: Path) -> tuple[int, int]:
    """(objects, bytes) git writes for one `qms complaint new` commit in root."""
    # no objects of earlier runs' commits left (the reflog keeps them) for this one to reuse
    git(root, "reflog", "expire", "--expire=now", "--all")
    git(root, "gc", "-q", "--prune=now")
    run(QMS + ["-C", root] + NEW, ok=(0,))  # warm-up (and .pyc)
    c0, b0 = loose_bytes(root)
    run(QMS + ["-C", root] + NEW, ok=(0,))
    c1, b1 = loose_bytes(root)
    return c1 - c0, b1 - b0


def git_growth(root: Path) -> tuple[int, int, str, int]:
    """(objects, bytes, folder, its entries) git writes committing one new complaint file with plain git into
    the fullest complaint folder (what qms would write if it put new records into shards)."""
    folder = max({f.parent for f in (root / "records" / "complaint").rglob("*.yaml")},
                 key=lambda d: sum(1 for _ in d.iterdir()))
    j = 1
    while (folder / f"CMP-2098-{j:05d}.yaml").exists():
        j += 1
    rel = (folder / f"CMP-2098-{j:05d}.yaml").relative_to(root).as_posix()
    (root / rel).write_text(complaint_text(1, random.Random(j)).replace("CMP-2026-00001", Path(rel).stem), encoding="utf-8")
    c0, b0 = loose_bytes(root)
    git(root, "add", rel)
    git(root, "commit", "-q", "-m", "x", "--", rel)
    c1, b1 = loose_bytes(root)
    return c1 - c0, b1 - b0, folder.relative_to(root).as_posix(), sum(1 for _ in folder.iterdir())


def peak_memory(cmd: list[str]) -> tuple[float, float, float]:
    """(seconds, max RSS in MB of the largest single process, from RUSAGE_CHILDREN: the measure
    with the target; peak in MB of the summed PSS of the whole process tree, validate's worker
    processes included, sampled from /proc every 50 ms: shown for information). Measured from a
    fresh wrapper process so that earlier children do not count."""
    wrapper = (
        "import resource, subprocess, sys, time, threading, os\n"
        "def tree(top):\n"
        "    parent = {}\n"
        "    for d in filter(str.isdigit, os.listdir('/proc')):\n"
        "        try:\n"
        "            parent[int(d)] = int(open(f'/proc/{d}/stat').read().rsplit(')', 1)[1].split()[1])\n"
        "        except (OSError, IndexError):\n"
        "            pass\n"
        "    def pss(pid):\n"
        "        try:\n"
        "            for line in open(f'/proc/{pid}/smaps_rollup'):\n"
        "                if line.startswith('Pss:'):\n"
        "                    return int(line.split()[1]) * 1024\n"
        "        except OSError:\n"
        "            pass\n"
        "        return 0\n"
        "    def size(pid):\n"
        "        return pss(pid) + sum(size(k) for k, p in parent.items() if p == pid)\n"
        "    return size(top)\n"
        "t = time.perf_counter()\n"
        "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "peak = 0\n"
        "while p.poll() is None:\n"
        "    peak = max(peak, tree(p.pid)); time.sleep(0.05)\n"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, peak)\n"
    )
    out = run([PY, "-c", wrapper, *cmd], ok=(0,), stdout=subprocess.PIPE).stdout.decode().split()
    return float(out[0]), int(out[1]) / 1024, int(out[2]) / 2**20


PARSE = ("import sys, yaml\n"
         "for f in sys.stdin.read().splitlines():\n"
         "    with open(f, 'rb') as fh: yaml.load(fh.read(), Loader=yaml.CSafeLoader)\n")


def parse_baseline(root: Path, runs: int) -> float:
    """Median time of a python parsing every record file of root with CSafeLoader."""
    listing = "\n".join(map(str, record_files(root))).encode()
    times = []
    for i in range(runs + 1):
        t = time.perf_counter()
        p = subprocess.run([PY, "-c", PARSE], check=False, input=listing, env=ENV, stdout=DEVNULL, stderr=subprocess.PIPE)
        if p.returncode:
            raise SystemExit(f"PyYAML baseline failed: {p.stderr.decode()[-500:]}")
        if i:
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def new_baseline(root: Path, runs: int) -> float:
    """import typer, ruamel.yaml, git + git add + git commit of one small new file in root."""
    imports = median([PY, "-c", "import typer, ruamel.yaml, git"], runs)
    adds, commits = [], []
    rnd = random.Random(0)
    for i in range(runs + 1):
        j = 1
        while (root / "records" / "complaint" / f"CMP-2099-{j:05d}.yaml").exists():
            j += 1
        rel = f"records/complaint/CMP-2099-{j:05d}.yaml"
        (root / rel).write_text(complaint_text(1, rnd).replace("CMP-2026-00001", f"CMP-2099-{j:05d}"), encoding="utf-8")
        a = timed(["git", "add", rel], root, ok=(0,))
        c = timed(["git", "commit", "-q", "-m", "x", "--", rel], root, ok=(0,))
        if i:
            adds.append(a)
            commits.append(c)
    return imports + statistics.median(adds) + statistics.median(commits)


def change_one(root: Path):
    """A setup that rewrites one complaint's batch, alternating two values."""
    path = next((root / "records" / "complaint").rglob("CMP-2026-00001.yaml"))
    flip = [0]

    def setup():
        flip[0] += 1
        text = path.read_text(encoding="utf-8")
        path.write_text(re.sub(r"^batch: .*$", f"batch: HZ260101-X{flip[0] % 2}", text, count=1, flags=re.MULTILINE),
                        encoding="utf-8")
    return setup


def new_complaint(root: Path):
    """A setup that makes a fresh received complaint (untimed) and returns its ID."""
    def setup():
        return run(QMS + ["-C", root] + NEW, ok=(0,), stdout=subprocess.PIPE).stdout.decode().split()[0]
    return setup


def print_rows(rows) -> None:
    print()
    print(f"{'measure':<44} {'median':>9}  {'baseline':<32} {'median':>9}  {'ratio':>7}  {'target':<7} result")
    for label, t, blabel, b, ratio, target, ok in rows:
        print(f"{label:<44} {t:8.3f}s  {blabel:<32} {b:8.3f}s  {ratio:7.2f}  {target:<7} {'ok' if ok else 'MISSED'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000", help="record counts of the stores, comma-separated")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per measure (slow measures: at most 3)")
    ap.add_argument("--big", action="store_true", help="add the 100,000-record memory row")
    ap.add_argument("--doorstop", type=int, default=1000, metavar="N", help="doorstop items (0: no doorstop row)")
    ap.add_argument("--publish", type=int, default=0, metavar="N",
                    help="qms publish of N records vs doorstop publish all of N items (0: no publish rows)")
    ap.add_argument("--layout", choices=("flat", "year", "hundred"), default="hundred",
                    help="records/<type>/ID.yaml, .../<year>/ID.yaml or .../<ID less its last two digits>xx/ID.yaml")
    ap.add_argument("--only", choices=("sync", "publish"), help="run only these rows (publish: of --publish N, "
                    "default 10,000)")
    args = ap.parse_args()
    runs = max(1, args.runs)
    slow = min(runs, 3)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    rows = []  # (measure, seconds, baseline label, baseline seconds, ratio, target, ok)

    def row(label, t, blabel, b, target):
        op, limit = target.split()
        ratio = t / b
        ok = ratio <= float(limit) if op == "<=" else ratio >= float(limit)
        rows.append((label, t, blabel, b, ratio, target, ok))
        print(f"  {label}: {t:.3f}s vs {b:.3f}s", file=sys.stderr, flush=True)

    if args.only == "sync":
        sync_rows(runs, args.layout, row)
        print_rows(rows)
        return
    if args.only == "publish":
        publish_rows(args.publish or 10_000, args.layout, runs, slow, row)
        print_rows(rows)
        return

    typer_t = median([PY, "-c", "import typer"], runs * 2)
    for label, cmd in (("qms --version", QMS + ["--version"]), ("qms --help", QMS + ["--help"])):
        row(label, median(cmd, runs * 2, ok=(0,)), "python -c 'import typer'", typer_t, "<= 1.3")

    small = make_store(SMALL, mixed=False)
    stores = {}
    for n in sizes:
        root = stores[n] = make_store(n, args.layout)
        cold = median(QMS + ["-C", root, "validate", "--no-cache"], slow)
        row(f"validate --no-cache, {n:,} (cold)", cold, "PyYAML CSafeLoader parse", parse_baseline(root, slow), "<= 1.5")
        row(f"validate, {n:,}, warm", median(QMS + ["-C", root, "validate"], runs), "the cold validate", cold, "<= 0.1")
        setup = change_one(root)
        row(f"validate, {n:,}, one changed", median(QMS + ["-C", root, "validate"], runs, setup=setup),
            "the cold validate", cold, "<= 0.1")
        git(root, "checkout", "-q", "--", ".")
        row(f"complaint list --overdue, {n:,}", median(QMS + ["-C", root, "complaint", "list", "--overdue"], slow),
            "the cold validate", cold, "<= 1")
        row(f"report complaints, {n:,}", median(QMS + ["-C", root, "report", "complaints"], slow),
            "the cold validate", cold, "<= 1")
        for tally in (["on-time", "--period", "2026"], ["failures"]):  # counted on the workers, per record
            row(f"report {tally[0]}, {n:,}", median(QMS + ["-C", root, "report", *tally], slow),
                "the cold validate", cold, "<= 1")
        show = ["complaint", "show", "CMP-2026-00005"]
        row(f"complaint show, {n:,}", median(QMS + ["-C", root] + show, runs, ok=(0,)),
            f"the same on {SMALL}", median(QMS + ["-C", small] + show, runs, ok=(0,)), "<= 1.2")
        new_small = median(QMS + ["-C", small] + NEW, runs, ok=(0,))
        new_big = median(QMS + ["-C", root] + NEW, runs, ok=(0,))
        row(f"complaint new, {n:,}", new_big, f"the same on {SMALL}", new_small, "<= 1.2")
        row(f"complaint new, {n:,}", new_big, "imports + git add + commit", new_baseline(root, runs), "<= 1.5")
        # acknowledging is the sales role's (刘洋 in the sample store's qms.yaml)
        sales = ["env", "GIT_AUTHOR_NAME=刘洋", "GIT_AUTHOR_EMAIL=liu.yang@example.com",
                 "GIT_COMMITTER_NAME=刘洋", "GIT_COMMITTER_EMAIL=liu.yang@example.com"]
        move = lambda r: lambda rid: sales + QMS + ["-C", r, "complaint", "move", rid, "acknowledged"] + ACK
        row(f"complaint move, {n:,}", median(move(root), runs, setup=new_complaint(root), ok=(0,)),
            f"the same on {SMALL}", median(move(small), runs, setup=new_complaint(small), ok=(0,)), "<= 1.2")

    log = make_log_store()
    rid = "CMP-2026-00007"
    fmt = "--format=%H%x1f%aI%x1f%an%x1f%ae%x1f%s%x1f%b"
    row(f"qms log, {LOG_COMMITS:,} commits", median(QMS + ["-C", log, "log", rid], runs, ok=(0,)),
        "git log -- FILE", median(["git", "log", fmt, "--", f"records/complaint/{rid}.yaml"], runs, cwd=log, ok=(0,)),
        "<= 1.5")

    # audit reads every commit: against git's own walk of the same history with the files
    # each commit changed. The demo store (the sample store and the demo's acts) and the
    # 10,000-commit store.
    name_status = ["git", "log", "--name-status"]
    row(f"qms audit, {LOG_COMMITS:,} commits", median(QMS + ["-C", log, "audit"], slow),
        "git log --name-status", median(name_status, runs, cwd=log, ok=(0,)), "<= 3")
    demo = OUT / "demo"
    shutil.rmtree(demo, ignore_errors=True)
    run(QMS + ["demo", str(demo)], ok=(0,))
    commits = git(demo, "rev-list", "--count", "HEAD").strip()
    row(f"qms audit, demo store ({commits} commits)", median(QMS + ["-C", demo, "audit"], runs),
        "git log --name-status", median(name_status, runs, cwd=demo, ok=(0,)), "<= 3")

    memory = None
    if args.big:
        big = make_store(100_000, args.layout)
        run(QMS + ["-C", big, "validate", "--no-cache"])  # warm-up
        memory = peak_memory(QMS + ["-C", big, "validate", "--no-cache"])

    if args.doorstop:
        n = args.doorstop
        exe = doorstop_bin()
        tree = make_doorstop_tree(n, exe)
        qms_root = stores.get(n) or make_store(n, args.layout)
        qms_t = median(QMS + ["-C", qms_root, "validate", "--no-cache"], slow)
        door_t = median([exe], min(slow, 2), cwd=tree, ok=None)
        # the ratio is qms's speed-up (doorstop / qms), the target a minimum
        row(f"doorstop, {n:,} items (speed-up)", door_t, f"qms validate --no-cache, {n:,}", qms_t, ">= 20")

    sync_rows(runs, args.layout, row)
    if args.publish:
        publish_rows(args.publish, args.layout, runs, slow, row)

    print_rows(rows)
    if memory:
        secs, rss, tree_rss = memory
        print(f"{'peak memory, validate 100,000':<36} {rss:7.0f}MB  {'max RSS, largest process':<32} "
              f"{'':9}  {'':7}  <= 500  {'ok' if rss <= 500 else 'MISSED'}")
        print(f"  (that validate took {secs:.1f}s; its whole process tree, workers included, peaked at "
              f"{tree_rss:.0f} MB of summed PSS)")

    grown = [(root.name, growth(root), git_growth(root)) for root in (make_store(10_000, "flat"), make_store(10_000, "year"), make_store(10_000, "hundred"))]

    print("\naverage record size, as generated:")
    for name, (count, avg) in SIZES.items():
        print(f"  {name:<24} {count:>7,} records  {avg:6.0f} bytes")
    print("\nrepository growth, one `qms complaint new` commit (loose objects written, after a packed start):")
    for name, (objs, size), (gobjs, gsize, folder, entries) in grown:
        print(f"  {name:<24} qms: {objs} objects, {size:>9,} bytes;   plain git commit of a new file in "
              f"{folder}/ ({entries:,} entries): {gobjs} objects, {gsize:,} bytes")


def publish_rows(n: int, layout: str, runs: int, slow: int, row) -> None:
    """qms publish of the N-record store, into an empty folder and again after one `qms
    complaint set`, against doorstop's `publish all` of N items into an empty folder (the
    ratio is qms's speed-up)."""
    exe = doorstop_bin()
    tree = make_doorstop_tree(n, exe)
    root = make_store(n, layout)
    site, door_site = OUT / f"site-{n}", OUT / f"doorstop-site-{n}"
    door_t = median([exe, "publish", "all", door_site], slow, cwd=tree, ok=(0,),
                    setup=lambda: shutil.rmtree(door_site, ignore_errors=True))
    full_t = median(QMS + ["-C", root, "publish", site], slow, ok=(0,),
                    setup=lambda: shutil.rmtree(site, ignore_errors=True))
    zh_t = median(QMS + ["-C", root, "publish", site, "--lang", "zh"], slow, ok=(0,),
                  setup=lambda: shutil.rmtree(site, ignore_errors=True))
    shutil.rmtree(site, ignore_errors=True)
    flip = [0]

    def one_change():  # a field of one complaint, two values in turn, as a quality engineer sets it
        flip[0] += 1
        run(QMS + ["-C", root, "complaint", "set", "CMP-2026-00001", f"batch=HZ260101-X{flip[0] % 2}"], ok=(0,))
    run(QMS + ["-C", root, "publish", site], ok=(0,))  # the site the changes are published into
    inc_t = median(QMS + ["-C", root, "publish", site], runs, ok=(0,), setup=one_change)
    row(f"doorstop publish, {n:,} (speed-up)", door_t, f"qms publish, {n:,}, new folder", full_t, ">= 3")
    row(f"doorstop publish, {n:,} (speed-up)", door_t, f"qms publish, {n:,}, one changed", inc_t, ">= 20")
    row(f"doorstop publish, {n:,} (speed-up)", door_t, f"qms publish --lang zh, {n:,}", zh_t, ">= 0")
    git(root, "reset", "-q", "--hard", "HEAD~" + str(flip[0]))  # the store as generated again


if __name__ == "__main__":
    main()
