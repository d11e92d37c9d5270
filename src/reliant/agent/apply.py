"""Applying the config document to this process's live policies.

The :class:`Applier` knows the policies the application registered (``agent.watch``),
by name and through weak references, and turns each document into calls on them:
breaker overrides into ``force_open()``/``disable()``/``metrics_only()`` and, when the
override is gone, ``reset()``; limiter overrides into ``reconfigure()`` and back to the
code's options; fault overrides into ``enable()``/``disable()`` and back. It only
undoes what it did: a breaker the code forced open itself is left alone. Every change
emits ``config.applied`` (or ``config.rejected`` for an entry it cannot apply).

Named pipelines (``policies`` in the document) are served by :class:`ManagedPipeline`
handles, rebuilt when their spec changes.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from reliant._core.clock import Clock
from reliant._core.events import BUS
from reliant._core.policy import Args, Kwargs, Policy
from reliant.faults.fault import Fault
from reliant.resilience.circuit_breaker import CircuitBreaker
from reliant.resilience.pipeline import Pipeline
from reliant.resilience.ratelimit import RateLimiter

#: Breaker states an operator may force, and the method that forces each.
BREAKER_STATES: dict[str, Callable[[CircuitBreaker], None]] = {
    "forced_open": CircuitBreaker.force_open,
    "disabled": CircuitBreaker.disable,
    "metrics_only": CircuitBreaker.metrics_only,
}

APPLIED = "config.applied"
REJECTED = "config.rejected"

Spec = Sequence[Mapping[str, Any]]


class ManagedPipeline(Policy):
    """A pipeline whose policies the control plane defines (``agent.pipeline(name)``).

    A stable handle: keep it, call it, decorate with it. Each call runs under the
    pipeline built from the latest spec of ``name`` in the config document, or under
    ``default`` while the document has none (no policy at all when there is no
    default). A new spec builds a new pipeline (fresh breaker and limiter state);
    calls already running finish under the one they started with.

    Args:
        name: the policy's name in the config document.
        default: the pipeline used until (and whenever) the document has no spec.
    """

    __slots__ = ("_current", "default", "spec", "version")

    def __init__(self, name: str, default: Policy) -> None:
        super().__init__(name=name, clock=default.clock)
        self.default = default
        self._current: Policy = default
        #: The spec the current pipeline was built from (None: the default).
        self.spec: Spec | None = None
        #: The document version that last changed it (None: never).
        self.version: int | None = None

    @property
    def current(self) -> Policy:
        """The pipeline calls run under right now."""
        return self._current

    def _run(self, fn: Callable[..., Any], args: Args, kwargs: Kwargs) -> Any:
        return self._current._run(fn, args, kwargs)

    async def _arun(self, fn: Callable[..., Awaitable[Any]], args: Args, kwargs: Kwargs) -> Any:
        return await self._current._arun(fn, args, kwargs)

    def describe(self) -> dict[str, Any]:
        """Return kind, name, the document version and the current pipeline."""
        return {
            "kind": "ManagedPipeline",
            "name": self.name,
            "version": self.version,
            "current": dict(self._current.describe()),
        }


def walk(policies: Iterable[Policy]) -> Iterable[Policy]:
    """Yield each policy and, depth first, the policies it wraps."""
    for policy in policies:
        yield policy
        inner = getattr(policy, "policies", None)
        if isinstance(inner, tuple):
            yield from walk(p for p in inner if isinstance(p, Policy))
        wrapped = getattr(policy, "policy", None)
        if isinstance(wrapped, Policy):
            yield from walk((wrapped,))
        if isinstance(policy, ManagedPipeline):
            yield from walk((policy.current,))


class Applier:
    """Applies config documents to watched policies; see the module docstring.

    Args:
        clock: the time of the events it emits.
    """

    def __init__(self, *, clock: Clock) -> None:
        self._now = clock.now
        self._clock = clock
        self._lock = threading.RLock()
        self._watched: dict[str, weakref.WeakSet[Policy]] = {}
        # What the applier changed, so that it can undo exactly that.
        self._forced: weakref.WeakKeyDictionary[CircuitBreaker, str] = weakref.WeakKeyDictionary()
        self._limits: weakref.WeakKeyDictionary[RateLimiter, tuple[float, float, int | None]] = (
            weakref.WeakKeyDictionary()
        )
        self._faults: weakref.WeakKeyDictionary[Fault, tuple[bool, float]] = (
            weakref.WeakKeyDictionary()
        )
        self._pipelines: dict[str, ManagedPipeline] = {}
        self.document: Mapping[str, Any] = {}
        self.version: int | None = None

    # -- registration -----------------------------------------------------------------

    def watch(self, policies: Iterable[Policy]) -> None:
        """Register breakers, limiters and faults in ``policies`` (pipelines included).

        They get the current document's overrides at once.
        """
        found = [p for p in walk(policies) if isinstance(p, CircuitBreaker | RateLimiter | Fault)]
        with self._lock:
            for policy in found:
                self._watched.setdefault(policy.name, weakref.WeakSet()).add(policy)
            if self.document:
                for policy in found:
                    self._apply_one(policy, self.document)

    def pipeline(self, name: str, default: Policy | Spec | None) -> ManagedPipeline:
        """Return the handle of the document's policy ``name`` (one per name)."""
        with self._lock:
            handle = self._pipelines.get(name)
            if handle is None:
                fallback = self._default(name, default)
                handle = self._pipelines[name] = ManagedPipeline(name, fallback)
                self.watch((fallback,))
                self._apply_pipeline(handle, self.document)
            return handle

    def _default(self, name: str, default: Policy | Spec | None) -> Policy:
        if default is None:
            return Pipeline(name=name, clock=self._clock)
        if isinstance(default, Policy):
            return default
        from reliant.resilience.registry import build_pipeline

        return build_pipeline(default, name=name, clock=self._clock)

    # -- documents --------------------------------------------------------------------

    def apply(self, document: Mapping[str, Any]) -> None:
        """Apply a whole document to every watched policy and managed pipeline."""
        with self._lock:
            self.document = document
            version = document.get("version")
            self.version = version if isinstance(version, int) else None
            for policies in list(self._watched.values()):
                for policy in list(policies):
                    self._apply_one(policy, document)
            for handle in self._pipelines.values():
                self._apply_pipeline(handle, document)

    def _section(self, document: Mapping[str, Any], key: str, name: str) -> Any:
        section = document.get(key)
        return section.get(name) if isinstance(section, Mapping) else None

    def _apply_one(self, policy: Policy, document: Mapping[str, Any]) -> None:
        try:
            if isinstance(policy, CircuitBreaker):
                self._breaker(policy, self._section(document, "breakers", policy.name))
            elif isinstance(policy, RateLimiter):
                self._limiter(policy, self._section(document, "limiters", policy.name))
            elif isinstance(policy, Fault):
                self._fault(policy, self._section(document, "faults", policy.name))
        except Exception as exc:  # one bad entry must not stop the others
            self._emit(REJECTED, policy.name, _target(policy), error=str(exc))

    def _breaker(self, breaker: CircuitBreaker, spec: Any) -> None:
        if spec is None:
            if self._forced.pop(breaker, None) is not None:
                breaker.reset()
                self._emit(APPLIED, breaker.name, "breaker", change="automatic")
            return
        state = spec.get("state") if isinstance(spec, Mapping) else None
        if not isinstance(state, str) or state not in BREAKER_STATES:
            raise ValueError(
                f"breaker {breaker.name!r}: state must be one of "
                f"{', '.join(BREAKER_STATES)}, got {spec!r}"
            )
        if self._forced.get(breaker) != state or breaker.state.value != state:
            BREAKER_STATES[state](breaker)
            self._forced[breaker] = state
            self._emit(APPLIED, breaker.name, "breaker", change=state)

    def _limiter(self, limiter: RateLimiter, spec: Any) -> None:
        o = limiter.options
        current = (o.rate, o.per, o.burst)
        if spec is None:
            original = self._limits.pop(limiter, None)
            if original is not None and original != current:
                limiter.reconfigure(rate=original[0], per=original[1], burst=original[2])
                self._emit(APPLIED, limiter.name, "limiter", change="code", **_limits(limiter))
            return
        if not isinstance(spec, Mapping) or "rate" not in spec:
            raise ValueError(
                f"limiter {limiter.name!r}: expected {{rate, per?, burst?}}, got {spec!r}"
            )
        original = self._limits.get(limiter, current)
        per, burst = spec.get("per"), spec.get("burst")
        wanted = (
            spec["rate"],
            original[1] if per is None else per,
            original[2] if burst is None else burst,
        )
        if wanted != current:
            limiter.reconfigure(rate=wanted[0], per=wanted[1], burst=wanted[2])
            self._limits[limiter] = original
            self._emit(APPLIED, limiter.name, "limiter", change="override", **_limits(limiter))

    def _fault(self, fault: Fault, spec: Any) -> None:
        if spec is None:
            original = self._faults.pop(fault, None)
            if original is not None and original != (fault.enabled, fault.rate):
                fault.enable(original[1])
                if not original[0]:
                    fault.disable()
                self._emit(APPLIED, fault.name, "fault", change="code", enabled=original[0])
            return
        enabled = spec.get("enabled") if isinstance(spec, Mapping) else None
        if not isinstance(enabled, bool):
            raise ValueError(f"fault {fault.name!r}: expected {{enabled: bool}}, got {spec!r}")
        rate = spec.get("rate")
        original = self._faults.get(fault, (fault.enabled, fault.rate))
        if enabled and (not fault.enabled or (rate is not None and rate != fault.rate)):
            fault.enable(rate)
        elif not enabled and fault.enabled:
            fault.disable()
        else:
            return
        self._faults[fault] = original
        change = "enabled" if enabled else "disabled"
        self._emit(APPLIED, fault.name, "fault", change=change, rate=fault.rate)

    def _apply_pipeline(self, handle: ManagedPipeline, document: Mapping[str, Any]) -> None:
        entry = self._section(document, "policies", handle.name)
        spec = entry.get("pipeline") if isinstance(entry, Mapping) else None
        if spec == handle.spec:
            return
        if spec is None:
            handle._current, handle.spec = handle.default, None
            handle.version = self.version
            self._emit(APPLIED, handle.name, "policy", change="default")
            return
        from reliant.resilience.registry import build_pipeline

        try:
            pipeline = build_pipeline(spec, name=handle.name, clock=self._clock)
        except ValueError as exc:
            self._emit(REJECTED, handle.name, "policy", error=str(exc))
            return
        self.watch((pipeline,))
        handle._current, handle.spec = pipeline, spec
        handle.version = self.version
        self._emit(APPLIED, handle.name, "policy", change="rebuilt")

    def _emit(self, kind: str, name: str, target: str, **attributes: Any) -> None:
        if BUS.active:
            BUS.emit(
                kind, name, self._now(), {"version": self.version, "target": target, **attributes}
            )


def _target(policy: Policy) -> str:
    if isinstance(policy, CircuitBreaker):
        return "breaker"
    return "limiter" if isinstance(policy, RateLimiter) else "fault"


def _limits(limiter: RateLimiter) -> dict[str, Any]:
    o = limiter.options
    return {"rate": o.rate, "per": o.per, "burst": o.burst}
