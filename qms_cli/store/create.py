"""Making stores: `init_store` (an empty store, one commit) and the files it writes: qms.yaml
(the initialiser holding every role the record types use, document numbers under the
store's own prefix), the CI files (installing qms the way this computer did) and the
pre-commit configuration."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .. import __version__
from ..config import CONFIG_FILE, Config
from ..errors import BadInput, Refused
from ..i18n import N_, _
from ..schema import SCHEMA_DIR, export
from ..text import char_name, controls, visible
from . import Store
from . import git as gitops

# The roles qms knows by name, with their labels. A role a record type uses that is not
# here is still written (labelled by its name): see roles_in_use.
ROLES = {
    "quality_engineer": ("质量工程师", "Quality engineer"),
    "quality_manager": ("质量部经理", "Quality manager"),
    "management_representative": ("管理者代表", "Management representative"),
    "general_manager": ("总经理", "General manager"),
    "sales": ("销售部", "Sales"),
    "document_controller": ("文控", "Document controller"),
    "warehouse": ("仓库", "Warehouse"),
    "service_manager": ("售后服务部经理", "After-sales service manager"),
    "service_engineer": ("售后服务工程师", "Service engineer"),
    "sales_vp": ("分管销售副总", "Vice-president, sales"),
    "quality_vp": ("质量副总", "Vice-president, quality"),
    "department_head": ("部门负责人", "Department head"),
    "qms_admin": ("体系管理员", "QMS administrator"),
}
# Roles held for one department only (qms.yaml holders' `department:`).
DEPARTMENT_ROLES = ("department_head",)
DEFAULT_DEPARTMENT = {"zh": "质量部", "en": "Quality"}
DEFAULT_PREFIX = "QMS"
SAMPLE_PREFIX = "LX"  # the sample company's, in the built-in document numbering
_PREFIX = re.compile(r"[A-Za-z0-9]{1,10}")
# words of a company name that say what kind of company it is, not which one
_LEGAL_WORDS = {"co", "corp", "corporation", "company", "ltd", "limited", "inc", "incorporated", "llc", "gmbh",
                "ag", "kg", "sa", "ab", "as", "bv", "nv", "oy", "spa", "srl", "plc", "the", "of", "and",
                "group"}


# -- the CI files --------------------------------------------------------------------------

@dataclass(frozen=True)
class Install:
    """How CI installs qms: `spec`, a pip requirement; `source`, where this computer's qms
    came from (for the comment beside it); `reachable` False when `spec` is only a
    placeholder the store's owner must set (qms came from a folder CI cannot reach)."""

    spec: str
    source: str
    reachable: bool


_URL = re.compile(r"(?:https?|ssh|git)://[A-Za-z0-9._~:/@%+=-]+")  # no quotes, spaces, $, `, ;, #, ?
_COMMIT = re.compile(r"[0-9a-fA-F]{7,64}")
_VERSION = re.compile(r"[0-9][0-9A-Za-z.!+_-]{0,63}")
_SUBDIR = re.compile(r"[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*")
_HASH = re.compile(r"(?:sha256|sha384|sha512)=[0-9a-fA-F]{64,128}")
_VCS = ("git", "hg", "svn", "bzr")


def install_spec(direct_url: Any, version: str) -> Install:
    """The pip requirement that installs in CI the qms that `direct_url` (the PEP 610
    record of this installation, parsed; None for an install from a package index)
    describes. Every value is checked to be a plain URL, commit or version, since it is
    written into YAML that CI runs; anything else gives the placeholder (reachable False)."""
    pinned = f"qms-cli=={version}" if isinstance(version, str) and _VERSION.fullmatch(version) else "qms-cli"

    def placeholder(why: str) -> Install:
        """The requirement as a placeholder the store's owner must set (reachable False), saying why."""
        return Install(pinned, why, False)

    if direct_url is None:
        return Install(pinned, N_("a package index"), True)
    if not isinstance(direct_url, dict) or not isinstance(direct_url.get("url"), str):
        return placeholder(N_("an install record (direct_url.json) that could not be read"))
    url = direct_url["url"]
    if url.lower().startswith("file:") or "dir_info" in direct_url:
        return placeholder(N_("a folder on this computer"))
    if not _URL.fullmatch(url):
        return placeholder(N_("an install URL that is not a plain URL"))
    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:
        return placeholder(N_("an install URL that is not a plain URL"))
    if password is not None or user not in (None, "git"):
        return placeholder(N_("an install URL with credentials in it"))
    fragment = []
    sub = direct_url.get("subdirectory")
    if sub is not None:
        if not isinstance(sub, str) or not _SUBDIR.fullmatch(sub) or ".." in sub.split("/"):
            return placeholder(N_("an install record with an unusable subdirectory"))
        fragment.append(f"subdirectory={sub}")
    vcs = direct_url.get("vcs_info")
    if vcs is not None:
        kind = vcs.get("vcs") if isinstance(vcs, dict) else None
        commit = vcs.get("commit_id") if isinstance(vcs, dict) else None
        if kind not in _VCS or not isinstance(commit, str) or not _COMMIT.fullmatch(commit):
            return placeholder(N_("a version-control install record without a plain commit"))
        tail = "#" + "&".join(fragment) if fragment else ""
        return Install(f"qms-cli @ {kind}+{url}@{commit}{tail}", f"{kind} {url} at {commit}", True)
    archive = direct_url.get("archive_info")
    if isinstance(archive, dict) and parts.scheme in ("http", "https"):
        digest = archive.get("hash")
        if isinstance(digest, str) and _HASH.fullmatch(digest):
            fragment.insert(0, digest)
        tail = "#" + "&".join(fragment) if fragment else ""
        return Install(f"qms-cli @ {url}{tail}", f"the archive {url}", True)
    return placeholder(N_("an install record that names no package index, repository or archive"))


def installed_spec() -> Install:
    """install_spec for the qms running now, from its PEP 610 record (direct_url.json)."""
    from importlib import metadata

    try:
        dist = metadata.distribution("qms-cli")
    except metadata.PackageNotFoundError:
        return install_spec({"url": "file:", "dir_info": {}}, __version__)
    raw = dist.read_text("direct_url.json")
    if raw is None:
        return install_spec(None, dist.version)
    try:
        data = json.loads(raw)
    except ValueError:
        data = "unreadable"
    return install_spec(data, dist.version)


def _install_lines(install: Install, indent: str) -> str:
    """The QMS_INSTALL variable with the comment that says where its value came from."""
    value = _quoted(install.spec)
    if install.reachable:
        return (f"{indent}# How CI installs qms (a pip requirement): as it was installed where `qms init` ran,\n"
                f"{indent}# from {install.source}. Change it to upgrade qms in CI.\n"
                f"{indent}QMS_INSTALL: {value}\n")
    return (f"{indent}# How CI installs qms (a pip requirement). qms was installed where `qms init` ran from\n"
            f"{indent}# {install.source}, which CI cannot reach: SET THIS to a git URL\n"
            f"{indent}# (\"qms-cli @ git+https://HOST/qms.git@COMMIT\") or a version on your package index.\n"
            f"{indent}QMS_INSTALL: {value}  # set this to where CI can install qms from\n")


def github_workflow(install: Install, pages: bool = False) -> str:
    """The GitHub Actions workflow that runs `qms validate` and `qms audit` on every push and
    pull request, installing qms as `install` says; with `pages`, also a job that publishes
    the store (`qms publish public`) to GitHub Pages from the default branch, once it passed."""
    text = (
        "# Written by `qms init`: every push and pull request is checked by qms, so an incomplete\n"
        "# or illegal record never merges.\n"
        "name: qms\n"
        "on: [push, pull_request]\n"
        "# the checks read the store, and nothing more: the token GitHub hands them may not write\n"
        "# (a repository's default may be write-all); the pages job asks for what it needs\n"
        "permissions:\n"
        "  contents: read\n"
        "env:\n"
        + _install_lines(install, "  ")
        + "jobs:\n"
        "  validate:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        + _GITHUB_SETUP
        + "      - run: qms validate\n"
        "      - run: qms audit --anchors-from origin\n"
    )
    if pages:
        text += (
            "  # The store as a static site (qms publish) on GitHub Pages, from the default branch once\n"
            "  # validate passed. Turn Pages on first: Settings > Pages > Source: GitHub Actions.\n"
            "  pages:\n"
            "    needs: validate\n"
            "    if: github.event_name == 'push' && github.ref_name == github.event.repository.default_branch\n"
            "    runs-on: ubuntu-latest\n"
            "    permissions:\n"
            "      contents: read\n"
            "      pages: write\n"
            "      id-token: write\n"
            "    concurrency:\n"
            "      group: pages\n"
            "      cancel-in-progress: false\n"
            "    environment:\n"
            "      name: github-pages\n"
            "      url: ${{ steps.deployment.outputs.page_url }}\n"
            "    steps:\n"
            + _GITHUB_SETUP
            # the site of the last run is kept (publish makes again only what changed since)
            + "      - uses: actions/cache/restore@v4\n"
            "        with:\n"
            "          path: public\n"
            "          key: qms-public-${{ github.ref_name }}-${{ github.sha }}\n"
            "          restore-keys: qms-public-${{ github.ref_name }}-\n"
            "      - run: qms publish public\n"
            "      - uses: actions/cache/save@v4\n"
            "        with:\n"
            "          path: public\n"
            "          key: qms-public-${{ github.ref_name }}-${{ github.sha }}\n"
            "      - uses: actions/upload-pages-artifact@v3\n"
            "        with:\n"
            "          path: public\n"
            "      - id: deployment\n"
            "        uses: actions/deploy-pages@v4\n"
        )
    return text


# Check out the whole history (audit reads it; publish links signatures to their commits),
# then install qms.
_GITHUB_SETUP = (
    "      - uses: actions/checkout@v4\n"
    "        with:\n"
    "          fetch-depth: 0\n"
    "      - uses: actions/setup-python@v5\n"
    "        with:\n"
    "          python-version: \"3.11\"\n"
    "      - run: pip install \"$QMS_INSTALL\"\n"
)


def gitlab_ci(install: Install, pages: bool = False) -> str:
    """The GitLab CI configuration that runs `qms validate` and `qms audit` on every push and
    merge request, installing qms as `install` says; with `pages`, also the `pages` job that
    publishes the store (`qms publish public`) to GitLab Pages from the default branch, once
    the checks passed."""
    text = (
        "# Written by `qms init`: every push and merge request is checked by qms.\n"
        "variables:\n"
        + _install_lines(install, "  ")
        + "qms:\n"
        "  image: python:3.11\n"
        "  variables:\n"
        "    GIT_DEPTH: \"0\"\n"
        "  script:\n"
        "    - pip install \"$QMS_INSTALL\"\n"
        "    - qms validate\n"
        "    - qms audit --anchors-from origin\n"
    )
    if pages:
        text += (
            "# The store as a static site (qms publish) on GitLab Pages, from the default branch once\n"
            "# the checks passed. public/ is kept between pipelines (cache:), so that publish makes\n"
            "# again only the pages of what changed since the last one.\n"
            "pages:\n"
            "  stage: deploy\n"
            "  needs: [qms]\n"
            "  image: python:3.11\n"
            "  variables:\n"
            "    GIT_DEPTH: \"0\"\n"
            "  cache:\n"
            "    key: qms-public-$CI_COMMIT_REF_SLUG\n"
            "    paths:\n"
            "      - public\n"
            "  script:\n"
            "    - pip install \"$QMS_INSTALL\"\n"
            "    - qms publish public\n"
            "  artifacts:  # the site, without what publish keeps for the next one (cache: keeps it)\n"
            "    paths:\n"
            "      - public\n"
            "    exclude:\n"
            "      - public/.qms-publish*\n"
            "  rules:\n"
            "    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH\n"
        )
    return text


PRE_COMMIT = """\
# Written by `qms init`: `pre-commit install` makes every commit pass `qms validate` first.
repos:
  - repo: local
    hooks:
      - id: qms-validate
        name: qms validate
        entry: qms validate
        language: system
        pass_filenames: false
        files: ^(records/|qms\\.yaml$|files/)
"""


# -- qms.yaml ------------------------------------------------------------------------------

_YAML_WORDS = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}


def _yaml_text(value: str) -> str:
    """A value that reads back as the same text in YAML (also inside a flow mapping)."""
    if (value and re.fullmatch(r"[\w\u4e00-\u9fff .()（）-]+", value) and not value[0].isdigit()
            and value[0] not in " -" and not value.endswith(" ") and value.lower() not in _YAML_WORDS):
        return value
    return _quoted(value)


def _quoted(value: str) -> str:
    """`value` as a YAML double-quoted scalar: JSON's escapes, and \\uXXXX for every character
    YAML does not print as itself (NEL, the line and paragraph separators, C1 controls)."""
    return re.sub("[\x7f-\x9f\u2028\u2029]", lambda m: f"\\u{ord(m.group(0)):04x}",
                  json.dumps(value, ensure_ascii=False))


def roles_in_use(config: Config) -> list[str]:
    """Every role a record type of `config` names: for creating, editing, moving, and by
    approvals (`@review`, `@approve`: every role the type's default table names)."""
    found: list[str] = []
    for name in config.type_names():
        rt = config.record_type(name)
        specs = [rt.workflow.create.role, rt.workflow.edit, *(m.role for m in rt.workflow.moves)]
        for spec in specs:
            for role in spec if isinstance(spec, tuple) else (spec,):
                if role is None:
                    continue
                named = ([e.get(role[1:]) for e in rt.approvals.default.values() if isinstance(e, dict)]
                         if role.startswith("@") else [role])
                found += [r for r in named if isinstance(r, str) and r not in found]
    return found


def document_numbering(config: Config, prefix: str) -> dict[str, str]:
    """The built-in document numbering with the sample company's prefix replaced by `prefix`."""
    schemes = config.record_type("document").numbering
    return {cat: re.sub(rf"^{SAMPLE_PREFIX}-", f"{prefix}-", scheme) for cat, scheme in schemes.items()}


def derive_prefix(prefix: str | None, site: str, company: str) -> tuple[str, str]:
    """The document-number prefix and where it came from: --prefix; else --site; else the
    initials of the company name's ASCII words (one word: its first 4 letters); else QMS."""
    if prefix is not None:
        if not _PREFIX.fullmatch(prefix):
            raise BadInput(_("--prefix '{value}': expected 1 to 10 letters and digits "
                             "(A-Z, 0-9), such as LX: it starts every document number (LX-CX-2026-001)").format(
                value=visible(prefix, one_line=True)))
        return prefix, "--prefix"
    if site:
        return site.upper(), "--site"
    words = re.findall(r"[A-Za-z]+", company)
    named = [w for w in words if w.lower() not in _LEGAL_WORDS] or words
    if len(named) > 1:
        return "".join(w[0] for w in named)[:10].upper(), N_("the company name")
    if named:
        return named[0][:4].upper(), N_("the company name")
    return DEFAULT_PREFIX, N_("qms's default, as no --prefix, --site or company name in ASCII letters was given")


def config_text(company: str, site: str, lang: str, name: str, email: str, *, department: str = "",
                prefix: str = DEFAULT_PREFIX, prefix_from: str = "", numbering: dict[str, str] | None = None,
                roles: list[str] | None = None) -> str:
    """A new store's qms.yaml, commented: company, site, language, document numbering under
    `prefix`, and every role (`roles`, else the known ones) held by the initialiser."""
    department = department or DEFAULT_DEPARTMENT[lang]
    lines = [
        "# qms store configuration (see the qms README).",
        f"company: {_yaml_text(company)}",
        f"site: {_yaml_text(site)}" if site else "site: \"\"",
        "# Plants that share this store through a git server (qms sync): with `site_in_numbers: true`",
        "# every record number carries the site code of the clone that registers it (CMP-SH-2026-0001),",
        "# each plant's clone naming its own with `git config qms.site SH` (else the site above), so",
        "# no two plants ever give the same number. Set it before the first record is registered.",
        "site_in_numbers: false",
        f"lang: {lang}",
        "timezone: Asia/Shanghai",
        "",
        "# New records are filed a hundred to a folder: records/complaint/CMP-2026-00xx/CMP-2026-0001.yaml",
        "# (a commit rewrites the folder it writes into; keep it small). Or: year, none.",
        "shard: hundred",
        "",
        "# Time limits: iatf16949 (default), ts16949-urgent-normal, reply-8h, gbt27922.",
        "time_limits: iatf16949",
        "",
        "# Working days: mainland China's official calendar plus the store's own days.",
        "calendar:",
        "  workdays: []",
        "  holidays: []",
        "",
    ]
    if numbering:
        example = numbering.get("procedure") or next(iter(numbering.values()))
        lines += [
            f"# Document numbers, by category: the prefix {prefix} comes from {prefix_from or 'qms init'}",
            "# (`qms init --prefix CODE` names another). {year} is the year, {seq:03} a running number",
            "# (001, 002 ...); a scheme without {seq} is one document a year (the manual). Change them",
            "# (`qms rules commit`) before the first document is registered: a number, once given, stays.",
            f"# A procedure registered in 2026 is {example.format(year=2026, seq=1)}.",
            "numbering:",
            "  document:",
        ]
        lines += [f"    {cat}: {_quoted(scheme)}" for cat, scheme in numbering.items()]
        lines.append("")
    lines += [
        "# The rules (roles, approvals, time limits, numbering, types/, reports/, templates/) are",
        "# changed only by holders of this role, with `qms role grant|revoke`; `qms audit` reports",
        "# any other change, judged by the rules as they stood before it. A paper record entered",
        "# more than back_entry_days after the act is reported too.",
        "audit:",
        "  rules_signed_by: qms_admin",
        "  back_entry_days: 30",
        "",
        "# Who may sign what. Whoever ran `qms init` holds every role until others are named",
        "# (`qms role grant ROLE PERSON --from DATE`, `qms role revoke ROLE PERSON`). A department",
        f"# head approves for their own department only: {_yaml_text(department)} here; name the other",
        "# departments' heads with `qms role grant department_head PERSON --department DEPT`.",
        "roles:",
    ]
    for role in roles if roles is not None else list(ROLES):
        zh, en = ROLES.get(role, (role, role))
        holder = f"{{name: {_yaml_text(name)}, email: {_yaml_text(email)}"
        if role in DEPARTMENT_ROLES:
            holder += f", department: {_yaml_text(department)}"
        lines += [
            f"  {role}:",
            f"    label: {{zh: {_yaml_text(zh)}, en: {_yaml_text(en)}}}",
            "    holders:",
            f"      - {holder}}}",
        ]
    return "\n".join(lines) + "\n"


def _line_break(text: str) -> tuple[int, str] | None:
    m = re.search("[\n\u2028\u2029]", text)
    return (m.start(), char_name(m.group(0))) if m else None


def _one_line(option: str, text: str, what: str, limit: int) -> None:
    bad = controls(text) or _line_break(text)
    if bad:
        raise BadInput(_("{option}: character {position} is {character}; expected {what} on one line").format(
            option=option, position=bad[0] + 1, character=bad[1], what=what))
    if len(text) > limit:
        raise BadInput(_("{option}: {count} characters; expected at most {limit}").format(
            option=option, count=len(text), limit=limit))


@dataclass(frozen=True)
class NewStore:
    """What `init_store` made: the store, its document-number prefix and where that came
    from, the first procedure's number, the initialiser's department, how CI installs qms,
    and the files committed."""

    root: Path
    prefix: str  # the document numbers' prefix
    prefix_from: str  # where it came from
    first_document: str  # the number of this year's first procedure
    department: str  # the initialiser's, as department head
    install: Install  # how the CI files install qms
    written: tuple[str, ...] = ()  # the files the init commit holds


def init_store(path: Path, company: str = "", site: str = "", lang: str = "zh", *,
               department: str | None = None, prefix: str | None = None,
               install: Install | None = None, pages: bool = False) -> NewStore:
    """A new store at `path`: git repository, qms.yaml, records/, CI and pre-commit
    configuration (with `pages`, CI also publishes the site to GitLab / GitHub Pages, into
    public/, which .gitignore names), committed as one commit. Refuses to touch an existing
    store; checks every input before anything is written."""
    if lang not in ("zh", "en"):
        raise BadInput(_("--lang: expected zh or en, not '{lang}'").format(lang=lang))
    if site and not re.fullmatch(r"[A-Za-z0-9]{1,10}", site):
        raise BadInput(_("--site: '{value}': expected a short code of letters and digits, such as HZ").format(
            value=visible(site, one_line=True)))
    bad = controls(company) or _line_break(company)
    if bad:
        raise BadInput(_("--company: character {position} is {character}; expected the company name "
                         "on one line, as it is printed at the top of every form").format(
            position=bad[0] + 1, character=bad[1]))
    if len(company) > 200:
        raise BadInput(_("{option}: {count} characters; expected at most {limit}").format(
            option="--company", count=len(company), limit=200))
    if department is not None:
        _one_line("--department", department, _("the department's name"), 60)
        if not department.strip():
            raise BadInput(_("--department: empty; expected the department's name, such as 质量部"))
    department = (department or DEFAULT_DEPARTMENT[lang]).strip()
    prefix, prefix_from = derive_prefix(prefix, site, company)
    path = path.expanduser().resolve()
    if os.path.lexists(path / CONFIG_FILE):
        raise Refused(_("{path}: already a store ({config} exists); nothing was changed").format(
            path=path, config=CONFIG_FILE))
    if path.exists() and not path.is_dir():
        raise BadInput(_("{path}: exists and is not a folder").format(path=path))
    existing = next(p for p in [path, *path.parents] if p.exists())
    who = gitops.actor(existing)  # before anything is written
    install = install or installed_spec()
    builtin = Config.parse(path, {})  # the built-in types, as the new store will run them
    numbering = document_numbering(builtin, prefix)
    text = config_text(company or path.name, site, lang, who.name, who.email, department=department,
                       prefix=prefix, prefix_from=prefix_from, numbering=numbering,
                       roles=[*ROLES, *(r for r in roles_in_use(builtin) if r not in ROLES)])
    path.mkdir(parents=True, exist_ok=True)
    import git

    try:
        git.Repo(path).close()
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        git.Repo.init(path).close()
    files = {
        CONFIG_FILE: text,
        "records/.gitkeep": "",
        "files/.gitkeep": "",
        ".gitignore": ".qms/\n/public/\n" if pages else ".qms/\n",
        ".github/workflows/qms.yml": github_workflow(install, pages),
        ".gitlab-ci.yml": gitlab_ci(install, pages),
        ".pre-commit-config.yaml": PRE_COMMIT,
    }
    written = []
    for rel, content in files.items():
        p = path / rel
        if os.path.lexists(p):
            continue  # an existing repository's own files (or links) stay as they are
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content, encoding="utf-8")
        written.append(rel)
    # JSON Schemas for editors; records written by qms name them (yaml-language-server)

    for p in export(Store(path), path / SCHEMA_DIR):
        written.append(p.relative_to(path).as_posix())
    message = (
        f"qms: new store {company or path.name}\n\n"
        f"QMS-Action: init\nQMS-Signature: initialised by {who.email}\n"
    )
    gitops.commit(path, written, message)
    scheme = numbering.get("procedure") or next(iter(numbering.values()))
    first = scheme.format(year=who.when.astimezone(builtin.tz).year, seq=1)
    return NewStore(path, prefix, prefix_from, first, department, install, tuple(written))


def clone_store(url: str, path: Path, site: str = "") -> Path:
    """A clone of the store on a git server (`url`) at `path`, for `qms sync`: refused
    unless the repository holds a qms.yaml (the clone is then taken away again). `site`:
    this clone's own site code (git config qms.site), the one its record numbers carry where
    qms.yaml says `site_in_numbers: true`."""
    import shutil
    import subprocess

    if not url or url.startswith("-") or "\n" in url:
        raise BadInput(_("--clone {url}: expected the address of the store on the git server, such as "
                         "https://git.example.com/qa/store.git or git@git.example.com:qa/store.git").format(
            url=visible(url, one_line=True)))
    if site and not re.fullmatch(r"[A-Za-z0-9]{1,10}", site):
        raise BadInput(_("--site: '{value}': expected a short code of letters and digits, such as HZ").format(
            value=visible(site, one_line=True)))
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise Refused(_("{path}: exists and is not an empty folder; name a new folder for the clone").format(
            path=path))
    made = not path.exists()
    # a store's address never runs a command: git's ext:: transport stays off
    p = subprocess.run(["git", "-c", "protocol.ext.allow=never", "clone", "-q", "--", url, str(path)],
                       capture_output=True, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        said = p.stderr.decode("utf-8", "replace").strip().splitlines()
        raise BadInput(_("--clone {url}: git could not clone it ({error})").format(
            url=url, error=said[-1] if said else p.returncode))
    if not (path / CONFIG_FILE).is_file() or (path / CONFIG_FILE).is_symlink():
        if made:
            shutil.rmtree(path, ignore_errors=True)
        else:
            for child in path.iterdir():
                shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink()
        raise BadInput(_("--clone {url}: the repository has no {config} at its top: not a qms store").format(
            url=url, config=CONFIG_FILE))
    if site:
        subprocess.run(["git", "config", "qms.site", site], cwd=path, check=True, capture_output=True)
    return path
