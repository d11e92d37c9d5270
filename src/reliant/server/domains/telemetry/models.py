"""Tables of telemetry: time-bucketed rollups per operation, and SDK instances.

A rollup row holds one operation's calls in one bucket, every outcome side by side: for
each outcome of :data:`OUTCOMES` a group of columns ``<outcome>_count``, ``<outcome>_sum``
and ``<outcome>_h0`` … ``<outcome>_h13`` (the histogram's counts, see ``rollup.py``). A
group is NULL as a whole while no point of that outcome arrived (NULLs take no room), so
"no calls reported" and "zero calls reported" stay distinct. Merging a point into its row
is plain additions, and a batch touches one row per operation and bucket, not one per
outcome: that is what makes ingest cheap on PostgreSQL (cost is mostly per row written).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, Double, Index, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from reliant.agent.protocol import LATENCY_BOUNDS, OUTCOMES
from reliant.server.db.base import Base

#: Longest service name (``reliant.spec.models.NAME_PATTERN`` allows 100 characters).
SERVICE_LENGTH = 100
#: Longest name of an object in SDK code (an operation, a breaker, an instance id).
OBJECT_LENGTH = 200
#: Counts per latency histogram (``len(LATENCY_BOUNDS) + 1``; the last is +Inf).
HISTOGRAM_SIZE = len(LATENCY_BOUNDS) + 1
#: Columns of one outcome's group: count, sum, then the histogram.
GROUP = 2 + HISTOGRAM_SIZE
#: The key columns of a rollup, in table order (the values follow them).
KEY_COLUMNS = ("service", "operation", "bucket_start")


def outcome_columns(outcome: str) -> list[str]:
    """The columns of ``outcome``'s group, in order: count, sum, histogram counts."""
    return [
        f"{outcome}_count",
        f"{outcome}_sum",
        *(f"{outcome}_h{i}" for i in range(HISTOGRAM_SIZE)),
    ]


#: Per cent of a PostgreSQL page filled on insert: the free half takes the new versions of
#: merged rows beside the old ones, so merges skip the indexes (HOT updates).
ROLLUP_FILLFACTOR = 50
#: Every value column: the group of each outcome of :data:`OUTCOMES`, in that order.
VALUE_COLUMNS = tuple(name for outcome in OUTCOMES for name in outcome_columns(outcome))
#: Where each outcome's group starts among :data:`VALUE_COLUMNS`.
GROUP_START = {outcome: i * GROUP for i, outcome in enumerate(OUTCOMES)}


def _value_column(name: str) -> Column[Any]:
    return Column(name, Double() if name.endswith("_sum") else BigInteger(), nullable=True)


#: Calls of one operation in one bucket, summed over every instance (see the module doc).
ROLLUPS = Table(
    "telemetry_rollups",
    Base.metadata,
    Column("service", String(SERVICE_LENGTH), primary_key=True),
    Column("operation", String(OBJECT_LENGTH), primary_key=True),
    #: Start of the bucket, epoch seconds, a multiple of the bucket width.
    Column("bucket_start", BigInteger(), primary_key=True, index=True),
    *(_value_column(name) for name in VALUE_COLUMNS),
    Index("ix_telemetry_rollups_service_bucket", "service", "bucket_start"),
    postgresql_with={"fillfactor": ROLLUP_FILLFACTOR},
)


class RollupRow(Base):
    """A rollup row (columns: :data:`KEY_COLUMNS`, then :data:`VALUE_COLUMNS`).

    Batches add to a row (upsert-merge): counts, sums of durations and histograms.
    """

    __table__ = ROLLUPS


class InstanceRow(Base):
    """One running SDK: when it last pushed a batch and how much it has dropped so far."""

    __tablename__ = "telemetry_instances"

    service: Mapped[str] = mapped_column(String(SERVICE_LENGTH), primary_key=True)
    instance: Mapped[str] = mapped_column(String(OBJECT_LENGTH), primary_key=True)
    sdk: Mapped[str] = mapped_column(String(50))
    first_seen: Mapped[float]
    last_seen: Mapped[float] = mapped_column(index=True)
    #: The SDK's cumulative count of items it dropped (buffer full, refused batches).
    dropped: Mapped[int] = mapped_column(BigInteger)
