"""The store's own CI and editors: the workflow files `qms init` writes pass a real
checker (check-jsonschema's GitHub Actions and GitLab CI schemas), and the pre-commit
configuration runs `qms validate` under the real pre-commit tool."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import QE, REPO, identity_env

BIN = Path(sys.executable).parent


@pytest.fixture
def new_store(qms, tmp_path):
    r = qms("init", str(tmp_path / "s"), "--company", "测试公司", root=False, who=QE)
    assert r.code == 0, r.text
    return tmp_path / "s"


def tool(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} is installed with the test extras"
    return str(path)


@pytest.mark.parametrize("rel, schema", [(".github/workflows/qms.yml", "vendor.github-workflows"),
                                         (".gitlab-ci.yml", "vendor.gitlab-ci")])
def test_the_ci_files_pass_a_real_checker(new_store, rel, schema):
    text = (new_store / rel).read_text(encoding="utf-8")
    assert "qms validate" in text and "qms audit" in text
    p = subprocess.run([tool("check-jsonschema"), "--builtin-schema", schema, str(new_store / rel)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_a_broken_workflow_fails_the_checker(new_store):
    bad = new_store / "broken.yml"
    bad.write_text("on: push\njobs:\n  x:\n    steps: 3\n", encoding="utf-8")
    p = subprocess.run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(bad)],
                       capture_output=True, text=True)
    assert p.returncode != 0


def _env(tmp_path):
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"), **identity_env(QE))
    return env


def test_the_pre_commit_hook_refuses_a_broken_record(new_store, tmp_path, qms):
    env = _env(tmp_path)
    subprocess.run([tool("pre-commit"), "install"], cwd=new_store, env=env, check=True, capture_output=True)
    good = subprocess.run([tool("pre-commit"), "run", "--all-files"], cwd=new_store, env=env,
                          capture_output=True, text=True)
    assert good.returncode == 0, good.stdout + good.stderr
    rec = new_store / "records" / "complaint" / "CMP-2026-0001.yaml"
    rec.parent.mkdir(parents=True, exist_ok=True)
    rec.write_text("id: CMP-2026-0001\ntype: complaint\nstate: received\nclass: huge\n", encoding="utf-8")
    subprocess.run(["git", "add", str(rec)], cwd=new_store, check=True)
    p = subprocess.run(["git", "commit", "-m", "by hand"], cwd=new_store, env=env, capture_output=True, text=True)
    assert p.returncode != 0
    assert "class: 'huge' is not one of general, requirement, serious" in p.stdout + p.stderr
    assert subprocess.run(["git", "rev-list", "--count", "HEAD"], cwd=new_store, capture_output=True,
                          text=True).stdout.strip() == "1"


def test_the_repository_offers_its_hooks_to_stores():
    p = subprocess.run([tool("pre-commit"), "validate-manifest", str(REPO / ".pre-commit-hooks.yaml")],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
