"""qms audit: histories made by qms pass; each kind of tampering a person can do with
plain git is named, with the commit."""

from __future__ import annotations

from conftest import FORMER, QE, QM, git, identity_env, sets

ACK = ["contact.at=2026-03-06T10:40", "contact.by=李雷", "contact.summary=已联系", "interim_countermeasure=挑选"]


def dated(when: str) -> dict:
    return {"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}


def hand_commit(store, message: str, who=QE, when: str | None = None) -> None:
    import os
    import subprocess

    env = dict(os.environ, **identity_env(who))
    if when:
        env.update(dated(when))
    subprocess.run(["git", "commit", "-q", "-am", message], cwd=store, env=env, check=True)


def record(store, rid="CMP-2026-0001"):
    return store / "records" / "complaint" / f"{rid}.yaml"


def test_a_history_made_by_qms_passes(qms, store, complaint):
    assert qms("complaint", "move", complaint, "acknowledged", *sets(*ACK), who=QE).code == 0
    r = qms("audit")
    assert r.code == 0, r.text
    assert "0 finding(s)" in r.err


def test_a_state_changed_by_hand_without_trailers(qms, store, complaint):
    p = record(store)
    p.write_text(p.read_text(encoding="utf-8").replace("state: received", "state: closed"), encoding="utf-8")
    hand_commit(store, "close it")
    r = qms("audit")
    assert r.code == 1
    assert "record changed without qms trailers (state)" in r.out
    assert git(store, "rev-parse", "--short=10", "HEAD").strip() in r.out


def test_an_illegal_move_with_forged_trailers(qms, store, complaint):
    p = record(store)
    p.write_text(p.read_text(encoding="utf-8").replace("state: received", "state: closed"), encoding="utf-8")
    hand_commit(store, "complaint CMP-2026-0001: received -> closed\n\nQMS-Record: complaint/CMP-2026-0001\nQMS-Action: move closed\n")
    r = qms("audit")
    assert r.code == 1
    assert "received -> closed is not a move of complaint" in r.out


def test_a_deleted_record(qms, store, complaint):
    git(store, "rm", "-q", "records/complaint/CMP-2026-0001.yaml")
    hand_commit(store, "remove")
    r = qms("audit")
    assert r.code == 1 and "record deleted" in r.out


def test_a_renamed_record(qms, store, complaint):
    git(store, "mv", "records/complaint/CMP-2026-0001.yaml", "records/complaint/CMP-2026-0099.yaml")
    hand_commit(store, "rename")
    r = qms("audit")
    assert r.code == 1 and "renamed to records/complaint/CMP-2026-0099.yaml" in r.out


def test_a_signature_whose_commit_author_is_someone_else(qms, store, complaint):
    assert qms("complaint", "move", complaint, "acknowledged", *sets(*ACK), who=QE).code == 0
    # rewrite the last commit's author: the signature in the record still says li.lei
    git(store, "commit", "-q", "--amend", "--no-edit", "--author", f"{QM[0]} <{QM[1]}>")
    r = qms("audit")
    assert r.code == 1
    assert f"names {QE[1]}, but the commit is by {QM[1]}" in r.out


def test_a_signer_who_did_not_hold_the_role_that_day(qms, store, complaint):
    # 周杰 was a quality engineer until 2026-05-31: a signature forged for June is caught
    p = record(store)
    text = p.read_text(encoding="utf-8").replace("state: received", "state: acknowledged")
    text = text.replace("class: general\n", "class: general\n" + "\n".join([
        "contact:", "  at: 2026-06-02 10:40:00+08:00", "  by: 周杰", "  summary: 已联系",
        "interim_countermeasure: 挑选",
        "signatures:", "  - meaning: acknowledged", "    name: 周杰", f"    email: {FORMER[1]}",
        "    role: quality_engineer", "    at: 2026-06-02 10:40:00+08:00", "    from: received",
        "    to: acknowledged", ""]))
    p.write_text(text, encoding="utf-8")
    hand_commit(store, "complaint CMP-2026-0001: received -> acknowledged\n\nQMS-Record: complaint/CMP-2026-0001\n"
                       "QMS-Action: move acknowledged\n", who=FORMER, when="2026-06-02T10:40:00+08:00")
    r = qms("audit")
    assert r.code == 1
    assert f"{FORMER[1]} did not hold the role quality_engineer on 2026-06-02" in r.out


def test_earlier_signatures_rewritten(qms, store, complaint):
    assert qms("complaint", "move", complaint, "acknowledged", *sets(*ACK), who=QE).code == 0
    p = record(store)
    p.write_text(p.read_text(encoding="utf-8").replace("meaning: acknowledged", "meaning: verified"), encoding="utf-8")
    hand_commit(store, "x\n\nQMS-Record: complaint/CMP-2026-0001\nQMS-Action: set batch\n")
    r = qms("audit")
    assert r.code == 1 and "earlier signatures were changed or removed" in r.out


def test_a_hand_edit_of_free_text_is_attributed_not_a_finding(qms, store, complaint):
    p = record(store)
    p.write_text(p.read_text(encoding="utf-8").replace("description: 接头渗油", "description: 接头处渗油"), encoding="utf-8")
    hand_commit(store, "typo", who=QM)
    r = qms("audit")
    assert r.code == 0, r.text
    assert f"hand edit of description by {QM[0]}" in r.out and "(note)" in r.out


def test_an_anchored_history_that_was_rewritten(qms, store, complaint):
    r = qms("audit", "--anchor")
    assert r.code == 0, r.text
    anchored = git(store, "rev-parse", "HEAD~1").strip()  # the head before the anchor commit
    assert anchored in (store / "qms-anchors.txt").read_text(encoding="utf-8")
    assert qms("audit").code == 0
    # rewrite: drop the complaint's commit from under the anchor, keep the anchor file
    anchors = (store / "qms-anchors.txt").read_text(encoding="utf-8")
    git(store, "reset", "-q", "--hard", "HEAD~2")
    (store / "qms-anchors.txt").write_text(anchors, encoding="utf-8")
    git(store, "add", "qms-anchors.txt")
    hand_commit(store, "rewritten")
    r = qms("audit")
    assert r.code == 1
    assert f"anchored commit {anchored[:10]} is no longer in the history" in r.out


def test_roles_changed_without_the_management_representative(qms, store):
    cfg = store / "qms.yaml"
    cfg.write_text(cfg.read_text(encoding="utf-8") + "audit: {roles_signed_by: quality_manager}\n", encoding="utf-8")
    hand_commit(store, "audit rule", who=QM)
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("- {name: 王强, email: wang.qiang@example.com}",
                                                           "- {name: 李雷, email: li.lei@example.com}"), encoding="utf-8")
    hand_commit(store, "take over", who=QE)
    r = qms("audit")
    assert r.code == 1
    assert f"roles changed by {QE[1]}, who does not hold 'quality_manager'" in r.out


def test_since_limits_the_commits(qms, store, complaint):
    p = record(store)
    p.write_text(p.read_text(encoding="utf-8").replace("state: received", "state: closed"), encoding="utf-8")
    hand_commit(store, "bad")
    good = git(store, "rev-parse", "HEAD").strip()
    assert qms("audit").code == 1
    assert qms("audit", "--since", good).code == 0
    r = qms("audit", "--since", "nonsense")
    assert r.code == 2 and "not a commit" in r.err


def test_json(qms, store, complaint):
    import json

    git(store, "rm", "-q", "records/complaint/CMP-2026-0001.yaml")
    hand_commit(store, "remove")
    r = qms("audit", "--json")
    data = json.loads(r.out)
    assert r.code == 1 and data["errors"] == 1
    assert data["findings"][0]["field"] == "records/complaint/CMP-2026-0001.yaml"


def test_the_demo_store_audits_clean(qms, tmp_path):
    r = qms("demo", str(tmp_path / "demo"), root=False)
    assert r.code == 0, r.text
    r = qms("audit", root=tmp_path / "demo")
    assert r.code == 0, r.text





def _ssh_signing(store, tmp_path, who=QE):
    import subprocess

    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", who[1], "-f", str(key)], check=True)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"{who[1]} {(tmp_path / 'key.pub').read_text().strip()}\n", encoding="utf-8")
    git(store, "config", "gpg.format", "ssh")
    git(store, "config", "user.signingkey", str(key))
    git(store, "config", "gpg.ssh.allowedSignersFile", str(allowed))


def test_a_store_that_requires_signed_commits(qms, store, tmp_path):
    from conftest import RECEIVED

    cfg = store / "qms.yaml"
    cfg.write_text(cfg.read_text(encoding="utf-8") + "require_signed_commits: true\n", encoding="utf-8")
    hand_commit(store, "require signing")
    head = git(store, "rev-parse", "HEAD").strip()
    # no key configured: refused, nothing written
    r = qms("complaint", "new", *sets(*RECEIVED), who=QE)
    assert r.code != 0 and "requires signed commits" in r.err
    assert git(store, "rev-parse", "HEAD").strip() == head
    assert not (store / "records" / "complaint").exists() or not list((store / "records" / "complaint").iterdir())
    assert git(store, "status", "--porcelain").strip() == ""
    # with a throwaway SSH key the commit is signed and verifies
    _ssh_signing(store, tmp_path)
    r = qms("complaint", "new", *sets(*RECEIVED), who=QE)
    assert r.code == 0, r.text
    assert "Good" in git(store, "log", "-1", "--format=%G? %GG") or git(store, "log", "-1", "--format=%G?").strip() == "G"
    # audit: the unsigned commit that set up the rule is reported, the signed one is not
    r = qms("audit")
    assert r.code == 1
    assert f"commit {head[:10]}" in r.out and "not signed" in r.out
    signed = git(store, "rev-parse", "--short=10", "HEAD").strip()
    assert f"commit {signed}" not in r.out
