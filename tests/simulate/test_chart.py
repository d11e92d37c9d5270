"""Tests for reliant.simulate.chart: the PNG of the run over time."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from reliant.simulate import Scenario, simulate
from reliant.simulate.chart import ChartUnavailable, write_chart

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _scenario(tiny: Callable[..., Scenario]) -> Scenario:
    breaker = {"kind": "circuit_breaker", "min_calls": 5, "window": {"size": 5}, "open_for": "1s"}
    return tiny(
        dependency={
            "latency": "20ms",
            "incidents": [{"name": "outage", "start": "3s", "end": "6s", "failure_rate": 1}],
        },
        candidates=[
            {"name": "bare"},
            {"name": "breaker", "pipeline": [{"kind": "fallback", "value": 0}, breaker]},
        ],
    )


def test_the_chart_is_a_png(tiny: Callable[..., Scenario], tmp_path: Path) -> None:
    """write_chart draws a PNG file, with breaker and fallback panels when there are some."""
    out = write_chart(simulate(_scenario(tiny)), tmp_path / "run.png")
    assert (tmp_path / "run.png", PNG_SIGNATURE) == (out, out.read_bytes()[:8])
    assert out.stat().st_size > 10_000


def test_without_matplotlib_the_error_says_how_to_install_it(
    tiny: Callable[..., Scenario], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing matplotlib raises ChartUnavailable naming the extra to install."""
    report = simulate(tiny())
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ChartUnavailable, match=r"pip install 'reliant\[chart\]'"):
        write_chart(report, tmp_path / "run.png")
    assert not (tmp_path / "run.png").exists()


def test_an_empty_run_still_charts(tiny: Callable[..., Scenario], tmp_path: Path) -> None:
    """A run without requests draws empty panels rather than failing."""
    out = write_chart(simulate(tiny(traffic={"rate": 0})), tmp_path / "empty.png")
    assert PNG_SIGNATURE == out.read_bytes()[:8]
