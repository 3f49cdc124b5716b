"""The contract suite is an oracle written apart from the reference: it imports no mock_server."""

from __future__ import annotations

import ast
from pathlib import Path

import contract_tests

PACKAGE = Path(contract_tests.__file__).resolve().parent


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at its top or inside a function (relative ones skipped)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_no_module_of_the_contract_suite_imports_the_reference() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 10, f"found only {len(files)} modules under {PACKAGE}"
    offenders = {}
    for path in files:
        wrong = sorted(m for m in imported_modules(path) if m.split(".")[0] == "mock_server")
        if wrong:
            offenders[str(path.relative_to(PACKAGE))] = wrong
    assert not offenders, f"the oracle must not come from the reference: {offenders}"
