"""`qms sync`: several clones of one store on a git server (a bare repository, and a real
`git daemon` on 127.0.0.1), each creating and moving records offline, brought together
with no duplicate ID, no lost change and every reference intact; after every scenario the
server's store passes `qms validate` and `qms audit` and holds every record any clone made."""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone
import subprocess
from pathlib import Path

import pytest

from conftest import CONFIG, QE, QE2, QM, RECEIVED, git, make_store, sets

ACK = ["contact.at=2026-03-06T10:40", "contact.by=李雷", "contact.summary=已电话联系孙工，确认渗油 12 件",
       "interim_countermeasure=客户处在库品 100% 气密检测"]


SYNC_CONFIG = CONFIG + """\
  warehouse:
    label: {zh: 仓库, en: Warehouse}
    holders:
      - {name: 李雷, email: li.lei@example.com}
"""


@pytest.fixture
def server(tmp_path) -> Path:
    """A bare repository holding a store made by hand as `make_store` makes it."""
    seed = make_store(tmp_path / "seed", SYNC_CONFIG)
    bare = tmp_path / "server.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(bare))
    return bare


def clone(url: str, where: Path, who=QE) -> Path:
    subprocess.run(["git", "clone", "-q", url, str(where)], check=True, capture_output=True)
    git(where, "config", "user.name", who[0])
    git(where, "config", "user.email", who[1])
    git(where, "config", "commit.gpgsign", "false")
    return where


@pytest.fixture
def clones(server, tmp_path):
    return [clone(str(server), tmp_path / f"site{n}") for n in (1, 2, 3)]


def new(qms, root, *assignments, who=QE) -> str:
    keys = {a.partition("=")[0] for a in assignments}
    fields = [a for a in RECEIVED if a.partition("=")[0] not in keys] + list(assignments)
    r = qms("complaint", "new", *sets(*fields), who=who, root=root)
    assert r.code == 0, r.text
    return r.out.strip()


def ids(root: Path, type_name: str = "complaint") -> list[str]:
    return sorted(p.stem for p in (root / "records" / type_name).rglob("*.yaml"))


def check_server(qms, server: Path, tmp_path: Path, name: str = "check") -> Path:
    """A fresh clone of the server: it validates, audits clean, and holds no ID twice."""
    where = clone(str(server), tmp_path / name)
    r = qms("validate", "--no-cache", root=where)
    assert r.code == 0, r.text
    r = qms("audit", root=where)
    assert r.code == 0, r.text
    stems = [p.stem for p in (where / "records").rglob("*.yaml")]
    assert len(stems) == len(set(stems))
    return where


def test_offline_creations_on_three_clones_are_renumbered_and_all_kept(qms, clones, server, tmp_path):
    a, b, c = clones
    made = {}
    for site in clones:
        made[site] = [new(qms, site, f"description=来自 {site.name} 的客诉 {n}") for n in range(2)]
    assert made[a] == made[b] == made[c] == ["CMP-2026-0001", "CMP-2026-0002"]  # all offline: the same numbers
    r = qms("sync", root=a)
    assert r.code == 0, r.text
    assert "renumbered" not in r.out
    r = qms("sync", root=b)
    assert r.code == 0, r.text
    assert "renumbered CMP-2026-0001 → CMP-2026-0003" in r.out and "renumbered CMP-2026-0002 → CMP-2026-0004" in r.out
    r = qms("sync", root=c)
    assert r.code == 0, r.text
    assert "CMP-2026-0001 → CMP-2026-0005" in r.out and "CMP-2026-0002 → CMP-2026-0006" in r.out
    for site in clones:
        r = qms("sync", root=site)
        assert r.code == 0, r.text
    for site in clones:
        assert ids(site) == [f"CMP-2026-{n:04d}" for n in range(1, 7)]
    where = check_server(qms, server, tmp_path)
    texts = {p.stem: p.read_text(encoding="utf-8") for p in (where / "records" / "complaint").rglob("*.yaml")}
    for n, site in ((5, "site3"), (6, "site3"), (3, "site2"), (1, "site1")):
        rid = f"CMP-2026-{n:04d}"
        assert f"id: {rid}" in texts[rid] and f"来自 {site}" in texts[rid]
    log = git(where, "log", "--format=%B", "-1", "--", "records/complaint/CMP-2026-0005.yaml")
    assert "QMS-Record: complaint/CMP-2026-0005" in log and "QMS-Renumbered: CMP-2026-0001 -> CMP-2026-0005" in log
    assert "QMS-Synced: " in log


def test_references_and_later_moves_follow_the_renumbered_record(qms, clones, server, tmp_path):
    a, b = clones[:2]
    new(qms, a, "description=A 的客诉")
    qms("sync", root=a)
    cid = new(qms, b, "description=B 的客诉")
    assert cid == "CMP-2026-0001"
    r = qms("complaint", "move", cid, "acknowledged", *sets(*ACK), who=QE, root=b)
    assert r.code == 0, r.text
    r = qms("return", "new", *sets("origin=complaint", "complaint=CMP-2026-0001", "customer.name=上汽大众汽车有限公司",
                                   "received_at=2026-03-07T09:00", "reason=渗油退回",
                                   "received_by=李雷", "items={part_number: 5QD 611 701 B, quantity: 12}"),
            who=QE, root=b)
    assert r.code == 0, r.text
    rid = r.out.strip()
    r = qms("sync", root=b)
    assert r.code == 0, r.text
    assert "renumbered CMP-2026-0001 → CMP-2026-0002" in r.out
    moved = (b / "records" / "complaint").rglob("CMP-2026-0002.yaml")
    text = next(moved).read_text(encoding="utf-8")
    assert "state: acknowledged" in text and "id: CMP-2026-0002" in text
    ret = next((b / "records" / "return").rglob(f"{rid}.yaml")).read_text(encoding="utf-8")
    assert "complaint: CMP-2026-0002" in ret
    assert f"- {rid}" in text  # the complaint lists its return (links both ways)
    check_server(qms, server, tmp_path)


def test_nothing_to_do_and_fast_forward(qms, clones):
    a, b = clones[:2]
    r = qms("sync", root=a)
    assert r.code == 0 and "already in step" in r.out, r.text
    new(qms, a)
    assert qms("sync", root=a).code == 0
    r = qms("sync", root=b)
    assert r.code == 0, r.text
    assert "1 commits fetched, 0 replayed" in r.out
    assert ids(b) == ["CMP-2026-0001"]


def set_(qms, root, cid, *assignments, who=QE):
    r = qms("complaint", "set", cid, *assignments, who=who, root=root)
    assert r.code == 0, r.text


def test_the_same_record_edited_on_two_clones_merges_field_by_field(qms, clones, server, tmp_path):
    a, b = clones[:2]
    cid = new(qms, a)
    qms("sync", root=a)
    qms("sync", root=b)
    set_(qms, a, cid, "product.part_number=5QD 611 701 C")
    set_(qms, b, cid, "channel=email")
    set_(qms, b, cid, "failure_mode=渗漏")
    assert qms("sync", root=a).code == 0
    r = qms("sync", root=b)
    assert r.code == 0, r.text
    assert f"merged field by field (both sides changed them): {cid}" in r.out
    text = next(b.rglob(f"{cid}.yaml")).read_text(encoding="utf-8")
    assert "part_number: 5QD 611 701 C" in text and "channel: email" in text and "failure_mode: 渗漏" in text
    check_server(qms, server, tmp_path)


def shared(qms, a, b) -> str:
    """A complaint made on clone a and synced to b through the server."""
    cid = new(qms, a)
    assert qms("sync", root=a).code == 0
    assert qms("sync", root=b).code == 0
    return cid


def changed_both_ways(qms, a, b) -> str:
    """A complaint both clones hold, whose description each then changes its own way."""
    cid = shared(qms, a, b)
    set_(qms, a, cid, "description=A：接头渗油 12 件")
    set_(qms, b, cid, "description=B：接头渗油 15 件")
    return cid


def test_the_same_field_changed_both_ways_stops_until_resolved(qms, clones, server, tmp_path):
    a, b = clones[:2]
    cid = changed_both_ways(qms, a, b)
    new(qms, b, "description=B 的另一个客诉")
    assert qms("sync", root=a).code == 0
    before = git(b, "rev-parse", "HEAD")
    r = qms("sync", root=b)
    assert r.code == 1, r.text
    assert f"{cid}: changed here by" in r.err and "description: ours B：接头渗油 15 件 | theirs A：接头渗油 12 件" in r.err
    assert git(b, "rev-parse", "HEAD") == before  # the branch as it was
    assert git(server, "rev-parse", "main") == git(a, "rev-parse", "HEAD")  # nothing pushed
    path = next(b.rglob(f"{cid}.yaml"))
    assert "<<<<<<< ours (this clone)" in path.read_text(encoding="utf-8")  # both versions, for a hand edit
    r = qms("complaint", "set", cid, "channel=email", who=QE, root=b)
    assert r.code == 2, r.text  # the record holds both versions until the conflict is settled
    r = qms("sync", root=b)
    assert r.code == 1 and "a sync stopped on conflicts" in r.err, r.text
    r = qms("sync", "--resolve", "CMP-2026-0009", "--take", "ours", root=b)
    assert r.code == 2 and "not one of the conflicts" in r.err
    r = qms("sync", "--resolve", cid, "--take", "ours", root=b)
    assert r.code == 0, r.text
    assert ids(b) == ["CMP-2026-0001", "CMP-2026-0002"]
    text = path.read_text(encoding="utf-8")
    assert "B：接头渗油 15 件" in text and "<<<<<<<" not in text
    check_server(qms, server, tmp_path)


def test_a_hand_edit_settles_a_conflict(qms, clones, server, tmp_path):
    a, b = clones[:2]
    cid = changed_both_ways(qms, a, b)
    assert qms("sync", root=a).code == 0
    assert qms("sync", root=b).code == 1
    path = next(b.rglob(f"{cid}.yaml"))
    r = qms("sync", "--continue", root=b)
    assert r.code == 1 and "still holds conflict markers" in r.err, r.text
    text = path.read_text(encoding="utf-8")
    merged = re.sub(r"<<<<<<< ours \(this clone\)\n.*?>>>>>>> theirs\n", "description: 接头渗油 15 件（A、B 核对后）\n",
                    text, flags=re.S)
    path.write_text(merged, encoding="utf-8")
    r = qms("sync", "--continue", root=b)
    assert r.code == 0, r.text
    assert "接头渗油 15 件（A、B 核对后）" in path.read_text(encoding="utf-8")
    check_server(qms, server, tmp_path)


def test_both_clones_moving_one_record_take_theirs_keeps_the_remote_act(qms, clones, server, tmp_path):
    a, b = clones[:2]
    cid = new(qms, a)
    qms("sync", root=a)
    qms("sync", root=b)
    assert qms("complaint", "move", cid, "acknowledged", *sets(*ACK), who=QE, root=a).code == 0
    other = [x if not x.startswith("contact.summary") else "contact.summary=客户确认 15 件" for x in ACK]
    assert qms("complaint", "move", cid, "acknowledged", *sets(*other), who=QE2, root=b).code == 0
    assert qms("sync", root=a).code == 0
    r = qms("sync", root=b)
    assert r.code == 1 and "signatures: ours" in r.err, r.text
    # ours over theirs would remove the remote's signed act: audit refuses it, nothing is pushed
    r = qms("sync", "--resolve", cid, "--take", "ours", root=b)
    assert r.code == 1 and "would not pass qms audit" in r.err, r.text
    assert git(server, "rev-parse", "main") == git(a, "rev-parse", "HEAD")
    r = qms("sync", "--abort", root=b)
    assert r.code == 0, r.text
    assert qms("sync", root=b).code == 1
    r = qms("sync", "--resolve", cid, "--take", "theirs", root=b)
    assert r.code == 0, r.text
    text = next(b.rglob(f"{cid}.yaml")).read_text(encoding="utf-8")
    assert "已电话联系孙工" in text and "客户确认 15 件" not in text
    check_server(qms, server, tmp_path)


def test_site_codes_make_collisions_between_plants_impossible(qms, server, tmp_path):
    seed = clone(str(server), tmp_path / "admin")
    text = (seed / "qms.yaml").read_text(encoding="utf-8")
    (seed / "qms.yaml").write_text(text.replace("site: HZ\n", "site: HZ\nsite_in_numbers: true\n"), encoding="utf-8")
    git(seed, "commit", "-qam", "numbers carry the site code")
    git(seed, "push", "-q")
    plants = []
    for code in ("SH", "HZ"):
        r = qms("init", str(tmp_path / f"plant-{code}"), "--clone", str(server), "--site", code, root=False)
        assert r.code == 0, r.text
        assert f"this clone's site code is {code}" in r.out
        where = tmp_path / f"plant-{code}"
        git(where, "config", "user.name", QE[0])
        git(where, "config", "user.email", QE[1])
        plants.append(where)
    sh, hz = plants
    assert new(qms, sh) == "CMP-SH-2026-0001" and new(qms, hz) == "CMP-HZ-2026-0001"
    assert new(qms, hz) == "CMP-HZ-2026-0002"
    for where in (sh, hz, sh):
        r = qms("sync", root=where)
        assert r.code == 0 and "renumbered" not in r.out, r.text
    assert ids(sh) == ids(hz) == ["CMP-HZ-2026-0001", "CMP-HZ-2026-0002", "CMP-SH-2026-0001"]
    check_server(qms, server, tmp_path)


def test_init_clone_refuses_what_is_not_a_store(qms, tmp_path):
    plain = tmp_path / "plain"
    git(tmp_path, "init", "-q", str(plain))
    (plain / "README").write_text("x", encoding="utf-8")
    git(plain, "add", "README")
    git(plain, "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-qm", "x")
    r = qms("init", str(tmp_path / "c"), "--clone", str(plain), root=False)
    assert r.code == 2 and "not a qms store" in r.err, r.text
    assert not (tmp_path / "c").exists()
    r = qms("init", str(tmp_path / "d"), "--clone", "ext::sh -c touch% " + str(tmp_path / "pwned"), root=False)
    assert r.code == 2 and not (tmp_path / "pwned").exists()
    r = qms("init", str(tmp_path / "e"), "--clone", str(tmp_path / "nothing-there"), root=False)
    assert r.code == 2 and "could not clone" in r.err


def test_sync_refuses_what_it_cannot_do(qms, clones, tmp_path):
    a = clones[0]
    alone = make_store(tmp_path / "alone", SYNC_CONFIG)
    r = qms("sync", root=alone)
    assert r.code == 2 and "no remote" in r.err, r.text
    new(qms, a, "description=A 的客诉")
    new(qms, clones[1])
    assert qms("sync", root=clones[1]).code == 0
    (a / "qms.yaml").write_text((a / "qms.yaml").read_text(encoding="utf-8") + "\n", encoding="utf-8")
    r = qms("sync", root=a)  # a replay is needed: the working files must be as committed
    assert r.code == 1 and "uncommitted changes in qms.yaml" in r.err, r.text
    git(a, "checkout", "qms.yaml")
    git(a, "checkout", "-q", "--detach")
    r = qms("sync", root=a)
    assert r.code == 2 and "not on a branch" in r.err, r.text
    git(a, "checkout", "-q", "main")
    r = qms("sync", "--continue", root=a)
    assert r.code == 2 and "no sync is waiting" in r.err
    r = qms("sync", "--take", "ours", root=a)
    assert r.code == 2
    r = qms("sync", "--remote", "nowhere", root=a)
    assert r.code == 2 and "not a remote" in r.err
    assert qms("sync", root=a).code == 0


def test_a_store_that_requires_signed_commits_is_replayed_signed(qms, tmp_path):
    from test_audit import _ssh_signing

    seed = make_store(tmp_path / "seed", SYNC_CONFIG + "require_signed_commits: true\n")
    bare = tmp_path / "signed.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(bare))
    a, b = clone(str(bare), tmp_path / "a"), clone(str(bare), tmp_path / "b")
    for n, where in enumerate((a, b)):
        (tmp_path / f"k{n}").mkdir()
        _ssh_signing(where, tmp_path / f"k{n}")
    new(qms, a)
    assert qms("sync", root=a).code == 0
    new(qms, b, "description=B 的客诉")
    r = qms("sync", root=b)
    assert r.code == 0 and "renumbered CMP-2026-0001 → CMP-2026-0002" in r.out, r.text
    assert git(b, "log", "-1", "--format=%G?").strip() == "G"  # signed again by the one who synced
    # someone else's commit in this clone cannot be signed again by whoever syncs
    new(qms, b, "description=韩梅梅登记", who=QE2)
    new(qms, a, "description=A 的第二个客诉")
    assert qms("sync", root=a).code == 0
    head = git(b, "rev-parse", "HEAD")
    r = qms("sync", root=b)
    assert r.code == 1 and f"committed by {QE2[1]}" in r.err, r.text
    assert git(b, "rev-parse", "HEAD") == head


def test_audit_still_reports_what_a_person_did_by_hand(qms, clones, server, tmp_path):
    a, b = clones[:2]
    cid = shared(qms, a, b)
    # a move on each side, the second brought over with git's own rebase, not qms sync:
    # git re-dates the commit, so its signature no longer matches its commit time
    assert qms("complaint", "move", cid, "acknowledged", *sets(*ACK), who=QE, root=a).code == 0
    new(qms, b, "description=B 的客诉")
    assert qms("sync", root=a).code == 0
    git(b, "pull", "-q", "--rebase")
    where = clone(str(server), tmp_path / "look")
    git(b, "push", "-q")
    git(where, "pull", "-q")
    r = qms("audit", root=where)
    assert r.code == 0, r.text  # the creation carried no signature of a move: nothing to re-date
    # a record renumbered by hand is reported
    path = next(where.rglob("CMP-2026-0002.yaml"))
    new_path = path.with_name("CMP-2026-0009.yaml")
    git(where, "mv", str(path), str(new_path))
    new_path.write_text(new_path.read_text(encoding="utf-8").replace("CMP-2026-0002", "CMP-2026-0009"), encoding="utf-8")
    git(where, "commit", "-qam", "renumber by hand")
    r = qms("audit", root=where)
    assert r.code == 1 and "record renamed to" in r.out, r.text


def test_a_hand_rebase_of_a_signed_move_is_reported_and_qms_sync_is_not(qms, clones, server, tmp_path):
    a, b, c = clones
    cid = new(qms, a)
    assert qms("sync", root=a).code == 0
    for where in (b, c):
        assert qms("sync", root=where).code == 0
    other = new(qms, a, "description=A 的第二个客诉")
    assert qms("complaint", "move", cid, "acknowledged", *sets(*ACK), who=QE, root=b).code == 0
    assert qms("complaint", "move", cid, "acknowledged", *sets(*ACK), who=QE, root=c).code == 0
    assert qms("sync", root=a).code == 0
    # c by hand: git rebase re-dates the signed commit; b with qms sync keeps its time in a trailer
    hand = tmp_path / "hand"
    subprocess.run(["cp", "-a", str(c), str(hand)], check=True)
    later = (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()  # the rebase done later that day
    subprocess.run(["git", "pull", "-q", "--rebase"], cwd=hand, check=True, capture_output=True,
                   env=dict(os.environ, GIT_COMMITTER_DATE=later))
    r = qms("sync", root=b, env={"GIT_COMMITTER_DATE": later})
    assert r.code == 0, r.text
    assert "QMS-Synced: " in git(b, "log", "-1", "--format=%B")
    check_server(qms, server, tmp_path)
    git(hand, "push", "-q", "--force", "origin", "HEAD:refs/heads/hand")
    look = clone(str(server), tmp_path / "look2")
    git(look, "checkout", "-q", "hand")
    r = qms("audit", root=look)
    assert r.code == 1 and "is not the commit time" in r.out, r.text
    assert other == "CMP-2026-0002"


def test_an_empty_server_takes_the_first_push_and_an_unreachable_one_is_said(qms, tmp_path):
    seed = make_store(tmp_path / "seed", SYNC_CONFIG)
    empty = tmp_path / "empty.git"
    git(tmp_path, "init", "-q", "--bare", str(empty))
    git(seed, "remote", "add", "origin", str(empty))
    new(qms, seed)
    r = qms("sync", root=seed)
    assert r.code == 0, r.text
    assert git(empty, "rev-parse", "main") == git(seed, "rev-parse", "HEAD")
    git(seed, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    new(qms, seed)
    head = git(seed, "rev-parse", "HEAD")
    r = qms("sync", root=seed)
    assert r.code == 2 and "cannot fetch from origin" in r.err, r.text
    assert git(seed, "rev-parse", "HEAD") == head


def test_an_edit_of_a_record_the_server_cancelled_is_not_pushed(qms, clones, server, tmp_path):
    a, b = clones[:2]
    cid = shared(qms, a, b)
    r = qms("complaint", "move", cid, "cancelled", "--set", "cancel_reason=客户撤回", who=QM, root=a)
    assert r.code == 0, r.text
    assert qms("sync", root=a).code == 0
    set_(qms, b, cid, "channel=email")  # a different field: it merges, but a cancelled record is never edited
    head = git(b, "rev-parse", "HEAD")
    r = qms("sync", root=b)
    assert r.code == 1, r.text
    assert "would not pass qms audit" in r.err and "final state 'cancelled'" in r.err
    assert "--take theirs" in r.err and cid in r.err
    assert git(b, "rev-parse", "HEAD") == head and git(server, "rev-parse", "main") == git(a, "rev-parse", "HEAD")
    r = qms("sync", "--resolve", cid, "--take", "theirs", root=b)
    assert r.code == 0, r.text
    text = next(b.rglob(f"{cid}.yaml")).read_text(encoding="utf-8")
    assert "state: cancelled" in text and "channel: email" not in text
    check_server(qms, server, tmp_path)


def test_the_same_complaint_registered_by_two_people_is_kept_twice(qms, clones, server, tmp_path):
    """Byte-identical records made by two people are two acts: both stay (one renumbered),
    for a person to cancel the duplicate with its reason."""
    a, b = clones[:2]
    new(qms, a)
    assert qms("sync", root=a).code == 0
    new(qms, b, who=QE2)
    r = qms("sync", root=b)
    assert r.code == 0 and "renumbered CMP-2026-0001 → CMP-2026-0002" in r.out, r.text
    assert QE2[1] in git(b, "log", "-1", "--format=%ae")
    assert ids(b) == ["CMP-2026-0001", "CMP-2026-0002"]
    check_server(qms, server, tmp_path)


def test_a_hand_fix_made_against_an_older_server_version_is_not_pushed_over_a_newer_one(qms, clones, server,
                                                                                        tmp_path):
    a, b = clones[:2]
    cid = changed_both_ways(qms, a, b)
    assert qms("sync", root=a).code == 0
    assert qms("sync", root=b).code == 1
    path = next(b.rglob(f"{cid}.yaml"))
    path.write_text(re.sub(r"<<<<<<< ours \(this clone\)\n.*?>>>>>>> theirs\n", "description: 核对后 15 件\n",
                           path.read_text(encoding="utf-8"), flags=re.S), encoding="utf-8")
    set_(qms, a, cid, "channel=email")  # meanwhile the server's version moves on
    assert qms("sync", root=a).code == 0
    r = qms("sync", "--continue", root=b)
    assert r.code == 0, r.text  # the hand fix and the newer change are merged, neither lost
    text = path.read_text(encoding="utf-8")
    assert "核对后 15 件" in text and "channel: email" in text
    check_server(qms, server, tmp_path)


def test_two_commits_of_this_clone_on_the_conflicting_field_are_settled_by_one_hand_fix(qms, clones, server,
                                                                                        tmp_path):
    a, b = clones[:2]
    cid = changed_both_ways(qms, a, b)
    set_(qms, b, cid, "description=B：接头渗油 16 件")
    assert qms("sync", root=a).code == 0
    assert qms("sync", root=b).code == 1
    path = next(b.rglob(f"{cid}.yaml"))
    path.write_text(re.sub(r"<<<<<<< ours \(this clone\)\n.*?>>>>>>> theirs\n", "description: 核对后 16 件\n",
                           path.read_text(encoding="utf-8"), flags=re.S), encoding="utf-8")
    r = qms("sync", "--continue", root=b)
    assert r.code == 0, r.text
    assert "核对后 16 件" in path.read_text(encoding="utf-8")
    check_server(qms, server, tmp_path)


def test_uncommitted_edits_stop_a_fast_forward_and_are_kept(qms, clones):
    a, b = clones[:2]
    cid = shared(qms, a, b)
    set_(qms, a, cid, "channel=email")
    assert qms("sync", root=a).code == 0
    path = next(b.rglob(f"{cid}.yaml"))
    path.write_text(path.read_text(encoding="utf-8") + "# 手工备注\n", encoding="utf-8")
    for _ in range(2):
        r = qms("sync", root=b)
        assert r.code == 1 and "uncommitted changes" in r.err, r.text
        assert path.read_text(encoding="utf-8").endswith("# 手工备注\n")
    git(b, "checkout", "--", ".")
    assert qms("sync", root=b).code == 0 and "channel: email" in path.read_text(encoding="utf-8")


def test_a_renumbered_records_attachment_named_after_it_is_renamed_with_it(qms, clones, server, tmp_path):
    a, b = clones[:2]
    new(qms, a)
    assert qms("sync", root=a).code == 0
    cid = new(qms, b, "description=B 的客诉")
    letter = tmp_path / f"{cid}-letter.md"
    letter.write_text("# 客户来函\n接头渗油 12 件。\n", encoding="utf-8")
    r = qms("complaint", "attach", cid, "attachments", str(letter), who=QE, root=b)
    assert r.code == 0, r.text
    r = qms("sync", root=b)
    assert r.code == 0 and "renumbered CMP-2026-0001 → CMP-2026-0002" in r.out, r.text
    assert (b / "files" / "complaint" / "CMP-2026-0002" / "CMP-2026-0002-letter.md").is_file()
    check_server(qms, server, tmp_path)


def test_a_tag_of_the_same_name_on_the_server_does_not_block_sync(qms, clones):
    a, b = clones[:2]
    new(qms, a)
    git(a, "tag", "qms-anchor-20260306")
    git(a, "push", "-q", "origin", "qms-anchor-20260306")
    assert qms("sync", root=a).code == 0
    new(qms, b, "description=B 的客诉")
    git(b, "tag", "qms-anchor-20260306")
    r = qms("sync", root=b)
    assert r.code == 0, r.text


def test_a_branch_rewound_on_the_server_is_said_and_never_pushed_back(qms, clones, server):
    a, b = clones[:2]
    new(qms, a)
    assert qms("sync", root=a).code == 0
    assert qms("sync", root=b).code == 0
    before = git(server, "rev-parse", "main")
    git(server, "update-ref", "refs/heads/main", "main~1")  # a force-push back, on the server
    new(qms, b, "description=B 的客诉")
    r = qms("sync", root=b)
    assert r.code == 1 and "history was rewritten on the server" in r.err and before[:10] in r.err, r.text
    assert git(server, "rev-parse", "main") != before  # the dropped commit is not pushed back
    r = qms("sync", root=b)  # said again, not forgotten once fetched
    assert r.code == 1 and "history was rewritten on the server" in r.err, r.text
