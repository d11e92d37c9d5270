"""The event log's API shapes: events in and out, pages, the retention setting."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from reliant.server.events.query import KIND_MAX, KIND_PATTERN
from reliant.server.events.retention import MAX_RETENTION, MIN_RETENTION
from reliant.server.events.service import Severity
from reliant.spec.models import NAME_PATTERN

#: Most events in one ingest batch.
MAX_BATCH = 1000
#: Largest ``attributes`` object, serialized as compact JSON.
MAX_ATTRIBUTES_BYTES = 16 * 1024


def _compact_json() -> Callable[[Any], str]:
    """Compact JSON refusing NaN and Infinity; ASCII only, so its length is its size in bytes.

    Where the interpreter has the C encoder, it is built once here: ``JSONEncoder.encode``
    builds it anew on every call, which costs more than encoding a small object. It is
    checked once against ``encode``; on any difference, ``encode`` is used instead.
    """
    encoder = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
    make: Any = getattr(json.encoder, "c_make_encoder", None)
    try:
        iterencode = make(
            None, encoder.default, json.encoder.encode_basestring_ascii, None, ":", ",",
            False, False, False,
        )  # fmt: skip

        def encode(value: Any) -> str:
            return "".join(iterencode(value, 0))

        probe = {"a": [1, -2.5, "é\u2028\x00", None, True, {"b": {}}]}
        same = encode(probe) == encoder.encode(probe)
    except Exception:  # no C encoder, or not this one: the plain path
        return encoder.encode
    try:
        encode(float("nan"))
    except ValueError:
        return encode if same else encoder.encode
    return encoder.encode


_COMPACT_JSON = _compact_json()


def _rfc3339(value: str) -> float:
    try:
        moment = datetime.fromisoformat(value.upper())
        moment.timestamp()
    except (ValueError, OverflowError):
        raise ValueError("give epoch seconds or RFC 3339, e.g. 2027-01-15T08:00:00Z") from None
    if moment.tzinfo is None:
        raise ValueError("RFC 3339 times need a time zone, e.g. 'Z' or '+02:00'")
    return moment.timestamp()


def _time_schema(schema: dict[str, Any]) -> None:
    schema["anyOf"] = [
        {"type": "number"},
        {"type": "string", "format": "date-time"},
        {"type": "null"},
    ]


class EventIn(BaseModel):
    """One event to append; only ``kind`` is required."""

    model_config = ConfigDict(extra="forbid")

    time: float | None = Field(
        default=None,
        allow_inf_nan=False,
        description="when it happened: epoch seconds or RFC 3339; default now",
        json_schema_extra=_time_schema,
    )
    kind: str = Field(max_length=KIND_MAX, pattern=KIND_PATTERN, examples=["deploy.finished"])
    service: str | None = Field(default=None, max_length=100, pattern=NAME_PATTERN)
    severity: Severity = Severity.INFO
    attributes: dict[str, Any] = Field(
        default_factory=dict, description=f"at most {MAX_ATTRIBUTES_BYTES} bytes as JSON"
    )
    trace_id: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{32}$")

    @field_validator("attributes")
    @classmethod
    def _small_plain_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            text = _COMPACT_JSON(value)
        except ValueError:
            raise ValueError("numbers must be finite (no NaN or Infinity)") from None
        if len(text) > MAX_ATTRIBUTES_BYTES:
            raise ValueError(
                f"{len(text)} bytes as JSON; at most {MAX_ATTRIBUTES_BYTES} are "
                "kept: put large payloads elsewhere and link to them"
            )
        if "\\u0000" in text:
            raise ValueError("strings must not contain NUL characters (\\u0000)")
        return value

    @field_validator("time", mode="before")
    @classmethod
    def _epoch(cls, value: Any) -> Any:
        return _rfc3339(value) if isinstance(value, str) else value

    @field_validator("trace_id")
    @classmethod
    def _lowercase(cls, value: str | None) -> str | None:
        return value.lower() if value else value

    def epoch(self) -> float | None:
        """``time`` as epoch seconds (``None``: now)."""
        return self.time


class EventBatch(BaseModel):
    """Several events, appended all together or not at all."""

    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH)


class Accepted(BaseModel):
    """The ids given to the appended events, in the order sent."""

    ids: list[int]


class EventOut(BaseModel):
    """One event of the log."""

    id: int
    time: float
    kind: str
    service: str | None
    severity: str
    source: str
    attributes: dict[str, Any]
    trace_id: str | None
    received_at: float


class EventPage(BaseModel):
    """A page of events, newest first; ``next`` is the cursor of the following page."""

    items: list[EventOut]
    next: str | None


class RetentionIn(BaseModel):
    """A new event retention."""

    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(ge=MIN_RETENTION, le=MAX_RETENTION, allow_inf_nan=False)


class RetentionOut(BaseModel):
    """The event retention in force, and where it comes from."""

    seconds: float
    default: float
    source: str = Field(description="'default' (from the server's settings) or 'runtime'")
    updated_at: float | None
    updated_by: str | None
