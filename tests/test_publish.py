"""`qms publish DIR`: the store as a static site, through the real CLI on a copy of the
sample store."""

from __future__ import annotations

import json
import os
import re
import sys
import threading
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import QE, QE2, SALES, git, identity_env

NOW = {"QMS_NOW": "2026-03-10T09:00"}
HOSTILE = "<script>alert(1)</script>\"><img src=x onerror=alert(1)> 渗漏"


class Page(HTMLParser):
    """What a page holds that could run: script elements (with or without src), on*
    attributes, style attributes; its CSP meta and links."""

    def __init__(self):
        super().__init__()
        self.scripts, self.handlers, self.styles, self.csp, self.links = [], [], [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts.append(a.get("src"))
        if tag == "img" and a.get("src") == "x":
            self.handlers.append("img from data")
        self.handlers += [k for k in a if k.lower().startswith("on")]
        if "style" in a or tag == "style":
            self.styles.append(tag)
        if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy":
            self.csp.append(a.get("content"))
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])


def parse(path: Path) -> Page:
    p = Page()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def counts(out: str) -> tuple[int, int, int]:
    m = re.search(r"(\d+) written, (\d+) unchanged, (\d+) removed", out)
    assert m, out
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


@pytest.fixture
def published(qms, sample, tmp_path):
    site = tmp_path / "site"
    r = qms("complaint", "set", "CMP-2026-0013", f"description={HOSTILE}", who=QE, root=sample)
    assert r.code == 0, r.text
    r = qms("publish", str(site), root=sample, env=NOW)
    assert r.code == 0, r.text
    return site


def test_every_record_type_has_pages_and_every_page_is_safe(published, sample):
    for type_dir in sorted((sample / "records").iterdir()):
        ids = [p.stem for p in type_dir.glob("*.yaml")]
        for lang in ("zh", "en"):
            assert (published / lang / type_dir.name / "index.html").is_file()
            for rid in ids:
                assert (published / lang / type_dir.name / f"{rid}.html").is_file(), (lang, rid)
    assert (published / "index.html").is_file()
    assert (published / "zh" / "reports" / "complaints.html").is_file()
    assert (published / "assets" / "site.css").is_file() and (published / "search.js").is_file()
    pages = sorted(published.rglob("*.html"))
    assert len(pages) > 400
    for path in pages:
        p = parse(path)
        assert p.csp == [("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                          "object-src 'none'; base-uri 'none'; form-action 'none'")], path
        assert None not in p.scripts, f"{path}: inline script"
        assert all(not re.match(r"(?i)\s*(javascript|data|https?):", s) for s in p.scripts), path
        assert not p.handlers and not p.styles, (path, p.handlers, p.styles)
    text = (published / "zh" / "complaint" / "CMP-2026-0013.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "onerror=alert(1)&gt;" in text


def test_a_page_links_to_its_copy_in_the_other_language(published):
    zh = parse(published / "zh" / "complaint" / "CMP-2026-0012.html")
    en = parse(published / "en" / "complaint" / "CMP-2026-0012.html")
    assert "../../en/complaint/CMP-2026-0012.html" in zh.links
    assert "../../zh/complaint/CMP-2026-0012.html" in en.links


def test_a_complaint_links_to_its_capa(published):
    assert "../capa/CAPA-2026-0001.html" in parse(published / "zh" / "complaint" / "CMP-2026-0012.html").links
    assert "../complaint/CMP-2026-0012.html" in parse(published / "en" / "capa" / "CAPA-2026-0001.html").links


def test_every_link_of_the_site_leads_to_a_page_of_it(published):
    """No page of the site links to a file it does not hold (the records, ledgers,
    histories of customers and the other language all published)."""
    pages = sorted(published.rglob("*.html"))
    broken = []
    for path in pages:
        for href in parse(path).links:
            if re.match(r"(?i)[a-z][a-z0-9+.-]*:", href) or href.startswith("#"):
                continue  # a link out of the site (a commit's web page) or within the page
            target = (path.parent / href.split("#")[0]).resolve()
            if not target.is_file() or published.resolve() not in target.parents:
                broken.append(f"{path.relative_to(published)} -> {href}")
    assert not broken, broken[:20]


def test_each_customer_has_its_history_published(published, sample, qms):
    """顾客履历 (a report about one customer) is a page for each customer, listed under the
    ledgers and linked from the customer's own page, holding that customer's complaints
    (by the names it is known by) and no other's; publish says nothing is left out."""
    r = qms("publish", str(published), root=sample, env=NOW)
    assert r.code == 0 and "not published" not in r.err and "未发布" not in r.err, r.text
    customers = sorted(p.stem for p in (sample / "records" / "customer").glob("*.yaml"))
    for lang in ("zh", "en"):
        listed = parse(published / lang / "reports" / "customer.html").links
        assert [f"customer/{c}.html" for c in customers] == [x for x in listed if x.startswith("customer/")]
        assert "reports/customer.html" in parse(published / lang / "index.html").links
        for c in customers:
            assert (published / lang / "reports" / "customer" / f"{c}.html").is_file()
            assert f"../reports/customer/{c}.html" in parse(published / lang / "customer" / f"{c}.html").links
    byd = (published / "zh" / "reports" / "customer" / "CUS-0001.html").read_text(encoding="utf-8")
    assert "顾客履历：CUS-0001 比亚迪汽车工业有限公司" in byd
    assert "CMP-2026-0003" in byd and "CMP-2026-0012" in byd  # complaints of two of its plants (its aliases)
    chery = (published / "zh" / "reports" / "customer" / "CUS-0002.html").read_text(encoding="utf-8")
    assert "CMP-2026-0012" not in chery
    assert "../../../en/reports/customer/CUS-0001.html" in parse(
        published / "zh" / "reports" / "customer" / "CUS-0001.html").links


def test_a_published_customer_history_lists_what_qms_report_lists(published, sample, qms):
    """The site finds each customer's records through an index of them; `qms report
    customer --of ID` tests every record: both list the same records for every customer."""
    ids = re.compile(r"\b[A-Z]{2,5}-\d{4}-\d{4}\b")  # the records listed (CMP-2026-0003, SVC-2026-0001 ...)
    listed = 0
    for path in sorted((sample / "records" / "customer").glob("*.yaml")):
        r = qms("report", "customer", "--of", path.stem, "--format", "csv", root=sample, env=NOW)
        assert r.code == 0, r.text
        page = (published / "zh" / "reports" / "customer" / f"{path.stem}.html").read_text(encoding="utf-8")
        assert sorted(set(ids.findall(page))) == sorted(set(ids.findall(r.out))), path.stem
        listed += len(set(ids.findall(r.out)))
    assert listed > 20, listed


def test_a_customers_history_is_made_again_only_when_its_complaints_change(published, sample, qms, monkeypatch):
    from qms_cli import publish as publishing

    made, real = [], publishing._report_page
    monkeypatch.setattr(publishing, "_report_page", lambda store, name, lang, other, day, problems, of=None,
                        where=None: made.append((name, of, lang)) or real(store, name, lang, other, day, problems,
                                                                           of, where))
    later = {"QMS_NOW": "2026-12-01T09:00"}
    site = published.parent / "site-later"
    assert qms("publish", str(site), root=sample, env=later).code == 0
    r = qms("complaint", "set", "CMP-2026-0012", "batch=HZ261004-X", who=QE, root=sample, env=later)
    assert r.code == 0, r.text
    made.clear()
    r = qms("--json", "publish", str(site), root=sample, env=later)
    assert r.code == 0, r.text
    assert not [x for x in json.loads(r.out)["written"] if "/reports/customer/" in x]
    # a field no history shows: none is made again (its customer's is held to that complaint's
    # fields it shows, the others to no complaint of theirs changing)
    assert not [m for m in made if m[0] == "customer"], made
    # and the next publish takes that complaint as it is now: nothing made again for it
    r = qms("complaint", "set", "CMP-2026-0011", "batch=HZ260924-X", who=QE, root=sample, env=later)
    assert r.code == 0, r.text
    made.clear()
    assert qms("publish", str(site), root=sample, env=later).code == 0
    assert not [m for m in made if m[0] == "customer"], made
    # the complaint now names another customer: it leaves one history for the other
    r = qms("complaint", "set", "CMP-2026-0012", "customer.name=奇瑞汽车股份有限公司", who=QE, root=sample, env=later)
    assert r.code == 0, r.text
    made.clear()
    r = qms("--json", "publish", str(site), root=sample, env=later)
    assert r.code == 0, r.text
    # the two customers' histories alone are made again, not every customer's
    assert sorted(m[1:] for m in made if m[0] == "customer") == [
        (c, lang) for c in ("CUS-0001", "CUS-0002") for lang in ("en", "zh")]
    assert sorted(x for x in json.loads(r.out)["written"] if "/reports/customer/" in x) == [
        f"{lang}/reports/customer/{c}.html" for lang in ("en", "zh") for c in ("CUS-0001", "CUS-0002")]
    assert "CMP-2026-0012" not in (site / "zh/reports/customer/CUS-0001.html").read_text(encoding="utf-8")
    assert "CMP-2026-0012" in (site / "zh/reports/customer/CUS-0002.html").read_text(encoding="utf-8")


def test_a_report_about_what_is_not_a_record_type_is_said_and_the_rest_published(qms, sample, tmp_path):
    (sample / "reports").mkdir(exist_ok=True)
    (sample / "reports" / "supplier.yaml").write_text(
        "label: {zh: 供方履历, en: Supplier history}\nof: supplier\n"
        "sections:\n  - {label: {zh: 客诉, en: Complaints}, type: complaint, match: {customer.name: known_as}, "
        "columns: [id]}\n", encoding="utf-8")
    r = qms("publish", str(tmp_path / "site"), root=sample, env=NOW)
    assert r.code == 0, r.text
    assert "report supplier: not published (it is about one supplier, which is not a record type of the store)" \
        in " ".join(r.err.split()), r.text
    assert not (tmp_path / "site" / "zh" / "reports" / "supplier.html").exists()
    assert (tmp_path / "site" / "zh" / "reports" / "customer" / "CUS-0001.html").is_file()


def _load_index(site: Path, lang: str) -> dict:
    """The search index of `lang` as search.html loads it: its files in turn, each adding
    its parts."""
    parts = []
    for src in parse(site / lang / "search.html").scripts:
        name = src.rpartition("/")[2]
        if name.startswith(f"search-index.{lang}."):
            text = (site / name).read_text(encoding="ascii")
            parts += json.loads("[" + text.split(".parts.push(", 1)[1].rstrip().removesuffix(");") + "]")
    return {"parts": parts}


def _search(index: dict, query: str) -> set[str]:
    from qms_cli.publish import CJK

    run = CJK.findall(query)[0]
    out = set()
    for part in index["parts"]:  # the index is in parts, each with its own documents
        found = None
        for t in [run[i:i + 2] for i in range(len(run) - 1)] or [run]:
            hits = set(part["tokens"].get(t, []))
            found = hits if found is None else found & hits
        out |= {part["docs"][n][0] for n in found or ()}
    return out


def test_search_finds_a_chinese_phrase_by_its_character_pairs(published, sample):
    index = _load_index(published, "zh")
    found = _search(index, "扣压")
    assert any(i.startswith("REV-") for i in found)
    assert "CMP-2026-0013" in _search(index, "渗漏")
    assert not _search(index, "渗压")  # both characters are in the store, never side by side
    scripts = parse(published / "zh" / "search.html").scripts
    assert scripts[0] == "../assets/site.js" and scripts[-1] == "../search.js"
    shards = {p.name for p in published.glob("search-index.zh.*.js")}  # one file per record type here
    assert sorted(scripts[1:-1]) == sorted(f"../{n}" for n in shards) and "../search-index.zh.complaint.0.js" in scripts
    assert sum(len(part["docs"]) for part in index["parts"]) == len(list((sample / "records").glob("*/*.yaml")))


def test_one_change_writes_one_file_of_the_search_index_again(qms, sample, tmp_path, monkeypatch):
    """The search index is in files of a few parts of one record type each: a change writes
    the file that holds the changed record again and keeps the others; names the cache
    gives that are not such files are not looked at."""
    from qms_cli import publish as publishing

    monkeypatch.setattr(publishing, "PART", 5)
    monkeypatch.setattr(publishing, "SHARD", 1)
    site = tmp_path / "site"
    assert qms("publish", str(site), root=sample, env=NOW).code == 0
    shards = sorted(p.name for p in site.glob("search-index.zh.complaint.*.js"))
    assert len(shards) == 4  # 17 complaints, 5 a part, a part a file
    assert qms("complaint", "set", "CMP-2026-0013", "description=接头再次渗漏", who=QE, root=sample).code == 0
    r = qms("--json", "publish", str(site), root=sample, env=NOW)
    written = [rel for rel in json.loads(r.out)["written"] if rel.startswith("search-index.")]
    assert len(written) == 2 and all(".complaint." in rel for rel in written), written  # one per language
    assert "CMP-2026-0013" in _search(_load_index(site, "zh"), "再次渗漏")

    path = site / ".qms-publish-cache.json"
    cache = json.loads(path.read_text(encoding="utf-8"))
    cache["search"]["zh"]["shards"]["../../outside.js"] = {"sha": "0", "keys": [], "parts": {}}
    path.write_text(json.dumps(cache, ensure_ascii=False), encoding="utf-8")
    r = qms("publish", str(site), root=sample, env=NOW)
    assert r.code == 0, r.text
    _as_fresh(qms, sample, tmp_path, site, "fresh")


def test_signatures_show_their_commits_linked_when_a_commit_url_is_set(qms, sample, tmp_path):
    config = sample / "qms.yaml"
    config.write_text(config.read_text(encoding="utf-8")
                      + "publish: {commit_url: \"https://git.example.com/qa/store/-/commit/{commit}\"}\n",
                      encoding="utf-8")
    git(sample, "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-qam", "commit links")
    r = qms("complaint", "new", "--set", "customer.name=上汽大众汽车有限公司", "--set", "product.part_number=5QD 611",
            "--set", "channel=phone", "--set", "received_at=2026-03-06T10:00", "--set", "original=oral",
            "--set", "description=接头渗油", "--set", "class=general", who=QE, root=sample)
    assert r.code == 0, r.text
    rid = r.out.strip()
    r = qms("complaint", "move", rid, "acknowledged", "--set", "contact.by=刘洋", "--set", "contact.summary=已沟通",
            "--set", "interim_countermeasure=挑选", "--set", "contact.at=2026-03-06T11:00", who=SALES, root=sample)
    assert r.code == 0, r.text
    head = git(sample, "rev-parse", "HEAD").strip()
    assert "QMS-Signature: acknowledged by liu.yang@example.com" in git(sample, "log", "-1", "--format=%B")
    r = qms("publish", str(tmp_path / "site"), root=sample, env=NOW)
    assert r.code == 0, r.text
    text = (tmp_path / "site" / "zh" / "complaint" / f"{rid}.html").read_text(encoding="utf-8")
    assert f'href="https://git.example.com/qa/store/-/commit/{head}"' in text and head[:10] in text
    # the sample's signatures were committed by hand, without trailers: no commit, no link
    old = (tmp_path / "site" / "en" / "complaint" / "CMP-2026-0012.html").read_text(encoding="utf-8")
    assert "git.example.com" not in old
    # each signature's time as the record holds it (not the form context's ISO text)
    assert "<td>2026-10-04 21:00:00+08:00</td>" in old and "2026-10-04T21:00" not in old


def test_a_commit_url_must_be_http(qms, sample, tmp_path):
    config = sample / "qms.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "publish: {commit_url: \"javascript:alert({commit})\"}\n",
                      encoding="utf-8")
    r = qms("publish", str(tmp_path / "site"), root=sample)
    assert r.code == 2 and "publish.commit_url" in r.err


def _logs(trace: Path) -> list[str]:
    """The `git log` commands in a GIT_TRACE file (emptied after)."""
    found = re.findall(r"trace: (?:built-in|exec): (git .*\blog\b.*)", trace.read_text())
    trace.write_text("")
    return found


def test_publishing_again_writes_only_what_changed_and_reads_only_the_new_history(qms, sample, tmp_path):
    site = tmp_path / "site"
    trace = tmp_path / "trace"
    r = qms("publish", str(site), root=sample, env=dict(NOW, GIT_TRACE=str(trace)))
    written, unchanged, removed = counts(r.out)
    assert written > 400 and unchanged == 0 and removed == 0
    assert len(_logs(trace)) == 1  # the history of every record, in one git log
    r = qms("publish", str(site), root=sample, env=dict(NOW, GIT_TRACE=str(trace)))
    assert counts(r.out) == (0, written, 0)
    assert _logs(trace) == []  # no commit since: no history read

    r = qms("complaint", "set", "CMP-2026-0013", "description=接头再次渗漏", who=QE, root=sample)
    assert r.code == 0, r.text
    r = qms("--json", "publish", str(site), root=sample, env=dict(NOW, GIT_TRACE=str(trace)))
    logs = _logs(trace)  # what the commit since touched, then the history of the one record made again
    assert len(logs) == 2 and ".." in logs[0] and "CMP-2026-0013.yaml" in logs[1], logs
    done = json.loads(r.out)
    assert sorted(done["written"]) == sorted([
        "en/complaint/CMP-2026-0013.html", "zh/complaint/CMP-2026-0013.html",
        "en/complaint/index.html", "zh/complaint/index.html", "search-index.en.complaint.0.js",
        "search-index.zh.complaint.0.js"])
    assert done["unchanged"] == written - 6 and done["removed"] == []

    # history rewritten (the last commit amended): the site's commit is not behind HEAD,
    # so every record's history is read again, and the record whose history changed remade
    git(sample, "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-q", "--amend", "-m", "amended")
    r = qms("--json", "publish", str(site), root=sample, env=dict(NOW, GIT_TRACE=str(trace)))
    assert len(_logs(trace)) == 1 and json.loads(r.out)["remade"] == ["CMP-2026-0013"]
    _as_fresh(qms, sample, tmp_path, site, "fresh")

    git(sample, "rm", "-q", "records/complaint/CMP-2026-0013.yaml")
    git(sample, "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-qm", "gone")
    r = qms("publish", str(site), root=sample, env=NOW)
    assert counts(r.out)[2] == 2
    assert not (site / "zh" / "complaint" / "CMP-2026-0013.html").exists()


def test_a_folder_that_is_not_a_site_or_is_in_the_store_is_refused(qms, sample, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.docx").write_text("mine", encoding="utf-8")
    r = qms("publish", str(mine), root=sample)
    assert r.code == 2 and (mine / "thesis.docx").read_text(encoding="utf-8") == "mine"
    assert sorted(p.name for p in mine.iterdir()) == ["thesis.docx"]
    r = qms("publish", str(sample / "site"), root=sample)
    assert r.code == 2 and not (sample / "site").exists()


def _files(site: Path) -> dict[str, bytes]:
    """Every file of a published site but its manifest and cache, by path."""
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*"))
            if p.is_file() and p.name != ".qms-publish.json" and not p.name.startswith(".qms-publish-")}


def test_after_one_change_only_the_pages_that_read_it_are_made_again_as_a_new_publish_makes_them(
        qms, sample, tmp_path):
    site = tmp_path / "site"
    r = qms("--json", "publish", str(site), root=sample, env=NOW)
    assert r.code == 0, r.text
    first = json.loads(r.out)
    assert len(first["remade"]) > 190  # a new folder: every record
    before = _files(site)

    # a copy of a controlled document moves: its own pages, its document's (which lists its
    # copies) and those of the document's other copies (each lists its sister copies, with
    # where they are kept) are made again; those whose bytes changed are written
    path = sample / "records" / "distribution" / "DST-2024-0005.yaml"
    text = path.read_text(encoding="utf-8")
    old_location = re.search(r"^  location: (.*)$", text, re.MULTILINE).group(1)
    path.write_text(text.replace(old_location, "质量部档案室B-07"), encoding="utf-8")
    git(sample, "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-qam", "moved")
    r = qms("--json", "publish", str(site), root=sample, env=NOW)
    assert r.code == 0, r.text
    done = json.loads(r.out)
    sisters = {p.stem for p in (sample / "records" / "distribution").glob("*.yaml")
               if "document: LX-CX-2024-001" in p.read_text(encoding="utf-8")}
    readers = {p.stem for p in (sample / "records").glob("*/*.yaml") if "DST-2024-0005" in p.read_text(encoding="utf-8")}
    assert {"DST-2024-0005", "LX-CX-2024-001"} <= set(done["remade"])
    assert set(done["remade"]) <= sisters | readers | {"LX-CX-2024-001"}
    assert len(done["remade"]) < 30
    after = _files(site)
    assert set(done["written"]) == {rel for rel in after if before.get(rel) != after[rel]}
    assert {"zh/distribution/DST-2024-0005.html", "en/distribution/DST-2024-0004.html",
            "search-index.zh.distribution.0.js"} <= set(done["written"])
    assert "质量部档案室B-07" in after["zh/distribution/DST-2024-0004.html"].decode()

    fresh = tmp_path / "fresh"
    r = qms("publish", str(fresh), root=sample, env=NOW)
    assert r.code == 0, r.text
    assert _files(fresh) == after

    # nothing changed: nothing is made again; the next day every form is (it prints the day)
    r = qms("--json", "publish", str(site), root=sample, env=NOW)
    assert json.loads(r.out)["remade"] == [] and json.loads(r.out)["written"] == []
    r = qms("--json", "publish", str(site), root=sample, env={"QMS_NOW": "2026-03-11T09:00"})
    assert len(json.loads(r.out)["remade"]) == len(first["remade"])


def test_a_page_whose_file_was_changed_or_removed_by_hand_is_made_again(qms, sample, tmp_path):
    site = tmp_path / "site"
    assert qms("publish", str(site), root=sample, env=NOW).code == 0
    page_ = site / "zh" / "complaint" / "CMP-2026-0012.html"
    good = page_.read_bytes()
    page_.write_bytes(b"defaced")
    (site / "en" / "capa" / "CAPA-2026-0001.html").unlink()
    r = qms("--json", "publish", str(site), root=sample, env=NOW)
    done = json.loads(r.out)
    assert sorted(done["remade"]) == ["CAPA-2026-0001", "CMP-2026-0012"]
    assert sorted(done["written"]) == ["en/capa/CAPA-2026-0001.html", "zh/complaint/CMP-2026-0012.html"]
    assert page_.read_bytes() == good


@pytest.mark.parametrize("child", ["works", "fails"])
def test_kept_pages_are_checked_on_another_process(qms, sample, tmp_path, monkeypatch, child):
    """A site of many pages has their sizes and times checked by a child process while
    publish reads the store: publish itself looks only at the pages that child found
    changed (here: one edited, one removed, one touched), and makes again those whose bytes
    differ. A child that fails leaves publish to look at every page itself."""
    from qms_cli import publish as publishing

    if not sys.platform.startswith("linux"):
        pytest.skip("a child process is forked on Linux")
    site = tmp_path / "site"
    assert qms("publish", str(site), root=sample, env=NOW).code == 0
    monkeypatch.setattr(publishing, "CHECK_ELSEWHERE", 0)
    if child == "fails":
        monkeypatch.setattr(publishing._Site, "pages_unlike", staticmethod(lambda target: 1 / 0))
    edited, removed, touched = (site / "zh/complaint/CMP-2026-0012.html", site / "en/complaint/CMP-2026-0011.html",
                                site / "zh/complaint/CMP-2026-0010.html")
    edited.write_bytes(edited.read_bytes() + b"<!-- by hand -->")
    removed.unlink()
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    looked: list[str] = []
    real = os.lstat
    monkeypatch.setattr(os, "lstat", lambda path, *a, **k: looked.append(str(path)) or real(path, *a, **k))
    r = qms("--json", "publish", str(site), root=sample, env=NOW)
    assert r.code == 0, r.text
    assert sorted(json.loads(r.out)["remade"]) == ["CMP-2026-0011", "CMP-2026-0012"]
    pages = {p for p in looked if re.fullmatch(rf"{re.escape(str(site))}/(zh|en)/\w+/[^/]+\.html", p)}
    remade = {str(site / lang / "complaint" / f"{rid}.html") for lang in ("zh", "en")
              for rid in ("CMP-2026-0011", "CMP-2026-0012")}  # written again
    if child == "works":
        assert str(touched) in pages and pages <= remade | {str(touched)}, pages
    else:
        assert len(pages) > 300, len(pages)
    _as_fresh(qms, sample, tmp_path, site, "fresh")




def test_a_check_that_cannot_read_the_cache_is_not_taken_for_every_page_as_it_was(qms, sample, tmp_path,
                                                                                  monkeypatch):
    """The child process that checks the kept pages reads the cache itself: where it
    cannot (a read that fails there alone), it has found nothing, which is not "every page
    as it was": publish looks at each page itself, and a page changed by hand is made again."""
    from qms_cli import publish as publishing

    if not sys.platform.startswith("linux"):
        pytest.skip("a child process is forked on Linux")
    site = tmp_path / "site"
    assert qms("publish", str(site), root=sample, env=NOW).code == 0
    monkeypatch.setattr(publishing, "CHECK_ELSEWHERE", 0)
    parent, real = os.getpid(), publishing._load_cache
    monkeypatch.setattr(publishing, "_load_cache", lambda target: real(target) if os.getpid() == parent else None)
    edited = site / "zh/complaint/CMP-2026-0012.html"
    edited.write_bytes(edited.read_bytes() + b"<!-- by hand -->")
    r = qms("--json", "publish", str(site), root=sample, env=NOW)
    assert r.code == 0, r.text
    assert "zh/complaint/CMP-2026-0012.html" in json.loads(r.out)["written"]
    _as_fresh(qms, sample, tmp_path, site, "fresh")

def _children() -> set[int]:
    """This process's child processes, zombies included (Linux: /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            found.add(int(stat.parent.name))
    return found


def _pipes() -> set[str]:
    """This process's open pipes (Linux: /proc)."""
    found = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("pipe:"):
            found.add(f"{fd.name} {target}")
    return found


def test_a_publish_that_fails_early_leaves_no_child_process_behind(qms, sample, tmp_path, monkeypatch):
    """The check of the kept pages on another process is waited for however publish ends,
    even where it ends before it starts its work (here: QMS_NOW cannot be read): no child
    process left (a zombie) and no pipe open in a program that publishes in-process."""
    from qms_cli import publish as publishing

    if not sys.platform.startswith("linux"):
        pytest.skip("a child process is forked on Linux")
    site = tmp_path / "site"
    assert qms("publish", str(site), root=sample, env=NOW).code == 0
    monkeypatch.setattr(publishing, "CHECK_ELSEWHERE", 0)
    children, pipes = _children(), _pipes()
    r = qms("publish", str(site), root=sample, env={"QMS_NOW": "the day after"})
    assert r.code == 2 and "QMS_NOW" in r.err, r.text
    assert _children() <= children and _pipes() <= pipes


def test_a_publish_interrupted_while_its_pages_are_checked_says_so(qms, sample, tmp_path, monkeypatch):
    """Ctrl-C while publish waits for the check of the kept pages on another process: the
    command says it was interrupted (130), not an internal error of a pipe read twice."""
    from qms_cli import parallel
    from qms_cli import publish as publishing

    if not sys.platform.startswith("linux"):
        pytest.skip("a child process is forked on Linux")
    site = tmp_path / "site"
    assert qms("publish", str(site), root=sample, env=NOW).code == 0
    assert qms("complaint", "set", "CMP-2026-0013", "batch=HZ-13", who=QE, root=sample).code == 0
    monkeypatch.setattr(publishing, "CHECK_ELSEWHERE", 0)
    real, asked = os.read, []

    def read(fd: int, n: int) -> bytes:
        if sys._getframe(1).f_code.co_name == "result" and not asked:  # the wait for the child, once
            asked.append(fd)
            raise KeyboardInterrupt
        return real(fd, n)

    monkeypatch.setattr(parallel.os, "read", read)
    children, pipes, threads = _children(), _pipes(), set(threading.enumerate())
    r = qms("publish", str(site), root=sample, env=NOW)
    assert asked and r.code == 130 and "interrupted" in r.err and "internal error" not in r.err, r.text
    for thread in set(threading.enumerate()) - threads:  # the git log read meanwhile ends by itself
        thread.join(60)
    assert _children() <= children and _pipes() <= pipes

def test_a_second_publish_into_the_same_folder_waits_for_the_first(qms, sample, tmp_path):
    """Two publishes into one folder would write the same cache and manifest: the second
    waits for the folder's lock (QMS_LOCK_TIMEOUT) and, still held, is refused (exit 1)
    with the folder and the lock named, the site as it was."""
    from filelock import FileLock

    site = tmp_path / "site"
    assert qms("publish", str(site), root=sample, env=NOW).code == 0  # a new folder: the lock is no site of anyone's
    before = _files(site)
    with FileLock(str(site / ".qms-publish.lock")):
        r = qms("publish", str(site), root=sample, env={**NOW, "QMS_LOCK_TIMEOUT": "0.5", "QMS_LANG": "en"})
    assert r.code == 1 and "another qms publish" in r.err and ".qms-publish.lock" in r.err, r.text
    assert _files(site) == before
    r = qms("complaint", "set", "CMP-2026-0013", "batch=HZ-13", who=QE, root=sample)
    assert r.code == 0, r.text
    assert qms("publish", str(site), root=sample, env=NOW).code == 0
    _as_fresh(qms, sample, tmp_path, site, "fresh")


def test_a_changed_form_template_makes_every_page_again(qms, sample, tmp_path):
    site = tmp_path / "site"
    assert qms("publish", str(site), root=sample, env=NOW).code == 0
    (sample / "templates").mkdir()
    builtin = Path(__file__).resolve().parent.parent / "templates" / "capa.en.md.j2"
    (sample / "templates" / "capa.en.md.j2").write_text(builtin.read_text(encoding="utf-8") + "\nOur own footer\n",
                                                         encoding="utf-8")
    r = qms("--json", "publish", str(site), root=sample, env=NOW)
    done = json.loads(r.out)
    assert len(done["remade"]) > 190
    assert "en/capa/CAPA-2026-0001.html" in done["written"]
    assert all(w.startswith("en/capa/CAPA-") for w in done["written"] if w.endswith(".html"))
    assert "Our own footer" in (site / "en" / "capa" / "CAPA-2026-0001.html").read_text(encoding="utf-8")


def test_a_ledger_is_made_again_when_a_field_it_shows_changes(qms, sample, tmp_path):
    site = tmp_path / "site"
    assert qms("publish", str(site), root=sample, env=NOW).code == 0
    r = qms("complaint", "set", "CMP-2026-0013", "batch=HZ260309-B7", who=QE, root=sample)
    assert r.code == 0, r.text
    r = qms("--json", "publish", str(site), root=sample, env=NOW)
    done = json.loads(r.out)
    assert done["remade"] == ["CMP-2026-0013", "CP-2026-0005"]  # and the closure plan that reads it
    assert {"zh/reports/complaints.html", "en/reports/complaints.html"} <= set(done["written"])
    assert "HZ260309-B7" in (site / "zh" / "reports" / "complaints.html").read_text(encoding="utf-8")
    fresh = tmp_path / "fresh"
    assert qms("publish", str(fresh), root=sample, env=NOW).code == 0
    assert _files(fresh) == _files(site)


TABLES = [
    "| a | b |\n|---|---|\n| x\"y | 1 |\n", "| a | b |\n|---|---|\n| *x* | 1 |\n", "| a | b |\n|---|---|\n|  x | 1 |\n",
    "- item\n\n| a |\n|---|\n| b |\n", "> q\n\n| a |\n|---|\n| b |\n", "para\n| a |\n|---|\n| b |\n",
    "| a | b |\n|---|---|\n| x<br>y | <br> |\n", "| a | b |\n|---|---|\n| x |\n", "| a |\n|---|\n",
    "| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 | 5 |\n", "[x]: http://e.com\n\n| a |\n|---|\n| [x] |\n\n[x]\n",
    "    code\n\n| a |\n|---|\n| b |\n", "1. one\n\n| a |\n|---|\n| b |\n\n2. two\n",
    "| é ü | 中文，标点。 |\n|---|---|\n| #1 | +2 -3 = 4 |\n", "| a |\n|---|\n| b |\n---\n", "```\n| a |\n|---|\n```\n",
    "| a | b |\n|---|---|\n| x | &amp; |\n", "| a | b |\n|---|---|\n| x\\|y | ▶ **3** |\n|  | 中文&lt;br&gt; |\n",
]
# what a store's own template may write: markup that must come out as text, as markdown-it showed it
TEMPLATE_MARKUP = [
    "<div>\nx\n</div>\n\n*a*", "<script>alert(1)</script>", "<img src=\"http://127.0.0.1:9/z.png\">", "x `<b>` y",
    "x `a<br>b` y\n\n```\n<br> <i>\n```\n", "<!-- c -->\n\n<?php x ?>\n\n<![CDATA[x]]>\n", "a*<b* **<x>**",
    "![i](http://127.0.0.1:9/i.png) ![l](/local.png) ![r][ref]\n\n[ref]: /r.png", "\\![j](u) \\\\![k](v) \\<b> \\\\<b>",
    "[r] [s](<http://e.com/x y>)\n\n[r]:  <http://e.com/r>\n", "[a](<http://x>) [b](x<br>y) [c](u \"t<br>i\") [d](a<b)", "<http://x.com> <a@b.c> a<br>", "~~s~~ www.x.com",
]


def markdown_it_html(markdown: str) -> str:
    """A form's HTML as markdown-it made it before cmark: CommonMark, tables, no raw HTML, no
    images, qms's <br> a line break (the reference formhtml keeps to)."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table").disable("image")

    def line_break(state, silent: bool) -> bool:
        if not state.src.startswith("<br>", state.pos):
            return False
        if not silent:
            state.push("hardbreak", "br", 0)
        state.pos += 4
        return True

    md.inline.ruler.before("text", "qms_br", line_break)
    return md.render(markdown)


def same_document(html: str) -> str:
    """HTML as two renderers of one document both write it: no whitespace between tags, and a
    line break written `<br>` (cmark and markdown-it write `<br />`; other writers differ)."""
    return re.sub(r">\s+<", "><", html.replace("<br />", "<br>")).strip()


def test_forms_and_ledgers_as_html_are_what_markdown_it_made_of_them(sample):
    """Every form and ledger of the sample store, tables and a template's own markup come out of
    cmark as they came out of markdown-it (byte for byte today: same_document is the slack)."""
    from qms_cli import formhtml
    from qms_cli.errors import QmsError
    from qms_cli.render import render
    from qms_cli.reports import build, report_names, to_markdown
    from qms_cli.store import Store
    from qms_cli.text import markdown

    store = Store.open(sample)
    value = markdown(HOSTILE + "\nx|y\r\n**z** `c` [l](javascript:x) ![i](/i.png)\u2028end")  # as render escapes it
    docs = TABLES + TEMPLATE_MARKUP + [f"| 项目 | 内容 |\n|---|---|\n| {value} | {value} |\n", f"{value}\n\n- {value}\n"]
    for t in store.config.type_names():
        rt = store.record_type(t)
        for rec in store.records(t):
            for lang in ("zh", "en"):
                docs += [render(store, rec.id, lang, t, form) for form in [None, *rt.forms]]
    for name in report_names(store):
        for lang in ("zh", "en"):
            try:
                docs.append(to_markdown(build(store, name, lang), "公司", lang, "2026-03-10"))
            except QmsError:
                pass
    assert len(docs) > 400 and sum("**" in d for d in docs) > 10
    assert [d for d in docs if same_document(formhtml.body(d)) != same_document(markdown_it_html(d))] == []


@pytest.mark.parametrize("markdown, cmark", [
    # markdown-it left a link it refused as its text; cmark makes it a link to nothing
    ("[a](javascript:alert(1)) [b](VBScript:x) [c](file:///etc/passwd) [d](data:text/html,x)",
     '<p><a href="">a</a> <a href="">b</a> <a href="">c</a> <a href="">d</a></p>'),
    ("[a](data:image/png;base64,AA) [b](&#100;ata:image/gif,x) <javascript:alert(1)>",  # cmark lets images through
     '<p><a href="">a</a> <a href="">b</a> <a href="">javascript:alert(1)</a></p>'),
    ("a\ud800b", "<p>a\ufffdb</p>"),
    # markdown-it trimmed a cell of every Unicode space (str.strip), cmark of spaces and tabs as
    # CommonMark says: a value that starts with an ideographic space (a Chinese indent) keeps it
    ("| a |\n|---|\n| \u3000x\u3000 |\n", "<table>\n<thead>\n<tr>\n<th>a</th>\n</tr>\n</thead>\n"
                                         "<tbody>\n<tr>\n<td>\u3000x\u3000</td>\n</tr>\n</tbody>\n</table>"),  # a lone surrogate (YAML's "\\ud800"), which no page could be written with
])
def test_where_cmark_differs_from_markdown_it_no_link_runs_a_script(markdown, cmark):
    from qms_cli import formhtml

    assert formhtml.body(markdown).strip() == cmark


class Tags(HTMLParser):
    """The start tags of a fragment with their attributes."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


FORM_TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "br", "code", "pre",
             "em", "strong", "a", "ul", "ol", "li", "blockquote", "hr"}
FORM_ATTRIBUTES = {"a": {"href", "title"}, "code": {"class"}, "th": {"align"}, "td": {"align"}, "ol": {"start"}}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["<", ">", "!", "[", "]", "(", ")", "`", "*", "\\", "|", "\n", " ", "x", "br", "<br>",
                                 "img", "script", "src=", "javascript:", "data:image/png,", "/l.png", "---", "&lt;",
                                 "<!--", "-->", "| a |\n|---|\n", "'", '"', "\u2e00", "\ue000"]), max_size=40).map("".join))
def test_a_template_makes_no_image_no_raw_html_and_no_link_that_runs(markdown):
    from qms_cli import formhtml

    html = formhtml.body(markdown)
    tags = Tags(html).tags
    assert "raw HTML omitted" not in html and {t for t, _a in tags} <= FORM_TAGS, (markdown, html)
    hrefs = [a.get("href", "") for t, a in tags if t == "a"]
    assert not [h for h in hrefs if re.match(r"(?i)\s*(javascript|vbscript|file|data):", h)], (markdown, html)
    assert [t for t, a in tags if not set(a) <= FORM_ATTRIBUTES.get(t, set())] == [], (markdown, html)


def test_making_forms_html_again_and_again_takes_no_more_memory():
    """cmarkgfm's own functions leak the document and the HTML (about 10 times the Markdown):
    formhtml frees both."""
    from qms_cli import formhtml

    statm = Path("/proc/self/statm")
    if not statm.exists():
        pytest.skip("no /proc/self/statm here")
    form = "## 表\n\n| 项目 | 内容 |\n|---|---|\n" + "| 名称 | **上汽**<br>大众 `x` [a](http://e.com) |\n" * 1000
    formhtml.body(form)
    before = int(statm.read_text().split()[1])
    for _ in range(100):
        formhtml.body(form)
    grown = (int(statm.read_text().split()[1]) - before) * 4096
    assert grown < 100 * len(form.encode()), grown  # leaking, it grows by 1,000 times the form


def _read_whole(monkeypatch) -> list[str]:
    """The record types read whole (every record of the type parsed) from now on."""
    from qms_cli.store import Store

    seen: list[str] = []
    real = Store.records

    def records(self, type_name=None, then=None):
        seen.append(str(type_name))
        return real(self, type_name, then)

    monkeypatch.setattr(Store, "records", records)
    return seen


def _commit(sample, message: str) -> None:
    git(sample, "add", "-A")
    git(sample, "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-qm", message)


def _as_fresh(qms, sample, tmp_path, site: Path, name: str) -> None:
    fresh = tmp_path / name
    r = qms("publish", str(fresh), root=sample, env=NOW)
    assert r.code == 0, r.text
    assert _files(fresh) == _files(site)


def test_after_a_merge_only_the_records_the_other_site_changed_are_made_again(qms, sample, tmp_path, monkeypatch):
    """A shared store: another site's commits come in through a merge. Each record's history
    holds every commit that changed it, on either site's line (the same change made on both
    sites, twice); publishing after the merge makes again the pages of the records the
    other site changed, not every page, and the site is the one a new publish makes."""
    import subprocess

    site = tmp_path / "site"
    assert qms("publish", str(site), root=sample, env=NOW).code == 0
    other = tmp_path / "other-site"
    subprocess.run(["git", "clone", "-q", str(sample), str(other)], check=True, capture_output=True)
    for root, changes in ((other, [("CMP-2026-0011", "batch=HZ260301-B2"), ("CMP-2026-0013", "batch=HZ260309-B7")]),
                          (sample, [("CMP-2026-0013", "batch=HZ260309-B7"), ("CMP-2026-0012", "batch=HZ260305-A1")])):
        for cid, change in changes:
            r = qms("complaint", "set", cid, change, who=QE2 if root == other else QE, root=root)
            assert r.code == 0, r.text
    merged = subprocess.run(["git", "pull", "-q", "--no-rebase", "--no-edit", str(other), "HEAD"], cwd=sample,
                            capture_output=True, text=True, env=dict(os.environ, **identity_env(QE)))
    assert merged.returncode == 0, merged.stderr
    assert git(sample, "rev-list", "--min-parents=2", "--count", "HEAD").strip() == "1"
    r = qms("--json", "log", "CMP-2026-0013", root=sample)
    assert r.code == 0, r.text
    by = [e.get("email") or e.get("author") for e in json.loads(r.out) if "batch" in json.dumps(e, ensure_ascii=False)]
    assert len(by) == 2, r.out  # the same change, made at each site: both acts are in its history
    from qms_cli.store import git as gitops

    logs, real = [], gitops.log_all
    monkeypatch.setattr(gitops, "log_all", lambda root, under="records", files=None: logs.append(files) or real(
        root, under, files))
    r = qms("--json", "publish", str(site), root=sample, env=NOW)
    assert r.code == 0, r.text
    assert logs and None not in logs, logs  # the history of the records made again, not the whole store's
    remade = set(json.loads(r.out)["remade"])
    assert {"CMP-2026-0011", "CMP-2026-0012", "CMP-2026-0013"} <= remade and len(remade) < 15, remade
    _as_fresh(qms, sample, tmp_path, site, "fresh")


def _part(site: Path, t: str) -> dict:
    """The projections publish keeps of type `t`: {token, fields, records: path -> projection},
    from its file (a JSON head, then a line per record: its path as JSON, a tab, JSON)."""
    head, *lines = (site / f".qms-publish-part.{t}.jsonl").read_bytes().splitlines()
    part = json.loads(head)
    part["records"] = {json.loads(key): json.loads(entry) for key, _tab, entry in
                       (line.partition(b"\t") for line in lines)}
    return part


def _write_part(site: Path, t: str, part: dict) -> None:
    lines = [json.dumps({"token": part["token"], "fields": part["fields"]}).encode()]
    lines += [json.dumps(rel).encode() + b"\t" + json.dumps(entry, ensure_ascii=False).encode()
              for rel, entry in part["records"].items()]
    (site / f".qms-publish-part.{t}.jsonl").write_bytes(b"\n".join(lines) + b"\n")


def test_one_change_writes_one_line_of_the_kept_projections_again(qms, sample, tmp_path):
    """The complaints' projections are kept one line a record: one change writes that
    record's line again and copies the others as they were (none is read); a line that is
    not as written is not used (that record is read), and a file an older qms kept is
    removed."""
    site = tmp_path / "site"
    assert qms("publish", str(site), root=sample, env=NOW).code == 0
    path = site / ".qms-publish-part.complaint.jsonl"
    before = path.read_bytes().splitlines()
    r = qms("complaint", "set", "CMP-2026-0013", "batch=HZ260309-B7", who=QE, root=sample)
    assert r.code == 0, r.text
    assert qms("publish", str(site), root=sample, env=NOW).code == 0
    after = path.read_bytes().splitlines()
    assert len(after) == len(before) and after[0] != before[0]  # a new token
    new = set(after[1:]) - set(before[1:])
    assert [line.partition(b"\t")[0] for line in new] == [b'"records/complaint/CMP-2026-0013.yaml"']
    assert b"HZ260309-B7" in new.pop()
    assert _part(site, "complaint")["records"]["records/complaint/CMP-2026-0013.yaml"][3]["batch"] == "HZ260309-B7"

    damaged = [line if not line.startswith(b'"records/complaint/CMP-2026-0011.yaml"') else
               line.partition(b"\t")[0] + b"\t[not json" for line in after]
    path.write_bytes(b"\n".join(damaged) + b"\n")
    (site / ".qms-publish-part.capa.json").write_text("{}", encoding="utf-8")  # as an older qms left it
    r = qms("complaint", "set", "CMP-2026-0012", "batch=HZ-12", who=QE, root=sample)
    assert r.code == 0, r.text
    assert qms("publish", str(site), root=sample, env=NOW).code == 0
    _as_fresh(qms, sample, tmp_path, site, "fresh")
    cache = json.loads((site / ".qms-publish-cache.json").read_text(encoding="utf-8"))
    cache["format"] = 2
    (site / ".qms-publish-cache.json").write_text(json.dumps(cache), encoding="utf-8")
    assert qms("publish", str(site), root=sample, env=NOW).code == 0
    assert not (site / ".qms-publish-part.capa.json").exists() and path.exists()


def test_a_ledger_made_again_reads_only_the_records_that_changed(qms, sample, tmp_path, monkeypatch):
    site = tmp_path / "site"
    assert qms("publish", str(site), root=sample, env=NOW).code == 0
    part = _part(site, "complaint")
    assert {"batch", "customer", "received_at"} <= set(part["fields"])
    assert len(part["records"]) == len(list((sample / "records" / "complaint").glob("*.yaml")))

    # one field the ledger shows changes: the ledger is made again without reading every complaint
    r = qms("complaint", "set", "CMP-2026-0013", "batch=HZ260309-B7", who=QE, root=sample)
    assert r.code == 0, r.text
    whole = _read_whole(monkeypatch)
    r = qms("--json", "publish", str(site), root=sample, env=NOW)
    assert r.code == 0, r.text
    assert {"zh/reports/complaints.html", "en/reports/complaints.html"} <= set(json.loads(r.out)["written"])
    assert "complaint" not in whole
    monkeypatch.undo()
    assert "HZ260309-B7" in (site / "zh" / "reports" / "complaints.html").read_text(encoding="utf-8")
    _as_fresh(qms, sample, tmp_path, site, "fresh1")

    # a record added, one removed, one that cannot be read: each as a new publish makes it
    added = sample / "records" / "complaint" / "CMP-2026-0099.yaml"
    added.write_text((sample / "records" / "complaint" / "CMP-2026-0002.yaml").read_text(encoding="utf-8")
                     .replace("CMP-2026-0002", "CMP-2026-0099").replace("batch: ", "batch: NEW-"), encoding="utf-8")
    _commit(sample, "added")
    assert qms("publish", str(site), root=sample, env=NOW).code == 0
    assert "CMP-2026-0099" in (site / "zh" / "reports" / "complaints.html").read_text(encoding="utf-8")
    _as_fresh(qms, sample, tmp_path, site, "fresh2")
    git(sample, "rm", "-q", "records/complaint/CMP-2026-0099.yaml")
    (sample / "records" / "complaint" / "CMP-2026-0005.yaml").write_text("id: [unclosed\n", encoding="utf-8")
    _commit(sample, "removed, and one broken")
    r = qms("publish", str(site), root=sample, env=NOW)
    page_ = (site / "en" / "reports" / "complaints.html").read_text(encoding="utf-8")
    assert "CMP-2026-0099" not in page_ and "CMP-2026-0005" not in page_
    assert "CMP-2026-0005.yaml" in r.err
    _as_fresh(qms, sample, tmp_path, site, "fresh3")


def test_a_ledger_made_again_makes_only_the_rows_of_the_records_that_changed(qms, sample, tmp_path, monkeypatch):
    """Each record's rows are kept by its version: after one change, a ledger lays out the
    kept rows of the others and makes only the changed record's. Two tables of one report
    over the same type keep their rows apart; kept rows that are not sound are made again."""
    from qms_cli import publish as publishing

    (sample / "reports").mkdir()
    (sample / "reports" / "twice.yaml").write_text(
        "label: {zh: 两表, en: Twice}\nsections:\n"
        "  - {label: {zh: 批次, en: Batches}, type: complaint, columns: [id, batch]}\n"
        "  - {label: {zh: 顾客, en: Customers}, type: complaint, columns: [id, customer.name]}\n", encoding="utf-8")
    _commit(sample, "a ledger of two tables")
    site = tmp_path / "site"
    assert qms("publish", str(site), root=sample, env=NOW).code == 0
    kept = json.loads((site / ".qms-publish-rows.json").read_text(encoding="utf-8"))["ledgers"]
    complaints = sorted(p.name for p in (sample / "records" / "complaint").glob("*.yaml"))
    assert sorted({k.split(" ", 1)[1].rpartition("/")[2] for k in kept["complaints zh"]}) == complaints
    assert len({k.split(" ", 1)[0] for k in kept["twice en"]}) == 2  # one key per table

    made: list[tuple[str, str]] = []
    real = publishing._Rows.put

    def put(self, part, rec, rows):
        made.append((part, rec.path))
        return real(self, part, rec, rows)

    monkeypatch.setattr(publishing._Rows, "put", put)
    in_part: list[str] = []
    real_partly = publishing._Site.partly
    monkeypatch.setattr(publishing._Site, "partly", lambda self, t, *a: in_part.append(t) or real_partly(self, t, *a))
    whole = _read_whole(monkeypatch)
    r = qms("complaint", "set", "CMP-2026-0013", "batch=HZ260309-B9", who=QE, root=sample)
    assert r.code == 0, r.text
    whole.clear()
    r = qms("--json", "publish", str(site), root=sample, env=NOW)
    assert r.code == 0, r.text
    assert {"zh/reports/complaints.html", "en/reports/twice.html"} <= set(json.loads(r.out)["written"])
    assert {rel for _part, rel in made} == {"records/complaint/CMP-2026-0013.yaml"}
    # its rows all kept but one: no complaint is read again, whole or in part
    assert "complaint" not in whole and in_part == []
    assert len(made) == 2 * 3  # the complaints ledger and the two tables, in both languages
    twice = (site / "zh" / "reports" / "twice.html").read_text(encoding="utf-8")
    assert "HZ260309-B9" in twice and twice.count("HZ260309-B9") == 1
    _as_fresh(qms, sample, tmp_path, site, "fresh1")

    # kept rows that are not what a row is (a number to sort by, HTML that is not text) are
    # made again, not shown
    path = site / ".qms-publish-rows.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    for rows in data["ledgers"].values():
        for n, entry in enumerate(rows.values()):
            entry[1] = [[[7] * len(k), g, cells, html] if n % 2 else [k, g, cells, [html]]
                        for k, g, cells, html in entry[1]]
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    made.clear()
    assert qms("complaint", "set", "CMP-2026-0012", "batch=HZ-12", who=QE, root=sample).code == 0
    r = qms("publish", str(site), root=sample, env=NOW)
    assert r.code == 0, r.text
    assert len({rel for _part, rel in made}) == len(complaints)
    _as_fresh(qms, sample, tmp_path, site, "fresh2")


def test_a_value_the_fast_json_writer_refuses_is_kept_all_the_same(qms, sample, tmp_path):
    """A whole number past 64 bits in a record: orjson would read it back a float, so the
    record is not kept in part (a ledger that needs it reads it whole); the rest is."""
    path = sample / "records" / "complaint" / "CMP-2026-0013.yaml"
    text = re.sub(r"(?m)^quantity_affected: .*$", "quantity_affected: 123456789012345678901234567890",
                  path.read_text(encoding="utf-8"))
    path.write_text(text, encoding="utf-8")
    _commit(sample, "a large quantity")
    site = tmp_path / "site"
    r = qms("publish", str(site), root=sample, env=NOW)
    assert r.code == 0, r.text
    kept = (site / ".qms-publish-part.complaint.jsonl").read_bytes()
    assert b"123456789012345678901234567890" not in kept and b"CMP-2026-0012" in kept
    r = qms("complaint", "set", "CMP-2026-0012", "batch=HZ-12", who=QE, root=sample)
    assert r.code == 0, r.text
    r = qms("--json", "publish", str(site), root=sample, env=NOW)
    assert r.code == 0, r.text
    remade = json.loads(r.out)["remade"]  # what was kept was read back: the rest is kept
    assert "CMP-2026-0012" in remade and "CMP-2026-0013" not in remade and len(remade) < 10, remade
    _as_fresh(qms, sample, tmp_path, site, "fresh")


def _tables(html: str) -> list[str]:
    return re.findall(r"<table>.*?</table>", html, flags=re.S)


@pytest.mark.parametrize("at_once", [0, 10_000])
def test_a_ledger_laid_out_row_by_row_is_the_ledger_made_html_at_once(qms, sample, tmp_path, monkeypatch, at_once):
    """The ledger's rows laid out one by one (and kept as HTML for the next publish) give
    the tables that its Markdown (qms report) made HTML at once gives, whatever a value
    holds; so does a ledger laid out at once, its rows' HTML taken from the whole."""
    from qms_cli import formhtml
    from qms_cli import publish as publishing

    monkeypatch.setattr(publishing, "AT_ONCE", at_once)
    odd = "A|B <br> *x* \\ <script>alert(1)</script> [l](javascript:x) `c` &amp; 1. ！\ue000 # h"
    assert qms("complaint", "set", "CMP-2026-0013", f"batch={odd}", who=QE, root=sample).code == 0
    site = tmp_path / "site"

    def same() -> None:
        for lang in ("zh", "en"):
            r = qms("--lang", lang, "report", "complaints", root=sample, env=NOW)
            assert r.code == 0, r.text
            wanted = _tables(formhtml.body(r.out))
            got = _tables((site / lang / "reports" / "complaints.html").read_text(encoding="utf-8"))
            # on the site, each row's complaint number links to the complaint's page
            linked = re.findall(r'<tr>\n<td><a href="\.\./complaint/(CMP-2026-\d{4})\.html">\1</a></td>', got[0])
            assert len(linked) == 17, linked
            got = [re.sub(r'<td><a href="[^"]*">(CMP-2026-\d{4})</a></td>', r"<td>\1</td>", t) for t in got]
            assert got == wanted and len(got) == 1 and got[0].count("<tr>") == 18

    assert qms("publish", str(site), root=sample, env=NOW).code == 0
    same()
    kept = json.loads((site / ".qms-publish-rows.json").read_text(encoding="utf-8"))["ledgers"]["complaints zh"]
    assert all(row[3].startswith("<tr>") for entry in kept.values() for row in entry[1])
    assert qms("complaint", "set", "CMP-2026-0012", "batch=HZ-12|<b>", who=QE, root=sample).code == 0
    r = qms("--json", "publish", str(site), root=sample, env=NOW)
    assert "zh/reports/complaints.html" in json.loads(r.out)["written"]
    same()


def test_a_ledger_that_asks_a_record_kept_in_part_for_more_is_made_from_whole_records(qms, sample, tmp_path):
    # the store's own ledger reads `batch` only of the complaints with 7 affected: none yet
    (sample / "reports").mkdir()
    (sample / "reports" / "sevens.yaml").write_text(
        "label: {zh: 七件客诉, en: Sevens}\ntype: complaint\nwhere: {quantity_affected: 7, batch: HZ-7}\n"
        "columns: [id, batch]\n", encoding="utf-8")
    _commit(sample, "a ledger of our own")
    site = tmp_path / "site"
    assert qms("publish", str(site), root=sample, env=NOW).code == 0
    cache = json.loads((site / ".qms-publish-cache.json").read_text(encoding="utf-8"))
    assert "batch" not in cache["reports"]["sevens en"]["types"]["complaint"][1]

    # a changed record now reads a field the ledger did not read before: shown as it is
    for field_ in ("quantity_affected=7", "batch=HZ-7"):
        assert qms("complaint", "set", "CMP-2026-0013", field_, who=QE, root=sample).code == 0
    assert qms("publish", str(site), root=sample, env=NOW).code == 0
    assert "CMP-2026-0013" in (site / "zh" / "reports" / "sevens.html").read_text(encoding="utf-8")
    _as_fresh(qms, sample, tmp_path, site, "fresh1")

    # the projections kept lack a field the ledger reads of every record (as if the records
    # had taken another branch): it is noticed, and the ledger made from the records read whole
    path = site / ".qms-publish-cache.json"
    cache = json.loads(path.read_text(encoding="utf-8"))
    for key in ("complaints zh", "complaints en"):
        cache["reports"][key]["types"]["complaint"][1].remove("customer")
    path.write_text(json.dumps(cache, ensure_ascii=False), encoding="utf-8")
    part = _part(site, "complaint")
    part["fields"].remove("customer")
    for entry in part["records"].values():
        entry[3].pop("customer", None)
    _write_part(site, "complaint", part)
    assert qms("complaint", "set", "CMP-2026-0012", "batch=HZ-12", who=QE, root=sample).code == 0
    r = qms("--json", "publish", str(site), root=sample, env=NOW)
    assert {"zh/reports/complaints.html", "en/reports/complaints.html"} <= set(json.loads(r.out)["written"])
    _as_fresh(qms, sample, tmp_path, site, "fresh2")


def test_a_site_kept_by_ci_is_made_again_only_where_the_store_changed(qms, sample, tmp_path):
    """CI keeps public/ between pipelines (qms init --pages): restored, its files have new
    times; qms installed again is the same code. A site of an older qms is made again whole."""
    site = tmp_path / "site"
    r = qms("--json", "publish", str(site), root=sample, env=NOW)
    assert r.code == 0, r.text
    everything = json.loads(r.out)["remade"]
    for p in site.rglob("*"):
        if p.is_file():
            os.utime(p, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    r = qms("complaint", "set", "CMP-2026-0013", "description=接头再次渗漏", who=QE, root=sample)
    assert r.code == 0, r.text
    r = qms("--json", "publish", str(site), root=sample, env=NOW)
    assert json.loads(r.out)["remade"] == ["CMP-2026-0013", "CP-2026-0005"]  # the closure plan reads it
    _as_fresh(qms, sample, tmp_path, site, "fresh1")

    path = site / ".qms-publish-cache.json"
    cache = json.loads(path.read_text(encoding="utf-8"))
    cache["fingerprint"] = "0" * 40  # what an older qms made
    path.write_text(json.dumps(cache), encoding="utf-8")
    r = qms("--json", "publish", str(site), root=sample, env=NOW)
    assert sorted(json.loads(r.out)["remade"]) == sorted(everything) and json.loads(r.out)["written"] == []
    _as_fresh(qms, sample, tmp_path, site, "fresh2")


def test_forms_are_made_html_under_a_malloc_put_before_libc(qms_subprocess, sample, tmp_path):
    """A malloc put before libc's (LD_PRELOAD of jemalloc or tcmalloc, common in images
    that run Python) allocates cmark's HTML: formhtml frees it with that malloc's free,
    not libc's (which aborted the process: `free(): invalid pointer`)."""
    import shutil
    import subprocess
    import sys

    cc = shutil.which("cc") or shutil.which("gcc")
    if not sys.platform.startswith("linux"):
        pytest.skip("a preloaded malloc (LD_PRELOAD) is Linux's")
    if cc is None:  # under CI a failure (.ci/run installs gcc), elsewhere a skip
        why = "no C compiler to build a preloaded malloc: apt-get install --no-install-recommends gcc libc6-dev"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    shim = tmp_path / "preloaded_malloc.so"
    subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", str(shim),
                    str(Path(__file__).parent / "data" / "preloaded_malloc.c")], check=True)
    for path in (sample / "records").glob("*/*.yaml"):  # one record's pages are enough
        if path.stem != "CMP-2026-0013":
            path.unlink()
    _commit(sample, "one record")
    site = tmp_path / "site"
    r = qms_subprocess("publish", str(site), "--lang", "en", root=sample, env={**NOW, "LD_PRELOAD": str(shim)})
    assert r.code == 0, r.text
    assert "<table>" in (site / "en" / "complaint" / "CMP-2026-0013.html").read_text(encoding="utf-8")


def test_a_value_holding_every_spare_character_is_published(qms, sample, tmp_path):
    """formhtml stands in for < and ! with characters the form does not hold (punctuation
    nobody writes, then private use): a record that holds all of the BMP's had its page
    fail with an IndexError. Planes 15 and 16 are taken then; a form holding even those
    shows three of them as U+FFFD."""
    import unicodedata

    from qms_cli import formhtml

    spare = "".join(chr(c) for c in range(0x2E00, 0x2E50) if unicodedata.category(chr(c)) == "Po")
    every = spare + "".join(map(chr, range(0xE000, 0xF900)))
    for path in (sample / "records").glob("*/*.yaml"):
        if path.stem != "CMP-2026-0013":
            path.unlink()
    path = sample / "records" / "complaint" / "CMP-2026-0013.yaml"
    text = re.sub(r"^description: .*$", lambda m: "description: " + json.dumps(every + "\nend <b>"),
                  path.read_text(encoding="utf-8"), count=1, flags=re.MULTILINE)
    path.write_text(text, encoding="utf-8")
    _commit(sample, "every spare character")
    site = tmp_path / "site"
    r = qms("publish", str(site), "--lang", "en", root=sample, env=NOW)
    assert r.code == 0, r.text
    page_ = (site / "en" / "complaint" / "CMP-2026-0013.html").read_text(encoding="utf-8")
    assert every + "<br />\nend &lt;b&gt;" in page_

    held = every + "".join(map(chr, range(0xF0000, 0xFFFFE))) + "".join(map(chr, range(0x100000, 0x10FFFE)))
    html = formhtml.body(held + "<br>x <b> ![i](u)")
    assert html.count("\ufffd") == 3 and "\ue003" in html
    assert html.endswith("<br />\nx &lt;b&gt; !<a href=\"u\">i</a></p>\n")


def test_a_store_in_a_folder_of_its_repository_shows_the_commits_since_the_last_publish(
        qms, sample, tmp_path):
    sub = sample / "qms"
    sub.mkdir()
    for p in list(sample.iterdir()):
        if p.name not in (".git", "qms"):
            p.rename(sub / p.name)
    _commit(sample, "the store moves into a folder of the repository")
    site = tmp_path / "site"
    assert qms("publish", str(site), root=sub, env=NOW).code == 0
    # a change published before it is committed: the commit adds to its history only
    path = sub / "records" / "complaint" / "CMP-2026-0013.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "# checked\n", encoding="utf-8")
    assert qms("publish", str(site), root=sub, env=NOW).code == 0
    _commit(sample, "zz-checked-in-a-folder")
    r = qms("publish", str(site), root=sub, env=NOW)
    assert r.code == 0, r.text
    _as_fresh(qms, sub, tmp_path, site, "fresh")
    # its history is its commits, as those of a store at the top of its repository
    assert "zz-checked-in-a-folder" in (site / "en" / "complaint" / "CMP-2026-0013.html").read_text(encoding="utf-8")



@pytest.mark.parametrize("odd", [float("nan"), float("-inf"), 2**64, -2**63 - 1])
def test_a_projection_kept_between_publishes_gives_back_the_value_or_is_not_kept(odd):
    from qms_cli.publish import _dump, _load, project, unproject

    data = {"batch": odd, "n": [1, 2**64 - 1, -2**63, 1.5]}
    kept = project(data, ["batch", "n"])
    if kept is not None:  # kept as the cache keeps it: read back the same, in type and value
        back = unproject(*_load(_dump(list(kept))))
        assert repr(back) == repr(data)


def test_after_a_merge_a_record_made_again_shows_the_history_a_new_publish_shows(qms, sample, tmp_path):
    # the record taken from the other branch at the merge: its history is still both branches'
    # commits that touched it, as a publish from nothing reads them
    records = sample / "records" / "complaint"

    def note(name: str, text: str) -> None:
        path = records / name
        path.write_text(path.read_text(encoding="utf-8") + f"# {text}\n", encoding="utf-8")

    git(sample, "checkout", "-q", "-b", "side")
    note("CMP-2026-0013.yaml", "the side's")
    _commit(sample, "side: 0013")
    git(sample, "checkout", "-q", "main")
    note("CMP-2026-0013.yaml", "main's")
    _commit(sample, "main: 0013")
    note("CMP-2026-0012.yaml", "main's")
    _commit(sample, "main: 0012")
    site = tmp_path / "site"
    assert qms("publish", str(site), root=sample, env=NOW).code == 0
    git(sample, "-c", "user.name=x", "-c", "user.email=x@example.com", "merge", "-q", "-X", "theirs", "--no-edit",
        "side")
    r = qms("publish", str(site), root=sample, env=NOW)
    assert r.code == 0, r.text
    _as_fresh(qms, sample, tmp_path, site, "fresh")

    # no commit since, but the record changed in the working tree: made again with the
    # history a new publish reads, merge and all
    note("CMP-2026-0013.yaml", "not committed yet")
    r = qms("--json", "publish", str(site), root=sample, env=NOW)
    assert r.code == 0 and "CMP-2026-0013" in json.loads(r.out)["remade"], r.text
    _as_fresh(qms, sample, tmp_path, site, "fresh2")


def test_a_customers_charts_are_named_apart_from_every_other_customers(qms, sample, tmp_path):
    """A store's own report about each customer with charts: each customer's charts lie
    beside the other customers' pages under names no record ID can take ('~'), so
    the chart of customer X's second table is never customer 'X-2''s own."""
    (sample / "reports").mkdir(exist_ok=True)
    (sample / "reports" / "failures-of.yaml").write_text(
        "label: {zh: 顾客失败履历, en: Failures of a customer}\nof: customer\nsections:\n"
        "  - label: {zh: 客诉, en: Complaints}\n    type: complaint\n    match: {customer.name: known_as}\n"
        "    columns: [id]\n"
        "  - label: {zh: 失效, en: Failures}\n    type: complaint\n    match: {customer.name: known_as}\n"
        "    tally: {by: {part: [product.part_number]}, columns: [{count: {}, label: {zh: 件数, en: Complaints}}]}\n"
        "    chart: {kind: bar, value: 1}\n", encoding="utf-8")
    site = tmp_path / "site"
    r = qms("publish", str(site), root=sample, env=NOW)
    assert r.code == 0 and "failures-of" not in r.err, r.text
    folder = site / "zh" / "reports" / "failures-of"
    charts = sorted(p.name for p in folder.glob("*.svg"))
    assert "CUS-0001~chart-2.svg" in charts and all("~chart" in c for c in charts), charts
    page = parse(folder / "CUS-0001.html")
    assert page.csp and (folder / "CUS-0001.html").read_text(encoding="utf-8").count('src="CUS-0001~chart-2.svg"') == 1


def test_a_customer_changed_alone_reads_no_complaint_whole(qms, sample, tmp_path, monkeypatch):
    """One customer changed (an alias added): its page and its history are made again from
    the records kept in part, and whether its history can be made at all is tried on no
    record (its page links to it): no complaint, return or service is read whole."""
    later = {"QMS_NOW": "2026-12-08T10:00"}
    site = tmp_path / "site"
    assert qms("publish", str(site), root=sample, env=later).code == 0
    r = qms("customer", "link", "CUS-0005", "上汽大众（仪征工厂）", who=SALES, root=sample, env=later)
    assert r.code == 0, r.text
    whole = _read_whole(monkeypatch)
    r = qms("--json", "publish", str(site), root=sample, env=later)
    assert r.code == 0, r.text
    assert "CUS-0005" in json.loads(r.out)["remade"]
    assert not {"complaint", "return", "service", "compensation"} & set(whole), whole
    assert "../reports/customer/CUS-0005.html" in parse(site / "zh" / "customer" / "CUS-0005.html").links
    assert qms("publish", str(tmp_path / "fresh"), root=sample, env=later).code == 0
    assert _files(tmp_path / "fresh") == _files(site)
