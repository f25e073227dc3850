"""Ledgers and forms a department hands on: the xlsx ledger (title block, frozen header,
typed cells, columns as wide as their Chinese text, no formulas), report headers in the
report's language (文件编号, not ID), and Chinese punctuation in the Chinese forms.

Every test drives the real `qms` command line against a temporary git store (conftest),
with the records made through `complaint new` and `complaint set`, and reads what a user
would open: the xlsx through openpyxl, the Markdown as printed."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from conftest import QE, RECEIVED, REGISTERED, sets
from openpyxl import load_workbook

COMPANY = "测试汽车部件有限公司"  # conftest.CONFIG
NOW = "2026-03-20T09:00"  # QMS_NOW, read in the store's time zone (Asia/Shanghai)
LONG_NAME = "上汽大众汽车有限公司"  # ten Chinese characters: twenty columns
ASCII_BATCH = "B260301-XY"  # ten ASCII characters: ten columns
FORMULA = '=HYPERLINK("http://x","click")'
CJK = r"[\u3400-\u9fff\uf900-\ufaff]"


def new_complaint(qms, *assignments: str) -> str:
    """A complaint in state 'received' with RECEIVED's fields overridden by `assignments`."""
    keys = {a.partition("=")[0] for a in assignments}
    fields = [a for a in RECEIVED if a.partition("=")[0] not in keys] + list(assignments)
    r = qms("complaint", "new", *sets(*fields), who=QE, env=REGISTERED)
    assert r.code == 0, r.text
    return r.out.strip()


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


@pytest.mark.parametrize("name", ["controlled-documents", "recall", "complaints"])
def test_report_headers_are_in_the_reports_language(qms, name):
    """No English word or field path in a Chinese header, no Chinese in an English one."""
    zh = qms("--json", "report", name)
    en = qms("--json", "--lang", "en", "report", name)
    assert zh.code == 0 and en.code == 0, zh.text + en.text
    import json

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
