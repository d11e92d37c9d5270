"""Tests for reliant.telemetry: adapters load lazily, with their libraries."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import reliant.telemetry


def _loaded_after(code: str) -> list[str]:
    probe = (
        f"import sys, json\n{code}\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules}"
        " & {'prometheus_client', 'opentelemetry', 'logging'})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    loaded: list[str] = json.loads(out)
    return loaded


def test_importing_the_package_loads_no_adapter_library() -> None:
    """`import reliant.telemetry` imports neither prometheus_client, opentelemetry nor logging."""
    assert [] == _loaded_after("import reliant, reliant.telemetry")


def test_each_adapter_loads_only_its_own_library() -> None:
    """The Prometheus adapter does not pull in OpenTelemetry, nor the reverse."""
    assert ["prometheus_client"] == _loaded_after("import reliant.telemetry.prometheus")
    assert "prometheus_client" not in _loaded_after("import reliant.telemetry.otel")


def test_adapters_are_attributes_of_the_package() -> None:
    """reliant.telemetry.<adapter> imports the module on first access."""
    assert "reliant.telemetry.otel" == reliant.telemetry.otel.__name__
    with pytest.raises(AttributeError, match="has no attribute 'statsd'"):
        _ = reliant.telemetry.statsd  # type: ignore[attr-defined]
