"""Ledgers and forms a department hands on: the xlsx ledger (title block, frozen header,
typed cells, columns as wide as their Chinese text, no formulas), report headers in the
report's language (文件编号, not ID), and Chinese punctuation in the Chinese forms.

Every test drives the real `qms` command line against a temporary git store (conftest),
with the records made through `complaint new` and `complaint set`, and reads what a user
would open: the xlsx through openpyxl, the Markdown as printed."""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime

import pytest
from conftest import QE, md_rows, new_complaint
from openpyxl import load_workbook

COMPANY = "测试汽车部件有限公司"  # conftest.CONFIG
NOW = "2026-03-20T09:00"  # QMS_NOW, read in the store's time zone (Asia/Shanghai)
LONG_NAME = "上汽大众汽车有限公司"  # ten Chinese characters: twenty columns
ASCII_BATCH = "B260301-XY"  # ten ASCII characters: ten columns
FORMULA = '=HYPERLINK("http://x","click")'
CJK = r"[\u3400-\u9fff\uf900-\ufaff]"


@pytest.fixture
def ledger(qms, tmp_path):
    """The complaints ledger of 2026-Q1 as xlsx: a complaint with a long Chinese customer
    name and an ASCII batch number, one whose part number is a formula; returns
    (worksheet, header row number, {header: column number}, {complaint ID: row number})."""
    plain = new_complaint(qms, f"customer.name={LONG_NAME}", f"batch={ASCII_BATCH}",
                          "quantity_affected=120", "major_quality_problem=yes")
    evil = new_complaint(qms, "customer.name=比亚迪", f"product.part_number={FORMULA}", "batch=B2",
                         "quantity_affected=7",
                         "major_quality_problem=no")
    out = tmp_path / "ledger.xlsx"
    r = qms("report", "complaints", "--period", "2026-Q1", "--format", "xlsx", "-o", str(out),
            env={"QMS_NOW": NOW})
    assert r.code == 0, r.text
    ws = load_workbook(out).active
    header = next(row[0].row for row in ws.iter_rows() if row[0].value == "客诉编号")
    heads = {c.value: c.column for c in ws[header] if c.value is not None}
    rows = {ws.cell(row=n, column=1).value: n for n in range(header + 1, ws.max_row + 1)}
    assert {plain, evil} <= set(rows), rows
    return ws, header, heads, {"plain": rows[plain], "evil": rows[evil]}


# ------------------------------------------------------------------------------- xlsx


def test_xlsx_opens_with_a_title_block_above_the_header(ledger):
    """Company, the report's name in its language, the period and when it was made (a date
    cell, the store's wall time), then a blank row, then the header."""
    ws, header, heads, _ = ledger
    assert ws["A1"].value == COMPANY
    assert ws["A2"].value == "客诉台账"
    assert (ws["A3"].value, ws["B3"].value) == ("期间", "2026-Q1")
    assert ws["A4"].value == "制表时间"
    assert ws["B4"].value == datetime(2026, 3, 20, 9, 0) and ws["B4"].is_date
    assert header == 6 and all(c.value is None for c in ws[5])
    assert list(heads)[:3] == ["客诉编号", "受理时间", "顾客名称"]


def test_xlsx_generated_time_is_in_the_stores_time_zone(qms, tmp_path):
    """A clock in UTC (01:00Z) is printed as Asia/Shanghai's 09:00."""
    new_complaint(qms)
    out = tmp_path / "ledger.xlsx"
    r = qms("report", "complaints", "--format", "xlsx", "-o", str(out),
            env={"QMS_NOW": "2026-03-20T01:00:00+00:00"})
    assert r.code == 0, r.text
    ws = load_workbook(out).active
    printed = next(row[1].value for row in ws.iter_rows(max_row=6) if row[0].value == "制表时间")
    assert printed == datetime(2026, 3, 20, 9, 0)
    assert not any(row[0].value == "期间" for row in ws.iter_rows(max_row=6))  # no --period, no period row


def test_xlsx_header_is_frozen_and_filterable(ledger):
    ws, header, heads, _ = ledger
    assert ws.freeze_panes == f"A{header + 1}"
    assert ws.auto_filter.ref.startswith(f"A{header}:")
    assert all(ws.cell(row=header, column=c).font.b for c in heads.values())


def test_xlsx_cells_are_typed(ledger):
    """A number is a number, a date-time an Excel date with a date format, yes/no is 是/否 text."""
    ws, _, heads, rows = ledger
    quantity = ws.cell(row=rows["plain"], column=heads["涉及数量"])
    assert (quantity.data_type, quantity.value) == ("n", 120)
    received = ws.cell(row=rows["plain"], column=heads["受理时间"])
    assert received.is_date and received.value == datetime(2026, 3, 6, 10, 0)
    assert "yy" in received.number_format and "mm" in received.number_format
    major = ws.cell(row=rows["plain"], column=heads["重大质量问题"])
    assert (major.data_type, major.value) == ("s", "是")
    assert ws.cell(row=rows["evil"], column=heads["重大质量问题"]).value == "否"


def test_xlsx_a_formula_stays_text(ledger):
    """A part number that Excel would run is a text cell holding exactly that text,
    marked with Excel's hidden ' prefix so that editing the cell keeps it text."""
    ws, _, heads, rows = ledger
    name = ws.cell(row=rows["evil"], column=heads["零件号"])
    assert (name.data_type, name.value) == ("s", FORMULA)
    assert name.quotePrefix
    for row in ws.iter_rows():
        for c in row:
            assert c.data_type != "f", (c.coordinate, c.value)


def test_xlsx_column_widths_count_a_chinese_character_as_two(ledger, qms, tmp_path):
    ws, _, heads, _ = ledger
    width = {h: ws.column_dimensions[ws.cell(row=1, column=c).column_letter].width for h, c in heads.items()}
    # ten CJK characters against ten ASCII ones
    assert width["顾客名称"] >= 2 * len(LONG_NAME) > width["批次号"] >= len(ASCII_BATCH)
    new_complaint(qms, "d4.root_cause=" + "模具磨损" * 100)
    out = tmp_path / "long.xlsx"
    assert qms("report", "complaints", "--format", "xlsx", "-o", str(out)).code == 0
    ws = load_workbook(out).active
    assert max(d.width for d in ws.column_dimensions.values()) <= 60  # capped; the text wraps


# ---------------------------------------------------------------------------- headers


@pytest.mark.parametrize("name", ["controlled-documents", "recall", "complaints", "on-time", "failures"])
def test_report_headers_are_in_the_reports_language(qms, name):
    """No English word or field path in a Chinese header, no Chinese in an English one."""
    zh = qms("--json", "report", name)
    en = qms("--json", "--lang", "en", "report", name)
    assert zh.code == 0 and en.code == 0, zh.text + en.text
    zh_heads, en_heads = json.loads(zh.out)["columns"], json.loads(en.out)["columns"]
    assert not [h for h in zh_heads if re.search(r"[A-Za-z_.]", h)], zh_heads
    assert not [h for h in en_heads if re.search(CJK, h)], en_heads


def test_controlled_documents_list_heads_its_number_column_wenjian_bianhao(qms):
    md = qms("report", "controlled-documents")
    assert md.code == 0, md.text
    head = next(line for line in md.out.splitlines() if line.startswith("| "))
    assert head.startswith("| 文件编号 |") and "ID" not in head, head
    en = qms("--lang", "en", "report", "controlled-documents")
    assert next(line for line in en.out.splitlines() if line.startswith("| ")).startswith("| Document No. |")


def test_zh_ledger_uses_chinese_punctuation(qms):
    new_complaint(qms)
    md = qms("report", "complaints", "--period", "2026", env={"QMS_NOW": NOW})
    assert md.code == 0, md.text
    assert "制表时间：2026-03-20 09:00" in md.out and "期间：2026" in md.out and "合计：1" in md.out
    assert not re.search(CJK + r"[:;,]", md.out), md.out
    en = qms("--lang", "en", "report", "complaints", env={"QMS_NOW": NOW})
    assert "Printed: 2026-03-20 09:00" in en.out and "Total: 1" in en.out


# ------------------------------------------------------------------------------ forms


def test_zh_form_uses_chinese_punctuation_between_labels_and_values(qms, complaint):
    """修改：批次号 in the history, 质控部、技术中心 for a list; the en form as before."""
    r = qms("complaint", "set", complaint, "batch=B260301", "investigation.departments=质控部,技术中心", who=QE)
    assert r.code == 0, r.text
    zh = qms("render", complaint, "--lang", "zh", env={"QMS_NOW": NOW})
    assert zh.code == 0, zh.text
    assert "修改：" in zh.out and "质控部、技术中心" in zh.out, zh.out
    assert not re.search(CJK + r"[:;,] ?\S", zh.out), re.findall(CJK + r"[:;,] ?\S", zh.out)
    en = qms("render", complaint, "--lang", "en", env={"QMS_NOW": NOW})
    assert en.code == 0, en.text
    assert "：" not in en.out and "、" not in en.out and "质控部, 技术中心" in en.out


# ------------------------------------------------- on-time (及时率) and failures (失败履历)
#
# Counted by hand from records/complaint/*.yaml of the sample store, at SAMPLE_NOW
# (Wednesday 2026-11-25 09:00, Asia/Shanghai), with the store's profile iatf16949: contact
# within 2 h of received_at; report 2 working days (general, requirement) or 5 (serious)
# after the day of receipt; closure 5 working days, or the end of closure_plan.due where that
# is later. Working days: mainland China's 2026 calendar (Spring Festival 02-16..02-23 off,
# 02-14 and 02-28 worked; 09-25 and 10-01..10-07 off, 10-10 worked) and the plant's
# 2026-08-14. A limit is met on time when contact.at / report.submitted_at / the move to
# closed is not after it, late when after, open when not met and not yet due, overdue when
# not met and past due; stopped (不适用) when cancelled, or the report of a complaint that is
# not ours.
#
#   ID    class        contact  report   closure (due)
#   0001  serious      met      met      met     (plan 02-06; closed 02-05)
#   0002  general      met      met      met     (01-27; closed 01-27 10:30)
#   0003  general      met      stopped  met     (not ours; 02-10; closed 02-10)
#   0004  requirement  met      met      met     (report due 02-25, in 02-25; plan 03-20)
#   0005  general      late     late     late    (received on a holiday 02-19 10:35, contacted
#                                                 02-24; report due 02-25, in 02-27; closure
#                                                 due 02-28, closed 03-11)
#   0006  general      met      stopped  stopped (cancelled)
#   0007  serious      met      met      met     (plan 05-29; closed 05-27)
#   0008  general      met      met      met
#   0009  general      met      met      met
#   0010  general      met      met      met     (08-14 is the plant's holiday: report due 08-18)
#   0011  general      met      late     overdue (report due 09-29, in 10-09; closure due 10-09)
#   0012  serious      met      met      open    (report due 10-13, in 10-12; plan 12-18)
#   0013  general      met      met      open    (plan 12-04)
#   0014  general      met      stopped  overdue (not ours; closure due 11-16)
#   0015  serious      met      overdue  overdue (both due 11-23)
#   0016  requirement  met      overdue  open    (report due 11-23; closure due 11-26)
#   0017  general      overdue  overdue  open    (no contact since 11-20 18:10; closure 11-27)

SAMPLE_NOW = {"QMS_NOW": "2026-11-25T09:00"}

# (class, time limit) -> met, late, open, overdue, not applicable, on-time rate
ON_TIME_2026 = {
    ("一般投诉", "联系顾客"): ["9", "1", "0", "1", "0", "90.0%"],  # 11 general: 0005 late, 0017 overdue
    ("一般投诉", "改善报告/8D报告"): ["5", "2", "0", "1", "3", "71.4%"],  # 5 / (5 + 2)
    ("一般投诉", "异常闭环"): ["5", "1", "2", "2", "1", "83.3%"],  # 5 / (5 + 1)
    ("客户需求", "联系顾客"): ["2", "0", "0", "0", "0", "100.0%"],
    ("客户需求", "改善报告/8D报告"): ["1", "0", "0", "1", "0", "100.0%"],
    ("客户需求", "异常闭环"): ["1", "0", "1", "0", "0", "100.0%"],
    ("严重投诉", "联系顾客"): ["4", "0", "0", "0", "0", "100.0%"],
    ("严重投诉", "改善报告/8D报告"): ["3", "0", "0", "1", "0", "100.0%"],
    ("严重投诉", "异常闭环"): ["2", "0", "1", "1", "0", "100.0%"],
    ("合计", "联系顾客"): ["15", "1", "0", "1", "0", "93.8%"],  # 15 / 16
    ("合计", "改善报告/8D报告"): ["9", "2", "0", "3", "3", "81.8%"],  # 9 / 11
    ("合计", "异常闭环"): ["8", "1", "4", "3", "1", "88.9%"],  # 8 / 9
}

# Failure modes as the sample complaints name them (failure_mode); 0006 is cancelled (left
# out), 0004 and 0016 are customer requirements without one: 16 complaints counted.
FAILURE_MODES = {
    "渗漏": 4,  # 0001, 0003, 0007, 0012
    "外观不良": 2,  # 0008, 0017
    "尺寸超差": 2,  # 0011, 0014
    "标识不良": 2,  # 0002, 0009
    "连接松脱": 2,  # 0010, 0015
    "": 2,  # 0004, 0016
    "开裂": 1,  # 0005
    "异物残留": 1,  # 0013
}


def test_on_time_per_class_and_time_limit_as_counted_by_hand(qms, sample):
    r = qms("report", "on-time", root=sample, env=SAMPLE_NOW)
    assert r.code == 0, r.text
    head, *body = md_rows(r.out)
    assert head == ["投诉类别", "时限", "按时完成", "超时完成", "进行中（未到期）", "已超期未完成", "不适用", "及时率"]
    assert {(row[0], row[1]): row[2:] for row in body} == ON_TIME_2026
    # the classes in their declared order, each time limit in the type's order, totals last
    assert [tuple(row[:2]) for row in body] == list(ON_TIME_2026)
    assert "统计客诉数：17" in r.out
    # how the rate counts is said on the ledger itself
    assert "及时率 = 按时完成 ÷（按时完成 + 超时完成）" in r.out and "不计入及时率" in r.out
    assert not re.search(CJK + r"[:;,]", r.out), r.out


def test_on_time_in_english(qms, sample):
    r = qms("--lang", "en", "report", "on-time", "--period", "2026", "--format", "csv", root=sample, env=SAMPLE_NOW)
    assert r.code == 0, r.text
    head = r.out.lstrip("\ufeff").splitlines()[0]
    assert head == "Month,Class,Time limit,Met on time,Met late,Open (not yet due),Overdue,Not applicable,On-time rate"
    assert not re.search(CJK, head)
    assert "General complaint,Contact the customer" in r.out and "Total,Closure" in r.out


def test_on_time_over_a_year_is_per_month(qms, sample):
    """--period 2026: every month of the year, one without complaints with zeros. February
    by hand: 0003 (general, not ours), 0004 (requirement), 0005 (general, all late)."""
    r = qms("report", "on-time", "--period", "2026", "--format", "csv", root=sample, env=SAMPLE_NOW)
    assert r.code == 0, r.text
    rows = list(csv.reader(r.out.lstrip("\ufeff").splitlines()))
    assert rows[0][0] == "月份"
    assert sorted({row[0] for row in rows[1:]}) == [f"2026-{m:02d}" for m in range(1, 13)]
    february = {(row[1], row[2]): row[3:] for row in rows[1:] if row[0] == "2026-02"}
    assert february == {
        ("一般投诉", "联系顾客"): ["1", "1", "0", "0", "0", "50.0%"],
        ("一般投诉", "改善报告/8D报告"): ["0", "1", "0", "0", "1", "0.0%"],
        ("一般投诉", "异常闭环"): ["1", "1", "0", "0", "0", "50.0%"],
        ("客户需求", "联系顾客"): ["1", "0", "0", "0", "0", "100.0%"],
        ("客户需求", "改善报告/8D报告"): ["1", "0", "0", "0", "0", "100.0%"],
        ("客户需求", "异常闭环"): ["1", "0", "0", "0", "0", "100.0%"],
        ("合计", "联系顾客"): ["2", "1", "0", "0", "0", "66.7%"],
        ("合计", "改善报告/8D报告"): ["1", "1", "0", "0", "1", "50.0%"],
        ("合计", "异常闭环"): ["2", "1", "0", "0", "0", "66.7%"],
    }
    # July: no complaint received; one row of zeros, no rate
    assert [row for row in rows[1:] if row[0] == "2026-07"] == [["2026-07", "", "", "0", "0", "0", "0", "0", ""]]
    # the months add up to the year's figures
    met = sum(int(row[3]) for row in rows[1:] if row[1] == "合计" and row[2] == "联系顾客")
    assert met == int(ON_TIME_2026[("合计", "联系顾客")][0]) == 15


def test_on_time_per_customer(qms, sample):
    """--by customer: 2026-Q1 has six complaints from six customers (0001..0006); 奇瑞
    (售后服务部) is 0005, late on all three; 东风日产（花都工厂） is 0006, cancelled."""
    r = qms("report", "on-time", "--period", "2026-Q1", "--by", "customer", root=sample, env=SAMPLE_NOW)
    assert r.code == 0, r.text
    head, *body = md_rows(r.out)
    assert head[:2] == ["顾客名称", "时限"]
    rows = {(row[0], row[1]): row[2:] for row in body}
    assert rows[("奇瑞汽车股份有限公司（售后服务部）", "联系顾客")] == ["0", "1", "0", "0", "0", "0.0%"]
    assert rows[("奇瑞汽车股份有限公司（售后服务部）", "异常闭环")] == ["0", "1", "0", "0", "0", "0.0%"]
    assert rows[("东风汽车有限公司东风日产乘用车公司（花都工厂）", "改善报告/8D报告")] == ["0", "0", "0", "0", "1", ""]
    assert len({row[0] for row in body} - {"合计"}) == 6
    # Q1 by hand: contact 5 met (0001-0004, 0006) + 1 late (0005); report met 0001 0002 0004,
    # late 0005, stopped 0003 0006; closure met 0001-0004, late 0005, stopped 0006
    assert rows[("合计", "联系顾客")] == ["5", "1", "0", "0", "0", "83.3%"]
    assert rows[("合计", "改善报告/8D报告")] == ["3", "1", "0", "0", "2", "75.0%"]
    assert rows[("合计", "异常闭环")] == ["4", "1", "0", "0", "1", "80.0%"]
    assert "统计客诉数：6" in r.out


def test_on_time_as_xlsx(qms, sample, tmp_path):
    out = tmp_path / "f.xlsx"
    r = qms("report", "on-time", "--period", "2026-Q1", "--format", "xlsx", "-o", str(out), root=sample, env=SAMPLE_NOW)
    assert r.code == 0, r.text
    ws = load_workbook(out).active
    assert (ws["A1"].value, ws["A2"].value) == ("立信汽车部件股份有限公司", "客诉处理及时率统计表")
    block = {row[0].value: row[1].value for row in ws.iter_rows(max_row=7) if row[0].value}
    assert block["期间"] == "2026-Q1" and block["统计客诉数"] == 6
    assert any(str(k).startswith("及时率 = ") for k in block)  # the note, in the title block
    header = next(row[0].row for row in ws.iter_rows() if row[0].value == "投诉类别")
    heads = [c.value for c in ws[header]]
    assert heads[-1] == "及时率"
    rows = {(ws.cell(row=n, column=1).value, ws.cell(row=n, column=2).value): n
            for n in range(header + 1, ws.max_row + 1)}
    total = rows[("合计", "联系顾客")]
    met = ws.cell(row=total, column=3)
    assert (met.data_type, met.value) == ("n", 5)
    rate = ws.cell(row=total, column=len(heads))
    assert rate.data_type == "n" and rate.value == pytest.approx(5 / 6) and rate.number_format == "0.0%"
    assert ws.freeze_panes == f"A{header + 1}"
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)


def test_failures_by_part_number_and_failure_mode_in_pareto_order(qms, sample):
    """Every part number is named by one complaint only: sixteen rows of 1, 6.3% each
    (1/16, shown half up as Excel shows it), the cumulative share rising to 100.0%."""
    r = qms("report", "failures", root=sample, env=SAMPLE_NOW)
    assert r.code == 0, r.text
    head, *body = md_rows(r.out)
    assert head == ["零件号", "失效模式", "客诉件数", "占比", "累计占比"]
    assert len(body) == 16 and {row[2] for row in body} == {"1"} and {row[3] for row in body} == {"6.3%"}
    assert [row[4] for row in body][-1] == "100.0%" and body[0][4] == "6.3%" and body[7][4] == "50.0%"
    assert ["5Q0 611 701 F", "渗漏"] in [row[:2] for row in body]
    assert "46210-5RB0A" not in r.out  # 0006, withdrawn by the customer: not a failure
    assert "统计客诉数：16" in r.out


def test_failures_by_mode(qms, sample):
    r = qms("report", "failures", "--by", "mode", root=sample, env=SAMPLE_NOW)
    assert r.code == 0, r.text
    head, *body = md_rows(r.out)
    assert head == ["失效模式", "客诉件数", "占比", "累计占比"]
    assert {row[0]: int(row[1]) for row in body} == FAILURE_MODES
    counts = [int(row[1]) for row in body]
    assert counts == sorted(counts, reverse=True)  # Pareto: most first
    assert body[0] == ["渗漏", "4", "25.0%", "25.0%"]  # 4 / 16
    assert [row[3] for row in body] == ["25.0%", "37.5%", "50.0%", "62.5%", "75.0%", "87.5%", "93.8%", "100.0%"]


def test_failures_in_english_as_csv_and_xlsx(qms, sample, tmp_path):
    """2026-Q1 by hand: 0001 渗漏, 0002 标识不良, 0003 渗漏, 0004 (none), 0005 开裂; 0006 cancelled."""
    r = qms("--lang", "en", "report", "failures", "--period", "2026-Q1", "--by", "mode", "--format", "csv",
            root=sample, env=SAMPLE_NOW)
    assert r.code == 0, r.text
    lines = r.out.lstrip("\ufeff").splitlines()
    assert lines == ["Failure mode,Complaints,Share,Cumulative share",
                     # ties in the keys' order, a complaint without a failure mode last
                     "渗漏,2,40.0%,40.0%", "开裂,1,20.0%,60.0%", "标识不良,1,20.0%,80.0%", ",1,20.0%,100.0%"]
    out = tmp_path / "failures.xlsx"
    r = qms("--lang", "en", "report", "failures", "--format", "xlsx", "-o", str(out), root=sample, env=SAMPLE_NOW)
    assert r.code == 0, r.text
    ws = load_workbook(out).active
    assert ws["A2"].value == "Product failure history"
    header = next(row[0].row for row in ws.iter_rows() if row[0].value == "Part number")
    assert [c.value for c in ws[header]] == ["Part number", "Failure mode", "Complaints", "Share", "Cumulative share"]
    last = ws.max_row
    assert ws.cell(row=last, column=5).value == pytest.approx(1.0) and ws.cell(row=last, column=5).number_format == "0.0%"
    assert ws.cell(row=header + 1, column=3).value == 1
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)


@pytest.mark.parametrize("name", ["on-time", "failures"])
def test_a_period_without_complaints(qms, sample, name):
    """2025-Q3: nothing received; the table's header, one empty row, nothing counted."""
    r = qms("report", name, "--period", "2025-Q3", root=sample, env=SAMPLE_NOW)
    assert r.code == 0, r.text
    assert "统计客诉数：0" in r.out and "期间：2025-Q3" in r.out
    head, *body = md_rows(r.out)
    assert body == [["—"] * len(head)]
    js = qms("--json", "report", name, "--period", "2025-Q3", root=sample, env=SAMPLE_NOW)
    assert json.loads(js.out)["counted"] == 0 and json.loads(js.out)["groups"] == []


@pytest.mark.parametrize("args, message", [
    (["on-time", "--by", "region"], "report 'on-time': --by 'region': expected one of class, customer"),
    (["failures", "--by", "customer"], "report 'failures': --by 'customer': expected one of part, mode"),
    (["complaints", "--by", "class"], "report 'complaints' lists records and has no --by"),
    (["on-time", "--period", "2026-13"], "--period '2026-13': expected YYYY, YYYY-Qn or YYYY-MM"),
    (["failures", "--format", "pdf"], "--format 'pdf': expected md, csv or xlsx"),
    (["on-time", "--format", "xlsx"], "--format xlsx writes a file"),
    (["on-time", "--where", "klass=serious"], "klass"),
])
def test_bad_options_are_refused(qms, sample, args, message):
    r = qms("report", *args, root=sample, env=SAMPLE_NOW)
    assert r.code == 2, r.text
    assert message in r.err, r.err
    assert r.out == ""


def test_where_narrows_a_tally(qms, sample):
    """--where as for list: the serious complaints only (0001, 0007, 0012, 0015)."""
    r = qms("report", "on-time", "--where", "class=严重投诉", root=sample, env=SAMPLE_NOW)
    assert r.code == 0, r.text
    rows = {(row[0], row[1]): row[2:] for row in md_rows(r.out)[1:]}
    assert rows[("合计", "改善报告/8D报告")] == ON_TIME_2026[("严重投诉", "改善报告/8D报告")]
    assert "统计客诉数：4" in r.out
