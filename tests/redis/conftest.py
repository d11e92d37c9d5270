"""Fixtures for the Redis backend tests: a real redis-server per module, flushed per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from redis.client import Redis
from redis_engine import RedisServer


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    """A redis-server on a free loopback port for this module's tests."""
    srv = RedisServer()
    srv.start()
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture
def client(server: RedisServer) -> Iterator[Redis]:
    """A client of the module's server, emptied before the test."""
    c = Redis.from_url(server.url)
    c.flushall()
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def own_server() -> Iterator[RedisServer]:
    """A redis-server of this test alone (to kill and restart)."""
    srv = RedisServer()
    srv.start()
    try:
        yield srv
    finally:
        srv.close()
