"""The SLO kind's spec model: one SLI, a valid window, alerting defaults."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from reliant.spec.models import SLOSpec

BASE: dict[str, Any] = {
    "service": "shop",
    "objective": 99.9,
    "sli": {"ratio": {"operation": "pay"}},
}


def test_defaults() -> None:
    """Rolling 30 days, occurrence budgeting, the workbook's alerts, a 10-event guard."""
    slo = SLOSpec(**BASE)
    assert ("30d", "occurrences", [], 10, ["success"]) == (
        slo.window.rolling,
        slo.budgeting,
        slo.alerting.windows,
        slo.alerting.min_events,
        slo.sli.ratio.good if slo.sli.ratio else None,
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sli": {}}, "exactly one of ratio, latency, prometheus"),
        ({"sli": {"latency": {"operation": "pay", "threshold": "300ms"}}}, "not a histogram bound"),
        ({"sli": {"prometheus": {"error_query": "a", "total_query": "b"}}}, "{{.window}}"),
        ({"window": {"rolling": "30d", "calendar": "month"}}, "either rolling"),
        ({"window": {"calendar": "month", "timezone": "Mars/Base"}}, "unknown time zone"),
        ({"window": {"rolling": "5m"}}, "at least 3600s"),
        ({"objective": 100}, "less than 100"),
    ],
)
def test_invalid_slos_say_why(change: dict[str, Any], message: str) -> None:
    """Each mistake is refused with a message naming it."""
    with pytest.raises(ValidationError, match=message.replace("{", r"\{").replace("}", r"\}")):
        SLOSpec(**{**BASE, **change})


def test_latency_and_calendar_slo() -> None:
    """A latency SLI on a histogram bound, over calendar months in a time zone."""
    slo = SLOSpec(
        **{
            **BASE,
            "sli": {"latency": {"operation": "pay", "threshold": "250ms"}},
            "window": {"calendar": "month", "timezone": "Europe/Paris"},
        }
    )
    assert ("month", "Europe/Paris") == (slo.window.calendar, slo.window.timezone)
