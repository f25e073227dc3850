"""The ledgers of the quality loop beyond complaints, against the sample store counted by
hand: `report returns` (quantities returned per disposition, customer, part and month, and
the one-working-day review on time), and `report capa` (the open CAPA actions by owner, the
longest overdue first; --by effectiveness: CAPAs by source, verified effective, open,
reopened after an ineffective check). Also a store's own report declaring `each:` over a
list and a `sum:` column, and the refusals of a bad one.

The sample returns and CAPAs (records/return, records/capa):

    RET-2026-0001  合肥比亚迪  2026-10-10  rework 1200          closed    review met (10-12 09:40; 10-10 a working Saturday, 10-11 off)
    RET-2026-0002  长城重庆    2026-11-25  exchange 20          reviewed  review met (11-26 09:20)
    RET-2026-0003  奇瑞        2026-11-03  repair 60, scrap 40  closed    review late (due 11-04 10:00, 11-05 16:00)
    CAPA-2026-0001  complaint  implemented  actions due 10-20 (赵工), 11-15 (钱班长), neither done
    CAPA-2026-0002  return     effective    reopened once (signed `reopened`), both actions done
    CAPA-2026-0003  audit      analysed     actions due 11-30 (赵敏), 12-18 (李雷), neither done
"""

from __future__ import annotations

import json

import pytest
from conftest import git, md_rows

NOW = {"QMS_NOW": "2026-12-07T09:00"}


def test_returns_per_disposition_as_counted_by_hand(qms, sample):
    r = qms("report", "returns", root=sample, env=NOW)
    assert r.code == 0, r.text
    head, *body = md_rows(r.out)
    assert head == ["处理方式", "退货数量", "数量占比", "退货单数", "已关闭"]
    # in the type's order of dispositions; the share is of the quantity
    assert body == [
        ["换货", "20", "1.5%", "1", "0"],
        ["本厂返工", "1200", "90.9%", "1", "1"],
        ["返修", "60", "4.5%", "1", "1"],
        ["报废", "40", "3.0%", "1", "1"],
        ["合计", "1320", "100.0%", "3", "2"],  # RET-0003's two lines are one return
    ]
    assert "统计退货数：3" in r.out


def test_returns_per_customer_month_by_month(qms, sample):
    r = qms("--lang", "en", "--json", "report", "returns", "--by", "customer", "--period", "2026-Q4", root=sample, env=NOW)
    assert r.code == 0, r.text
    data = json.loads(r.out)
    assert data["columns"] == ["Customer name", "Disposition", "Quantity returned", "Share of quantity", "Returns",
                               "Closed"]
    groups = {g["group"]: g["rows"] for g in data["groups"]}
    assert list(groups) == ["2026-10", "2026-11", "2026-12"]
    assert groups["2026-10"][0] == ["合肥比亚迪汽车有限公司", "Rework at our plant", "1200", "100.0%", "1", "1"]
    assert sorted(groups["2026-11"]) == sorted([
        ["长城汽车股份有限公司重庆分公司", "Exchange", "20", "16.7%", "1", "0"],
        ["奇瑞汽车股份有限公司", "Repair", "60", "50.0%", "1", "1"],
        ["奇瑞汽车股份有限公司", "Scrap", "40", "33.3%", "1", "1"],
        ["Total", "Exchange", "20", "16.7%", "1", "0"],
        ["Total", "Repair", "60", "50.0%", "1", "1"],
        ["Total", "Scrap", "40", "33.3%", "1", "1"],
    ])
    assert groups["2026-12"] == [["", "", "0", "", "0", "0"]]  # nothing returned: said, not left out


def test_returns_reviewed_on_time(qms, sample):
    r = qms("report", "returns", "--by", "on-time", root=sample, env=NOW)
    assert r.code == 0, r.text
    assert "## 退货分析评审及时率" in r.out
    head, *body = md_rows(r.out)
    assert head == ["时限", "按时完成", "超时完成", "进行中（未到期）", "已超期未完成", "及时率"]
    assert body == [["确定处理方式", "2", "1", "0", "0", "66.7%"]]


def test_returns_as_xlsx_keep_quantities_as_numbers(qms, sample, tmp_path):
    from openpyxl import load_workbook

    out = tmp_path / "returns.xlsx"
    r = qms("report", "returns", "--by", "part", "--format", "xlsx", "-o", str(out), root=sample, env=NOW)
    assert r.code == 0, r.text
    ws = load_workbook(out).active
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    header = rows.index(["零件号", "处理方式", "退货数量", "数量占比", "退货单数", "已关闭"])
    body = rows[header + 1:]
    assert ["QR-3506210", "返修", 60, pytest.approx(60 / 1320), 1, 1] in body
    assert ["SC3E-3506110", "本厂返工", 1200, pytest.approx(1200 / 1320), 1, 1] in body


def test_open_capa_actions_by_owner_longest_overdue_first(qms, sample):
    r = qms("report", "capa", root=sample, env=NOW)
    assert r.code == 0, r.text
    assert "## 纠正/预防措施跟踪表" in r.out
    owners = [line.split("：", 1)[1] for line in r.out.splitlines() if line.startswith("### ")]
    assert owners == ["李雷", "赵工", "赵敏", "钱班长"]
    head, *body = md_rows(r.out)
    assert head == ["措施编号", "问题描述", "措施内容", "类别", "完成期限", "超期天数", "状态"]
    rows = [row for row in body if row != head]
    # (CAPA, due, days overdue on 12-07): the done actions and the effective CAPA are not listed
    assert {(row[0], row[4], row[5], row[6]) for row in rows} == {
        ("CAPA-2026-0003", "2026-12-18", "", "已分析"),
        ("CAPA-2026-0001", "2026-10-20", "48", "已实施"),
        ("CAPA-2026-0003", "2026-11-30", "7", "已分析"),
        ("CAPA-2026-0001", "2026-11-15", "22", "已实施"),
    }
    assert "合计：4" in r.out


def test_capa_actions_overdue_first_within_an_owner(qms, sample):
    """Two open actions of one owner: the earlier due date (the one overdue) comes first."""
    path = sample / "records" / "capa" / "CAPA-2026-0003.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("owner: 赵敏", "owner: 李雷"), encoding="utf-8")
    git(sample, "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-qam", "one owner")
    r = qms("--json", "report", "capa", root=sample, env=NOW)
    assert r.code == 0, r.text
    groups = {g["group"]: g["rows"] for g in json.loads(r.out)["groups"]}
    assert [(row[4], row[5]) for row in groups["李雷"]] == [("2026-11-30", "7"), ("2026-12-18", "")]


def test_capa_effectiveness_by_source(qms, sample):
    r = qms("report", "capa", "--by", "effectiveness", "--period", "2026", root=sample, env=NOW)
    assert r.code == 0, r.text
    assert "## 纠正/预防措施有效性统计表" in r.out
    head, *body = md_rows(r.out)
    assert head == ["来源", "措施数", "已确认有效", "进行中", "曾判无效重开", "有效关闭率"]
    assert body == [
        ["客诉", "1", "0", "1", "0", "0.0%"],
        ["退货", "1", "1", "0", "1", "100.0%"],  # CAPA-0002: reopened, then verified effective
        ["审核", "1", "0", "1", "0", "0.0%"],
    ]
    assert "统计纠正/预防措施数：3" in r.out


@pytest.mark.parametrize("args, message", [
    (["returns", "--by", "region"], "report 'returns': --by 'region': expected one of disposition, customer, part, on-time"),
    (["capa", "--by", "owner"], "report 'capa': --by 'owner': expected one of effectiveness"),
])
def test_an_unknown_view_is_refused_with_the_choices(qms, sample, args, message):
    r = qms("--lang", "en", "report", *args, root=sample, env=NOW)
    assert r.code == 2, r.text
    assert message in r.err and r.out == ""


OWN = """\
label: {zh: 零件退货, en: Parts returned}
type: return
tally:
  each: %(each)s
  by:
    part: [%(key)s]
  columns:
    - {sum: {of: %(of)s}, label: {zh: 数量, en: Quantity}}
"""


def test_a_stores_own_report_counts_the_items_of_a_list(qms, sample):
    (sample / "reports").mkdir()
    (sample / "reports" / "parts.yaml").write_text(
        OWN % {"each": "items", "key": "items.*.part_number", "of": "items.*.quantity"}, encoding="utf-8")
    r = qms("report", "parts", root=sample, env=NOW)
    assert r.code == 0, r.text
    assert md_rows(r.out)[1:] == [["3506110XPW01A", "20"], ["QR-3506210", "100"], ["SC3E-3506110", "1200"]]


@pytest.mark.parametrize("each, key, of, message", [
    ("lines", "items.*.part_number", "items.*.quantity", "each is record, deadline or a list field of return, not 'lines'"),
    ("items", "items.*.colour", "items.*.quantity", "key 'items.*.colour' is not a field of return"),
    ("items", "items.*.part_number", "items.*.batch", "sum: expected {of: FIELD}, a number field of return, not 'items.*.batch'"),
    ("record", "items.*.part_number", "items.*.quantity", "key 'items.*.part_number' is not a field of return"),
])
def test_a_bad_tally_over_a_list_is_refused(qms, sample, each, key, of, message):
    (sample / "reports").mkdir()
    (sample / "reports" / "parts.yaml").write_text(OWN % {"each": each, "key": key, "of": of}, encoding="utf-8")
    r = qms("--lang", "en", "report", "parts", root=sample, env=NOW)
    assert r.code == 2, r.text
    assert message in r.err and "Traceback" not in r.err, r.err
