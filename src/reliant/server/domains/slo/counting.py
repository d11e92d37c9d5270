"""Running sums of every SLO window, kept between evaluation cycles.

Reading 30 days of rollups every 30 s would cost time (and, on SQLite, the write lock) in
proportion to the history kept. Instead the evaluator keeps, per window, the sums of the
buckets that are *settled* — started more than :data:`SETTLE` seconds before the last
cycle — and each cycle reads only what changed: the buckets that settled since, the
buckets that left each window, and the recent unsettled tail (always read afresh). A
cycle therefore reads a few buckets per operation whatever the period.

Counts stay exact sums of the rollups. A point arriving more than ``SETTLE`` seconds after
its bucket ended (an SDK that was cut off and flushes its buffer later) is counted at the
next full recount, at most :data:`RESYNC` seconds later; the first cycle of a process, a
new service, window or latency threshold also recount.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from reliant.server.domains import telemetry

#: Seconds after its bucket ended by which a point is expected to have arrived (the SDK
#: pushes every 10 s by default).
SETTLE = 30.0
#: Seconds between full recounts of every window (late points are counted then).
RESYNC = 3600.0
#: Width of the telemetry buckets.
BUCKET = 10

Operation = tuple[str, str]
#: Operation → its sums, laid out as ``telemetry.layout(bounds)`` says.
Grouped = dict[Operation, list[int]]


def settled_before(now: float) -> int:
    """Buckets starting before this are settled at ``now``."""
    return int((now - SETTLE) // BUCKET * BUCKET)


def _add(into: Grouped, sums: telemetry.Sums, sign: int) -> None:
    for operation, values in sums.items():
        found = into.get(operation)
        if found is None:  # a copy: the same sums may be added to several windows
            into[operation] = list(values) if sign > 0 else [-v for v in values]
        elif sign > 0:
            found[:] = [a + b for a, b in zip(found, values, strict=True)]
        else:
            found[:] = [a - b for a, b in zip(found, values, strict=True)]
            if not any(found):
                del into[operation]


@dataclass(slots=True)
class Windows:
    """Every window's sums up to ``now``, as one cycle sees them.

    A window is its settled sums plus the unsettled tail (shared by every window), or,
    for a window starting inside the tail, its own raw sums.
    """

    settled: Mapping[Hashable, Grouped]
    tail: Grouped
    raw: Mapping[Hashable, Grouped]

    def parts(self, window: Hashable, operation: Operation) -> tuple[list[int] | None, bool]:
        """One operation's sums over ``window`` and whether the tail is to be added to them.

        The sums are shared: do not modify them.
        """
        if window in self.raw:
            return self.raw[window].get(operation), False
        return self.settled[window].get(operation), True

    def recent(self, operation: Operation) -> list[int] | None:
        """One operation's sums over the unsettled tail (shared: do not modify)."""
        return self.tail.get(operation)


@dataclass(slots=True)
class WindowSums:
    """The running sums: window id → settled sums over ``[min(start, settled), settled)``.

    Attributes:
        settled: buckets starting before it are in the sums (``None``: nothing counted yet).
        recounted_at: when every window was last read from scratch.
        recounts: how many full recounts this state made (for tests and logs).
    """

    settled: int | None = None
    recounted_at: float = -math.inf
    bounds: tuple[int, ...] = ()
    services: frozenset[str] = frozenset()
    starts: dict[Hashable, int] = field(default_factory=dict)
    sums: dict[Hashable, Grouped] = field(default_factory=dict)
    recounts: int = 0

    def advance(
        self,
        session: Session,
        starts: Mapping[Hashable, int],
        *,
        bounds: Sequence[int],
        services: Collection[str],
        now: float,
    ) -> Windows:
        """Bring every window to ``now`` and return the sums of ``[start, now)`` of each.

        Args:
            starts: window id → its first bucket start at ``now`` (windows end at ``now``).
            bounds: histogram bound indices to count calls at most that long for.
            services: the services whose operations are counted.
        """
        u = settled_before(now)
        until = math.ceil(now)
        if not starts or not services:
            self.settled, self.starts, self.sums = None, {}, {}
            return Windows({}, {}, {})
        recount = self._must_recount(starts, tuple(bounds), services, u, now)
        if recount:
            self.bounds = tuple(sorted(set(bounds)))
            self.services = frozenset(services)
        ids = list(starts)
        ranges = self._recount_ranges(starts, u) if recount else self._step_ranges(starts, u)
        # Windows starting after the settled edge lie in the unsettled tail: read them raw.
        short = [w for w in ids if starts[w] >= u]
        tail = [(u, until), *((starts[w], until) for w in short)]
        found = telemetry.range_sums(
            session, ranges=ranges + tail, bounds=self.bounds, services=self.services
        )
        if recount:
            # Copies: windows with equal ranges get the same mapping, and sums change in place.
            self.sums = {w: {op: list(v) for op, v in found[i].items()} for i, w in enumerate(ids)}
            self.recounted_at = now
            self.recounts += 1
        else:
            for i, w in enumerate(ids):
                sums = self.sums.setdefault(w, {})
                _add(sums, found[2 * i], 1)
                _add(sums, found[2 * i + 1], -1)
            for gone in self.sums.keys() - set(ids):
                del self.sums[gone]
        self.starts, self.settled = dict(starts), u
        recent = found[len(ranges) :]
        raw = {w: recent[i + 1] for i, w in enumerate(short)}
        return Windows(self.sums, recent[0], raw)

    def _must_recount(
        self,
        starts: Mapping[Hashable, int],
        bounds: tuple[int, ...],
        services: Collection[str],
        u: int,
        now: float,
    ) -> bool:
        return (
            self.settled is None
            or u < self.settled
            or now - self.recounted_at >= RESYNC
            or not set(bounds) <= set(self.bounds)
            or not set(services) <= self.services
            or any(w not in self.starts or s < self.starts[w] for w, s in starts.items())
        )

    @staticmethod
    def _recount_ranges(starts: Mapping[Hashable, int], u: int) -> list[tuple[int, int]]:
        """Each window's settled part ``[start, u)``, read from scratch."""
        return [(min(s, u), u) for s in starts.values()]

    def _step_ranges(self, starts: Mapping[Hashable, int], u: int) -> list[tuple[int, int]]:
        """Per window: the buckets that settled since, then those that left it."""
        assert self.settled is not None
        settled = self.settled
        ranges: list[tuple[int, int]] = []
        for w, start in starts.items():
            before = min(self.starts[w], settled)  # the sums cover [before, settled)
            after = min(start, u)  # they must cover [after, u)
            ranges.append((max(after, settled), u))
            ranges.append((before, min(after, settled)))
        return ranges


Slices = dict[int, list[int]]


@dataclass(slots=True)
class SliceSums:
    """Per-slice sums of one slicing (length and origin), kept between cycles.

    Slices that ended before the settled edge are kept; the others are read afresh.
    """

    settled: int | None = None  # slices with a lower index are kept
    first: int = 0  # the oldest slice kept
    recounted_at: float = -math.inf
    bounds: tuple[int, ...] = ()
    services: frozenset[str] = frozenset()
    kept: dict[Operation, Slices] = field(default_factory=dict)
    recounts: int = 0

    def advance(
        self,
        session: Session,
        *,
        origin: int,
        step: int,
        first: int,
        bounds: Sequence[int],
        services: Collection[str],
        now: float,
    ) -> dict[Operation, Slices]:
        """Every slice from index ``first`` up to ``now`` (the last one possibly partial).

        Returns:
            operation → slice index → sums (``telemetry.layout(self.bounds)``).
        """
        done = (settled_before(now) - origin) // step  # slices below it are settled
        if (
            self.settled is None
            or now - self.recounted_at >= RESYNC
            or first < self.first
            or not set(bounds) <= set(self.bounds)
            or not set(services) <= self.services
        ):
            self.bounds, self.services = tuple(sorted(set(bounds))), frozenset(services)
            self.kept, self.first, self.settled = {}, first, first
            self.recounted_at = now
            self.recounts += 1
        assert self.settled is not None
        low = self.settled
        found = telemetry.slice_sums(
            session,
            since=origin + low * step,
            until=now,
            origin=origin + low * step,
            step=step,
            bounds=self.bounds,
            services=self.services,
        )
        fresh: dict[Operation, Slices] = {}
        for operation, by_slice in found.items():
            for i, values in by_slice.items():
                index = i + low
                target = self.kept if index < done else fresh
                target.setdefault(operation, {})[index] = values
        self.settled = max(low, done)
        for kept in self.kept.values():
            for old in [i for i in kept if i < first]:
                del kept[old]
        self.first = first
        view = {op: dict(kept) for op, kept in self.kept.items()}
        for op, recent in fresh.items():
            view.setdefault(op, {}).update(recent)
        return view
