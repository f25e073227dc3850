"""Document control as the seed has it (seed 000, 文件控制程序): copies made on loan are
controlled copies, recalled when their edition is superseded; a lost copy is void, not
destroyed; whose department head approves an issue is the store's reading to choose."""

from __future__ import annotations

import os
import subprocess

import pytest

from conftest import git, sets
from doc_support import DC, MR, PROD, QE, QM, docs_store, moment
from test_documents import A0_DAYS, A1_DAYS, DOC_CONFIG, PROCEDURE, build_released


@pytest.fixture
def docs(qms, tmp_path):
    return docs_store(qms, tmp_path, DOC_CONFIG)


@pytest.fixture
def released(qms, tmp_path):
    return docs_store(qms, tmp_path, DOC_CONFIG, "released", build_released)


def _copy_loan(d, numbers: list[str], made: int, at="2026-03-10"):
    return d.run("loan", "new", *sets(f"document={d.ids['doc']}", "kind=copy", "borrower.name=钱班长",
                                      "borrower.department=生产部", "purpose=班组培训"), who=QE, at=at), \
        [f"copies_made={made}", f"copy_numbers={','.join(numbers)}"]


def test_copies_made_on_loan_are_numbered_one_by_one(released):
    d = released
    r, extra = _copy_loan(d, ["CY-01"], 2)
    assert r.code == 0, r.text
    loan = r.out.strip()
    d.refused("loan", "move", loan, "approved", *sets(*extra), who=PROD, at="2026-03-10",
              says=["copy_numbers", "holds 1; copies_made is 2"])
    d.ok("loan", "move", loan, "approved", *sets("copies_made=2", "copy_numbers=CY-01,CY-02"), who=PROD, at="2026-03-10")


def test_copies_made_on_loan_are_recalled_with_their_edition(released):
    d = released
    r, _ = _copy_loan(d, [], 0)
    loan = r.out.strip()
    d.ok("loan", "move", loan, "approved", *sets("copies_made=2", "copy_numbers=CY-01,CY-02"), who=PROD, at="2026-03-10")
    d.release(d.ids["doc"], "modification", "增加投诉处理时限", preparer=QM, reviewer=QM, approver=MR, days=A1_DAYS)
    rec = d.load("loan", loan)
    assert rec["recall"]["required"] is True and "A/1" in rec["recall"]["reason"], rec
    report = d.ok("report", "recall", at="2026-04-07")
    assert loan in report and "CY-01" in report, report


def test_a_lost_copy_is_not_destroyed(released):
    d = released
    c1 = d.ids["c1"]
    d.ok("distribution", "move", c1, "lost", "--set", "lost_report=钱班长报告遗失", at="2026-03-20")
    d.refused("destruction", "new", *sets(f"copies={c1}", "reason=回收旧版", "method=shred", "applicant=赵敏"),
              who=DC, at="2026-03-21", says=["copies.*.state", "lost", "recalled or damaged"])


@pytest.mark.parametrize("reading, approver, refused", [
    ("", PROD, QM),  # the receiving department's head (the default)
    ("types:\n  distribution:\n    approvals: {department: document.department}\n", QM, PROD),  # the owning one's
])
def test_whose_head_approves_an_issue_is_the_stores_reading(qms, tmp_path, reading, approver, refused):
    d = docs_store(qms, tmp_path, DOC_CONFIG + reading)
    d.ids["doc"] = d.register(PROCEDURE, at="2026-03-02")  # owned by 质量部
    d.release(d.ids["doc"], "first_issue", "首次发布", reviewer=QM, approver=MR, days=A0_DAYS)
    issue = sets(f"document={d.ids['doc']}", "holder.department=生产部", "holder.person=赵工", "issued_on=2026-03-09")
    d.refused("distribution", "new", *issue, who=refused, at="2026-03-09", says="'department_head'")
    d.ok("distribution", "new", *issue, who=approver, at="2026-03-09")


def test_an_external_standard_keeps_its_own_number(docs):
    """其他外来文件的编号:本身有编号的延用原来编号…不再另行编号 (seed 000)."""
    d = docs
    ext = "title: 商品售后服务评价体系\ncategory: external\nexternal_kind: national_standard\n" \
          "external_number: GB/T 27922-2011\napplicability: 适用于售后服务\ndepartment: 质量部\ncontrolled: true\n"
    rid = d.register(ext)
    assert rid == "GB-T-27922-2011"
    law = d.register("title: 中华人民共和国产品质量法\ncategory: external\nexternal_kind: law\n"
                     "applicability: 适用\ndepartment: 质量部\ncontrolled: true\n")
    assert law == "RE-01"  # only one without a number of its own is numbered
    d.refused("document", "new", "--file", str(d.yaml_file("again.yaml", ext)), says="already registered as document GB-T-27922-2011")
    d.release(rid, "first_issue", "首次受控", reviewer=QE, approver=QM, days=("2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"))
    form = d.ok("render", rid, at="2026-03-06")
    assert "| GB/T 27922-2011 |" in form and "GB-T-27922-2011 |" not in form.split("###")[0]
    register = d.ok("report", "controlled-documents", at="2026-03-06")
    assert "| GB/T 27922-2011 | 商品售后服务评价体系 |" in register, register


def test_each_department_has_the_register_of_what_it_uses(released):
    d = released
    out = d.ok("report", "documents-in-use", at="2026-03-10")
    production = out.split("### 领用部门：生产部", 1)[1].split("###", 1)[0]
    quality = out.split("### 领用部门：质量部", 1)[1]
    assert production.count("| LX-CX-2026-001 |") == 2 and quality.count("| LX-CX-2026-001 |") == 1, out


def test_a_reports_where_reads_as_lists_do(released):
    """report --where takes list's conditions: contains, a label, and a mistyped field is an
    error naming the closest one, never an empty ledger."""
    d = released
    whole = d.ok("report", "controlled-documents", at="2026-03-10")
    assert "LX-CX-2026-001" in whole
    assert "LX-CX-2026-001" in d.ok("report", "controlled-documents", "--where", "department~质量", at="2026-03-10")
    assert "LX-CX-2026-001" not in d.ok("report", "controlled-documents", "--where", "department~生产", at="2026-03-10")
    r = d.run("report", "controlled-documents", "--where", "departmnt=质量部", at="2026-03-10")
    assert r.code == 2 and "did you mean 'department'?" in r.err, r.text


def test_audit_judges_a_department_heads_signature_by_department_as_the_write_path_does(released):
    """周涛 heads 生产部: the write path refuses him an issue to 质量部, and a history in which
    such a signature was written by hand (and the commit made in his name) is a finding."""
    d = released
    d.refused("distribution", "new", *sets(f"document={d.ids['doc']}", "holder.department=质量部",
                                           "holder.person=李雷", "issued_on=2026-03-10"),
              who=PROD, at="2026-03-10T09:00", says="for department '质量部'")
    dst = d.issue(d.ids["doc"], "质量部", "李雷", who=QM, at="2026-03-10T09:00")
    path = next((d.root / "records" / "distribution").rglob(f"{dst}.yaml"))
    path.write_text(path.read_text(encoding="utf-8").replace(QM[1], PROD[1]).replace(QM[0], PROD[0]), encoding="utf-8")
    git(d.root, "add", "-A")
    env = dict(os.environ, GIT_COMMITTER_NAME=PROD[0], GIT_COMMITTER_EMAIL=PROD[1],
               GIT_COMMITTER_DATE=moment("2026-03-10T09:00"))
    subprocess.run(["git", "commit", "-q", "--amend", "--no-edit", "--author", f"{PROD[0]} <{PROD[1]}>"],
                   cwd=d.root, check=True, env=env)
    r = d.run("audit", at="2026-03-10T10:00")
    assert r.code == 1, r.text
    assert f"{PROD[1]} did not hold the role department_head for department '质量部' on 2026-03-10" in r.out, r.out
