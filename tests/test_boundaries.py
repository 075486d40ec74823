"""Package boundaries from the design: analysis/ and collectors/ never import app/, nor each other; no two
packages of app/ import each other; tests never import bench/; no product module passes 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {"analysis": {"app", "collectors"}, "collectors": {"app", "analysis"}}
PRODUCT = ("app", "analysis", "collectors")
MAX_MODULE_LINES = 400


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


def _imported_modules(path: Path, package: str) -> set[str]:
    """Every module a file imports, anywhere in it (function-local imports too), as dotted names;
    relative imports are resolved against the file's package (`package`, dotted)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            # `from app import alerts` imports the package app.alerts
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _app_node(module: str) -> str | None:
    """The node of app/ a dotted module belongs to: a package (`app.alerts`) or a top-level module
    (`app.pipeline`); None outside app/ or for `app` itself."""
    parts = module.split(".")
    if parts[0] != "app" or len(parts) < 2:
        return None
    node = f"app.{parts[1]}"
    path = ROOT / "app" / parts[1]
    return node if path.is_dir() or path.with_suffix(".py").is_file() else None


def app_import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """node -> the other nodes of app/ it imports (any import anywhere in any of its files)."""
    graph: dict[str, set[str]] = {}
    for path in sorted((root / "app").rglob("*.py")):
        relative = path.relative_to(root).with_suffix("")
        parts = relative.parts
        node = "app" if parts[1] == "__init__" else f"app.{parts[1]}"
        targets = {_app_node(module) for module in _imported_modules(path, ".".join(parts[:-1]))}
        graph.setdefault(node, set()).update(t for t in targets if t and t != node)
    return graph


def mutual_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Pairs of nodes that import each other, directly."""
    return sorted(
        (a, b) for a, targets in graph.items() for b in targets if a < b and a in graph.get(b, set())
    )


def test_no_two_app_packages_import_each_other() -> None:
    graph = app_import_graph()
    assert {"app.alerts", "app.posts", "app.pipeline", "app.models"} <= set(graph)
    assert mutual_imports(graph) == []


def test_the_mutual_import_check_catches_a_cycle(tmp_path: Path) -> None:
    """The check itself: a function-local import and a relative one count; a pair of packages that
    import each other is reported."""
    module = tmp_path / "module.py"
    module.write_text(
        "def f():\n    from app.alerts import engine\n    from . import models\n", encoding="utf-8"
    )
    assert {_app_node(m) for m in _imported_modules(module, "app.posts")} >= {"app.alerts", "app.posts"}
    graph = {"app.posts": {"app.topics"}, "app.topics": set(), "app.pipeline": {"app.posts"}}
    assert mutual_imports(graph) == []
    graph["app.topics"].add("app.posts")
    assert mutual_imports(graph) == [("app.posts", "app.topics")]


def test_tests_do_not_import_bench() -> None:
    """bench/ may use tests/support; the tests never depend on the benchmarks."""
    found = {
        str(path.relative_to(ROOT)): "bench"
        for path in (ROOT / "tests").rglob("*.py")
        if "bench" in _imported_roots(path)
    }
    assert found == {}


def long_modules(root: Path = ROOT, limit: int = MAX_MODULE_LINES) -> dict[str, int]:
    """Product modules longer than `limit` lines."""
    lengths = {
        str(path.relative_to(root)): len(path.read_text(encoding="utf-8").splitlines())
        for package in PRODUCT
        for path in (root / package).rglob("*.py")
    }
    return {path: lines for path, lines in sorted(lengths.items()) if lines > limit}


def test_no_product_module_passes_400_lines() -> None:
    assert long_modules() == {}
    assert long_modules(limit=300), "the check reads the modules (some pass 300 lines)"
