"""Keeping the whole consistent: every command has help and is in the README, every record
type has its forms, every state is reachable, every role a move needs exists. (What start-up
imports: test_startup.py.)"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import REPO

from qms_cli.config import BUILTIN_TYPES, Config, builtin_type_names

README = (REPO / "README.md").read_text(encoding="utf-8")


def _commands(args: list[str]) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-m", "qms_cli", *args, "--help"], capture_output=True, text=True, check=True
    ).stdout
    section = out.split("Commands:", 1)[1] if "Commands:" in out else ""
    return re.findall(r"^  ([a-z][a-z-]*)\s", section, re.M)


def test_every_command_has_help_and_is_in_the_readme():
    top = _commands([])
    assert {"init", "demo", "validate", "log", "render", "complaint"} <= set(top)
    for name in top:
        assert f"qms {name}" in README, f"'qms {name}' is not described in README.md"
    for verb in _commands(["complaint"]):
        assert f"qms complaint {verb}" in README, f"'qms complaint {verb}' is not in README.md"
        help_text = subprocess.run(
            [sys.executable, "-m", "qms_cli", "complaint", verb, "--help"],
            capture_output=True, text=True,
        )
        assert help_text.returncode == 0 and "Usage:" in help_text.stdout


@pytest.mark.parametrize("type_name", builtin_type_names())
def test_every_record_type_has_a_form_in_each_language(type_name):
    """Its main form, and each other form its declaration names (a service's report)."""
    others = Config.load(REPO).record_type(type_name).forms
    for lang in ("zh", "en"):
        assert (REPO / "templates" / f"{type_name}.{lang}.md.j2").is_file()
        for form in others:
            assert (REPO / "templates" / f"{type_name}.{form}.{lang}.md.j2").is_file(), form


@pytest.mark.parametrize("type_name", builtin_type_names())
def test_every_state_is_reachable_and_every_role_exists(type_name):
    config = Config.load(REPO)  # the sample store names the roles the built-in types use
    rt = config.record_type(type_name)
    assert rt.workflow.reachable() == set(rt.workflow.states)
    specs = [m.role for m in rt.workflow.moves] + [rt.workflow.create.role]
    for spec in specs:
        for role in spec if isinstance(spec, tuple) else [spec]:
            if role is None:
                continue
            if role.startswith("@"):  # by approvals: every role the table can name
                table = {**rt.approvals.default, **(config.approvals)}
                assert table, (type_name, role)
                for entry in table.values():
                    assert entry[role[1:]] in config.roles, (type_name, role, entry)
            else:
                assert role in config.roles, (type_name, role)
    for col in rt.list_columns:
        assert rt.field(col) is not None, col
    assert (BUILTIN_TYPES / f"{type_name}.yaml").is_file()
