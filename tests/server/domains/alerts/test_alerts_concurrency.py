"""PostgreSQL: a dispatcher pass never waits for, nor overwrites, a report in progress."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alerts_helpers import Bench
from sqlalchemy import text

from reliant.server.db import make_engine, transaction
from reliant.server.db.base import Base
from reliant.server.db.migrate import load_models
from reliant.server.domains.alerts import dispatch, service

PAGE = {"alertname": "Burn", "severity": "page", "service": "api", "sloth_id": "api-avail"}


@pytest.fixture(params=["postgresql"])
def db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """Row locks are what is under test: PostgreSQL only (SQLite serialises writers)."""
    url: str = request.getfixturevalue("postgres_store")
    try:
        yield url
    finally:
        load_models()
        tables = [t.name for t in Base.metadata.sorted_tables if t.name != "alembic_version"]
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        engine.dispose()


def test_a_pass_skips_rows_a_report_holds(bench: Bench) -> None:
    """While a report resolving the alert is uncommitted, a pass (with a 2 s lock timeout,
    so waiting would fail) completes without touching it; the resolution then wins."""
    bench.report(PAGE)
    sessions = bench.app.state.sessions
    with transaction(sessions) as holder:
        service.report(
            holder, labels=PAGE, annotations={}, active=False, now=bench.clock.now(), source="t"
        )
        with transaction(sessions) as other:
            other.execute(text("SET LOCAL lock_timeout = '2s'"))
            done = dispatch.run(other, bench.clock.now() + 600, notify=bench.notify)
        assert (0, 0) == (done.settled, done.groups)
    assert "resolved" == bench.alert(PAGE).state
    bench.clock.advance(10)
    bench.tick()
    assert ("resolved", []) == (bench.alert(PAGE).state, bench.sent)
