"""API shapes of alerts: alerts, Alertmanager payloads, silences, the routing document
(whose shape is the ``AlertRoute`` kind's, ``reliant.spec.models.AlertRouteSpec``)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from reliant.spec.models import AlertRouteSpec

State = Literal["pending", "firing", "suppressed", "resolved"]
SilenceState = Literal["pending", "active", "expired"]
Time = float

#: Most alerts one request may report.
MAX_ALERTS = 10_000
#: Longest matcher list of a silence.
MAX_MATCHERS = 100


def _storable(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False  # a lone surrogate
        return "\x00" not in value
    if isinstance(value, dict):
        return all(_storable(k) and _storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable(v) for v in value)
    return True


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _no_unstorable_text(cls, data: Any) -> Any:
        if not _storable(data):
            raise ValueError("text may not hold NUL characters (\\u0000) or lone surrogates")
        return data


class _Lenient(_In):
    #: Alertmanager adds fields in new versions: unknown ones are ignored.
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class AlertOut(BaseModel):
    """An alert instance."""

    fingerprint: str
    labels: dict[str, str]
    annotations: dict[str, str]
    state: State
    source: str
    starts_at: Time | None = Field(description="when it last started firing")
    active_since: Time = Field(description="start of the current (or last) active period")
    ends_at: Time | None = Field(description="when it resolves unless reported again")
    resolved_at: Time | None
    updated_at: Time
    for_seconds: float
    generator_url: str
    silenced_by: list[str] = Field(description="ids of the silences muting it")
    inhibited_by: list[str] = Field(description="fingerprints of the alerts inhibiting it")
    receivers: list[str] = Field(description="where the routing document sends it")


class AlertPage(BaseModel):
    """A page of alerts."""

    items: list[AlertOut]
    next: str | None


class Received(BaseModel):
    """What a report request did: the fingerprints of the alerts, in request order."""

    received: int
    fingerprints: list[str]


class PostableAlert(_Lenient):
    """An alert as Prometheus posts it to Alertmanager's ``POST /api/v2/alerts``."""

    labels: dict[str, str] = Field(description="alertname is required")
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: dt.datetime | None = Field(default=None, alias="startsAt")
    ends_at: dt.datetime | None = Field(
        default=None,
        alias="endsAt",
        description="absent: active for 5 minutes unless posted again; past: resolved",
    )
    generator_url: str = Field(default="", alias="generatorURL", max_length=2000)


class WebhookAlert(_Lenient):
    """One alert of an Alertmanager webhook notification."""

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: dt.datetime | None = Field(default=None, alias="startsAt")
    ends_at: dt.datetime | None = Field(default=None, alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL", max_length=2000)
    fingerprint: str = ""


class AlertmanagerWebhook(_Lenient):
    """Alertmanager's webhook payload, version 4."""

    version: Literal["4"]
    group_key: str = Field(default="", alias="groupKey")
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts")
    status: Literal["firing", "resolved"]
    receiver: str = ""
    group_labels: dict[str, str] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL")
    alerts: list[WebhookAlert] = Field(max_length=MAX_ALERTS)


class SilenceOut(BaseModel):
    """A silence."""

    id: str
    matchers: list[str]
    starts_at: Time
    ends_at: Time
    created_by: str
    comment: str
    created_at: Time
    updated_at: Time
    state: SilenceState


class SilencePage(BaseModel):
    """A page of silences."""

    items: list[SilenceOut]
    next: str | None


class _Window(_In):
    starts_at: float | None = Field(
        default=None, ge=0, le=1e11, allow_inf_nan=False, description="default: now"
    )
    ends_at: float | None = Field(default=None, ge=0, le=1e11, allow_inf_nan=False)
    duration: str | None = Field(
        default=None, max_length=50, description="instead of ends_at: e.g. 2h, from the start"
    )
    comment: str = Field(min_length=1, max_length=10_000)

    @model_validator(mode="after")
    def _one_end(self) -> _Window:
        if (self.ends_at is None) == (self.duration is None):
            raise ValueError("give exactly one of ends_at (epoch seconds) and duration (e.g. 2h)")
        return self


class SilenceIn(_Window):
    """A new silence: matchers in Alertmanager's syntax and a window."""

    matchers: list[str] = Field(min_length=1, max_length=MAX_MATCHERS)


class SilenceFromAlert(_Window):
    """A silence of exactly one alert's label set."""


#: The routing document: the ``AlertRoute`` kind's spec is its one definition.
AlertingDocument = AlertRouteSpec


def stored(document: AlertRouteSpec) -> dict[str, Any]:
    """The document as stored: unset route options left out, ``continue`` by its name."""
    out: dict[str, Any] = document.model_dump(mode="json", exclude_none=True)
    return out


class AlertingConfigOut(BaseModel):
    """The routing document in force; ``version`` is also its ETag."""

    document: AlertingDocument
    version: int
    default: bool = Field(description="true until a document is stored")
    updated_at: Time | None
    updated_by: str | None


class GroupOut(BaseModel):
    """An aggregation group."""

    group_key: str
    receiver: str
    group_labels: dict[str, str]
    alerts: list[str] = Field(description="fingerprints of its alerts")
    created_at: Time
    next_flush_at: Time
    flushed_at: Time | None


class GroupPage(BaseModel):
    """A page of aggregation groups."""

    items: list[GroupOut]
    next: str | None
