"""API shapes of config: overrides, the config document and policies."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from reliant.spec.models import PolicySpec

#: Names of objects in SDK code (breakers, limiters, faults, operations): wider than
#: ``NAME_PATTERN``, as code names them freely (``payments/db``, ``Payments:charge``).
OBJECT_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$"
#: The sections of a config document an operator overrides, as in the URL and document.
OVERRIDE_KINDS = ("breakers", "limiters", "faults")
#: Breaker states an operator may force; no override means automatic.
BreakerState = Literal["forced_open", "disabled", "metrics_only"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BreakerOverrideIn(_In):
    """Force a breaker into a state until the override is removed."""

    state: BreakerState


class LimiterOverrideIn(_In):
    """Replace a limiter's rate: ``rate`` per ``per`` seconds, admitting ``burst`` at once.

    ``per`` and ``burst`` left out keep the code's values.
    """

    rate: float = Field(gt=0, allow_inf_nan=False, le=1e12)
    per: float | None = Field(default=None, gt=0, allow_inf_nan=False, le=1e9)
    burst: int | None = Field(default=None, ge=1, le=10**12)


class FaultOverrideIn(_In):
    """Switch a ``Fault`` on or off."""

    enabled: bool


class OverrideOut(BaseModel):
    """An override as stored, with the service's document version after the write."""

    service: str
    kind: str
    name: str
    value: dict[str, Any]
    updated_at: float
    updated_by: str
    version: int


class OverridesOut(BaseModel):
    """Every override of a service."""

    service: str
    version: int
    items: list[OverrideOut]


class ConfigDocument(BaseModel):
    """What a service's SDK applies; ``version`` grows by one with every change."""

    service: str
    version: int
    breakers: dict[str, dict[str, Any]]
    limiters: dict[str, dict[str, Any]]
    faults: dict[str, dict[str, Any]]
    policies: dict[str, dict[str, Any]]
    flags: dict[str, Any]


class PolicyOut(BaseModel):
    """A stored policy."""

    name: str
    spec: PolicySpec
    managed_by: str
    created_at: float
    updated_at: float
    updated_by: str


class PolicyPage(BaseModel):
    """A page of policies by name; ``next`` is the cursor of the following page."""

    items: list[PolicyOut]
    next: str | None
