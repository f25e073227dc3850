"""`qms sync` against a real `git daemon` on 127.0.0.1 (git:// URLs): three clones
creating offline and syncing in every order, two clones racing to push, a sync killed
mid-way and finished by the next one, anchors kept across syncs, and the history of a
renumbered record. After every scenario a fresh clone of the server validates, audits
clean, holds no ID twice and holds every record any clone made."""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import QE, QE2, REPO, git, make_store, sets
from test_sync import ACK, SYNC_CONFIG, check_server, clone, ids, new, set_

SYNC = [sys.executable, "-m", "qms_cli"]


# ----------------------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    def __init__(self, base: Path, port: int, proc: subprocess.Popen):
        self.base, self.port, self.proc = base, port, proc
        self.url = f"git://127.0.0.1:{port}/server.git"
        self.path = base / "server.git"


@pytest.fixture
def daemon(tmp_path):
    """A bare store served by `git daemon` (pushes allowed) on a free port of 127.0.0.1."""
    base = tmp_path / "srv"
    base.mkdir()
    seed = make_store(tmp_path / "seed", SYNC_CONFIG)
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(base / "server.git"))
    proc = None
    for _try in range(5):  # the port found free may be taken before the daemon binds it
        port = _free_port()
        proc = subprocess.Popen(["git", "daemon", "--reuseaddr", "--listen=127.0.0.1", f"--port={port}",
                                 f"--base-path={base}", "--export-all", "--enable=receive-pack", str(base)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        if proc.poll() is None:
            break
    assert proc is not None and proc.poll() is None, proc.stderr.read().decode() if proc else ""
    served = Daemon(base, port, proc)
    yield served
    os.killpg(proc.pid, signal.SIGTERM)  # the daemon and any connection it still serves
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    proc.stderr.close()


@pytest.fixture
def sites(daemon, tmp_path):
    return [clone(daemon.url, tmp_path / f"site{n}") for n in (1, 2, 3)]


def descriptions(root: Path) -> dict[str, str]:
    """description -> ID of every complaint in `root`."""
    out = {}
    for p in (root / "records" / "complaint").rglob("*.yaml"):
        text = yaml.safe_load(p.read_text(encoding="utf-8"))
        assert text["description"] not in out, f"{text['description']} twice: {out[text['description']]}, {p.stem}"
        out[text["description"]] = p.stem
    return out


def returns(root: Path) -> dict[str, dict]:
    return {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in (root / "records" / "return").rglob("*.yaml")}


def new_return(qms, root: Path, cid: str, reason: str) -> str:
    r = qms("return", "new", *sets("origin=complaint", f"complaint={cid}", "customer.name=上汽大众汽车有限公司",
                                   "received_at=2026-03-07T09:00", f"reason={reason}", "received_by=李雷",
                                   "items={part_number: 5QD 611 701 B, quantity: 12}"), who=QE, root=root)
    assert r.code == 0, r.text
    return r.out.strip()


def synced(qms, root: Path) -> str:
    r = qms("sync", root=root)
    assert r.code == 0, r.text
    return r.out


def env_for_child() -> dict:
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))


def start_sync(root: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([*SYNC, "-C", str(root), *args, "sync"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env_for_child(), start_new_session=True)


def clean_tree(root: Path) -> None:
    assert git(root, "status", "--porcelain", "--untracked-files=no") == ""


def server_holds(qms, daemon: Daemon, tmp_path: Path, made: set[str], name: str) -> Path:
    """check_server on a fresh clone over git://, and every description in `made` there once."""
    where = check_server(qms, daemon.url, tmp_path, name)
    have = descriptions(where)
    assert made <= set(have), sorted(made - set(have))
    return where


# ------------------------------------------------------------------ every order of three


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))), ids=lambda o: "".join(map(str, o)))
def test_offline_creations_synced_in_any_order(qms, sites, daemon, tmp_path, order):
    made: dict[Path, list[str]] = {}
    links: dict[Path, tuple[str, str]] = {}  # site -> (return's reason, the description of the complaint it names)
    for site in sites:
        made[site] = [f"{site.name} 离线客诉"]
        cid = new(qms, site, f"description={made[site][0]}")
        assert cid == "CMP-2026-0001"  # offline: every clone picks the same numbers
        reason = f"{site.name} 退回"
        assert new_return(qms, site, cid, reason) == "RET-2026-0001"
        links[site] = (reason, made[site][0])
    for i in order:
        synced(qms, sites[i])
    for site in sites:  # everyone brought up to date
        synced(qms, site)
    for site in sites:
        assert qms("sync", root=site).out.strip().endswith("already in step")
        clean_tree(site)
    every = {d for ds in made.values() for d in ds}
    where = server_holds(qms, daemon, tmp_path, every, "check")
    assert ids(where) == ["CMP-2026-0001", "CMP-2026-0002", "CMP-2026-0003"]
    by_text = descriptions(where)
    rets = returns(where)
    assert sorted(rets) == ["RET-2026-0001", "RET-2026-0002", "RET-2026-0003"]
    by_reason = {r["reason"]: (rid, r) for rid, r in rets.items()}
    for site, (reason, text) in links.items():  # each return still names its own complaint, renumbered or not
        rid, ret = by_reason[reason]
        assert ret["complaint"] == by_text[text], (site.name, ret["complaint"], by_text[text])
        cmp_text = next(where.rglob(f"{by_text[text]}.yaml")).read_text(encoding="utf-8")
        assert rid in cmp_text  # and the complaint names the return
    first = sites[order[0]]
    assert by_text[made[first][0]] == "CMP-2026-0001"  # the first to sync kept its numbers
    for site in sites:
        assert ids(site) == ids(where) and git(site, "rev-parse", "HEAD") == git(daemon.path, "rev-parse", "main")


# ------------------------------------------------------------------------------ push race


def meet_before_push(site: Path, barrier: Path) -> None:
    """A pre-push hook in the clone (not the store) that waits until both clones are about
    to push: both have fetched and replayed, so one of the two pushes must lose the race."""
    hook = site / ".git" / "hooks" / "pre-push"
    hook.write_text(f"""#!/bin/sh
touch '{barrier}/{site.name}'
n=0
while [ "$(ls '{barrier}' | wc -l)" -lt 2 ] && [ $n -lt 300 ]; do sleep 0.05; n=$((n+1)); done
exit 0
""", encoding="utf-8")
    hook.chmod(0o755)


def test_two_clones_syncing_at_once_both_land(qms, sites, daemon, tmp_path):
    a, b = sites[:2]
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    for site in (a, b):
        meet_before_push(site, barrier)
    made = set()
    for round_ in range(3):
        for site in (a, b):
            for n in range(2):
                d = f"{site.name} 第 {round_} 轮 {n}"
                new(qms, site, f"description={d}")
                made.add(d)
        for f in barrier.iterdir():
            f.unlink()
        procs = [start_sync(a, "--json"), start_sync(b, "--json")]
        tries = []
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, (out + err).decode()
            outcome = json.loads(out)
            assert outcome["pushed"] >= 2, outcome
            tries.append(outcome["tries"])
        assert sorted(tries) == [1, 2]  # the loser fetched, replayed on the winner's commits and pushed
        for site in (a, b):
            clean_tree(site)
    synced(qms, a)
    synced(qms, b)
    assert ids(a) == ids(b)
    where = server_holds(qms, daemon, tmp_path, made, "check")
    assert ids(where) == ids(a) and len(ids(where)) == len(made)


# ------------------------------------------------------------------------ a killed sync


def test_a_sync_killed_at_any_point_is_finished_by_the_next(qms, sites, daemon, tmp_path):
    k, other = sites[:2]
    made = set()
    killed = []
    whole = None  # how long a sync takes here: the first round's, not killed
    fractions = [None, 0.02, 0.6, 0.8, 0.95] + [None] * int(os.environ.get("SYNC_KILL_STRESS", "0"))
    for round_, fraction in enumerate(fractions):
        d = f"{other.name} 第 {round_} 轮"
        new(qms, other, f"description={d}")
        made.add(d)
        synced(qms, other)  # the remote moves on: the killed sync has to replay
        cids = []
        for n in range(2):
            d = f"{k.name} 第 {round_} 轮 {n}"
            cids.append(new(qms, k, f"description={d}"))
            made.add(d)
        qms("complaint", "move", cids[0], "acknowledged", *sets(*ACK), who=QE, root=k)
        started = time.monotonic()
        p = start_sync(k)
        if whole is None:
            out, err = p.communicate()
            assert p.returncode == 0, (out + err).decode()
            whole = time.monotonic() - started
            continue
        time.sleep(whole * (fraction if fraction is not None else random.uniform(0.3, 1.0)))
        os.killpg(p.pid, signal.SIGKILL)  # qms and the git it runs, as a closed terminal or a crash
        p.communicate()
        killed.append(p.returncode == -signal.SIGKILL)
        r = qms("sync", root=k)
        assert r.code == 0, (fraction, r.text)
        clean_tree(k)
        assert not (k / ".qms" / "sync.json").exists()
        assert git(k, "for-each-ref", "refs/qms-sync/") == ""
        stems = [x.stem for x in (k / "records").rglob("*.yaml")]
        assert len(stems) == len(set(stems))
    synced(qms, other)
    where = server_holds(qms, daemon, tmp_path, made, "check")
    assert len(ids(where)) == len(made)
    assert any(killed)  # some sync was killed mid-way, not all had finished before


@pytest.mark.parametrize("git_killed_too", [False, True], ids=["sync-killed", "its-git-killed-too"])
def test_a_half_done_switch_is_finished_with_a_note(qms, sites, daemon, tmp_path, git_killed_too):
    """The state a sync killed inside its branch switch leaves: the journal names the
    switch, the branch is still at 'from', the working files partly moved; and, where the
    git it ran was killed with it (a crash, a closed terminal), git's index.lock left."""
    a, b = sites[:2]
    new(qms, a, "description=A 的客诉")
    synced(qms, a)
    new(qms, b, "description=B 的客诉")
    r = qms("sync", "--no-push", root=b)  # replay only: B's branch now holds the replayed commit
    assert r.code == 0, r.text
    to = git(b, "rev-parse", "HEAD").strip()
    frm = git(b, "rev-parse", "HEAD~1").strip()
    # back to before the switch, and then half of it done by hand: the index and one file moved
    git(b, "update-ref", "refs/heads/main", frm)
    git(b, "read-tree", "--reset", "-u", frm)
    clean_tree(b)
    git(b, "read-tree", "-m", to)
    moved = git(b, "diff", "--name-only", frm, to).split()
    assert moved
    git(b, "checkout-index", "-f", "--", moved[0])
    (b / ".qms").mkdir(exist_ok=True)
    (b / ".qms" / "sync.json").write_text(json.dumps({"switch": {"branch": "main", "from": frm, "to": to}}),
                                          encoding="utf-8")
    git(b, "update-ref", "refs/qms-sync/99999", to)  # the replay's ref, which the killed sync had not deleted yet
    if git_killed_too:
        gone = subprocess.Popen(["true"])
        gone.wait()
        (b / ".qms" / "git.pid").write_text(f"{gone.pid} \n", encoding="utf-8")
        (b / ".git" / "index.lock").write_bytes(b"")
    r = qms("sync", root=b)
    assert r.code == 0, r.text
    assert f"finished the interrupted sync: main is at {to[:10]}" in r.out
    if git_killed_too:
        assert f"removed index.lock left in .git by qms's own git (process {gone.pid})" in r.out
        assert not (b / ".git" / "index.lock").exists() and not (b / ".qms" / "git.pid").exists()
    assert git(b, "rev-parse", "HEAD").strip() == to == git(daemon.path, "rev-parse", "main").strip()
    clean_tree(b)
    assert not (b / ".qms" / "sync.json").exists()
    assert git(b, "for-each-ref", "refs/qms-sync/") == ""
    server_holds(qms, daemon, tmp_path, {"A 的客诉", "B 的客诉"}, "check")


# -------------------------------------------------------------------------------- anchors


def test_anchors_survive_sync(qms, sites, daemon, tmp_path):
    a, b, c = sites
    new(qms, a, "description=A 锚定前")
    synced(qms, a)
    r = qms("audit", "--anchor", root=a)
    assert r.code == 0 and "pushed tag" in r.err, r.text
    anchored = git(a, "rev-parse", "HEAD~1").strip()
    tag = git(a, "tag", "-l", "qms-anchor-*").split()
    assert len(tag) == 1
    for site in (b, c):
        new(qms, site, f"description={site.name} 的客诉")
        synced(qms, site)
    new(qms, a, "description=A 锚定后")
    out = synced(qms, a)
    assert "replayed" in out  # A's anchor commit went on top of the others' commits
    for site in sites:
        synced(qms, site)
    where = server_holds(qms, daemon, tmp_path, {"A 锚定前", "A 锚定后", "site2 的客诉", "site3 的客诉"}, "check")
    r = qms("audit", "--anchors-from", "origin", root=where)
    assert r.code == 0, r.text
    assert git(where, "rev-parse", f"{tag[0]}^{{commit}}").strip() == anchored
    git(where, "merge-base", "--is-ancestor", anchored, "main")  # the anchored commit is still in the history
    assert anchored in (where / "qms-anchors.txt").read_text(encoding="utf-8")


def test_an_unpushed_anchored_commit_is_not_replayed(qms, sites, daemon):
    a, b = sites[:2]
    new(qms, a, "description=A 未推送")
    r = qms("audit", "--anchor", root=a)  # anchors A's unpushed commit (and pushes only the tag)
    assert r.code == 0, r.text
    anchored = git(a, "rev-parse", "HEAD~1").strip()
    new(qms, b, "description=B 的客诉")
    synced(qms, b)
    before = git(a, "rev-parse", "HEAD")
    r = qms("sync", root=a)
    assert r.code == 1, r.text
    assert f"commit {anchored[:10]} of this clone is anchored" in r.err and "never replayed" in r.err
    assert git(a, "rev-parse", "HEAD") == before
    clean_tree(a)


# ------------------------------------------------------- a renumbered record's history


def dated(when: str) -> dict:
    return {"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}


def test_days_of_offline_work_keep_their_history_when_renumbered(qms, sites, daemon, tmp_path):
    a, b = sites[:2]
    new(qms, a, "description=A 的客诉")
    synced(qms, a)
    qms_b = lambda *args, when: qms(*args, who=QE2, root=b, env=dated(when))  # noqa: E731
    r = qms_b("complaint", "new", *sets("customer.name=上汽大众汽车有限公司", "product.part_number=5QD 611 701 B",
                                        "channel=phone", "received_at=2026-03-06T10:00", "original=oral",
                                        "description=B 第一天", "class=general"), when="2026-03-06T10:05:00+08:00")
    assert r.code == 0, r.text
    first = r.out.strip()
    r = qms_b("complaint", "new", *sets("customer.name=一汽大众汽车有限公司", "product.part_number=5QD 611 701 B",
                                        "channel=email", "received_at=2026-03-07T09:00", "original=oral",
                                        "description=B 第二天", "class=general"), when="2026-03-07T09:10:00+08:00")
    assert r.code == 0, r.text
    second = r.out.strip()
    r = qms_b("complaint", "move", first, "acknowledged", *sets(*ACK), when="2026-03-07T10:00:00+08:00")
    assert r.code == 0, r.text
    r = qms_b("return", "new", *sets("origin=complaint", f"complaint={first}", "customer.name=上汽大众汽车有限公司",
                                     "received_at=2026-03-08T09:00", "reason=渗油退回", "received_by=韩梅梅",
                                     "items={part_number: 5QD 611 701 B, quantity: 12}"), when="2026-03-08T09:30:00+08:00")
    assert r.code == 0, r.text
    out = synced(qms, b)
    # the remote took B's first number only: that one moves past every number in use, the second stays
    assert (first, second) == ("CMP-2026-0001", "CMP-2026-0002")
    assert "renumbered CMP-2026-0001 → CMP-2026-0003" in out and "→ CMP-2026-0002" not in out, out
    where = server_holds(qms, daemon, tmp_path, {"A 的客诉", "B 第一天", "B 第二天"}, "check")
    log = git(where, "log", "--format=%H%n%B%n--end--", "main")
    assert "QMS-Renumbered: CMP-2026-0001 -> CMP-2026-0003" in log and "-> CMP-2026-0002" not in log
    synced_lines = [ln for ln in log.splitlines() if ln.startswith("QMS-Synced: ")]
    assert len(synced_lines) == 4  # each of B's four commits, with its original time
    assert any(ln.startswith("QMS-Synced: 2026-03-06T10:05:00+08:00 ") for ln in synced_lines)
    r = qms("log", "CMP-2026-0003", root=where)
    assert r.code == 0, r.text
    lines = [ln for ln in r.out.splitlines() if ln and not ln.startswith(" ")]
    actions = " | ".join(lines)
    assert "new" in lines[0] and "acknowledged" in actions, r.out
    assert len(lines) == 3, r.out  # created, acknowledged, its return linked
    assert "韩梅梅" in r.out
    ret = next(iter(returns(where).values()))
    assert ret["complaint"] == "CMP-2026-0003"


# ------------------------------------------- a sync stopped between its switch and its audit


def test_a_sync_stopped_before_its_audit_does_not_push_the_unaudited_replay(qms, sites, daemon, monkeypatch):
    """A merged replay is switched to, then audited, and switched back if audit refuses
    it. Stopped in between (Ctrl-C while audit reads the history, or a kill), the branch
    holds the replay that was never audited: the next sync must audit it before pushing."""
    import qms_cli.cli.synccmd as synccmd

    a, b = sites[:2]
    cid = new(qms, a)
    synced(qms, a)
    synced(qms, b)
    assert qms("complaint", "move", cid, "acknowledged", *sets(*ACK), who=QE, root=a).code == 0
    other = [x if not x.startswith("contact.summary") else "contact.summary=客户确认 15 件" for x in ACK]
    assert qms("complaint", "move", cid, "acknowledged", *sets(*other), who=QE2, root=b).code == 0
    synced(qms, a)
    assert qms("sync", root=b).code == 1  # the conflict on the signatures
    server_head = git(daemon.path, "rev-parse", "main")
    real_check = synccmd._check

    def interrupted(store, since, merged):
        raise KeyboardInterrupt

    monkeypatch.setattr(synccmd, "_check", interrupted)
    r = qms("sync", "--resolve", cid, "--take", "ours", root=b)  # ours drops the remote's signed act
    assert r.code == 130, r.text
    monkeypatch.setattr(synccmd, "_check", real_check)
    r = qms("sync", root=b)
    assert r.code == 1 and "would not pass qms audit" in r.err, r.text
    assert git(daemon.path, "rev-parse", "main") == server_head  # nothing pushed
    clean_tree(b)


def test_a_clone_copied_elsewhere_syncs(qms, sites, daemon, tmp_path):
    """A clone restored from a backup or copied to another disk: every file's stat data
    differs from what git's index holds, the contents are the same."""
    import shutil

    a, b = sites[:2]
    cid = new(qms, a, "description=A 的客诉")
    synced(qms, a)
    synced(qms, b)
    set_(qms, a, cid, "channel=email")
    synced(qms, a)
    new(qms, b, "description=B 的客诉")
    copy = shutil.copytree(b, tmp_path / "site2-restored", symlinks=True)
    out = synced(qms, copy)
    assert "1 commits fetched, 1 replayed" in out
    clean_tree(copy)
    assert "channel: email" in next(copy.rglob(f"{cid}.yaml")).read_text(encoding="utf-8")


def test_a_renumbered_record_takes_its_attached_files_along(qms, sites, daemon, tmp_path):
    a, b = sites[:2]
    new(qms, a, "description=A 的客诉")
    synced(qms, a)
    letter = tmp_path / "客户来函.md"
    letter.write_text("# 客户来函\n\n接头渗油 12 件。\n", encoding="utf-8")
    cid = new(qms, b, "description=B 的书面客诉", "original=written", f"original_file=@{letter}")
    assert cid == "CMP-2026-0001"
    assert (b / "files" / "complaint" / cid).is_dir()
    out = synced(qms, b)
    assert "renumbered CMP-2026-0001 → CMP-2026-0002" in out
    where = server_holds(qms, daemon, tmp_path, {"A 的客诉", "B 的书面客诉"}, "check")
    moved = sorted(p.relative_to(where).as_posix() for p in (where / "files" / "complaint").rglob("*") if p.is_file())
    assert moved == ["files/complaint/CMP-2026-0002/客户来函.md"], moved
    text = next(where.rglob("CMP-2026-0002.yaml")).read_text(encoding="utf-8")
    assert "CMP-2026-0002/客户来函.md" in text and "CMP-2026-0001" not in text
    assert not (b / "files" / "complaint" / "CMP-2026-0001").exists()
