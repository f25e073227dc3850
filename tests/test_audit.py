"""qms audit: histories made by qms pass; each kind of tampering a person can do with
plain git is named, with the commit."""

from __future__ import annotations

from conftest import FORMER, OUTSIDER, QE, QM, git, identity_env, sets

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


def test_the_demo_plays_its_people_whatever_identity_the_environment_gives(qms, tmp_path):
    """GIT_AUTHOR_EMAIL and the like would make every act the caller's, and the manager's
    close by an engineer: the demo sets them aside while it plays."""
    r = qms("demo", str(tmp_path / "demo"), root=False, who=OUTSIDER)
    assert r.code == 0, r.text
    assert qms("audit", root=tmp_path / "demo").code == 0
    authors = git(tmp_path / "demo", "log", "--format=%an <%ae>|%cn").splitlines()
    assert authors and not any(OUTSIDER[1] in a for a in authors)
    assert {"刘洋 <liu.yang@example.com>|刘洋", "王强 <wang.qiang@example.com>|王强"} <= set(authors)
    # the people are given to each act: the demo store's own git identity is not touched
    assert "user.name" not in git(tmp_path / "demo", "config", "--local", "--list")





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
    errors = [ln for ln in r.out.splitlines() if not ln.endswith("(note)")]
    assert not any(f"commit {signed}" in ln for ln in errors), r.text
    # a signature made by a person for whom qms.yaml lists no key: said, as a note
    assert qms("complaint", "move", "CMP-2026-0001", "acknowledged", *sets(*ACK), who=QE).code == 0
    r = qms("audit")
    assert f"lists no signing key for {QE[1]}" in r.out, r.text


def _list_key(store, who, pub: str) -> None:
    cfg = store / "qms.yaml"
    old = f"- {{name: {who[0]}, email: {who[1]}"
    text = cfg.read_text(encoding="utf-8")
    assert old in text
    cfg.write_text(text.replace(old, f"- {{key: '{pub}', name: {who[0]}, email: {who[1]}", 1), encoding="utf-8")


def test_a_signing_commit_is_signed_with_the_signers_listed_key(qms, store, tmp_path):
    """qms.yaml lists each holder's SSH key: audit verifies with git against an
    allowed-signers file made from it. Another person's key, even a valid one, is a finding."""
    from conftest import RECEIVED

    _ssh_signing(store, tmp_path)
    _list_key(store, QE, (tmp_path / "key.pub").read_text().strip())
    cfg = store / "qms.yaml"
    cfg.write_text(cfg.read_text(encoding="utf-8") + "require_signed_commits: true\n", encoding="utf-8")
    git(store, "commit", "-q", "-S", "-am", "require signing, list keys")
    since = git(store, "rev-parse", "HEAD~1").strip()  # the store's first commit was not signed
    assert qms("complaint", "new", *sets(*RECEIVED), who=QE).code == 0
    assert qms("complaint", "move", "CMP-2026-0001", "acknowledged", *sets(*ACK), who=QE).code == 0
    r = qms("audit", "--since", since)
    assert r.code == 0, r.text
    # 王强's key signs a commit that carries 李雷's signature
    import subprocess

    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", QM[1], "-f", str(other)], check=True)
    git(store, "config", "user.signingkey", str(other))
    with open(tmp_path / "allowed_signers", "a", encoding="utf-8") as f:
        f.write(f"{QE[1]} {(tmp_path / 'other.pub').read_text().strip()}\n")  # this clone trusts it
    r = qms("complaint", "move", "CMP-2026-0001", "investigating", *sets("investigation.departments=质控部"), who=QE)
    assert r.code == 0, r.text
    r = qms("audit", "--since", since)
    assert r.code == 1
    assert f"that qms.yaml does not list for {QE[1]}" in r.out, r.text
    assert git(store, "rev-parse", "--short=10", "HEAD").strip() in r.out


# ------------------------------------------------------------------ identity, time, history
# (issue 10) Each tampered history is built with plain git, as a person would.

def _env(who, when=None, committer=None):
    import os

    env = dict(os.environ, **identity_env(who))
    if committer:
        env.update(GIT_COMMITTER_NAME=committer[0], GIT_COMMITTER_EMAIL=committer[1])
    if when:
        env.update(dated(when))
    return env


def _git_as(store, *args, who=QE, when=None, committer=None):
    import subprocess

    return subprocess.run(["git", *args], cwd=store, env=_env(who, when, committer), check=True,
                          capture_output=True, text=True).stdout


def test_a_signature_committed_by_someone_other_than_its_author(qms, store, complaint):
    assert qms("complaint", "move", complaint, "acknowledged", *sets(*ACK), who=QE).code == 0
    _git_as(store, "commit", "-q", "--amend", "--no-edit", who=QE, committer=QM)
    r = qms("audit")
    assert r.code == 1
    assert f"a signature authored by {QE[1]} was committed by {QM[1]}" in r.out, r.text


def test_a_commit_dated_before_the_one_it_follows(qms, store, complaint):
    p = record(store)
    p.write_text(p.read_text(encoding="utf-8").replace("接头渗油", "接头处渗油"), encoding="utf-8")
    _git_as(store, "commit", "-q", "-am", "typo", when="2026-02-15T09:00:00+08:00")
    r = qms("audit")
    assert r.code == 1
    assert "committed at 2026-02-15T09:00:00+08:00, before the commit it follows" in r.out, r.text
    assert git(store, "rev-parse", "--short=10", "HEAD").strip() in r.out


def test_qms_refuses_to_commit_back_in_time_or_in_the_future(qms, store, complaint):
    head = git(store, "rev-parse", "HEAD")
    for when in ("2026-03-06T10:02:00+08:00", "2031-01-01T09:00:00+08:00"):  # the last commit: 10:05
        r = qms("complaint", "move", complaint, "acknowledged", *sets(*ACK), who=QE, env=dated(when))
        assert r.code == 1, r.text
        assert "only runs forward" in r.err or "later than now" in r.err, r.text
        assert git(store, "rev-parse", "HEAD") == head
        assert git(store, "status", "--porcelain") == ""


def test_a_signature_dated_before_the_complaint_was_received(qms, store, complaint):
    import re

    # qms refuses to sign before the receipt ...
    head = git(store, "rev-parse", "HEAD")
    r = qms("complaint", "set", complaint, "received_at=2026-11-30T09:00", who=QE)
    assert r.code == 0, r.text
    r = qms("complaint", "move", complaint, "acknowledged", *sets(*ACK), who=QE,
            env=dated("2026-11-02T09:00:00+08:00"))
    assert r.code == 1 and "is before received_at" in r.err, r.text
    # ... and audit reports a move committed by hand with its signature before the receipt
    git(store, "reset", "-q", "--hard", head.strip())
    assert qms("complaint", "move", complaint, "acknowledged", *sets(*ACK), who=QE,
               env=dated("2026-03-06T10:45:00+08:00")).code == 0
    rec = record(store)
    text = re.sub(r"(?m)^received_at: .*$", "received_at: 2026-11-30T09:00:00+08:00", rec.read_text("utf-8"))
    message = git(store, "log", "-1", "--format=%B")
    git(store, "reset", "-q", "--hard", "HEAD~1")
    rec.write_text(text, encoding="utf-8")
    _git_as(store, "commit", "-q", "-am", message, when="2026-03-06T10:45:00+08:00")
    r = qms("audit")
    assert r.code == 1
    assert "signature 'acknowledged' is dated 2026-03-06 10:45, before received_at 2026-11-30 09:00" in r.out, r.text


def _side_branch(store):
    git(store, "checkout", "-q", "-b", "side")


def test_a_merge_that_only_combines_passes(qms, store, complaint):
    _side_branch(store)
    assert qms("complaint", "move", complaint, "acknowledged", *sets(*ACK), who=QE).code == 0
    git(store, "checkout", "-q", "main")
    r = qms("complaint", "new", *sets(*__import__("conftest").RECEIVED), who=QE)
    assert r.code == 0, r.text
    _git_as(store, "merge", "-q", "--no-ff", "-m", "merge side", "side")
    r = qms("audit")
    assert r.code == 0, r.text


def test_a_merge_that_changes_a_record_beyond_either_side(qms, store, complaint):
    _side_branch(store)
    assert qms("complaint", "move", complaint, "acknowledged", *sets(*ACK), who=QE).code == 0
    git(store, "checkout", "-q", "main")
    p = store / "files" / "keep.txt"
    p.parent.mkdir(exist_ok=True)
    p.write_text("x", encoding="utf-8")
    git(store, "add", str(p))
    _git_as(store, "commit", "-q", "-m", "main side")
    _git_as(store, "merge", "-q", "--no-ff", "--no-commit", "side")
    rec = record(store)
    rec.write_text(rec.read_text(encoding="utf-8").replace("state: acknowledged", "state: closed"), encoding="utf-8")
    git(store, "add", str(rec))
    _git_as(store, "commit", "-q", "-m", "merge side")
    r = qms("audit")
    assert r.code == 1
    assert "the merge changed the record's state or signatures beyond what either side did" in r.out, r.text
    assert "keep.txt" not in r.out, r.text


def test_a_merge_of_two_sides_that_both_signed_the_record(qms, store, complaint):
    """One side cancels, the other acknowledges; the merge keeps both states' worth of
    signatures by rewriting one: each side signed what the other has not, which no merge
    can combine."""
    _side_branch(store)
    assert qms("complaint", "move", complaint, "cancelled", *sets("cancel_reason=重复"), who=QM).code == 0
    git(store, "checkout", "-q", "main")
    assert qms("complaint", "move", complaint, "acknowledged", *sets(*ACK), who=QE).code == 0
    import subprocess

    subprocess.run(["git", "merge", "-q", "--no-ff", "--no-commit", "-X", "theirs", "side"], cwd=store,
                   env=_env(QE), capture_output=True)
    git(store, "add", "-A")
    _git_as(store, "commit", "-q", "--no-edit")
    assert len(git(store, "log", "-1", "--format=%P").split()) == 2
    r = qms("audit")
    assert r.code == 1
    assert "the merge joins two histories of the record, each with acts signed the other has not" in r.out, r.text


def test_a_merge_that_deletes_a_record_both_sides_kept(qms, store, complaint):
    _side_branch(store)
    assert qms("complaint", "set", complaint, "batch=B7", who=QE).code == 0
    git(store, "checkout", "-q", "main")
    assert qms("complaint", "new", *sets(*__import__("conftest").RECEIVED), who=QE).code == 0
    _git_as(store, "merge", "-q", "--no-ff", "--no-commit", "side")
    git(store, "rm", "-qf", "records/complaint/CMP-2026-0001.yaml")
    _git_as(store, "commit", "-q", "-m", "merge side")
    r = qms("audit")
    assert r.code == 1
    assert "records/complaint/CMP-2026-0001.yaml: the merge deleted a record that both sides kept" in r.out, r.text


def test_an_import_may_only_add_records(qms, store, complaint):
    rec = record(store)
    rec.write_text(rec.read_text(encoding="utf-8").replace("state: received", "state: closed"), encoding="utf-8")
    _git_as(store, "commit", "-q", "-am", "import\n\nQMS-Action: import\n")
    r = qms("audit")
    assert r.code == 1
    assert "an import may only add new records; this one changed a record" in r.out, r.text


def test_an_edit_of_a_cancelled_record_is_a_finding(qms, store, complaint):
    r = qms("complaint", "move", complaint, "cancelled", *sets("cancel_reason=重复登记"), who=QM)
    assert r.code == 0, r.text
    rec = record(store)
    rec.write_text(rec.read_text(encoding="utf-8").replace("重复登记", "客户撤回"), encoding="utf-8")
    _git_as(store, "commit", "-q", "-am", "fix\n\nQMS-Record: complaint/CMP-2026-0001\nQMS-Action: set cancel_reason\n")
    r = qms("audit")
    assert r.code == 1
    assert "a record in the final state 'cancelled' was changed (cancel_reason)" in r.out, r.text


def test_a_squash_of_two_moves(qms, store, complaint):
    assert qms("complaint", "move", complaint, "acknowledged", *sets(*ACK), who=QE).code == 0
    assert qms("complaint", "move", complaint, "cancelled", *sets("cancel_reason=重复"), who=QM).code == 0
    git(store, "reset", "-q", "--soft", "HEAD~2")
    _git_as(store, "commit", "-q", "-m", "squashed\n\nQMS-Record: complaint/CMP-2026-0001\nQMS-Action: move cancelled\n",
            who=QM)
    r = qms("audit")
    assert r.code == 1
    assert f"names {QE[1]}, but the commit is by {QM[1]}" in r.out, r.text


def test_a_cherry_pick_onto_a_new_root(qms, store, complaint):
    assert qms("complaint", "move", complaint, "acknowledged", *sets(*ACK), who=QE).code == 0
    move = git(store, "rev-parse", "HEAD").strip()
    git(store, "checkout", "-q", "--orphan", "fresh", "HEAD~1")  # the same files, no history
    _git_as(store, "commit", "-q", "-m", "new root")
    _git_as(store, "cherry-pick", move)
    git(store, "branch", "-f", "main", "fresh")
    r = qms("audit")
    assert r.code == 1
    root = git(store, "rev-list", "--max-parents=0", "HEAD").strip()
    assert f"commit {root[:10]}" in r.out and "record changed without qms trailers" in r.out, r.text


def test_a_record_deleted_and_created_again_with_the_same_id(qms, store, complaint):
    text = record(store).read_bytes()
    git(store, "rm", "-q", "records/complaint/CMP-2026-0001.yaml")
    _git_as(store, "commit", "-q", "-m", "gone")
    record(store).parent.mkdir(parents=True, exist_ok=True)
    record(store).write_bytes(text)
    git(store, "add", "records")
    _git_as(store, "commit", "-q", "-m", "complaint CMP-2026-0001: new\n\nQMS-Record: complaint/CMP-2026-0001\n"
                                         "QMS-Action: new\n")
    r = qms("audit")
    assert r.code == 1 and "record deleted" in r.out, r.text


def test_a_removed_anchor_line_is_a_finding(qms, store, complaint):
    assert qms("audit", "--anchor").code == 0
    anchors = store / "qms-anchors.txt"
    lines = anchors.read_text(encoding="utf-8").splitlines(keepends=True)
    anchors.write_text("".join(lines[:-1]), encoding="utf-8")
    r = qms("audit")  # the working copy first
    assert r.code == 1 and "differs from the committed one" in r.out, r.text
    _git_as(store, "commit", "-q", "-am", "tidy anchors")
    r = qms("audit")
    assert r.code == 1 and "an anchor was removed or changed" in r.out, r.text
    git(store, "rm", "-q", "qms-anchors.txt")
    _git_as(store, "commit", "-q", "-m", "no anchors")
    r = qms("audit")
    assert "the anchors file was deleted" in r.out, r.text


def test_an_anchor_is_a_tag_pushed_and_witnessed_from_another_clone(qms, store, complaint, tmp_path):
    remote = tmp_path / "server.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(store, "remote", "add", "origin", str(remote))
    git(store, "push", "-q", "origin", "main")
    r = qms("audit", "--anchor")
    assert r.code == 0, r.text
    tag = git(store, "tag", "-l", "qms-anchor-*").strip()
    assert tag and f"pushed tag {tag} to origin" in r.err, r.text
    anchored = git(store, "rev-parse", f"{tag}^{{commit}}").strip()
    assert tag in git(remote, "tag", "-l")
    git(store, "push", "-q", "origin", "main")
    assert qms("audit", "--anchors-from", "origin").code == 0
    # history rewritten and force-pushed, anchors file and local tag removed
    git(store, "tag", "-d", tag)
    git(store, "reset", "-q", "--hard", "HEAD~2")
    _git_as(store, "commit", "-q", "--allow-empty", "-m", "quiet")
    git(store, "push", "-q", "-f", "origin", "main")
    second = tmp_path / "second"
    git(tmp_path, "clone", "-q", str(remote), str(second))
    assert qms("audit", root=second).code in (0, 1)  # alone, the clone cannot know
    r = qms("audit", "--anchors-from", "origin", root=second)
    assert r.code == 1
    assert f"anchored commit {anchored[:10]} is no longer in the history" in r.out, r.text


def test_a_moved_anchor_tag(qms, store, complaint, tmp_path):
    remote = tmp_path / "server.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(store, "remote", "add", "origin", str(remote))
    r = qms("audit", "--anchor")
    assert r.code == 0 and "pushed tag" in r.err, r.text
    tag = git(store, "tag", "-l", "qms-anchor-*").strip()
    git(store, "tag", "-f", "-a", "-m", "moved", tag, "HEAD~2")
    r = qms("audit", "--anchors-from", "origin")
    assert r.code == 1 and f"tag {tag}:" in r.out and "the tag was moved" in r.out, r.text


def test_anchors_from_a_file_kept_outside(qms, store, complaint, tmp_path):
    assert qms("audit", "--anchor").code == 0
    kept = tmp_path / "anchors-kept.txt"
    kept.write_bytes((store / "qms-anchors.txt").read_bytes())
    assert qms("audit", "--anchors-from", str(kept)).code == 0
    git(store, "reset", "-q", "--hard", "HEAD~2")  # the anchor and its commit gone
    r = qms("audit", "--anchors-from", str(kept))
    assert r.code == 1 and "is no longer in the history" in r.out, r.text
    r = qms("audit", "--anchors-from", str(tmp_path / "nowhere"))
    assert r.code == 2 and "--anchors-from" in r.err, r.text


def test_qms_refuses_to_sign_against_uncommitted_rules(qms, store, complaint):
    cfg = store / "qms.yaml"
    cfg.write_text(cfg.read_text(encoding="utf-8") + "\n# a local change\n", encoding="utf-8")
    head = git(store, "rev-parse", "HEAD")
    r = qms("complaint", "move", complaint, "acknowledged", *sets(*ACK), who=QE)
    assert r.code == 1 and "qms.yaml: not committed" in r.err, r.text
    assert git(store, "rev-parse", "HEAD") == head
    git(store, "checkout", "-q", "--", "qms.yaml")
    (store / "types").mkdir()
    (store / "types" / "extra.yaml").write_text("name: extra\n", encoding="utf-8")
    r = qms("complaint", "set", complaint, "batch=B2", who=QE)
    assert r.code == 1 and "types/extra.yaml: not committed" in r.err, r.text


def _types_with_a_shortcut(store):
    """The store's own complaint type: the built-in one plus received -> closed for engineers."""
    from qms_cli.paths import BUILTIN_TYPES

    text = (BUILTIN_TYPES / "complaint.yaml").read_text(encoding="utf-8")
    shortcut = "    - {from: received, to: closed, role: quality_engineer, sign: verified}\n"
    first = "    - {from: received, to: acknowledged, role: sales, sign: acknowledged}\n"
    assert first in text
    (store / "types").mkdir(exist_ok=True)
    (store / "types" / "complaint.yaml").write_text(text.replace(first, first + shortcut), encoding="utf-8")
    git(store, "add", "types")


def _close_by_hand(store, who=QE):
    rec = record(store)
    rec.write_text(rec.read_text(encoding="utf-8").replace("state: received", "state: closed"), encoding="utf-8")
    git(store, "add", "records")


def test_a_move_made_legal_in_the_same_commit_is_judged_by_the_types_before_it(qms, store, complaint):
    _types_with_a_shortcut(store)
    _close_by_hand(store)
    _git_as(store, "commit", "-q", "-m", "complaint CMP-2026-0001: received -> closed\n\n"
                                        "QMS-Record: complaint/CMP-2026-0001\nQMS-Action: move closed\n")
    r = qms("audit")
    assert r.code == 1
    assert "received -> closed is not a move of complaint" in r.out, r.text


def test_each_commit_is_judged_by_the_types_of_its_own_time(qms, store, complaint):
    """The shortcut was in the store's types when the move was made, and was taken out
    later: the move was legal then (the change of types is the rules' own matter)."""
    _types_with_a_shortcut(store)
    _git_as(store, "commit", "-q", "-m", "shortcut")
    _close_by_hand(store)
    _git_as(store, "commit", "-q", "-m", "complaint CMP-2026-0001: received -> closed\n\n"
                                        "QMS-Record: complaint/CMP-2026-0001\nQMS-Action: move closed\n")
    git(store, "rm", "-q", "types/complaint.yaml")
    _git_as(store, "commit", "-q", "-m", "no shortcut")
    r = qms("audit")
    assert "received -> closed is not a move" not in r.out, r.text


def test_a_back_entry_is_judged_on_its_paper_date_and_within_the_window(qms, store, complaint):
    """周杰's role ended on 2026-05-31. An act he did on paper on 2026-05-20, entered on
    2026-06-10, is his to sign (the role is checked on the paper date) and is within 30 days."""
    r = qms("complaint", "move", complaint, "acknowledged", *sets(*ACK), "--on", "2026-05-20T09:00", who=FORMER,
            env=dated("2026-06-10T09:00:00+08:00"))
    assert r.code == 0, r.text
    r = qms("audit")
    assert r.code == 0, r.text


def test_a_back_entry_beyond_the_window_is_a_finding(qms, store, complaint):
    r = qms("complaint", "move", complaint, "acknowledged", *sets(*ACK), "--on", "2026-03-06T11:00", who=FORMER,
            env=dated("2026-05-29T09:00:00+08:00"))
    assert r.code == 0, r.text
    r = qms("audit")
    assert r.code == 1
    assert "entered afterwards 84 days after the act (2026-03-06 11:00); the store allows 30" in r.out, r.text
    cfg = store / "qms.yaml"
    cfg.write_text(cfg.read_text(encoding="utf-8") + "audit: {back_entry_days: 90}\n", encoding="utf-8")
    hand_commit(store, "paper from the spring is still being entered", who=QM)
    r = qms("audit")
    assert "entered afterwards" in r.out, r.text  # judged by the rules before the commit, which said 30


def test_a_rebase_that_reorders_commits(qms, store, complaint):
    """Two complaints' histories, reordered by an interactive rebase: git gives every
    rewritten commit a new commit time, which the signatures in them do not carry."""
    import os
    import subprocess

    r = qms("complaint", "new", *sets(*__import__("conftest").RECEIVED), who=QE, env=dated("2026-03-06T10:10:00+08:00"))
    assert r.code == 0, r.text
    assert qms("complaint", "move", complaint, "acknowledged", *sets(*ACK), who=QE,
               env=dated("2026-03-06T10:45:00+08:00")).code == 0
    swap = "python3 -c \"import sys; p=sys.argv[1]; l=open(p).read().splitlines(); " \
           "l[0], l[1] = l[1], l[0]; open(p, 'w').write(chr(10).join(l) + chr(10))\""
    env = dict(os.environ, GIT_SEQUENCE_EDITOR=swap, **identity_env(QE))
    subprocess.run(["git", "rebase", "-q", "-i", "HEAD~2"], cwd=store, env=env, check=True, capture_output=True)
    r = qms("audit")
    assert r.code == 1
    assert "signature time 2026-03-06T10:45:00+08:00 is not the commit time" in r.out, r.text


def test_an_import_may_only_add_records_that_validate(qms, store, complaint):
    """An old ledger's complaints imported as they were: each must hold what its state
    requires. One closed without its root cause is a finding, not a note."""
    text = record(store).read_text(encoding="utf-8")
    bad = text.replace("CMP-2026-0001", "CMP-2026-0077").replace("state: received", "state: correcting")
    (store / "records" / "complaint" / "CMP-2026-0077.yaml").write_text(bad, encoding="utf-8")
    good = text.replace("CMP-2026-0001", "CMP-2026-0078")
    (store / "records" / "complaint" / "CMP-2026-0078.yaml").write_text(good, encoding="utf-8")
    git(store, "add", "records")
    _git_as(store, "commit", "-q", "-m", "ledger 2025\n\nQMS-Action: import\n")
    r = qms("audit")
    assert r.code == 1
    assert "CMP-2026-0077.yaml: an import added a record that does not validate" in r.out, r.text
    assert "CMP-2026-0078" not in r.out and "1 record imported as they were" in r.out, r.text


def test_trailers_are_claims_checked_against_what_the_commit_did(qms, store, complaint):
    """A commit that says it moved one complaint but changed another, or says 'move' and
    leaves the state as it was: each claim that does not hold is a finding."""
    r = qms("complaint", "new", *sets(*__import__("conftest").RECEIVED), who=QE)
    assert r.code == 0, r.text
    other = store / "records" / "complaint" / "CMP-2026-0002.yaml"
    other.write_text(other.read_text(encoding="utf-8").replace("接头渗油", "接头渗油（已处理）"), encoding="utf-8")
    _git_as(store, "commit", "-q", "-am", "complaint CMP-2026-0001: set batch\n\n"
                                          "QMS-Record: complaint/CMP-2026-0001\nQMS-Action: set batch\n")
    rec = record(store)
    rec.write_text(rec.read_text(encoding="utf-8").replace("接头渗油", "接头处渗油"), encoding="utf-8")
    _git_as(store, "commit", "-q", "-am", "complaint CMP-2026-0001: received -> acknowledged\n\n"
                                          "QMS-Record: complaint/CMP-2026-0001\nQMS-Action: move acknowledged\n")
    r = qms("audit")
    assert r.code == 1
    assert ("CMP-2026-0002.yaml: changed by a commit whose trailers do not name it "
            "(QMS-Record: complaint/CMP-2026-0001)") in r.out, r.text
    assert "claims a move to 'acknowledged', but leaves the record in 'received'" in r.out, r.text


def test_a_shallow_clone_is_refused_not_misread(qms, store, complaint, tmp_path):
    assert qms("complaint", "move", complaint, "acknowledged", *sets(*ACK), who=QE).code == 0
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{store}", str(shallow))
    r = qms("audit", root=shallow)
    assert r.code == 2 and "shallow clone" in r.err and "fetch --unshallow" in r.err, r.text


def test_a_clone_that_has_not_pulled_the_anchor_yet_is_told_to_pull(qms, store, complaint, tmp_path):
    remote = tmp_path / "server.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(store, "remote", "add", "origin", str(remote))
    git(store, "push", "-q", "origin", "main")
    behind = tmp_path / "behind"
    git(tmp_path, "clone", "-q", "-b", "main", str(remote), str(behind))
    assert qms("complaint", "move", complaint, "acknowledged", *sets(*ACK), who=QE).code == 0
    assert qms("audit", "--anchor").code == 0
    git(store, "push", "-q", "origin", "main")
    r = qms("audit", "--anchors-from", "origin", root=behind)
    assert r.code == 0, r.text
    assert "which this clone has not fetched yet: pull, then audit again (note)" in r.out, r.text
    r = qms("audit", "--anchors-from", "--upload-pack=touch PWNED")
    assert r.code == 2 and not (store / "PWNED").exists(), r.text


def test_the_same_head_anchored_twice_gets_two_tags(qms, store, complaint):
    """Tags are named by the time (to the second) and the head: a second anchor of the
    same head in the same second gets its own tag rather than failing after its commit."""
    same = dated("2026-03-06T11:00:00+08:00")
    assert qms("audit", "--anchor", env=same).code == 0
    git(store, "reset", "-q", "--hard", "HEAD~1")  # the anchor commit undone, its tag kept
    r = qms("audit", "--anchor", env=same)
    assert r.code == 0, r.text
    tags = git(store, "tag", "-l", "qms-anchor-*").split()
    assert len(tags) == 2 and tags[1] == tags[0] + ".2", tags


def _forged_set(store, old: str, new: str, count: int = 1) -> None:
    rec = record(store)
    text = rec.read_text(encoding="utf-8")
    assert old in text
    rec.write_text(text.replace(old, new, count), encoding="utf-8")
    _git_as(store, "commit", "-q", "-am", "complaint CMP-2026-0001: set batch\n\n"
                                          "QMS-Record: complaint/CMP-2026-0001\nQMS-Action: set batch\n")


def test_a_set_that_leaves_the_record_unreadable_is_found(qms, store, complaint):
    """audit reads a `set` quickly when only plain values changed; anything else is parsed."""
    assert qms("complaint", "set", complaint, "batch=B1", who=QE).code == 0
    assert qms("complaint", "set", complaint, "batch=B2", who=QE).code == 0  # the quick path
    _forged_set(store, "batch: B2", "batch: [oops")
    r = qms("audit")
    assert r.code == 1 and "the record cannot be read after this commit" in r.out, r.text


def test_a_state_hidden_from_a_line_by_line_reading_is_found(qms, store, complaint):
    assert qms("complaint", "set", complaint, "batch=B1", who=QE).code == 0
    rec = record(store)
    text = rec.read_text(encoding="utf-8")
    text = text.replace("state: received", "state : closed").replace(
        "batch: B1", 'batch: "B1\n  state: received\n"')
    rec.write_text(text, encoding="utf-8")
    _git_as(store, "commit", "-q", "-am", "complaint CMP-2026-0001: set batch\n\n"
                                          "QMS-Record: complaint/CMP-2026-0001\nQMS-Action: set batch\n")
    r = qms("audit")
    assert r.code == 1 and "received -> closed is not a move of complaint" in r.out, r.text


def test_a_number_too_long_to_read_is_found_in_a_quick_set(qms, store, complaint):
    assert qms("complaint", "set", complaint, "batch=B1", who=QE).code == 0
    _forged_set(store, "batch: B1", "batch: " + "9" * 5000)
    r = qms("audit")
    assert r.code == 1 and "the record cannot be read after this commit" in r.out, r.text


def test_a_version_over_the_size_limit_is_passed_over_and_the_walk_reads_on(qms, store, complaint):
    """audit reads the record versions from git in large pieces: a version larger than a
    piece is read whole, one over the record size limit is named and passed over unread,
    and the versions after them are read in step."""
    from qms_cli.files.yamlio import MAX_BYTES

    assert qms("complaint", "set", complaint, "batch=B1", who=QE).code == 0
    _forged_set(store, "batch: B1", "batch: " + "B" * 600_000)  # over two pieces: the quick path
    _forged_set(store, "batch: " + "B" * 600_000, "batch: " + "B" * (MAX_BYTES + 1))
    _forged_set(store, "batch: " + "B" * (MAX_BYTES + 1), "batch: B3")
    p = record(store)
    p.write_text(p.read_text(encoding="utf-8").replace("state: received", "state: closed"), encoding="utf-8")
    hand_commit(store, "close it")
    r = qms("audit")
    assert r.code == 1, r.text
    assert f"the record is over {MAX_BYTES:,} bytes after this commit" in r.out, r.text
    assert "record changed without qms trailers (state)" in r.out, r.text
    assert len(r.out.strip().splitlines()) == 2, r.text


def test_a_git_without_batch_command_reads_the_history_alike(qms, store, complaint, monkeypatch):
    """Before git 2.36 (no `cat-file --batch-command`) the record versions are asked of
    `cat-file --batch`: the same findings."""
    from qms_cli.store import git as gitops

    assert qms("complaint", "set", complaint, "batch=B1", who=QE).code == 0
    assert qms("complaint", "set", complaint, "batch=B2", who=QE).code == 0
    p = record(store)
    p.write_text(p.read_text(encoding="utf-8").replace("state: received", "state: closed"), encoding="utf-8")
    hand_commit(store, "close it")
    new = qms("audit")
    monkeypatch.setattr(gitops, "version", lambda: (2, 35, 1))
    old = qms("audit")
    assert new.code == old.code == 1 and new.out == old.out, (new.text, old.text)
    assert "record changed without qms trailers (state)" in old.out, old.text


def test_a_store_without_commits_has_nothing_to_audit(qms, tmp_path):
    new = tmp_path / "new"
    new.mkdir()
    git(new, "init", "-q")
    (new / "qms.yaml").write_text("company: x\n", encoding="utf-8")
    r = qms("audit", root=new)
    assert r.code == 0 and "0 finding(s)" in r.err, r.text


def test_an_import_of_more_records_than_one_batch_then_a_hand_edit(qms, store, complaint):
    """One commit adding more records than audit asks of git at once (an old ledger of
    hundreds of complaints): read without waiting on git, and the walk goes on past it to a
    hand edit of one of them."""
    from qms_cli.audit import _Stream

    text = record(store).read_text(encoding="utf-8")
    n = 4 * _Stream.BATCH + 40  # more ids than a pipe holds: asked at once, git and audit would wait on each other
    for i in range(2, n + 2):
        rid = f"CMP-2026-{i:04d}"
        (store / "records" / "complaint" / f"{rid}.yaml").write_text(text.replace("CMP-2026-0001", rid),
                                                                      encoding="utf-8")
    git(store, "add", "records")
    _git_as(store, "commit", "-q", "-m", "ledger 2025\n\nQMS-Action: import\n")
    p = record(store, "CMP-2026-0300")
    p.write_text(p.read_text(encoding="utf-8").replace("state: received", "state: closed"), encoding="utf-8")
    hand_commit(store, "close it")
    r = qms("audit")
    assert r.code == 1, r.text
    assert f"{n} records imported as they were" in r.out, r.text
    assert "CMP-2026-0300.yaml: record changed without qms trailers (state)" in r.out, r.text


def test_the_one_line_shortcut_judges_as_the_line_by_line_comparison():
    """audit tells an edit of one plain value without parsing the record: the shortcut for a
    single changed line agrees with comparing line by line, on random edits of real records."""
    import random
    from pathlib import Path

    from qms_cli import audit as A

    def line_by_line(old: bytes, new: bytes) -> bool:
        if b"\r" in old or b"\r" in new or b"\t" in new:
            return False
        i, j = A._signatures_at(old), A._signatures_at(new)
        if old[i:] != new[j:]:
            return False
        a, b = old[:i].split(b"\n"), new[:j].split(b"\n")
        return len(a) == len(b) and all(A._plain_swap(x, y) for x, y in zip(a, b) if x != y)

    records = [p.read_bytes() for p in sorted((Path(__file__).parent.parent / "records").rglob("*.yaml"))]
    rng = random.Random(7)
    pieces = [b"a", b" ", b"\n", b": ", b"'", b"#", b"state: closed", b"batch: B2", b"\nsignatures:\n", b"-"]
    agreed = 0
    for _ in range(3000):
        old = rng.choice(records)
        lines = old.split(b"\n")
        i = rng.randrange(len(lines))
        if rng.random() < 0.6 and b": " in lines[i]:
            key, _sep, _value = lines[i].partition(b": ")
            lines[i] = key + b": " + rng.choice([b"X9", b"abc", b"2026-01-01", b"'q'", b"a: b", b"", b"yes"])
            new = b"\n".join(lines)
        else:
            pos = rng.randrange(len(old) + 1)
            new = old[:pos] + rng.choice(pieces) + old[pos + rng.randint(0, 3):]
        expected = line_by_line(old, new)
        assert A._same_structure(old, new) == expected, (old, new)
        # the key a commit says it set is only where the changed line is looked for first
        for key in (b"state", b"batch", b"signatures", rng.choice(lines).partition(b": ")[0].strip()):
            assert A._same_structure(old, new, b"\n" + key + b": ") == expected, (old, new, key)
        agreed += expected
    assert agreed > 100  # the shortcut is taken, not only refused
