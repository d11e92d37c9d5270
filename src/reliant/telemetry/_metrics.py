"""The metric catalogue shared by the Prometheus and OpenTelemetry adapters.

Every adapter subscribes one :class:`Translator` to the event bus; it turns each
event into calls on a :class:`Recorder` (add to a counter, observe a histogram, set a
gauge), so both back ends expose the same metrics with the same labels. Label values
are always bounded: policy names, states, outcomes and reasons — never keys,
exception messages or results.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, Self

from reliant._core.events import Event, Subscription, subscribe

if TYPE_CHECKING:
    from reliant._core.policy import Policy
    from reliant.resilience.circuit_breaker import CircuitBreaker
    from reliant.telemetry.metered import Metered

Kind = Literal["counter", "histogram", "gauge"]

#: Every state a breaker can be in, in the order the state gauge lists them.
BREAKER_STATES = ("closed", "open", "half_open", "forced_open", "disabled", "metrics_only")


@dataclass(frozen=True, slots=True, kw_only=True)
class Metric:
    """One metric, named for both back ends.

    Attributes:
        prometheus: the name after the namespace, unit suffix included and ``_total``
            left out (``prometheus_client`` appends it to counters).
        otel: the OpenTelemetry instrument name after the namespace.
        kind: counter, histogram or gauge.
        unit: the UCUM unit for OpenTelemetry (``"s"``, ``"1"``, ``"{call}"``).
        labels: the label (attribute) names, in the order values are passed.
        description: the help text.
    """

    prometheus: str
    otel: str
    kind: Kind
    unit: str
    labels: tuple[str, ...]
    description: str


def _m(prometheus: str, otel: str, kind: Kind, unit: str, labels: str, description: str) -> Metric:
    return Metric(
        prometheus=prometheus,
        otel=otel,
        kind=kind,
        unit=unit,
        labels=tuple(labels.split()),
        description=description,
    )


CALLS = _m(
    "calls",
    "calls",
    "counter",
    "{call}",
    "policy outcome",
    "Calls through a metered() policy, by outcome (success, failure, rejected, timeout).",
)
CALL_DURATION = _m(
    "call_duration_seconds",
    "call.duration",
    "histogram",
    "s",
    "policy outcome",
    "Duration of calls through a metered() policy, by outcome (as reliant_calls_total).",
)
BREAKER_CALLS = _m(
    "circuit_breaker_calls",
    "circuit_breaker.calls",
    "counter",
    "{call}",
    "policy outcome",
    "Calls seen by a circuit breaker, by outcome (success, failure, ignored, rejected).",
)
BREAKER_DURATION = _m(
    "circuit_breaker_call_duration_seconds",
    "circuit_breaker.call.duration",
    "histogram",
    "s",
    "policy outcome",
    "Duration of calls a circuit breaker let through, by outcome (success, failure).",
)
BREAKER_SLOW = _m(
    "circuit_breaker_slow_calls",
    "circuit_breaker.slow_calls",
    "counter",
    "{call}",
    "policy",
    "Calls slower than the breaker's slow_call threshold.",
)
BREAKER_STATE = _m(
    "circuit_breaker_state",
    "circuit_breaker.state",
    "gauge",
    "1",
    "policy state",
    "1 for the breaker's current state, 0 for every other state.",
)
BREAKER_TRANSITIONS = _m(
    "circuit_breaker_transitions",
    "circuit_breaker.transitions",
    "counter",
    "{transition}",
    "policy from_state to_state",
    "Circuit breaker state changes.",
)
BREAKER_THRESHOLD = _m(
    "circuit_breaker_threshold_exceeded",
    "circuit_breaker.threshold_exceeded",
    "counter",
    "{event}",
    "policy",
    "Times a breaker's failure or slow-call rate reached its threshold.",
)
RETRY_ATTEMPTS = _m(
    "retry_attempts",
    "retry.attempts",
    "counter",
    "{attempt}",
    "policy",
    "Retries scheduled after a failed attempt (first attempts are not counted).",
)
RETRY_EXHAUSTED = _m(
    "retry_exhausted",
    "retry.exhausted",
    "counter",
    "{call}",
    "policy reason",
    "Calls a retry policy gave up on, by reason (attempts, max_elapsed, budget, ...).",
)
RETRY_SUCCEEDED = _m(
    "retry_succeeded",
    "retry.succeeded",
    "counter",
    "{call}",
    "policy",
    "Calls that succeeded after at least one retry.",
)
REJECTIONS = _m(
    "rejections",
    "rejections",
    "counter",
    "{call}",
    "policy kind",
    "Calls rejected without running, by the kind of policy that refused them.",
)
LIMITER_DECISIONS = _m(
    "rate_limiter_decisions",
    "rate_limiter.decisions",
    "counter",
    "{decision}",
    "policy decision",
    "Rate limiter decisions (allowed, rejected).",
)
TIMEOUTS = _m("timeouts", "timeouts", "counter", "{call}", "policy", "Calls that timed out.")
FALLBACKS = _m(
    "fallbacks", "fallbacks", "counter", "{call}", "policy", "Calls answered by a fallback."
)
HEDGE_ATTEMPTS = _m(
    "hedge_attempts",
    "hedge.attempts",
    "counter",
    "{attempt}",
    "policy",
    "Hedged attempts launched beyond the first.",
)
HEDGE_WINS = _m(
    "hedge_wins",
    "hedge.wins",
    "counter",
    "{call}",
    "policy winner",
    "Hedged calls by which attempt answered first (primary, hedge).",
)
FAULTS = _m(
    "faults_injected",
    "faults.injected",
    "counter",
    "{fault}",
    "policy fault",
    "Faults injected, by kind (error, latency, result).",
)
FAULT_ENABLED = _m(
    "fault_enabled",
    "fault.enabled",
    "gauge",
    "1",
    "policy",
    "1 while a fault injector is enabled, 0 once disabled.",
)
ADAPTIVE_LIMIT = _m(
    "adaptive_limit",
    "adaptive_limit",
    "gauge",
    "{call}",
    "policy",
    "The current concurrency limit of an adaptive limiter.",
)

#: Every metric, in the order adapters create them.
METRICS = (
    CALLS,
    CALL_DURATION,
    BREAKER_CALLS,
    BREAKER_DURATION,
    BREAKER_SLOW,
    BREAKER_STATE,
    BREAKER_TRANSITIONS,
    BREAKER_THRESHOLD,
    RETRY_ATTEMPTS,
    RETRY_EXHAUSTED,
    RETRY_SUCCEEDED,
    REJECTIONS,
    LIMITER_DECISIONS,
    TIMEOUTS,
    FALLBACKS,
    HEDGE_ATTEMPTS,
    HEDGE_WINS,
    FAULTS,
    FAULT_ENABLED,
    ADAPTIVE_LIMIT,
)

#: The ``kind`` label of ``rejections`` for each rejection event.
_REJECTION_KINDS = {
    "circuit_breaker.rejected": "circuit_breaker",
    "bulkhead.rejected": "bulkhead",
    "rate_limiter.rejected": "rate_limiter",
    "adaptive_limit.rejected": "adaptive_limit",
    "throttle.rejected": "throttle",
}


class Recorder(Protocol):
    """What a back end implements: three operations on catalogue metrics."""

    def add(self, metric: Metric, labels: tuple[str, ...], amount: float = 1) -> None:
        """Add ``amount`` to a counter."""

    def observe(self, metric: Metric, labels: tuple[str, ...], value: float) -> None:
        """Record ``value`` in a histogram."""

    def set(self, metric: Metric, labels: tuple[str, ...], value: float) -> None:
        """Set a gauge."""


class Translator:
    """An event listener that records every event as metrics on a :class:`Recorder`.

    It remembers the last state of each breaker so the state gauge always has exactly
    one series at 1 per breaker.
    """

    __slots__ = ("_handlers", "_lock", "_recorder", "states")

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder
        #: Last known state of each breaker, by policy name.
        self.states: dict[str, str] = {}
        self._lock = threading.Lock()  # keeps the six state series consistent
        self._handlers: dict[str, Callable[[Event], None]] = {
            "call.completed": self._call_completed,
            "circuit_breaker.success": self._breaker_outcome,
            "circuit_breaker.failure": self._breaker_outcome,
            "circuit_breaker.ignored": self._breaker_ignored,
            "circuit_breaker.rejected": self._breaker_rejected,
            "circuit_breaker.state_changed": self._breaker_changed,
            "circuit_breaker.threshold_exceeded": self._count(BREAKER_THRESHOLD),
            "retry.retrying": self._count(RETRY_ATTEMPTS),
            "retry.exhausted": self._retry_exhausted,
            "retry.succeeded": self._count(RETRY_SUCCEEDED),
            "timeout.exceeded": self._count(TIMEOUTS),
            "bulkhead.rejected": self._rejected,
            "rate_limiter.allowed": self._limiter,
            "rate_limiter.rejected": self._limiter,
            "fallback.used": self._count(FALLBACKS),
            "hedge.launched": self._count(HEDGE_ATTEMPTS),
            "hedge.won": self._hedge_won,
            "fault.injected": self._fault,
            "fault.enabled": self._fault_switch,
            "fault.disabled": self._fault_switch,
            "adaptive_limit.limit_changed": self._limit_changed,
            "adaptive_limit.rejected": self._limit_rejected,
            "throttle.rejected": self._rejected,
        }

    def __call__(self, event: Event) -> None:
        handler = self._handlers.get(event.kind)
        if handler is not None:
            handler(event)

    def set_state(self, policy: str, state: str, *, only_if_unknown: bool = False) -> None:
        """Record ``state`` as the current state of breaker ``policy``.

        Args:
            policy: the breaker's name.
            state: a :class:`~reliant.CircuitState` value (``"open"``).
            only_if_unknown: keep the state already known for ``policy``, if any.
        """
        with self._lock:
            known = self.states.get(policy)
            if known == state or (only_if_unknown and known is not None):
                return
            self.states[policy] = state
            for each in BREAKER_STATES:
                self._recorder.set(BREAKER_STATE, (policy, each), 1 if each == state else 0)

    # -- handlers ---------------------------------------------------------------

    def _count(self, metric: Metric) -> Callable[[Event], None]:
        add = self._recorder.add

        def count(event: Event) -> None:
            add(metric, (event.policy,))

        return count

    def _call_completed(self, event: Event) -> None:
        attributes = event.attributes
        labels = (event.policy, str(attributes.get("outcome", "success")))
        self._recorder.add(CALLS, labels)
        self._recorder.observe(CALL_DURATION, labels, float(attributes.get("duration", 0.0)))

    def _seen(self, policy: str) -> None:
        # A breaker first heard of through a call outcome is in the state it starts in.
        if policy not in self.states:
            self.set_state(policy, "closed", only_if_unknown=True)

    def _breaker_outcome(self, event: Event) -> None:
        outcome = "success" if event.kind == "circuit_breaker.success" else "failure"
        labels = (event.policy, outcome)
        attributes = event.attributes
        self._recorder.add(BREAKER_CALLS, labels)
        self._recorder.observe(BREAKER_DURATION, labels, float(attributes.get("duration", 0.0)))
        if attributes.get("slow"):
            self._recorder.add(BREAKER_SLOW, (event.policy,))
        self._seen(event.policy)

    def _breaker_ignored(self, event: Event) -> None:
        self._recorder.add(BREAKER_CALLS, (event.policy, "ignored"))
        self._seen(event.policy)

    def _breaker_rejected(self, event: Event) -> None:
        self._recorder.add(BREAKER_CALLS, (event.policy, "rejected"))
        self._rejected(event)
        state = event.attributes.get("state")
        if isinstance(state, str):
            self.set_state(event.policy, state)

    def _breaker_changed(self, event: Event) -> None:
        old, new = str(event.attributes["from_state"]), str(event.attributes["to_state"])
        self._recorder.add(BREAKER_TRANSITIONS, (event.policy, old, new))
        self.set_state(event.policy, new)

    def _retry_exhausted(self, event: Event) -> None:
        reason = str(event.attributes.get("reason", "attempts"))
        self._recorder.add(RETRY_EXHAUSTED, (event.policy, reason))

    def _rejected(self, event: Event) -> None:
        self._recorder.add(REJECTIONS, (event.policy, _REJECTION_KINDS[event.kind]))

    def _limiter(self, event: Event) -> None:
        allowed = event.kind == "rate_limiter.allowed"
        self._recorder.add(LIMITER_DECISIONS, (event.policy, "allowed" if allowed else "rejected"))
        if not allowed:
            self._rejected(event)

    def _hedge_won(self, event: Event) -> None:
        winner = "primary" if event.attributes.get("attempt") == 1 else "hedge"
        self._recorder.add(HEDGE_WINS, (event.policy, winner))

    def _fault(self, event: Event) -> None:
        self._recorder.add(FAULTS, (event.policy, str(event.attributes.get("fault", "error"))))

    def _fault_switch(self, event: Event) -> None:
        on = 1 if event.kind == "fault.enabled" else 0
        self._recorder.set(FAULT_ENABLED, (event.policy,), on)

    def _limit_changed(self, event: Event) -> None:
        self._recorder.set(ADAPTIVE_LIMIT, (event.policy,), float(event.attributes["new"]))

    def _limit_rejected(self, event: Event) -> None:
        self._rejected(event)
        self._recorder.set(ADAPTIVE_LIMIT, (event.policy,), float(event.attributes["limit"]))


class Instrumentation:
    """A live adapter: a :class:`Translator` subscribed to the event bus.

    ``close()`` (or leaving its ``with`` block) unsubscribes it; closing twice is harmless.
    """

    __slots__ = ("_subscription", "_translator")

    def __init__(self, recorder: Recorder) -> None:
        self._translator = Translator(recorder)
        self._subscription: Subscription | None = subscribe(self._listener())

    def _listener(self) -> Callable[[Event], None]:
        """Return what the bus calls with each event (subclasses may add to it)."""
        return self._translator

    def metered(self, policy: Policy, name: str = "") -> Metered:
        """Wrap ``policy`` so each call is counted by outcome and timed.

        See :func:`reliant.telemetry.metered.metered`; the events reach every
        subscribed adapter, not only this one.
        """
        from reliant.telemetry.metered import Metered

        return Metered(policy, name=name)

    def track(self, *breakers: CircuitBreaker) -> None:
        """Publish the current state of ``breakers`` now, before any of them emits an event.

        Without it a breaker's state series appear with its first event; one first seen
        through a call outcome is taken to be closed.
        """
        for breaker in breakers:
            self._translator.set_state(breaker.name, breaker.state.value)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._subscription is None

    def close(self) -> None:
        """Stop recording events."""
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            subscription.close()
            self._closed()

    def _closed(self) -> None:
        """Release back-end resources; called once, by the first :meth:`close`."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
