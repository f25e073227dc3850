"""`qms role`: the roles change through qms, one signed commit each, and `qms audit` tells
a granted role from one a person wrote in for themselves (issue 10, authority)."""

from __future__ import annotations

import json
import re

from conftest import OUTSIDER, QE, QM, RECEIVED, git, identity_env, sets

ADMIN = ("张伟", "zhang.wei@example.com")
NEW_QE = ("孙丽", "sun.li@example.com")


def guarded(store) -> None:
    """The store names an admin role, as `qms init` does."""
    import os
    import subprocess

    cfg = store / "qms.yaml"
    text = cfg.read_text(encoding="utf-8")
    text += ("audit:\n  rules_signed_by: qms_admin\n")
    text = text.replace("roles:\n", "roles:\n  qms_admin:\n    label: {zh: 体系管理员, en: QMS administrator}\n"
                                     f"    holders:\n      - {{name: {ADMIN[0]}, email: {ADMIN[1]}}}\n", 1)
    cfg.write_text(text, encoding="utf-8")
    subprocess.run(["git", "commit", "-q", "-am", "guard"], cwd=store, check=True,
                   env=dict(os.environ, **identity_env(ADMIN)))


def also_quality_manager(store, who) -> None:
    """qms.yaml with `who` written in beside 王强 as quality manager, by hand."""
    cfg = store / "qms.yaml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace(
        "- {name: 王强, email: wang.qiang@example.com}",
        f"- {{name: 王强, email: wang.qiang@example.com}}\n      - {{name: {who[0]}, email: {who[1]}}}"),
        encoding="utf-8")


def admin_replaced_by(store, who) -> str:
    """The text of qms.yaml with `who` as the admin instead of 张伟."""
    return (store / "qms.yaml").read_text(encoding="utf-8").replace(
        f"- {{name: {ADMIN[0]}, email: {ADMIN[1]}}}", f"- {{name: {who[0]}, email: {who[1]}}}")


def hand_commit(store, message, who):
    import os
    import subprocess

    subprocess.run(["git", "commit", "-q", "-am", message], cwd=store, check=True,
                   env=dict(os.environ, **identity_env(who)))


def test_grant_and_revoke_are_one_signed_commit_each_and_audit_clean(qms, store):
    guarded(store)
    r = qms("role", "grant", "quality_engineer", NEW_QE[1], "--name", NEW_QE[0], "--from", "2026-12-01",
            "-m", "新入职", who=ADMIN)
    assert r.code == 0, r.text
    assert r.out.startswith(f"granted 'quality_engineer' to {NEW_QE[1]} from 2026-12-01"), r.text
    msg = git(store, "log", "-1", "--format=%B")
    assert f"QMS-Action: role grant quality_engineer {NEW_QE[1]}" in msg
    assert f"QMS-Signature: role granted by {ADMIN[1]}" in msg and "新入职" in msg
    assert git(store, "show", "--name-only", "--format=", "HEAD").split() == ["qms.yaml"]
    held = json.loads(qms("role", "list", "--json").out)
    assert {"role": "quality_engineer", "email": NEW_QE[1], "from": "2026-12-01", "until": None}.items() <= \
        next(h for h in held["holders"] if h["email"] == NEW_QE[1]).items()
    assert held["admin_role"] == "qms_admin"
    # the new engineer signs; then the holding ends and is kept
    r = qms("complaint", "new", *sets(*RECEIVED), who=NEW_QE)
    assert r.code == 0, r.text
    r = qms("role", "revoke", "quality_engineer", NEW_QE[1], "--until", "2026-12-31", who=ADMIN)
    assert r.code == 0 and "held until 2026-12-31" in r.out, r.text
    assert f"email: {NEW_QE[1]}, from: 2026-12-01, until: 2026-12-31" in (store / "qms.yaml").read_text("utf-8")
    r = qms("audit")
    assert r.code == 0, r.text


def test_only_the_admin_role_changes_roles(qms, store):
    guarded(store)
    head = git(store, "rev-parse", "HEAD")
    before = (store / "qms.yaml").read_bytes()
    r = qms("role", "grant", "quality_manager", OUTSIDER[1], who=OUTSIDER)
    assert r.code == 1 and "does not hold the role 'qms_admin'" in r.err, r.text
    assert git(store, "rev-parse", "HEAD") == head and (store / "qms.yaml").read_bytes() == before


def test_bad_role_commands_are_refused_and_change_nothing(qms, store):
    guarded(store)
    head = git(store, "rev-parse", "HEAD")
    for args, code, words in (
        (["grant", "chief_taster", NEW_QE[1]], 2, "not a role of this store"),
        (["grant", "quality_engineer", "not-an-address"], 2, "expected the person's e-mail address"),
        (["grant", "quality_engineer", NEW_QE[1], "--from", "2026-13-01"], 2, "--from '2026-13-01'"),
        (["grant", "quality_engineer", NEW_QE[1], "--from", "2026-12-05", "--until", "2026-12-01"], 2, "before --from"),
        (["grant", "quality_engineer", QE[1]], 1, "already holds"),
        (["revoke", "quality_manager", NEW_QE[1]], 1, "nothing to revoke"),
    ):
        r = qms("role", *args, who=ADMIN)
        assert r.code == code and words in r.err, (args, r.text)
    assert git(store, "rev-parse", "HEAD") == head and git(store, "status", "--porcelain") == ""


def test_adding_yourself_to_a_role_by_hand_is_a_finding(qms, store):
    guarded(store)
    also_quality_manager(store, QE)
    hand_commit(store, "me too", QE)
    r = qms("audit")
    assert r.code == 1 and f"roles changed by {QE[1]}, who does not hold 'qms_admin'" in r.out, r.text


def test_even_the_admin_changes_roles_only_with_qms_role(qms, store):
    guarded(store)
    also_quality_manager(store, NEW_QE)
    hand_commit(store, "quietly", ADMIN)
    r = qms("audit")
    assert r.code == 1 and f"roles changed by hand by {ADMIN[1]}" in r.out, r.text


def test_removing_the_guard_then_granting_yourself_is_caught(qms, store):
    guarded(store)
    cfg = store / "qms.yaml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("audit:\n  rules_signed_by: qms_admin\n", ""),
                   encoding="utf-8")
    hand_commit(store, "simplify", QE)
    r = qms("audit")
    assert r.code == 1 and f"the rules (audit) changed by {QE[1]}, who does not hold 'qms_admin'" in r.out, r.text


def test_a_store_type_changed_by_someone_else_is_a_finding(qms, store):
    guarded(store)
    (store / "types").mkdir()
    (store / "types" / "complaint.yaml").write_text("name: complaint\n", encoding="utf-8")
    git(store, "add", "types")
    hand_commit(store, "shortcut", QE)
    r = qms("audit")
    assert r.code == 1
    assert f"the rules (types/complaint.yaml) changed by {QE[1]}, who does not hold 'qms_admin'" in r.out, r.text


def test_role_list_shows_every_holding(qms, store):
    r = qms("role", "list")
    assert r.code == 0 and "quality_engineer" in r.out and QE[1] in r.out, r.text
    assert "names no admin role" in r.err


def test_init_names_the_initialiser_admin_and_sets_the_guard(qms, tmp_path):
    new = tmp_path / "new-store"
    r = qms("init", str(new), "--company", "ACME", root=False, cwd=tmp_path, who=QM)
    assert r.code == 0, r.text
    text = (new / "qms.yaml").read_text(encoding="utf-8")
    assert "rules_signed_by: qms_admin" in text and "qms_admin:" in text
    assert "qms audit --anchors-from origin" in (new / ".github" / "workflows" / "qms.yml").read_text("utf-8")
    r = qms("role", "grant", "quality_engineer", NEW_QE[1], root=new, who=QM)
    assert r.code == 0, r.text
    r = qms("role", "grant", "quality_engineer", "x@example.com", root=new, who=QE)
    assert r.code == 1, r.text


def test_the_rules_change_with_qms_rules_commit_by_the_admin(qms, store):
    guarded(store)
    (store / "types").mkdir()
    from qms_cli.paths import BUILTIN_TYPES

    (store / "types" / "complaint.yaml").write_bytes((BUILTIN_TYPES / "complaint.yaml").read_bytes())
    cfg = store / "qms.yaml"
    cfg.write_text(re.sub(r"(?m)^time_limits: .*$", "time_limits: gbt27922", cfg.read_text(encoding="utf-8")), encoding="utf-8")
    head = git(store, "rev-parse", "HEAD")
    r = qms("rules", "commit", "-m", "按 GB/T 27922 时限", who=QE)  # not the admin
    assert r.code == 1 and "does not hold the role 'qms_admin'" in r.err, r.text
    assert git(store, "rev-parse", "HEAD") == head
    r = qms("complaint", "new", *sets(*RECEIVED), who=QE)  # nobody signs against rules history lacks
    assert r.code == 1 and "not committed" in r.err, r.text
    r = qms("rules", "commit", "-m", "按 GB/T 27922 时限", who=ADMIN)
    assert r.code == 0, r.text
    assert git(store, "show", "--name-only", "--format=", "HEAD").split() == ["qms.yaml", "types/complaint.yaml"]
    msg = git(store, "log", "-1", "--format=%B")
    assert "QMS-Action: rules qms.yaml types/complaint.yaml" in msg and "按 GB/T 27922 时限" in msg
    assert qms("complaint", "new", *sets(*RECEIVED), who=QE).code == 0
    r = qms("audit")
    assert r.code == 0, r.text
    # a store's own type taken out again, through qms
    (store / "types" / "complaint.yaml").unlink()
    r = qms("rules", "commit", "-m", "回到内置客诉流程", who=ADMIN)
    assert r.code == 0 and git(store, "status", "--porcelain") == "", r.text
    assert git(store, "show", "--name-status", "--format=", "HEAD").split() == ["D", "types/complaint.yaml"]
    assert qms("audit").code == 0
    # the same change by hand, even by the admin, is a finding
    (store / "types" / "complaint.yaml").write_bytes((BUILTIN_TYPES / "complaint.yaml").read_bytes())
    git(store, "add", "types")
    hand_commit(store, "quietly", ADMIN)
    r = qms("audit")
    assert r.code == 1 and f"the rules (types/complaint.yaml) changed by hand by {ADMIN[1]}" in r.out, r.text


def test_rules_commit_refuses_roles_and_broken_types(qms, store):
    guarded(store)
    cfg = store / "qms.yaml"
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text(text.replace("- {name: 王强, email: wang.qiang@example.com}",
                                "- {name: 张伟, email: zhang.wei@example.com}"), encoding="utf-8")
    r = qms("rules", "commit", "-m", "x", who=ADMIN)
    assert r.code == 1 and "qms role grant|revoke" in r.err, r.text
    cfg.write_text(text, encoding="utf-8")
    (store / "types").mkdir()
    (store / "types" / "complaint.yaml").write_text("name: complaint\nfields: [\n", encoding="utf-8")
    head = git(store, "rev-parse", "HEAD")
    r = qms("rules", "commit", "-m", "x", who=ADMIN)
    assert r.code == 2 and "types/complaint.yaml" in r.err, r.text
    assert git(store, "rev-parse", "HEAD") == head
    r = qms("rules", "commit", "-m", "", who=ADMIN)
    assert r.code == 2 and "-m" in r.err, r.text


def test_deleting_qms_yaml_first_does_not_lift_the_guard(qms, store):
    """Delete (or break) qms.yaml in one commit, write in a new one with yourself as the
    admin in the next: the rules that could last be read still judge the second."""
    guarded(store)
    hostile = admin_replaced_by(store, OUTSIDER)
    for first in ("delete", "break"):
        head = git(store, "rev-parse", "HEAD").strip()
        if first == "delete":
            git(store, "rm", "-q", "qms.yaml")
            hand_commit(store, "tidy", OUTSIDER)
        else:
            (store / "qms.yaml").write_text("roles: [\n", encoding="utf-8")
            hand_commit(store, "tidy", OUTSIDER)
        (store / "qms.yaml").write_text(hostile, encoding="utf-8")
        git(store, "add", "qms.yaml")
        hand_commit(store, "restore config", OUTSIDER)
        r = qms("audit")
        assert r.code == 1, r.text
        assert ("qms.yaml: deleted by this commit" if first == "delete" else "qms.yaml: cannot be read") in r.out
        assert f"roles changed by {OUTSIDER[1]}, who does not hold 'qms_admin'" in r.out, r.text
        git(store, "reset", "-q", "--hard", head)


def test_a_second_root_merged_in_is_a_finding(qms, store):
    guarded(store)
    hostile = admin_replaced_by(store, OUTSIDER)
    git(store, "checkout", "-q", "--orphan", "side")
    (store / "qms.yaml").write_text(hostile, encoding="utf-8")
    git(store, "add", "qms.yaml")
    hand_commit(store, "fresh start", OUTSIDER)
    git(store, "checkout", "-q", "main")
    import os
    import subprocess

    subprocess.run(["git", "merge", "-q", "--allow-unrelated-histories", "-X", "theirs", "-m", "merge", "side"],
                   cwd=store, check=True, capture_output=True, env=dict(os.environ, **identity_env(OUTSIDER)))
    r = qms("audit")
    assert r.code == 1
    assert "a second start of history (a commit with no parent)" in r.out, r.text


def test_a_refused_rules_commit_leaves_the_index_as_it_was(qms, store):
    guarded(store)
    (store / "templates").mkdir()
    (store / "templates" / "complaint.zh.md.j2").write_text("# {{ record.id }}\n", encoding="utf-8")
    hook = store / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'policy: no commits today' >&2\nexit 1\n", encoding="utf-8")
    hook.chmod(0o755)
    head = git(store, "rev-parse", "HEAD")
    r = qms("rules", "commit", "-m", "本厂样式", who=ADMIN)
    assert r.code != 0 and "no commits today" in r.err, r.text
    assert git(store, "rev-parse", "HEAD") == head
    assert git(store, "diff", "--cached", "--name-only").strip() == ""
    assert (store / "templates" / "complaint.zh.md.j2").is_file()
