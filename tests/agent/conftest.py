"""Fixtures of the agent's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from agent_helpers import CREATED

from reliant._core.events import BUS


@pytest.fixture(autouse=True)
def _close_agents() -> Iterator[None]:
    """Close every agent a test made, even a failing one, so none stays subscribed."""
    yield
    while CREATED:
        CREATED.pop().close(timeout=0.5)
    assert not BUS.active, "a test left a subscription on the event bus"
