"""闭环计划 (seed 000: "异常闭环一般周期为:5个工作日,如涉及软件、硬件投入或升级改造…需要做出闭环计划
一览表。并及时跟进"): a complaint closes later than its time limit only under a plan with a
reason, approved by the quality manager and followed up. Only an approved plan moves the
deadline."""

from __future__ import annotations

from conftest import QE, QM, git, sets
from test_deadlines import deadlines, end_of
from test_workflow import when

PLAN = ["complaint=CMP-2026-0001", "reason=需更换压接模具（硬件投入）", "actions=模具到货后验证三批",
        "owner=李雷", "due=2026-03-27"]


def _propose(qms, at="2026-03-09T10:00:00+08:00"):
    r = qms("closure_plan", "new", *sets(*PLAN), who=QE, env=when(at))
    assert r.code == 0, r.text
    return r.out.strip()


def test_the_planned_closure_cannot_be_set_by_hand(qms, store, complaint):
    r = qms("complaint", "set", complaint, "closure_plan.due=2026-03-27", who=QE)
    assert r.code == 1, r.text
    assert "kept by qms" in r.err and "closure_plan entering 'approved'" in r.err, r.err


def test_only_an_approved_plan_moves_the_deadline(qms, store, complaint):
    plan = _propose(qms)
    assert deadlines(qms, complaint, now="2026-03-16T09:00")["closure"]["due"] == end_of("2026-03-13")
    r = qms("closure_plan", "move", plan, "approved", who=QE, env=when("2026-03-09T11:00:00+08:00"))
    assert r.code == 1 and "'quality_manager'" in r.err, r.text
    r = qms("closure_plan", "move", plan, "approved", who=QM, env=when("2026-03-09T11:00:00+08:00"))
    assert r.code == 0, r.text
    dl = deadlines(qms, complaint, now="2026-03-16T09:00")["closure"]
    assert dl["due"] == end_of("2026-03-27") and dl["extended_by_plan"] is True and dl["status"] == "open"
    # one commit: the plan approved and the complaint's planned closure written
    changed = git(store, "show", "--name-only", "--format=", "HEAD").split()
    assert any(p.endswith(f"{plan}.yaml") for p in changed) and any(p.endswith(f"{complaint}.yaml") for p in changed)
    assert f"QMS-Effect: complaint/{complaint}" in git(store, "log", "-1", "--format=%B")
    assert qms("audit").code == 0


def test_a_plan_needs_a_reason_and_is_followed_up(qms, store, complaint):
    r = qms("closure_plan", "new", *sets(*[a for a in PLAN if not a.startswith("reason=")]), who=QE,
            env=when("2026-03-09T10:00:00+08:00"))
    assert r.code == 1 and "reason" in r.err, r.text
    plan = _propose(qms)
    assert qms("closure_plan", "move", plan, "approved", who=QM, env=when("2026-03-09T11:00:00+08:00")).code == 0
    r = qms("closure_plan", "set", plan, "progress+={at: 2026-03-16, by: 李雷, note: 模具已到货}", who=QE,
            env=when("2026-03-16T11:00:00+08:00"))
    assert r.code == 0, r.text
    r = qms("closure_plan", "move", plan, "done", "--set", "completed_on=2026-03-08", who=QE,
            env=when("2026-03-25T11:00:00+08:00"))
    assert r.code == 1 and "completed_on" in r.err, r.text  # before it was approved
    r = qms("closure_plan", "move", plan, "done", "--set", "completed_on=2026-03-25", who=QE,
            env=when("2026-03-25T11:00:00+08:00"))
    assert r.code == 0, r.text
    for lang, words in (("zh", "模具已到货"), ("en", "Follow-up")):
        form = qms("render", plan, "--lang", lang)
        assert form.code == 0 and words in form.out, form.text
    assert qms("validate").code == 0


def test_no_plan_for_a_closed_complaint(qms, store, complaint):
    p = next((store / "records" / "complaint").rglob(f"{complaint}.yaml"))
    p.write_text(p.read_text(encoding="utf-8").replace("state: received", "state: cancelled")
                 + "cancel_reason: 重复登记\n", encoding="utf-8")
    git(store, "commit", "-q", "-am", "cancel")
    r = qms("closure_plan", "new", *sets(*PLAN), who=QE, env=when("2026-03-09T10:00:00+08:00"))
    assert r.code == 1 and "complaint.state" in r.err, r.text
