"""Snapshot rows round-trip through both stores' bulk upserts, whatever their values."""

from __future__ import annotations

import math

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from reliant.server.db import transaction
from reliant.server.domains.slo.models import SLOStatusRow
from reliant.server.domains.slo.snapshots import COLUMNS, _joined, store


def row(name: str, **changes: object) -> tuple[object, ...]:
    values: dict[str, object] = {
        "name": name, "evaluated_at": 1800000000.0, "evaluated": True, "reason": "",
        "period_start": 1797408000.0, "period_end": 1800000000.0, "good": 10, "total": 12,
        "events": 12, "budget_remaining": -0.5, "windows": "1,2,2,3,4,4", "firing": "page,ticket",
        "exhausted": True,
    }  # fmt: skip
    values.update(changes)
    return tuple(values[c] for c in COLUMNS)


def stored(app: FastAPI) -> dict[str, tuple[object, ...]]:
    with transaction(app.state.sessions) as session:
        found = session.scalars(select(SLOStatusRow)).all()
        return {r.name: tuple(getattr(r, c) for c in COLUMNS) for r in found}


@pytest.mark.parametrize(
    "rows",
    [
        [row("only", windows="", firing="", exhausted=False)],
        [row("a"), row("b", good=0, firing="", budget_remaining=1.0, exhausted=False)],
    ],
    ids=["one row of empty texts", "two rows"],
)
def test_rows_are_stored_and_replaced_exactly(app: FastAPI, rows: list[tuple[object, ...]]) -> None:
    """Insert, then replace with new counts: every column reads back as written."""
    with transaction(app.state.sessions) as session:
        store(session, rows)
    assert {r[0]: r for r in rows} == stored(app)
    newer = [
        tuple(v + 1 if isinstance(v, int) and not isinstance(v, bool) else v for v in r)
        for r in rows
    ]
    with transaction(app.state.sessions) as session:
        store(session, newer)
    assert {r[0]: r for r in newer} == stored(app)


def test_infinite_budget_left_is_stored(app: FastAPI) -> None:
    """A budget of nothing spent out of nothing allowed may be infinite: stored as such."""
    with transaction(app.state.sessions) as session:
        store(session, [row("inf", budget_remaining=-math.inf)])
    assert -math.inf == stored(app)["inf"][COLUMNS.index("budget_remaining")]


def test_a_value_with_the_separator_is_refused() -> None:
    """No value may contain the separator the PostgreSQL upsert splits on."""
    assert "a\x1f\x1f" == _joined(["a", ""])
    with pytest.raises(ValueError, match="unit separator"):
        _joined(["a\x1fb"])
