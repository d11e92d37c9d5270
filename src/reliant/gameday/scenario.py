"""Game-day files: the fleet to start, what to declare, the traffic and the scripted phases.

A game day is YAML validated by the pydantic models below (docs/gameday.md has every key).
:meth:`GameDay.from_yaml` turns every problem into one line naming the file, the line and
the key path, as simulator scenarios do. Strings in commands, URLs and request bodies may
hold placeholders, filled in when the game day runs:

=================== ======================================================================
``{python}``        the Python running reliant
``{port}``          a free loopback port picked for this process
``{url:NAME}``      ``http://127.0.0.1:<port>`` of the fleet process ``NAME``
``{control_plane}`` the control plane's URL
``{token}``         a token of the control plane (the admin token of an embedded one)
``{secret}``        the pager's webhook secret
``{n}``             (traffic only) the request's sequence number
=================== ======================================================================
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from reliant.simulate.scenario import Duration

#: The top-level keys of a game-day file, named when the file is empty.
KEYS = "name, fleet, apply, traffic, phases"
NAME = r"^[a-z0-9][a-z0-9_.-]*$"
#: How long a phase waits for its expectations unless it says otherwise.
DEFAULT_PHASE_TIMEOUT = 90.0

_COMPARISON = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*([0-9]*\.?[0-9]+)\s*(%?)\s*$")
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}


class Comparison(BaseModel):
    """A bound a measured number must meet: ``">= 0.95"``, ``"< 50%"``."""

    model_config = ConfigDict(frozen=True)

    op: str
    value: float

    def holds(self, measured: float | None) -> bool:
        """Whether ``measured`` meets the bound (never, when nothing was measured)."""
        return measured is not None and _OPERATORS[self.op](measured, self.value)

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"


def _comparison(value: object) -> object:
    if isinstance(value, Comparison | dict):
        return value
    match = _COMPARISON.match(str(value)) if isinstance(value, str) else None
    if match is None:
        raise ValueError(
            f"expected a comparison such as '>= 0.95' or '< 5%' "
            f"(one of {', '.join(_OPERATORS)} and a number), got {value!r}"
        )
    op, number, percent = match.groups()
    return {"op": op, "value": float(number) / (100.0 if percent else 1.0)}


Bound = Annotated[Comparison, BeforeValidator(_comparison)]
Name = Annotated[str, Field(pattern=NAME, max_length=100)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _OneOf(_Model):
    """A mapping with exactly one of its keys (an action, an expectation)."""

    #: What it is, in the error message: "an action".
    _what: ClassVar[str] = "an item"

    @model_validator(mode="after")
    def _exactly_one(self) -> _OneOf:
        given = [k for k in type(self).model_fields if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"{self._what} has exactly one of {', '.join(type(self).model_fields)}"
                + (f"; got {', '.join(given)}" if given else "")
            )
        return self

    @property
    def kind(self) -> str:
        """The key given (``override``, ``traffic``, ...)."""
        return next(k for k in type(self).model_fields if getattr(self, k) is not None)


class _States(_Model):
    """A check whose ``state`` is a list of states, or one: ``state: x`` is ``[x]``."""

    @model_validator(mode="before")
    @classmethod
    def _one_state(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("state"), str):
            return {**data, "state": [data["state"]]}
        return data


# --- the set-up ---------------------------------------------------------------------------


class ControlPlane(_Model):
    """The embedded control plane: how often its jobs run (time is compressed in a game day)."""

    job_intervals: dict[str, Duration] = Field(default_factory=dict)


class FleetProcess(_Model):
    """A process of the system under test, started before the phases and stopped after."""

    name: Name
    command: list[str] = Field(min_length=1)
    ready: str = Field("/healthz", description="path answered 2xx once it serves")
    ready_timeout: Duration = 30.0
    env: dict[str, str] = Field(default_factory=dict)


class Pager(_Model):
    """The local pager: a webhook receiver of the control plane, started as a process."""

    receiver: Name = "pager"
    command: list[str] = Field(
        default=[
            "{python}",
            "-m",
            "reliant.demo.pager",
            "--port",
            "{port}",
            "--secret",
            "{secret}",
        ],
        min_length=1,
    )
    path: str = "/page"


class Traffic(_Model):
    """Requests sent at a steady rate for the whole game day, and how answers are judged.

    An answer is ``ok`` when 2xx, ``degraded`` when 2xx and its JSON holds every field of
    ``degraded`` (a fallback's answer), an ``error`` otherwise (also no answer in time).
    """

    url: str
    method: Literal["GET", "POST", "PUT"] = "GET"
    json_body: dict[str, Any] | None = Field(None, alias="json")
    rate: float = Field(10.0, gt=0, le=500)
    timeout: Duration = 2.0
    degraded: dict[str, Any] = Field(default_factory=dict)
    window: Duration = 10.0


# --- actions --------------------------------------------------------------------------------


class Override(_Model):
    """Set or remove an override in a service's config document (its SDK obeys)."""

    service: Name
    fault: str | None = None
    breaker: str | None = None
    limiter: str | None = None
    enabled: bool | None = None
    state: Literal["forced_open", "disabled", "metrics_only"] | None = None
    rate: float | None = Field(None, gt=0)
    per: float | None = Field(None, gt=0)
    burst: int | None = Field(None, ge=1)
    remove: bool = False

    @model_validator(mode="after")
    def _one_target(self) -> Override:
        targets = [t for t in ("fault", "breaker", "limiter") if getattr(self, t)]
        if len(targets) != 1:
            raise ValueError("give exactly one of fault, breaker, limiter (the policy's name)")
        if not self.remove and self.body() == {}:
            needs = {"fault": "enabled", "breaker": "state", "limiter": "rate"}[targets[0]]
            raise ValueError(f"say what to set ({needs}: ...) or remove: true")
        return self

    @property
    def section(self) -> str:
        """The config document's section: ``faults``, ``breakers`` or ``limiters``."""
        return "faults" if self.fault else "breakers" if self.breaker else "limiters"

    @property
    def target(self) -> str:
        """The policy's name."""
        return self.fault or self.breaker or self.limiter or ""

    def body(self) -> dict[str, Any]:
        """The override's body for the API."""
        fields = {
            "faults": ("enabled",),
            "breakers": ("state",),
            "limiters": ("rate", "per", "burst"),
        }
        return {f: getattr(self, f) for f in fields[self.section] if getattr(self, f) is not None}


class HttpAction(_Model):
    """A request to a system under test (a switch of its own, say)."""

    url: str
    method: Literal["GET", "POST", "PUT", "DELETE"] = "POST"
    json_body: dict[str, Any] | None = Field(None, alias="json")
    expect_status: list[int] = Field(default_factory=lambda: list(range(200, 300)))


class PostmortemAction(_Model):
    """Generate the postmortem of the game day's incident and save it as a file."""

    format: Literal["markdown", "html"] = "markdown"


class Action(_OneOf):
    """One thing a phase does, exactly one key of: override, http, postmortem, wait, say."""

    _what: ClassVar[str] = "an action"

    override: Override | None = None
    http: HttpAction | None = None
    postmortem: PostmortemAction | None = None
    wait: Duration | None = None
    say: str | None = None


# --- expectations ---------------------------------------------------------------------------


class TrafficCheck(_Model):
    """Rates of the traffic's answers over its ``window`` (fractions; ``5%`` works too)."""

    ok_rate: Bound | None = None
    degraded_rate: Bound | None = None
    error_rate: Bound | None = None
    served_rate: Bound | None = Field(None, description="ok + degraded")


#: Where a check looks back to: the game day's start, or its phase's.
Since = Literal["gameday", "phase"]


class EventCheck(_Model):
    """An event in the log (since the game day began, or its phase), with these attributes."""

    kind: str
    since: Since = "gameday"
    service: str | None = None
    source: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class AlertCheck(_Model):
    """An alert with these labels in this state."""

    labels: dict[str, str] = Field(min_length=1)
    state: Literal["firing", "resolved"] = "firing"


class PageCheck(_Model):
    """The pager received a notification (since the game day began, or its phase)."""

    status: Literal["firing", "resolved"] = "firing"
    since: Since = "gameday"
    labels: dict[str, str] = Field(default_factory=dict)


class IncidentCheck(_States):
    """The game day's incident (the first declared since it started) is in one of these states."""

    state: list[str] = Field(min_length=1)
    service: str | None = None
    severity: str | None = None


class RunbookCheck(_States):
    """A run of this runbook, started since the game day began, is in one of these states."""

    runbook: Name
    state: list[str] = Field(default_factory=lambda: ["succeeded"], min_length=1)


class SLOCheck(_Model):
    """Figures of an SLO's latest evaluation."""

    name: Name
    budget_remaining: Bound | None = None
    burn_rate_1h: Bound | None = None
    firing: bool | None = None


class PostmortemCheck(_Model):
    """The game day's incident has a postmortem (in one of these states, when given)."""

    state: list[str] = Field(default_factory=list)


class Expectation(_OneOf):
    """What must happen in a phase, exactly one key of the checks below."""

    _what: ClassVar[str] = "an expectation"

    traffic: TrafficCheck | None = None
    event: EventCheck | None = None
    alert: AlertCheck | None = None
    page: PageCheck | None = None
    incident: IncidentCheck | None = None
    runbook_run: RunbookCheck | None = None
    slo: SLOCheck | None = None
    postmortem: PostmortemCheck | None = None

    @property
    def check(self) -> BaseModel:
        """The check itself."""
        found: BaseModel = getattr(self, self.kind)
        return found


class Phase(_Model):
    """A step of the game day: say what happens, do it, wait for what must follow, react.

    The phase runs ``do``, lasts at least ``hold``, then looks at its expectations every
    half second until each has held once, and then runs ``then``. It fails when
    ``timeout`` (counted after ``hold``) passes first.
    """

    name: Name
    say: str = ""
    do: list[Action] = Field(default_factory=list)
    hold: Duration = 0.0
    expect: list[Expectation] = Field(default_factory=list)
    then: list[Action] = Field(default_factory=list)
    timeout: Duration = DEFAULT_PHASE_TIMEOUT


class GameDay(_Model):
    """A whole game day (the document in a game-day YAML file)."""

    name: Name
    description: str = ""
    control_plane: ControlPlane = Field(default_factory=ControlPlane)
    pager: Pager | None = None
    fleet: list[FleetProcess] = Field(default_factory=list)
    apply: list[str] = Field(default_factory=list, description="reliant.yaml files, relative")
    traffic: Traffic | None = None
    phases: list[Phase] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> GameDay:
        for what, names in (
            ("fleet", [p.name for p in self.fleet]),
            ("phases", [p.name for p in self.phases]),
        ):
            if dupes := sorted({n for n in names if names.count(n) > 1}):
                raise ValueError(f"{what}: names must be unique, {dupes} appear twice")
        return self

    @property
    def longest(self) -> float:
        """The most the phases can take, seconds (their holds, waits and timeouts)."""
        total = 0.0
        for phase in self.phases:
            waits = sum(a.wait or 0.0 for a in phase.do)
            total += phase.hold + waits + (phase.timeout if phase.expect else 0.0)
        return total if math.isfinite(total) else math.inf

    @classmethod
    def from_yaml(cls, path: str | Path) -> GameDay:
        """Load and validate a game-day file.

        Raises:
            ScenarioError: the file is missing, not YAML, or not a valid game day; one
                line per problem.
        """
        from reliant.simulate.errors import load_yaml

        return load_yaml(cls, Path(path), keys=KEYS)
