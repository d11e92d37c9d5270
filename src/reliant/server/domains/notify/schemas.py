"""API shapes of notify: receivers by type (secrets write-only), notifications, attempts."""

from __future__ import annotations

from email.utils import parseaddr
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from reliant.server.domains.notify.payloads import PAGERDUTY_URL

#: What reads show in place of a stored secret.
MASK = "********"
#: Receiver types.
TYPES = ("pagerduty", "opsgenie", "slack", "webhook", "email")
#: Settings of each type that are secret: encrypted at rest, never read back.
SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    "pagerduty": ("routing_key",),
    "opsgenie": ("api_key",),
    "slack": ("url",),
    "webhook": ("url", "secret"),
    "email": ("password",),
}
#: Secret settings a receiver cannot work without.
REQUIRED_SECRETS: dict[str, tuple[str, ...]] = {
    "pagerduty": ("routing_key",),
    "opsgenie": ("api_key",),
    "slack": ("url",),
    "webhook": ("url", "secret"),
    "email": (),
}
#: Settings that say where stored secrets are sent: changing them needs the admin role.
DESTINATION_FIELDS: dict[str, tuple[str, ...]] = {
    "pagerduty": ("url",),
    "opsgenie": ("region", "url"),
    "slack": (),
    "webhook": (),
    "email": ("host", "port", "tls", "username"),
}
#: Default SMTP port of each TLS mode.
SMTP_PORTS = {"starttls": 587, "ssl": 465, "none": 25}

Url = Annotated[str, Field(max_length=2000, pattern=r"^https?://[^\s/?#@]+(?:[/?#]\S*)?$")]
Hostname = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9._:\[\]-]+$")]
Token = Annotated[str, Field(min_length=1, max_length=500, pattern=r"^\S+$")]


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
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Alertmanager's ``send_resolved``: also notify when the alerts resolve.
    send_resolved: bool = True

    @model_validator(mode="before")
    @classmethod
    def _no_unstorable_text(cls, data: Any) -> Any:
        if not _storable(data):
            raise ValueError("text may not hold NUL characters (\\u0000) or lone surrogates")
        return data


class PagerDutyIn(_In):
    """PagerDuty Events API v2: an integration's routing key."""

    type: Literal["pagerduty"]
    routing_key: str | None = Field(default=None, pattern=r"^[A-Za-z0-9]{32}$")
    url: Url = PAGERDUTY_URL
    source: str = Field(default="", max_length=255)
    severity: Literal["critical", "error", "warning", "info"] | None = None


class Responder(BaseModel):
    """An Opsgenie responder: one of ``id``, ``name`` or ``username``, and its type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["team", "user", "escalation", "schedule"]
    id: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    username: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _one_identifier(self) -> Responder:
        if [self.id, self.name, self.username].count(None) != 2:
            raise ValueError("give exactly one of id, name or username")
        return self


class OpsgenieIn(_In):
    """Opsgenie Alert API: an API integration's key, in the US or EU region."""

    type: Literal["opsgenie"]
    api_key: Token | None = None
    region: Literal["us", "eu"] = "us"
    url: Url | None = None
    tags: list[Annotated[str, Field(min_length=1, max_length=50)]] = Field(
        default_factory=list, max_length=20
    )
    responders: list[Responder] = Field(default_factory=list, max_length=50)


class SlackIn(_In):
    """A Slack incoming webhook (its URL is the secret)."""

    type: Literal["slack"]
    url: Url | None = None


class WebhookIn(_In):
    """Any HTTP endpoint: reliant's JSON, signed with HMAC-SHA256 under ``secret``."""

    type: Literal["webhook"]
    url: Url | None = None
    secret: str | None = Field(default=None, min_length=16, max_length=500)
    max_alerts: int = Field(default=0, ge=0, le=10_000)


class EmailIn(_In):
    """Email over SMTP."""

    type: Literal["email"]
    host: Hostname
    port: int | None = Field(default=None, ge=1, le=65535)
    tls: Literal["starttls", "ssl", "none"] = "starttls"
    username: str = Field(default="", max_length=200)
    password: str | None = Field(default=None, max_length=500)
    sender: str = Field(alias="from", max_length=300)
    to: list[str] = Field(min_length=1, max_length=50)

    @field_validator("sender", "to")
    @classmethod
    def _addresses(cls, value: str | list[str]) -> str | list[str]:
        for address in [value] if isinstance(value, str) else value:
            _, addr = parseaddr(address)
            if "@" not in addr or any(c in address for c in "\r\n"):
                raise ValueError(f"{address!r} is not an email address")
        return value

    @model_validator(mode="before")
    @classmethod
    def _default_port(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("port") is None:
            data = {**data, "port": SMTP_PORTS.get(str(data.get("tls", "starttls")), 587)}
        return data


ReceiverIn = Annotated[
    PagerDutyIn | OpsgenieIn | SlackIn | WebhookIn | EmailIn, Field(discriminator="type")
]


class ReceiverOut(BaseModel):
    """A receiver as stored; secret settings read back as ``********``."""

    name: str
    type: str
    settings: dict[str, Any]
    send_resolved: bool
    created_at: float
    updated_at: float
    updated_by: str
    failures: int
    paused_until: float | None
    last_error: str | None


class ReceiverPage(BaseModel):
    """A page of receivers by name."""

    items: list[ReceiverOut]
    next: str | None


class TestResult(BaseModel):
    """What came of a test notification."""

    receiver: str
    delivered: bool
    #: ``delivered``, ``retry`` (a transient failure: 429, 5xx, no connection) or ``dead``.
    outcome: str
    status_code: int | None
    detail: str


class AttemptOut(BaseModel):
    """One delivery attempt."""

    at: float
    outcome: str
    status_code: int | None
    detail: str


class NotificationOut(BaseModel):
    """A notification in the outbox."""

    id: int
    receiver: str
    dedup_key: str
    status: str
    group_key: str
    state: str
    created_at: float
    next_attempt_at: float | None
    attempts: int
    last_attempt_at: float | None
    last_status_code: int | None
    last_error: str | None
    finished_at: float | None


class NotificationDetail(NotificationOut):
    """A notification with what it says and every attempt."""

    payload: dict[str, Any]
    history: list[AttemptOut]


class NotificationPage(BaseModel):
    """A page of notifications, newest first."""

    items: list[NotificationOut]
    next: str | None
