"""PDF forms (issue 15): `qms render ID --format pdf -o FILE` lays out the same Markdown form
as HTML and PDF, with a font with the Chinese characters embedded, the watermark of a
controlled copy (受控文件 第 n 份 / CONTROLLED COPY No. n) or of an obsolete document
(作废 / OBSOLETE) on every page, and nothing fetched for a value or a template that names
a URL. Driven through the real `qms` against a copy of the sample store; read back with
poppler's pdffonts, pdftotext and pdfinfo (CI installs poppler-utils, and the pdf extra).

Needs a font with the Chinese characters (CI installs fonts-wqy-microhei where none is)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import urllib.request

import pytest
from conftest import git

for tool in ("pdffonts", "pdftotext", "pdfinfo"):
    assert shutil.which(tool), f"{tool} is missing: install poppler-utils (.ci/run does)"

EXTRA_MISSING = "qms: PDF needs the pdf extra: pip install 'qms-cli[pdf]'"


def fonts(pdf) -> list[dict[str, str]]:
    """pdffonts' table: name, type, emb (yes/no) of each font in the PDF."""
    lines = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout.splitlines()
    rows = []
    for line in lines[2:]:
        name, rest = line.split(None, 1)
        emb = re.search(r"\s(yes|no)\s+(yes|no)\s+(yes|no)\s", " " + rest + " ")
        rows.append({"name": name, "emb": emb.group(1) if emb else "?"})
    return rows


def text(pdf) -> str:
    """The PDF's text in the order it was drawn (-layout would interleave the diagonal mark)."""
    return subprocess.run(["pdftotext", "-raw", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout


def pages(pdf) -> list[str]:
    return text(pdf).split("\f")[:-1]


def flat(s: str) -> str:
    """Text with no spaces, as a layout may break a line of a table cell."""
    return re.sub(r"\s+", "", s)


def render_pdf(qms, sample, tmp_path, record_id, *args, env=None):
    out = tmp_path / f"{record_id}.pdf"
    r = qms("render", record_id, "--format", "pdf", "-o", str(out), *args, root=sample, env=env)
    assert r.code == 0 and out.read_bytes().startswith(b"%PDF-"), r.text
    return out


def test_a_complaint_form_has_its_chinese_text_in_an_embedded_cjk_font(qms, sample, tmp_path):
    out = render_pdf(qms, sample, tmp_path, "CMP-2026-0001")
    found = fonts(out)
    assert found and all(f["emb"] == "yes" for f in found), found  # every font embedded, none left to the viewer
    chinese = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True).stdout
    names = {flat(n).replace("-", "").lower() for line in chinese.splitlines() for n in line.split(",")}
    assert any(flat(f["name"].split("+")[-1]).replace("-", "").lower().removesuffix("bold") in names
               for f in found), (found, names)
    body = flat(text(out))
    for expected in ("客诉处理单", "CMP-2026-0001", "上汽大众汽车有限公司（安亭总装二厂）", "立信汽车部件股份有限公司"):
        assert expected in body, expected
    assert "受控文件" not in body and "OBSOLETE" not in body  # a complaint is no controlled copy


def test_the_pdf_comes_from_the_same_form_as_the_markdown(qms, sample, tmp_path):
    md = qms("render", "CMP-2026-0001", root=sample)
    assert md.code == 0
    body = flat(text(render_pdf(qms, sample, tmp_path, "CMP-2026-0001")))
    for heading in re.findall(r"^#+ (.+)$", md.out, re.M):
        assert flat(heading) in body, heading


def test_a_controlled_copy_is_marked_on_every_page_in_either_language(qms, sample, tmp_path):
    zh = render_pdf(qms, sample, tmp_path, "DST-2026-0001")  # copy 7 of LX-WI-2024-001, in use
    assert pages(zh) and all("受控文件 第 7 份" in p for p in pages(zh)), text(zh)
    en_dir = tmp_path / "en"
    en_dir.mkdir()
    en = render_pdf(qms, sample, en_dir, "DST-2026-0001", "--lang", "en")
    assert pages(en) and all("CONTROLLED COPY No. 7" in p for p in pages(en)), text(en)
    assert "受控文件 第" not in text(en)


def test_the_forms_of_an_obsolete_document_are_marked_obsolete(qms, sample, tmp_path):
    # LX-WI-2024-003 is obsolete; REV-2024-0013 made its edition, DST-2024-0028 is a copy of it
    for record_id in ("LX-WI-2024-003", "REV-2024-0013", "DST-2024-0028"):
        out = render_pdf(qms, sample, tmp_path, record_id)
        assert all("作废 / OBSOLETE" in p for p in pages(out)), (record_id, text(out))
        assert "受控文件 第" not in text(out), record_id  # an obsolete document's copy is no controlled copy
    current = render_pdf(qms, sample, tmp_path, "LX-WI-2024-001")
    assert "OBSOLETE" not in text(current)


def test_the_signature_block_shows_who_prepared_reviewed_and_approved_and_when(qms, sample, tmp_path):
    out = text(render_pdf(qms, sample, tmp_path, "LX-WI-2024-003"))
    row: dict[str, list[str]] = {}  # the first 姓名 and 日期 rows (the history's 日期 heading comes later)
    for line in out.splitlines():
        if line.split()[:1] in (["姓名"], ["日期"]):
            row.setdefault(line.split()[0], line.split()[1:])
    assert "签署 编制 审核 批准" in out.splitlines(), out
    assert row["姓名"] == ["李雷", "周杰", "周涛"] and row["日期"] == ["2024-03-05", "2024-03-06", "2024-03-07"], row


HOSTILE = "<script>alert(1)</script><img src=http://127.0.0.1:9/x.png> ![a](http://127.0.0.1:9/y.png)"


def test_markup_in_a_value_or_a_template_is_text_and_nothing_is_fetched(qms, sample, tmp_path, monkeypatch):
    path = sample / "records" / "complaint" / "CMP-2026-0001.yaml"
    raw = path.read_text(encoding="utf-8")
    path.write_text(raw.replace("  name: 上汽大众汽车有限公司（安亭总装二厂）",
                                f"  name: '上汽大众 {HOSTILE}'", 1), encoding="utf-8")
    (sample / "templates").mkdir()
    (sample / "templates" / "capa.zh.md.j2").write_text(
        "## 纠正措施 {{ id }}\n\n![logo](http://127.0.0.1:9/logo.png)\n\n<img src=\"http://127.0.0.1:9/z.png\">\n"
        "<link rel=stylesheet href=\"file:///etc/passwd\">\n", encoding="utf-8")
    git(sample, "add", "-A")
    git(sample, "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-q", "-m", "hostile")
    reached = []

    def refuse(*args, **kwargs):
        reached.append(args)
        raise OSError("the test allows no network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(urllib.request.OpenerDirector, "open", refuse)
    out = flat(text(render_pdf(qms, sample, tmp_path, "CMP-2026-0001")))
    assert flat("上汽大众 <script>alert(1)</script><img src=http://127.0.0.1:9/x.png>") in out, out
    capa = text(render_pdf(qms, sample, tmp_path, "CAPA-2026-0001"))
    assert "纠正措施 CAPA-2026-0001" in capa and "<img src=" in capa, capa
    assert reached == []


def test_the_html_of_a_form_carries_no_markup_from_its_text():
    from qms_cli import pdf
    from qms_cli.text import markdown

    page = pdf.to_html(f"## 表\n\n| 项目 | 内容 |\n|---|---|\n| 名称 | {markdown(HOSTILE + chr(10) + 'x')} |\n"
                       "\n![i](http://127.0.0.1:9/i.png) <b>raw</b>\n",
                       lang="zh", title="表", record_id="X-1", font="WenQuanYi Micro Hei", mark=None)
    assert "<script" not in page and "<img" not in page and "<b>" not in page, page
    assert "&lt;script&gt;" in page and "<table>" in page and "<br" in page  # qms's own line break stays one


def test_without_the_pdf_extra_one_line_says_how_to_install_it(qms_subprocess, sample, tmp_path):
    shim = tmp_path / "shim"
    (shim / "weasyprint").mkdir(parents=True)
    (shim / "weasyprint" / "__init__.py").write_text("raise ImportError('no weasyprint here')\n")
    path = os.pathsep.join(p for p in (str(shim), os.environ.get("PYTHONPATH", "")) if p)
    out = tmp_path / "c.pdf"
    r = qms_subprocess("render", "CMP-2026-0001", "--format", "pdf", "-o", str(out), root=sample,
                       env={"PYTHONPATH": path})
    assert r.code == 2 and r.err == EXTRA_MISSING + "\n" and not r.out and not out.exists(), r
    assert qms_subprocess("render", "CMP-2026-0001", root=sample, env={"PYTHONPATH": path}).code == 0


def test_without_a_chinese_font_qms_names_the_packages_to_install(qms, sample, tmp_path):
    empty = tmp_path / "fonts.conf"
    empty.write_text('<?xml version="1.0"?>\n<fontconfig></fontconfig>\n')
    out = tmp_path / "c.pdf"
    r = qms("render", "CMP-2026-0001", "--format", "pdf", "-o", str(out), root=sample,
            env={"FONTCONFIG_FILE": str(empty)})
    assert r.code == 2 and not out.exists(), r
    assert r.err.count("\n") == 1 and "fonts-noto-cjk" in r.err and "fonts-wqy-microhei" in r.err, r.err


def test_the_font_qms_yaml_names_is_the_one_embedded(qms, sample, tmp_path):
    chinese = sorted(subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True).stdout
                     .splitlines())
    family = chinese[-1].split(",")[0]
    with open(sample / "qms.yaml", "a", encoding="utf-8") as f:
        f.write(f"pdf:\n  font: {family}\n")
    out = render_pdf(qms, sample, tmp_path, "CMP-2026-0001")
    assert any(flat(family).lower() in f["name"].replace("-", "").lower() for f in fonts(out)), (family, fonts(out))
    text_ = (sample / "qms.yaml").read_text(encoding="utf-8").replace(f"font: {family}", "font: No Such Font Sans")
    (sample / "qms.yaml").write_text(text_, encoding="utf-8")
    r = qms("render", "CMP-2026-0001", "--format", "pdf", "-o", str(tmp_path / "x.pdf"), root=sample)
    assert r.code == 2 and "pdf.font" in r.err and "No Such Font Sans" in r.err, r.err


@pytest.mark.parametrize("setting, problem", [
    ('pdf: {font: "x\\"; } body { background: url(http://a/b) }"}', "pdf.font: expected the name of a font family"),
    ("pdf: {fonts: Noto Sans CJK SC}", "pdf.fonts: not a setting of qms.yaml"),
    ("pdf: Noto Sans CJK SC", "pdf: expected settings (font:)"),
])
def test_a_bad_pdf_setting_is_refused(qms, sample, tmp_path, setting, problem):
    with open(sample / "qms.yaml", "a", encoding="utf-8") as f:
        f.write(setting + "\n")
    r = qms("render", "CMP-2026-0001", "--format", "pdf", "-o", str(tmp_path / "x.pdf"), root=sample)
    assert r.code == 2 and problem in r.err, r.err


@pytest.mark.parametrize("args, problem", [
    (["--format", "pdf"], "--format pdf writes a file: give -o FILE.pdf"),
    (["--format", "docx", "-o", "x.docx"], "--format 'docx': expected md or pdf"),
])
def test_render_refuses_what_it_cannot_write(qms, sample, args, problem):
    r = qms("render", "CMP-2026-0001", *args, root=sample)
    assert r.code == 2 and problem in r.err and not r.out, r


def test_pdf_to_standard_output_is_the_bytes(qms_subprocess, sample):
    p = subprocess.run([sys.executable, "-m", "qms_cli", "-C", str(sample), "render", "DST-2026-0001",
                        "--format", "pdf", "-o", "-"], capture_output=True, env=dict(os.environ), timeout=120)
    assert p.returncode == 0 and p.stdout.startswith(b"%PDF-") and p.stdout.rstrip().endswith(b"%%EOF"), p.stderr


def test_publish_pdf_puts_each_form_beside_its_page_and_makes_it_again_with_it(qms, store, tmp_path):
    from conftest import QE, new_complaint

    first = new_complaint(qms, "description=接头渗油")
    second = new_complaint(qms, "description=管体喷码模糊")
    site = tmp_path / "site"
    r = qms("--json", "publish", str(site), "--pdf", env={"QMS_NOW": "2026-03-10T09:00"})
    assert r.code == 0, r.text
    for lang, title in (("zh", "客诉处理单"), ("en", "Customer complaint handling form")):
        for rid in (first, second):
            pdf = site / lang / "complaint" / f"{rid}.pdf"
            assert flat(title) in flat(text(pdf))
            assert all(f["emb"] == "yes" for f in fonts(pdf))
            assert f'href="{rid}.pdf"' in (site / lang / "complaint" / f"{rid}.html").read_text(encoding="utf-8")
    assert "管体喷码模糊" in flat(text(site / "zh" / "complaint" / f"{second}.pdf"))
    # after one change, only that record's PDFs are made again
    assert qms("complaint", "set", second, "description=管体喷码断字", who=QE).code == 0
    r = qms("--json", "publish", str(site), "--pdf", env={"QMS_NOW": "2026-03-10T09:00"})
    assert r.code == 0, r.text
    written = [w for w in json.loads(r.out)["written"] if w.endswith(".pdf")]
    assert sorted(written) == [f"en/complaint/{second}.pdf", f"zh/complaint/{second}.pdf"]
    assert "管体喷码断字" in flat(text(site / "zh" / "complaint" / f"{second}.pdf"))
    # without --pdf the PDFs and their links go
    r = qms("--json", "publish", str(site), env={"QMS_NOW": "2026-03-10T09:00"})
    assert r.code == 0, r.text
    assert not list(site.rglob("*.pdf")) and ".pdf" not in (site / "zh" / "complaint" / f"{first}.html").read_text(
        encoding="utf-8")
