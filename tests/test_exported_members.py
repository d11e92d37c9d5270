"""The SDK's public surface: a sorted, pinned `__all__` that only re-exports."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import reliant

EXPECTED = [
    "AdaptiveLimit",
    "Backoff",
    "Bulkhead",
    "BulkheadFullError",
    "CircuitBreaker",
    "CircuitMetrics",
    "CircuitOpenError",
    "CircuitState",
    "Clock",
    "ConcurrencyLimitError",
    "CountWindow",
    "Decision",
    "Event",
    "Fallback",
    "Fault",
    "Hedge",
    "InjectedFault",
    "MemoryBackend",
    "MonotonicClock",
    "Pipeline",
    "Policy",
    "RateLimitBackend",
    "RateLimitedError",
    "RateLimiter",
    "Registry",
    "RejectedError",
    "ReliantError",
    "Retry",
    "RetryBudget",
    "Subscription",
    "Throttle",
    "ThrottledError",
    "TimeWindow",
    "Timeout",
    "TimeoutExceeded",
    "__version__",
    "build_pipeline",
    "build_policy",
    "connect",
    "deadline_remaining",
    "subscribe",
]


def test_all_is_pinned() -> None:
    """`reliant.__all__` lists exactly the documented public names."""
    assert EXPECTED == reliant.__all__


def test_all_is_sorted() -> None:
    """`__all__` is kept sorted, so additions are easy to review."""
    assert sorted(set(reliant.__all__)) == reliant.__all__


def test_every_public_name_resolves_and_lives_in_a_private_or_domain_module() -> None:
    """Each name exists and is defined elsewhere: `__init__` only re-exports."""
    for name in reliant.__all__:
        value = getattr(reliant, name)
        if name == "__version__":
            continue
        assert getattr(value, "__module__", "").startswith("reliant."), name


def test_design_md_names_are_all_exported() -> None:
    """The names DESIGN.md fixes for the SDK are all present."""
    fixed = {
        "Retry", "Backoff", "CircuitBreaker", "CountWindow", "TimeWindow", "CircuitState",
        "Timeout", "Bulkhead", "RateLimiter", "Decision", "Fallback", "Hedge",
        "AdaptiveLimit", "Throttle", "Fault", "Pipeline", "ReliantError", "RejectedError",
        "CircuitOpenError", "BulkheadFullError", "RateLimitedError", "TimeoutExceeded",
    }  # fmt: skip
    assert set() == fixed - set(reliant.__all__)


def test_version_matches_pyproject() -> None:
    """`reliant.__version__` is the version pyproject.toml declares."""
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    assert tomllib.loads(pyproject.read_text())["project"]["version"] == reliant.__version__


def test_import_reliant_loads_no_policy_until_one_is_used() -> None:
    """`import reliant` is lazy; `reliant.Retry` loads only what Retry needs."""
    code = (
        "import json, sys, reliant\n"
        "before = sorted(m for m in sys.modules if m.startswith('reliant.'))\n"
        "reliant.Retry\n"
        "after = sorted(m for m in sys.modules if m.startswith('reliant.'))\n"
        "print(json.dumps([before, after]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    before, after = json.loads(out)
    assert [] == before
    assert "reliant.resilience.retry" in after
    assert "reliant.resilience.circuit_breaker" not in after
