"""Concurrency-limit algorithms: AIMD, Vegas and Gradient2, as pure state machines.

Each algorithm holds a limit and updates it from one sample at a time:
``update(rtt, inflight, dropped) -> int``, where ``rtt`` is the call's round-trip
time in seconds, ``inflight`` the number of calls in flight when it started (itself
included) and ``dropped`` whether it ended in a drop (a timeout or a rejection). They do
no I/O, read no clock and hold no lock: :class:`~reliant.resilience.adaptive.AdaptiveLimit`
serialises the calls to ``update``.

The rules follow Netflix concurrency-limits (reference/resilience.md §6). Where reliant
differs, the class docstring says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reliant._core import validate

if TYPE_CHECKING:
    import random

DEFAULT_INITIAL = 20

AIMD_MIN_LIMIT = 20
AIMD_MAX_LIMIT = 200
AIMD_BACKOFF_RATIO = 0.9
AIMD_TIMEOUT = 5.0

VEGAS_MIN_LIMIT = 1
VEGAS_MAX_LIMIT = 1000
VEGAS_SMOOTHING = 1.0
VEGAS_PROBE_MULTIPLIER = 30

GRADIENT2_MIN_LIMIT = 20
GRADIENT2_MAX_LIMIT = 200
GRADIENT2_SMOOTHING = 0.2
GRADIENT2_QUEUE_SIZE = 4
GRADIENT2_TOLERANCE = 1.5
GRADIENT2_LONG_WINDOW = 600
#: Samples averaged plainly before the long-RTT average turns exponential.
GRADIENT2_WARMUP = 10
#: When the long RTT exceeds this multiple of the sample, it decays by GRADIENT2_DRIFT_DECAY.
GRADIENT2_DRIFT_RATIO = 2.0
GRADIENT2_DRIFT_DECAY = 0.95
#: The gradient's clamp: a sample never cuts the estimate by more than half, nor grows it.
GRADIENT_MIN = 0.5
GRADIENT_MAX = 1.0


def _owner(algorithm: str) -> str:
    return f"AdaptiveLimit(algorithm={algorithm!r})"


def _check_bounds(owner: str, initial: int, min_limit: int, max_limit: int) -> None:
    validate.integer(owner, "initial", initial)
    validate.integer(owner, "min_limit", min_limit)
    validate.integer(owner, "max_limit", max_limit)
    if min_limit > max_limit:
        raise ValueError(f"{owner}: min_limit must be <= max_limit ({max_limit}), got {min_limit}")
    if not min_limit <= initial <= max_limit:
        raise ValueError(
            f"{owner}: initial must be in [min_limit, max_limit] = [{min_limit}, {max_limit}], "
            f"got {initial}"
        )


def _smoothing(owner: str, value: float) -> None:
    if validate.ratio(owner, "smoothing", value) == 0.0:
        raise ValueError(f"{owner}: smoothing must be in (0, 1], got {value!r}")


def log10_root(limit: float) -> int:
    """Return ``max(1, floor(log10(limit)))``, Vegas's step size for a limit.

    Netflix's ``Log10RootIntFunction``: 1 below 100, 2 below 1000, and so on.
    """
    if limit < 10:
        return 1
    return max(1, int(math.log10(int(limit))))


# -- AIMD ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AIMDOptions:
    """Validated options of :class:`AIMD`.

    Attributes:
        initial: the starting limit.
        min_limit: the limit never drops below this.
        max_limit: the limit never grows above this.
        backoff_ratio: the factor a drop multiplies the limit by, in [0.5, 1).
        timeout: a sample slower than this many seconds counts as a drop.
    """

    initial: int = DEFAULT_INITIAL
    min_limit: int = AIMD_MIN_LIMIT
    max_limit: int = AIMD_MAX_LIMIT
    backoff_ratio: float = AIMD_BACKOFF_RATIO
    timeout: float = AIMD_TIMEOUT

    def __post_init__(self) -> None:
        owner = _owner("aimd")
        _check_bounds(owner, self.initial, self.min_limit, self.max_limit)
        ratio = validate.number(owner, "backoff_ratio", self.backoff_ratio)
        if not 0.5 <= ratio < 1.0:
            raise ValueError(f"{owner}: backoff_ratio must be in [0.5, 1), got {ratio!r}")
        validate.positive(owner, "timeout", self.timeout)


class AIMD:
    """Additive increase, multiplicative decrease: loss-based, the simplest of the three.

    A drop, or a sample slower than ``timeout``, sets the limit to
    ``floor(backoff_ratio·L)``; otherwise the limit grows by one when the call saw at least
    half the limit in flight (``2·inflight >= L``). The result is clamped to
    ``[min_limit, max_limit]``.

    Args:
        options: the algorithm's options; defaults when omitted.
    """

    __slots__ = ("_backoff", "_max", "_min", "_timeout", "limit", "options")

    def __init__(self, options: AIMDOptions | None = None) -> None:
        self.options = options = options if options is not None else AIMDOptions()
        self.limit = options.initial
        self._min = options.min_limit
        self._max = options.max_limit
        self._backoff = options.backoff_ratio
        self._timeout = options.timeout

    def update(self, rtt: float, inflight: int, dropped: bool) -> int:
        """Fold one sample into the limit and return the new limit."""
        limit = self.limit
        if dropped or rtt > self._timeout:
            limit = int(limit * self._backoff)
        elif 2 * inflight >= limit:
            limit += 1
        else:
            return limit
        self.limit = limit = min(self._max, max(self._min, limit))
        return limit


# -- Vegas -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class VegasOptions:
    """Validated options of :class:`Vegas`.

    Attributes:
        initial: the starting limit.
        min_limit: the limit never drops below this (Netflix's floor is 1).
        max_limit: the limit never grows above this.
        smoothing: weight of each new estimate, in (0, 1]; 1 applies it whole.
        probe_multiplier: re-measure the no-load RTT about every
            ``probe_multiplier·L`` samples (jittered to between half and all of that).
    """

    initial: int = DEFAULT_INITIAL
    min_limit: int = VEGAS_MIN_LIMIT
    max_limit: int = VEGAS_MAX_LIMIT
    smoothing: float = VEGAS_SMOOTHING
    probe_multiplier: int = VEGAS_PROBE_MULTIPLIER

    def __post_init__(self) -> None:
        owner = _owner("vegas")
        _check_bounds(owner, self.initial, self.min_limit, self.max_limit)
        _smoothing(owner, self.smoothing)
        validate.integer(owner, "probe_multiplier", self.probe_multiplier)


class Vegas:
    """Delay-based limit after TCP Vegas: estimate the queue from RTT inflation.

    ``rtt_noload`` is the smallest RTT seen (re-probed now and then, since the backend's
    floor can move). A sample that sets a new minimum, or the first sample, only records
    it. Otherwise, with ``log = max(1, floor(log10 L))``, α = 3·log, β = 6·log and
    ``queue = ceil(L·(1 − rtt_noload/rtt))``:

    - drop → ``L − log``;
    - fewer than ``L/2`` calls in flight → no change (no upward drift while idle);
    - ``queue <= log`` → ``L + β``; ``queue < α`` → ``L + log``; ``queue > β`` → ``L − log``;
      otherwise no change.

    The new estimate is clamped to ``[min_limit, max_limit]`` and blended in with
    ``smoothing``. Unlike Netflix, a drop is judged before the RTT is looked at and never
    becomes ``rtt_noload`` (a fast failure says nothing about the no-load latency), and a
    sample with ``rtt <= 0`` (a clock too coarse to see it) is ignored.

    Args:
        options: the algorithm's options; defaults when omitted.
        rng: draws the probe jitter; an unseeded generator when omitted.
    """

    __slots__ = (
        "_jitter",
        "_max",
        "_min",
        "_probe_count",
        "_probe_multiplier",
        "_rng",
        "_smoothing",
        "estimate",
        "limit",
        "options",
        "rtt_noload",
    )

    def __init__(self, options: VegasOptions | None = None, *, rng: random.Random | None = None):
        self.options = options = options if options is not None else VegasOptions()
        self.estimate = float(options.initial)
        self.limit = options.initial
        #: The smallest RTT seen since the last probe; ``None`` before any sample.
        self.rtt_noload: float | None = None
        self._min = options.min_limit
        self._max = options.max_limit
        self._smoothing = options.smoothing
        self._probe_multiplier = options.probe_multiplier
        if rng is None:
            import random  # imported on first use, not with the module

            rng = random.Random()
        self._rng = rng
        self._probe_count = 0
        self._jitter = self._rng.uniform(0.5, 1.0)

    def update(self, rtt: float, inflight: int, dropped: bool) -> int:
        """Fold one sample into the limit and return the new limit."""
        estimate = self.estimate
        if dropped:
            return self._apply(estimate - log10_root(estimate))
        if rtt <= 0:
            return self.limit
        self._probe_count += 1
        if self._jitter * self._probe_multiplier * estimate <= self._probe_count:
            self._jitter = self._rng.uniform(0.5, 1.0)
            self._probe_count = 0
            self.rtt_noload = rtt
            return self.limit
        noload = self.rtt_noload
        if noload is None or rtt < noload:
            self.rtt_noload = rtt
            return self.limit
        if 2 * inflight < estimate:
            return self.limit
        log = log10_root(estimate)
        queue = math.ceil(estimate * (1.0 - noload / rtt))
        if queue <= log:
            return self._apply(estimate + 6 * log)
        if queue < 3 * log:
            return self._apply(estimate + log)
        if queue > 6 * log:
            return self._apply(estimate - log)
        return self.limit

    def _apply(self, target: float) -> int:
        target = min(self._max, max(self._min, target))
        smoothing = self._smoothing
        self.estimate = estimate = (1.0 - smoothing) * self.estimate + smoothing * target
        self.limit = limit = int(estimate)
        return limit


# -- Gradient2 -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Gradient2Options:
    """Validated options of :class:`Gradient2`.

    Attributes:
        initial: the starting limit.
        min_limit: the limit never drops below this.
        max_limit: the limit never grows above this.
        smoothing: weight of each new estimate, in (0, 1].
        queue_size: how far the limit may grow past the current estimate per update (>= 0).
        tolerance: how much RTT inflation (long over short) is tolerated before the limit
            shrinks (>= 1; 2.0 accepts a doubling).
        long_window: samples in the long-RTT exponential moving average (>= 1).
    """

    initial: int = DEFAULT_INITIAL
    min_limit: int = GRADIENT2_MIN_LIMIT
    max_limit: int = GRADIENT2_MAX_LIMIT
    smoothing: float = GRADIENT2_SMOOTHING
    queue_size: int = GRADIENT2_QUEUE_SIZE
    tolerance: float = GRADIENT2_TOLERANCE
    long_window: int = GRADIENT2_LONG_WINDOW

    def __post_init__(self) -> None:
        owner = _owner("gradient2")
        _check_bounds(owner, self.initial, self.min_limit, self.max_limit)
        _smoothing(owner, self.smoothing)
        validate.integer(owner, "queue_size", self.queue_size, minimum=0)
        tolerance = validate.number(owner, "tolerance", self.tolerance)
        if not 1.0 <= tolerance < math.inf:
            raise ValueError(f"{owner}: tolerance must be a finite number >= 1, got {tolerance!r}")
        validate.integer(owner, "long_window", self.long_window)


class Gradient2:
    """Gradient limit: compare a long-term average RTT with the latest sample.

    The long RTT is the plain mean of the first 10 samples, then an exponential moving
    average with factor ``2/(long_window + 1)``; when it exceeds twice the sample (latency
    recovered after a long overload) it decays by 5 % per sample to catch up. Then:

    - fewer than ``L/2`` calls in flight → no change (the caller, not the backend,
      limits the throughput, so the sample says nothing about the limit);
    - otherwise ``g = clamp(tolerance·long/short, 0.5, 1)`` and
      ``L ← (1 − smoothing)·L + smoothing·(L·g + queue_size)``, clamped to
      ``[min_limit, max_limit]``.

    Unlike Netflix, whose Gradient2 ignores drops, a drop applies the steepest gradient
    (0.5) whatever the inflight count, and its RTT stays out of the average: a fast
    failure must not read as a fast backend. A sample with ``rtt <= 0`` counts as no
    queueing (``g = 1``).

    Args:
        options: the algorithm's options; defaults when omitted.
    """

    __slots__ = (
        "_count",
        "_factor",
        "_max",
        "_min",
        "_queue",
        "_smoothing",
        "_sum",
        "_tolerance",
        "estimate",
        "limit",
        "long_rtt",
        "options",
    )

    def __init__(self, options: Gradient2Options | None = None) -> None:
        self.options = options = options if options is not None else Gradient2Options()
        self.estimate = float(options.initial)
        self.limit = options.initial
        #: The long-term average RTT (0.0 before any sample).
        self.long_rtt = 0.0
        self._min = options.min_limit
        self._max = options.max_limit
        self._smoothing = options.smoothing
        self._queue = options.queue_size
        self._tolerance = options.tolerance
        self._factor = 2.0 / (options.long_window + 1)
        self._count = 0
        self._sum = 0.0

    def update(self, rtt: float, inflight: int, dropped: bool) -> int:
        """Fold one sample into the limit and return the new limit."""
        estimate = self.estimate
        if dropped:
            return self._apply(estimate, GRADIENT_MIN)
        if self._count < GRADIENT2_WARMUP:
            self._count += 1
            self._sum += rtt
            long_rtt = self._sum / self._count
        else:
            long_rtt = self.long_rtt * (1.0 - self._factor) + rtt * self._factor
        self.long_rtt = long_rtt
        if rtt > 0 and long_rtt > GRADIENT2_DRIFT_RATIO * rtt:
            self.long_rtt = long_rtt * GRADIENT2_DRIFT_DECAY
        if inflight < estimate / 2:
            return self.limit
        if rtt > 0:
            gradient = max(GRADIENT_MIN, min(GRADIENT_MAX, self._tolerance * long_rtt / rtt))
        else:
            gradient = GRADIENT_MAX
        return self._apply(estimate, gradient)

    def _apply(self, estimate: float, gradient: float) -> int:
        target = estimate * gradient + self._queue
        estimate = (1.0 - self._smoothing) * estimate + self._smoothing * target
        self.estimate = estimate = min(self._max, max(self._min, estimate))
        self.limit = limit = int(estimate)
        return limit


#: The algorithms by name, with the options class each takes.
LimitAlgorithm = AIMD | Vegas | Gradient2
OPTIONS: dict[str, type[AIMDOptions] | type[VegasOptions] | type[Gradient2Options]] = {
    "aimd": AIMDOptions,
    "gradient2": Gradient2Options,
    "vegas": VegasOptions,
}
