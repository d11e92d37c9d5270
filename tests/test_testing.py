"""Tests for reliant.testing: the public helpers for testing code that uses reliant."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reliant import testing
from reliant._core.clock import VirtualClock as CoreVirtualClock
from reliant._core.events import BUS, Event
from reliant._core.testing_mode import TESTING
from reliant.testing import capture_events, is_testing, set_testing


@pytest.fixture(autouse=True)
def _reset_testing_mode() -> Iterator[None]:
    """Leave the process-wide switch as it was found."""
    enabled, attempts = TESTING.enabled, TESTING.attempts
    yield
    TESTING.enabled, TESTING.attempts = enabled, attempts


def test_public_names() -> None:
    """reliant.testing exports exactly its documented helpers."""
    assert ["Event", "VirtualClock", "capture_events", "is_testing", "set_testing"] == sorted(
        testing.__all__
    )
    assert CoreVirtualClock is testing.VirtualClock
    assert Event is testing.Event


def test_set_testing_on_and_off() -> None:
    """set_testing switches the process-wide testing mode that Retry reads."""
    set_testing()
    assert True is is_testing()
    assert (True, None) == (TESTING.enabled, TESTING.attempts)
    set_testing(False)
    assert False is is_testing()


def test_set_testing_caps_attempts() -> None:
    """attempts= caps retries while testing mode is on, and is cleared when off."""
    set_testing(True, attempts=2)
    assert 2 == TESTING.attempts
    set_testing(False, attempts=2)
    assert TESTING.attempts is None


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_set_testing_rejects_bad_attempts(bad: object) -> None:
    """attempts must be an integer >= 1; a bad value changes nothing."""
    set_testing(False)
    with pytest.raises(ValueError, match="attempts must be an integer >= 1"):
        set_testing(True, attempts=bad)  # type: ignore[arg-type]
    assert False is is_testing()


def test_capture_events_collects_inside_the_block_only() -> None:
    """capture_events yields a list of the events emitted inside the block."""
    with capture_events() as events:
        BUS.emit("timeout.exceeded", "t", 1.0, {"timeout": 1.0})
    BUS.emit("timeout.exceeded", "t", 2.0, {"timeout": 1.0})
    assert [Event("timeout.exceeded", "t", 1.0, {"timeout": 1.0})] == events


def test_capture_events_filters() -> None:
    """capture_events takes the same kinds and policy filters as subscribe."""
    with capture_events(kinds=["fallback"], policy="a") as events:
        BUS.emit("fallback.used", "a", 0.0)
        BUS.emit("fallback.used", "b", 0.0)
        BUS.emit("timeout.exceeded", "a", 0.0)
    assert [("fallback.used", "a")] == [(e.kind, e.policy) for e in events]


def test_capture_events_unsubscribes_on_error() -> None:
    """An exception in the block still removes the capture's subscription."""
    active_before = BUS.active
    with pytest.raises(RuntimeError), capture_events():
        raise RuntimeError("boom")
    assert active_before == BUS.active
