"""`qms render`: the 客诉处理单 (customer complaint handling form) as Markdown, in Chinese
and English, compared with golden files in tests/golden/.

Each test builds its record through the real command line, one step at a time, with the
git dates and QMS_NOW fixed, so the form is the same on every run. The golden files
change only on purpose: QMS_UPDATE_GOLDEN=1 rewrites them (and the test passes);
otherwise a difference fails with a unified diff."""

from __future__ import annotations

import difflib
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import GM, QE, QM, RECEIVED, STORE_BORN, git, sets

GOLDEN = Path(__file__).parent / "golden"
COMPANY = "测试汽车部件有限公司"  # conftest.CONFIG
SITE = "HZ"  # conftest.CONFIG
PEOPLE = [QE[0], QM[0]]


def at(moment: str, now: str) -> dict[str, str]:
    """The environment of one step: the commit (and so the signature) happens at
    `moment` (Asia/Shanghai), and deadlines are judged at `now`."""
    stamp = f"{moment}:00+08:00"
    return {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp, "QMS_NOW": now}


def check_golden(text: str, name: str) -> None:
    path = GOLDEN / name
    if os.environ.get("QMS_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="")
        return
    if not path.exists():
        pytest.fail(
            f"tests/golden/{name} is missing; QMS_UPDATE_GOLDEN=1 creates it", pytrace=False
        )
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                text.splitlines(keepends=True),
                f"tests/golden/{name}",
                "rendered",
            )
        )
        pytest.fail(
            f"the rendered form differs from tests/golden/{name} "
            f"(if the change is meant, rerun with QMS_UPDATE_GOLDEN=1):\n{diff}",
            pytrace=False,
        )


def check_markdown(text: str) -> None:
    """Tables have a header, a separator row and the same number of cells in every row;
    nothing prints as None or as a leftover template tag."""
    assert "None" not in text
    assert "{{" not in text and "{%" not in text
    lines = text.split("\n")
    assert text.endswith("\n") and not text.endswith("\n\n")
    i = 0
    while i < len(lines):
        if not lines[i].startswith("|"):
            i += 1
            continue
        block = []
        while i < len(lines) and lines[i].startswith("|"):
            block.append(lines[i])
            i += 1
        assert len(block) >= 3, f"a table needs a header, a separator and rows: {block}"
        assert re.fullmatch(r"\|(---\|)+", block[1]), f"no separator row under {block[0]}"
        widths = {len(re.split(r"(?<!\\)\|", row)) for row in block}
        assert len(widths) == 1, f"rows of different widths in the table under {block[0]}"
        assert all(row.endswith("|") for row in block)


def check_language(text: str, lang: str, data: list[str]) -> None:
    """The zh form holds no English words and the en form no Chinese, apart from what
    the record itself holds (data), the company, people's names, IDs and codes."""
    rest = text
    pieces = [p.strip() for d in [*data, COMPANY, *PEOPLE] for p in re.split(r"[,|\n]", d)]
    for piece in sorted(filter(None, pieces), key=len, reverse=True):
        rest = rest.replace(piece, "")
    if lang == "zh":
        words = set(re.findall(r"[A-Za-z]+", rest)) - {"CMP", SITE, "D", "br"}  # D1..D8, <br>
        assert not words, f"English in the zh form: {sorted(words)}"
    else:
        chinese = re.findall(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+", rest)
        assert not chinese, f"Chinese in the en form: {chinese}"


def values_of(*assignments: str) -> list[str]:
    return [a.partition("=")[2] for a in assignments]


def render(qms, record_id: str, lang: str, now: str) -> str:
    r = qms("render", record_id, "--lang", lang, env={"QMS_NOW": now})
    assert r.code == 0, r.text
    check_markdown(r.out)
    return r.out


# --------------------------------------------------------------------------- the records

SERIOUS_NOW = "2026-03-20T09:00"
SERIOUS = [
    "customer.name=上汽大众汽车有限公司",
    "customer.contact_person=张工",
    "customer.phone=021-69550000",
    "product.name=燃油管快插接头",
    "product.part_number=5QD 611 701 B",
    "batch=B260301",
    "quantity_affected=120",
    "channel=letter",
    "received_at=2026-03-06T10:00",
    "received_by=李雷",
    "original=written",
    "original_file=files/complaint/CMP-2026-0001-函件.pdf",
    "description=总装线发现接头渗油,停线2小时\n涉及批次 B260301 | 共120件",
    "class=serious",
    "major_quality_problem=yes",
    "reply_needed=yes",
]
SERIOUS_STEPS = [
    # (who, when, target or None for `set`, assignments, comment)
    (QE, "2026-03-06T11:30", "acknowledged", [
        "contact.at=2026-03-06T11:30",
        "contact.by=李雷",
        "contact.summary=电话联系张工,确认停线情况,约定当日派人到现场",
        "interim_countermeasure=库存及在途产品100%气密检测",
    ], "已电话联系顾客"),
    (QE, "2026-03-06T14:00", "investigating", [
        "investigation.departments=质量部,生产部,工程部",
    ], ""),
    (QE, "2026-03-09T16:00", "correcting", [
        "investigation.standard=Q/HZ 0611-2024 接头气密性要求",
        "investigation.result=退回样件12件中9件气密不合格",
        "responsibility=ours",
        "disposition=exchange,scrap",
        "d1.team=李雷(组长)、质量部、生产部、工程部",
        "d2.problem=B260301批接头O形圈装配不到位,顾客总装线渗油",
        "d3.containment=在库2400件全检,在途480件拦截返检",
        "d4.root_cause=压装工装定位销磨损,O形圈偏位",
        "d4.escape_point=终检气密测试压力设定偏低",
        "d5.corrective_action=更换定位销并纳入点检;气密测试压力恢复0.6MPa",
    ], ""),
    (QE, "2026-03-11T17:00", "verifying", [
        "d6.implementation=3月11日完成工装整改,首件及连续500件气密全部合格",
        "d6.implemented_at=2026-03-11",
        "report.submitted_at=2026-03-11T17:00",
        "report.file=files/complaint/CMP-2026-0001-8D.pdf",
    ], ""),
    (QM, "2026-03-12T09:00", "correcting", [], "复检仍有1件渗油,重新分析"),
    (QE, "2026-03-13T15:00", "verifying", [
        "d6.implementation=增加O形圈在位视觉检测,连续2000件无不良",
    ], "补充视觉检测"),
    (QM, "2026-03-18T10:00", "approving", [
        "effectiveness.result=连续三批跟踪无渗油",
        "effectiveness.checked_at=2026-03-18",
        "effectiveness.checked_by=王强",
        "customer_confirmation.result=accepted",
        "customer_confirmation.at=2026-03-18",
        "customer_confirmation.by=张工",
        "d7.prevention=同类压装工装全部纳入每日点检;更新PFMEA",
        "d8.closure=8D关闭,表彰小组",
    ], ""),
    (GM, "2026-03-18T14:00", "closed", [], "同意结案"),
]


def play(qms, record_id: str, steps, now: str) -> None:
    for who, when, target, assignments, comment in steps:
        args = ["complaint", "move", record_id, target, *sets(*assignments)]
        if target is None:
            args = ["complaint", "set", record_id, *assignments]
        if comment:
            args += ["-m", comment]
        r = qms(*args, who=who, env=at(when, now))
        assert r.code == 0, r.text


@pytest.fixture(autouse=True)
def attached_files(store):
    """The customer letters and reports the records below attach are in the store."""
    folder = store / "files" / "complaint"
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("CMP-2026-0001-函件.pdf", "CMP-2026-0001-8D.pdf", "volvo-2026-03-06.eml", "letter-de.pdf"):
        (folder / name).write_bytes(f"attachment {name}".encode())
    git(store, "add", "files")
    subprocess.run(["git", "commit", "-q", "-m", "attachments"], cwd=store, check=True, capture_output=True,
                   env=dict(os.environ, GIT_AUTHOR_DATE=STORE_BORN, GIT_COMMITTER_DATE=STORE_BORN))


@pytest.fixture
def closed_serious(qms):
    r = qms("complaint", "new", *sets(*SERIOUS), who=QE, env=at("2026-03-06T10:05", SERIOUS_NOW))
    assert r.code == 0, r.text
    record_id = r.out.strip()
    play(qms, record_id, SERIOUS_STEPS, SERIOUS_NOW)
    return record_id


# ----------------------------------------------------------------------------- the forms


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_closed_serious_complaint(qms, closed_serious, lang):
    text = render(qms, closed_serious, lang, SERIOUS_NOW)
    data = values_of(*SERIOUS, *(a for s in SERIOUS_STEPS for a in s[3]))
    check_language(text, lang, data + [s[4] for s in SERIOUS_STEPS] + [GM[0]])
    check_golden(text, f"complaint-closed-serious.{lang}.md")


def test_received_complaint(qms):
    now = "2026-03-06T13:00"  # the 2-hour contact limit has passed
    r = qms("complaint", "new", *sets(*RECEIVED), who=QE, env=at("2026-03-06T10:05", now))
    assert r.code == 0, r.text
    text = render(qms, r.out.strip(), "zh", now)
    check_language(text, "zh", values_of(*RECEIVED))
    check_golden(text, "complaint-received.zh.md")


def test_cancelled_complaint(qms):
    now = "2026-03-10T09:00"
    new = [
        "customer.name=Volvo Cars Gent",
        "customer.contact_person=Anna Peeters",
        "customer.email=anna.peeters@example.com",
        "product.name=Fuel line connector",
        "product.part_number=31 336 772",
        "channel=email",
        "received_at=2026-03-06T10:00",
        "original=written",
        "original_file=files/complaint/volvo-2026-03-06.eml",
        "description=Connectors | leaking at the\nquick-connect seal",
        "class=general",
        "reply_needed=yes",
    ]
    r = qms("complaint", "new", *sets(*new), who=QE, env=at("2026-03-06T10:05", now))
    assert r.code == 0, r.text
    record_id = r.out.strip()
    steps = [
        (QE, "2026-03-06T11:00", "acknowledged", [
            "contact.at=2026-03-06T11:00",
            "contact.by=Li Lei",
            "contact.summary=Asked for photos and the batch label",
            "interim_countermeasure=Sort stock at the customer",
        ], ""),
        (QM, "2026-03-07T09:30", "cancelled", [
            "cancel_reason=Duplicate of CMP-2026-0002: the customer sent the same complaint twice",
        ], "Duplicate"),
    ]
    play(qms, record_id, steps, now)
    text = render(qms, record_id, "en", now)
    check_language(text, "en", [])
    check_golden(text, "complaint-cancelled.en.md")


def test_not_ours_complaint_closed(qms):
    now = "2026-03-16T09:00"
    new = [
        *RECEIVED[:-1],
        "class=requirement",
        "customer.contact_person=Mr. Müller",
        "original=written",
        "original_file=files/complaint/letter-de.pdf",
        "translation=顾客反映接头表面有划痕,要求说明原因",
        "reply_needed=yes",
    ]
    r = qms("complaint", "new", *sets(*new), who=QE, env=at("2026-03-06T10:05", now))
    assert r.code == 0, r.text
    record_id = r.out.strip()
    steps = [
        (QE, "2026-03-06T11:00", "acknowledged", [
            "contact.at=2026-03-06T11:00",
            "contact.by=李雷",
            "contact.summary=邮件回复已收到,索取照片",
            "interim_countermeasure=无需临时对策(外观问题,不影响功能)",
        ], ""),
        (QE, "2026-03-06T15:00", "investigating", ["investigation.departments=质量部"], ""),
        (QE, "2026-03-09T10:00", "clarified", [
            "investigation.result=划痕位于顾客装配夹具接触面,出厂检验记录合格",
            "responsibility=not_ours",
            "clarification=3月9日与顾客现场确认,划痕由顾客夹具造成,顾客认可",
        ], ""),
        (QM, "2026-03-10T09:00", "closed", [
            "customer_confirmation.result=accepted_with_remarks",
            "customer_confirmation.at=2026-03-10",
            "customer_confirmation.by=Müller",
        ], ""),
    ]
    play(qms, record_id, steps, now)
    text = render(qms, record_id, "zh", now)
    check_language(text, "zh", values_of(*new, *(a for s in steps for a in s[3])))
    assert "D1" not in text and "D4" not in text  # nothing of a report for a not-ours complaint
    check_golden(text, "complaint-not-ours-closed.zh.md")


def test_general_complaint_verifying_with_closure_plan(qms):
    now = "2026-03-20T09:00"
    r = qms("complaint", "new", *sets(*RECEIVED), who=QE, env=at("2026-03-06T10:05", now))
    assert r.code == 0, r.text
    record_id = r.out.strip()
    steps = [
        (QE, "2026-03-06T13:00", "acknowledged", [
            "contact.at=2026-03-06T13:00",
            "contact.by=李雷",
            "contact.summary=确认渗油位置",
            "interim_countermeasure=在库品全检",
        ], ""),
        (QE, "2026-03-06T15:00", "investigating", [
            "investigation.departments=质量部,生产部",
        ], ""),
        (QE, "2026-03-09T10:00", "correcting", [
            "investigation.result=O形圈批次硬度偏低",
            "responsibility=ours",
            "disposition=rework",
            "d4.root_cause=供应商O形圈材料变更未通知",
            "d5.corrective_action=供应商变更须经我方批准;来料增加硬度检验",
        ], ""),
    ]
    play(qms, record_id, steps, now)
    # 闭环计划: proposed by the engineer, approved by the quality manager, which moves the deadline
    r = qms("closure_plan", "new", *sets(f"complaint={record_id}", "reason=供应商需重新提交PPAP",
                                          "actions=供应商PPAP重新提交,3月底前完成", "owner=李雷", "due=2026-03-31"),
            who=QE, env=at("2026-03-10T16:00", now))
    assert r.code == 0, r.text
    plan = r.out.strip()
    r = qms("closure_plan", "move", plan, "approved", "-m", "列入闭环计划一览表", who=QM, env=at("2026-03-10T17:00", now))
    assert r.code == 0, r.text
    steps = [
        (QE, "2026-03-12T11:00", "verifying", [
            "d6.implementation=来料硬度检验已执行",
            "report.submitted_at=2026-03-12T11:00",
        ], ""),
    ]
    play(qms, record_id, steps, now)
    text = render(qms, record_id, "en", now)
    assert "D1" not in text and "D4 Root cause" in text  # an improvement report, not an 8D
    check_golden(text, "complaint-verifying-plan.en.md")


# ---------------------------------------------------------------- the command around it


def test_render_to_a_file(qms, complaint, tmp_path):
    out = tmp_path / "forms" / "form.md"
    out.parent.mkdir()
    env = {"QMS_NOW": "2026-03-06T12:00"}
    r = qms("render", complaint, "--lang", "zh", "-o", str(out), env=env)
    assert r.code == 0, r.text
    assert r.out == ""
    assert str(out) in r.err
    assert out.read_text(encoding="utf-8") == qms("render", complaint, "--lang", "zh", env=env).out


def test_unknown_id_exits_2_with_one_line(qms, complaint):
    r = qms("render", "CMP-2026-0999", "--lang", "zh")
    assert r.code == 2
    assert r.out == ""
    assert "CMP-2026-0999" in r.err
    assert len(r.err.strip().splitlines()) == 1, r.err


def test_store_template_overrides_the_built_in_one(qms, store, complaint):
    (store / "templates").mkdir()
    (store / "templates" / "complaint.en.md.j2").write_text(
        "# Our own form: {{ id }} ({{ state_label }})\n", encoding="utf-8"
    )
    r = qms("render", complaint, "--lang", "en")
    assert r.code == 0, r.text
    assert r.out == f"# Our own form: {complaint} (Received)\n"
    zh = qms("render", complaint, "--lang", "zh")  # no store template: the built-in one
    assert zh.code == 0, zh.text
    assert "## 客诉处理单" in zh.out


def test_undefined_variable_in_a_template_names_the_template(qms, store, complaint):
    (store / "templates").mkdir()
    (store / "templates" / "complaint.en.md.j2").write_text(
        "# {{ id }}\n{{ customer_name }}\n", encoding="utf-8"
    )
    r = qms("render", complaint, "--lang", "en")
    assert r.code == 2, r.text
    assert r.out == ""
    assert "complaint.en.md.j2" in r.err
    assert "customer_name" in r.err
    assert "Traceback" not in r.text
    assert len(r.err.strip().splitlines()) == 1, r.err


def test_language_defaults_to_the_store_language(qms, complaint):
    r = qms("render", complaint, env={"QMS_NOW": "2026-03-06T12:00"})
    assert r.code == 0, r.text
    assert "## 客诉处理单" in r.out  # conftest's qms.yaml says lang: zh


def test_built_in_templates_include_no_other_template():
    """qms's own templates are filled outside the sandbox (they are qms's code), by an
    environment that loads only built-in files. That is right only while none of them
    includes, imports or extends another template: a store may override the one it would
    name, and that one must run in the sandbox."""
    import jinja2
    from jinja2 import nodes

    from qms_cli.config import data_dir

    env = jinja2.Environment()
    found = {}
    for path in sorted(data_dir("templates").glob("*.j2")):
        tree = env.parse(path.read_text(encoding="utf-8"))
        loads = list(tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)))
        if loads:
            found[path.name] = [type(n).__name__ for n in loads]
    assert len(list(data_dir("templates").glob("*.j2"))) > 30
    assert found == {}


def test_a_store_template_of_a_built_in_name_runs_in_the_sandbox(qms, store, complaint):
    """The store's own complaint form is the store's code, so the sandbox holds however
    fast the built-in form is filled."""
    (store / "templates").mkdir()
    (store / "templates" / "complaint.zh.md.j2").write_text(
        "{{ id }} {{ ''.__class__.__mro__ }}\n", encoding="utf-8")
    r = qms("render", complaint)
    assert r.code == 2 and "templates/complaint.zh.md.j2" in r.err and "__class__" not in r.out, r.text
    en = qms("render", complaint, "--lang", "en")  # the built-in English form, still there
    assert en.code == 0 and "Customer complaint" in en.out, en.text


def test_a_built_in_form_is_compiled_once_and_kept_for_the_next_run(qms_subprocess, sample, tmp_path):
    """The built-in forms stay compiled between runs (Jinja's bytecode cache, in a folder
    of the user's alone under the temporary folder); a kept file that is damaged is
    compiled again, and the form is the same each time."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {"TMPDIR": str(tmp), "QMS_NOW": "2026-03-10T09:00"}  # one 制表时间, though a minute turns between runs
    first = qms_subprocess("render", "CMP-2026-0013", root=sample, env=env)
    assert first.code == 0, first.err
    folder = tmp / f"_jinja2-cache-{os.getuid()}"
    kept = sorted(folder.glob("__qms_form_*.cache"))
    assert len(kept) == 1 and stat.S_IMODE(folder.stat().st_mode) == 0o700
    again = qms_subprocess("render", "CMP-2026-0013", root=sample, env=env)
    assert again.code == 0 and again.out == first.out
    whole = kept[0].read_bytes()
    kept[0].write_bytes(b"not what Jinja wrote")
    damaged = qms_subprocess("render", "CMP-2026-0013", root=sample, env=env)
    assert damaged.code == 0 and damaged.out == first.out
    assert kept[0].read_bytes() == whole  # compiled again, and kept
    from jinja2.bccache import bc_magic

    for damage in (whole[:len(whole) // 2], bc_magic + b"\x80\x05garbage", bc_magic):  # Jinja's mark, then not
        kept[0].write_bytes(damage)
        again = qms_subprocess("render", "CMP-2026-0013", root=sample, env=env)
        assert again.code == 0 and again.out == first.out, again.err


def test_a_form_is_filled_in_where_the_compiled_form_cannot_be_kept(qms_subprocess, sample, tmp_path):
    """A temporary folder that takes no more bytes (full, or a limit on a file's size):
    the form is filled in all the same, compiled for this run alone."""
    import resource
    import sys

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(tmp), QMS_LANG="en", QMS_NOW="2026-03-10T09:00")
    argv = [sys.executable, "-m", "qms_cli", "-C", str(sample), "render", "CMP-2026-0013"]
    whole = subprocess.run(argv, capture_output=True, text=True, env=env)
    assert whole.returncode == 0, whole.stderr
    for kept in tmp.rglob("__qms_form_*"):
        kept.unlink()

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))

    r = subprocess.run(argv, capture_output=True, text=True, env=env, preexec_fn=small_files)
    assert r.returncode == 0, r.stderr
    assert r.stdout == whole.stdout
