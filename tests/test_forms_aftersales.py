"""Issue 14: the after-sales forms (顾客档案, 售后服务申请表, 现场服务报告, 安装验收记录,
售后服务零部件赔偿单, 售后赔偿责任认定书, 走访服务报告, 顾客满意度调查表, 顾客满意度调查方案), in
Chinese and English, rendered through the real CLI from a copy of the sample store.

Every record of these types is printed on each form its type declares; the forms show
what a quality engineer looks for on paper (the compensation's total and approver, the
service report's parts and memo log, the acceptance result, the survey's satisfaction
against its target and its CAPA), refuse a form the type does not have, and escape a
record value that looks like Markdown or HTML."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import REPO, git, md_rows
from test_render import check_markdown
from test_security import form_problems, y

from qms_cli.config import Config

NOW = {"QMS_NOW": "2026-12-07T09:00"}  # after every sample record's last act
TYPES = ["customer", "service", "compensation", "visit", "survey_plan", "survey"]
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def forms_of(type_name: str) -> list[str | None]:
    """The main form (None) and the other forms the type declares (`forms:`)."""
    return [None, *Config.load(REPO).record_type(type_name).forms]


def sample_ids(type_name: str) -> list[str]:
    return sorted(p.stem for p in (REPO / "records" / type_name).rglob("*.yaml"))


CASES = [(t, rid, form) for t in TYPES for rid in sample_ids(t) for form in forms_of(t)]


def render(qms, sample: Path, rid: str, lang: str, form: str | None = None) -> str:
    args = ["render", rid, "--lang", lang] + (["--form", form] if form else [])
    r = qms(*args, root=sample, env=NOW)
    assert r.code == 0, r.text
    assert "Traceback" not in r.text and "undefined" not in r.text.lower(), r.text
    check_markdown(r.out)
    return r.out


def data_strings(root: Path) -> list[str]:
    """Every text a form may copy from the store: the values of every record and qms.yaml
    (people, roles' departments, company), longest first."""
    from ruamel.yaml import YAML

    found: set[str] = set()

    def walk(value):
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, str):
            found.add(value)

    yaml = YAML(typ="safe", pure=True)
    for path in [root / "qms.yaml", *sorted((root / "records").rglob("*.yaml"))]:
        walk(yaml.load(path.read_text(encoding="utf-8")))
    return sorted(found, key=len, reverse=True)


def row(form: str, first: str) -> list[str]:
    """The table row whose first cell is `first`."""
    rows = [r for r in md_rows(form) if r and r[0] == first]
    assert rows, f"no row '{first}' in:\n{form}"
    return rows[0]


def section(form: str, heading: str) -> str:
    """The text under `### heading`, up to the next heading."""
    m = re.search(rf"^### {re.escape(heading)}\n(.*?)(?=^#|\Z)", form, re.S | re.M)
    assert m, f"no section '{heading}' in:\n{form}"
    return m.group(1)


# ------------------------------------------------------------------ every record, every form


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_aftersales_record_prints_on_every_form_of_its_type(qms, sample, lang):
    """Each form starts with the company and its own title and names the record; the English
    forms hold no Chinese but what the store itself holds (names, free text)."""
    config = Config.load(REPO)
    data = data_strings(sample)
    for type_name, rid, form in CASES:
        rt = config.record_type(type_name)
        title = rt.forms[form][lang] if form else rt.form[lang]
        text = render(qms, sample, rid, lang, form)
        assert text.startswith("# 立信汽车部件股份有限公司\n\n## " + title + "\n"), (rid, form, text[:200])
        assert f"| {rid} |" in text, (rid, form)
        assert "### 签名" in text if lang == "zh" else "### Signatures" in text
        assert "### 处理记录" in text if lang == "zh" else "### Processing record" in text
        if lang == "en":
            rest = text
            for s in data:
                rest = rest.replace(s, "")
            assert not CJK.findall(rest), (rid, form, sorted(set(CJK.findall(rest))))


def test_the_types_forms_are_the_templates_shipped():
    """Every form an after-sales type declares has its template in both languages."""
    for type_name in TYPES:
        for form in forms_of(type_name):
            for lang in ("zh", "en"):
                name = f"{type_name}.{form}.{lang}.md.j2" if form else f"{type_name}.{lang}.md.j2"
                assert (REPO / "templates" / name).is_file(), name


def test_a_form_the_type_does_not_have_is_refused_naming_those_it_has(qms, sample):
    r = qms("render", "CUS-0001", "--form", "report", root=sample, env=NOW)
    assert r.code == 2 and r.out == "", r.text
    assert "--form 'report'" in r.err and "one form only" in r.err, r.err
    r = qms("render", "SVC-2026-0001", "--form", "liability", root=sample, env=NOW)
    assert r.code == 2 and "report, acceptance" in r.err, r.err
    r = qms("render", "CPN-2026-0001", "--form", "report", root=sample, env=NOW)
    assert r.code == 2 and "liability" in r.err, r.err


# ------------------------------------------------------------------------- what each shows


def test_compensation_shows_its_parts_total_and_who_approved_it(qms, sample):
    zh = render(qms, sample, "CPN-2026-0002", "zh")
    assert row(zh, "1")[1:] == ["SC3E-3506110", "前制动软管总成（换货）", "60", "13,800.00"]
    assert row(zh, "合计")[-1] == "18,600.00"
    approval = section(zh, "审批")
    assert "本单由分管销售副总批准" in approval
    rows = dict(r for r in md_rows(approval) if len(r) == 2)
    assert rows["赔偿总金额（元）"] == rows["批准金额（元）"] == "18,600.00"
    assert rows["批准人"] == "何军" and rows["批准人角色"] == "分管销售副总"
    assert rows["批准时间"] == "2026-11-17 10:00"
    en = render(qms, sample, "CPN-2026-0002", "en")
    rows = dict(r for r in md_rows(section(en, "Approval")) if len(r) == 2)
    assert rows["Approved by"] == "何军" and rows["Approver's role"] == "Vice-president, sales"
    assert row(en, "Total")[-1] == "18,600.00"
    # not yet approved: the approval and the signatures still awaited are empty boxes
    open_claim = render(qms, sample, "CPN-2026-0003", "zh")
    assert row(open_claim, "批准人") == ["批准人", ""] and row(open_claim, "合计")[-1] == "62,000.00"
    assert row(open_claim, "批准") == ["批准", "", "", ""] and row(open_claim, "执行") == ["执行", "", "", ""]


def test_liability_finding_is_signed_by_the_quality_vice_president(qms, sample):
    for lang, signed_row in (("zh", ["责任认定", "宋佳", "质量副总", "2026-11-06 10:00"]),
                             ("en", ["Liability found", "宋佳", "Vice-president, quality", "2026-11-06 10:00"])):
        text = render(qms, sample, "CPN-2026-0001", lang, "liability")
        assert signed_row in md_rows(text)
        assert "1,260.00" in text and "扣压外径超差属我方制造原因，赔偿成立" in text
    assert row(render(qms, sample, "CPN-2026-0001", "zh", "liability"), "责任方")[1] == "我方"


def test_service_report_shows_parts_memo_sign_off_and_time_limits(qms, sample):
    zh = render(qms, sample, "SVC-2026-0001", "zh", "report")
    parts = md_rows(section(zh, "更换零部件"))
    assert parts[1] == ["1", "SC3E-3506110", "前制动软管总成", "2", "我方（保修/赔偿）"]
    memo = md_rows(section(zh, "服务备忘录日志"))[1:]
    assert memo == [["1", "2026-11-02 16:45", "黄磊", "到达线边，确认两根软管接头渗漏"],
                    ["2", "2026-11-03 11:00", "黄磊", "线边 40 根全检完成"]]
    assert row(zh, "已盖章") == ["已盖章", "是"] and row(zh, "顾客签字人") == ["顾客签字人", "周敏"]
    assert row(zh, "回访人")[2:] == ["走访记录", "VIS-2026-0004"]
    limits = {r[0]: r for r in md_rows(section(zh, "处理时限"))[1:]}
    assert limits["答复顾客"] == ["答复顾客", "8小时", "2026-11-02 17:00", "2026-11-02 10:20", "按时完成"]
    assert limits["服务回访"] == ["服务回访", "2周", "2026-11-17 18:00", "2026-11-16", "按时完成"]
    assert set(limits) == {"答复顾客", "到达现场", "解决问题", "服务回访"}
    assert row(zh, "CPN-2026-0001")[1:3] == ["已执行", "1,260.00"]
    en = render(qms, sample, "SVC-2026-0001", "en", "report")
    assert md_rows(section(en, "Parts replaced"))[1][-1] == "Ours (warranty or compensation)"
    assert row(en, "Stamped") == ["Stamped", "Yes"]
    assert row(en, "Follow-up") == ["Follow-up", "2 weeks", "2026-11-17 18:00", "2026-11-16", "Met"]


def test_a_live_service_report_has_boxes_to_fill_in(qms, sample):
    """SVC-2026-0003 is decided, nobody on site yet: blank rows for the work, the parts and
    the memo log, the stamp to tick, the on-site limit overdue at QMS_NOW."""
    zh = render(qms, sample, "SVC-2026-0003", "zh", "report")
    assert row(zh, "处理经过及结果") == ["处理经过及结果", ""]
    assert md_rows(section(zh, "服务备忘录日志"))[1] == ["", "", "", ""]
    assert row(zh, "已盖章") == ["已盖章", "□ 是　□ 否"]
    assert row(zh, "到达现场")[1:] == ["1周", "2026-12-04 10:00", "", "已超期"]
    assert ["到达现场", "", "", ""] in md_rows(section(zh, "签名"))


def test_service_request_shows_the_request_reply_and_the_vice_presidents_decision(qms, sample):
    zh = render(qms, sample, "SVC-2026-0001", "zh")
    assert row(zh, "使用单位")[1] == "奇瑞汽车股份有限公司（芜湖第二总装厂）"
    assert row(zh, "故障发生时间")[1] == "2026-11-02 07:40" and row(zh, "出厂日期")[3] == "保修期内"
    assert row(zh, "答复顾客时限")[1] == "8小时，截止 2026-11-02 17:00（按时完成，2026-11-02 10:20 完成）"
    decision = section(zh, "分管副总决定")
    assert ["处理决定", "派员现场服务"] in md_rows(decision)
    assert ["分管副总签字", "何军（分管销售副总），2026-11-02 11:00"] in md_rows(decision)
    en = render(qms, sample, "SVC-2026-0002", "en")
    assert row(en, "Installation planned on")[1] == "2026-11-20"


def test_installation_acceptance_shows_the_result_and_the_customers_sign_off(qms, sample):
    zh = render(qms, sample, "SVC-2026-0002", "zh", "acceptance")
    assert row(zh, "验收结论") == ["验收结论", "验收合格"]
    assert row(zh, "顾客验收人") == ["顾客验收人", "陈刚"] and row(zh, "验收日期")[1] == "2026-11-21"
    assert row(zh, "验收项目")[1] == "外观、安全接地、保压精度 ±0.5 kPa、节拍 45 s"
    assert row(zh, "申请时间")[2:] == ["计划安装日期", "2026-11-20"]
    en = render(qms, sample, "SVC-2026-0002", "en", "acceptance")
    assert row(en, "Result") == ["Result", "Accepted"] and row(en, "Stamped") == ["Stamped", "Yes"]
    # a repair has no acceptance: the form says so and shows none of the repair as one
    repair = render(qms, sample, "SVC-2026-0001", "zh", "acceptance")
    assert "不是安装服务，无安装验收记录" in repair and "验收结论" not in repair


def test_survey_shows_scores_on_the_scale_satisfaction_against_target_and_its_capa(qms, sample):
    zh = render(qms, sample, "SAT-2025-0007", "zh")
    assert row(zh, "满意度（%）") == ["满意度（%）", "85.0", "目标（%）", "95.0"]
    assert row(zh, "低于目标")[1:] == ["是", "低于目标的项目", "产品质量、交付、服务"]
    scores = md_rows(section(zh, "评分（1-5）"))
    assert scores[0][2:7] == ["5 很满意", "4 满意", "3 一般", "2 不满意", "1 很不满意"]
    assert scores[1] == ["1", "产品质量", "☐", "☑", "☐", "☐", "☐", "4", "80%", "是"]
    assert scores[2][1:10] == ["包装", "☑", "☐", "☐", "☐", "☐", "5", "100%", "否"]
    assert scores[5][1] == "价格" and scores[5][7] == "本次未调查"
    assert row(zh, "纠正/预防措施") == ["纠正/预防措施", "CAPA-2025-0001"]
    en = render(qms, sample, "SAT-2025-0007", "en")
    assert row(en, "Satisfaction (%)") == ["Satisfaction (%)", "85.0", "Target (%)", "95.0"]
    assert row(en, "CAPA") == ["CAPA", "CAPA-2025-0001"]
    # below target with the reason for no CAPA instead
    reason = render(qms, sample, "SAT-2026-0002", "zh")
    assert row(reason, "未采取纠正措施的理由")[1].startswith("仅价格项低于目标") and "| 纠正/预防措施 |" not in reason
    # returned and below target, neither yet: both boxes, and what is needed
    pending = render(qms, sample, "SAT-2026-0007", "zh")
    assert row(pending, "纠正/预防措施") == ["纠正/预防措施", ""] and "须采取纠正措施" in pending


def test_survey_plan_lists_its_customers_by_name_with_the_surveys_returned(qms, sample):
    zh = render(qms, sample, "SVP-002", "zh")
    rows = md_rows(section(zh, "调查顾客"))
    assert rows[0] == ["序号", "顾客", "顾客名称", "顾客分级", "2026-H1", "2026-H2"]
    assert rows[1] == ["1", "CUS-0001", "比亚迪汽车工业有限公司", "重点顾客", "SAT-2026-0001（100.0%）", "SAT-2026-0005（100.0%）"]
    assert rows[4][1:3] == ["CUS-0004", "浙江吉利汽车有限公司"] and rows[4][5] == ""
    assert row(zh, "调查期间")[1:] == ["2026-H1、2026-H2", "满意度目标（%）", "97.0"]
    assert ["批准", "郑丽", "部门负责人（销售部）", "2026-01-05 11:00"] in md_rows(zh)
    en = render(qms, sample, "SVP-001", "en")
    assert ["3", "CUS-0003", "长城汽车股份有限公司", "Key customer", "SAT-2025-0003 (100.0%)", "SAT-2025-0007 (85.0%)"] in md_rows(en)


def test_customer_record_shows_contacts_equipment_and_the_next_visit(qms, sample):
    zh = render(qms, sample, "CUS-0002", "zh")
    assert row(zh, "其他名称")[1] == "奇瑞汽车股份有限公司（售后服务部）、奇瑞汽车股份有限公司（芜湖第二总装厂）"
    assert md_rows(section(zh, "联系人"))[1] == ["1", "周敏", "质量部 SQE", "0553-5922000", "zhou.min@chery.example.com"]
    equipment = md_rows(section(zh, "合同设备/产品"))[1]
    assert equipment[5:] == ["2027-12-01", "保修期内"]
    assert row(zh, "下次定期走访")[1] == "3个月一次，截止 2027-02-16 24:00（未到期，截至制表时间 2026-12-07 09:00）"
    assert ["2026-11-16", "VIS-2026-0004", "服务回访", "SVC 服务回访", "2026-11-16", "跟进事项已完成"] in md_rows(zh)
    en = render(qms, sample, "CUS-0001", "en")
    assert row(en, "Next: regular visit")[1] == "Every 3 months, due 2026-12-15 24:00 (Not yet due as of 2026-12-07 09:00)"
    regular = render(qms, sample, "CUS-0008", "zh")
    assert row(regular, "下次定期走访")[1] == "一般顾客无定期走访时限"


def test_visit_report_shows_who_was_met_and_the_follow_ups_progress(qms, sample):
    zh = render(qms, sample, "VIS-2026-0003", "zh")
    assert row(zh, "接待人")[1] == "奇瑞芜湖第二总装厂 SQE 周敏"
    follow_ups = md_rows(section(zh, "跟进事项"))[1:]
    assert follow_ups[0][2:] == ["李雷", "2026-11-05", "2026-11-03", "按时完成"]
    assert follow_ups[1][2:] == ["刘洋", "2027-01-31", "", "进行中"]
    assert ["跟进完成", "", "", ""] in md_rows(zh)
    follow_up = render(qms, sample, "VIS-2026-0004", "en")
    assert row(follow_up, "Service")[1:] == ["SVC-2026-0001", "Service: failure", "总装线制动液加注后两根软管接头渗漏，线边停线"]
    planned = render(qms, sample, "VIS-2026-0005", "zh")
    assert row(planned, "按计划走访时限")[1] == "截止 2026-12-10 24:00（进行中，截至制表时间 2026-12-07 09:00）"


# ------------------------------------------------------------------- entered afterwards, escaping


def test_an_act_entered_afterwards_shows_its_paper_date_and_when_it_was_entered(qms, sample):
    """补录: the service engineer arrived on 2026-12-03 and entered it later."""
    r = qms("service", "move", "SVC-2026-0003", "on_site", "--on", "2026-12-03T09:30",
            "--set", "engineers=黄磊", "--set", "departed_at=2026-12-03T06:00",
            "--set", "arrived_at=2026-12-03T09:20",
            who=("黄磊", "huang.lei@example.com"), root=sample)
    assert r.code == 0, r.text
    zh = render(qms, sample, "SVC-2026-0003", "zh", "report")
    arrived = row(section(zh, "签名"), "到达现场")
    assert arrived[1:3] == ["黄磊", "售后服务工程师"]
    assert re.fullmatch(r"2026-12-03 09:30 补录（\d{4}-\d\d-\d\d \d\d:\d\d 录入）", arrived[3]), arrived
    assert any(re.fullmatch(r"2026-12-03 09:30 补录（.* 录入）", r[0]) for r in md_rows(section(zh, "处理记录"))), zh
    en = render(qms, sample, "SVC-2026-0003", "en")
    assert re.search(r"\| 2026-12-03 09:30 \(entered afterwards on \d{4}-\d\d-\d\d \d\d:\d\d\) \|", en), en


HOSTILE = {
    "script": "<script>alert(1)</script>",
    "img": "<img src=x onerror=alert(1)>",
    "js-link": "[x](javascript:alert(1))",
    "table-pipe": "a|b",
    "line-break": "x\n# heading\n| forged | row |",
    "html-comment": "<!-- hide the rest",
}


def plant(sample: Path, type_name: str, rid: str, old: str, new: str) -> None:
    path = sample / "records" / type_name / f"{rid}.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text, (rid, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def cells(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]


@pytest.mark.parametrize("value", list(HOSTILE.values()), ids=list(HOSTILE))
def test_a_value_that_looks_like_markdown_or_html_is_escaped(qms, sample, value):
    """Hand-edited values in a service, a compensation, a customer's name, a visit and a
    survey: no raw HTML, no link, no injected heading or row, on every form that shows them."""
    plant(sample, "service", "SVC-2026-0001", "failure: 总装线制动液加注后两根软管接头渗漏，线边停线",
          f"failure: {y(value)}")
    plant(sample, "service", "SVC-2026-0001", "entry: 线边 40 根全检完成", f"entry: {y(value)}")
    plant(sample, "compensation", "CPN-2026-0001", "finding: 扣压外径超差属我方制造原因，赔偿成立",
          f"finding: {y(value)}")
    plant(sample, "compensation", "CPN-2026-0001", "name: 前制动软管总成,", f"name: {y(value)},")
    plant(sample, "customer", "CUS-0002", "name: 奇瑞汽车股份有限公司\n", f"name: {y(value)}\n")
    plant(sample, "visit", "VIS-2026-0003", "met: 奇瑞芜湖第二总装厂 SQE 周敏", f"met: {y(value)}")
    plant(sample, "survey", "SAT-2025-0007", "suggestions: 交付准时率需提升，11 月两次延迟到货",
          f"suggestions: {y(value)}")
    git(sample, "add", "-A")
    git(sample, "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-q", "-m", "hand edits")
    shown = [("SVC-2026-0001", None), ("SVC-2026-0001", "report"), ("CPN-2026-0001", None),
             ("CPN-2026-0001", "liability"), ("CUS-0002", None), ("VIS-2026-0003", None),
             ("SAT-2025-0007", None), ("SVP-001", None)]
    for lang in ("zh", "en"):
        for rid, form in shown:
            text = render(qms, sample, rid, lang, form)
            assert form_problems(text) == [], (rid, form, text)
        if value == "a|b":
            request = render(qms, sample, "SVC-2026-0001", lang)
            failure = next(ln for ln in request.splitlines() if ln.startswith("| 故障描述 |" if lang == "zh" else "| Failure |"))
            assert cells(failure)[1] == r"a\|b", failure
            liability = render(qms, sample, "CPN-2026-0001", lang, "liability")
            finding = next(ln for ln in liability.splitlines() if ln.startswith("| 认定意见 |" if lang == "zh" else "| Finding |"))
            assert cells(finding) == [cells(finding)[0], r"a\|b"], finding
