"""How the load tests' modules depend on each other and on the contract suite."""

from __future__ import annotations

import ast
from pathlib import Path

import contract_tests
import load_tests

PACKAGE = Path(load_tests.__file__).resolve().parent


def _module(name: str) -> str:
    """A module of the package by its dotted name; the package itself is its __init__."""
    return name.removeprefix("load_tests.") if name != "load_tests" else "__init__"


def _imports(path: Path) -> list[ast.Import | ast.ImportFrom]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]


def own_imports(path: Path) -> set[str]:
    """The package's modules a file imports, at its top or inside a function."""
    out = set()
    for node in _imports(path):
        if isinstance(node, ast.Import):
            out.update(_module(a.name) for a in node.names if a.name.startswith("load_tests."))
            continue
        if node.level == 1:
            base = f"load_tests.{node.module}" if node.module else "load_tests"
        else:
            base = node.module or ""
        if base != "load_tests" and not base.startswith("load_tests."):
            continue
        if base == "load_tests":  # from . import plugin, or from load_tests import verify
            for alias in node.names:
                is_module = (PACKAGE / f"{alias.name}.py").is_file()
                out.add(alias.name if is_module else "__init__")
        else:
            out.add(_module(base))
    return out


def test_the_load_tests_modules_import_each_other_without_a_cycle() -> None:
    graph = {path.stem: own_imports(path) - {path.stem} for path in PACKAGE.glob("*.py")}
    assert {"plugin", "users", "run"} <= graph.keys()
    cycles = []

    def visit(module: str, trail: list[str]) -> None:
        if module in trail:
            cycles.append(" -> ".join([*trail[trail.index(module) :], module]))
            return
        for imported in sorted(graph.get(module, ())):
            visit(imported, [*trail, module])

    for module in sorted(graph):
        visit(module, [])
    assert not cycles, f"import cycles among load_tests modules: {sorted(set(cycles))}"


def test_the_load_tests_use_only_what_the_contract_suite_exports() -> None:
    exported = set(contract_tests.__all__)
    wrong = []
    for path in sorted(PACKAGE.glob("*.py")):
        for node in _imports(path):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name.startswith("contract_tests.")]
                wrong += [f"{path.name}: import {name}" for name in names]
            elif node.level == 0 and (node.module or "").startswith("contract_tests."):
                wrong.append(f"{path.name}: from {node.module} import ...")
            elif node.level == 0 and node.module == "contract_tests":
                names = [a.name for a in node.names if a.name not in exported]
                wrong += [f"{path.name}: {name} is not in contract_tests.__all__" for name in names]
    assert not wrong, wrong
