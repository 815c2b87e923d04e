"""The package layout's import rules (.importlinter, docs/architecture.md) hold, and breaking one is caught."""
from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

from papilla.shared import names

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "papilla"
LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"]
STORE_METHODS = {"insert", "get", "find_one", "find", "count", "update", "delete"}
#: module-level names that equal a collection name but are not one
NOT_COLLECTIONS = {("papilla/shared/crypto/keys.py", "AUDIT")}  # a key purpose (the audit MAC key)


def lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(LINT + ["--config", str(ROOT / ".importlinter"), "--no-cache"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_import_contracts_hold():
    done = lint(ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


@pytest.mark.parametrize("where, line, broken", [
    ("shared/stray.py", "from papilla.services.match import gallery", "Layers: cli"),
    ("services/match/stray.py", "from papilla.services.extract import templating", "Services: workers"),
    ("services/capture/stray.py", "from papilla.services.extract.engine import extract", "Services: workers"),
    ("services/lifecycle/stray.py", "from papilla.services.workers import runtime", "Services: workers"),
])
def test_a_forbidden_import_breaks_the_check(tmp_path, where, line, broken):
    shutil.copytree(PACKAGE, tmp_path / "papilla", ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    (tmp_path / "papilla" / where).write_text(f'"""A module that breaks a rule."""\n{line}\n')
    done = lint(tmp_path)
    assert done.returncode != 0
    assert f"{broken}" in done.stdout and "BROKEN" in done.stdout
    assert f"papilla.{where[:-3].replace('/', '.')}" in done.stdout   # the report names the offender


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module (iterative Tarjan)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_no_module_import_cycles():
    assert _cycles(grimp.build_graph("papilla")) == []


def test_a_cycle_would_be_found():
    graph = grimp.ImportGraph()
    for module in ("p", "p.a", "p.b", "p.c"):
        graph.add_module(module)
    graph.add_import(importer="p.a", imported="p.b")
    graph.add_import(importer="p.b", imported="p.a")
    graph.add_import(importer="p.c", imported="p.a")
    assert _cycles(graph) == [["p.a", "p.b"]]


def _sources():
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        yield path.relative_to(ROOT).as_posix(), text, ast.parse(text)


def _comment_above(lines: list[str], lineno: int) -> str:
    """The block of comment lines right above line `lineno` (1-based), first line first."""
    first = lineno - 1
    while first > 0 and lines[first - 1].strip().startswith("#"):
        first -= 1
    return " ".join(line.strip() for line in lines[first:lineno - 1])


def test_imports_sit_at_module_top_unless_a_comment_says_why():
    unexplained = []
    for name, text, tree in _sources():
        lines = text.splitlines()
        module_reason = any(line.startswith("# lazy imports:") for line in lines)
        for function in ast.walk(tree):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    here = lines[node.lineno - 1]
                    if not (module_reason or "lazy" in here or _comment_above(lines, node.lineno).startswith("# lazy")):
                        unexplained.append(f"{name}:{node.lineno}: {here.strip()}")
    assert unexplained == []


def _is_store(receiver: ast.expr) -> bool:
    """`store.…`, `centre.store.…`, `self._store.…`: a Store, not a dict that happens to have `get`."""
    name = receiver.id if isinstance(receiver, ast.Name) else getattr(receiver, "attr", "")
    return name.lstrip("_") == "store"


def test_collection_names_are_spelled_only_in_names_py():
    collections = set(names.ALL)
    spelled = []
    for name, _, tree in _sources():
        if name == "papilla/shared/names.py":
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in STORE_METHODS and _is_store(node.func.value)
                    and node.args and isinstance(node.args[0], ast.Constant)
                    and node.args[0].value in collections):
                spelled.append(f"{name}:{node.lineno}: store.{node.func.attr}({node.args[0].value!r})")
        for node in tree.body:
            if isinstance(node, ast.Assign):
                values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
                targets = [t for target in node.targets
                           for t in (target.elts if isinstance(target, ast.Tuple) else [target])]
                for target, value in zip(targets, values):
                    if (isinstance(value, ast.Constant) and value.value in collections
                            and (name, getattr(target, "id", "")) not in NOT_COLLECTIONS):
                        spelled.append(f"{name}:{node.lineno}: {getattr(target, 'id', '?')} = {value.value!r}")
    assert spelled == []


def test_the_indexes_declare_exactly_the_named_collections():
    from papilla.shared.store import indexes

    assert set(indexes.COLLECTIONS) == set(names.ALL)


def test_tests_share_helpers_only_through_tests_helpers():
    """A test module is never imported by another module: shared helpers live in tests/helpers/."""
    tests = ROOT / "tests"
    crossing = []
    for path in sorted(tests.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            imported = []
            if isinstance(node, ast.ImportFrom) and node.module:
                imported = [node.module] if node.level == 0 else [f".{node.module}"]
            elif isinstance(node, ast.Import):
                imported = [alias.name for alias in node.names]
            for module in imported:
                if module.startswith(".") or (module.startswith("tests.") and not module.startswith("tests.helpers")):
                    crossing.append(f"{path.relative_to(ROOT)}:{node.lineno}: {module}")
    assert crossing == []
    for infra_module in (ROOT / "infra").rglob("*.py"):
        assert "from tests" not in infra_module.read_text() and "import tests" not in infra_module.read_text()
