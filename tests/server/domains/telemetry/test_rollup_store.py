"""Merging a batch's points into rollup rows: one row per operation and bucket, in key order."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from reliant.agent.protocol import OUTCOMES
from reliant.server.domains.telemetry.models import GROUP, GROUP_START, VALUE_COLUMNS
from reliant.server.domains.telemetry.reader import Point
from reliant.server.domains.telemetry.store import columns, merge, postgresql_write, sqlite_upsert

H = [0, 3, 10, 20, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0]


def _point(
    operation: str = "charge",
    outcome: str = "success",
    bucket: int = 100,
    histogram: list[int] | None = None,
    total: float = 1.25,
) -> Point:
    counts = tuple(H if histogram is None else histogram)
    return Point(
        operation=operation,
        outcome=outcome,  # type: ignore[arg-type]
        bucket=bucket,
        count=sum(counts),
        sum=total,
        histogram=counts,
    )


def _group(row: list[Any], outcome: str) -> list[Any]:
    at = 3 + GROUP_START[outcome]
    return row[at : at + GROUP]


def test_a_point_fills_its_outcome_group_only() -> None:
    """A point lands in its outcome's columns; the other outcomes stay NULL."""
    [row] = merge("payments", [_point(outcome="timeout")])
    assert ["payments", "charge", 100] == row[:3]
    assert [42, 1.25, *H] == _group(row, "timeout")
    assert [None] * GROUP * 3 == [v for o in OUTCOMES if o != "timeout" for v in _group(row, o)]
    assert 3 + len(VALUE_COLUMNS) == len(row)


def test_outcomes_of_one_operation_and_bucket_share_a_row() -> None:
    """Every outcome of an operation and bucket goes in one row."""
    [row] = merge("payments", [_point(outcome=o) for o in OUTCOMES])
    assert [[42, 1.25, *H]] * 4 == [_group(row, o) for o in OUTCOMES]


def test_repeated_points_add_up() -> None:
    """The same outcome, operation and bucket twice in a batch is added, sums included."""
    other = [1] * 14
    [row] = merge("payments", [_point(), _point(histogram=other, total=0.5), _point()])
    assert [98, 3.0, *(2 * n + 1 for n in H)] == _group(row, "success")


def test_a_zero_point_is_not_an_absent_one() -> None:
    """A point of no calls fills its group with zeros (not NULL)."""
    [row] = merge("payments", [_point(histogram=[0] * 14, total=0.0)])
    assert [0, 0.0, *[0] * 14] == _group(row, "success")


def test_rows_come_in_key_order() -> None:
    """Rows are ordered by operation then bucket (concurrent batches lock in one order)."""
    keys = [("b", 20), ("a", 30), ("b", 10), ("a", 10)]
    rows = merge("payments", [_point(operation=op, bucket=b) for op, b in keys])
    assert sorted(keys) == [(r[1], r[2]) for r in rows]


def test_merge_keeps_its_input_unchanged() -> None:
    """Adding into a row never writes into a point's histogram."""
    first = _point()
    merge("payments", [first, _point()])
    assert tuple(H) == first.histogram


@given(st.integers(0, 2**32))
def test_rows_sum_the_points_exactly(seed: int) -> None:
    """Counts and histograms of the rows are the sums of the points, per key."""
    rng = random.Random(seed)
    points = [
        _point(
            operation=rng.choice("ab"),
            outcome=rng.choice(OUTCOMES),
            bucket=rng.choice((10, 20)),
            histogram=[rng.randrange(5) for _ in range(14)],
        )
        for _ in range(rng.randrange(30))
    ]
    expected: dict[tuple[str, int, str], list[int]] = {}
    for p in points:
        found = expected.setdefault((p.operation, p.bucket, p.outcome), [0] * 15)
        found[:] = [a + b for a, b in zip(found, [p.count, *p.histogram], strict=True)]
    actual = {
        (row[1], row[2], o): [_group(row, o)[0], *_group(row, o)[2:]]
        for row in merge("payments", points)
        for o in OUTCOMES
        if _group(row, o)[0] is not None
    }
    assert expected == actual


def test_statements_name_every_value_column() -> None:
    """Both upserts write and add every value column."""
    for statement in (postgresql_write(), sqlite_upsert()):
        for column in VALUE_COLUMNS:
            assert f"{column} = coalesce(" in statement
    assert len(VALUE_COLUMNS) + 3 == sqlite_upsert().count("?")


def test_postgresql_columns_are_array_literals_of_each_column() -> None:
    """PostgreSQL receives one array literal per column after the service: operation names
    quoted, numbers as Python writes them, absent groups as NULL."""
    rows = merge("payments", [_point(), _point(operation="b:x/1", outcome="timeout", bucket=110)])
    literals = columns(rows)
    assert len(VALUE_COLUMNS) + 2 == len(literals)
    assert '{"b:x/1","charge"}' == literals["a0"]
    assert "{110,100}" == literals["a1"]
    assert "{NULL,42}" == literals["a2"]  # success_count: the timeout-only row has none
    assert "{NULL,1.25}" == literals["a3"]  # success_sum


def test_postgresql_columns_of_no_rows_are_empty_arrays() -> None:
    """A batch without points still sends every array (empty), to record its instance."""
    assert {"{}"} == set(columns([]).values())


@given(st.floats(min_value=0.0, max_value=1e15))
def test_sum_literals_read_back_exactly(total: float) -> None:
    """A float in an array literal is the shortest text that reads back as the same float."""
    [literal] = columns(merge("payments", [_point(total=total)]))["a3"][1:-1].split(",")
    assert total == float(literal)
