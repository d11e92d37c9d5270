"""The scripted dependency: a remote service whose failures, latency and overload follow a script.

Each request of the simulation draws from its own random stream (seeded from the
scenario seed and the request's number), and every attempt of that request takes
the next draws from it. So attempt ``k`` of request ``i`` meets the same luck under
every candidate pipeline, and their differences come from the policies alone.
"""

from __future__ import annotations

import asyncio
import bisect
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from reliant._core.clock import Clock
from reliant.simulate.scenario import Dependency, Incident, Latency

#: z-score of the 99th percentile of the standard normal distribution.
_Z99 = 2.3263478740408408

Sampler = Callable[[random.Random], float]


class DependencyError(ConnectionError):
    """The scripted dependency failed the call (the simulator's stand-in for a remote error).

    A ``ConnectionError``, so pipelines configured with ``retry_on: ConnectionError``
    treat it the way they would treat a real client's error.
    """


class DependencyOverloaded(DependencyError):
    """The dependency refused the call because too many were in flight (``overload: fail``)."""


class _Response:
    """The one successful answer of the dependency (a fallback returns something else)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "RESPONSE"


#: What a successful call returns.
RESPONSE = _Response()


def latency_sampler(latency: Latency, factor: float = 1.0) -> Sampler:
    """Return a function drawing one latency, in seconds, from ``latency`` (× ``factor``).

    The lognormal is fitted to its median and 99th percentile:
    ``mu = ln(median)``, ``sigma = ln(p99 / median) / z99``.
    """
    kind = latency.distribution
    if kind == "constant":
        value = (latency.value or 0.0) * factor
        return lambda rng: value
    if kind == "uniform":
        low, high = (latency.min or 0.0) * factor, (latency.max or 0.0) * factor
        return lambda rng: rng.uniform(low, high)
    if kind == "exponential":
        mean = (latency.mean or 0.0) * factor
        if mean == 0.0:
            return lambda rng: 0.0
        rate = 1.0 / mean
        return lambda rng: rng.expovariate(rate)
    median = latency.median or 0.0
    mu = math.log(median * factor)
    sigma = math.log((latency.p99 or median) / median) / _Z99
    return lambda rng: rng.lognormvariate(mu, sigma)


@dataclass(frozen=True, slots=True)
class _Regime:
    """How the dependency behaves during one stretch of time."""

    failure_rate: float
    latency: Sampler


class ScriptedDependency:
    """An async callable standing in for a remote service, driven by a scenario's script.

    Args:
        spec: the scenario's ``dependency`` section.
        clock: the virtual clock of the run (incidents are looked up by its time).

    Attributes:
        call_times: the clock's reading at each attempt, in order.
        in_flight: calls the dependency is working on, including calls whose client
            gave up (a timeout cancels the client's wait, not the server's work).
        peak_concurrency: the most calls ever in flight at once.
    """

    def __init__(self, spec: Dependency, clock: Clock) -> None:
        self._now = clock.now
        base = _Regime(spec.failure_rate, latency_sampler(spec.latency))
        windows = sorted(spec.incidents, key=lambda incident: incident.start)
        # Bounds alternate start, end, start, end…; bisect_right over them indexes
        # _regimes, whose odd slots are incidents and even slots the base behaviour.
        self._bounds: list[float] = []
        self._regimes: list[_Regime] = [base]
        for incident in windows:
            self._bounds += [incident.start, incident.end]
            self._regimes += [_incident_regime(incident, spec, base), base]
        self._capacity = spec.capacity.max_concurrent if spec.capacity else 0
        self._overload_fails = spec.capacity is not None and spec.capacity.overload == "fail"
        self.call_times: list[float] = []
        self.in_flight = 0
        self.peak_concurrency = 0

    @property
    def calls(self) -> int:
        """Every attempt made on the dependency so far."""
        return len(self.call_times)

    def regime_at(self, when: float) -> _Regime:
        """Return the behaviour in effect at ``when`` (incident windows are [start, end))."""
        return self._regimes[bisect.bisect_right(self._bounds, when)]

    def _release(self) -> None:
        self.in_flight -= 1

    async def call(self, stream: random.Random) -> object:
        """Make one attempt: wait the drawn latency, then fail or return :data:`RESPONSE`.

        Args:
            stream: the request's random stream; each attempt draws the next numbers.

        Raises:
            DependencyError: the scripted failure.
            DependencyOverloaded: more calls in flight than the capacity allows.
        """
        now = self._now()
        self.call_times.append(now)
        regime = self.regime_at(now)
        # Draw both numbers on every attempt so the streams stay aligned across candidates.
        fails = stream.random() < regime.failure_rate
        latency = regime.latency(stream)
        if self._overload_fails and self.in_flight >= self._capacity:
            raise DependencyOverloaded("dependency overloaded: too many calls in flight")
        self.in_flight += 1
        if self.in_flight > self.peak_concurrency:
            self.peak_concurrency = self.in_flight
        if self._capacity and self.in_flight > self._capacity:
            latency *= self.in_flight / self._capacity  # overload: slow, a queue forms
        try:
            await asyncio.sleep(latency)
        except asyncio.CancelledError:
            # The client gave up (timeout, losing hedge), but a server does not notice:
            # the call keeps its slot until the work would have finished.
            asyncio.get_running_loop().call_at(now + latency, self._release)
            raise
        self.in_flight -= 1
        if fails:
            raise DependencyError("dependency failed")
        return RESPONSE


def _incident_regime(incident: Incident, spec: Dependency, base: _Regime) -> _Regime:
    failure_rate = spec.failure_rate if incident.failure_rate is None else incident.failure_rate
    if incident.latency is not None:
        latency = latency_sampler(incident.latency)
    elif incident.latency_factor is not None:
        latency = latency_sampler(spec.latency, incident.latency_factor)
    else:
        latency = base.latency
    return _Regime(failure_rate, latency)
