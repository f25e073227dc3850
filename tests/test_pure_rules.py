"""What a record must hold, on records in memory (qms_cli/model/rules.py): the Evaluator's
paths through lists and references, requirements met and unmet, date rules against
today, now and signatures, and the values a type computes; then who holds which role
on which day for which department (qms_cli/roles.py). No store, no git."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from pure_support import builtin, config, declaration, record

from qms_cli.errors import NotAuthorised
from qms_cli.model.rules import Evaluator, ahead_of_now, either, next_edition
from qms_cli.roles import department_of, guard, held_role, listing, require_admin

TZ = ZoneInfo("Asia/Shanghai")

GAUGE = declaration("""
    type: gauge
    numbering: "G-{seq:03}"
    fields:
      name: {type: text}
      department: {type: text}
    workflow: {initial: calibrated, states: {calibrated: , overdue: }}
""")

INSPECTION = declaration("""
    type: inspection
    numbering: "INS-{year}-{seq:04}"
    fields:
      part: {type: text}
      result: {type: enum, values: [pass, fail]}
      defects: {type: int}
      reason: {type: text}
      waiver: {type: text}
      planned_on: {type: date}
      inspected_at: {type: datetime}
      sample_count: {type: int}
      samples:
        type: list
        items: {type: object, fields: {state: {type: enum, values: [ok, ng]}, note: {type: text}}}
      checker: {type: text}
      approver: {type: text}
      gauge: {type: ref, to: gauge}
      gauges: {type: list, items: {type: ref, to: gauge}}
      remark: {type: text}
    workflow:
      initial: planned
      states:
        planned: {requires: [part, planned_on]}
        inspected:
          includes: planned
          requires:
            - inspected_at
            - result
            - {fields: [defects], when: {result: fail}}
            - {fields: [reason, waiver], any: true, when: {result: fail}}
            - {field: samples, count_equals: sample_count}
            - {field: samples.*.state, not_in: [ng], when: {result: pass}}
            - {field: approver, equals: checker}
            - {field: gauge.state, in: [calibrated]}
            - {field: gauges.*.state, in: [calibrated]}
            - {field: remark, empty: true}
        dated:
          requires:
            - {field: inspected_at, not_before: planned_on}
            - {field: inspected_at, not_after: now}
            - {field: planned_on, not_after: today}
            - {field: planned_on, not_before: "signed:planned"}
      moves:
        - {from: planned, to: inspected, role: inspector}
""")

GAUGES = {
    ("gauge", "G-001"): {"id": "G-001", "type": "gauge", "state": "calibrated", "department": "质量部"},
    ("gauge", "G-002"): {"id": "G-002", "type": "gauge", "state": "overdue"},
}

GOOD = """
    id: INS-2026-0001
    type: inspection
    state: inspected
    part: 支架
    planned_on: 2026-03-09
    inspected_at: 2026-03-09T10:00:00+08:00
    result: pass
    sample_count: 2
    samples: [{state: ok}, {state: ok, note: 轻微划痕}]
    checker: 李雷
    approver: 李雷
    gauge: G-001
    gauges: [G-001]
    signatures:
      - {meaning: planned, to: planned, at: 2026-03-08T09:00:00+08:00}
"""

TODAY = date(2026, 3, 10)
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=TZ)


def evaluator(text: str, **kw) -> Evaluator:
    types = {"gauge": GAUGE, "inspection": INSPECTION}
    kw.setdefault("tz", TZ)
    kw.setdefault("today", TODAY)
    kw.setdefault("now", NOW)
    return Evaluator(rt=INSPECTION, data=record(text), types=types.__getitem__,
                     fetch=lambda t, i: GAUGES.get((t, i)), **kw)


def unmet(text: str, state: str = "inspected", **kw) -> dict[str, str]:
    found = evaluator(text, **kw).unmet(INSPECTION.workflow.requirements(state))
    return dict(found)


def changed(text: str, **fields) -> str:
    """The record text with top-level lines replaced (None removes the line)."""
    lines = []
    for line in text.strip("\n").splitlines():
        key = line.strip().split(":", 1)[0]
        if key in fields and not line.startswith("      "):
            value = fields.pop(key)
            if value is not None:
                lines.append(f"    {key}: {value}")
            continue
        lines.append(line)
    lines += [f"    {k}: {v}" for k, v in fields.items() if v is not None]
    return "\n".join(lines) + "\n"


# -- paths ----------------------------------------------------------------------------------------

def test_paths_reach_through_lists_and_references():
    ev = evaluator(changed(GOOD, gauges="[G-001, G-002, G-404]"))
    assert ev.resolve("samples.*.state") == [("ok", "#0"), ("ok", "#1")]
    assert ev.first("samples.-1.note") == "轻微划痕"
    assert ev.first("samples.9.state") is None and ev.first("samples.x") is None
    assert ev.first("gauge.department") == "质量部"  # a field of the gauge it names
    # a list of references: each item's record, named by its ID; one not in the store reaches nothing
    assert ev.resolve("gauges.*.state") == [("calibrated", "G-001"), ("overdue", "G-002")]
    assert ev.first("gauge") == "G-001" and ev.first("nothing.here") is None


def test_a_reference_is_not_followed_without_a_way_to_read_other_records():
    ev = Evaluator(rt=INSPECTION, data=record(GOOD))
    assert ev.first("gauge.state") is None and ev.first("part") == "支架"


# -- requirements ----------------------------------------------------------------------------------

def test_a_record_that_holds_what_its_state_requires_meets_it():
    assert unmet(GOOD) == {}
    assert unmet(GOOD, "dated") == {}


def test_requirements_of_an_included_state_are_checked_too():
    assert unmet(changed(GOOD, part=None)) == {"part": "required"}


def test_each_kind_of_requirement_says_what_is_expected():
    bad = changed(GOOD, result="fail", sample_count=3, approver="韩梅梅", gauge="G-002", gauges="[G-001, G-002]",
                  remark="备注")
    assert unmet(bad) == {
        "defects": "required",  # when the result is fail
        "reason": "required: at least one of reason, waiver",
        "samples": "holds 2; sample_count is 3: one for each",
        "approver": "is 韩梅梅; must equal checker (李雷)",
        "gauge.state": "is overdue; must be calibrated",
        "gauges.*.state [G-002]": "is overdue; must be calibrated",
        "remark": "must be blank, but is 备注",
    }


def test_a_count_is_compared_only_with_a_whole_number():
    assert unmet(changed(GOOD, sample_count=2)) == {}
    assert unmet(changed(GOOD, sample_count="true")) == {}  # not a number: check_schema reports the field
    assert unmet(changed(GOOD, sample_count="'3'")) == {}
    assert unmet(changed(GOOD, sample_count=1)) == {"samples": "holds 2; sample_count is 1: one for each"}


def test_a_requirement_only_applies_when_its_condition_holds():
    ng = changed(GOOD, samples="[{state: ok}, {state: ng}]")
    assert unmet(ng) == {"samples.*.state [#1]": "must not be ng"}
    failed = changed(ng, result="fail", defects=1, waiver="客户特采")
    assert unmet(failed) == {}  # a failed inspection may hold a bad sample, and one of reason or waiver does


def test_a_blank_value_fails_what_needs_a_value_and_passes_what_does_not():
    bare = """
        id: INS-2026-0003
        state: inspected
        part: 支架
        planned_on: 2026-03-09
    """
    assert unmet(bare) == {"inspected_at": "required", "result": "required", "samples": "required",
                           "approver": "required", "gauge.state": "required"}
    assert unmet(bare, "dated") == {}  # blank passes a date rule


def test_a_path_through_a_reference_to_a_missing_record_says_so():
    assert unmet(changed(GOOD, gauge="G-404"))["gauge.state"] == "required; gauge 'G-404' is not in the store"
    ev = Evaluator(rt=INSPECTION, data=record(changed(GOOD, gauge="G-001")), types=lambda n: GAUGE,
                   fetch=lambda t, i: {"id": i})  # the gauge is there but holds no state
    assert dict(ev.unmet(INSPECTION.workflow.requirements("inspected")))["gauge.state"] == (
        "required (on gauge G-001)")


def test_only_the_first_problem_of_a_field_is_reported():
    late = changed(GOOD, planned_on="2026-03-11", inspected_at="2026-03-10T12:06:00+08:00")
    found = evaluator(late).unmet(INSPECTION.workflow.requirements("dated"))
    # inspected_at is also after now, and planned_on before the 'planned' signature: not said twice
    assert found == [("inspected_at", "2026-03-10 is before planned_on (2026-03-11)"),
                     ("planned_on", "2026-03-11 is after today (2026-03-10)")]


# -- date rules ------------------------------------------------------------------------------------

@pytest.mark.parametrize("fields, path, message", [
    ({"inspected_at": "2026-03-08T10:00:00+08:00"}, "inspected_at", "2026-03-08 is before planned_on (2026-03-09)"),
    ({"inspected_at": "2026-03-10T12:06:00+08:00"}, "inspected_at",
     "2026-03-10 12:06:00+08:00 is after now (2026-03-10 12:05:00+08:00)"),
    ({"planned_on": "2026-03-11", "inspected_at": None}, "planned_on", "2026-03-11 is after today (2026-03-10)"),
    ({"planned_on": "2026-03-07", "inspected_at": None}, "planned_on",
     "2026-03-07 is before the 'planned' signature (2026-03-08)"),
])
def test_a_date_rule_names_both_times(fields, path, message):
    assert unmet(changed(GOOD, **fields), "dated") == {path: message}


def test_now_allows_five_minutes_of_clock_skew():
    assert unmet(changed(GOOD, planned_on="2026-03-10", inspected_at="2026-03-10T12:05:00+08:00"), "dated") == {}
    found = unmet(changed(GOOD, planned_on="2026-03-10", inspected_at="2026-03-10T12:05:01+08:00"), "dated")
    assert ahead_of_now(found["inspected_at"])


def test_a_time_and_a_day_are_compared_as_days_in_the_stores_zone():
    # 23:30 UTC on the 8th is 07:30 on the 9th in Shanghai: the day it was planned
    early = changed(GOOD, inspected_at="2026-03-08T23:30:00+00:00")
    assert unmet(early, "dated") == {}
    assert "inspected_at" in unmet(early, "dated", tz=timezone.utc)


def test_the_day_of_a_signature_is_its_paper_day_when_entered_afterwards():
    back = GOOD.replace("at: 2026-03-08T09:00:00+08:00}", "at: 2026-03-10T09:00:00+08:00, on: 2026-03-07}")
    assert evaluator(back).moment("signed:planned") == date(2026, 3, 7)
    assert evaluator(GOOD).moment("signed:planned") == date(2026, 3, 8)
    assert evaluator(GOOD).moment("signed:approved") is None
    assert evaluator(GOOD).moment("today") == TODAY and evaluator(GOOD).moment("planned_on") == date(2026, 3, 9)


def test_the_day_on_paper_is_named_as_the_caller_names_it():
    late = changed(GOOD, planned_on="2026-03-11", inspected_at=None)
    found = unmet(late, "dated", today_words="the day it happened on paper")
    assert found == {"planned_on": "2026-03-11 is after the day it happened on paper (2026-03-10)"}
    assert not ahead_of_now(found["planned_on"])


def test_either_joins_the_allowed_values():
    assert either(["a", "b", "c"]) == "a or b or c" and either([True]) == "True" and either([]) == ""


# -- computed values ---------------------------------------------------------------------------------

DOCUMENTS = {
    ("document", "LX-CX-2026-001"): {"id": "LX-CX-2026-001", "type": "document", "state": "active", "edition": "A/3",
                                     "category": "procedure", "department": "质量部", "controlled": True,
                                     "effective_date": date(2026, 1, 10)},
    ("document", "LX-CX-2026-002"): {"id": "LX-CX-2026-002", "type": "document", "state": "active",
                                     "category": "procedure", "controlled": True},
}
COPIES = [
    {"id": "DST-2026-0001", "document": "LX-CX-2026-001", "copy_number": 1, "state": "issued"},
    {"id": "DST-2026-0002", "document": "LX-CX-2026-001", "copy_number": 2, "state": "lost"},
    {"id": "DST-2026-0003", "document": "LX-CX-2026-001", "copy_number": 3, "state": "damaged"},
    {"id": "DST-2026-0004", "document": "LX-CX-2026-002", "copy_number": 7, "state": "issued"},
]


@pytest.fixture(scope="module")
def doc_types():
    return {name: builtin(name) for name in ("document", "revision", "distribution")}


def doc_evaluator(doc_types, tname, data, copies=COPIES, **kw):
    return Evaluator(rt=doc_types[tname], data=data, types=doc_types.__getitem__,
                     fetch=lambda t, i: DOCUMENTS.get((t, i)),
                     scan=lambda t: copies if t == "distribution" else [], tz=TZ, today=TODAY, **kw)


@pytest.mark.parametrize("document, change, edition, why", [
    ("LX-CX-2026-001", "modification", "A/4", "a modification of A/3"),
    ("LX-CX-2026-001", "reissue", "B/0", "a re-issue after A/3"),
    ("LX-CX-2026-001", "first_issue", None, "the document already has edition A/3: the change is a modification "
                                            "or a reissue"),
    ("LX-CX-2026-001", None, None, "needs the kind of change (first_issue, modification or reissue)"),
    ("LX-CX-2026-002", "first_issue", "A/0", "the first edition"),
    ("LX-CX-2026-002", "modification", None, "the document has no edition yet: its first revision is a first_issue"),
])
def test_the_next_edition_follows_the_documents_edition_and_the_kind_of_change(doc_types, document, change,
                                                                                edition, why):
    ev = doc_evaluator(doc_types, "revision", {"document": document, "change": change}, computing=True)
    assert ev.computed("edition") == (edition, why)


def test_next_edition_stops_at_z_and_at_an_edition_not_of_the_form():
    assert next_edition(None, "Z/4", "reissue") == (None, "no edition letter after Z")
    assert next_edition(None, "A-1", "modification") == (None, "the document's edition 'A-1' is not of the form A/0")


def test_a_computed_requirement_is_checked_only_when_computing(doc_types):
    create = doc_types["revision"].workflow.create.requires
    data = {"document": "LX-CX-2026-001", "change": "modification", "edition": "A/9"}
    assert doc_evaluator(doc_types, "revision", data, computing=True).unmet(create) == [
        ("edition", "is A/9; expected A/4 (a modification of A/3)")]
    assert doc_evaluator(doc_types, "revision", data).unmet(create) == []
    blank = {"document": "LX-CX-2026-002", "change": "modification"}  # qms says why it cannot fill it in
    assert doc_evaluator(doc_types, "revision", blank, computing=True).unmet(create) == [
        ("edition", "the document has no edition yet: its first revision is a first_issue")]


@pytest.mark.parametrize("data, expected", [
    ({"document": "LX-CX-2026-001"}, (4, "the next copy number of the document")),
    ({"document": "LX-CX-2026-002"}, (8, "the next copy number of the document")),
    ({"document": "LX-CX-2026-001", "replaces": "DST-2026-0003"},
     (3, "the damaged copy DST-2026-0003 is re-issued under its number")),
    ({"document": "LX-CX-2026-001", "replaces": "DST-2026-0002"}, (4, "the next copy number of the document")),
    ({"document": "LX-CX-2026-001", "replaces": "DST-2026-0001"},
     (None, "only a damaged or lost copy is replaced; DST-2026-0001 is issued")),
    ({"document": "LX-CX-2026-001", "replaces": "DST-2026-0004"},
     (None, "the copy it replaces, DST-2026-0004, is not a copy of LX-CX-2026-001")),
    ({}, (None, "needs the document")),
])
def test_copy_numbers_are_never_reused_but_a_damaged_copys_replacement_keeps_its_number(doc_types, data, expected):
    assert doc_evaluator(doc_types, "distribution", data, computing=True).computed("copy_number") == expected


def test_a_copy_is_replaced_only_once(doc_types):
    copies = COPIES + [{"id": "DST-2026-0005", "document": "LX-CX-2026-001", "copy_number": 3,
                        "replaces": "DST-2026-0003", "state": "issued"}]
    again = {"document": "LX-CX-2026-001", "replaces": "DST-2026-0003"}
    assert doc_evaluator(doc_types, "distribution", again, copies).computed("copy_number") == (
        None, "DST-2026-0003 has already been replaced")


def test_a_copy_is_issued_only_of_the_current_edition_after_it_took_effect(doc_types):
    create = doc_types["distribution"].workflow.create.requires
    good = {"document": "LX-CX-2026-001", "edition": "A/3", "copy_number": 4, "issued_on": date(2026, 3, 10)}
    assert doc_evaluator(doc_types, "distribution", good, computing=True).unmet(create) == []
    stale = {"document": "LX-CX-2026-001", "edition": "A/2", "copy_number": 2, "issued_on": date(2026, 1, 9)}
    assert doc_evaluator(doc_types, "distribution", stale, computing=True).unmet(create) == [
        ("edition", "is A/2; must equal document.edition (A/3)"),
        ("copy_number", "is 2; expected 4 (the next copy number of the document)"),
        ("issued_on", "2026-01-09 is before document.effective_date (2026-01-10)"),
    ]


# -- roles ---------------------------------------------------------------------------------------------

ROLES = """
    company: 测试
    audit: {rules_signed_by: quality_manager}
    roles:
      quality_engineer:
        label: {zh: 质量工程师, en: Quality engineer}
        holders:
          - {name: 李雷, email: li.lei@example.com, from: 2024-01-01}
          - {name: 周杰, email: zhou.jie@example.com, from: 2022-01-01, until: 2026-05-31}
      quality_manager:
        holders:
          - {name: 王强, email: wang.qiang@example.com}
      department_head:
        holders:
          - {name: 张三, email: zhang.san@example.com, department: 质量部}
          - {name: 李四, email: li.si@example.com, department: 生产部, from: 2026-03-01}
          - li.lei@example.com
"""


@pytest.fixture(scope="module")
def cfg(tmp_path_factory):
    return config(tmp_path_factory.mktemp("store"), ROLES)


def test_a_holding_runs_from_its_first_to_its_last_day(cfg):
    qe = cfg.roles["quality_engineer"]
    assert qe.held_by("zhou.jie@example.com", date(2026, 5, 31))
    assert not qe.held_by("zhou.jie@example.com", date(2026, 6, 1))
    assert not qe.held_by("li.lei@example.com", date(2023, 12, 31)) and qe.held_by("LI.LEI@example.com", date(2024, 1, 1))
    assert not qe.held_by("wang.qiang@example.com", date(2026, 3, 1))


def test_held_role_picks_the_first_role_held_that_day(cfg):
    both = ["quality_engineer", "department_head"]
    assert held_role(cfg, both, "li.lei@example.com", date(2026, 3, 1)) == "quality_engineer"
    assert held_role(cfg, both, "li.lei@example.com", date(2023, 3, 1)) == "department_head"  # held without end
    assert held_role(cfg, ["department_head", "quality_engineer"], "li.lei@example.com", date(2026, 3, 1)) == (
        "department_head")
    assert held_role(cfg, both, "zhou.jie@example.com", date(2026, 6, 1)) is None
    assert held_role(cfg, ["no_such_role"], "li.lei@example.com", date(2026, 3, 1)) is None


def test_a_department_heads_holding_counts_only_for_that_department(cfg):
    day = date(2026, 3, 10)
    assert held_role(cfg, ["department_head"], "zhang.san@example.com", day, "质量部") == "department_head"
    assert held_role(cfg, ["department_head"], "zhang.san@example.com", day, "生产部") is None
    assert held_role(cfg, ["department_head"], "zhang.san@example.com", day) == "department_head"  # no department asked
    assert held_role(cfg, ["department_head"], "li.si@example.com", date(2026, 2, 28), "生产部") is None
    assert held_role(cfg, ["department_head"], "li.lei@example.com", day, "生产部") == "department_head"  # any


def test_department_of_follows_the_types_approvals_path(cfg, doc_types):
    fetch = lambda t, i: DOCUMENTS.get((t, i))  # noqa: E731
    copy = {"document": "LX-CX-2026-001", "holder": {"department": "生产部"}}
    assert department_of(cfg, doc_types["distribution"], copy, fetch) == "生产部"  # holder.department
    revision = {"document": "LX-CX-2026-001"}
    assert department_of(cfg, doc_types["revision"], revision, fetch) == "质量部"  # document.department
    assert department_of(cfg, doc_types["revision"], {"document": "LX-CX-2026-002"}, fetch) is None
    assert department_of(cfg, doc_types["distribution"], {"holder": {"department": ""}}, fetch) is None
    assert department_of(cfg, builtin("complaint"), {"customer": {"name": "x"}}, fetch) is None  # not limited


def test_the_rules_are_changed_only_by_the_guarding_role(cfg, tmp_path):
    assert guard(cfg) == "quality_manager"
    require_admin(cfg, "WANG.QIANG@example.com", date(2026, 3, 10), "roles")
    with pytest.raises(NotAuthorised, match=r"li.lei@example.com does not hold the role 'quality_manager' on "
                                            r"2026-03-10, which changing the rules needs"):
        require_admin(cfg, "li.lei@example.com", date(2026, 3, 10), "rules")
    open_store = config(tmp_path / "open", "company: 测试\n")
    assert guard(open_store) is None
    require_admin(open_store, "anyone@example.com", date(2026, 3, 10), "rules")  # nobody guards the rules


def test_listing_is_every_holding_in_order(cfg):
    rows = listing(cfg)
    assert [(r["role"], r["email"]) for r in rows][:3] == [
        ("quality_engineer", "li.lei@example.com"), ("quality_engineer", "zhou.jie@example.com"),
        ("quality_manager", "wang.qiang@example.com")]
    zhou = rows[1]
    assert (zhou["from"], zhou["until"], zhou["department"]) == ("2022-01-01", "2026-05-31", None)
    assert rows[-1] == {"role": "department_head", "label": {"zh": "department_head", "en": "department_head"},
                        "name": "li.lei@example.com", "email": "li.lei@example.com", "from": None, "until": None,
                        "department": None}
