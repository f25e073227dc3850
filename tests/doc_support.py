"""Helpers for the document-control tests (test_documents.py): the people of the document
store, a `Docs` handle that runs the real CLI against that store at a given day as a given
person, checks that refusals change nothing, and the few steps every scenario repeats
(register a document, take a revision to effective, issue a copy).

The store's qms.yaml and the records the tests start from are stated as YAML text in
test_documents.py; nothing here knows any ID in advance."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conftest import git, make_store, sets
from ruamel.yaml import YAML

# The people of the document store (qms.yaml in test_documents.py names them).
DC = ("赵敏", "zhao.min@example.com")  # document_controller
QM = ("王强", "wang.qiang@example.com")  # quality_manager, and department_head of 质量部
MR = ("张伟", "zhang.wei@example.com")  # management_representative
GM = ("陈静", "chen.jing@example.com")  # general_manager
QE = ("李雷", "li.lei@example.com")  # quality_engineer
PROD = ("周涛", "zhou.tao@example.com")  # department_head of 生产部
OUTSIDER = ("Eve Outsider", "eve@example.com")  # holds no role


def moment(at: str) -> str:
    """'2026-03-05' or '2026-03-05T14:30' as an instant in the store's time zone."""
    if len(at) == 10:
        at += "T09:00"
    if len(at) == 16:
        at += ":00"
    return at + "+08:00"


@dataclass
class Docs:
    """The document store at `root`, driven through the in-process `qms` fixture."""

    qms: Callable
    root: Path
    scratch: Path
    ids: dict[str, str] = field(default_factory=dict)  # names a scenario gave its records

    # -- running the CLI ------------------------------------------------------------------
    def env(self, at: str) -> dict[str, str]:
        iso = moment(at)
        return {"GIT_AUTHOR_DATE": iso, "GIT_COMMITTER_DATE": iso, "QMS_NOW": iso}

    def run(self, *args: str, who=DC, at: str = "2026-03-02"):
        return self.qms(*args, who=who, env=self.env(at), root=self.root)

    def ok(self, *args: str, who=DC, at: str = "2026-03-02") -> str:
        r = self.run(*args, who=who, at=at)
        assert r.code == 0, f"qms {' '.join(args)} as {who[0]}: exit {r.code}\n{r.text}"
        return r.out.strip()

    def refused(self, *args: str, who=DC, at: str = "2026-03-02", says=(), code: int = 1):
        """Run a command that must be refused: exit `code`, every phrase of `says` on
        stderr, and neither HEAD nor the working tree changed."""
        head, status = self.head(), self.status()
        r = self.run(*args, who=who, at=at)
        assert r.code == code, (
            f"expected exit {code} from qms {' '.join(args)}, got {r.code}\n{r.text}"
        )
        for phrase in [says] if isinstance(says, str) else says:
            assert phrase in r.err, f"{phrase!r} not in the message:\n{r.err}"
        assert "Traceback" not in r.text
        assert self.head() == head, "a refused action made a commit"
        assert self.status() == status, "a refused action changed the working tree"
        return r

    # -- reading the store ------------------------------------------------------------------
    def head(self) -> str:
        return git(self.root, "rev-parse", "HEAD").strip()

    def status(self) -> str:
        return git(self.root, "status", "--porcelain", "--untracked-files=all")

    def load(self, type_name: str, rid: str) -> dict[str, Any]:
        return YAML(typ="safe").load(
            (self.root / "records" / type_name / f"{rid}.yaml").read_text("utf-8")
        )

    def yaml_file(self, name: str, text: str) -> Path:
        """An input file (outside the store) holding `text`."""
        p = self.scratch / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text), encoding="utf-8")
        return p

    def attach(self, rel: str, text: str) -> str:
        """A content file added to the store and committed, as a person would do it."""
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        git(self.root, "add", rel)
        git(self.root, "commit", "-q", "-m", f"content {rel}")
        return rel

    # -- steps every scenario repeats -------------------------------------------------------
    def register(self, yaml_text: str, at: str = "2026-03-02", who=DC) -> str:
        f = self.yaml_file(f"doc-{len(list(self.scratch.glob('doc-*')))}.yaml", yaml_text)
        return self.ok("document", "new", "--file", str(f), who=who, at=at)

    def draft(self, doc: str, change: str, summary: str, *, who=DC, at: str) -> str:
        return self.ok(
            "revision",
            "new",
            *sets(f"document={doc}", f"change={change}", f"summary={summary}"),
            who=who,
            at=at,
        )

    def submit(
        self,
        rev: str,
        content_rel: str,
        content: str,
        *,
        reason: str = "按程序要求",
        who=DC,
        at: str,
    ):
        self.attach(content_rel, content)
        self.ok(
            "revision",
            "move",
            rev,
            "in_review",
            *sets(f"reason={reason}", f"content={content_rel}"),
            who=who,
            at=at,
        )

    def approve(self, rev: str, *, who, at: str, published: str, effective: str):
        self.ok(
            "revision",
            "move",
            rev,
            "approved",
            *sets(f"published_date={published}", f"effective_date={effective}"),
            who=who,
            at=at,
        )

    def release(
        self,
        doc: str,
        change: str,
        summary: str,
        *,
        reviewer,
        approver,
        days: tuple[str, str, str, str],
        preparer=DC,
        effective: str | None = None,
        content: str | None = None,
    ) -> str:
        """A revision from draft to effective: prepared and submitted on days[0], reviewed on
        days[1], approved on days[2] (published that day), in force on days[3]."""
        rev = self.draft(doc, change, summary, who=preparer, at=days[0])
        self.submit(
            rev,
            f"files/document/{doc}/{rev}.md",
            content or f"{doc} {summary}\n",
            who=preparer,
            at=days[0],
        )
        self.ok("revision", "move", rev, "reviewed", who=reviewer, at=days[1])
        self.approve(
            rev, who=approver, at=days[2], published=days[2], effective=effective or days[3]
        )
        self.ok("revision", "move", rev, "effective", who=DC, at=days[3])
        return rev

    def issue(
        self, doc: str, department: str, person: str, *, who, at: str, extra: tuple[str, ...] = ()
    ) -> str:
        return self.ok(
            "distribution",
            "new",
            *sets(
                f"document={doc}",
                f"holder.department={department}",
                f"holder.person={person}",
                f"issued_on={at[:10]}",
                *extra,
            ),
            who=who,
            at=at,
        )


_BUILT: dict[str, tuple[Path, dict[str, str]]] = {}


def docs_store(
    qms, tmp_path: Path, config: str, name: str = "", build: Callable[[Docs], None] | None = None
) -> Docs:
    """A document store for one test. With `name` and `build`, the scenario is played once
    (in the first test that asks for it) and every test gets its own copy of the result."""
    root = tmp_path / "docs"
    scratch = tmp_path / "inputs"
    scratch.mkdir(exist_ok=True)
    if not name:
        return Docs(qms, make_store(root, config), scratch)
    if name not in _BUILT:
        base = tmp_path.parent / f"built-{name}"
        shutil.rmtree(base, ignore_errors=True)
        d = Docs(qms, make_store(base / "docs", config), base / "inputs")
        d.scratch.mkdir()
        assert build is not None
        build(d)
        assert d.status() == "", f"scenario {name} left the store unclean:\n{d.status()}"
        _BUILT[name] = (base, dict(d.ids))
    base, ids = _BUILT[name]
    shutil.copytree(base / "docs", root, symlinks=True)
    return Docs(qms, root, scratch, dict(ids))
