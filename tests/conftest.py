"""Fixtures shared across the test suite."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    """Run the test through call() and through acall()."""
    return str(request.param)
