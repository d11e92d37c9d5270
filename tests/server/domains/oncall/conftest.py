"""Fixtures of the on-call tests."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from oncall_helpers import Desk

from reliant.testing import VirtualClock


@pytest.fixture
def desk(app: FastAPI, client: TestClient, clock: VirtualClock) -> Desk:
    """On-call on a test server (SQLite and PostgreSQL), driven on the virtual clock."""
    return Desk(app=app, client=client, clock=clock)
