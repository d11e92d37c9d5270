"""The control plane's architecture rules from DESIGN.md, checked on every run."""

from __future__ import annotations

import ast
from pathlib import Path

SERVER = Path(__file__).resolve().parents[2] / "src" / "reliant" / "server"
DOMAINS = SERVER / "domains"
WEB_FRAMEWORKS = ("fastapi", "starlette", "uvicorn", "jinja2")


def _imports(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
    return found


def _domain_of(path: Path) -> str | None:
    parts = path.relative_to(SERVER).parts
    return parts[1] if parts[0] == "domains" and len(parts) > 2 else None


def test_domains_import_each_other_only_through_facades() -> None:
    """A domain imports another domain's package (its facade), never its modules."""
    offenders = []
    for path in SERVER.rglob("*.py"):
        own = _domain_of(path)
        for module, line in _imports(path):
            parts = module.split(".")
            if parts[:3] != ["reliant", "server", "domains"] or len(parts) < 5:
                continue
            if parts[3] != own:
                offenders.append(f"{path.relative_to(SERVER)}:{line} imports {module}")
    assert [] == offenders


def test_use_cases_import_no_web_framework() -> None:
    """service.py modules and pure logic hold no FastAPI/Starlette/Jinja imports."""
    offenders = [
        f"{path.relative_to(SERVER)}:{line} imports {module}"
        for path in DOMAINS.rglob("service.py")
        for module, line in _imports(path)
        if module.split(".")[0] in WEB_FRAMEWORKS
    ]
    assert [] == offenders


def test_use_cases_never_commit() -> None:
    """service.py modules never commit: the request or job boundary does."""
    offenders = [
        f"{path.relative_to(SERVER)}:{node.lineno}"
        for path in [*DOMAINS.rglob("service.py"), *SERVER.glob("*/service.py")]
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr == "commit"
    ]
    assert [] == offenders
