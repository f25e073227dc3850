"""Closing the quality loop: a serious complaint, its return (received by the warehouse,
handling decided within one working day, inspected, reworked, re-inspected), its CAPA
(analysed, implemented, found not effective, reopened, effective) and only then the
complaint closed; an unannounced return; links both ways; audit and validate clean."""

from __future__ import annotations

import json

from conftest import CONFIG, GM, QE, QM, RECEIVED, REGISTERED, git, make_store, sets
from test_workflow import ACK, CLOSE, CORRECT, EIGHT_D, INVESTIGATE, VERIFY, when
from ruamel.yaml import YAML

WAREHOUSE = ("马丽", "ma.li@example.com")
LOOP_CONFIG = CONFIG + """\
  warehouse:
    label: {zh: 仓库, en: Warehouse}
    holders:
      - {name: 马丽, email: ma.li@example.com}
"""

RETURN = ["origin=complaint", "customer.name=上汽大众汽车有限公司", "reason=接头渗油",
          "received_at=2026-03-07T09:00", "received_by=马丽",
          "items={part_number: 5QD 611 701 B, batch: B0305, quantity: 120}"]


def load(store, kind: str, rid: str) -> dict:
    return YAML(typ="safe").load((store / "records" / kind / f"{rid}.yaml").read_text("utf-8"))


def test_complaint_return_capa_reopened_effective_then_the_complaint_closes(qms, tmp_path):
    store = make_store(tmp_path / "loop", LOOP_CONFIG)

    def q(*args, who, at):
        return _run(qms, store, args, who, at)

    serious = [a if not a.startswith("class=") else "class=serious" for a in RECEIVED]
    cid = _run(qms, store, ["complaint", "new", *sets(*serious)], QE, REGISTERED["GIT_COMMITTER_DATE"])
    _run(qms, store, ["complaint", "move", cid, "acknowledged", *sets(*ACK[:3])], QE, "2026-03-06T10:45:00+08:00")
    _run(qms, store, ["complaint", "move", cid, "investigating", *sets(*INVESTIGATE)], QE, "2026-03-06T14:00:00+08:00")

    # the goods come back: the warehouse receives them against the complaint
    rid = q("return", "new", *sets(*RETURN, f"complaint={cid}"), who=WAREHOUSE, at="2026-03-07T09:10:00+08:00")
    assert rid == "RET-2026-0001"
    assert load(store, "complaint", cid)["returns"] == [rid]  # listed in the complaint, same commit
    assert f"QMS-Effect: complaint/{cid}" in git(store, "show", "-s", "--format=%B", "HEAD")
    # the quality manager decides the handling within one working day
    shown = json.loads(qms("return", "show", rid, "--json", root=store, env={"QMS_NOW": "2026-03-07T10:00"}).out)
    assert any(d["name"] == "review" for d in shown.get("deadlines", [])), shown
    q("return", "move", rid, "reviewed", *sets("review.decision=返工后重新交付", "review.decided_at=2026-03-09T09:00",
                                               "items.0.disposition=rework"), who=QM, at="2026-03-09T09:05:00+08:00")
    # a CAPA from the complaint, listed in it
    capa = q("capa", "new", *sets("kind=corrective", "source=complaint", f"complaint={cid}", "raised_on=2026-03-09",
                                  "owner=李雷", "problem=压接外径超差导致渗油"), who=QE, at="2026-03-09T10:00:00+08:00")
    assert load(store, "complaint", cid)["capas"] == [capa]
    _run(qms, store, ["complaint", "move", cid, "correcting", *sets(*CORRECT)], QE, "2026-03-09T11:00:00+08:00")
    q("capa", "move", capa, "analysed", *sets("containment=在库品全检", "method=five_why", "root_cause=模具磨损",
                                              "actions+={action: 更换模具, kind: corrective, owner: 赵工, due: 2026-03-10}"),
      who=QE, at="2026-03-09T11:30:00+08:00")
    q("return", "move", rid, "inspected", *sets("inspection.result=压接外径超差", "inspection.inspected_at=2026-03-09T14:00",
                                                "inspection.inspector=李雷", "responsibility=ours"),
      who=QE, at="2026-03-09T14:10:00+08:00")
    implemented = ("actions.0.done_on=2026-03-10", "verification.result=新模具已投用",
                   "verification.verified_on=2026-03-10", "verification.verified_by=王强", "effectiveness.due=2026-03-11")
    q("capa", "move", capa, "implemented", *sets(*implemented), who=QE, at="2026-03-10T16:00:00+08:00")
    _run(qms, store, ["complaint", "move", cid, "verifying", *sets(*VERIFY)], QE, "2026-03-10T16:30:00+08:00")
    q("return", "move", rid, "handled", *sets("handled.summary=120 件全部返工", "handled.done_on=2026-03-10"),
      who=QE, at="2026-03-10T17:00:00+08:00")
    # reworked goods are inspected again before they ship, and must pass
    r = qms("return", "move", rid, "closed", who=QM, env=when("2026-03-11T09:00:00+08:00"), root=store)
    assert r.code == 1 and "reinspection.result" in r.err, r.text
    r = qms("return", "move", rid, "closed", *sets("reinspection.result=fail", "reinspection.at=2026-03-11",
                                                    "reinspection.by=李雷"), who=QM,
            env=when("2026-03-11T09:00:00+08:00"), root=store)
    assert r.code == 1 and "reinspection.result: is fail; must be pass" in r.err, r.text
    # failed: the goods go back to be reworked again (复检不合格，再次返工)
    q("return", "move", rid, "inspected", *sets("reinspection.result=fail", "reinspection.at=2026-03-11",
                                                "reinspection.by=李雷"), who=QM, at="2026-03-11T09:30:00+08:00")

    # not effective: the CAPA goes back to analysis (an effective verdict cannot reopen it)
    r = qms("capa", "move", capa, "analysed", *sets("effectiveness.result=effective", "effectiveness.checked_on=2026-03-11",
                                                     "effectiveness.evidence=抽检"), who=QM,
            env=when("2026-03-11T10:00:00+08:00"), root=store)
    assert r.code == 1 and "effectiveness.result" in r.err, r.text
    q("capa", "move", capa, "analysed", *sets("effectiveness.result=ineffective", "effectiveness.checked_on=2026-03-11",
                                              "effectiveness.evidence=复查仍有 2 件渗油", "effectiveness.checked_by=王强"),
      who=QM, at="2026-03-11T10:00:00+08:00")
    assert load(store, "capa", capa)["signatures"][-1]["meaning"] == "reopened"
    # the effectiveness deadline is met only by an effective verdict, not by the check that failed
    shown = json.loads(qms("capa", "show", capa, "--json", root=store, env={"QMS_NOW": "2026-03-11T10:30"}).out)
    assert [d["status"] for d in shown["deadlines"] if d["name"] == "effectiveness"] == ["open"], shown
    q("capa", "set", capa, "actions+={action: 模具寿命纳入点检, kind: preventive, owner: 钱班长, due: 2026-03-12}",
      who=QE, at="2026-03-11T11:00:00+08:00")
    q("capa", "move", capa, "implemented", *sets("actions.1.done_on=2026-03-12", "verification.verified_on=2026-03-12",
                                                 "effectiveness.due=2026-03-13"), who=QE, at="2026-03-12T09:00:00+08:00")
    q("return", "move", rid, "handled", *sets("handled.summary=120 件再次返工", "handled.done_on=2026-03-12"),
      who=QE, at="2026-03-12T10:00:00+08:00")
    # the complaint cannot close while its CAPA is not verified effective
    r = qms("complaint", "move", cid, "approving", *sets(*CLOSE, *EIGHT_D), who=QM,
            env=when("2026-03-12T11:00:00+08:00"), root=store)
    assert r.code == 1 and "capas" in r.err and "must be effective or cancelled" in r.err, r.text
    q("capa", "move", capa, "effective", *sets("effectiveness.result=effective", "effectiveness.checked_on=2026-03-13",
                                               "effectiveness.evidence=连续 3 批 0 泄漏", "effectiveness.checked_by=王强"),
      who=QM, at="2026-03-13T10:00:00+08:00")

    # the return closes once reworked goods pass; the complaint closes with its CAPA effective
    q("return", "move", rid, "closed", *sets("reinspection.result=pass", "reinspection.at=2026-03-13", "reinspection.by=李雷"),
      who=QM, at="2026-03-13T10:30:00+08:00")
    q("complaint", "move", cid, "approving", *sets(*CLOSE[:1], "effectiveness.checked_at=2026-03-13",
                                                   "customer_confirmation.result=accepted",
                                                   "customer_confirmation.at=2026-03-13", *EIGHT_D),
      who=QM, at="2026-03-13T11:00:00+08:00")
    q("complaint", "move", cid, "closed", who=GM, at="2026-03-13T14:00:00+08:00")

    for command in ("validate", "audit"):
        r = qms(command, root=store)
        assert r.code == 0, f"{command}: {r.text}"


def test_an_unannounced_return_needs_no_complaint_but_says_who_reported_it(qms, tmp_path):
    store = make_store(tmp_path / "loop", LOOP_CONFIG)
    unannounced = [a for a in RETURN if not a.startswith("origin=")] + ["origin=unannounced"]
    rid = _run(qms, store, ["return", "new", *sets(*unannounced)], WAREHOUSE, "2026-03-07T09:10:00+08:00")
    assert "complaint" not in load(store, "return", rid)
    # from a complaint, the complaint must be named
    r = qms("return", "new", *sets(*RETURN), who=WAREHOUSE, env=when("2026-03-07T09:20:00+08:00"), root=store)
    assert r.code == 1 and "complaint" in r.err, r.text
    # an exchange needs the manager in charge (经主管领导批准)
    _run(qms, store, ["return", "move", rid, "reviewed", *sets("review.decision=换货", "review.decided_at=2026-03-09T09:00",
                                                              "items.0.disposition=exchange")], QM, "2026-03-09T09:05:00+08:00")
    _run(qms, store, ["return", "move", rid, "inspected", *sets("inspection.result=外观划伤", "responsibility=ours",
                                                               "inspection.inspected_at=2026-03-09T14:00",
                                                               "inspection.inspector=李雷")], QE, "2026-03-09T14:10:00+08:00")
    handled = sets("handled.summary=已换货 120 件", "handled.done_on=2026-03-10")
    r = qms("return", "move", rid, "handled", *handled, who=QE, env=when("2026-03-10T17:00:00+08:00"), root=store)
    assert r.code == 1 and "items.*.disposition [#0]: must not be exchange" in r.err, r.text
    _run(qms, store, ["return", "move", rid, "approved"], GM, "2026-03-10T16:00:00+08:00")
    _run(qms, store, ["return", "move", rid, "handled", *handled], QE, "2026-03-10T17:00:00+08:00")
    _run(qms, store, ["return", "move", rid, "closed"], QM, "2026-03-11T09:00:00+08:00")  # nothing reworked
    assert qms("audit", root=store).code == 0


def test_a_return_or_capa_is_not_attached_to_a_closed_complaint(qms, tmp_path):
    """A closed record is not edited, not even to list what came from it: a return or CAPA
    names only a complaint that is still open."""
    store = make_store(tmp_path / "loop", LOOP_CONFIG)
    cid = _run(qms, store, ["complaint", "new", *sets(*RECEIVED)], QE, REGISTERED["GIT_COMMITTER_DATE"])
    _run(qms, store, ["complaint", "move", cid, "cancelled", "--set", "cancel_reason=重复登记"], QM,
         "2026-03-06T11:00:00+08:00")
    head = git(store, "rev-parse", "HEAD")
    r = qms("return", "new", *sets(*RETURN, f"complaint={cid}"), who=WAREHOUSE, env=when("2026-03-07T09:10:00+08:00"),
            root=store)
    assert r.code == 1 and "complaint.state" in r.err, r.text
    r = qms("capa", "new", *sets("kind=corrective", "source=complaint", f"complaint={cid}", "raised_on=2026-03-07",
                                 "owner=李雷", "problem=渗油"), who=QE, env=when("2026-03-07T09:10:00+08:00"), root=store)
    assert r.code == 1 and "complaint.state" in r.err, r.text
    assert git(store, "rev-parse", "HEAD") == head


def _run(qms, store, args, who, at) -> str:
    r = qms(*args, who=who, env=when(at), root=store)
    assert r.code == 0, f"qms {' '.join(args)}: {r.text}"
    return r.out.strip()


SALES_ONLY = ("刘洋", "liu.yang@example.com")  # sales in conftest's CONFIG


def test_a_product_recall_closes_only_when_every_unit_shipped_is_accounted_for(qms, tmp_path):
    """产品召回 (seed 001 4.1.3.8): sales starts it, every customer holding a lot is notified,
    the lots are recovered or accounted for otherwise, and it closes only when each lot adds
    up to what was shipped."""
    store = make_store(tmp_path / "loop", LOOP_CONFIG)
    lots = ["lots+={customer: 上汽大众, part_number: 5QD 611 701 B, batch: B0305, shipped: 800}",
            "lots+={customer: 一汽-大众, part_number: 5QD 611 701 B, batch: B0305, shipped: 200}"]
    # a quality engineer does not start a recall: sales does
    r = qms("recall", "new", *sets("problem=B0305 批扣压外径超差", "found_at=2026-03-06T08:00", "where_found=both", *lots),
            who=("韩梅梅", "han.meimei@example.com"), env=when("2026-03-06T09:00:00+08:00"), root=store)
    assert r.code == 0, r.text  # 韩梅梅 is also sales in these tests
    rid = r.out.strip()
    assert rid == "RCL-2026-0001"
    r = qms("recall", "move", rid, "notified", who=SALES_ONLY, env=when("2026-03-06T10:00:00+08:00"), root=store)
    assert r.code == 1 and "lots.*.notified_at" in r.err, r.text
    _run(qms, store, ["recall", "move", rid, "notified", *sets(
        "lots.0.notified_at=2026-03-06T09:30", "lots.0.notified_by=刘洋",
        "lots.1.notified_at=2026-03-06T09:40", "lots.1.notified_by=刘洋")], SALES_ONLY, "2026-03-06T10:00:00+08:00")
    _run(qms, store, ["recall", "move", rid, "recovering", "--set", "analysis=模具磨损导致外径超差"], QE,
         "2026-03-07T10:00:00+08:00")
    # more recovered than shipped is refused at once
    r = qms("recall", "set", rid, "lots.1.recovered=250", who=QE, env=when("2026-03-08T10:00:00+08:00"), root=store)
    assert r.code == 1 and "Recovered + Accounted for otherwise add up to 250, more than Shipped (200)" in r.err, r.text
    assert "(Lots recalled)" in r.err, r.text  # an item of a list is labelled as its list
    closing = ["lots.0.recovered=780", "lots.1.recovered=200", "disposition=rework,scrap",
               "disposition_note=780 件返工，200 件报废", "closed_on=2026-03-10"]
    r = qms("recall", "move", rid, "closed", *sets(*closing), who=QM, env=when("2026-03-10T10:00:00+08:00"), root=store)
    assert r.code == 1 and "lots.0" in r.err and "20 not accounted for" in r.err, r.text
    _run(qms, store, ["recall", "move", rid, "closed", *sets(*closing, "lots.0.written_off=20",
                                                             "lots.0.note=顾客已装车 20 件，协商让步接收")],
         QM, "2026-03-10T10:00:00+08:00")
    for command in ("validate", "audit"):
        r = qms(command, root=store)
        assert r.code == 0, f"{command}: {r.text}"


def test_a_plain_requirement_over_a_list_asks_it_of_each_item():
    """`lots.*.notified_at` (a bare requirement through a list of groups) is required of every
    lot, and names the lot that lacks it; a blank list item field with a condition (in:,
    not_before:) stays a check of the values that are there."""
    from qms_cli.files import yamlio
    from qms_cli.model.declaration import RecordType
    from qms_cli.model.rules import Evaluator
    from qms_cli.paths import BUILTIN_TYPES

    rt = RecordType.from_dict(yamlio.load_declaration(BUILTIN_TYPES / "recall.yaml", "recall"), "recall")
    data = {"lots": [{"customer": "A", "notified_at": "2026-03-06T09:00"}, {"customer": "B"}, {"customer": "C"}]}
    unmet = Evaluator(rt=rt, data=data).unmet(rt.workflow.requirements("notified"))
    assert [(f, why) for f, why in unmet if f.startswith("lots.*.notified_at")] == [
        ("lots.*.notified_at [#1]", "required"), ("lots.*.notified_at [#2]", "required")]


def test_a_batch_return_closes_only_with_a_capa_where_the_store_says_so(qms, tmp_path):
    """批量退货 (a configurable quantity, here 100 pieces) requires a CAPA: raised from the
    return itself, it is listed in the return and the return may close."""
    config = LOOP_CONFIG + ("types:\n  return:\n    checks:\n"
                            "      - {fn: required_from_total, args: [items, quantity, 100, \"capas|complaint.capas\", closed]}\n")
    store = make_store(tmp_path / "loop", config)
    unannounced = [a for a in RETURN if not a.startswith("origin=")] + ["origin=unannounced"]
    rid = _run(qms, store, ["return", "new", *sets(*unannounced)], WAREHOUSE, "2026-03-07T09:10:00+08:00")
    _run(qms, store, ["return", "move", rid, "reviewed", *sets("review.decision=返工", "review.decided_at=2026-03-09T09:00",
                                                              "items.0.disposition=scrap")], QM, "2026-03-09T09:05:00+08:00")
    _run(qms, store, ["return", "move", rid, "inspected", *sets("inspection.result=划伤", "responsibility=ours",
                                                               "inspection.inspected_at=2026-03-09T14:00",
                                                               "inspection.inspector=李雷")], QE, "2026-03-09T14:10:00+08:00")
    _run(qms, store, ["return", "move", rid, "handled", *sets("handled.summary=报废", "handled.done_on=2026-03-10")],
         QE, "2026-03-10T17:00:00+08:00")
    r = qms("return", "move", rid, "closed", who=QM, env=when("2026-03-11T09:00:00+08:00"), root=store)
    assert r.code == 1 and "capas: required: Quantity of Items adds up to 120, 100 or more" in r.err, r.text
    capa = _run(qms, store, ["capa", "new", *sets("kind=corrective", "source=return", f"return={rid}",
                                                  "raised_on=2026-03-11", "owner=李雷", "problem=包装划伤")],
                QE, "2026-03-11T09:30:00+08:00")
    assert load(store, "return", rid)["capas"] == [capa]
    _run(qms, store, ["return", "move", rid, "closed"], QM, "2026-03-11T10:00:00+08:00")
    assert qms("validate", root=store).code == 0


def test_links_both_ways_are_checked_by_validate(qms, sample):
    """A hand edit that points a return at another complaint leaves the first complaint
    listing a return that no longer names it, and the return named by a complaint that does
    not list it: validate says both; a survey's CAPA that names another survey too."""
    from conftest import git

    path = sample / "records" / "return" / "RET-2026-0001.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("complaint: CMP-2026-0012", "complaint: CMP-2026-0011"),
                    encoding="utf-8")
    capa = sample / "records" / "capa" / "CAPA-2025-0001.yaml"
    capa.write_text(capa.read_text(encoding="utf-8").replace("survey: SAT-2025-0007", "survey: SAT-2025-0008"),
                    encoding="utf-8")
    git(sample, "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-qam", "hand edits")
    r = qms("--lang", "en", "validate", env={"QMS_NOW": "2026-12-07T09:00"}, root=sample)
    assert r.code == 1, r.text
    assert ("CMP-2026-0012.yaml:57: returns: lists return RET-2026-0001, whose Complaint is CMP-2026-0011, "
            "not CMP-2026-0012") in r.out, r.out
    assert "RET-2026-0001.yaml:5: complaint: names complaint CMP-2026-0011, whose Returns does not list it" in r.out
    assert "SAT-2025-0007.yaml" in r.out and "lists capa CAPA-2025-0001, whose Satisfaction survey is SAT-2025-0008" \
        in r.out, r.out
