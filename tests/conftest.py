"""Temporary git stores and a way to run the real `qms` command line against them.

`store` is a fresh git repository with a qms.yaml whose roles are held by the test
people below; `qms(...)` runs the CLI in-process through typer's runner (fast) and
`qms_subprocess(...)` runs `python -m qms_cli` in a child process (for concurrency,
crashes and the exact bytes a user sees). Both return a `Run` with code/out/err."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# The tests read qms's messages in English (the stores they make say `lang: zh`, which
# would otherwise make qms speak Chinese); tests/test_i18n.py checks the Chinese.
os.environ["QMS_LANG"] = "en"

QE = ("李雷", "li.lei@example.com")  # quality_engineer
QE2 = ("韩梅梅", "han.meimei@example.com")  # quality_engineer
QM = ("王强", "wang.qiang@example.com")  # quality_manager
OUTSIDER = ("Eve Outsider", "eve@example.com")  # holds no role
FORMER = ("周杰", "zhou.jie@example.com")  # quality_engineer until 2026-05-31
SALES = ("刘洋", "liu.yang@example.com")  # sales only
GM = ("赵总", "zhao.zong@example.com")  # general_manager

CONFIG = """\
company: 测试汽车部件有限公司
site: HZ
lang: zh
timezone: Asia/Shanghai
time_limits: iatf16949
calendar:
  workdays: []
  holidays: []
roles:
  quality_engineer:
    label: {zh: 质量工程师, en: Quality engineer}
    holders:
      - {name: 李雷, email: li.lei@example.com, from: 2024-01-01}
      - {name: 韩梅梅, email: han.meimei@example.com}
      - {name: 周杰, email: zhou.jie@example.com, from: 2022-01-01, until: 2026-05-31}
  quality_manager:
    label: {zh: 质量部经理, en: Quality manager}
    holders:
      - {name: 王强, email: wang.qiang@example.com}
  # In these tests the quality engineers also speak for sales (the first contact and the
  # clarification with the customer are sales' steps); tests of that rule name others.
  sales:
    label: {zh: 销售部, en: Sales}
    holders:
      - {name: 李雷, email: li.lei@example.com, from: 2024-01-01}
      - {name: 周杰, email: zhou.jie@example.com, from: 2022-01-01, until: 2026-05-31}
      - {name: 刘洋, email: liu.yang@example.com}
      - {name: 韩梅梅, email: han.meimei@example.com}
  general_manager:
    label: {zh: 总经理, en: General manager}
    holders:
      - {name: 赵总, email: zhao.zong@example.com}
"""

# The fields a complaint needs in state 'received', as --set arguments.
RECEIVED = [
    "customer.name=上汽大众汽车有限公司",
    "product.part_number=5QD 611 701 B",
    "channel=phone",
    "received_at=2026-03-06T10:00",
    "original=oral",
    "description=接头渗油",
    "class=general",
]
# What investigating and correcting a general complaint need (its dates are each test's own).
INVESTIGATE = ["investigation.departments=质控部,技术中心"]
CORRECT = [
    "investigation.result=压接外径超差 +0.15 mm",
    "responsibility=ours",
    "disposition=rework",
    "d4.root_cause=压接模具磨损",
    "d5.corrective_action=更换模具并规定模具寿命",
]


def sets(*assignments: str) -> list[str]:
    out: list[str] = []
    for a in assignments:
        out += ["--set", a]
    return out


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def git(root: Path, *args: str) -> str:
    # a file a test commits by hand goes in at the time of the store's last commit
    env = dict(os.environ, **_test_clock(root, {}, after=0)) if args and args[0] == "commit" else None
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True, env=env
    ).stdout


def identity_env(who: tuple[str, str]) -> dict[str, str]:
    name, email = who
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }


STORE_BORN = "2026-01-01T08:00:00+08:00"
# the `complaint` fixture registers its complaint minutes after it was received (RECEIVED)
REGISTERED = {"GIT_AUTHOR_DATE": "2026-03-06T10:05:00+08:00", "GIT_COMMITTER_DATE": "2026-03-06T10:05:00+08:00"}


def make_store(root: Path, config: str = CONFIG) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", QE[0])
    git(root, "config", "user.email", QE[1])
    git(root, "config", "commit.gpgsign", "false")
    (root / "qms.yaml").write_text(textwrap.dedent(config), encoding="utf-8")
    (root / ".gitignore").write_text(".qms/\n", encoding="utf-8")
    git(root, "add", "qms.yaml", ".gitignore")
    # dated before every act a test plays: time in a store only runs forward
    subprocess.run(["git", "commit", "-q", "-m", "qms: new store"], cwd=root, check=True, capture_output=True,
                   env=dict(os.environ, GIT_AUTHOR_DATE=STORE_BORN, GIT_COMMITTER_DATE=STORE_BORN))
    return root


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    """No test sees the developer's store, clock, identity or git configuration, nor the
    language an earlier test's command chose (`--lang zh` run in this process)."""
    from qms_cli.i18n import set_language

    set_language(None)
    for var in ("QMS_STORE", "QMS_NOW", "QMS_DEBUG", "GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE",
                "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
                "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "QMS_JOBS"):
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "_home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n", encoding="utf-8")


@pytest.fixture
def store(tmp_path) -> Path:
    return make_store(tmp_path / "store")


def _env(who, env):
    e = {}
    if who is not None:
        e.update(identity_env(who))
    if env:
        e.update(env)
    return e


def _test_clock(root, env: dict, after: int = 1) -> dict:
    """Tests play dated scenarios (received in March, acknowledged 40 minutes later ...),
    and time in a store only runs forward. A command a test does not date runs `after`
    minutes after the store's last commit, as the next act of the scenario would."""
    if "GIT_COMMITTER_DATE" in env or "GIT_COMMITTER_DATE" in os.environ or not root:
        return env
    p = subprocess.run(["git", "log", "-1", "--format=%ct %cI"], cwd=root, capture_output=True, text=True)
    if p.returncode != 0 or not p.stdout.strip():
        return env
    from datetime import datetime, timedelta

    last = datetime.fromisoformat(p.stdout.split()[1]) + timedelta(minutes=after)
    if last > datetime.now(last.tzinfo):
        return env
    stamp = last.isoformat()
    return {**env, "GIT_COMMITTER_DATE": stamp, "GIT_AUTHOR_DATE": env.get("GIT_AUTHOR_DATE", stamp)}


@pytest.fixture
def qms(store):
    """Run `qms -C <store> ARGS...` in-process. who=(name, email) acts as that person."""
    from typer.testing import CliRunner

    from qms_cli.cli import app

    runner = CliRunner()

    def run(*args: str, who=None, env=None, root: Path | None = None, cwd: Path | None = None) -> Run:
        argv = ["-C", str(root or store), *args] if root is not False else list(args)
        old = os.getcwd()
        if cwd:
            os.chdir(cwd)
        try:
            full = _env(who, env)
            result = runner.invoke(app, argv, env=full, catch_exceptions=True)
        finally:
            os.chdir(old)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception  # a traceback a user would have seen
        return Run(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def qms_subprocess(store):
    def run(*args: str, who=None, env=None, root: Path | None = None, cwd: Path | None = None,
            timeout: float = 120) -> Run:
        argv = [sys.executable, "-m", "qms_cli"]
        if root is not False:
            argv += ["-C", str(root or store)]
        full_env = dict(os.environ)
        full_env.update(_env(who, env))
        p = subprocess.run(argv + list(args), capture_output=True, text=True, env=full_env,
                           cwd=cwd or store, timeout=timeout)
        return Run(p.returncode, p.stdout, p.stderr)

    return run


def new_complaint(qms, *assignments: str) -> str:
    """A complaint in state 'received' with RECEIVED's fields overridden by `assignments`."""
    keys = {a.partition("=")[0] for a in assignments}
    fields = [a for a in RECEIVED if a.partition("=")[0] not in keys] + list(assignments)
    r = qms("complaint", "new", *sets(*fields), who=QE, env=REGISTERED)
    assert r.code == 0, r.text
    return r.out.strip()


@pytest.fixture
def complaint(qms):
    """A new general complaint in state 'received'; returns its ID."""
    r = qms("complaint", "new", *sets(*RECEIVED), who=QE, env=REGISTERED)
    assert r.code == 0, r.text
    return r.out.strip()


@pytest.fixture
def sample(tmp_path):
    """A copy of the sample store's qms.yaml, records and their attached files, committed."""
    root = tmp_path / "sample"
    shutil.copytree(REPO / "records", root / "records")
    shutil.copytree(REPO / "files", root / "files")
    shutil.copy(REPO / "qms.yaml", root / "qms.yaml")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-q", "-m", "sample")
    return root


def md_rows(text: str) -> list[list[str]]:
    """The body rows of every Markdown table in `text`, as cells."""
    rows = []
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows
