"""Making stores: `init_store` (an empty store, one commit) and the files it writes."""

from __future__ import annotations

import os
import re
from pathlib import Path

from .. import __version__
from ..config import CONFIG_FILE
from ..errors import BadInput, Refused
from ..text import char_name, controls, visible
from . import git as gitops

ROLES = {
    "quality_engineer": ("质量工程师", "Quality engineer"),
    "quality_manager": ("质量部经理", "Quality manager"),
    "management_representative": ("管理者代表", "Management representative"),
    "general_manager": ("总经理", "General manager"),
    "sales": ("销售部", "Sales"),
    "document_controller": ("文控", "Document controller"),
    "qms_admin": ("体系管理员", "QMS administrator"),
}

GITHUB_WORKFLOW = """\
# Written by `qms init`: every push and pull request is checked by qms, so an incomplete
# or illegal record never merges.
name: qms
on: [push, pull_request]
jobs:
  validate:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - run: pip install "${{{{ vars.QMS_PIP_SPEC || 'qms-cli=={version}' }}}}"
      - run: qms validate
      - run: qms audit --anchors-from origin
"""

GITLAB_CI = """\
# Written by `qms init`: every push and merge request is checked by qms.
qms:
  image: python:3.11
  variables:
    GIT_DEPTH: "0"
    QMS_PIP_SPEC: "qms-cli=={version}"
  script:
    - pip install "$QMS_PIP_SPEC"
    - qms validate
    - qms audit --anchors-from origin
"""

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


def _yaml_text(value: str) -> str:
    """A value that reads back as the same text in YAML."""
    if value and re.fullmatch(r"[\w\u4e00-\u9fff .()（）-]+", value) and not value[0].isdigit():
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def config_text(company: str, site: str, lang: str, name: str, email: str) -> str:
    lines = [
        "# qms store configuration (see the qms README).",
        f"company: {_yaml_text(company)}",
        f"site: {_yaml_text(site)}" if site else "site: \"\"",
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
        "# The rules (roles, approvals, time limits, numbering, types/, reports/, templates/) are",
        "# changed only by holders of this role, with `qms role grant|revoke`; `qms audit` reports",
        "# any other change, judged by the rules as they stood before it. A paper record entered",
        "# more than back_entry_days after the act is reported too.",
        "audit:",
        "  rules_signed_by: qms_admin",
        "  back_entry_days: 30",
        "",
        "# Who may sign what. Whoever ran `qms init` holds every role until others are named",
        "# (`qms role grant ROLE PERSON --from DATE`, `qms role revoke ROLE PERSON`).",
        "roles:",
    ]
    for role, (zh, en) in ROLES.items():
        lines += [
            f"  {role}:",
            f"    label: {{zh: {zh}, en: {en}}}",
            "    holders:",
            f"      - {{name: {_yaml_text(name)}, email: {_yaml_text(email)}}}",
        ]
    return "\n".join(lines) + "\n"


def _line_break(text: str) -> tuple[int, str] | None:
    m = re.search("[\n\u2028\u2029]", text)
    return (m.start(), char_name(m.group(0))) if m else None


def init_store(path: Path, company: str = "", site: str = "", lang: str = "zh") -> Path:
    """A new store at `path`: git repository, qms.yaml, records/, CI and pre-commit
    configuration, committed as one commit. Refuses to touch an existing store."""
    if lang not in ("zh", "en"):
        raise BadInput(f"--lang: expected zh or en, not '{lang}'")
    if site and not re.fullmatch(r"[A-Za-z0-9]{1,10}", site):
        raise BadInput(f"--site: '{visible(site, one_line=True)}': expected a short code of letters and digits, such as HZ")
    bad = controls(company) or _line_break(company)
    if bad:
        raise BadInput(f"--company: character {bad[0] + 1} is {bad[1]}; expected the company name "
                       "on one line, as it is printed at the top of every form")
    if len(company) > 200:
        raise BadInput(f"--company: {len(company)} characters; expected at most 200")
    path = path.expanduser().resolve()
    if os.path.lexists(path / CONFIG_FILE):
        raise Refused(f"{path}: already a store ({CONFIG_FILE} exists); nothing was changed")
    if path.exists() and not path.is_dir():
        raise BadInput(f"{path}: exists and is not a folder")
    existing = next(p for p in [path, *path.parents] if p.exists())
    who = gitops.actor(existing)  # before anything is written
    path.mkdir(parents=True, exist_ok=True)
    import git

    try:
        git.Repo(path).close()
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        git.Repo.init(path).close()
    files = {
        CONFIG_FILE: config_text(company or path.name, site, lang, who.name, who.email),
        "records/.gitkeep": "",
        "files/.gitkeep": "",
        ".gitignore": ".qms/\n",
        ".github/workflows/qms.yml": GITHUB_WORKFLOW.format(version=__version__),
        ".gitlab-ci.yml": GITLAB_CI.format(version=__version__),
        ".pre-commit-config.yaml": PRE_COMMIT,
    }
    written = []
    for rel, text in files.items():
        p = path / rel
        if os.path.lexists(p):
            continue  # an existing repository's own files (or links) stay as they are
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        written.append(rel)
    # JSON Schemas for editors; records written by qms name them (yaml-language-server)
    from ..schema import SCHEMA_DIR, export
    from . import Store

    for p in export(Store(path), path / SCHEMA_DIR):
        written.append(p.relative_to(path).as_posix())
    message = (
        f"qms: new store {company or path.name}\n\n"
        f"QMS-Action: init\nQMS-Signature: initialised by {who.email}\n"
    )
    gitops.commit(path, written, message)
    return path
