"""Messages, refusals and help in Chinese: every sentence goes through gettext and the
Chinese catalog translates every one of them."""

from __future__ import annotations

import ast
import gettext
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import QE, identity_env

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "qms_cli"

# Calls whose argument at this position (or keyword) is a sentence a user reads.
MESSAGE_ARGS = {"QmsError": 0, "BadInput": 0, "BadFile": 1, "NotAStore": 0, "Refused": 0,
                "NotAuthorised": 0, "Busy": 0, "BadParameter": 0, "Finding": 2, "err": 0,
                "echo": 0, "note": 0, "warn": 0}
MESSAGE_KEYWORDS = {"help", "message", "details", "problem", "epilog", "short_help"}
WORDS = re.compile(r"[A-Za-z]{2,}")
PRAGMA = "# not a sentence"


def _catalog_tool():
    spec = importlib.util.spec_from_file_location("catalog", ROOT / "scripts" / "catalog.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _error_classes(trees: list[ast.Module]) -> dict[str, int]:
    """MESSAGE_ARGS, with every exception class of the package that derives from one."""
    known = dict(MESSAGE_ARGS)
    grew = True
    while grew:
        grew = False
        for tree in trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in known:
                    for base in node.bases:
                        if _name(base) in known and _name(base) not in ("err", "echo", "note", "warn", "Finding"):
                            known[node.name] = known[_name(base)]
                            grew = True
                            break
    return known


def _bare(node: ast.expr | None) -> bool:
    """English words a user would read, not passed through _() / ngettext()."""
    if node is None:
        return False
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and bool(WORDS.search(node.value))
    if isinstance(node, ast.JoinedStr):
        return any(_bare(v) for v in node.values if isinstance(v, ast.Constant))
    if isinstance(node, ast.BinOp):
        return _bare(node.left) or _bare(node.right)
    if isinstance(node, ast.IfExp):
        return _bare(node.body) or _bare(node.orelse)
    if isinstance(node, (ast.List, ast.Tuple)):
        return any(_bare(e) for e in node.elts)
    if isinstance(node, ast.Call):
        if _name(node.func) == "format" and isinstance(node.func, ast.Attribute):
            return _bare(node.func.value)
        if _name(node.func) == "join" and isinstance(node.func, ast.Attribute):
            return any(_bare(a) for a in node.args)
    return False


def untranslated() -> list[str]:
    files = sorted(PACKAGE.rglob("*.py"))
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in files}
    positions = _error_classes(list(trees.values()))
    found = []
    for path, tree in trees.items():
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            args: list[ast.expr] = []
            name = _name(node.func)
            if name in positions and len(node.args) > positions[name]:
                args.append(node.args[positions[name]])
            args += [k.value for k in node.keywords if k.arg in MESSAGE_KEYWORDS]
            for arg in args:
                if _bare(arg) and PRAGMA not in lines[node.lineno - 1]:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(arg)[:90]}")
    return found


def shadowed() -> list[str]:
    """A function that assigns `_` (`_, path = ...`) makes every `_("...")` in it a call of
    that value: a crash on the path that was meant to print a refusal."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Module)):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Name) and inner.id == "_" and isinstance(inner.ctx, ast.Store):
                        found.append(f"{path.relative_to(ROOT)}:{inner.lineno}: assigns _ (shadows gettext)")
    return sorted(set(found))


def test_nothing_shadows_gettext():
    found = shadowed()
    assert not found, "\n".join(found)


def test_every_sentence_goes_through_gettext():
    """A refusal, finding, note or help text written as a bare English string (or an
    f-string) would never be translated: it must be _("... {name} ...").format(name=...)."""
    found = untranslated()
    assert not found, "not through _():\n" + "\n".join(found)


def test_every_message_has_a_chinese_translation():
    """Every _() in the code is in qms.po, translated, with the same placeholders, and
    qms.mo is compiled from it (scripts/catalog.py update)."""
    tool = _catalog_tool()
    found = tool.problems()
    assert not found, "\n".join(found)


@pytest.mark.parametrize("text,ok", [
    ("_('Complaint {id} is closed')", False),
    ("raise Refused(f'{id} is closed')", True),
    ("raise Refused(_('{id} is closed').format(id=x))", False),
    ("Finding(src, 'state', 'unknown state ' + s)", True),
    ("typer.Option(None, help='The store.')", True),
    ("typer.Option(None, help=_('The store.'))", False),
    ("raise BadFile(src, f'line {n} is not YAML')", True),
    ("raise BadInput(message)", False),
])
def test_the_gettext_guard_sees_a_bare_sentence(text, ok):
    tree = ast.parse(text)
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call))
    positions = _error_classes([tree])
    args = [call.args[positions[_name(call.func)]]] if _name(call.func) in positions and call.args else []
    args += [k.value for k in call.keywords if k.arg in MESSAGE_KEYWORDS]
    assert any(_bare(a) for a in args) == ok


# ---- the command line in Chinese, through real git stores ------------------------------

CJK = re.compile(r"[\u4e00-\u9fff]")


def zh(message: str, **values) -> str:
    """`message` as the compiled Chinese catalog says it."""
    catalog = gettext.translation("qms", str(PACKAGE / "locale"), languages=["zh"])
    return catalog.gettext(message).format(**values)


def _no_lang(env: dict) -> dict:
    """The environment of a user who has said nothing about language."""
    return {k: v for k, v in env.items() if k not in ("QMS_LANG", "LANG", "LC_ALL", "LC_MESSAGES", "LANGUAGE")}


def _qms(args, *, cwd, env=None, who=None):
    full = _no_lang(dict(os.environ))
    if who:
        full.update(identity_env(who))
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "qms_cli", *args], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=120)


def test_an_illegal_move_is_refused_in_chinese_with_lang_zh(qms, complaint):
    r = qms("--lang", "zh", "complaint", "move", complaint, "closed", who=("王强", "wang.qiang@example.com"))
    assert r.code == 1
    assert "cannot move" not in r.err
    assert zh("{type} {id} is '{state}': it cannot move to '{target}'; it can move to: {states}",
              type="complaint", id=complaint, state="received", target="closed", states="").split("'received'")[0] in r.err
    assert "'closed'" in r.err and CJK.search(r.err)


@pytest.mark.parametrize("env, chinese", [({"QMS_LANG": "zh"}, True), ({"QMS_LANG": "en"}, False), ({}, True)])
def test_qms_lang_and_else_the_stores_lang_decide_the_language(store, env, chinese):
    """The test store says `lang: zh`: with nothing else said, qms speaks Chinese."""
    r = _qms(["complaint", "show", "CMP-2026-9999"], cwd=store, env=env)
    assert r.returncode == 2
    assert ("no complaint record 'CMP-2026-9999'" not in r.stderr) == chinese, r.stderr
    said = zh("no {type} record {id} in {folder}", type="complaint", id="'CMP-2026-9999'", folder=store / "records")
    assert (said in r.stderr) == chinese, r.stderr


def test_an_english_store_speaks_english_and_lang_overrides_it(store):
    config = store / "qms.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("lang: zh", "lang: en"), encoding="utf-8")
    assert "no complaint record" in _qms(["complaint", "show", "CMP-2026-9999"], cwd=store).stderr
    r = _qms(["--lang", "zh", "complaint", "show", "CMP-2026-9999"], cwd=store)
    assert "no complaint record" not in r.stderr and CJK.search(r.stderr)


def test_help_is_chinese_in_a_chinese_store_and_with_lang(store, tmp_path):
    r = _qms(["--help"], cwd=store)
    assert r.returncode == 0
    assert "用法：" in r.stdout and "选项" in r.stdout and "命令" in r.stdout
    assert "显示本帮助并退出" in r.stdout
    assert "客诉记录（complaint）" in r.stdout
    assert "Show this message" not in r.stdout and "Usage:" not in r.stdout
    # outside any store, --lang decides before the command line is parsed
    outside = tmp_path / "nowhere"
    outside.mkdir()
    assert "Usage:" in _qms(["--help"], cwd=outside).stdout
    sub = _qms(["--lang", "zh", "complaint", "move", "--help"], cwd=outside).stdout
    assert "用法：" in sub and "--comment" in sub and CJK.search(sub.split("--comment")[1])
    assert "用法：" in _qms(["--help"], cwd=outside, env={"LANG": "zh_CN.UTF-8"}).stdout


def test_a_command_line_qms_cannot_read_is_said_in_chinese(store):
    r = _qms(["complaint", "mvoe"], cwd=store)
    assert r.returncode == 2
    assert "错误：没有命令 'mvoe'。是否想用 'move'？" in r.stderr
    r = _qms(["complaint", "show"], cwd=store)
    assert r.returncode == 2 and "缺少参数 'ID'。" in r.stderr and "Missing" not in r.stderr
    r = _qms(["complaint", "show"], cwd=store, env={"QMS_LANG": "en"})
    assert "Error: Missing argument 'ID'." in r.stderr


def test_validate_findings_follow_the_language_not_the_cache(qms, store, complaint):
    path = next((store / "records" / "complaint").rglob(f"{complaint}.yaml"))
    path.write_text(path.read_text(encoding="utf-8").replace("channel: phone", "channel: pigeon"), encoding="utf-8")
    en = qms("validate")
    assert en.code == 1 and "pigeon" in en.out + en.err
    cn = qms("--lang", "zh", "validate")
    assert cn.code == 1 and CJK.search(next(line for line in cn.out.splitlines() if "pigeon" in line))
    assert (en.out + en.err) != (cn.out + cn.err)
    assert qms("validate").out == en.out  # and back


def test_a_chinese_department_from_qms_init_to_a_clone_that_passes_its_own_ci(tmp_path):
    """A store made by `qms init --lang zh`, worked in Chinese (labels in, messages out),
    with the customer's letter attached, cloned, and checked in the clone by the steps its
    own CI file lists."""
    def at(when):
        return {"GIT_AUTHOR_DATE": when + "+08:00", "GIT_COMMITTER_DATE": when + "+08:00"}

    r = _qms(["init", "s", "--company", "测试汽车部件有限公司", "--site", "HZ", "--lang", "zh",
              "--department", "质量部"], cwd=tmp_path, who=QE, env=at("2026-03-06T09:00:00"))
    assert r.returncode == 0, r.stderr
    assert CJK.search(r.stdout) and "new store at" not in r.stdout
    store = tmp_path / "s"
    letter = tmp_path / "客户来函.pdf"
    letter.write_bytes(b"%PDF-1.4 letter from the customer\n")
    r = _qms(["complaint", "new", "--set", "customer.name=上汽大众汽车有限公司", "--set", "product.part_number=5QD 611 701 B",
              "--set", "channel=电话", "--set", "received_at=2026-03-06T10:00", "--set", "original=书面",
              "--set", f"original_file=@{letter}", "--set", "description=接头渗油", "--set", "class=一般投诉"],
             cwd=store, who=QE, env=at("2026-03-06T10:05:00"))
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    # a refusal, in Chinese, naming the state by its label
    r = _qms(["complaint", "move", cid, "效果验证中"], cwd=store, who=QE, env=at("2026-03-06T10:10:00"))
    assert r.returncode == 1 and CJK.search(r.stderr) and "cannot move" not in r.stderr, r.stderr
    r = _qms(["complaint", "move", cid, "已联系顾客", "--set", "contact.at=2026-03-06T10:40", "--set", "contact.by=李雷",
              "--set", "contact.summary=已电话联系孙工", "--set", "interim_countermeasure=在库品 100% 气密检测",
              "--set", "investigation.departments=质量部，技术部"],
             cwd=store, who=QE, env=at("2026-03-06T10:45:00"))
    assert r.returncode == 0, r.stderr
    shown = _qms(["--json", "complaint", "show", cid], cwd=store, who=QE, env=at("2026-03-06T10:50:00"))
    fields = json.loads(shown.stdout)["record"]
    assert fields["channel"] == "phone" and fields["class"] == "general"
    assert fields["investigation"]["departments"] == ["质量部", "技术部"]
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(store), str(clone)], check=True, capture_output=True)
    assert (clone / fields["original_file"]).read_bytes() == letter.read_bytes()
    ci = (clone / ".gitlab-ci.yml").read_text(encoding="utf-8")
    steps = [line.strip()[2:] for line in ci.splitlines() if line.strip().startswith("- qms ")]
    assert steps == ["qms validate", "qms audit --anchors-from origin"]
    for step in steps:
        p = _qms(step.split()[1:], cwd=clone, who=QE)
        assert p.returncode == 0, f"{step}: {p.stdout}{p.stderr}"
        assert CJK.search(p.stdout + p.stderr), f"{step} speaks the store's language: {p.stdout}{p.stderr}"


def test_qms_alone_shows_its_help_not_an_error(tmp_path):
    for env, usage in (({"QMS_LANG": "en"}, "Usage: "), ({"QMS_LANG": "zh"}, "用法： ")):
        r = _qms([], cwd=tmp_path, env=env)
        assert r.returncode == 2
        assert r.stderr.startswith(usage) and "Error" not in r.stderr and "错误" not in r.stderr, r.stderr
        r = _qms(["complaint"], cwd=tmp_path, env=env)
        assert r.returncode == 2 and r.stderr.startswith(usage) and "fields" in r.stderr, r.stderr
