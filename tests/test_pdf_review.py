"""PDF forms as a user making mistakes and as someone handed a store they did not write (a
review): what qms says where fontconfig has no font at all, and what WeasyPrint is given to
fetch. Through the real `qms` against a copy of the sample store (see test_pdf.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("weasyprint")


def test_without_any_font_the_error_is_one_line_and_no_python_warning(sample, tmp_path):
    # WeasyPrint's import warned "UserWarning: No fonts configured in FontConfig" with its
    # file and line (two lines of Python) above qms's own message, in render and publish --pdf
    empty = tmp_path / "fonts.conf"
    empty.write_text('<?xml version="1.0"?>\n<fontconfig></fontconfig>\n', encoding="utf-8")
    env = {**os.environ, "FONTCONFIG_FILE": str(empty), "QMS_LANG": "en"}
    for args in (["render", "CMP-2026-0001", "--format", "pdf", "-o", str(tmp_path / "c.pdf")],
                 ["publish", str(tmp_path / "site"), "--pdf"]):
        p = subprocess.run([sys.executable, "-m", "qms_cli", "-C", str(sample), *args], env=env,
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 2, (args, p.stderr)
        assert p.stderr.count("\n") == 1 and p.stderr.startswith("qms: no font with the Chinese characters"), \
            (args, p.stderr)
        assert "Warning" not in p.stderr and "weasyprint" not in p.stderr
    assert not (tmp_path / "c.pdf").exists() and not (tmp_path / "site").exists()


def test_weasyprint_is_handed_nothing_to_fetch_whatever_the_page_names():
    # the last line of defence should markup ever reach the page: every URL WeasyPrint asks
    # for (a stylesheet, an image, a font, a data: SVG that names a file) goes to the
    # refusing fetcher, and none is read
    from qms_cli import pdf

    asked: list[str] = []
    make = pdf._refusing_fetcher

    def watching(urls):
        fetcher = make(urls)
        refuse = fetcher.fetch if hasattr(fetcher, "fetch") else fetcher

        def fetch(url, *args, **kwargs):
            asked.append(url)
            return refuse(url, *args, **kwargs)

        if hasattr(fetcher, "fetch"):
            fetcher.fetch = fetch
            return fetcher
        return fetch

    page = ('<html><head><link rel=stylesheet href="file:///etc/passwd"><style>@import url(file:///etc/hosts);'
            '@font-face { font-family: X; src: url(file:///etc/hostname) } body { font-family: X; '
            'background: url(http://127.0.0.1:9/b.png) }</style></head><body>'
            '<img src="file:///etc/hostname"><img src="data:image/svg+xml,%3Csvg xmlns=%22http://www.w3.org/2000/svg'
            '%22%3E%3Cimage href=%22file:///etc/hostname%22/%3E%3C/svg%3E"><object data="file:///etc/passwd">'
            '</object><p>x</p></body></html>')
    original = pdf._refusing_fetcher
    pdf._refusing_fetcher = watching
    try:
        out = pdf.to_pdf(page)
    finally:
        pdf._refusing_fetcher = original
    assert out.startswith(b"%PDF-")
    assert any(u.startswith("file:///etc/passwd") for u in asked) and any(u.startswith("data:") for u in asked)
    assert b"root:" not in out  # /etc/passwd's text is nowhere in it


def test_the_github_workflow_init_writes_gives_its_checks_a_read_only_token(qms, tmp_path):
    # the validate job runs on every push with the token GitHub hands it, which is write-all
    # where the repository's default says so: it reads the store, and may do no more
    import yaml

    for args in ((), ("--pages",)):
        root = tmp_path / ("paged" if args else "plain")
        r = qms("init", str(root), "--company", "测试有限公司", "--site", "SH", *args, root=False,
                who=("李雷", "li.lei@example.com"))
        assert r.code == 0, r.text
        workflow = yaml.safe_load((root / ".github" / "workflows" / "qms.yml").read_text(encoding="utf-8"))
        assert workflow["permissions"] == {"contents": "read"}, workflow
        assert "permissions" not in workflow["jobs"]["validate"]
        if args:  # the Pages job asks for what deploying takes, over the read-only default
            assert workflow["jobs"]["pages"]["permissions"] == {"contents": "read", "pages": "write",
                                                                "id-token": "write"}


def test_a_store_type_that_names_its_form_in_one_language_prints_in_either(qms, sample, tmp_path):
    # types/complaint.yaml of a plant that writes Chinese only: `form: {zh: 客诉处理单}`;
    # render --lang en (Markdown or PDF) raised KeyError: 'en', an internal error
    from conftest import REPO, git

    text = (REPO / "qms_cli" / "types" / "complaint.yaml").read_text(encoding="utf-8")
    assert "\nform: {zh: 客诉处理单, en: Customer complaint handling form}\n" in text
    (sample / "types").mkdir()
    (sample / "types" / "complaint.yaml").write_text(
        text.replace("\nform: {zh: 客诉处理单, en: Customer complaint handling form}\n", "\nform: {zh: 客诉处理单}\n"),
        encoding="utf-8")
    git(sample, "add", "-A")
    git(sample, "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-q", "-m", "own type")
    md = qms("--lang", "en", "render", "CMP-2026-0001", root=sample)
    assert md.code == 0 and "## 客诉处理单" in md.out, md.text
    out = tmp_path / "c.pdf"
    r = qms("--lang", "en", "render", "CMP-2026-0001", "--format", "pdf", "-o", str(out), root=sample)
    assert r.code == 0 and out.read_bytes().startswith(b"%PDF-"), r.text
