"""After-sales service, customers and their satisfaction (issue 14, seeds 000, 002, 003, 004),
through the real CLI in a copy of the sample store (its qms.yaml holds the roles: 刘洋
sales, 孙浩 service manager, 黄磊 service engineer, 何军 vice-president for sales, 宋佳
quality vice-president, 陈静 general manager; compensation approved up to 5,000 yuan by the
service manager, up to 50,000 by the vice-president, above by the general manager; the
satisfaction targets 95 / 97 / 98 % for 2025 / 2026 / 2027):

- a service from the request to the follow-up visit, each time limit met;
- an installation asked for a week ahead and accepted by the customer;
- compensation approved at each threshold, refused below it, and an amount raised after
  approval approved again; amounts exact to the fen;
- a survey below the target closes only with a CAPA; the planned surveys still missing;
- free-text customer names matched to a customer record (customer link);
- the reports against figures counted by hand on the sample store.

The sample store's after-sales records (records/customer, service, visit, compensation,
survey_plan, survey) were made through the CLI in time order; on 2026-12-07 09:00 (NOW):

    SVC-2026-0001  CUS-0002  repair, urgent        closed     reply, on site, resolved, follow-up: met
    SVC-2026-0002  CUS-0001  installation, planned completed  reply met; follow-up due 12-05 17:00: overdue
    SVC-2026-0003  CUS-0003  repair, normal        decided    reply met; on site due 12-04 10:00: overdue
    CPN-2026-0001  CUS-0002  1,260.00   settled   approved by the service manager
    CPN-2026-0002  CUS-0001  18,600.00  approved  approved by the vice-president for sales
    CPN-2026-0003  CUS-0004  62,000.00  liability found, for the general manager
"""

from __future__ import annotations

import json

import pytest
from conftest import git, md_rows, sets

NOW = {"QMS_NOW": "2026-12-07T09:00"}
SALES = ("刘洋", "liu.yang@example.com")
SM = ("孙浩", "sun.hao@example.com")
ENGINEER = ("黄磊", "huang.lei@example.com")
VP = ("何军", "he.jun@example.com")
QVP = ("宋佳", "song.jia@example.com")
GM = ("陈静", "chen.jing@example.com")
QE = ("李雷", "li.lei@example.com")
QM = ("王强", "wang.qiang@example.com")


def at(iso: str) -> dict[str, str]:
    """An act at `iso` (Beijing time): its commit date, and the clock deadlines are read at."""
    stamp = f"{iso}:00+08:00"
    return {"GIT_COMMITTER_DATE": stamp, "GIT_AUTHOR_DATE": stamp, "QMS_NOW": iso}


def ok(qms, sample, who, when, *args) -> str:
    r = qms(*args, who=who, env=at(when), root=sample)
    assert r.code == 0, f"qms {' '.join(args)}: {r.text}"
    return r.out.strip()


def data(sample, kind: str, rid: str) -> dict:
    from ruamel.yaml import YAML

    return YAML(typ="safe").load((sample / "records" / kind / f"{rid}.yaml").read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------ services

REQUEST = [
    "kind=repair", "urgency=urgent", "customer=CUS-0005", "requested_at=2026-12-08T09:00", "requested_by=刘洋",
    "request.unit=上汽大众汽车有限公司（安亭总装二厂）", "request.contact=赵工", "request.phone=021-69550000",
    "request.model=5QD 611 701 B 制动软管", "request.failure=装车后接头渗漏", "request.occurred_at=2026-12-08T07:30",
    "request.warranty=in",
]


def test_a_service_from_request_to_follow_up_visit(qms, sample):
    sid = ok(qms, sample, SALES, "2026-12-08T09:10", "service", "new", *sets(*REQUEST))
    ok(qms, sample, ENGINEER, "2026-12-08T10:00", "service", "set", sid, "reply.at=2026-12-08T09:50", "reply.by=黄磊")
    # 分管副总决定是否派员: the engineer may not decide
    r = qms("service", "move", sid, "decided", "--set", "decision=dispatch", who=ENGINEER, env=at("2026-12-08T10:05"),
            root=sample)
    assert r.code == 1 and "sales_vp" in r.err and "he.jun@example.com" in r.err, r.text
    ok(qms, sample, VP, "2026-12-08T10:10", "service", "move", sid, "decided", "--set", "decision=dispatch")
    ok(qms, sample, ENGINEER, "2026-12-08T16:00", "service", "move", sid, "on_site", *sets(
        "engineers=黄磊", "departed_at=2026-12-08T11:00", "arrived_at=2026-12-08T15:40",
        "memo+={at: 2026-12-08T15:50, by: 黄磊, entry: 到场确认渗漏}"))
    # the customer signs the field report before it is done
    r = qms("service", "move", sid, "completed", *sets("work_done=更换软管", "completed_at=2026-12-09T11:00",
            "left_at=2026-12-09T11:00", "cause=接头扣压不良"), who=ENGINEER, env=at("2026-12-09T11:10"), root=sample)
    assert r.code == 1 and "sign_off.by" in r.err and "sign_off.at" in r.err, r.text
    ok(qms, sample, ENGINEER, "2026-12-09T11:10", "service", "move", sid, "completed", *sets(
        "work_done=更换软管", "completed_at=2026-12-09T11:00", "left_at=2026-12-09T11:00", "cause=接头扣压不良",
        "sign_off.by=赵工", "sign_off.at=2026-12-09T10:55", "sign_off.stamped=yes",
        "parts+={part_number: 5QD 611 701 B, name: 制动软管, quantity: 1, charged_to: us}"))
    # closing needs the follow-up (回访)
    r = qms("service", "move", sid, "closed", who=SM, env=at("2026-12-09T12:00"), root=sample)
    assert r.code == 1 and "follow_up.done_on" in r.err, r.text
    vid = ok(qms, sample, SM, "2026-12-10T09:00", "visit", "new", *sets(
        "customer=CUS-0005", "kind=follow_up", f"service={sid}", "purpose=服务回访", "planned_on=2026-12-18"))
    ok(qms, sample, ENGINEER, "2026-12-18T16:00", "visit", "move", vid, "done", *sets(
        "visitors=黄磊", "visited_on=2026-12-18", "met=赵工", "findings=更换后无复发"))
    service = data(sample, "service", sid)
    assert service["follow_up"]["visit"] == vid and str(service["follow_up"]["done_on"]) == "2026-12-18"
    assert service["follow_up"]["how"] == "visit" and service["follow_up"]["result"] == "更换后无复发"
    assert str(data(sample, "customer", "CUS-0005")["last_visited"]) == "2026-12-18"  # its visit clock restarts
    ok(qms, sample, SM, "2026-12-18T17:00", "service", "move", sid, "closed", "--set", "follow_up.by=黄磊")
    shown = qms("--json", "service", "show", sid, env=at("2026-12-19T09:00"), root=sample)
    limits = {d["name"]: d["status"] for d in json.loads(shown.out)["deadlines"]}
    # reply 8 h, on site 8 h (urgent), resolved 48 h, follow-up within two weeks
    assert limits == {"reply": "met", "on_site": "met", "resolve": "met", "follow_up": "met"}, limits
    for command in ("validate", "audit"):
        r = qms(command, env={"QMS_NOW": "2026-12-19T09:00"}, root=sample)
        assert sid not in r.out + r.err and vid not in r.out + r.err, r.text


INSTALL = [
    "kind=installation", "urgency=planned", "customer=CUS-0001", "requested_at=2026-12-08T09:00",
    "requested_by=刘洋", "request.unit=合肥比亚迪汽车有限公司", "request.contact=陈刚", "request.phone=0551-6288000",
    "request.model=QM-200 气密检测台", "request.failure=新购设备安装调试",
]


def test_an_installation_is_asked_for_a_week_ahead_and_accepted_by_the_customer(qms, sample):
    r = qms("service", "new", *sets(*INSTALL, "install_on=2026-12-10"), who=SALES, env=at("2026-12-08T09:10"),
            root=sample)
    assert r.code == 1 and "install_on" in r.err and "not before 2026-12-15" in r.err, r.text
    sid = ok(qms, sample, SALES, "2026-12-08T09:10", "service", "new", *sets(*INSTALL, "install_on=2026-12-15"))
    ok(qms, sample, ENGINEER, "2026-12-08T10:00", "service", "set", sid, "reply.at=2026-12-08T09:55", "reply.by=黄磊")
    ok(qms, sample, VP, "2026-12-09T09:00", "service", "move", sid, "decided", "--set", "decision=dispatch")
    ok(qms, sample, ENGINEER, "2026-12-15T09:00", "service", "move", sid, "on_site", *sets(
        "engineers=林峰,黄磊", "departed_at=2026-12-15T05:00", "arrived_at=2026-12-15T08:40"))
    done = ["work_done=就位、接电接气、标定", "completed_at=2026-12-16T17:00", "left_at=2026-12-16T17:00",
            "sign_off.by=陈刚", "sign_off.at=2026-12-16T16:50", "acceptance.by=陈刚", "acceptance.on=2026-12-16",
            "acceptance.items_checked=保压精度"]
    # an installation completes only when the customer accepts it (安装验收记录)
    r = qms("service", "move", sid, "completed", *sets(*done, "acceptance.result=rejected"), who=ENGINEER,
            env=at("2026-12-16T17:10"), root=sample)
    assert r.code == 1 and "acceptance.result" in r.err, r.text
    ok(qms, sample, ENGINEER, "2026-12-16T17:10", "service", "move", sid, "completed",
       *sets(*done, "acceptance.result=accepted"))
    shown = json.loads(qms("--json", "service", "show", sid, env=at("2026-12-17T09:00"), root=sample).out)
    # a planned service has no on-site or resolution limit: its date is planned
    assert {d["name"] for d in shown["deadlines"]} == {"reply", "follow_up"}
    form = qms("render", sid, "--form", "acceptance", env=NOW, root=sample)
    assert form.code == 0 and "安装验收记录" in form.out, form.text


def test_each_time_limit_comes_from_the_profile_by_urgency(qms, sample):
    """The sample's SVC-2026-0003 (normal): on site within a week of 11-27 10:00, overdue on
    12-07; SVC-2026-0002 (installation): its follow-up two weeks after 11-21 17:00."""
    r = qms("--json", "service", "list", "--overdue", env=NOW, root=sample)
    assert r.code == 0, r.text
    overdue = {row["id"]: (row["next_deadline"], row["next_due"][:16]) for row in json.loads(r.out)}
    assert overdue == {"SVC-2026-0003": ("on_site", "2026-12-04T10:00"),
                       "SVC-2026-0002": ("follow_up", "2026-12-05T17:00")}, overdue


# -------------------------------------------------------------------------- compensation

def claim(qms, sample, when: str, *amounts: str) -> str:
    parts = [f"parts+={{part_number: P{i}, name: 零件{i}, quantity: 1, amount: {a}}}" for i, a in enumerate(amounts)]
    cid = ok(qms, sample, ENGINEER, when, "compensation", "new", *sets(
        "customer=CUS-0008", "complaint=CMP-2026-0013", f"applied_on={when[:10]}", "applied_by=黄磊",
        "reason=保修期内更换", "warranty=in", *parts))
    return cid


def to_found(qms, sample, cid: str, hour: str, tmp_path) -> None:
    """Accepted with its evidence and liability found, from `hour` (2026-12-09T09) on."""
    letter = tmp_path / "来函.pdf"
    letter.write_bytes(b"%PDF-1.4 letter")
    r = qms("compensation", "move", cid, "accepted", who=SM, env=at(f"{hour}:00"), root=sample)
    assert r.code == 1 and "evidence" in r.err, r.text  # 须有来函…方才受理
    ok(qms, sample, ENGINEER, f"{hour}:05", "compensation", "attach", cid, "evidence", str(letter))
    ok(qms, sample, SM, f"{hour}:10", "compensation", "move", cid, "accepted")
    ok(qms, sample, QVP, f"{hour}:20", "compensation", "move", cid, "found", *sets(
        "liability.party=ours", "liability.finding=我方制造原因", f"liability.on={hour[:10]}"))


def test_compensation_is_approved_by_the_role_its_total_needs(qms, sample, tmp_path):
    small = claim(qms, sample, "2026-12-08T09:00", "4999.99")
    middle = claim(qms, sample, "2026-12-08T09:10", "30000", "20000")  # exactly 50,000.00
    large = claim(qms, sample, "2026-12-08T09:20", "50000", "0.01")
    for cid, hour in ((small, "2026-12-09T09"), (middle, "2026-12-09T10"), (large, "2026-12-09T11")):
        to_found(qms, sample, cid, hour, tmp_path)
    assert data(sample, "compensation", middle)["total"] == "50000.00"
    ok(qms, sample, SM, "2026-12-10T09:00", "compensation", "move", small, "approved", "--set", "approval.amount=4999.99")
    # the service manager approves up to 5,000: above it the vice-president, named in the refusal
    r = qms("--lang", "en", "compensation", "move", middle, "approved", "--set", "approval.amount=50000", who=SM,
            env=at("2026-12-10T09:10"), root=sample)
    assert r.code == 1 and "above 5,000.00 it is approved by sales_vp / general_manager" in r.err, r.text
    ok(qms, sample, VP, "2026-12-10T09:20", "compensation", "move", middle, "approved", "--set", "approval.amount=50000")
    r = qms("--lang", "en", "compensation", "move", large, "approved", "--set", "approval.amount=50000.01", who=VP,
            env=at("2026-12-10T09:30"), root=sample)
    assert r.code == 1 and "above 50,000.00 it is approved by general_manager" in r.err, r.text
    assert data(sample, "compensation", large)["state"] == "found"  # nothing written
    ok(qms, sample, GM, "2026-12-10T09:40", "compensation", "move", large, "approved", "--set", "approval.amount=50000.01")
    signed = {cid: data(sample, "compensation", cid)["signatures"][-1]["role"] for cid in (small, middle, large)}
    assert signed == {small: "service_manager", middle: "sales_vp", large: "general_manager"}
    r = qms("audit", env=NOW, root=sample)
    assert not any(c in r.out for c in (small, middle, large)), r.out


def test_an_amount_raised_after_approval_is_approved_again(qms, sample, tmp_path):
    cid = claim(qms, sample, "2026-12-08T09:00", "3000")
    to_found(qms, sample, cid, "2026-12-09T09", tmp_path)
    ok(qms, sample, SM, "2026-12-10T09:00", "compensation", "move", cid, "approved", "--set", "approval.amount=3000")
    r = qms("--lang", "en", "compensation", "set", cid, "parts.0.amount=6000", who=ENGINEER, env=at("2026-12-10T10:00"),
            root=sample)
    assert r.code == 1 and "6,000.00 is more than the 3,000.00 approved" in r.err and "resubmitted" in r.err, r.text
    assert data(sample, "compensation", cid)["total"] == "3000.00"
    ok(qms, sample, ENGINEER, "2026-12-10T10:05", "compensation", "move", cid, "found", "--set", "parts.0.amount=6000")
    assert data(sample, "compensation", cid)["total"] == "6000.00"
    r = qms("compensation", "move", cid, "approved", "--set", "approval.amount=6000", who=SM, env=at("2026-12-10T11:00"),
            root=sample)
    assert r.code == 1 and "sales_vp" in r.err, r.text  # now above the service manager's 5,000
    ok(qms, sample, VP, "2026-12-10T11:10", "compensation", "move", cid, "approved", "--set", "approval.amount=6000")
    meanings = [s["meaning"] for s in data(sample, "compensation", cid)["signatures"]]
    assert meanings == ["applied", "accepted", "liability_found", "approved", "resubmitted", "approved"]


def test_money_is_exact_to_the_fen(qms, sample):
    cid = claim(qms, sample, "2026-12-08T09:00", "0.1", "0.2", '"1,234.5"')
    record = data(sample, "compensation", cid)
    assert [p["amount"] for p in record["parts"]] == ["0.10", "0.20", "1234.50"]
    assert record["total"] == "1234.80"  # not 1234.8000000000002
    r = qms("compensation", "set", cid, "parts.0.amount=0.125", who=ENGINEER, env=at("2026-12-08T10:00"), root=sample)
    assert r.code == 2 and "at most two decimal places" in r.err, r.text
    r = qms("compensation", "set", cid, "total=1", who=ENGINEER, env=at("2026-12-08T10:00"), root=sample)
    assert r.code != 0 and "total" in r.err, r.text  # kept by qms: the sum of the parts


# ------------------------------------------------------------------------------ surveys

def test_a_survey_below_target_closes_only_with_a_capa(qms, sample):
    missing = qms("survey", "list", "--missing", "--period", "2026", env=NOW, root=sample)
    assert missing.code == 0 and md_rows_tab(missing.out) == [["SVP-002", "CUS-0004 浙江吉利汽车有限公司", "2026-H2"]], \
        missing.text
    assert "1 missing" in qms("--lang", "en", "survey", "list", "--missing", env=NOW, root=sample).err
    assert md_rows_tab(qms("survey", "list", "--missing", "--period", "2025", env=NOW, root=sample).out) == []
    base = ["plan=SVP-002", "period=2026-H2", "sent_on=2026-11-02", "returned_on=2026-12-08", "respondent=质量部",
            "scores.quality=4", "scores.packaging=5", "scores.delivery=4", "scores.service=5"]
    r = qms("survey", "new", *sets("customer=CUS-0008", *base), who=SALES, env=at("2026-12-08T16:00"), root=sample)
    assert r.code == 1 and "customer" in r.err and "CUS-0004" in r.err, r.text  # not a customer of the plan
    sid = ok(qms, sample, SALES, "2026-12-08T16:00", "survey", "new", *sets("customer=CUS-0004", *base))
    record = data(sample, "survey", sid)
    assert (record["satisfaction"], record["target"], record["below_target"]) == (90.0, 97.0, True)
    assert record["below_items"] == ["quality", "delivery"]
    r = qms("survey", "move", sid, "closed", "--set", "analysis=质量、交付低于目标", who=QM, env=at("2026-12-09T09:00"),
            root=sample)
    assert r.code == 1 and "capa" in r.err and "no_capa_reason" not in r.err.split("capa", 1)[0], r.text
    capa = ok(qms, sample, QE, "2026-12-09T10:00", "capa", "new", *sets(
        "kind=corrective", "source=survey", f"survey={sid}", "raised_on=2026-12-09", "owner=刘洋",
        "problem=吉利下半年满意度 90%，质量与交付项 4 分"))
    assert data(sample, "survey", sid)["capa"] == capa  # the survey names its CAPA (links both ways)
    ok(qms, sample, QM, "2026-12-09T11:00", "survey", "move", sid, "closed", "--set", "analysis=质量、交付低于目标")
    assert md_rows_tab(qms("survey", "list", "--missing", env=NOW, root=sample).out) == []
    below = qms("--json", "report", "satisfaction", "--by", "below-target", "--period", "2026", env=NOW, root=sample)
    rows = {row[0]: row for g in json.loads(below.out)["groups"] for row in g["rows"]}
    assert rows[sid][5:8] == ["产品质量、交付", capa, "已提出"], rows[sid]


def md_rows_tab(text: str) -> list[list[str]]:
    """The rows of tab-separated output, without its header."""
    lines = [line.split("\t") for line in text.splitlines() if line.strip()]
    return lines[1:]


def test_satisfaction_per_customer_as_counted_by_hand(qms, sample):
    """Each item's satisfaction is its average score over 5; overall, the surveys' average;
    the target, the average of the surveys' years' targets (2025: 95, 2026: 97)."""
    r = qms("report", "satisfaction", env=NOW, root=sample)
    assert r.code == 0, r.text
    head, *body = md_rows(r.out)
    assert head == ["顾客", "调查份数", "产品质量", "包装", "交付", "服务", "价格", "总体满意度", "目标"]
    assert body == [
        ["CUS-0001 比亚迪汽车工业有限公司", "4", "100.0%", "100.0%", "100.0%", "100.0%", "", "100.0%", "96.0%"],
        # packaging 4+5+5+5 = 19 of 20; price 5+5+4+5; overall (96 + 100 + 96 + 100) / 4
        ["CUS-0002 奇瑞汽车股份有限公司", "4", "100.0%", "95.0%", "100.0%", "100.0%", "95.0%", "98.0%", "96.0%"],
        # delivery 5+4+5+4 = 18 of 20; overall (100 + 85 + 100 + 90) / 4 = 93.75
        ["CUS-0003 长城汽车股份有限公司", "4", "95.0%", "95.0%", "90.0%", "95.0%", "", "93.8%", "96.0%"],
        # 2026-H2 missing: three surveys; price 4+5+5 = 14 of 15; target (95 + 95 + 97) / 3
        ["CUS-0004 浙江吉利汽车有限公司", "3", "100.0%", "100.0%", "100.0%", "100.0%", "93.3%", "98.7%", "95.7%"],
    ]
    r = qms("--lang", "en", "report", "satisfaction", "--by", "period", "--period", "2026", env=NOW, root=sample)
    rows = {row[0]: row[1:] for row in md_rows(r.out)[1:]}
    assert rows["2026-H2"] == ["3", "100.0%", "93.3%", "93.3%", "100.0%", "100.0%", "96.7%", "97.0%"], rows


# ----------------------------------------------------------------------------- customers

def test_free_text_customer_names_are_linked_to_a_customer_record(qms, sample):
    r = qms("customer", "link", env=NOW, root=sample)
    assert r.code == 0 and r.out == "", r.text  # every sample complaint's customer is known
    cid = ok(qms, sample, QE, "2026-12-08T09:00", "complaint", "new", *sets(
        "customer.name=上汽大众（仪征工厂）", "product.part_number=5QD 611 701 B", "channel=phone",
        "received_at=2026-12-08T08:30", "original=oral", "description=接头渗油", "class=general"))
    r = qms("--lang", "en", "customer", "link", env=NOW, root=sample)
    name, count, ids = r.out.split("\t")[:3]
    assert (name, count, ids.split()[0]) == ("上汽大众（仪征工厂）", "1", cid) and "closest: CUS-0005" in r.out, r.out
    # a name another customer is known by is not taken
    r = qms("customer", "link", "CUS-0006", "上汽大众汽车有限公司（宁波分公司）", who=SALES, env=at("2026-12-08T10:00"),
            root=sample)
    assert r.code == 1 and "CUS-0005" in r.err, r.text
    ok(qms, sample, SALES, "2026-12-08T10:00", "customer", "link", "CUS-0005", "上汽大众（仪征工厂）")
    assert "上汽大众（仪征工厂）" in data(sample, "customer", "CUS-0005")["aliases"]
    assert qms("customer", "link", env=NOW, root=sample).out == ""
    again = qms("--lang", "en", "customer", "link", "CUS-0005", "上汽大众（仪征工厂）", who=SALES,
                env=at("2026-12-08T10:05"), root=sample)
    assert again.code == 0 and "unchanged" in again.out, again.text
    history = qms("--json", "report", "customer", "--of", "CUS-0005", env=NOW, root=sample)
    complaints = json.loads(history.out)["sections"][0]
    assert cid in [row[0] for g in complaints["groups"] for row in g["rows"]]
    # the complaint itself is not edited: its customer stays as it was written
    log = git(sample, "log", "--format=%s", "-1")
    assert "customer CUS-0005" in log


def test_a_customers_history_lists_everything_that_points_at_it(qms, sample):
    r = qms("--json", "report", "customer", "--of", "CUS-0002", env=NOW, root=sample)
    assert r.code == 0, r.text
    report = json.loads(r.out)
    assert report["title"] == "顾客履历：CUS-0002 奇瑞汽车股份有限公司"
    ids = {s["title"]: [row[0] for g in s["groups"] for row in g["rows"]] for s in report["sections"]}
    assert ids == {
        "客诉": ["CMP-2026-0005", "CMP-2026-0011"],  # by the names it is known by
        "退货": ["RET-2026-0003"],
        "售后服务": ["SVC-2026-0001"],
        "售后赔偿": ["CPN-2026-0001"],
        "满意度调查": ["SAT-2025-0002", "SAT-2025-0006", "SAT-2026-0002", "SAT-2026-0006"],
        "走访": ["VIS-2026-0003", "VIS-2026-0004"],
    }


@pytest.mark.parametrize("args, message", [
    (["customer"], "report 'customer' is about one customer: give --of ID"),
    (["customer", "--of", "CUS-0099"], "CUS-0099"),
    (["satisfaction", "--of", "CUS-0001"], "report 'satisfaction' is not about one record: it takes no --of"),
    (["service-monthly", "--where", "kind=repair"], "it takes no --where"),
    (["customer", "--of", "../qms"], "../qms"),
])
def test_bad_report_options_are_refused(qms, sample, args, message):
    r = qms("--lang", "en", "report", *args, env=NOW, root=sample)
    assert r.code == 2 and message in r.err and "Traceback" not in r.err, r.text


# ------------------------------------------------------------------------------ reports

def test_overdue_visits(qms, sample):
    r = qms("--json", "report", "visits", env=NOW, root=sample)
    sections = {s["title"]: s for s in json.loads(r.out)["sections"]}
    regular = {row[0]: (row[3], row[4], row[5]) for g in sections["定期走访"]["groups"] for row in g["rows"]}
    # key customers every three months from the last visit; regular ones have no interval
    assert regular["CUS-0003"] == ("2026-06-10", "2026-09-10 23:59", "已超期")
    assert regular["CUS-0004"] == ("", "2021-04-15 23:59", "已超期")  # never visited since 2021-01-15
    assert regular["CUS-0001"] == ("2026-09-15", "2026-12-15 23:59", "进行中")
    assert regular["CUS-0002"] == ("2026-11-16", "2027-02-16 23:59", "进行中")  # the service follow-up counts
    assert regular["CUS-0005"] == ("", "", "")
    follow = [row for g in sections["未完成的走访跟进事项"]["groups"] for row in g["rows"]]
    assert [(row[0], row[4], row[5]) for row in follow] == [("VIS-2026-0003", "2026-11-05", "32"),
                                                            ("VIS-2026-0003", "2027-01-31", "")]
    overdue = qms("--json", "customer", "list", "--overdue", env=NOW, root=sample)
    assert sorted(row["id"] for row in json.loads(overdue.out)) == ["CUS-0003", "CUS-0004"]


def test_the_monthly_service_report_as_counted_by_hand(qms, sample):
    r = qms("--json", "report", "service-monthly", "--period", "2026-11", env=NOW, root=sample)
    assert r.code == 0, r.text
    s = {x["title"]: [row for g in x["groups"] for row in g["rows"]] for x in json.loads(r.out)["sections"]}
    assert s["服务受理与完成"] == [["质量故障处理", "2", "1", "0", "1", "0"], ["安装服务", "1", "0", "1", "0", "0"],
                                ["合计", "3", "1", "1", "1", "0"]]
    assert s["服务时限"] == [
        ["答复顾客", "3", "0", "0", "0", "100.0%"],
        ["到达现场", "1", "0", "0", "1", "100.0%"],  # SVC-0003 (normal, a week) not on site by 12-04
        ["解决问题", "1", "0", "0", "0", "100.0%"],  # only an urgent one has a resolution limit
        ["服务回访", "1", "0", "0", "1", "100.0%"],  # SVC-0002's follow-up due 12-05
    ]
    assert s["更换零部件"] == [["SC3E-3506110", "我方（保修/赔偿）", "2", "1"]]
    assert s["售后赔偿"] == [
        ["CUS-0001 比亚迪汽车工业有限公司", "1", "18600.00", "1", "18600.00", "0"],
        ["CUS-0002 奇瑞汽车股份有限公司", "1", "1260.00", "1", "1260.00", "0"],
        ["CUS-0004 浙江吉利汽车有限公司", "1", "62000.00", "0", "0", "0"],
    ]
    # complaints received in November, by the customer record their free-text names belong to
    assert sorted(row[0] for row in s["客诉（按顾客）"]) == [
        "CUS-0003 长城汽车股份有限公司", "CUS-0004 浙江吉利汽车有限公司", "CUS-0006 一汽-大众汽车有限公司",
        "CUS-0007 东风汽车有限公司东风日产乘用车公司"]
    xlsx = qms("report", "service-monthly", "--period", "2026-11", "--format", "xlsx", "-o",
               str(sample.parent / "m.xlsx"), env=NOW, root=sample)
    assert xlsx.code == 0, xlsx.text
    from openpyxl import load_workbook

    wb = load_workbook(sample.parent / "m.xlsx")
    assert wb.sheetnames == ["服务受理与完成", "服务时限", "更换零部件", "售后赔偿", "客诉（按顾客）"]
    cells = [c.value for row in wb["售后赔偿"].iter_rows() for c in row]
    assert 18600 in cells and wb["售后赔偿"]["A2"].value == "月度服务报告"


def test_the_customer_ledger_goes_out_and_back_in(qms, sample, tmp_path):
    """客户资料统计表: exported to xlsx and imported into an empty store, the customers come back
    with their names, aliases, grades, contacts and equipment; their last visit is kept by qms
    from the visits, so that column is left out of the import, with a note."""
    ledger = tmp_path / "customers.xlsx"
    r = qms("export", "customer", "--format", "xlsx", "-o", str(ledger), env=NOW, root=sample)
    assert r.code == 0, r.text
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "qms.yaml").write_text((sample / "qms.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    git(empty, "init", "-q", "-b", "main")
    git(empty, "add", "-A")
    git(empty, "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-q", "-m", "empty")
    r = qms("--lang", "en", "import", "customer", str(ledger), who=SALES, env=at("2026-12-08T09:00"), root=empty)
    assert r.code == 0 and "8 records imported" in r.err, r.text
    assert "left out (kept by qms)" in r.err, r.err
    for cid in ("CUS-0001", "CUS-0002", "CUS-0007"):
        before, after = data(sample, "customer", cid), data(empty, "customer", cid)
        for field in ("name", "code", "aliases", "grade", "since", "contacts", "addresses", "equipment"):
            assert after.get(field) == before.get(field), (cid, field)
        assert "last_visited" not in after


def test_the_monthly_report_draws_a_chart_for_its_tables_that_have_one(qms, sample, tmp_path):
    """A report of several tables writes each table's chart beside the Markdown as
    FILE-N.svg (N its place among the tables), shown under the table's heading, and as an
    Excel chart on the table's sheet."""
    md = tmp_path / "monthly.md"
    r = qms("report", "service-monthly", "--period", "2026-11", "-o", str(md), env=NOW, root=sample)
    assert r.code == 0, r.text
    assert sorted(p.name for p in tmp_path.glob("monthly*")) == ["monthly-1.svg", "monthly-2.svg", "monthly.md"]
    text = md.read_text(encoding="utf-8")
    assert "### 服务受理与完成\n\n![服务受理与完成](monthly-1.svg)" in text
    assert "### 服务时限\n\n" in text and "![服务时限](monthly-2.svg)" in text
    assert "到达现场" in (tmp_path / "monthly-2.svg").read_text(encoding="utf-8")  # the labels are text
    xlsx = tmp_path / "monthly.xlsx"
    assert qms("report", "service-monthly", "--period", "2026-11", "--format", "xlsx", "-o", str(xlsx), env=NOW,
               root=sample).code == 0
    import zipfile

    with zipfile.ZipFile(xlsx) as z:
        assert sorted(n for n in z.namelist() if n.startswith("xl/charts/chart")) == ["xl/charts/chart1.xml",
                                                                                        "xl/charts/chart2.xml"]


def test_an_amount_written_by_hand_as_a_number_adds_up_exactly(qms, sample):
    """`total: 18600.5` typed into the YAML is valid money; the ledger adds it exactly."""
    path = sample / "records" / "compensation" / "CPN-2026-0002.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("total: '18600.00'", "total: 18600.5"), encoding="utf-8")
    git(sample, "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-qam", "by hand")
    r = qms("--json", "report", "service-monthly", "--period", "2026-11", env=NOW, root=sample)
    assert r.code == 0, r.text
    rows = [row for s in json.loads(r.out)["sections"] if s["title"] == "售后赔偿" for g in s["groups"]
            for row in g["rows"]]
    assert rows[0][:3] == ["CUS-0001 比亚迪汽车工业有限公司", "1", "18600.50"], rows


def test_the_compensation_form_states_the_stores_approval_amounts(qms, sample):
    """The amounts are the store's (qms.yaml's approved_by_amount), printed on the form."""
    zh = qms("render", "CPN-2026-0003", env=NOW, root=sample)
    assert "批准权限（按赔偿总金额）：5,000.00 元以内由售后服务部经理批准；50,000.00 元以内由分管销售副总批准；以上由总经理批准。" \
        in zh.out, zh.out
    en = qms("--lang", "en", "render", "CPN-2026-0003", env=NOW, root=sample)
    assert "up to 50,000.00 yuan by the Vice-president, sales; above by the General manager" in en.out, en.out
