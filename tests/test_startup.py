"""Start-up: `qms --help` and `qms --version` list every command from the one table of
commands (qms_cli/cli/registry.py) and import neither a command module, nor the library,
nor a heavy third-party package; a command's module is imported when that command is run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qms_cli.cli import registry
from qms_cli.paths import builtin_type_names

# What `qms --help` may import of qms: the command line's root and the pure helpers it reads.
STARTUP = {"qms_cli", "qms_cli.__main__", "qms_cli.cli", "qms_cli.cli.base", "qms_cli.cli.registry",
           "qms_cli.i18n", "qms_cli.paths", "qms_cli.text"}
HEAVY = ("git", "gitdb", "ruamel", "yaml", "jinja2", "markupsafe", "rich", "openpyxl", "chinese_calendar",
         "filelock", "dateutil", "jsonschema", "pygments", "markdown_it", "cmarkgfm", "cffi", "_cffi_backend", "matplotlib", "weasyprint", "pydyf",
         "tinycss2")

# Runs qms as `python -m qms_cli ARGS` does, then names what it imported beyond STARTUP.
PROBE = """
import json, os, runpy, sys
args, startup, heavy = (json.loads(a) for a in sys.argv[1:4])
sys.argv = ["qms", *args]

def _exit(code):  # qms ends its process without Python's exit: here it returns to the probe
    raise SystemExit(code)

os._exit = _exit
try:
    runpy.run_module("qms_cli", run_name="__main__")
except SystemExit:
    pass
ours = sorted(m for m in sys.modules if m.split(".")[0] == "qms_cli" and m not in startup)
theirs = sorted(m for m in sys.modules if m.split(".")[0] in heavy)
sys.stderr.write("IMPORTED=" + json.dumps(ours + theirs))
"""


def imported(args: list[str], cwd, env: dict | None = None) -> tuple[list[str], str]:
    """What `qms ARGS` run in `cwd` imports beyond what start-up may, and what it printed."""
    p = subprocess.run([sys.executable, "-c", PROBE, *(json.dumps(a) for a in (args, sorted(STARTUP), HEAVY))],
                       cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=60)
    assert "IMPORTED=" in p.stderr, p.stderr
    printed, _sep, found = p.stderr.partition("IMPORTED=")
    return json.loads(found), p.stdout + printed


@pytest.fixture
def store_with_own_type(store):
    """The test store (it speaks Chinese) with a record type of its own, types/visit.yaml."""
    (store / "types").mkdir()
    (store / "types" / "visit.yaml").write_text(
        "type: visit\nlabel: {zh: 顾客拜访, en: Customer visit}\n", encoding="utf-8")
    return store


@pytest.mark.parametrize("args, env", [
    (["--help"], {}),
    (["--lang", "zh", "--help"], {}),
    (["--help"], {"QMS_LANG": "zh"}),
    (["--version"], {}),
    ([], {}),
])
def test_help_imports_no_command_module_nor_anything_heavy(store_with_own_type, args, env):
    found, out = imported(args, store_with_own_type, env)
    assert found == [], f"qms {' '.join(args)} imported {found}"
    if args != ["--version"]:  # every command is listed all the same, the store's own type too
        for name in [*registry.COMMANDS, *builtin_type_names(), "visit"]:
            assert f"\n  {name} " in out, (name, out)


def test_help_outside_a_store_imports_nothing_more(tmp_path):
    found, out = imported(["--help"], tmp_path)
    assert found == [] and "complaint" in out


@pytest.mark.parametrize("args, loaded, not_loaded", [
    (["role", "--help"], "qms_cli.cli.rolecmds", ["qms_cli.cli.storecmds", "qms_cli.cli.records"]),
    (["schema", "export", "--help"], "qms_cli.cli.storecmds", ["qms_cli.cli.rolecmds", "qms_cli.cli.records"]),
    (["complaint", "--help"], "qms_cli.cli.records", ["qms_cli.cli.rolecmds", "qms_cli.cli.storecmds"]),
])
def test_a_command_imports_its_own_module_only(tmp_path, args, loaded, not_loaded):
    found, out = imported(args, tmp_path)
    assert loaded in found and not set(not_loaded) & set(found), found
    assert "Usage:" in out or "用法" in out


@pytest.mark.parametrize("name", list(registry.COMMANDS))
def test_every_command_of_the_table_builds_with_the_help_it_is_listed_with(name):
    entry = registry.COMMANDS[name]
    listed = registry.commands([])[name]
    built = registry.build(name, entry)
    assert built.help == listed.help and built.get_short_help_str(60) == listed.get_short_help_str(60)
    assert built.name == name and not isinstance(built, registry.LazyCommand)


@pytest.mark.parametrize("type_name", builtin_type_names())
def test_a_record_type_is_listed_with_the_help_its_verbs_have(type_name):
    listed = registry.type_command(type_name)
    assert listed.help == listed.command().help and "new, show, list, set, move, fields" in listed.help
    assert {"new", "show", "list", "set", "move", "fields", "attach"} <= set(listed.command().commands)


SAMPLE = Path(__file__).resolve().parent.parent  # the checkout is itself a store


@pytest.mark.parametrize("args", [
    ["report", "failures"],  # Markdown on standard output: no chart
    ["report", "on-time", "--period", "2026", "--format", "xlsx", "-o", "{tmp}/t.xlsx"],  # Excel draws its own
    ["report", "failures", "--no-chart", "-o", "{tmp}/f.md"],
    ["complaint", "show", "CMP-2026-0001"],
])
def test_a_command_that_draws_no_chart_imports_no_matplotlib(tmp_path, args):
    found, out = imported([a.format(tmp=tmp_path) for a in args], SAMPLE, {"QMS_NOW": "2026-11-25T09:00"})
    assert "qms_cli.reports.chart" in found or args[0] == "complaint", found  # the probe sees what is loaded
    assert not [m for m in found if m.split(".")[0] == "matplotlib"], (args, out)


def test_a_report_with_its_chart_beside_it_imports_matplotlib_then(tmp_path):
    found, out = imported(["report", "failures", "-o", str(tmp_path / "f.md")], SAMPLE, {"QMS_NOW": "2026-11-25T09:00"})
    assert "matplotlib" in found and (tmp_path / "f.svg").is_file(), out


@pytest.mark.parametrize("args", [
    ["render", "CMP-2026-0001"],  # the Markdown form
    ["complaint", "show", "CMP-2026-0001"],
    ["render", "--help"],
])
def test_only_a_pdf_imports_weasyprint(tmp_path, args):
    found, out = imported(args, SAMPLE)
    assert not [m for m in found if m.split(".")[0] in ("weasyprint", "pydyf", "tinycss2")], (args, out)


def test_a_pdf_form_imports_weasyprint_then(tmp_path):
    found, out = imported(["render", "CMP-2026-0001", "--format", "pdf", "-o", str(tmp_path / "c.pdf")], SAMPLE)
    assert "weasyprint" in found and (tmp_path / "c.pdf").is_file(), out
