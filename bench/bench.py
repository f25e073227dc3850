"""Benchmarks: prints a table of medians and ratios against baselines measured in the same
run (machines here are shared and noisy; only ratios from one run are comparable).

    python bench/bench.py              # 1,000 and 10,000 records
    python bench/bench.py --sizes 1000 # quicker
    python bench/bench.py --sizes 100000 --runs 1

Stores are generated once under bench/out/ (git-ignored): complaints and document-control
records in the proportions of the sample store, Chinese text, about 1.5 KB each, committed
in git. Not part of the test suite."""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
PY = sys.executable
QMS = [PY, "-m", "qms_cli"]
ENV = dict(os.environ, GIT_AUTHOR_NAME="李雷", GIT_AUTHOR_EMAIL="li.lei@example.com",
           GIT_COMMITTER_NAME="李雷", GIT_COMMITTER_EMAIL="li.lei@example.com")

NEW = ["complaint", "new", "--set", "customer.name=上汽大众汽车有限公司", "--set", "product.part_number=5QD 611 701 B",
       "--set", "channel=phone", "--set", "received_at=2026-03-06T10:00", "--set", "original=oral",
       "--set", "description=接头渗油", "--set", "class=general"]


def median(cmd: list[str], runs: int, cwd: Path | None = None, setup=None) -> float:
    times = []
    for _ in range(runs):
        if setup:
            setup()
        t = time.perf_counter()
        p = subprocess.run(cmd, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append(time.perf_counter() - t)
        if p.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(map(str, cmd))} failed: {p.stderr.decode()[-500:]}")
    return statistics.median(times)


def complaint_text(i: int, rnd: random.Random) -> str:
    day = 1 + i % 28
    month = 1 + (i // 28) % 12
    words = "客户装配线发现制动软管接头处渗油，批量发生，生产线停线。临时对策：库存及在途产品全检。" * 6
    return (
        f"id: CMP-2026-{i:05d}\ntype: complaint\nstate: acknowledged\n"
        f"customer:\n  name: 上汽大众汽车有限公司（安亭总装{rnd.randint(1, 9)}厂）\n  contact_person: 孙工\n"
        f"product:\n  name: 前制动软管总成\n  part_number: 5QD 611 {rnd.randint(100, 999)} B\n"
        f"batch: HZ26{month:02d}{day:02d}-B{rnd.randint(1, 9)}\nquantity_affected: {rnd.randint(1, 2000)}\n"
        f"channel: email\nreceived_at: 2026-{month:02d}-{day:02d} 09:40:00+08:00\nreceived_by: 李雷\n"
        f"original: oral\ndescription: {words[: 200 + rnd.randint(0, 150)]}\nclass: general\n"
        f"major_quality_problem: false\nreply_needed: true\n"
        f"contact:\n  at: 2026-{month:02d}-{day:02d} 10:30:00+08:00\n  by: 李雷\n  summary: {words[:120]}\n"
        f"interim_countermeasure: {words[:160]}\n"
        f"signatures:\n  - meaning: acknowledged\n    name: 李雷\n    email: li.lei@example.com\n"
        f"    role: quality_engineer\n    at: 2026-{month:02d}-{day:02d} 10:30:00+08:00\n"
        f"    from: received\n    to: acknowledged\n"
    )


def make_store(n: int) -> Path:
    root = OUT / f"store-{n}"
    if (root / ".git").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    (root / "records" / "complaint").mkdir(parents=True)
    shutil.copy(REPO / "qms.yaml", root / "qms.yaml")
    (root / ".gitignore").write_text(".qms/\n", encoding="utf-8")
    rnd = random.Random(n)
    for i in range(1, n + 1):
        (root / "records" / "complaint" / f"CMP-2026-{i:05d}.yaml").write_text(complaint_text(i, rnd), encoding="utf-8")
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "bench store"]):
        subprocess.run(["git", *args], cwd=root, env=ENV, check=True)
    return root


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    runs = args.runs
    rows = []
    typer_t = median([PY, "-c", "import typer"], runs * 2)
    for label, cmd in (("qms --version", QMS + ["--version"]), ("qms --help", QMS + ["--help"])):
        t = median(cmd, runs * 2)
        rows.append((label, t, "python -c 'import typer'", typer_t, "<= 1.3"))
    small = make_store(10)
    for n in [int(s) for s in args.sizes.split(",")]:
        root = make_store(n)
        files = sorted((root / "records" / "complaint").glob("*.yaml"))
        base = median([PY, "-c", "import sys, yaml\nfor f in sys.argv[1:]: yaml.load(open(f,'rb').read(), Loader=yaml.CSafeLoader)",
                       *map(str, files)], max(1, runs // 2))
        cold = median(QMS + ["-C", str(root), "validate"], max(1, runs // 2))
        rows.append((f"validate, {n:,} records, cold", cold, "PyYAML CSafeLoader parse only", base, "<= 1.5"))
        show_small = median(QMS + ["-C", str(small), "complaint", "show", "CMP-2026-00005"], runs)
        show_big = median(QMS + ["-C", str(root), "complaint", "show", "CMP-2026-00005"], runs)
        rows.append((f"complaint show, {n:,} records", show_big, "the same on 10 records", show_small, "<= 1.2"))
        new_small = median(QMS + ["-C", str(small)] + NEW, runs)
        new_big = median(QMS + ["-C", str(root)] + NEW, runs)
        rows.append((f"complaint new, {n:,} records", new_big, "the same on 10 records", new_small, "<= 1.2"))
        overdue = median(QMS + ["-C", str(root), "complaint", "list", "--overdue"], max(1, runs // 2))
        rows.append((f"complaint list --overdue, {n:,}", overdue, "the cold validate", cold, "<= 1"))
    print(f"{'measure':<36} {'median':>8}   {'baseline':<32} {'median':>8}  {'ratio':>6}  target")
    for label, t, blabel, b, target in rows:
        print(f"{label:<36} {t:8.3f}s  {blabel:<32} {b:8.3f}s  {t / b:6.2f}  {target}")


if __name__ == "__main__":
    main()
