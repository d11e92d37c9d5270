"""Tables of telemetry: time-bucketed rollups per operation and outcome, and SDK instances."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from reliant.server.db.base import Base

#: Longest service name (``reliant.spec.models.NAME_PATTERN`` allows 100 characters).
SERVICE_LENGTH = 100
#: Longest name of an object in SDK code (an operation, a breaker, an instance id).
OBJECT_LENGTH = 200


class RollupRow(Base):
    """Calls of one operation and outcome in one bucket, summed over every instance.

    Batches add to a row (upsert-merge): counts, the sum of durations and the histogram.
    """

    __tablename__ = "telemetry_rollups"
    __table_args__ = (Index("ix_telemetry_rollups_service_bucket", "service", "bucket_start"),)

    service: Mapped[str] = mapped_column(String(SERVICE_LENGTH), primary_key=True)
    operation: Mapped[str] = mapped_column(String(OBJECT_LENGTH), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(16), primary_key=True)
    #: Start of the bucket, epoch seconds, a multiple of the bucket width.
    bucket_start: Mapped[int] = mapped_column(BigInteger, primary_key=True, index=True)
    count: Mapped[int] = mapped_column(BigInteger)
    #: Sum of the calls' durations, seconds.
    sum: Mapped[float]
    #: Non-cumulative counts per latency bucket (see ``rollup.py``).
    histogram: Mapped[list[Any]]


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
