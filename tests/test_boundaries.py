"""Architecture boundaries that DESIGN.md promises, checked on every run."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "reliant"
#: Modules that serve the CLI, simulator and control plane; the SDK core never imports them.
OUTSIDE_SDK = {
    "server",
    "cli",
    "__main__",
    "simulate",
    "gameday",
    "demo",
    "spec",
    "redis",
    "telemetry",
    "integrations",
}


def _imports(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
    return found


def _sdk_files() -> list[Path]:
    return [
        p
        for p in SRC.rglob("*.py")
        if p.relative_to(SRC).parts[0].removesuffix(".py") not in OUTSIDE_SDK
    ]


def test_import_reliant_loads_only_the_standard_library() -> None:
    """`import reliant` pulls in no third-party module at all."""
    code = "import sys, json, reliant; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    roots = {name.split(".", 1)[0] for name in json.loads(out)}
    foreign = sorted(
        r for r in roots if r not in sys.stdlib_module_names and r not in {"reliant", "__main__"}
    )
    assert [] == foreign


def test_sdk_never_imports_the_server_cli_or_simulator() -> None:
    """No SDK module imports reliant.server (nor the CLI or simulator, which are not SDK)."""
    offenders = [
        f"{path.relative_to(SRC)}:{line} imports {module}"
        for path in _sdk_files()
        for module, line in _imports(path)
        if module.split(".")[:2] in (["reliant", part] for part in OUTSIDE_SDK)
    ]
    assert [] == offenders


def test_sdk_imports_only_the_standard_library_at_module_level() -> None:
    """SDK modules import third-party packages only lazily, inside functions."""
    offenders = []
    for path in _sdk_files():
        tree = ast.parse(path.read_text())
        for node in tree.body:
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                root = name.split(".", 1)[0]
                if root not in sys.stdlib_module_names and root != "reliant":
                    offenders.append(f"{path.relative_to(SRC)}: {name}")
    assert [] == offenders


#: Heavy standard-library modules a sync program must not pay for: asyncio alone
#: brings ssl and concurrent.futures (≈50 ms, ≈11 MiB). (`inspect` is not listed:
#: `dataclasses`, which every options class uses, imports it.)
HEAVY = ("asyncio", "logging", "ssl", "concurrent.futures")


def _heavy_loaded_by(code: str) -> list[str]:
    probe = (
        f"import sys, json\n{code}\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    loaded: list[str] = json.loads(out)
    return loaded


def test_sync_policies_import_without_asyncio_or_logging() -> None:
    """Importing the sync policies loads neither asyncio, logging, ssl nor concurrent.futures."""
    code = (
        "from reliant.resilience.retry import Retry\n"
        "from reliant.resilience.circuit_breaker import CircuitBreaker\n"
        "from reliant.resilience.pipeline import Pipeline\n"
        "from reliant.resilience.timeout import Timeout\n"
        "from reliant.resilience.bulkhead import Bulkhead\n"
        "from reliant.resilience.ratelimit import RateLimiter\n"
    )
    assert [] == _heavy_loaded_by(code)


def test_no_sdk_module_imports_asyncio_or_logging_at_module_level() -> None:
    """Every SDK module but the virtual-time event loop imports without the heavy modules."""
    modules = sorted(
        ".".join(("reliant", *p.relative_to(SRC).with_suffix("").parts)).removesuffix(".__init__")
        for p in _sdk_files()
        if p.name != "virtual_loop.py"
    )
    assert [] == _heavy_loaded_by("\n".join(f"import {m}" for m in modules))
