"""What `qms validate` keeps between runs (.qms/cache/, qms_cli/store/cache.py) must never
speak for a record that changed: not its content, not a record it reads, not qms.yaml,
not an attached file. Every test compares a warm run with what a run from scratch
(`--no-cache`) finds, and checks how many records were read afresh (`read` in --json)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, git
from test_validate import VALID, put

OLD_NS = 1_600_000_000 * 10**9  # 2020: long before any run, so a file's stat is trusted


def age(root: Path) -> None:
    """Make every record and attached file look untouched for years (as in a real store)."""
    for folder in ("records", "files"):
        for p in (root / folder).rglob("*"):
            if p.is_file():
                os.utime(p, ns=(OLD_NS, OLD_NS))


def check(qms, *args: str, **kw) -> dict:
    r = qms("--json", "validate", *args, **kw)
    assert r.code in (0, 1), r.text
    return json.loads(r.out)


def same_as_from_scratch(qms, warm: dict, **kw) -> None:
    cold = check(qms, "--no-cache", **kw)
    assert warm["findings"] == cold["findings"]
    assert cold["read"] == cold["records"]


@pytest.fixture
def sample(tmp_path) -> Path:
    """A copy of the sample store (documents, copies, complaints), committed."""
    root = tmp_path / "sample"
    root.mkdir()
    for name in ("records", "files"):
        shutil.copytree(REPO / name, root / name)
    shutil.copy(REPO / "qms.yaml", root / "qms.yaml")
    (root / ".gitignore").write_text(".qms/\n", encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-q", "-m", "sample")
    age(root)
    return root


def test_a_second_run_reads_nothing_and_finds_the_same(qms, sample):
    r1 = qms("--json", "validate", root=sample)
    r2 = qms("--json", "validate", root=sample)
    one, two = json.loads(r1.out), json.loads(r2.out)
    assert one["records"] == two["records"] > 100
    assert one["read"] == one["records"] and two["read"] == 0
    assert one["findings"] == two["findings"] == []
    assert (sample / ".qms" / "cache" / "validate.json").is_file()
    assert git(sample, "status", "--porcelain") == ""  # the cache is git-ignored


def test_an_edited_record_is_read_again_even_with_its_old_size_and_time(qms, store):
    path = put(store, "CMP-2026-0001.yaml", VALID.format(id="CMP-2026-0001"))
    put(store, "CMP-2026-0002.yaml", VALID.format(id="CMP-2026-0002"))
    age(store)
    assert check(qms)["findings"] == []
    # same size, same modification time: only the change time (and the content) differ
    text = path.read_text("utf-8")
    path.write_text(text.replace("class: general", "class: generel"), encoding="utf-8")
    os.utime(path, ns=(OLD_NS, OLD_NS))
    warm = check(qms)
    assert warm["read"] == 1
    assert [f["field"] for f in warm["findings"]] == ["class"]
    same_as_from_scratch(qms, warm)


def test_a_record_changed_within_the_same_second_is_read_again(qms, store):
    path = put(store, "CMP-2026-0001.yaml", VALID.format(id="CMP-2026-0001"))
    assert check(qms)["findings"] == []
    path.write_text(path.read_text("utf-8").replace("class: general", "class: generel"), encoding="utf-8")
    warm = check(qms)
    assert [f["field"] for f in warm["findings"]] == ["class"]


def test_a_record_is_checked_again_when_a_record_it_reads_changes(qms, sample):
    """A distribution's state may require its document's state (here through qms.yaml):
    the copy did not change, its document did."""
    config = sample / "qms.yaml"
    text = config.read_text("utf-8")
    assert "\ntypes:\n" in text  # the sample store's own (a named check on revisions)
    config.write_text(text.replace(
        "\ntypes:\n", "\ntypes:\n  distribution:\n    requires:\n      issued:\n"
        "        - {field: document.state, in: [active, draft, in_review, reviewed, approved]}\n", 1),
        encoding="utf-8",
    )
    assert check(qms, root=sample)["findings"] == []
    doc = sample / "records" / "document" / "LX-CX-2024-001.yaml"
    text = doc.read_text("utf-8")
    assert "state: active" in text
    doc.write_text(text.replace("state: active", "state: obsolete", 1), encoding="utf-8")
    os.utime(doc, ns=(OLD_NS, OLD_NS))
    warm = check(qms, root=sample)
    copies = {f["source"] for f in warm["findings"] if "distribution" in f["source"] and f["field"] == "document.state"}
    assert copies, warm
    # the document, and the copies that read it: not the other records
    assert len(copies) < warm["read"] < warm["records"] // 2
    same_as_from_scratch(qms, warm, root=sample)


def test_a_changed_qms_yaml_checks_everything_again(qms, store):
    put(store, "CMP-2026-0001.yaml", VALID.format(id="CMP-2026-0001"))
    age(store)
    assert check(qms)["findings"] == []
    config = store / "qms.yaml"
    config.write_text(
        config.read_text("utf-8")
        + "types:\n  complaint:\n    fields:\n      sales_order: {type: text}\n"
        + "    requires:\n      received: [sales_order]\n",
        encoding="utf-8",
    )
    warm = check(qms)
    assert warm["read"] == 1
    assert [f["field"] for f in warm["findings"]] == ["sales_order"]


def test_a_deleted_record_that_others_refer_to_is_reported(qms, sample):
    assert check(qms, root=sample)["findings"] == []
    (sample / "records" / "document" / "LX-CX-2024-001.yaml").unlink()
    warm = check(qms, root=sample)
    assert any("refers to document 'LX-CX-2024-001'" in f["message"] for f in warm["findings"])
    same_as_from_scratch(qms, warm, root=sample)


def test_an_attached_file_changed_after_approval_is_found_on_a_warm_run(qms, sample):
    assert check(qms, root=sample)["findings"] == []
    pinned = [p for p in (sample / "files").rglob("*") if p.is_file()]
    assert pinned
    found = []
    for p in pinned:  # some attached file is pinned by an approved record
        before = p.read_bytes()
        p.write_bytes(before + b"\n")
        os.utime(p, ns=(OLD_NS, OLD_NS))
        found = [f for f in check(qms, root=sample)["findings"] if "changed after" in f["message"]]
        if found:
            break
        p.write_bytes(before)
    assert found
    same_as_from_scratch(qms, check(qms, root=sample), root=sample)


def test_a_damaged_cache_is_no_cache(qms, store):
    put(store, "CMP-2026-0001.yaml", VALID.format(id="CMP-2026-0001").replace("general", "huge"))
    age(store)
    first = check(qms)
    cache = store / ".qms" / "cache" / "validate.json"
    for damage in (b"{not json", b"[]", b'{"format": 2, "started_ns": "x"}', cache.read_bytes()[:100]):
        cache.write_bytes(damage)
        again = check(qms)
        assert again["findings"] == first["findings"] and again["read"] == 1


@pytest.mark.parametrize("damage", [
    lambda f: f.__setitem__(3, "catastrophic"),  # a severity qms does not have
    lambda f: f.__setitem__(2, "7"),  # a line that is not a number
    lambda f: f.pop(),  # a finding cut short
])
def test_a_hand_edited_finding_in_the_cache_is_checked_afresh(qms, store, damage):
    put(store, "CMP-2026-0001.yaml", VALID.format(id="CMP-2026-0001").replace("general", "huge"))
    age(store)
    first = check(qms)
    cache = store / ".qms" / "cache" / "validate.json"
    doc = json.loads(cache.read_text("utf-8"))
    entry = next(e for e in doc["found"].values() if e.get("findings"))
    damage(entry["findings"][0])
    cache.write_text(json.dumps(doc), "utf-8")
    again = check(qms)
    assert again["findings"] == first["findings"] and again["read"] == 1


def test_a_cache_committed_to_the_store_is_not_believed(qms, store):
    """CI validates a fresh clone: a cache that came with the clone could claim a broken
    record is clean. qms ignores a cache git tracks."""
    path = put(store, "CMP-2026-0001.yaml", VALID.format(id="CMP-2026-0001"))
    age(store)
    assert check(qms)["findings"] == []  # the cache now says: this blob is clean
    cache = store / ".qms" / "cache" / "validate.json"
    doc = json.loads(cache.read_text("utf-8"))
    broken = path.read_text("utf-8").replace("class: general", "class: huge")
    path.write_text(broken, encoding="utf-8")
    blob = subprocess.run(["git", "hash-object", str(path)], capture_output=True, text=True).stdout.strip()
    rel = "records/complaint/CMP-2026-0001.yaml"
    st = path.stat()
    i = doc["records"]["rel"].index(rel)
    doc["records"]["stat"][i] = f"{st.st_size} {st.st_mtime_ns} {st.st_ctime_ns} {st.st_ino}"
    doc["records"]["blob"][i] = blob  # forged: "clean"
    doc["started_ns"] = st.st_mtime_ns + 10**10
    cache.write_text(json.dumps(doc), encoding="utf-8")
    git(store, "add", "-f", ".qms/cache/validate.json", "records")
    git(store, "commit", "-q", "-m", "a cache slipped in")
    warm = check(qms)
    assert [f["field"] for f in warm["findings"]] == ["class"]


def test_the_parallel_reader_finds_what_the_serial_one_does(qms, sample):
    # break a few records in different ways, then compare one process with several
    (sample / "records" / "complaint" / "CMP-2026-0001.yaml").write_text("id: [", encoding="utf-8")
    p = sample / "records" / "complaint" / "CMP-2026-0002.yaml"
    p.write_text(p.read_text("utf-8").replace("class:", "klass:"), encoding="utf-8")
    serial = check(qms, "--no-cache", root=sample, env={"QMS_JOBS": "1"})
    parallel = check(qms, "--no-cache", root=sample, env={"QMS_JOBS": "3"})
    assert serial["findings"] == parallel["findings"]
    assert len(serial["findings"]) >= 2


def test_validate_some_records_keeps_what_it_knew_of_the_others(qms, sample):
    assert check(qms, root=sample)["read"] > 100
    one = check(qms, "CMP-2026-0001", root=sample)
    assert one["read"] == 0
    assert check(qms, root=sample)["read"] == 0


def test_a_file_written_just_before_a_run_is_hashed_again_next_time(tmp_path):
    """Racy git: on a file system with coarse times, a file changed twice within one tick
    keeps its size and times. A file whose modification time is within two seconds of
    the run that hashed it is therefore never trusted by its stat."""
    from types import SimpleNamespace

    from qms_cli.store.cache import Cache, blob_id

    git(tmp_path, "init", "-q")
    path = tmp_path / "records" / "complaint" / "CMP-2026-0001.yaml"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"id: CMP-2026-0001\nclass: general\n")
    rel = "records/complaint/CMP-2026-0001.yaml"
    first = Cache(tmp_path, "fp", read=False)
    first.started_ns = path.stat().st_mtime_ns + 1  # hashed in the same tick it was written
    assert first.blob(rel, str(path)) == blob_id(path.read_bytes())
    first.save(complete=True)
    stat, blob, _facts = first.records[rel]
    size, mtime, ctime, ino = map(int, stat.split())
    path.write_bytes(b"id: CMP-2026-0001\nclass: generel\n")  # same size
    same_stat = SimpleNamespace(st_size=size, st_mtime_ns=mtime, st_ctime_ns=ctime, st_ino=ino)
    second = Cache(tmp_path, "fp")
    assert second.blob(rel, str(path), same_stat) == blob_id(b"id: CMP-2026-0001\nclass: generel\n")
    # the same stat long after the run that hashed it is trusted, as git trusts its index
    third = Cache(tmp_path, "fp")
    third.written_ns = mtime + 10 * 10**9
    assert third.blob(rel, str(path), same_stat) == blob


@pytest.mark.parametrize("args", [
    ["complaint", "list", "--overdue"],
    ["complaint", "list", "--json"],
    ["document", "list", "--overdue"],
    ["distribution", "list", "--where", "recall.required=true"],
    ["report", "complaints", "--format", "csv"],
    ["report", "recall"],
])
def test_lists_and_reports_on_several_processes_match_one(qms_subprocess, sample, args):
    """Lists and reports read records on several processes on large stores (QMS_JOBS
    forces it here); a broken record is named either way, and the output is the same."""
    (sample / "records" / "complaint" / "CMP-2026-0003.yaml").write_text("id: [", encoding="utf-8")
    env = {"QMS_NOW": "2026-11-23T10:00"}
    one = qms_subprocess(*args, root=sample, env={**env, "QMS_JOBS": "1"})
    three = qms_subprocess(*args, root=sample, env={**env, "QMS_JOBS": "3"})
    assert one.code == three.code and one.out == three.out and one.err == three.err, (one.text, three.text)
    assert one.out.strip()
    if args[0] == "complaint":
        assert "CMP-2026-0003.yaml" in one.err


def test_an_attached_file_removed_then_brought_back_is_seen_on_warm_runs(qms, sample):
    """The store-wide checks are kept while the attached files they looked at are the
    same kind of thing with the same content: a file gone, a link in its place, a file
    back, each is seen on the next warm run."""
    assert check(qms, root=sample)["findings"] == []
    attached = sample / "files" / "complaint" / "CMP-2026-0001-客户邮件.md"
    content = attached.read_bytes()
    attached.unlink()
    warm = check(qms, root=sample)
    assert warm["read"] == 0
    assert any("CMP-2026-0001-客户邮件.md' is not in the store" in f["message"] for f in warm["findings"]), warm
    same_as_from_scratch(qms, warm, root=sample)
    attached.symlink_to(sample / "qms.yaml")
    warm = check(qms, root=sample)
    assert any("symbolic link" in f["message"] and f["source"].endswith("CMP-2026-0001.yaml")
               for f in warm["findings"]), warm
    same_as_from_scratch(qms, warm, root=sample)
    attached.unlink()
    attached.write_bytes(content)  # a new attachment where there was none
    assert check(qms, root=sample)["findings"] == []


def test_a_reference_edited_to_a_missing_record_is_found_on_a_warm_run(qms, sample):
    """A record's facts (what it refers to, attaches, pins) changed: the store-wide checks
    run again, with the other records' facts from facts.json."""
    assert check(qms, root=sample)["findings"] == []
    path = next((sample / "records" / "distribution").glob("*.yaml"))
    text = path.read_text("utf-8")
    assert "document: LX-CX-2024-001" in text
    path.write_text(text.replace("document: LX-CX-2024-001", "document: LX-CX-2024-999", 1), encoding="utf-8")
    warm = check(qms, root=sample)
    assert warm["read"] == 1
    assert any("refers to document 'LX-CX-2024-999'" in f["message"] for f in warm["findings"]), warm
    same_as_from_scratch(qms, warm, root=sample)


def test_lost_facts_cost_only_time(qms, sample):
    """facts.json deleted (or damaged): the records whose facts the store-wide checks need
    are read again, and the findings are the same."""
    assert check(qms, root=sample)["findings"] == []
    facts = sample / ".qms" / "cache" / "facts.json"
    (sample / "records" / "document" / "LX-CX-2024-001.yaml").unlink()
    for damage in (None, b"{not json", b'{"format": 3, "facts": []}'):
        facts.unlink(missing_ok=True)
        if damage is not None:
            facts.write_bytes(damage)
        warm = check(qms, root=sample)
        assert any("refers to document 'LX-CX-2024-001'" in f["message"] for f in warm["findings"]), warm
        same_as_from_scratch(qms, warm, root=sample)
    check(qms, root=sample)
    assert check(qms, root=sample)["read"] == 0  # and kept again


def test_qms_now_set_back_checks_times_again(qms, store):
    """A time ahead of now is never kept, as the clock only runs forward; QMS_NOW can go
    back, so what was found is kept for one QMS_NOW only."""
    put(store, "CMP-2026-0001.yaml", VALID.format(id="CMP-2026-0001"))
    age(store)
    assert check(qms)["findings"] == []
    early = {"QMS_NOW": "2026-03-01T10:00"}  # before the complaint was received
    warm = check(qms, env=early)
    assert warm["read"] == 1
    assert any("received_at" in f["field"] for f in warm["findings"]), warm
    assert warm["findings"] == check(qms, "--no-cache", env=early)["findings"]
    assert check(qms)["findings"] == []
