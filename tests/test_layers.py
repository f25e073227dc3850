"""The package's layers: imports run downward only, none hides in a function (outside the
command line, which imports the library lazily so `qms --help` stays fast), and the
modules load without a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "qms_cli"

# Lowest first. A module may import its own layer or a lower one, never a higher one.
LAYERS = [
    ("the pure helpers", ["qms_cli", "qms_cli.i18n", "qms_cli.paths", "qms_cli.text", "qms_cli.errors",
                          "qms_cli.suggest", "qms_cli.parallel", "qms_cli.wording", "qms_cli.formhtml"]),
    ("files: safe reading, YAML, output", ["qms_cli.files"]),
    ("the model of a record type", ["qms_cli.model", "qms_cli.calendar"]),
    ("the store's configuration", ["qms_cli.config", "qms_cli.deadlines", "qms_cli.schema", "qms_cli.roles"]),
    ("pure checks", ["qms_cli.checks"]),
    ("the store", ["qms_cli.store"]),
    ("the write path", ["qms_cli.engine"]),
    ("what reads a whole store", ["qms_cli.validation", "qms_cli.views", "qms_cli.reports", "qms_cli.render", "qms_cli.pdf",
                                  "qms_cli.audit", "qms_cli.demo", "qms_cli.ledgers", "qms_cli.remind",
                                  "qms_cli.publish", "qms_cli.sync"]),
    ("the command line", ["qms_cli.cli", "qms_cli.__main__"]),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer_of(module: str) -> int:
    best, rank = -1, None
    for i, (_name, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), i
    assert rank is not None, f"{module} is in no layer: add it to LAYERS"
    return rank


def _exists(module: str) -> bool:
    path = PACKAGE.parent / module.replace(".", "/")
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_in(path: Path, source: str) -> list[tuple[str, str, bool, int]]:
    """(importer, imported, inside a function, line) for each import of our own modules."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("qms_cli"):
            target = node.module
        else:
            continue
        for alias in node.names:
            sub = f"{target}.{alias.name}"
            found.append((me, sub if _exists(sub) else target, node.col_offset > 0, node.lineno))
    return found


def imports() -> list[tuple[str, str, bool, int]]:
    return [i for path in sorted(PACKAGE.rglob("*.py")) for i in imports_in(path, path.read_text(encoding="utf-8"))]


def test_every_module_is_in_a_layer():
    for path in PACKAGE.rglob("*.py"):
        layer_of(module_name(path))


def test_imports_run_downward():
    upward = [f"{a} (layer {layer_of(a)}: {LAYERS[layer_of(a)][0]}) imports {b} (layer {layer_of(b)}) at line {line}"
              for a, b, _local, line in imports() if layer_of(b) > layer_of(a)]
    assert not upward, "\n".join(upward)


def test_no_import_of_our_own_modules_hides_in_a_function():
    """A function-local import of one of our modules is a cycle hidden from view; only the
    command line imports the library lazily (for the start-up time of `qms --help`)."""
    hidden = [f"{a}:{line} imports {b} inside a function" for a, b, local, line in imports()
              if local and not a.startswith("qms_cli.cli")]
    assert not hidden, "\n".join(hidden)


def test_the_modules_load_without_a_cycle():
    graph: dict[str, set[str]] = {}
    for a, b, local, _line in imports():
        if local:
            continue
        graph.setdefault(a, set()).add(b)
        parent = b.rpartition(".")[0]  # importing a.b.c from outside a.b loads a.b first
        while parent and parent != "qms_cli" and not (a == parent or a.startswith(parent + ".")):
            graph[a].add(parent)
            parent = parent.rpartition(".")[0]
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            pytest.fail("import cycle: " + " -> ".join(trail[trail.index(node):] + [node]))
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt != node:
                visit(nxt, trail + [node])
        state[node] = 2

    for module in sorted(graph):
        visit(module, [])


@pytest.mark.parametrize("source, importer, expected", [
    ("from ..store import Store\n", "model/x.py", [("qms_cli.model.x", "qms_cli.store", False)]),
    ("def f():\n    from .store import git\n", "config.py", [("qms_cli.config", "qms_cli.store.git", True)]),
    ("from . import values\n", "model/__init__.py", [("qms_cli.model", "qms_cli.model.values", False)]),
])
def test_the_import_reader_sees_relative_and_hidden_imports(source, importer, expected):
    assert [i[:3] for i in imports_in(PACKAGE / importer, source)] == expected


def test_an_upward_import_would_be_caught():
    (a, b, _local, _line), = imports_in(PACKAGE / "model" / "x.py", "from ..store import Store\n")
    assert layer_of(b) > layer_of(a)



def test_every_public_function_of_the_engine_store_checks_and_model_says_what_it_promises():
    """Each public function, method and class of the layers a newcomer builds on has a
    docstring."""
    missing = []
    for part in ("engine", "store", "checks", "model", "roles.py", "config.py", "validation.py"):
        where = PACKAGE / part
        for path in [where] if where.suffix == ".py" else sorted(where.rglob("*.py")):
            def visit(node, prefix: str = "") -> None:
                for n in ast.iter_child_nodes(node):
                    if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        if not n.name.startswith("_") and ast.get_docstring(n) is None:
                            missing.append(f"{path.relative_to(PACKAGE.parent)}:{n.lineno} {prefix}{n.name}")
                    elif isinstance(n, ast.ClassDef) and not n.name.startswith("_"):
                        if ast.get_docstring(n) is None:
                            missing.append(f"{path.relative_to(PACKAGE.parent)}:{n.lineno} class {n.name}")
                        visit(n, n.name + ".")

            visit(ast.parse(path.read_text(encoding="utf-8")))
    assert not missing, "no docstring:\n" + "\n".join(missing)
