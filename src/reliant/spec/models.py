"""The kinds ``reliant.yaml`` declares, as pydantic models: the one definition of their shape.

The API's request bodies, the published JSON Schema, ``reliant validate``, ``plan`` and
``apply`` all use these models. A document is::

    apiVersion: reliant.dev/v1
    kind: Service
    metadata: {name: payments}
    spec: {owner: team-payments, tier: 1, ...}

Later kinds (SLO, AlertRoute, Runbook, Flag, Experiment, BackupPolicy) add a spec model and
a row in :data:`KINDS`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

API_VERSION = "reliant.dev/v1"
#: Names of services, policies and every other object: lowercase, digits, ``.-_``.
NAME_PATTERN = r"^[a-z0-9]([a-z0-9._-]{0,98}[a-z0-9])?$"
NAME_HINT = "lowercase letters, digits, '.', '-' and '_', starting and ending alphanumeric"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LinkKind(StrEnum):
    """What a link points at."""

    RUNBOOK = "runbook"
    DASHBOARD = "dashboard"
    REPO = "repo"
    DOCS = "docs"
    OTHER = "other"


class Link(_Spec):
    """A link shown on the service's page."""

    title: str = Field(min_length=1, max_length=200)
    url: str = Field(pattern=r"^https?://\S+$", max_length=2000)
    kind: LinkKind = LinkKind.OTHER


class Dependency(_Spec):
    """A service this one calls; ``hard`` means it fails without it."""

    service: str = Field(pattern=NAME_PATTERN)
    kind: Literal["hard", "soft"] = "hard"


class ServiceSpec(_Spec):
    """A service in the catalog.

    Attributes:
        owner: the team or person answerable for it.
        tier: 1 (most critical) to 4.
        environment: where it runs, e.g. ``production``.
        links: runbooks, dashboards, repository, docs.
        dependencies: services it calls; they need not be in the catalog yet.
        labels: free-form key/value pairs for grouping and routing.
    """

    owner: str = Field(min_length=1, max_length=200)
    tier: int = Field(default=3, ge=1, le=4)
    environment: str = Field(default="production", min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    links: list[Link] = Field(default_factory=list)
    dependencies: list[Dependency] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("dependencies")
    @classmethod
    def _unique_dependencies(cls, deps: list[Dependency]) -> list[Dependency]:
        seen: set[str] = set()
        for dep in deps:
            if dep.service in seen:
                raise ValueError(f"dependency {dep.service!r} is listed twice")
            seen.add(dep.service)
        return deps


class PolicySpec(_Spec):
    """A named resilience pipeline of a service, delivered to its SDK by the config stream.

    Attributes:
        service: the service whose SDK uses it.
        pipeline: policy specs, outermost first, in the shape ``reliant.resilience.registry``
            builds (``{"kind": "retry", "attempts": 3}``); checked by building it.
    """

    service: str = Field(pattern=NAME_PATTERN)
    description: str = Field(default="", max_length=2000)
    pipeline: list[dict[str, Any]] = Field(min_length=1)

    @field_validator("pipeline")
    @classmethod
    def _pipeline_builds(cls, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from reliant.resilience.registry import build_pipeline, without_imports

        # Built to check it, never used: modules named by import paths are not imported
        # (a spec may come from an API request; importing a module runs its code).
        with without_imports():
            build_pipeline(specs)  # raises ValueError naming the offending option's path
        return specs


def _duration(value: str, what: str, *, minimum: float = 1.0) -> str:
    from reliant._core.durations import parse_duration

    seconds = parse_duration(value, option=what)
    if seconds < minimum:
        raise ValueError(f"{what} must be at least {minimum:g}s, got {value!r}")
    return value


Duration = Annotated[str, Field(pattern=r"^\d+(\.\d+)?(ms|s|m|h|d|w)(\d+(\.\d+)?(ms|s|m|h|d|w))*$")]


Outcome = Literal["success", "failure", "rejected", "timeout"]


def _success_only() -> list[Outcome]:
    return ["success"]


class RatioSLI(_Spec):
    """Good/total calls of one operation, from the SDK's telemetry (``metered()`` names it).

    Attributes:
        operation: the operation's name in telemetry (the policy or pipeline name).
        good: outcomes that count as good; every other outcome is bad.
    """

    operation: str = Field(min_length=1, max_length=200)
    good: list[Outcome] = Field(default_factory=_success_only, min_length=1)


class LatencySLI(_Spec):
    """Calls of one operation faster than a threshold, from the telemetry's histograms.

    Attributes:
        threshold: calls at or under it are good; it must be one of the histogram's bounds
            (``reliant.agent.protocol.LATENCY_BOUNDS``), so counts stay exact.
        outcomes: outcomes whose calls count (default: successful ones only).
    """

    operation: str = Field(min_length=1, max_length=200)
    threshold: Duration
    outcomes: list[Outcome] = Field(default_factory=_success_only, min_length=1)

    @field_validator("threshold")
    @classmethod
    def _on_a_bound(cls, value: str) -> str:
        from reliant._core.durations import parse_duration
        from reliant.agent.protocol import LATENCY_BOUNDS

        seconds = parse_duration(value, option="threshold")
        if not any(abs(seconds - b) < 1e-9 for b in LATENCY_BOUNDS):
            bounds = ", ".join(f"{b * 1000:g}ms" for b in LATENCY_BOUNDS)
            raise ValueError(f"threshold {value!r} is not a histogram bound; use one of {bounds}")
        return value


class PromQLSLI(_Spec):
    """An SLI as a PromQL pair (Sloth's ``events``): bad events over all events.

    Attributes:
        error_query: bad events per second over ``{{.window}}``.
        total_query: all events per second over ``{{.window}}``.
    """

    error_query: str = Field(min_length=1, max_length=4000)
    total_query: str = Field(min_length=1, max_length=4000)

    @field_validator("error_query", "total_query")
    @classmethod
    def _has_window(cls, value: str) -> str:
        if "{{.window}}" not in value.replace(" ", ""):
            raise ValueError("the query must contain {{.window}} (Sloth's window placeholder)")
        return value


class SLI(_Spec):
    """Exactly one way to count good and bad events."""

    ratio: RatioSLI | None = None
    latency: LatencySLI | None = None
    prometheus: PromQLSLI | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SLI:
        given = [k for k in ("ratio", "latency", "prometheus") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of ratio, latency, prometheus (got {', '.join(given) or 'none'})"
            )
        return self


class SLOWindow(_Spec):
    """The compliance period: rolling (``rolling: 30d``) or calendar (``calendar: month``)."""

    rolling: Duration | None = None
    calendar: Literal["week", "month"] | None = None
    timezone: str = "UTC"

    @model_validator(mode="after")
    def _one_kind(self) -> SLOWindow:
        if (self.rolling is None) == (self.calendar is None):
            raise ValueError("give either rolling (e.g. 30d) or calendar (week or month)")
        if self.rolling is not None:
            _duration(self.rolling, "rolling", minimum=3600.0)
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {self.timezone!r} (use an IANA name)") from None
        return self


class BurnAlert(_Spec):
    """One multiwindow burn-rate condition: both windows burn faster than ``burn_rate``."""

    severity: Literal["page", "ticket"]
    long: Duration
    short: Duration
    burn_rate: float = Field(gt=0, allow_inf_nan=False)


class SLOAlerting(_Spec):
    """Burn-rate alerting of an SLO.

    Attributes:
        windows: the conditions; empty means the SRE workbook's four (14.4/6/3/1 on
            1h/5m, 6h/30m, 1d/2h, 3d/6h for 30 days), scaled to the SLO's period.
        min_events: the long window must hold at least this many events to alert
            (a guard against paging on a handful of requests).
        labels, annotations: added to both alerts; ``page_labels``/``ticket_labels`` to one.
        enabled: ``false`` keeps the SLO and its budget but raises no alert.
    """

    enabled: bool = True
    windows: list[BurnAlert] = Field(default_factory=list)
    min_events: int = Field(default=10, ge=0)
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    page_labels: dict[str, str] = Field(default_factory=dict)
    ticket_labels: dict[str, str] = Field(default_factory=dict)


class TimeSlices(_Spec):
    """Time-slice budgeting: a slice is good when its good ratio reaches ``target``."""

    duration: Duration = "5m"
    target: float = Field(default=0.99, gt=0, lt=1)


class SLOSpec(_Spec):
    """A service level objective.

    Attributes:
        service: the service it belongs to.
        objective: the target, in percent (``99.9``).
        sli: how good and bad events are counted.
        window: the compliance period (default rolling 30 days).
        budgeting: ``occurrences`` (exact good/total over the window) or ``timeslices``.
        timeslices: the slice length and target when budgeting by time slices.
    """

    service: str = Field(pattern=NAME_PATTERN)
    description: str = Field(default="", max_length=2000)
    objective: float = Field(gt=0, lt=100, allow_inf_nan=False)
    sli: SLI
    window: SLOWindow = Field(default_factory=lambda: SLOWindow(rolling="30d"))
    budgeting: Literal["occurrences", "timeslices"] = "occurrences"
    timeslices: TimeSlices = Field(default_factory=TimeSlices)
    alerting: SLOAlerting = Field(default_factory=SLOAlerting)
    labels: dict[str, str] = Field(default_factory=dict)


def _storable(value: Any) -> bool:
    """Whether ``value``'s text can be stored (no NUL characters, no lone surrogates)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return "\x00" not in value
    if isinstance(value, dict):
        return all(_storable(k) and _storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable(v) for v in value)
    return True


class AlertRouteNode(_Spec):
    """A route of the alert routing tree; unset options are inherited from the parent.

    Attributes:
        matchers: Alertmanager matchers (``severity="page"``), all of which must hold.
        receiver: where its notifications go (a name listed in ``receivers``).
        continue_ (``continue``): after this route matched, try its later siblings too.
        group_by: labels naming a group (``["..."]``: every label).
        group_wait, group_interval, repeat_interval: Alertmanager's timings (30s, 5m, 4h).
        mute_time_intervals, active_time_intervals: names of ``time_intervals``.
        routes: child routes, tried in order.
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True
    )

    receiver: str | None = Field(default=None, max_length=100)
    group_by: list[str] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    matchers: list[str] = Field(default_factory=list)
    continue_: bool = Field(default=False, alias="continue")
    mute_time_intervals: list[str] = Field(default_factory=list)
    active_time_intervals: list[str] = Field(default_factory=list)
    routes: list[AlertRouteNode] = Field(default_factory=list)


class AlertReceiverRef(_Spec):
    """A receiver routes may name (defined as a notify receiver)."""

    name: str = Field(min_length=1, max_length=100)


class InhibitRule(_Spec):
    """While a source alert fires, mute target alerts with equal ``equal`` labels."""

    source_matchers: list[str] = Field(default_factory=list)
    target_matchers: list[str] = Field(default_factory=list)
    equal: list[str] = Field(default_factory=list)


class TimeOfDayRange(_Spec):
    """Minutes of the day, ``HH:MM``; the end is exclusive (``24:00`` allowed)."""

    start_time: str = Field(max_length=5)
    end_time: str = Field(max_length=5)


class TimePeriod(_Spec):
    """One period of a time interval; every field given must hold."""

    times: list[TimeOfDayRange] | None = None
    weekdays: list[str] | None = None
    days_of_month: list[str] | None = None
    months: list[str] | None = None
    years: list[str] | None = None
    location: str | None = Field(default=None, max_length=100)


class TimeInterval(_Spec):
    """A named, recurring time interval (Alertmanager's ``time_intervals`` entry)."""

    name: str = Field(min_length=1, max_length=100)
    time_intervals: list[TimePeriod] = Field(default_factory=list)


class AlertRouteSpec(_Spec):
    """The alert routing document, in Alertmanager's shape (one, named ``default``).

    Attributes:
        route: the root route (a receiver, no matchers).
        receivers: the receiver names routes may use.
        inhibit_rules: inhibition rules.
        time_intervals: named recurring intervals for mute/active time intervals.
    """

    route: AlertRouteNode
    receivers: list[AlertReceiverRef] = Field(default_factory=list)
    inhibit_rules: list[InhibitRule] = Field(default_factory=list)
    time_intervals: list[TimeInterval] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _no_unstorable_text(cls, data: Any) -> Any:
        if not _storable(data):
            raise ValueError("text may not hold NUL characters (\\u0000) or lone surrogates")
        return data


Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
#: Every weekday, in ISO order (Monday first).
WEEKDAYS: tuple[Weekday, ...] = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
_CLOCK = r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"


def _every_weekday() -> list[Weekday]:
    return list(WEEKDAYS)


def _timezone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r} (use an IANA name such as Europe/Paris)"
        ) from None
    return value


class Restriction(_Spec):
    """A weekly window in which a rotation is active, in the schedule's local time.

    Attributes:
        weekdays: the days the window starts on (default every day).
        start_time, end_time: ``HH:MM``; the end is exclusive (``24:00`` allowed). An end at
            or before the start crosses midnight: ``18:00``–``09:00`` is a night.
    """

    weekdays: list[Weekday] = Field(default_factory=_every_weekday, min_length=1)
    start_time: str = Field(default="00:00", pattern=_CLOCK)
    end_time: str = Field(default="24:00", pattern=_CLOCK)

    @model_validator(mode="after")
    def _valid_window(self) -> Restriction:
        if self.start_time == "24:00":
            raise ValueError("start_time must be before 24:00")
        if len(set(self.weekdays)) != len(self.weekdays):
            raise ValueError("a weekday is listed twice")
        return self


class Rotation(_Spec):
    """A layer of a schedule: members take turns, one shift each, from ``start`` on.

    Attributes:
        name: the layer's name, shown as the source of its shifts.
        members: notify receivers, one per person (email, Slack or PagerDuty), in turn order.
        start: the first hand-off, a local date-time in the schedule's zone
            (``2027-01-04T09:00``); nobody is on call in this layer before it.
        shift: how long each turn lasts (``12h``, ``1d``, ``7d``); hand-offs fall on the same
            local time of day across daylight saving changes.
        restrict: windows in which the layer is active (default: always).
    """

    name: str = Field(pattern=NAME_PATTERN)
    members: list[str] = Field(min_length=1, max_length=100)
    start: str = Field(max_length=40)
    shift: Duration
    restrict: list[Restriction] = Field(default_factory=list, max_length=50)

    @field_validator("members")
    @classmethod
    def _member_names(cls, members: list[str]) -> list[str]:
        import re

        for member in members:
            if not re.match(NAME_PATTERN, member):
                raise ValueError(f"member {member!r} is not a receiver name ({NAME_HINT})")
        return members

    @field_validator("start")
    @classmethod
    def _local_start(cls, value: str) -> str:
        import datetime as dt

        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"start {value!r} is not a date-time such as 2027-01-04T09:00"
            ) from None
        if moment.tzinfo is not None:
            raise ValueError(
                f"start {value!r} has a UTC offset: give the local time in the schedule's "
                "timezone, e.g. 2027-01-04T09:00"
            )
        return value

    @field_validator("shift")
    @classmethod
    def _shift_length(cls, value: str) -> str:
        _duration(value, "shift", minimum=3600.0)
        from reliant._core.durations import parse_duration

        if parse_duration(value) > 366 * 86400.0:
            raise ValueError(f"shift must be at most 366d, got {value!r}")
        return value


class ScheduleSpec(_Spec):
    """An on-call schedule: rotations (layers) in a time zone; later layers win.

    Attributes:
        timezone: the IANA zone of the rotations' local times.
        rotations: the layers, lowest first: where a later layer is active it wins
            (PagerDuty's layers). Overrides, set through the API, win over every layer.
    """

    description: str = Field(default="", max_length=2000)
    timezone: str = "UTC"
    rotations: list[Rotation] = Field(min_length=1, max_length=20)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _timezone(value)

    @field_validator("rotations")
    @classmethod
    def _unique_names(cls, rotations: list[Rotation]) -> list[Rotation]:
        seen: set[str] = set()
        for rotation in rotations:
            if rotation.name in seen:
                raise ValueError(f"rotation {rotation.name!r} is listed twice")
            seen.add(rotation.name)
        return rotations


class EscalationTarget(_Spec):
    """Who a level notifies: the member on call in a schedule, or a receiver."""

    schedule: str | None = Field(default=None, pattern=NAME_PATTERN)
    receiver: str | None = Field(default=None, pattern=NAME_PATTERN)

    @model_validator(mode="after")
    def _exactly_one(self) -> EscalationTarget:
        if (self.schedule is None) == (self.receiver is None):
            raise ValueError("give exactly one of schedule and receiver")
        return self


class EscalationLevel(_Spec):
    """One step of an escalation: its targets, and how long to wait for an acknowledgement."""

    targets: list[EscalationTarget] = Field(min_length=1, max_length=20)
    timeout: Duration = "5m"

    @field_validator("timeout")
    @classmethod
    def _at_least_a_minute(cls, value: str) -> str:
        return _duration(value, "timeout", minimum=60.0)


class EscalationPolicySpec(_Spec):
    """Who is paged, in which order, until someone acknowledges.

    Attributes:
        levels: notified one after the other, each after the previous one's timeout.
        repeat: times to run the levels again after the last one (0 to 5).
        ack_timeout: an acknowledgement expires after this long; the page is triggered
            again and escalation restarts at level 1 (default: never).
        reopen_within: an alert firing again this soon after its page was resolved reopens
            the same page, so a flapping alert makes one page.
    """

    description: str = Field(default="", max_length=2000)
    levels: list[EscalationLevel] = Field(min_length=1, max_length=20)
    repeat: int = Field(default=0, ge=0, le=5)
    ack_timeout: Duration | None = None
    reopen_within: Duration = "10m"

    @field_validator("ack_timeout")
    @classmethod
    def _ack_timeout(cls, value: str | None) -> str | None:
        return None if value is None else _duration(value, "ack_timeout", minimum=60.0)

    @field_validator("reopen_within")
    @classmethod
    def _reopen_within(cls, value: str) -> str:
        return _duration(value, "reopen_within", minimum=0.0)


IncidentSeverity = Literal["SEV1", "SEV2", "SEV3", "SEV4", "SEV5"]


class SeverityFromLabel(_Spec):
    """An incident's severity read from one of the alert's labels.

    Attributes:
        label: the label to read (default ``severity``).
        map: label value → severity, e.g. ``{page: SEV2, ticket: SEV4}``.
        default: the severity of values the map lacks; without one, such alerts do not
            match the rule.
    """

    label: str = Field(default="severity", min_length=1, max_length=200)
    map: dict[str, IncidentSeverity] = Field(min_length=1, max_length=100)
    default: IncidentSeverity | None = None


class IncidentRuleSpec(_Spec):
    """When firing alerts declare an incident, how severe it is, and which alerts share one.

    Attributes:
        matchers: Alertmanager matchers (``severity="page"``, ``service=~"payments|ledger"``),
            all of which must hold.
        severity: a fixed severity (``SEV1`` worst to ``SEV5``); or ``severity_from``.
        severity_from: the severity from a label, through a map.
        services: only alerts whose ``service`` label is one of these (default: any).
        group_by: labels whose values name an incident: while one is open, alerts with the
            same values attach to it instead of declaring another (default: service and
            alertname; ``[]``: one open incident for every alert of the rule).
        auto_resolve: when all its alerts have resolved, resolve the incident; ``false``
            (the default) marks it mitigated and leaves the resolution to people.
        title: the incident's title, ``{label}`` replaced by the alert's label values
            (default: the alert's name and summary).
        notify: notify receivers told of the incidents it declares.
    """

    description: str = Field(default="", max_length=2000)
    matchers: list[str] = Field(min_length=1, max_length=50)
    severity: IncidentSeverity | None = None
    severity_from: SeverityFromLabel | None = None
    services: list[Annotated[str, Field(pattern=NAME_PATTERN)]] = Field(
        default_factory=list, max_length=100
    )
    group_by: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=lambda: ["service", "alertname"], max_length=20
    )
    auto_resolve: bool = False
    title: str = Field(default="", max_length=500)
    notify: list[Annotated[str, Field(pattern=NAME_PATTERN)]] = Field(
        default_factory=list, max_length=20
    )

    @model_validator(mode="before")
    @classmethod
    def _no_unstorable_text(cls, data: Any) -> Any:
        if not _storable(data):
            raise ValueError("text may not hold NUL characters (\\u0000) or lone surrogates")
        return data

    @model_validator(mode="after")
    def _one_severity(self) -> IncidentRuleSpec:
        if (self.severity is None) == (self.severity_from is None):
            raise ValueError("give exactly one of severity (e.g. SEV2) and severity_from")
        return self


#: Ids of runbook steps: lowercase letters, digits, ``-`` and ``_``.
STEP_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
#: Names of runbook parameters, as ``{{ params.NAME }}`` writes them.
PARAMETER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"
#: Names of objects in SDK code (breakers, limiters, faults, operations), as the config
#: domain accepts them.
SDK_OBJECT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$"
#: Longest a runbook step may run.
MAX_STEP_TIMEOUT = 3600.0
HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
StatusCode = Annotated[int, Field(ge=100, le=599)]


class RunbookParameter(_Spec):
    """A value a run is started with, used in steps as ``{{ params.NAME }}``.

    Attributes:
        default: the value when the run gives none.
        required: a run must give it (only for parameters without a default).
        secret: its value is shown as ``********`` in every event, output, error and answer.
    """

    name: str = Field(pattern=PARAMETER_PATTERN)
    description: str = Field(default="", max_length=2000)
    default: str | None = Field(default=None, max_length=4000)
    required: bool = False
    secret: bool = False

    @model_validator(mode="after")
    def _default_or_required(self) -> RunbookParameter:
        if self.required and self.default is not None:
            raise ValueError(f"parameter {self.name!r} is required and has a default: drop one")
        if self.secret and self.default is not None:
            raise ValueError(
                f"secret parameter {self.name!r} has a default, which every reader of the "
                "runbook sees: pass the value when starting a run instead"
            )
        return self


class Goto(_Spec):
    """Jump to a later step (the steps in between are skipped)."""

    goto: str = Field(pattern=STEP_ID_PATTERN)


class _Step(_Spec):
    """What every step has: an id, a timeout, whether it is destructive, where it goes next.

    Attributes:
        timeout: longest it may run (``60s`` by default, at most ``1h``); for manual and
            approval steps, unused (they wait for a person).
        destructive: it needs an approval before it runs, unless a person started the run
            with ``approve_destructive``.
        on_failure: ``abort`` the run, ``continue`` with the next step, or ``{goto: id}``.
        on_success: ``next`` step, ``end`` the run, or ``{goto: id}``.
    """

    id: str = Field(pattern=STEP_ID_PATTERN)
    name: str = Field(default="", max_length=200)
    timeout: Duration = "60s"
    destructive: bool = False
    on_failure: Literal["abort", "continue"] | Goto = "abort"
    on_success: Literal["next", "end"] | Goto = "next"

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: str) -> str:
        from reliant._core.durations import parse_duration

        if not 1.0 <= parse_duration(value, option="timeout") <= MAX_STEP_TIMEOUT:
            raise ValueError(f"timeout must be between 1s and 1h, got {value!r}")
        return value

    def texts(self) -> dict[tuple[str | int, ...], str]:
        """The templated fields, by key path within the step."""
        return {}


class HttpStep(_Step):
    """An HTTP request; it fails on a status outside ``expect_status`` (default any 2xx)."""

    kind: Literal["http"]
    method: HttpMethod = "GET"
    url: str = Field(min_length=1, max_length=2000, pattern=r"^(https?://|\{\{)\S*")
    headers: dict[str, str] = Field(default_factory=dict, max_length=50)
    body: str | None = Field(default=None, max_length=65536)
    expect_status: list[StatusCode] = Field(default_factory=list, max_length=50)

    def texts(self) -> dict[tuple[str | int, ...], str]:
        """The URL, header values and body."""
        found: dict[tuple[str | int, ...], str] = {("url",): self.url}
        found.update({("headers", k): v for k, v in self.headers.items()})
        if self.body is not None:
            found[("body",)] = self.body
        return found


class ShellStep(_Step):
    """A command run without a shell: ``command`` is the argument list, ``command[0]`` an
    executable on the server's allow-list (``RELIANT_RUNBOOK_EXECUTABLES``)."""

    kind: Literal["shell"]
    command: list[Annotated[str, Field(max_length=8192)]] = Field(min_length=1, max_length=200)
    env: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], str] = Field(
        default_factory=dict, max_length=50
    )

    @field_validator("command")
    @classmethod
    def _executable(cls, command: list[str]) -> list[str]:
        if not command[0] or "{{" in command[0]:
            raise ValueError("command[0] names the executable itself; it may not be a template")
        return command

    def texts(self) -> dict[tuple[str | int, ...], str]:
        """The arguments and environment values."""
        found: dict[tuple[str | int, ...], str] = {
            ("command", i): arg for i, arg in enumerate(self.command)
        }
        found.update({("env", k): v for k, v in self.env.items()})
        return found


SdkAction = Literal[
    "force_open", "close", "disable", "set_rate", "reset_rate", "fault_on", "fault_off"
]


class SdkStep(_Step):
    """An override through the config stream, obeyed by the service's SDK.

    ``force_open``/``disable`` force a breaker, ``close`` returns it to automatic (closed);
    ``set_rate``/``reset_rate`` change a limiter's rate or give it back to the code;
    ``fault_on``/``fault_off`` switch a fault. ``target`` names the breaker, limiter or fault.
    """

    kind: Literal["sdk"]
    action: SdkAction
    service: str | None = Field(default=None, pattern=NAME_PATTERN)
    target: str = Field(pattern=SDK_OBJECT_PATTERN)
    rate: float | None = Field(default=None, gt=0, le=1e12, allow_inf_nan=False)
    per: float | None = Field(default=None, gt=0, le=1e9, allow_inf_nan=False)
    burst: int | None = Field(default=None, ge=1, le=10**12)

    @model_validator(mode="after")
    def _rate_only_to_set(self) -> SdkStep:
        if self.action == "set_rate" and self.rate is None:
            raise ValueError("set_rate needs rate (and optionally per and burst)")
        if self.action != "set_rate" and (self.rate, self.per, self.burst) != (None, None, None):
            raise ValueError(f"rate, per and burst belong to set_rate, not {self.action}")
        return self


class WaitUntilStep(_Step):
    """Poll every ``interval`` until a condition holds; it fails at ``timeout``.

    Exactly one of: ``slo`` (with ``condition`` on budget_remaining, burn_rate_1h,
    burn_rate_period or error_ratio), ``operation`` (its calls' error_ratio, requests or
    errors over the last ``window``, with ``condition``), or ``url`` (answering a status of
    ``expect_status``, default any 2xx, with ``body_contains`` in its body if given).
    """

    kind: Literal["wait_until"]
    slo: str | None = Field(default=None, pattern=NAME_PATTERN)
    operation: str | None = Field(default=None, pattern=SDK_OBJECT_PATTERN)
    service: str | None = Field(default=None, pattern=NAME_PATTERN)
    window: Duration = "5m"
    url: str | None = Field(default=None, max_length=2000, pattern=r"^(https?://|\{\{)\S*")
    method: Literal["GET", "HEAD"] = "GET"
    expect_status: list[StatusCode] = Field(default_factory=list, max_length=50)
    body_contains: str | None = Field(default=None, max_length=2000)
    condition: str | None = Field(default=None, max_length=200)
    interval: Duration = "10s"

    @model_validator(mode="after")
    def _one_source(self) -> WaitUntilStep:
        from reliant.spec.runbooks import SLO_METRICS, TELEMETRY_METRICS, parse_condition

        sources = [s for s in ("slo", "operation", "url") if getattr(self, s) is not None]
        if len(sources) != 1:
            raise ValueError("give exactly one of slo, operation and url to poll")
        if sources[0] == "url":
            if self.condition is not None:
                raise ValueError(
                    "a url is judged by expect_status and body_contains, not condition"
                )
            return self
        if self.condition is None:
            raise ValueError(f"polling {sources[0]} needs a condition, e.g. 'error_ratio < 0.01'")
        parse_condition(self.condition, SLO_METRICS if self.slo else TELEMETRY_METRICS)
        _duration(self.interval, "interval")
        _duration(self.window, "window", minimum=10.0)
        return self

    def texts(self) -> dict[tuple[str | int, ...], str]:
        """The URL and the text looked for."""
        found: dict[tuple[str | int, ...], str] = {}
        if self.url is not None:
            found[("url",)] = self.url
        if self.body_contains is not None:
            found[("body_contains",)] = self.body_contains
        return found


class ManualStep(_Step):
    """A checklist item: the run waits until a person marks it done."""

    kind: Literal["manual"]
    instructions: str = Field(default="", max_length=8000)

    def texts(self) -> dict[tuple[str | int, ...], str]:
        """The instructions."""
        return {("instructions",): self.instructions}


class ApprovalStep(_Step):
    """A gate: the run waits until an operator approves (or rejects: the step fails)."""

    kind: Literal["approval"]
    instructions: str = Field(default="", max_length=8000)

    def texts(self) -> dict[tuple[str | int, ...], str]:
        """The instructions."""
        return {("instructions",): self.instructions}


RunbookStep = Annotated[
    HttpStep | ShellStep | SdkStep | WaitUntilStep | ManualStep | ApprovalStep,
    Field(discriminator="kind"),
]


class RunbookTrigger(_Spec):
    """Start a run when an alert whose labels match every matcher starts firing.

    Attributes:
        matchers: Alertmanager matchers (``alertname="HighErrorRate"``).
        params: parameter values for the run; ``{{ labels.NAME }}`` is the alert's label.
    """

    matchers: list[Annotated[str, Field(min_length=1, max_length=2000)]] = Field(
        min_length=1, max_length=50
    )
    params: dict[str, Annotated[str, Field(max_length=4000)]] = Field(
        default_factory=dict, max_length=50
    )


class RunbookGuardrails(_Spec):
    """Limits on runs started by alerts.

    Attributes:
        max_runs_per_hour: automatic runs started in any hour, at most.
        cooldown: time after an automatic run ended before an alert may start another.
    """

    max_runs_per_hour: int = Field(default=3, ge=1, le=1000)
    cooldown: Duration = "0s"


class RunbookSpec(_Spec):
    """A runbook: parameters and steps run in order, by hand or when an alert fires.

    Attributes:
        service: the service it acts on (its runs' events belong to it).
        parameters: values a run is started with.
        steps: what a run does, in order; ids unique.
        triggers: alerts that start a run (auto-remediation).
        guardrails: limits on automatic runs.
    """

    description: str = Field(default="", max_length=2000)
    service: str | None = Field(default=None, pattern=NAME_PATTERN)
    parameters: list[RunbookParameter] = Field(default_factory=list, max_length=50)
    steps: list[RunbookStep] = Field(min_length=1, max_length=100)
    triggers: list[RunbookTrigger] = Field(default_factory=list, max_length=20)
    guardrails: RunbookGuardrails = Field(default_factory=RunbookGuardrails)

    @model_validator(mode="before")
    @classmethod
    def _no_unstorable_text(cls, data: Any) -> Any:
        if not _storable(data):
            raise ValueError("text may not hold NUL characters (\\u0000) or lone surrogates")
        return data

    @model_validator(mode="after")
    def _consistent(self) -> RunbookSpec:
        from reliant.spec._yaml import Problems

        problems = self._name_problems() + self._template_problems() + self._trigger_problems()
        if problems:
            raise Problems(problems)
        return self

    def _name_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        from reliant.spec.runbooks import flow_problems

        problems: list[tuple[tuple[str | int, ...], str]] = []
        for what, names in (
            ("parameters", [p.name for p in self.parameters]),
            ("steps", [s.id for s in self.steps]),
        ):
            seen: set[str] = set()
            for i, name in enumerate(names):
                if name in seen:
                    problems.append(((what, i), f"{name!r} is used by an earlier one too"))
                seen.add(name)
        if problems:
            return problems
        jumps = [
            (i, where, rule.goto)
            for i, step in enumerate(self.steps)
            for where, rule in (("on_success", step.on_success), ("on_failure", step.on_failure))
            if isinstance(rule, Goto)
        ]
        problems += flow_problems([s.id for s in self.steps], jumps)
        for i, step in enumerate(self.steps):
            acts_on_service = isinstance(step, SdkStep) or (
                isinstance(step, WaitUntilStep) and step.operation is not None
            )
            if acts_on_service and getattr(step, "service", None) is None and not self.service:
                problems.append(
                    (("steps", i, "service"), "name the service (the runbook names none)")
                )
        return problems

    def _template_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        from reliant.spec.runbooks import check_template

        names = [p.name for p in self.parameters]
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for i, step in enumerate(self.steps):
            for path, text in step.texts().items():
                problems += [(("steps", i, *path), m) for m in check_template(text, names)]
        return problems

    def _trigger_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        from reliant.spec.runbooks import check_template

        names = [p.name for p in self.parameters]
        needed = [p.name for p in self.parameters if p.required]
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for i, trigger in enumerate(self.triggers):
            for key, text in trigger.params.items():
                loc: tuple[str | int, ...] = ("triggers", i, "params", key)
                if key not in names:
                    known = ", ".join(names) or "none declared"
                    problems.append((loc, f"unknown parameter {key!r} ({known})"))
                problems += [(loc, m) for m in check_template(text, names, labels=True)]
            for name in needed:
                if name not in trigger.params:
                    problems.append(
                        (
                            ("triggers", i, "params"),
                            f"required parameter {name!r} needs a value for automatic runs",
                        )
                    )
        return problems


class PostmortemRequirement(_Spec):
    """When a resolved incident needs a postmortem, and by when.

    Attributes:
        severity_at_most: incidents of this severity or worse need one (``SEV2``: SEV1
            and SEV2 do).
        budget_consumed_over: incidents that consumed more than this percent of a linked
            SLO's error budget need one (``20``: the SRE Workbook's threshold).
        due_business_days: business days (Monday to Friday) after the resolution by which
            it is due.
    """

    severity_at_most: IncidentSeverity | None = None
    budget_consumed_over: float | None = Field(default=None, gt=0, le=10000)
    due_business_days: int = Field(default=5, ge=1, le=100)

    @model_validator(mode="after")
    def _some_condition(self) -> PostmortemRequirement:
        if self.severity_at_most is None and self.budget_consumed_over is None:
            raise ValueError(
                "give severity_at_most (e.g. SEV2), budget_consumed_over (a percent, e.g. 20) "
                "or both"
            )
        return self


class ErrorBudgetPolicySpec(_Spec):
    """What an incident of these services must be followed by: a postmortem, when it meets
    the requirement.

    Attributes:
        services: the services it covers (an incident linking any of them); empty: every
            service, and incidents without services.
        postmortem: when a postmortem is required.
    """

    description: str = Field(default="", max_length=2000)
    services: list[Annotated[str, Field(pattern=NAME_PATTERN)]] = Field(
        default_factory=list, max_length=100
    )
    postmortem: PostmortemRequirement

    @model_validator(mode="before")
    @classmethod
    def _no_unstorable_text(cls, data: Any) -> Any:
        if not _storable(data):
            raise ValueError("text may not hold NUL characters (\\u0000) or lone surrogates")
        return data


class Metadata(_Spec):
    """An object's identity."""

    name: str = Field(pattern=NAME_PATTERN)


#: Every kind ``reliant.yaml`` may declare, with the model of its ``spec``.
KINDS: dict[str, type[_Spec]] = {
    "Service": ServiceSpec,
    "Policy": PolicySpec,
    "SLO": SLOSpec,
    "AlertRoute": AlertRouteSpec,
    "Schedule": ScheduleSpec,
    "EscalationPolicy": EscalationPolicySpec,
    "IncidentRule": IncidentRuleSpec,
    "Runbook": RunbookSpec,
    "ErrorBudgetPolicy": ErrorBudgetPolicySpec,
}
