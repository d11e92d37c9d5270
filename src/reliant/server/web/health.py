"""A service's health at a glance, from what its SDK reported and what operators set.

Pure logic: no I/O, time passed in. ``status.py`` reads the inputs; pages show the result
as a coloured label whose text says the same as its colour.

Levels, worst first: ``critical`` (a breaker opened by itself, error ratio at or over 5 %,
error events), ``warning`` (half-open or forced-open breaker, a fault switched on, error
ratio at or over 1 %, warning events), ``ok`` (telemetry or reports lately and nothing
wrong), ``unknown`` (nothing heard from the service lately: the control plane's own changes,
such as ``service.created``, do not count).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Seconds of telemetry and events the health looks at.
WINDOW = 300.0
#: A service silent for this long (no telemetry, no events) has unknown health.
STALE_AFTER = 900.0
#: A policy state reported longer ago than this is shown but does not count for health.
POLICY_STALE = 3600.0
CRITICAL_ERROR_RATIO = 0.05
WARNING_ERROR_RATIO = 0.01
LEVELS = ("unknown", "ok", "warning", "critical")
#: Event kinds that report a policy's state (docs/events.md).
BREAKER_CHANGED = "circuit_breaker.state_changed"
FAULT_KINDS = ("fault.enabled", "fault.disabled", "fault.injected")
LIMITER_REJECTED = "rate_limiter.rejected"
POLICY_KINDS = (BREAKER_CHANGED, *FAULT_KINDS)
#: Kind prefixes of the control plane's own changes: they are not news from the service.
CONTROL_PLANE_PREFIXES = ("service.", "config.", "settings.", "events.")
#: Override sections of the config document → the policy kind shown.
OVERRIDE_KIND = {"breakers": "breaker", "limiters": "limiter", "faults": "fault"}


@dataclass(frozen=True, slots=True)
class PolicyState:
    """One breaker, limiter or fault of a service, as reported and as overridden.

    Attributes:
        kind: ``breaker``, ``limiter`` or ``fault``.
        name: its ``name=`` in the service's code.
        reported: the last state the SDK reported (breaker: a CircuitState value; fault:
            ``enabled``/``disabled``), if any.
        reported_at: when it reported it.
        override: the operator's override (the config document's value), if any.
        override_by: who set the override.
        override_at: when.
        rejections: limiter rejections reported in the health window.
    """

    kind: str
    name: str
    reported: str | None = None
    reported_at: float | None = None
    override: Mapping[str, Any] | None = None
    override_by: str | None = None
    override_at: float | None = None
    rejections: int = 0

    @property
    def forced(self) -> str | None:
        """The breaker state an operator forced, or ``None`` (automatic)."""
        if self.kind != "breaker" or not self.override:
            return None
        state = self.override.get("state")
        return str(state) if state else None

    @property
    def fault_on(self) -> bool | None:
        """Whether a fault is on: the override wins over the last report."""
        if self.kind != "fault":
            return None
        if self.override is not None and "enabled" in self.override:
            return bool(self.override["enabled"])
        if self.reported in ("enabled", "disabled"):
            return self.reported == "enabled"
        return None

    def fresh(self, now: float) -> bool:
        """Whether the last report is recent enough to count for health."""
        return self.reported_at is not None and now - self.reported_at <= POLICY_STALE

    def label(self) -> str:
        """What state it is in, in words."""
        if self.kind == "breaker":
            if forced := self.forced:
                return forced.replace("_", " ")
            return (self.reported or "no report yet").replace("_", " ")
        if self.kind == "fault":
            on = self.fault_on
            return "no report yet" if on is None else ("on" if on else "off")
        if self.override and "rate" in self.override:
            per = self.override.get("per", 1.0)
            return f"{self.override['rate']:g} per {per:g} s"
        return "as coded"

    def override_label(self) -> str:
        """The override in words (``""`` without one)."""
        if self.override is None:
            return ""
        if self.kind == "breaker":
            return f"force {self.forced or '?'}".replace("_", " ")
        if self.kind == "fault":
            return "switch on" if self.override.get("enabled") else "switch off"
        burst = self.override.get("burst")
        rate = f"{self.override.get('rate', 0):g} per {self.override.get('per', 1.0):g} s"
        return rate + (f", burst {burst}" if burst else "")

    def level(self, now: float) -> str:
        """``ok``, ``warning``, ``critical`` or ``unknown`` for this policy alone."""
        if self.kind == "breaker":
            if self.forced == "forced_open":
                return "warning"
            if self.forced:
                return "ok"
            if not self.fresh(now):
                return "unknown"
            return {"open": "critical", "half_open": "warning", "forced_open": "warning"}.get(
                self.reported or "", "ok"
            )
        if self.kind == "fault":
            return "warning" if self.fault_on else ("unknown" if self.fault_on is None else "ok")
        return "ok"  # a limiter that rejects is doing its job; its count is shown, not judged


@dataclass(frozen=True, slots=True)
class Health:
    """A service's health: its level, a short label and every reason found."""

    level: str
    label: str
    reasons: tuple[str, ...] = ()


def policy_states(
    reports: Iterable[Mapping[str, Any]],
    overrides: Iterable[Mapping[str, Any]] = (),
    rejections: Mapping[str, int] | None = None,
) -> list[PolicyState]:
    """Merge SDK reports and overrides into one state per (kind, name), sorted.

    Args:
        reports: policy events, NEWEST FIRST, as dicts with ``kind``, ``time`` and
            ``attributes`` (whose ``name`` names the policy).
        overrides: overrides as dicts with ``kind`` (``breakers``/``limiters``/``faults``),
            ``name``, ``value``, ``updated_by``, ``updated_at``.
        rejections: limiter name → rejections in the window.
    """
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for event in reports:
        attributes = event.get("attributes") or {}
        name = str(attributes.get("name") or "")
        if not name:
            continue
        kind = event["kind"]
        if kind == BREAKER_CHANGED:
            key = ("breaker", name)
            state = attributes.get("to_state")
        elif kind in FAULT_KINDS:
            key = ("fault", name)
            state = {"fault.enabled": "enabled", "fault.disabled": "disabled"}.get(kind)
        else:
            continue
        entry = found.setdefault(key, {})
        if "reported" not in entry and state is not None:
            entry["reported"], entry["reported_at"] = str(state), float(event["time"])
    for name, n in (rejections or {}).items():
        found.setdefault(("limiter", name), {})["rejections"] = n
    for row in overrides:
        kind = OVERRIDE_KIND.get(str(row["kind"]))
        if kind is None:
            continue
        found.setdefault((kind, str(row["name"])), {}).update(
            override=dict(row["value"]),
            override_by=row.get("updated_by"),
            override_at=row.get("updated_at"),
        )
    return [PolicyState(kind, name, **fields) for (kind, name), fields in sorted(found.items())]


def assess(
    *,
    policies: Sequence[PolicyState],
    now: float,
    requests: int = 0,
    error_ratio: float | None = None,
    warnings: int = 0,
    errors: int = 0,
    last_event_at: float | None = None,
) -> Health:
    """A service's health from its policies, telemetry and recent events.

    Args:
        requests: calls in the last ``WINDOW`` seconds (telemetry).
        error_ratio: their error ratio (``None`` without calls).
        warnings: warning events in the window.
        errors: error and critical events in the window.
        last_event_at: the time of its newest report (events other than the control
            plane's own changes, see ``CONTROL_PLANE_PREFIXES``).
    """
    found: list[tuple[str, str]] = []
    for policy in policies:
        level = policy.level(now)
        if level in ("warning", "critical"):
            found.append((level, _policy_reason(policy)))
    if error_ratio is not None and requests:
        if error_ratio >= CRITICAL_ERROR_RATIO:
            found.append(("critical", f"{error_ratio * 100:.1f}% errors"))
        elif error_ratio >= WARNING_ERROR_RATIO:
            found.append(("warning", f"{error_ratio * 100:.1f}% errors"))
    if errors:
        found.append(("critical", f"{errors} error event{'s' if errors != 1 else ''}"))
    if warnings:
        found.append(("warning", f"{warnings} warning{'s' if warnings != 1 else ''}"))
    if found:
        worst = max(LEVELS.index(level) for level, _ in found)
        reasons = tuple(r for level, r in found if LEVELS.index(level) == worst) + tuple(
            r for level, r in found if LEVELS.index(level) != worst
        )
        return Health(LEVELS[worst], reasons[0], reasons)
    heard = requests > 0 or (last_event_at is not None and now - last_event_at <= STALE_AFTER)
    if heard:
        return Health("ok", "healthy")
    return Health("unknown", "no recent data")


def _policy_reason(policy: PolicyState) -> str:
    if policy.kind == "breaker":
        return f"breaker {policy.name} {policy.label()}"
    return f"fault {policy.name} on"
