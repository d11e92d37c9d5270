"""Template filters: times, numbers and compact values read the same everywhere."""

from __future__ import annotations

import pytest

from reliant.server.web import templating as t

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("then", "expected"),
    [
        (None, "never"),
        (NOW, "just now"),
        (NOW - 42, "42 s ago"),
        (NOW - 185, "3 min ago"),
        (NOW - 7300, "2 h ago"),
        (NOW - 3 * 86400, "3 d ago"),
        (NOW + 30, "in 30 s"),
    ],
)
def test_ago(then: float | None, expected: str) -> None:
    """Relative times in whole units, for people."""
    assert expected == t.ago(then, NOW)


def test_absolute_times_are_utc() -> None:
    """when() and iso() show UTC; None shows a dash or nothing."""
    assert "2027-01-15 08:00:00Z" == t.when(NOW)
    assert "2027-01-15T08:00:00Z" == t.iso(NOW)
    assert ("—", "") == (t.when(None), t.iso(None))


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(None, "—"), (0.0004, "400 µs"), (0.012, "12 ms"), (1.4, "1.40 s"), (float("nan"), "—")],
)
def test_latency(seconds: float | None, expected: str) -> None:
    """Latencies in the unit that reads best."""
    assert expected == t.latency(seconds)


def test_percent_count_and_compact() -> None:
    """Ratios as percentages, counts with separators, long values cut with an ellipsis."""
    assert ("12.5%", "—") == (t.percent(0.125), t.percent(None))
    assert ("12,345", "—") == (t.count(12345), t.count(None))
    assert ("text", '{"a":[1,2]}') == (t.compact("text"), t.compact({"a": [1, 2]}))
    assert "x" * 79 + "…" == t.compact("x" * 200)


def test_fields_ending_in_at_are_times() -> None:
    """Audit fields such as created_at read as UTC times; others compact."""
    assert "2027-01-15 08:00:00Z" == t.field(NOW, "created_at")
    assert "1800000000.0" == t.field(NOW, "rate")
    assert "null" == t.field(None, "revoked_at")


def test_attribute_items_put_name_first_and_instance_last() -> None:
    """Event attributes read name first, instance last, the rest sorted case-blind."""
    items = t.attribute_items({"instance": "i", "b": 2, "A": 1, "name": "db"})
    assert [("name", "db"), ("A", 1), ("b", 2), ("instance", "i")] == items


def test_static_urls_carry_a_content_version() -> None:
    """Static URLs change when the file changes; unknown or escaping names are refused."""
    url = t.static_url("app.css")
    assert url.startswith("/static/app.css?v=")
    assert 10 == len(url.rsplit("=", 1)[1])
    with pytest.raises(ValueError, match="no static file"):
        t.static_url("../templating.py")
    with pytest.raises(ValueError, match="no static file"):
        t.static_url("missing.js")
