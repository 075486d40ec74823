"""Package boundaries from the design: analysis/ and collectors/ never import app/, nor each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {"analysis": {"app", "collectors"}, "collectors": {"app", "analysis"}}


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_does_not_cross_its_boundary(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no Python files"
    crossings = {
        str(path.relative_to(ROOT)): sorted(_imported_roots(path) & FORBIDDEN[package]) for path in files
    }
    assert {path: bad for path, bad in crossings.items() if bad} == {}


def test_analysis_stays_pure() -> None:
    """No database, HTTP or settings libraries in analysis/."""
    impure = {"sqlalchemy", "httpx", "fastapi", "pydantic_settings", "requests"}
    found = {
        str(path.relative_to(ROOT)): sorted(_imported_roots(path) & impure)
        for path in (ROOT / "analysis").rglob("*.py")
    }
    assert {path: bad for path, bad in found.items() if bad} == {}
