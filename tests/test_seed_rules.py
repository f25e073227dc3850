"""Where the seed procedures say who does what in complaint handling, qms does it their way
(seeds 000 and 001), and a store that reads them otherwise says so in qms.yaml."""

from __future__ import annotations

import pytest

from conftest import CORRECT, GM, INVESTIGATE, QE, QM, REGISTERED, SALES, git, sets
from test_workflow import ACK, CLARIFY, CLOSE, CLOSE_NOT_OURS, EIGHT_D, VERIFY, load, when

QE_ONLY = ("孙七", "sun.qi@example.com")  # a quality engineer who does not speak for sales


def _with_config(store, extra: str = "", engineer_only: bool = True) -> None:
    cfg = store / "qms.yaml"
    text = cfg.read_text(encoding="utf-8")
    if engineer_only:
        text = text.replace("  quality_manager:\n", "      - {name: 孙七, email: sun.qi@example.com}\n"
                                                   "  quality_manager:\n", 1)
    cfg.write_text(text + extra, encoding="utf-8")
    git(store, "commit", "-q", "-am", "rules")


def _to(qms, cid, *steps):
    for target, assignments, who, at in steps:
        r = qms("complaint", "move", cid, target, *sets(*assignments), who=who, env=when(at))
        assert r.code == 0, r.text


def _verifying(qms, cid):
    _to(qms, cid, ("acknowledged", ACK, SALES, "2026-03-06T10:45:00+08:00"),
        ("investigating", INVESTIGATE, QE, "2026-03-06T14:00:00+08:00"),
        ("correcting", CORRECT, QE, "2026-03-09T09:00:00+08:00"),
        ("verifying", VERIFY, QE, "2026-03-09T16:30:00+08:00"))


def test_sales_makes_the_first_contact_not_the_quality_engineer(qms, store, complaint):
    """业务部门受理投诉当日2小时内与客户取得联系 (seed 000)."""
    _with_config(store)
    r = qms("complaint", "move", complaint, "acknowledged", *sets(*ACK), who=QE_ONLY)
    assert r.code == 1, r.text
    assert "does not hold the role 'sales'" in r.err and "moving complaint CMP-2026-0001 to 'acknowledged'" in r.err
    assert f"to grant it: qms role grant sales {QE_ONLY[1]} --name NAME" in r.err  # how to put it right
    r = qms("complaint", "move", complaint, "acknowledged", *sets(*ACK), who=SALES)
    assert r.code == 0, r.text
    assert load(store, complaint)["signatures"][-1]["role"] == "sales"


def test_a_store_may_let_the_quality_engineer_make_the_contact(qms, store, complaint):
    _with_config(store, "types:\n  complaint:\n    moves:\n"
                        "      received->acknowledged: {role: [sales, quality_engineer]}\n")
    r = qms("complaint", "move", complaint, "acknowledged", *sets(*ACK), who=QE_ONLY)
    assert r.code == 0, r.text
    assert load(store, complaint)["signatures"][-1]["role"] == "quality_engineer"


def test_sales_clarifies_a_complaint_that_is_not_ours(qms, store, complaint):
    """如确认不是本公司质量问题,销售部负责联系客户并予以澄清 (seed 001)."""
    _with_config(store)
    _to(qms, complaint, ("acknowledged", ACK, SALES, "2026-03-06T10:45:00+08:00"),
        ("investigating", INVESTIGATE, QE, "2026-03-06T14:00:00+08:00"))
    r = qms("complaint", "move", complaint, "clarified", *sets(*CLARIFY), who=QE_ONLY)
    assert r.code == 1 and "'sales'" in r.err, r.text
    _to(qms, complaint, ("clarified", CLARIFY, SALES, "2026-03-09T10:00:00+08:00"),
        ("closed", CLOSE_NOT_OURS, QM, "2026-03-10T15:00:00+08:00"))


def test_a_rejected_confirmation_sends_the_complaint_back_into_handling(qms, store, complaint):
    """直到客户确认问题得到满意解决 (seed 000): a customer who does not accept keeps it open."""
    _verifying(qms, complaint)
    rejected = [a.replace("result=accepted", "result=rejected") for a in CLOSE]
    r = qms("complaint", "move", complaint, "closed", *sets(*rejected), who=QM)
    assert r.code == 1, r.text
    assert "customer_confirmation.result" in r.err and "rejected" in r.err, r.err
    assert load(store, complaint)["state"] == "verifying"
    _to(qms, complaint, ("correcting", [], QM, "2026-03-12T11:00:00+08:00"),
        ("verifying", ["d6.implementation=模具及工装再次整改"], QE, "2026-03-13T11:00:00+08:00"),
        ("closed", CLOSE, QM, "2026-03-16T11:00:00+08:00"))
    sigs = load(store, complaint)["signatures"]
    assert [(s["from"], s["to"], s["meaning"]) for s in sigs[-3:]] == [
        ("verifying", "correcting", "reopened"), ("correcting", "verifying", "implemented"),
        ("verifying", "closed", "verified")]


def test_a_serious_complaint_closes_with_the_general_managers_approval(qms, store):
    """总经理负责顾客抱怨处理过程的监督和处理的认可 (seed 000)."""
    from conftest import RECEIVED

    r = qms("complaint", "new", *sets(*[a.replace("class=general", "class=serious") for a in RECEIVED]), who=QE,
            env=REGISTERED)
    assert r.code == 0, r.text
    cid = r.out.strip()
    _verifying(qms, cid)
    r = qms("complaint", "move", cid, "closed", *sets(*CLOSE, *EIGHT_D), who=QM)
    assert r.code == 1 and "class: must not be serious" in r.err, r.text
    _to(qms, cid, ("approving", [*CLOSE, *EIGHT_D], QM, "2026-03-12T11:00:00+08:00"))
    for who in (QM, QE):
        r = qms("complaint", "move", cid, "closed", who=who)
        assert r.code == 1 and "'general_manager'" in r.err, r.text
    _to(qms, cid, ("closed", [], GM, "2026-03-12T15:00:00+08:00"))
    rec = load(store, cid)
    assert rec["state"] == "closed"
    assert rec["signatures"][-1] | {"at": None} == {
        "meaning": "approved", "name": GM[0], "email": GM[1], "role": "general_manager", "at": None,
        "from": "approving", "to": "closed"}
    for lang, words in (("zh", "总经理认可"), ("en", "Approved by the general manager")):
        form = qms("render", cid, "--lang", lang)
        assert form.code == 0 and words in form.out, form.text


def test_a_store_may_ask_the_general_manager_for_every_complaint(qms, store):
    """By default a general complaint closes without the general manager (test_workflow);
    a store that wants the approval for every class says so for the move."""
    from conftest import RECEIVED

    _with_config(store, "types:\n  complaint:\n    moves:\n"
                        "      verifying->closed: {requires: [{field: class, in: []}]}\n", engineer_only=False)
    r = qms("complaint", "new", *sets(*RECEIVED), who=QE, env=REGISTERED)
    assert r.code == 0, r.text
    cid = r.out.strip()
    _verifying(qms, cid)
    r = qms("complaint", "move", cid, "closed", *sets(*CLOSE), who=QM)
    assert r.code == 1 and "class: is general" in r.err, r.text
    _to(qms, cid, ("approving", CLOSE, QM, "2026-03-12T11:00:00+08:00"),
        ("closed", [], GM, "2026-03-12T15:00:00+08:00"))


@pytest.mark.parametrize("extra, says", [
    ("types:\n  complaint:\n    move:\n      received->acknowledged: {role: sales}\n",
     "types.complaint: unknown key(s) move"),
    ("types:\n  complaint:\n    moves:\n      received->closed: {role: sales}\n",
     "received->closed is not a move of complaint"),
    ("types:\n  complaint:\n    moves:\n      received->acknowledged: {signer: sales}\n",
     "expected role: and/or requires:"),
])
def test_a_mistyped_change_of_the_moves_is_named(qms, store, complaint, extra, says):
    _with_config(store, extra, engineer_only=False)
    r = qms("complaint", "move", complaint, "acknowledged", *sets(*ACK), who=SALES)
    assert r.code == 2, r.text
    assert says in r.err and "qms.yaml" in r.err, r.err
