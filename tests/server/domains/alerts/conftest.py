"""Fixtures of the alerts tests."""

from __future__ import annotations

import pytest
from alerts_helpers import Bench
from fastapi import FastAPI

from reliant.testing import VirtualClock


@pytest.fixture
def bench(app: FastAPI, clock: VirtualClock) -> Bench:
    """The alerts domain of a test server (SQLite and PostgreSQL), notify calls recorded."""
    return Bench(app=app, clock=clock)
