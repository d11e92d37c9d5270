"""Writing a batch into the rollups: points merged in memory, then one upsert statement.

The points of a batch are first summed per row (operation and bucket; see ``models.py``),
so the store sees each row once. Then one statement adds them all, in key order, so that
concurrent batches lock the rows they share in the same order and cannot deadlock:

- PostgreSQL: the rows travel column by column, each column one array literal in text
  (``{1,2,NULL}``: written by msgspec's JSON encoder, parsed by PostgreSQL's C array
  reader; a JSON document cost the server more to unpack than to merge), ``unnest``-ed into an
  ``INSERT … SELECT … ON CONFLICT DO UPDATE`` (prepared once per connection) which also
  records the pushing instance: one round trip per batch. Each value column is
  ``coalesce(old + new, old, new)``: added when both are there, kept otherwise. Concurrent
  batches merge atomically (the conflicting row is locked and re-read). The table keeps
  free room in its pages (``fillfactor``), so that a merge writes the new row version
  beside the old one without touching the indexes (a HOT update).
- SQLite: the same upsert, executed for every row by the driver (``executemany``) in the
  transaction, which holds the write lock from ``BEGIN IMMEDIATE``; then the instance.

Sums are exact: counts are integers, and each float sum is added in point order.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
from sqlalchemy.orm import Session

from reliant.server.domains.telemetry.models import GROUP, GROUP_START, KEY_COLUMNS, VALUE_COLUMNS
from reliant.server.domains.telemetry.reader import Batch, Point

#: A row to store, its columns in table order: ``[service, operation, bucket_start,
#: *values]``, values as :data:`VALUE_COLUMNS`.
Row = list[Any]
#: Where each outcome's group starts in a :data:`Row`.
_AT = {outcome: len(KEY_COLUMNS) + start for outcome, start in GROUP_START.items()}
_NO_VALUES = (None,) * len(VALUE_COLUMNS)


def merge(service: str, points: Iterable[Point]) -> list[Row]:
    """The rows a batch's points add up to, ordered by operation and bucket.

    A point fills its outcome's group of its row, or adds to it when the batch holds that
    outcome, operation and bucket more than once.
    """
    rows: dict[tuple[str, int], Row] = {}
    for p in points:
        key = (p.operation, p.bucket)
        row = rows.get(key)
        if row is None:
            row = rows[key] = [service, *key, *_NO_VALUES]
        at = _AT[p.outcome]
        if row[at] is None:
            row[at] = p.count
            row[at + 1] = p.sum
            row[at + 2 : at + GROUP] = p.histogram
        else:
            row[at] += p.count
            row[at + 1] += p.sum
            for i, n in enumerate(p.histogram, at + 2):
                row[i] += n
    return [rows[key] for key in sorted(rows)]


def _added(table: str) -> str:
    """The ``SET`` list of the upsert: each value added where both sides have one."""
    return ", ".join(
        f"{c} = coalesce({table}.{c} + excluded.{c}, {table}.{c}, excluded.{c})"
        for c in VALUE_COLUMNS
    )


_INSERT = f"INSERT INTO telemetry_rollups ({', '.join(KEY_COLUMNS + VALUE_COLUMNS)})"
_CONFLICT = f" ON CONFLICT ({', '.join(KEY_COLUMNS)}) DO UPDATE SET {_added('telemetry_rollups')}"
#: Upsert of the pushing instance; ``dropped`` is cumulative per instance, so a retried
#: older batch must not lower it (SQLite's two-argument ``max`` is ``greatest``).
_INSTANCE = (
    "INSERT INTO telemetry_instances (service, instance, sdk, first_seen, last_seen, dropped)"
    " VALUES ({service}, {instance}, {sdk}, {now}, {now}, {dropped})"
    " ON CONFLICT (service, instance) DO UPDATE SET sdk = excluded.sdk,"
    " last_seen = excluded.last_seen,"
    " dropped = {greatest}(telemetry_instances.dropped, excluded.dropped)"
)
_NAMES = ("service", "instance", "sdk", "now", "dropped")


#: Parameters of :func:`postgresql_write` after :data:`_NAMES`: one array per column of a
#: :data:`Row` after ``service``, with the type PostgreSQL reads it as.
_ARRAYS = {
    "operation": "text",
    "bucket_start": "bigint",
    **{c: "float8" if c.endswith("_sum") else "bigint" for c in VALUE_COLUMNS},
}


@functools.cache
def postgresql_write() -> str:
    """The PostgreSQL statement: the instance upsert (a data-modifying ``WITH``: it runs
    though nothing reads it) and the rollup upsert, in one round trip. Parameters:
    ``service``, ``instance``, ``sdk``, ``now``, ``dropped``, then the array literals of
    :func:`columns` as ``a0``, ``a1``, …"""
    instance = _INSTANCE.format(greatest="greatest", **{n: f"%({n})s" for n in _NAMES})
    arrays = ", ".join(f"%(a{i})s::{t}[]" for i, t in enumerate(_ARRAYS.values()))
    names = ", ".join(_ARRAYS)
    return (
        f"WITH instance AS ({instance}) {_INSERT}"
        f" SELECT %(service)s, {names} FROM unnest({arrays}) WITH ORDINALITY AS u({names}, n)"
        f" ORDER BY u.n{_CONFLICT}"
    )


_JSON = msgspec.json.Encoder()


def _array(values: Sequence[Any], null: bytes = b"NULL") -> str:
    """An array literal of ``values``: their JSON array (msgspec writes numbers as they
    read back exactly, ten times faster than ``str``) with braces, ``null`` as ``NULL``."""
    literal = _JSON.encode(values).replace(b"[", b"{", 1)
    return literal[:-1].replace(b"null", null).decode() + "}"


def columns(rows: list[Row]) -> dict[str, str]:
    """The array literals of ``rows``' columns after ``service``, as :func:`postgresql_write`
    takes them: operation names quoted (their pattern allows no quote, backslash, brace,
    bracket, comma or space, and they are never null), then numbers."""
    if not rows:
        return {f"a{i}": "{}" for i in range(len(_ARRAYS))}
    _, operations, *numbers = zip(*rows, strict=True)
    literals = [_array(operations, b"null"), *map(_array, numbers)]
    return {f"a{i}": literal for i, literal in enumerate(literals)}


@functools.cache
def sqlite_upsert() -> str:
    """The SQLite rollup statement: one :data:`Row` of parameters."""
    marks = ", ".join("?" * (len(KEY_COLUMNS) + len(VALUE_COLUMNS)))
    return f"{_INSERT} VALUES ({marks}){_CONFLICT}"


@functools.cache
def sqlite_instance() -> str:
    """The SQLite instance statement: ``(service, instance, sdk, now, dropped)``."""
    return _INSTANCE.format(greatest="max", **{n: f":{n}" for n in _NAMES})


def write(session: Session, batch: Batch, rows: list[Row], *, now: float) -> None:
    """Add ``rows`` (from :func:`merge`) to the rollups and record the batch's instance as
    seen at ``now``, in the session's transaction."""
    instance = {
        "service": batch.service,
        "instance": batch.instance,
        "sdk": batch.sdk,
        "now": now,
        "dropped": batch.dropped,
    }
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(postgresql_write(), {**instance, **columns(rows)})
        return
    if rows:
        # The driver's own cursor takes the rows as they are (lists); SQLAlchemy's
        # executemany wants tuples, a copy of every row.
        cursor = connection.connection.cursor()
        try:
            cursor.executemany(sqlite_upsert(), rows)
        finally:
            cursor.close()
    connection.exec_driver_sql(sqlite_instance(), instance)
