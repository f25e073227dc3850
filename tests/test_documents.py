"""Document control (DOMAIN.md §1; qms_cli/types/{document,revision,distribution,
destruction,loan}.yaml) in a real temporary git store: a document registered under its
category's number, its first edition A/0 prepared, reviewed and approved by the people the
category names, put in force, copied to departments; a second edition that supersedes it and
flags every copy of the old one for recall in one commit; damaged and lost copies; making a
document obsolete; destruction; loans; periodic review; pinned content; the register and the
revision history. Every refusal is checked to leave HEAD and the working tree as they were."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from datetime import datetime

import pytest
from conftest import git, sets
from doc_support import DC, GM, MR, OUTSIDER, PROD, QE, QM, Docs, docs_store

# The document store: who holds which role, and who reviews and approves what (as the
# project's own qms.yaml, with department heads limited to their departments).
DOC_CONFIG = """\
company: 立信汽车部件股份有限公司
site: HZ
lang: zh
timezone: Asia/Shanghai
time_limits: iatf16949
calendar:
  workdays: []
  holidays: []
roles:
  document_controller:
    label: {zh: 文控, en: Document controller}
    holders:
      - {name: 赵敏, email: zhao.min@example.com, from: 2024-01-01}
  quality_manager:
    label: {zh: 质量部经理, en: Quality manager}
    holders:
      - {name: 王强, email: wang.qiang@example.com, from: 2023-01-01}
  management_representative:
    label: {zh: 管理者代表, en: Management representative}
    holders:
      - {name: 张伟, email: zhang.wei@example.com, from: 2023-01-01}
  general_manager:
    label: {zh: 总经理, en: General manager}
    holders:
      - {name: 陈静, email: chen.jing@example.com, from: 2021-06-01}
  quality_engineer:
    label: {zh: 质量工程师, en: Quality engineer}
    holders:
      - {name: 李雷, email: li.lei@example.com, from: 2024-03-01}
  department_head:
    label: {zh: 部门负责人, en: Department head}
    holders:
      - {name: 周涛, email: zhou.tao@example.com, department: 生产部, from: 2022-03-01}
      - {name: 王强, email: wang.qiang@example.com, department: 质量部, from: 2023-01-01}
approvals:
  manual: {review: management_representative, approve: general_manager}
  procedure: {review: quality_manager, approve: management_representative}
  regulation: {review: quality_manager, approve: management_representative}
  work_instruction: {review: quality_engineer, approve: department_head}
  technical: {review: quality_engineer, approve: department_head}
  external: {review: quality_engineer, approve: quality_manager}
  form: {review: document_controller, approve: department_head}
"""

# The documents the tests register, as `qms document new --file` reads them.
PROCEDURE = """\
title: 客户投诉处理程序
category: procedure
department: 质量部
controlled: true
medium: paper
review_period_months: 12
"""
PROCEDURE_2 = """\
title: 不合格品控制程序
category: procedure
department: 质量部
controlled: true
"""
WORK_INSTRUCTION = """\
title: 压接工序作业指导书
category: work_instruction
department: 生产部
controlled: true
"""
QUALITY_WORK_INSTRUCTION = """\
title: 气密检测作业指导书
category: work_instruction
department: 质量部
controlled: true
"""
MANUAL = """\
title: 售后服务手册
category: manual
department: 质量部
controlled: true
"""
EXTERNAL = """\
title: 商品售后服务评价体系
category: external
external_kind: national_standard
external_number: GB/T 27922-2011
issuer: 国家标准化管理委员会
applicability: 适用于本公司售后服务体系的建立与评价
department: 质量部
controlled: true
"""
EXTERNAL_LAW = """\
title: 中华人民共和国产品质量法
category: external
external_kind: law
issuer: 全国人民代表大会常务委员会
applicability: 适用于本公司产品质量责任
department: 质量部
controlled: true
"""
EXTERNAL_UNIDENTIFIED = """\
title: 顾客特殊要求
category: external
department: 质量部
controlled: true
"""
UNCONTROLLED = """\
title: 食堂管理制度
category: regulation
department: 质量部
controlled: false
"""

# The first edition of PROCEDURE: prepared and submitted, reviewed, approved (published),
# in force; and the second one (A/1), prepared by the quality manager.
A0_DAYS = ("2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05")
A1_DAYS = ("2026-04-01", "2026-04-02", "2026-04-03", "2026-04-06")


def build_released(d: Docs) -> None:
    """PROCEDURE in force at A/0 since 2026-03-05, with copies 1 and 2 in 生产部 and 3 in 质量部."""
    doc = d.register(PROCEDURE, at="2026-03-02")
    d.ids["doc"] = doc
    d.ids["a0"] = d.release(doc, "first_issue", "首次发布", reviewer=QM, approver=MR, days=A0_DAYS)
    d.ids["c1"] = d.issue(doc, "生产部", "钱班长", who=PROD, at="2026-03-06")
    d.ids["c2"] = d.issue(
        doc, "生产部", "孙工", who=PROD, at="2026-03-06", extra=("holder.location=压接车间",)
    )
    d.ids["c3"] = d.issue(doc, "质量部", "李雷", who=QM, at="2026-03-06T10:00")


def build_superseded(d: Docs) -> None:
    """As released, then A/1 (prepared by 王强) in force since 2026-04-06."""
    build_released(d)
    d.ids["a1"] = d.release(
        d.ids["doc"],
        "modification",
        "增加投诉处理时限",
        preparer=QM,
        reviewer=QM,
        approver=MR,
        days=A1_DAYS,
    )


@pytest.fixture
def docs(qms, tmp_path) -> Docs:
    return docs_store(qms, tmp_path, DOC_CONFIG)


@pytest.fixture
def released(qms, tmp_path) -> Docs:
    return docs_store(qms, tmp_path, DOC_CONFIG, "released", build_released)


@pytest.fixture
def superseded(qms, tmp_path) -> Docs:
    return docs_store(qms, tmp_path, DOC_CONFIG, "superseded", build_superseded)


def committed_files(d: Docs, rev: str = "HEAD") -> set[str]:
    return set(git(d.root, "show", "--name-only", "--format=", rev).split())


def trailers(d: Docs, key: str, rev: str = "HEAD") -> list[str]:
    body = git(d.root, "show", "-s", "--format=%B", rev)
    return [line.split(": ", 1)[1] for line in body.splitlines() if line.startswith(f"{key}: ")]


def sha256(d: Docs, rel: str) -> str:
    return hashlib.sha256((d.root / rel).read_bytes()).hexdigest()


def listed(d: Docs, type_name: str, *args: str, at: str) -> list[str]:
    return [row["id"] for row in json.loads(d.ok("--json", type_name, "list", *args, at=at))]


# ---------------------------------------------------------------------------------- register


def test_numbers_are_per_category_the_manual_once_a_year_external_documents_by_sequence(docs):
    assert docs.register(PROCEDURE) == "LX-CX-2026-001"
    assert docs.register(PROCEDURE_2) == "LX-CX-2026-002"
    assert docs.register(WORK_INSTRUCTION) == "LX-WI-2026-001"
    assert docs.register(MANUAL) == "LX-SH-2026"
    # an external document keeps its own number; only one without a number gets RE-xx (seed 000)
    assert docs.register(EXTERNAL) == "GB-T-27922-2011"
    assert docs.register(EXTERNAL_LAW) == "RE-01"
    assert docs.register(EXTERNAL_LAW) == "RE-02"
    docs.refused("document", "new", "--file", str(docs.yaml_file("again.yaml", EXTERNAL)),
                 says="already registered as document GB-T-27922-2011")
    second_manual = docs.yaml_file("manual-again.yaml", MANUAL)
    docs.refused("document", "new", "--file", str(second_manual), says="LX-SH-2026 already exists")
    # a new year: the manual's number is free again and the procedures count from 001
    assert docs.register(MANUAL, at="2027-01-05") == "LX-SH-2027"
    assert docs.register(PROCEDURE, at="2027-01-05") == "LX-CX-2027-001"
    assert docs.register(EXTERNAL_LAW, at="2027-01-05") == "RE-03"


def test_registering_is_one_commit_signed_by_the_document_controller(docs):
    doc = docs.register(PROCEDURE)
    assert committed_files(docs) == {f"records/document/{doc}.yaml"}
    assert (
        git(docs.root, "show", "-s", "--format=%an <%ae>", "HEAD").strip()
        == "赵敏 <zhao.min@example.com>"
    )
    assert trailers(docs, "QMS-Signature") == ["registered by zhao.min@example.com"]
    record = docs.load("document", doc)
    assert record["state"] == "active"
    assert [(s["meaning"], s["name"]) for s in record["signatures"]] == [("registered", "赵敏")]
    assert "edition" not in record  # no edition until a revision is in force


@pytest.mark.parametrize("who", [QE, MR, OUTSIDER])
def test_only_the_document_controller_registers_documents(docs, who):
    f = docs.yaml_file("p.yaml", PROCEDURE)
    docs.refused(
        "document", "new", "--file", str(f), who=who, says=[who[1], "'document_controller'"]
    )


def test_an_external_document_needs_its_kind_and_applicability(docs):
    f = docs.yaml_file("e.yaml", EXTERNAL_UNIDENTIFIED)
    docs.refused("document", "new", "--file", str(f), says=["external_kind", "applicability"])


# ------------------------------------------------------------------------- the first edition


def test_a_procedure_from_draft_to_effective_with_the_right_people(docs):
    doc = docs.register(PROCEDURE)
    rev = docs.draft(doc, "first_issue", "首次发布", at="2026-03-02")
    draft = docs.load("revision", rev)
    assert (draft["state"], draft["edition"]) == ("draft", "A/0")
    assert "previous_edition" not in draft

    docs.submit(rev, "files/document/cx001-A0.md", "# 客户投诉处理程序\n", at="2026-03-02T10:00")
    # reviewed by the quality manager, nobody else
    for who in (MR, QE, DC):
        docs.refused(
            "revision",
            "move",
            rev,
            "reviewed",
            who=who,
            at="2026-03-03",
            says=[who[1], "'quality_manager'"],
        )
    docs.ok("revision", "move", rev, "reviewed", who=QM, at="2026-03-03")
    # approved by the management representative, nobody else
    approval = sets("published_date=2026-03-04", "effective_date=2026-03-05")
    for who in (QM, GM, DC):
        docs.refused(
            "revision",
            "move",
            rev,
            "approved",
            *approval,
            who=who,
            at="2026-03-04",
            says=[who[1], "'management_representative'"],
        )
    # in force no earlier than it is approved
    docs.refused(
        "revision",
        "move",
        rev,
        "approved",
        *sets("published_date=2026-03-04", "effective_date=2026-03-03"),
        who=MR,
        at="2026-03-04",
        says=["effective_date", "2026-03-03 is before the 'approved' signature"],
    )
    docs.ok("revision", "move", rev, "approved", *approval, who=MR, at="2026-03-04")
    assert docs.load("revision", rev)["content_sha256"] == sha256(
        docs, "files/document/cx001-A0.md"
    )
    # released by the document controller, not before its effective date
    docs.refused(
        "revision",
        "move",
        rev,
        "effective",
        at="2026-03-04T16:00",
        says=["effective_date", "2026-03-05 is after today (2026-03-04)"],
    )
    docs.refused(
        "revision", "move", rev, "effective", who=MR, at="2026-03-05", says="'document_controller'"
    )
    docs.ok("revision", "move", rev, "effective", at="2026-03-05")

    record = docs.load("document", doc)
    assert record["edition"] == "A/0"
    assert record["effective_revision"] == rev
    assert str(record["published_date"]) == "2026-03-04"
    assert str(record["effective_date"]) == "2026-03-05"
    assert committed_files(docs) == {f"records/revision/{rev}.yaml", f"records/document/{doc}.yaml"}
    assert trailers(docs, "QMS-Effect") == [
        f"document/{doc} set edition effective_revision published_date effective_date"
    ]
    signed = [(s["meaning"], s["name"]) for s in docs.load("revision", rev)["signatures"]]
    assert signed == [
        ("prepared", "赵敏"),
        ("submitted", "赵敏"),
        ("reviewed", "王强"),
        ("approved", "张伟"),
        ("released", "赵敏"),
    ]


def test_review_and_approval_signatures_name_the_role_the_category_asks_for(released):
    """The signature says in which role it was made (the form's 角色 column, the audit)."""
    sigs = {s["meaning"]: s for s in released.load("revision", released.ids["a0"])["signatures"]}
    assert sigs["reviewed"]["role"] == "quality_manager"
    assert sigs["approved"]["role"] == "management_representative"


# (document, reviewer, a wrong reviewer, approver, a wrong approver, the role the wrong approver lacks)
CHAINS = {
    "manual": (MANUAL, MR, QM, GM, MR, ["'general_manager'"]),
    "work instruction of 生产部": (
        WORK_INSTRUCTION,
        QE,
        DC,
        PROD,
        QM,
        ["'department_head'", "'生产部'"],
    ),
    "work instruction of 质量部": (
        QUALITY_WORK_INSTRUCTION,
        QE,
        DC,
        QM,
        PROD,
        ["'department_head'", "'质量部'"],
    ),
    "external document": (EXTERNAL, QE, QM, QM, MR, ["'quality_manager'"]),
}


@pytest.mark.parametrize("chain", CHAINS.values(), ids=list(CHAINS))
def test_who_reviews_and_approves_follows_the_category_and_the_owning_department(docs, chain):
    text, reviewer, wrong_reviewer, approver, wrong_approver, lacks = chain
    doc = docs.register(text)
    rev = docs.draft(doc, "first_issue", "首次发布", at="2026-03-02")
    docs.submit(rev, f"files/document/{doc}.md", "内容\n", at="2026-03-02")
    docs.refused(
        "revision",
        "move",
        rev,
        "reviewed",
        who=wrong_reviewer,
        at="2026-03-03",
        says=wrong_reviewer[1],
    )
    docs.ok("revision", "move", rev, "reviewed", who=reviewer, at="2026-03-03")
    approval = sets("published_date=2026-03-04", "effective_date=2026-03-04")
    docs.refused(
        "revision",
        "move",
        rev,
        "approved",
        *approval,
        who=wrong_approver,
        at="2026-03-04",
        says=[wrong_approver[1], *lacks],
    )
    docs.ok("revision", "move", rev, "approved", *approval, who=approver, at="2026-03-04")
    docs.ok("revision", "move", rev, "effective", at="2026-03-04")
    assert docs.load("document", doc)["edition"] == "A/0"


def test_the_approvals_table_is_read_from_qms_yaml(qms, tmp_path):
    config = DOC_CONFIG.replace(
        "procedure: {review: quality_manager, approve: management_representative}",
        "procedure: {review: quality_manager, approve: general_manager}",
    )
    d = docs_store(qms, tmp_path, config)
    doc = d.register(PROCEDURE)
    rev = d.draft(doc, "first_issue", "首次发布", at="2026-03-02")
    d.submit(rev, "files/p.md", "内容\n", at="2026-03-02")
    d.ok("revision", "move", rev, "reviewed", who=QM, at="2026-03-03")
    approval = sets("published_date=2026-03-04", "effective_date=2026-03-05")
    d.refused(
        "revision",
        "move",
        rev,
        "approved",
        *approval,
        who=MR,
        at="2026-03-04",
        says="'general_manager'",
    )
    d.ok("revision", "move", rev, "approved", *approval, who=GM, at="2026-03-04")


def test_content_that_is_not_in_the_store_is_refused_when_submitted_for_review(released):
    rev = released.draft(released.ids["doc"], "modification", "增加时限", at="2026-04-01")
    released.refused(
        "revision",
        "move",
        rev,
        "in_review",
        *sets("reason=IATF 16949 要求", "content=files/document/missing.md"),
        at="2026-04-01",
        says=["content", "files/document/missing.md"],
    )
    assert released.load("revision", rev)["state"] == "draft"


# ------------------------------------------------------------------------------------ editions


@pytest.mark.parametrize("edition", ["A/3", "A/0", "B/0"])
def test_a_skipped_or_repeated_edition_is_refused_naming_the_expected_one(released, edition):
    released.refused(
        "revision",
        "new",
        *sets(
            f"document={released.ids['doc']}",
            "change=modification",
            "summary=增加时限",
            f"edition={edition}",
        ),
        at="2026-04-01",
        says=["edition", "expected A/1"],
    )


def test_a_modification_of_a0_is_a1(released):
    rev = released.draft(released.ids["doc"], "modification", "增加时限", at="2026-04-01")
    record = released.load("revision", rev)
    assert (record["previous_edition"], record["edition"]) == ("A/0", "A/1")


def test_a_first_issue_of_a_document_in_force_is_refused_saying_why(released):
    released.refused(
        "revision",
        "new",
        *sets(f"document={released.ids['doc']}", "change=first_issue", "summary=重新发布"),
        at="2026-04-01",
        says=["edition", "A/0"],
    )


def test_a_document_without_an_edition_starts_with_a_first_issue(docs):
    doc = docs.register(PROCEDURE)
    docs.refused(
        "revision",
        "new",
        *sets(f"document={doc}", "change=modification", "summary=修订"),
        says=["edition", "first_issue"],
    )


def test_a_reissue_after_a1_is_b0(superseded):
    rev = superseded.draft(superseded.ids["doc"], "reissue", "改版", who=QE, at="2026-05-04")
    record = superseded.load("revision", rev)
    assert (record["previous_edition"], record["edition"]) == ("A/1", "B/0")


# ---------------------------------------------------------------------------------------- copies


def test_copies_are_numbered_1_2_3_and_issued_by_the_head_of_the_holders_department(released):
    d = released
    copies = [d.load("distribution", d.ids[c]) for c in ("c1", "c2", "c3")]
    assert [c["copy_number"] for c in copies] == [1, 2, 3]
    assert [c["edition"] for c in copies] == ["A/0"] * 3
    assert [(c["holder"]["department"], c["signatures"][0]["name"]) for c in copies] == [
        ("生产部", "周涛"),
        ("生产部", "周涛"),
        ("质量部", "王强"),
    ]
    doc = d.ids["doc"]
    to_production = sets(
        f"document={doc}", "holder.department=生产部", "holder.person=赵工", "issued_on=2026-03-07"
    )
    d.refused(
        "distribution",
        "new",
        *to_production,
        who=QM,
        at="2026-03-07",
        says=["wang.qiang@example.com", "'department_head'", "'生产部'"],
    )
    d.refused(
        "distribution", "new", *to_production, who=DC, at="2026-03-07", says="'department_head'"
    )
    assert d.ok("distribution", "new", *to_production, who=PROD, at="2026-03-07") == "DST-2026-0004"
    assert d.load("distribution", "DST-2026-0004")["copy_number"] == 4


def test_a_copy_number_given_by_hand_that_repeats_one_is_refused(released):
    d = released
    for number in ("2", "3"):
        d.refused(
            "distribution",
            "new",
            *sets(
                f"document={d.ids['doc']}",
                "holder.department=生产部",
                "holder.person=赵工",
                "issued_on=2026-03-07",
                f"copy_number={number}",
            ),
            who=PROD,
            at="2026-03-07",
            says=["copy_number", "expected 4"],
        )


def test_a_copy_is_of_the_current_edition_only(released):
    d = released
    d.refused(
        "distribution",
        "new",
        *sets(
            f"document={d.ids['doc']}",
            "holder.department=生产部",
            "holder.person=赵工",
            "issued_on=2026-03-07",
            "edition=A/1",
        ),
        who=PROD,
        at="2026-03-07",
        says=["edition", "A/0"],
    )


def test_no_copy_of_a_document_with_no_edition_in_force(docs):
    doc = docs.register(PROCEDURE)
    issue = sets(
        f"document={doc}", "holder.department=质量部", "holder.person=李雷", "issued_on=2026-03-04"
    )
    docs.refused("distribution", "new", *issue, who=QM, at="2026-03-04", says="document.edition")
    # approved is not yet in force
    rev = docs.draft(doc, "first_issue", "首次发布", at="2026-03-02")
    docs.submit(rev, "files/p.md", "内容\n", at="2026-03-02")
    docs.ok("revision", "move", rev, "reviewed", who=QM, at="2026-03-03")
    docs.approve(rev, who=MR, at="2026-03-04", published="2026-03-04", effective="2026-03-05")
    docs.refused("distribution", "new", *issue, who=QM, at="2026-03-04", says="document.edition")


def test_no_copy_of_an_obsolete_document(released):
    d = released
    d.ok(
        "document",
        "move",
        d.ids["doc"],
        "obsolete",
        "--set",
        "obsolete_reason=并入质量手册",
        at="2026-05-01",
    )
    d.refused(
        "distribution",
        "new",
        *sets(
            f"document={d.ids['doc']}",
            "holder.department=质量部",
            "holder.person=李雷",
            "issued_on=2026-05-02",
        ),
        who=QM,
        at="2026-05-02",
        says=["document.state", "obsolete"],
    )


def test_a_damaged_copy_is_reissued_under_its_own_number(released):
    d = released
    c2 = d.ids["c2"]
    d.ok(
        "distribution",
        "move",
        c2,
        "damaged",
        *sets("damage=油污，第 3 页无法辨认", "recalled_on=2026-03-20"),
        at="2026-03-20",
    )
    replacement = d.issue(
        d.ids["doc"], "生产部", "孙工", who=PROD, at="2026-03-20T10:00", extra=(f"replaces={c2}",)
    )
    assert d.load("distribution", replacement)["copy_number"] == 2
    assert d.load("distribution", c2)["state"] == "damaged"
    # the next new copy still counts on from the highest number
    assert (
        d.load("distribution", d.issue(d.ids["doc"], "质量部", "王强", who=QM, at="2026-03-22"))[
            "copy_number"
        ]
        == 4
    )


def test_a_copy_is_replaced_once_and_only_when_taken_back_damaged_or_lost(released):
    d = released
    c1, c2 = d.ids["c1"], d.ids["c2"]
    d.ok(
        "distribution",
        "move",
        c2,
        "damaged",
        *sets("damage=油污", "recalled_on=2026-03-20"),
        at="2026-03-20",
    )
    d.issue(
        d.ids["doc"], "生产部", "孙工", who=PROD, at="2026-03-20T10:00", extra=(f"replaces={c2}",)
    )
    again = sets(
        f"document={d.ids['doc']}",
        "holder.department=生产部",
        "holder.person=孙工",
        "issued_on=2026-03-21",
        f"replaces={c2}",
    )
    d.refused(
        "distribution", "new", *again, who=PROD, at="2026-03-21", says=[c2, "already been replaced"]
    )
    still_out = sets(
        f"document={d.ids['doc']}",
        "holder.department=生产部",
        "holder.person=钱班长",
        "issued_on=2026-03-21",
        f"replaces={c1}",
    )
    d.refused("distribution", "new", *still_out, who=PROD, at="2026-03-21", says=[c1, "issued"])


def test_a_lost_copy_is_replaced_under_a_new_number_and_its_own_is_void(released):
    d = released
    c1 = d.ids["c1"]
    d.ok(
        "distribution",
        "move",
        c1,
        "lost",
        "--set",
        "lost_report=钱班长报告 3 月 18 日遗失",
        at="2026-03-20",
    )
    replacement = d.issue(
        d.ids["doc"], "生产部", "钱班长", who=PROD, at="2026-03-20T10:00", extra=(f"replaces={c1}",)
    )
    assert d.load("distribution", replacement)["copy_number"] == 4
    d.refused(
        "distribution",
        "new",
        *sets(
            f"document={d.ids['doc']}",
            "holder.department=生产部",
            "holder.person=赵工",
            "issued_on=2026-03-21",
            "copy_number=1",
        ),
        who=PROD,
        at="2026-03-21",
        says=["copy_number", "expected 5"],
    )


# ---------------------------------------------------------------- a new edition and the recall


def test_a_new_edition_supersedes_the_old_and_flags_every_copy_of_it_in_one_commit(released):
    d = released
    doc, a0 = d.ids["doc"], d.ids["a0"]
    copies = [d.ids[c] for c in ("c1", "c2", "c3")]
    a1 = d.release(
        doc, "modification", "增加投诉处理时限", preparer=QM, reviewer=QM, approver=MR, days=A1_DAYS
    )

    assert committed_files(d) == {
        f"records/revision/{a1}.yaml",
        f"records/revision/{a0}.yaml",
        f"records/document/{doc}.yaml",
        *(f"records/distribution/{c}.yaml" for c in copies),
    }
    assert trailers(d, "QMS-Effect") == [
        f"document/{doc} set edition effective_revision published_date effective_date",
        f"revision/{a0} move superseded",
        *(f"distribution/{c} set recall.required recall.reason recall.flagged_on" for c in copies),
    ]
    assert d.status() == ""
    old = d.load("revision", a0)
    assert old["state"] == "superseded"
    assert (old["signatures"][-1]["meaning"], old["signatures"][-1]["name"]) == (
        "superseded",
        "赵敏",
    )
    record = d.load("document", doc)
    assert (record["edition"], record["effective_revision"], str(record["effective_date"])) == (
        "A/1",
        a1,
        "2026-04-06",
    )
    for c in copies:
        copy = d.load("distribution", c)
        assert copy["state"] == "issued" and copy["edition"] == "A/0"
        assert copy["recall"]["required"] is True
        assert "A/1" in copy["recall"]["reason"] and a1 in copy["recall"]["reason"]
        assert str(copy["recall"]["flagged_on"]) == "2026-04-06"
    # copies of the new edition are not to be recalled
    new = d.issue(doc, "生产部", "钱班长", who=PROD, at="2026-04-07")
    assert d.load("distribution", new)["edition"] == "A/1"
    assert "recall" not in d.load("distribution", new)


def test_a_copy_already_taken_back_is_not_flagged(released):
    d = released
    d.ok(
        "distribution",
        "move",
        d.ids["c3"],
        "recalled",
        *sets("recalled_on=2026-03-30", "recalled_by=赵敏"),
        at="2026-03-30",
    )
    d.release(
        d.ids["doc"], "modification", "增加投诉处理时限", reviewer=QM, approver=MR, days=A1_DAYS
    )
    assert "recall" not in d.load("distribution", d.ids["c3"])
    assert f"records/distribution/{d.ids['c3']}.yaml" not in committed_files(d)


RECALL_COLUMNS = [
    "文件编号",
    "文件名称",
    "版本/修订",
    "分发编号",
    "领用人",
    "存放地点",
    "回收原因",
    "通知日期",
    "发放记录编号",
]


def test_the_recall_report_lists_the_flagged_copies_by_holder(superseded):
    d = superseded
    doc, a1, c1, c2, c3 = (d.ids[k] for k in ("doc", "a1", "c1", "c2", "c3"))
    reason = f"已被 A/1 版替代（{a1}）"
    md = d.ok("report", "recall", at="2026-04-07")
    production = md.index("### 领用部门：生产部")
    quality = md.index("### 领用部门：质量部")
    assert production < quality
    assert (
        f"| {doc} | 客户投诉处理程序 | A/0 | 2 | 孙工 | 压接车间 | {reason} | 2026-04-06 | {c2} |"
        in md[production:quality]
    )
    assert (
        f"| {doc} | 客户投诉处理程序 | A/0 | 1 | 钱班长 |  | {reason} | 2026-04-06 | {c1} |"
        in md[production:quality]
    )
    assert (
        f"| {doc} | 客户投诉处理程序 | A/0 | 3 | 李雷 |  | {reason} | 2026-04-06 | {c3} |"
        in md[quality:]
    )
    assert md.rstrip().endswith("合计：3")

    report = json.loads(d.ok("--json", "report", "recall", at="2026-04-07"))
    assert report["columns"] == RECALL_COLUMNS
    assert report["count"] == 3
    assert {g["group"]: sorted(r[-1] for r in g["rows"]) for g in report["groups"]} == {
        "生产部": sorted([c1, c2]),
        "质量部": [c3],
    }

    rows = list(
        csv.reader(
            io.StringIO(
                d.ok("report", "recall", "--format", "csv", at="2026-04-07").lstrip("\ufeff")
            )
        )
    )
    assert rows[0] == ["领用部门", *RECALL_COLUMNS]
    assert sorted((r[0], r[4], r[-1]) for r in rows[1:]) == [
        ("生产部", "1", c1),
        ("生产部", "2", c2),
        ("质量部", "3", c3),
    ]

    from openpyxl import load_workbook

    out = d.scratch / "recall.xlsx"
    d.ok("report", "recall", "--format", "xlsx", "-o", str(out), at="2026-04-07")
    sheet = load_workbook(out).active
    cells = [[c if c is not None else "" for c in row] for row in sheet.iter_rows(values_only=True)]
    cells = cells[[row[0] for row in cells].index(rows[0][0]):]  # the table, below its title block

    def shown(c):  # dates and numbers are real Excel cells, so sums and filters work
        return c.strftime("%Y-%m-%d") if isinstance(c, datetime) else str(c)

    assert [[shown(c) for c in row] for row in cells] == rows
    flagged = [row[rows[0].index(RECALL_COLUMNS[-2])] for row in cells[1:]]
    assert flagged and all(isinstance(c, datetime) for c in flagged), flagged
    numbers = [row[4] for row in cells[1:]]
    assert sorted(numbers) == [1, 2, 3], numbers


def test_a_recalled_copy_leaves_the_recall_list(superseded):
    d = superseded
    c1 = d.ids["c1"]
    d.refused(
        "distribution",
        "move",
        c1,
        "recalled",
        *sets("recalled_on=2026-04-08", "recalled_by=周涛"),
        who=PROD,
        at="2026-04-08",
        says="'document_controller'",
    )
    d.refused(
        "distribution",
        "move",
        c1,
        "recalled",
        "--set",
        "recalled_on=2026-04-08",
        at="2026-04-08",
        says="recalled_by",
    )
    d.ok(
        "distribution",
        "move",
        c1,
        "recalled",
        *sets("recalled_on=2026-04-08", "recalled_by=赵敏"),
        at="2026-04-08",
    )
    assert committed_files(d) == {f"records/distribution/{c1}.yaml"}
    report = json.loads(d.ok("--json", "report", "recall", at="2026-04-08"))
    assert report["count"] == 2
    assert c1 not in [r[-1] for g in report["groups"] for r in g["rows"]]


# -------------------------------------------------------------------------------------- obsolete


def test_making_a_document_obsolete_flags_its_issued_copies(released):
    d = released
    doc = d.ids["doc"]
    d.ok(
        "distribution",
        "move",
        d.ids["c3"],
        "recalled",
        *sets("recalled_on=2026-04-30", "recalled_by=赵敏"),
        at="2026-04-30",
    )
    d.refused(
        "document",
        "move",
        doc,
        "obsolete",
        "--set",
        "obsolete_reason=并入质量手册",
        who=QM,
        at="2026-05-01",
        says="'document_controller'",
    )
    d.refused("document", "move", doc, "obsolete", at="2026-05-01", says="obsolete_reason")
    d.ok(
        "document",
        "move",
        doc,
        "obsolete",
        "--set",
        "obsolete_reason=并入质量手册",
        at="2026-05-01",
    )
    assert d.load("document", doc)["state"] == "obsolete"
    assert committed_files(d) == {
        f"records/document/{doc}.yaml",
        *(f"records/distribution/{d.ids[c]}.yaml" for c in ("c1", "c2")),
    }
    for c in ("c1", "c2"):
        recall = d.load("distribution", d.ids[c])["recall"]
        assert recall["required"] is True and "并入质量手册" in recall["reason"]
        assert str(recall["flagged_on"]) == "2026-05-01"
    assert "recall" not in d.load("distribution", d.ids["c3"])
    report = json.loads(d.ok("--json", "report", "recall", at="2026-05-02"))
    assert sorted(r[-1] for g in report["groups"] for r in g["rows"]) == [d.ids["c1"], d.ids["c2"]]


# ------------------------------------------------------------------------------------ destruction


def test_destruction_of_an_obsolete_document_and_its_copies(released):
    d = released
    doc, c1, c2, c3 = (d.ids[k] for k in ("doc", "c1", "c2", "c3"))
    other = d.register(PROCEDURE_2, at="2026-04-20")
    d.ok(
        "document",
        "move",
        doc,
        "obsolete",
        "--set",
        "obsolete_reason=并入质量手册",
        at="2026-05-01",
    )
    d.ok(
        "distribution",
        "move",
        c1,
        "recalled",
        *sets("recalled_on=2026-05-03", "recalled_by=赵敏"),
        at="2026-05-03",
    )
    d.ok(
        "distribution",
        "move",
        c2,
        "recalled",
        *sets("recalled_on=2026-05-03", "recalled_by=赵敏"),
        at="2026-05-03",
    )
    d.ok(
        "distribution", "set", c2, "retained=true", "retention_reason=留作培训样本", at="2026-05-03"
    )

    def apply(*fields: str):
        return (
            "destruction",
            "new",
            *sets("reason=作废文件销毁", "method=shred", "applicant=赵敏", *fields),
        )

    d.refused(*apply(f"copies={c3}"), at="2026-05-04", says=[c3, "issued"])  # still out
    d.refused(*apply(f"copies={c2}"), at="2026-05-04", says=[c2, "retained"])
    d.refused(*apply("copies=DST-2026-0099"), at="2026-05-04", says="DST-2026-0099")
    d.refused(*apply(f"documents={other}"), at="2026-05-04", says=[other, "active"])
    des = d.ok(*apply(f"documents={doc}", f"copies={c1}"), at="2026-05-04")

    for who in (DC, QM, GM):
        d.refused(
            "destruction",
            "move",
            des,
            "approved",
            who=who,
            at="2026-05-05",
            says=[who[1], "'management_representative'"],
        )
    d.ok("destruction", "move", des, "approved", who=MR, at="2026-05-05")
    d.ok(
        "destruction",
        "move",
        des,
        "destroyed",
        *sets("executed_by=钱芳", "executing_department=行政部", "destroyed_on=2026-05-06"),
        at="2026-05-06",
    )
    assert committed_files(d) == {
        f"records/destruction/{des}.yaml",
        f"records/document/{doc}.yaml",
        f"records/distribution/{c1}.yaml",
    }
    assert d.load("distribution", c1)["destroyed_by"] == des
    assert d.load("document", doc)["destroyed_by"] == des
    assert "destroyed_by" not in d.load("distribution", c2)
    # destroyed once only
    d.refused(*apply(f"copies={c1}"), at="2026-05-07", says=[c1, "destroyed_by"])
    d.refused(*apply(f"documents={doc}"), at="2026-05-07", says=[doc, "destroyed_by"])
    # the whole life leaves a store that validates and a history that passes the audit
    for check in ("validate", "audit"):
        r = d.run(check, at="2026-05-07")
        assert r.code == 0, r.text


# ------------------------------------------------------------------------------------------ loans


def test_a_loan_approved_by_the_borrowers_head_overdue_after_its_due_date_and_returned(released):
    d = released
    loan = d.ok(
        "loan",
        "new",
        *sets(
            f"document={d.ids['doc']}",
            "kind=borrow",
            "borrower.name=钱班长",
            "borrower.department=生产部",
            "purpose=班组培训",
            "due_date=2026-03-20",
        ),
        who=QE,
        at="2026-03-10",
    )
    assert d.load("loan", loan)["edition"] == "A/0"
    d.refused(
        "loan",
        "move",
        loan,
        "approved",
        who=QM,
        at="2026-03-10",
        says=["'department_head'", "'生产部'"],
    )
    d.ok("loan", "move", loan, "approved", who=PROD, at="2026-03-10")
    assert listed(d, "loan", "--overdue", at="2026-03-20T18:00") == []
    assert listed(d, "loan", "--overdue", at="2026-03-21T09:00") == [loan]
    d.refused(
        "loan",
        "move",
        loan,
        "returned",
        "--set",
        "returned_on=2026-03-22",
        at="2026-03-22",
        says="received_back_by",
    )
    d.ok(
        "loan",
        "move",
        loan,
        "returned",
        *sets("returned_on=2026-03-22", "received_back_by=赵敏"),
        at="2026-03-22",
    )
    assert listed(d, "loan", "--overdue", at="2026-03-25") == []
    assert listed(d, "loan", at="2026-03-25") == [loan]


def test_no_loan_of_a_document_with_no_edition_in_force(docs):
    doc = docs.register(PROCEDURE)
    docs.refused(
        "loan",
        "new",
        *sets(
            f"document={doc}",
            "kind=borrow",
            "borrower.name=钱班长",
            "borrower.department=生产部",
            "purpose=培训",
            "due_date=2026-03-20",
        ),
        who=QE,
        at="2026-03-10",
        says="document.edition",
    )


# ------------------------------------------------------------------------------- periodic review


def test_a_periodic_review_moves_the_review_deadline(released):
    d = released
    doc = d.ids["doc"]
    d.register(UNCONTROLLED, at="2026-03-09")  # no review period: never due
    assert listed(d, "document", "--overdue", at="2027-03-05T12:00") == []
    assert listed(d, "document", "--overdue", at="2027-04-01") == [
        doc
    ]  # 12 months after 2026-03-05

    d.ok(
        "document",
        "set",
        doc,
        "reviews+={at: 2026-06-01, by: 赵敏, outcome: no_change}",
        at="2026-06-01",
    )
    reviews = d.load("document", doc)["reviews"]
    assert [(str(r["at"]), r["by"], r["outcome"]) for r in reviews] == [
        ("2026-06-01", "赵敏", "no_change")
    ]
    shown = json.loads(d.ok("--json", "document", "show", doc, at="2027-04-01"))
    assert [(x["name"], x["due"][:10], x["status"]) for x in shown["deadlines"]] == [
        ("review", "2027-06-01", "open")
    ]
    assert listed(d, "document", "--overdue", at="2027-04-01") == []
    assert listed(d, "document", "--overdue", at="2027-06-02") == [doc]


def test_an_obsolete_document_is_not_due_for_review(released):
    d = released
    d.ok(
        "document",
        "move",
        d.ids["doc"],
        "obsolete",
        "--set",
        "obsolete_reason=并入质量手册",
        at="2026-05-01",
    )
    assert listed(d, "document", "--overdue", at="2027-04-01") == []


# -------------------------------------------------------------------------------- pinned content


def test_approved_content_is_pinned(released):
    d = released
    a0 = d.ids["a0"]
    rel = d.load("revision", a0)["content"]
    assert d.load("revision", a0)["content_sha256"] == sha256(d, rel)
    # an approved (not yet effective) revision is pinned too
    a1 = d.draft(d.ids["doc"], "modification", "增加投诉处理时限", at="2026-04-01")
    d.submit(a1, "files/document/a1.md", "A/1 内容\n", at="2026-04-01")
    d.ok("revision", "move", a1, "reviewed", who=QM, at="2026-04-02")
    d.approve(a1, who=MR, at="2026-04-03", published="2026-04-03", effective="2026-04-06")
    assert d.load("revision", a1)["content_sha256"] == sha256(d, "files/document/a1.md")
    d.attach("files/document/a1-v2.md", "A/1 内容（改）\n")
    for rev, value, why in (
        (a1, "content=files/document/a1-v2.md", "pinned"),
        (a0, "content=files/document/a1-v2.md", "pinned"),
        (a1, "content_sha256=" + "0" * 64, "kept by qms"),
    ):
        d.refused("revision", "set", rev, value, at="2026-04-04", says=[rev, why])
    r = d.run("validate", at="2026-04-04")
    assert r.code == 0, r.text

    (d.root / "files/document/a1.md").write_text("A/1 内容，批准后被改动\n", encoding="utf-8")
    r = d.run("validate", at="2026-04-04")
    assert r.code == 1, r.text
    findings = [line for line in r.out.splitlines() if line.strip()]
    assert len(findings) == 1, r.text
    assert re.match(
        rf"records/revision/{a1}\.yaml:\d+: content: 'files/document/a1\.md' changed after it was approved",
        findings[0],
    ), findings[0]


# -------------------------------------------------------------------------------- the register


def test_the_controlled_documents_list_per_department_with_editions_and_copy_counts(released):
    d = released
    doc = d.ids["doc"]
    # (after the `released` store's last act, on 2026-03-06: time in a store runs forward)
    wi = d.register(WORK_INSTRUCTION, at="2026-03-09")
    d.release(wi, "first_issue", "首次发布", reviewer=QE, approver=PROD,
              days=("2026-03-09", "2026-03-10", "2026-03-11", "2026-03-12"))
    d.issue(wi, "生产部", "钱班长", who=PROD, at="2026-03-13")
    d.register(UNCONTROLLED, at="2026-03-13")
    gone = d.register(PROCEDURE_2, at="2026-03-13")
    d.ok("document", "move", gone, "obsolete", "--set", "obsolete_reason=不再适用", at="2026-03-16")
    d.ok(
        "distribution",
        "move",
        d.ids["c3"],
        "recalled",
        *sets("recalled_on=2026-03-16", "recalled_by=赵敏"),
        at="2026-03-16",
    )

    report = json.loads(d.ok("--json", "report", "controlled-documents", at="2026-03-17"))
    rows = {g["group"]: [(r[0], r[1], r[3], r[-1]) for r in g["rows"]] for g in report["groups"]}
    assert rows == {
        "生产部": [(wi, "压接工序作业指导书", "A/0", "1")],
        "质量部": [(doc, "客户投诉处理程序", "A/0", "2")],
    }
    md = d.ok("report", "controlled-documents", at="2026-03-17")
    assert "### 归口部门：生产部" in md and "### 归口部门：质量部" in md
    assert (
        f"| {doc} | 客户投诉处理程序 | 程序文件 | A/0 | 2026-03-04 | 2026-03-05 | 质量部 | 2 |"
        in md
    )
    assert "食堂管理制度" not in md and gone not in md


# ---------------------------------------------------------------------------- the revision history


def test_the_rendered_document_shows_its_revision_history_in_the_order_of_editions(superseded):
    d = superseded
    doc = d.ids["doc"]
    b0 = d.release(
        doc,
        "reissue",
        "全面改版",
        preparer=QE,
        reviewer=QM,
        approver=MR,
        days=("2026-05-04", "2026-05-05", "2026-05-06", "2026-05-08"),
    )
    revs = [d.ids["a0"], d.ids["a1"], b0]
    text = d.ok("render", doc, at="2026-05-08")
    history = text[text.index("### 修订履历") : text.index("### 受控副本")]
    rows = [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in history.splitlines()
        if re.match(r"\| \d+ \|", line)
    ]
    assert [(r[0], r[1], r[2], r[5]) for r in rows] == [
        ("1", "A/0", "首次发布", "2026-03-05"),
        ("2", "A/1", "增加投诉处理时限", "2026-04-06"),
        ("3", "B/0", "全面改版", "2026-05-08"),
    ]

    def author(rev: str, subject_end: str) -> str:
        log = git(d.root, "log", "--format=%an\t%s", "--", f"records/revision/{rev}.yaml")
        found = [line.split("\t")[0] for line in log.splitlines() if line.endswith(subject_end)]
        assert len(found) == 1, log
        return found[0]

    assert [(r[3], r[4]) for r in rows] == [
        (author(rev, ": new (draft)"), author(rev, ": reviewed -> approved")) for rev in revs
    ]
    assert [r[3] for r in rows] == ["赵敏", "王强", "李雷"]
    # the header block signs for the edition in force
    assert "| 姓名 | 李雷 | 王强 | 张伟 |" in text


# ------------------------------------------------------------- what people may not change


def test_fields_qms_keeps_are_not_set_by_hand(released):
    d = released
    doc, c1 = d.ids["doc"], d.ids["c1"]
    for type_name, rid, value in (
        ("document", doc, "edition=C/5"),
        ("document", doc, "effective_date=2030-01-01"),
        ("distribution", c1, "recall.required=false"),
        ("distribution", c1, "copy_number=9"),
        ("distribution", c1, "edition=A/9"),
    ):
        d.refused(type_name, "set", rid, value, at="2026-03-20", says=[rid, value.split("=")[0], "kept by qms"])
    # the input file of `new` cannot smuggle them in either
    f = d.yaml_file("with-edition.yaml", "title: x\ncategory: procedure\ndepartment: 质量部\ncontrolled: true\nedition: B/3\n")
    d.refused("document", "new", "--file", str(f), at="2026-03-20", says="edition: kept by qms")


def test_only_the_roles_that_keep_a_record_edit_it(released):
    d = released
    doc = d.ids["doc"]
    d.refused("document", "set", doc, "title=随便", who=OUTSIDER, at="2026-03-20",
              says=["eve@example.com", "'document_controller'", f"editing document {doc}"])
    d.refused("document", "set", doc, "title=随便", who=QE, at="2026-03-20", says="'document_controller'")
    d.ok("document", "set", doc, "medium=paper", who=DC, at="2026-03-20")


def test_dates_that_contradict_each_other_are_refused(released):
    d = released
    doc = d.ids["doc"]
    base = [f"document={doc}", "holder.department=生产部", "holder.person=赵工"]
    d.refused("distribution", "new", *sets(*base, "issued_on=2026-12-01"), who=PROD, at="2026-03-20",
              says=["issued_on", "after today"])
    d.refused("distribution", "new", *sets(*base, "issued_on=2020-01-01"), who=PROD, at="2026-03-20",
              says=["issued_on", "before document.effective_date"])
    c1 = d.ids["c1"]
    d.refused("distribution", "move", c1, "recalled", *sets("recalled_on=2019-01-01", "recalled_by=赵敏"),
              at="2026-03-20", says=["recalled_on", "before issued_on"])
    d.refused("loan", "new", *sets(f"document={doc}", "kind=borrow", "borrower.name=李雷", "borrower.department=质量部",
                                   "purpose=内审", "due_date=2026-01-01"), who=QE, at="2026-03-20",
              says=["due_date", "before today"])


def test_validate_reports_a_copy_number_held_twice(released):
    d = released
    c1, c2 = d.ids["c1"], d.ids["c2"]
    p = d.root / "records" / "distribution" / f"{c2}.yaml"
    p.write_text(p.read_text(encoding="utf-8").replace("copy_number: 2", "copy_number: 1"), encoding="utf-8")
    r = d.run("validate", at="2026-03-20")
    assert r.code == 1
    assert f"copy_number: {d.ids['doc']}/1 is also held by {c1}" in r.out
