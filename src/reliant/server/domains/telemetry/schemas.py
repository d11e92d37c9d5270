"""API shapes of telemetry: the SDK's batch (``POST /api/v1/ingest``) and the read answers.

The batch is the SDK link's wire format (docs/sdk-link.md). Unknown members are ignored, so
a newer SDK speaking the same ``protocol`` still gets through.

:class:`BatchIn` documents the body and says what is wrong with a refused one; the common,
valid batch is read by the faster, stricter ``reader.py`` under the same rules.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from reliant.agent.protocol import BUCKET_SECONDS
from reliant.server.domains.config import OBJECT_NAME_PATTERN
from reliant.server.domains.telemetry.models import HISTOGRAM_SIZE
from reliant.server.events import Severity
from reliant.spec.models import NAME_PATTERN

#: The largest count a point may carry (far above any 10-second bucket).
MAX_COUNT = 10**12
#: Dotted event kinds as in docs/events.md: ``circuit_breaker.state_changed``.
KIND_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"
#: Printable text without control characters.
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]+$"

#: Latest bucket start a point may name (year 5138).
MAX_BUCKET = 10**11
#: Largest sum of durations a point may carry, seconds.
MAX_SUM = 1e15

Outcome = Literal["success", "failure", "rejected", "timeout"]
Operation = Annotated[str, Field(pattern=OBJECT_NAME_PATTERN)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Seconds = Annotated[float, Field(ge=0.0, le=MAX_SUM, allow_inf_nan=False)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class PointIn(_Wire):
    """Calls of one operation with one outcome in one bucket, as one SDK instance saw them."""

    operation: Operation
    outcome: Outcome
    bucket: int = Field(ge=0, le=MAX_BUCKET, description="bucket start, epoch seconds")
    count: Count
    sum: Seconds = Field(description="seconds")
    histogram: list[int] = Field(min_length=HISTOGRAM_SIZE, max_length=HISTOGRAM_SIZE)

    @field_validator("bucket")
    @classmethod
    def _aligned(cls, bucket: int) -> int:
        if bucket % BUCKET_SECONDS:
            raise ValueError(f"must be a multiple of {BUCKET_SECONDS} (the bucket's start)")
        return bucket

    @field_validator("histogram")
    @classmethod
    def _counts(cls, histogram: list[int]) -> list[int]:
        if histogram and (min(histogram) < 0 or max(histogram) > MAX_COUNT):
            bad = next(n for n in histogram if not 0 <= n <= MAX_COUNT)
            raise ValueError(f"counts must be integers in [0, {MAX_COUNT}], got {bad}")
        return histogram


class EventIn(_Wire):
    """An SDK event (kinds of docs/events.md), stored in the event log with source ``sdk``."""

    time: float = Field(allow_inf_nan=False, ge=0.0)
    kind: str = Field(max_length=100, pattern=KIND_PATTERN)
    name: str = Field(default="", max_length=200, pattern=r"^$|" + OBJECT_NAME_PATTERN)
    severity: Severity | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    trace_id: str | None = Field(default=None, max_length=32, pattern=r"^[0-9A-Za-z-]+$")


class BatchIn(_Wire):
    """One push of an SDK instance: telemetry points and events."""

    protocol: Literal[1]
    service: str = Field(pattern=NAME_PATTERN)
    instance: str = Field(max_length=200, pattern=TEXT_PATTERN)
    sdk: str = Field(max_length=50, pattern=TEXT_PATTERN)
    sent_at: float = Field(allow_inf_nan=False)
    dropped: int = Field(default=0, ge=0, le=2**62)
    telemetry: list[PointIn] = Field(default_factory=list)
    events: list[EventIn] = Field(default_factory=list)


class Counts(BaseModel):
    """How many items of a batch were stored."""

    telemetry: int
    events: int


class Accepted(BaseModel):
    """The answer to an accepted batch."""

    accepted: Counts


class Latency(BaseModel):
    """Calls and latency quantiles (seconds, estimated from the histogram; null: no calls)."""

    count: int
    p50: float | None
    p95: float | None
    p99: float | None


class OutcomePoint(Latency):
    """Calls of one outcome in one step."""

    time: float
    sum: float


class OutcomeSeries(BaseModel):
    """One outcome's points, one per step."""

    outcome: str
    points: list[OutcomePoint]


class OperationPoint(Latency):
    """Calls of every outcome in one step; errors are calls whose outcome is not success."""

    time: float
    errors: int
    error_ratio: float | None


class OperationTotals(Latency):
    """An operation over the whole range."""

    errors: int
    error_ratio: float | None


class OperationSeries(BaseModel):
    """One operation: totals, points over every outcome, and each outcome's points."""

    operation: str
    totals: OperationTotals
    points: list[OperationPoint]
    outcomes: list[OutcomeSeries]


class TelemetryOut(BaseModel):
    """A service's telemetry in ``[since, until)``, in steps of ``step`` seconds."""

    service: str
    since: float
    until: float
    step: int
    bounds: list[float]
    operations: list[OperationSeries]


class InstanceOut(BaseModel):
    """An SDK instance of a service."""

    instance: str
    sdk: str
    first_seen: float
    last_seen: float
    dropped: int


class InstancePage(BaseModel):
    """Instances, most recently seen first; ``next`` is the cursor of the following page."""

    items: list[InstanceOut]
    next: str | None
