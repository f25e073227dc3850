"""Report charts (issue 13): `-o FILE.md` writes the chart as FILE.svg beside the Markdown
and shows it under the title; an xlsx holds a native Excel chart of its own cells; the
declaration (`chart:` beside `tally:`) is data, and a malformed one is refused before a
record is read. Driven through the real `qms` against a copy of the sample store (its
complaints are counted by hand in test_ledgers.py) and against the test store.

The SVGs need a font with the Chinese characters (CI installs fonts-wqy-microhei); without
one, qms refuses and names the package, which the last tests check."""

from __future__ import annotations

import re
import zipfile

import pytest
from conftest import git
from openpyxl import load_workbook
from test_ledgers import SAMPLE_NOW, md_rows

from qms_cli.reports import chart as charts

TEXT = re.compile(r"<text\b[^>]*>([^<]*)</text>")  # an SVG text element, drawn by the viewer's font


def svg_texts(svg: str) -> list[str]:
    return [t.strip() for t in TEXT.findall(svg)]


def chart_xml(path) -> str:
    with zipfile.ZipFile(path) as z:
        names = [n for n in z.namelist() if n.startswith("xl/charts/")]
        assert names == ["xl/charts/chart1.xml"], names
        return z.read(names[0]).decode("utf-8")


def has_chart(path) -> bool:
    with zipfile.ZipFile(path) as z:
        return any(n.startswith("xl/charts/") for n in z.namelist())


# ------------------------------------------------------------------ the SVG beside the Markdown


def test_failures_md_gets_a_pareto_svg_beside_it_with_its_chinese_labels_as_text(qms, sample, tmp_path):
    out = tmp_path / "out" / "失败履历.md"
    out.parent.mkdir()
    r = qms("report", "failures", "-o", str(out), root=sample, env=SAMPLE_NOW)
    assert r.code == 0, r.text
    svg = out.with_suffix(".svg")
    assert sorted(p.name for p in out.parent.iterdir()) == ["失败履历.md", "失败履历.svg"]
    assert f"wrote {svg}" in r.err
    text = svg.read_text(encoding="utf-8")
    labels = svg_texts(text)
    # the bars' axis (客诉件数), the line's (累计占比), the title, and each row by its part number
    # and failure mode (0001: 5Q0 611 701 F, 渗漏), all as text, in a font that has them
    for label in ["客诉件数", "累计占比", "产品失败履历表", "零件号 · 失效模式", "5Q0 611 701 F · 渗漏"]:
        assert label in labels, (label, labels)
    assert "1104300XKZ16A" in labels  # a complaint without a failure mode: its part number alone
    assert len([t for t in labels if " · " in t or t in ("1104300XKZ16A", "3506110XPW01A")]) == 16 + 1
    assert re.search(r"font-family: '[^']*(CJK|Hei|Han|Song|Kai|Ming|YaHei|Gothic|Fallback)[^']*'", text), text[:2000]
    assert "<dc:date>" not in text  # no time stamp: the same data, the same bytes
    md = out.read_text(encoding="utf-8")
    lines = md.splitlines()
    image = lines.index("![产品失败履历表](%E5%A4%B1%E8%B4%A5%E5%B1%A5%E5%8E%86.svg)")
    assert lines[image - 2].startswith("> 按客诉件数")  # under the title block and its note ...
    assert lines[image + 2].startswith("| 零件号 |")  # ... above the table


def test_the_same_data_gives_the_same_svg_bytes(qms, sample, tmp_path):
    first, second = tmp_path / "a" / "f.md", tmp_path / "b" / "f.md"
    for out in (first, second, first):
        out.parent.mkdir(exist_ok=True)
        before = out.with_suffix(".svg").read_bytes() if out.with_suffix(".svg").exists() else None
        r = qms("report", "failures", "--by", "mode", "-o", str(out), root=sample, env=SAMPLE_NOW)
        assert r.code == 0, r.text
        if before is not None:
            assert out.with_suffix(".svg").read_bytes() == before
    assert first.with_suffix(".svg").read_bytes() == second.with_suffix(".svg").read_bytes()
    # and another table gives another chart
    r = qms("report", "failures", "--by", "mode", "--period", "2026-Q1", "-o", str(second), root=sample,
            env=SAMPLE_NOW)
    assert r.code == 0, r.text
    assert first.with_suffix(".svg").read_bytes() != second.with_suffix(".svg").read_bytes()


def test_on_time_over_a_year_is_a_trend_of_each_time_limit_month_by_month(qms, sample, tmp_path):
    out = tmp_path / "on-time-2026.md"
    r = qms("report", "on-time", "--period", "2026", "-o", str(out), root=sample, env=SAMPLE_NOW)
    assert r.code == 0, r.text
    labels = svg_texts(out.with_suffix(".svg").read_text(encoding="utf-8"))
    assert {"联系顾客", "改善报告/8D报告", "异常闭环"} <= set(labels)  # one line each, from the 合计 rows
    assert "一般投诉" not in labels  # the classes' rows are not drawn
    assert [t for t in labels if re.fullmatch(r"2026-\d\d", t)] == [f"2026-{m:02d}" for m in range(1, 13)]
    assert {"及时率", "月份", "客诉处理及时率统计表 · 2026", "100%"} <= set(labels)
    assert "![客诉处理及时率统计表](on-time-2026.svg)" in out.read_text(encoding="utf-8")


def test_a_table_that_is_not_per_month_or_has_nothing_to_draw_has_no_chart(qms, sample, tmp_path):
    for args in (["on-time", "--period", "2026-Q1"], ["on-time"], ["failures", "--period", "2025-Q3"]):
        out = tmp_path / "r.md"
        r = qms("report", *args, "-o", str(out), root=sample, env=SAMPLE_NOW)
        assert r.code == 0, r.text
        assert "![" not in out.read_text(encoding="utf-8") and not out.with_suffix(".svg").exists(), args
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["r.md"]


def test_markdown_on_standard_output_and_no_chart_write_no_svg(qms, sample, tmp_path):
    r = qms("report", "failures", root=sample, env=SAMPLE_NOW, cwd=tmp_path)
    assert r.code == 0, r.text
    assert "![" not in r.out and md_rows(r.out)[0][0] == "零件号"
    out = tmp_path / "f.md"
    r = qms("report", "failures", "--no-chart", "-o", str(out), root=sample, env=SAMPLE_NOW)
    assert r.code == 0, r.text
    assert "![" not in out.read_text(encoding="utf-8")
    xlsx = tmp_path / "f.xlsx"
    r = qms("report", "failures", "--no-chart", "--format", "xlsx", "-o", str(xlsx), root=sample, env=SAMPLE_NOW)
    assert r.code == 0, r.text
    assert not has_chart(xlsx)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["f.md", "f.xlsx"]


def test_the_svg_is_refused_where_the_markdown_would_be(qms, sample, tmp_path):
    (tmp_path / "out").mkdir()
    r = qms("report", "failures", "-o", str(tmp_path / "out" / "f.svg"), root=sample, env=SAMPLE_NOW)
    assert r.code == 2 and "give -o FILE.md" in r.err, r.text
    # beside a Markdown in the store's records/ folder: refused before anything is written
    r = qms("report", "failures", "-o", str(sample / "records" / "f.md"), root=sample, env=SAMPLE_NOW)
    assert r.code == 2 and "records/" in r.err, r.text
    assert not list(sample.glob("records/f.*")) and not list((tmp_path / "out").iterdir())


# ------------------------------------------------------------------ the Excel chart


def test_failures_xlsx_holds_a_pareto_of_its_own_cells(qms, sample, tmp_path):
    out = tmp_path / "f.xlsx"
    r = qms("report", "failures", "--format", "xlsx", "-o", str(out), root=sample, env=SAMPLE_NOW)
    assert r.code == 0, r.text
    ws = load_workbook(out).active
    header = next(row[0].row for row in ws.iter_rows() if row[0].value == "零件号")
    first, last = header + 1, header + 16
    xml = chart_xml(out)
    sheet = "'产品失败履历表'"
    assert "<barChart>" in xml and "<lineChart>" in xml  # the counts as bars, the cumulative share as a line
    assert f"<f>{sheet}!$C${first}:$C${last}</f>" in xml  # 客诉件数, the table's cells
    assert f"<f>{sheet}!$E${first}:$E${last}</f>" in xml  # 累计占比
    assert f"<f>{sheet}!$A${first}:$B${last}</f>" in xml  # labelled by part number and failure mode
    assert f"<f>{sheet}!$C${header}</f>" in xml  # the series named by its header
    assert ws.cell(row=header, column=3).value == "客诉件数" and ws.cell(row=last, column=5).value == pytest.approx(1)
    assert ws.cell(row=last + 1, column=1).value is None  # the chart adds no cell to the table


def test_on_time_xlsx_over_a_year_gathers_the_trend_on_a_sheet_of_values(qms, sample, tmp_path):
    out = tmp_path / "t.xlsx"
    r = qms("report", "on-time", "--period", "2026", "--format", "xlsx", "-o", str(out), root=sample, env=SAMPLE_NOW)
    assert r.code == 0, r.text
    wb = load_workbook(out)
    assert wb.sheetnames == ["客诉处理及时率统计表", "图表数据"]
    data = wb["图表数据"]
    rows = list(data.iter_rows(values_only=True))
    assert rows[0] == ("月份", "联系顾客", "改善报告/8D报告", "异常闭环")
    by_month = {r[0]: r[1:] for r in rows[1:]}
    assert list(by_month) == [f"2026-{m:02d}" for m in range(1, 13)]
    # the 合计 rows of the ledger's own month blocks (2026-02: contact 2 of 3, report 1 of 2)
    ws = wb["客诉处理及时率统计表"]
    table = {(r[0], r[1], r[2]): r[-1] for r in ws.iter_rows(values_only=True) if r[1] == "合计"}
    for month, values in by_month.items():
        for limit, value in zip(rows[0][1:], values):
            assert value == table.get((month, "合计", limit)), (month, limit)
    assert by_month["2026-02"][:2] == (pytest.approx(2 / 3), 0.5) and by_month["2026-07"] == (None, None, None)
    assert all(c.data_type != "f" for row in data.iter_rows() for c in row)
    assert data["B3"].number_format == "0.0%"
    xml = chart_xml(out)
    assert "<lineChart>" in xml and "<f>'图表数据'!$B$2:$B$13</f>" in xml and "<f>'图表数据'!$A$2:$A$13</f>" in xml


# ------------------------------------------------------------------ a store's own chart


MONTHLY = """\
label: {zh: 月度客诉件数, en: Complaints per month}
type: complaint
period_field: received_at
tally:
  by:
    class: [class]
    channel: [channel]
  per_month: {over: [year]}
  columns:
    - {count: {}, label: {zh: 客诉件数, en: Complaints}}
chart: %s
"""


def own_report(root, chart: str, name: str = "monthly", text: str = MONTHLY):
    (root / "reports").mkdir(exist_ok=True)
    (root / "reports" / f"{name}.yaml").write_text(text % chart, encoding="utf-8")


def test_a_stores_own_report_draws_monthly_counts_as_bars(qms, sample, tmp_path):
    own_report(sample, "[{kind: bar, value: 1}]")  # a list of one: the first that fits
    out = tmp_path / "m.md"
    r = qms("report", "monthly", "--period", "2026", "-o", str(out), root=sample, env=SAMPLE_NOW)
    assert r.code == 0, r.text
    labels = svg_texts(out.with_suffix(".svg").read_text(encoding="utf-8"))
    assert {"一般投诉", "严重投诉", "客户需求", "客诉件数", "2026-01", "2026-12"} <= set(labels)
    xlsx = tmp_path / "m.xlsx"
    r = qms("report", "monthly", "--period", "2026", "--format", "xlsx", "-o", str(xlsx), root=sample, env=SAMPLE_NOW)
    assert r.code == 0, r.text
    data = load_workbook(xlsx)["图表数据"]
    counts = {r[0]: r[1:] for r in data.iter_rows(min_row=2, values_only=True)}
    assert sum(sum(v) for v in counts.values()) == 17 and counts["2026-07"] == (0, 0, 0)  # a month of none: 0
    assert "<barChart>" in chart_xml(xlsx)


@pytest.mark.parametrize("chart, expected", [
    ("{kind: pie, value: 1}", "kind is bar, pareto, trend, not 'pie'"),
    ("{kind: bar}", "bar needs value: N"),
    ("{kind: bar, value: 2}", "value is the position of a column among the tally's columns, 1 to 1; not '2'"),
    ("{kind: bar, value: first}", "not 'first'"),
    ("{kind: bar, value: 1, colour: red}", "unknown key 'colour' (expected kind, value, line, rows, top)"),
    ("{kind: bar, value: 1, rows: totals}", "rows: totals needs totals: true in the tally"),
    ("{kind: bar, value: 1, rows: some}", "rows is all or totals, not 'some'"),
    ("{kind: bar, value: 1, top: 0}", "top is a whole number of rows from 1, not '0'"),
    ("{kind: trend, value: 1, line: 1}", "line is for a pareto chart only"),
    ("{kind: pareto, value: 1}", "pareto: line is the position of the cumulative column"),
    ("bar", "expected kind: bar, pareto, trend with value: N"),
    ("[{kind: trend, value: 1}, {kind: bars, value: 1}]", "not 'bars'"),  # every chart is checked
])
def test_a_malformed_chart_declaration_is_refused_with_what_was_expected(qms, store, chart, expected):
    """Refused before a record is read (the test store has none), exit 2, one line."""
    own_report(store, chart)
    r = qms("report", "monthly", "-o", str(store.parent / "m.md"))
    assert r.code == 2, r.text
    assert "report 'monthly': chart: " in r.err and expected in r.err, r.err
    assert "Traceback" not in r.text and r.out == "" and len(r.err.strip().splitlines()) == 1
    assert not (store.parent / "m.md").exists()


def test_a_pareto_needs_a_count_and_a_cumulative_column(qms, store):
    text = MONTHLY.replace("""    - {count: {}, label: {zh: 客诉件数, en: Complaints}}
""", """    - {count: {}, label: {zh: 客诉件数, en: Complaints}}
    - {share: {}, label: {zh: 占比, en: Share}}
    - {cumulative: {}, label: {zh: 累计占比, en: Cumulative share}}
""")
    for chart, expected in [("{kind: pareto, value: 2, line: 3}", "pareto: value is a count column"),
                            ("{kind: pareto, value: 1, line: 2}", "pareto: line is the position of the cumulative"),
                            ("{kind: bar, value: [1, 2]}", "the columns of one chart are all counts or all rates")]:
        own_report(store, chart, text=text)
        r = qms("report", "monthly")
        assert r.code == 2 and f"report 'monthly': chart: {expected}" in r.err, (chart, r.text)
    own_report(store, "{kind: pareto, value: 1, line: 3}", text=text)
    assert qms("report", "monthly").code == 0


def test_a_chart_on_a_list_is_refused(qms, store):
    (store / "reports").mkdir()
    (store / "reports" / "mine.yaml").write_text(
        "label: {zh: 我的, en: Mine}\ntype: complaint\ncolumns: [id]\nchart: {kind: bar, value: 1}\n", encoding="utf-8")
    r = qms("report", "mine")
    assert r.code == 2 and "report 'mine': chart: only a tally (tally:) is drawn as a chart" in r.err, r.text


# ------------------------------------------------------------------ without a Chinese font


def test_without_a_chinese_font_the_chart_is_refused_naming_the_package(qms, sample, tmp_path, monkeypatch):
    monkeypatch.setattr(charts, "cjk_font", lambda needed: None)  # a machine with no CJK font
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "f.md"
    r = qms("report", "failures", "-o", str(out), root=sample, env=SAMPLE_NOW)
    assert r.code == 2, r.text
    assert "fonts-noto-cjk" in r.err and "--no-chart" in r.err and len(r.err.strip().splitlines()) == 1
    assert "Traceback" not in r.text and not list(out.parent.iterdir())  # neither the SVG nor the Markdown
    r = qms("report", "failures", "--no-chart", "-o", str(out), root=sample, env=SAMPLE_NOW)
    assert r.code == 0 and out.exists(), r.text
    xlsx = tmp_path / "f.xlsx"  # Excel draws with its own fonts: no font needed here
    r = qms("report", "failures", "--format", "xlsx", "-o", str(xlsx), root=sample, env=SAMPLE_NOW)
    assert r.code == 0 and has_chart(xlsx), r.text


def test_a_chart_without_chinese_text_needs_no_chinese_font(qms, sample, tmp_path, monkeypatch):
    monkeypatch.setattr(charts, "cjk_font", lambda needed: pytest.fail(f"asked for a CJK font for {needed}"))
    own_report(sample, "{kind: bar, value: 1}")
    out = tmp_path / "m.md"
    r = qms("--lang", "en", "report", "monthly", "--by", "channel", "--period", "2026", "-o", str(out), root=sample,
            env=SAMPLE_NOW)
    assert r.code == 0, r.text
    text = out.with_suffix(".svg").read_text(encoding="utf-8")
    assert {"Phone", "Complaints", "Month"} <= set(svg_texts(text)) and "font-family: 'DejaVu Sans'" in text


def test_a_font_matplotlib_ships_never_sets_the_chinese_text():
    """None of matplotlib's own fonts has Chinese characters, and its Last Resort font
    (3.10 and later) 'has' every one as a box: taking it would print tofu."""
    import matplotlib
    from matplotlib import font_manager as fm

    own = [f for f in fm.fontManager.ttflist if f.fname.startswith(matplotlib.get_data_path())]
    assert any(f.name == "DejaVu Sans" for f in own)
    assert not [f.name for f in own if charts.candidate(f)]
    picked = charts.cjk_font(set("客诉件数"))  # this machine's (CI installs fonts-wqy-microhei)
    assert picked is not None and not picked.startswith("Last Resort") and picked != "DejaVu Sans"


def test_matplotlib_keeps_no_cache_in_the_store(qms_subprocess, sample, tmp_path):
    """A store that is also the home folder: matplotlib's font cache goes elsewhere, and
    what the store's git sees is what it saw before."""
    before = git(sample, "status", "--porcelain", "--ignored")
    out = tmp_path / "f.md"
    r = qms_subprocess("report", "failures", "-o", str(out), root=sample,
                       env={**SAMPLE_NOW, "HOME": str(sample), "XDG_CONFIG_HOME": "", "XDG_CACHE_HOME": "",
                            "MPLCONFIGDIR": ""})
    assert r.code == 0, r.text
    assert out.with_suffix(".svg").is_file()
    assert not (sample / ".cache").exists() and not (sample / ".config").exists()
    assert git(sample, "status", "--porcelain", "--ignored") == before


def test_a_value_is_drawn_as_text_never_as_tex_or_a_control_character(qms, sample, tmp_path):
    """A failure mode written with $…$ (matplotlib would typeset it as TeX, and fail on a
    broken one) and a control character (not allowed in XML): drawn as it reads."""
    path = sample / "records" / "complaint" / "CMP-2026-0001.yaml"
    text = path.read_text(encoding="utf-8").replace("failure_mode: 渗漏", 'failure_mode: "$\\\\frac{渗$ \\a"')
    path.write_text(text, encoding="utf-8")
    git(sample, "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-qam", "a failure mode by hand")
    out = tmp_path / "f.md"
    r = qms("report", "failures", "-o", str(out), root=sample, env=SAMPLE_NOW)
    assert r.code == 0, r.text
    labels = svg_texts(out.with_suffix(".svg").read_text(encoding="utf-8"))
    assert "5Q0 611 701 F · $\\frac{渗$ \\x07" in labels, labels
