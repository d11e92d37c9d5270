"""``reliant.connect()``: the SDK's link to the control plane.

An :class:`Agent` subscribes to the event bus. ``call.completed`` events (from
``metered()`` policies) feed the telemetry aggregates; state-change events are queued
for sending; everything else is ignored. Two daemon threads do the I/O: the uplink
(:mod:`reliant.agent.transport`) pushes batches, the config watcher
(:mod:`reliant.agent.config`) follows the config document and the applier
(:mod:`reliant.agent.apply`) applies it to the policies given to :meth:`Agent.watch`.
The application's threads only ever do O(1) bookkeeping under short locks.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from reliant._core import validate
from reliant._core.clock import MONOTONIC, Clock
from reliant._core.events import Event, Subscription, subscribe
from reliant._core.policy import Policy
from reliant.agent._http import Endpoint
from reliant.agent.aggregate import DEFAULT_MAX_SERIES, Aggregator
from reliant.agent.apply import Applier, ManagedPipeline, Spec
from reliant.agent.buffer import Buffer, EventItem, event_size
from reliant.agent.config import DEFAULT_POLL_INTERVAL, ConfigWatcher, Document
from reliant.agent.protocol import MAX_BATCH_BYTES
from reliant.agent.transport import Uplink

DEFAULT_FLUSH_INTERVAL = 10.0
DEFAULT_EVENT_DELAY = 1.0
DEFAULT_MAX_BUFFER_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_BATCH_BYTES = 1024 * 1024
DEFAULT_TIMEOUT = 5.0
DEFAULT_CLOSE_TIMEOUT = 5.0

#: The event kind of a metered call (``reliant.telemetry.metered.CALL_COMPLETED``).
CALL_COMPLETED = "call.completed"

#: Event kinds sent to the control plane: state changes, never per-call events.
DEFAULT_FORWARD = frozenset(
    {
        "circuit_breaker.state_changed",
        "circuit_breaker.threshold_exceeded",
        "fault.enabled",
        "fault.disabled",
        "rate_limiter.reconfigured",
        "config.applied",
        "config.rejected",
    }
)

#: The service catalog's name pattern (reliant.spec.models.NAME_PATTERN; the SDK
#: cannot import the spec package).
SERVICE_PATTERN = r"^[a-z0-9]([a-z0-9._-]{0,98}[a-z0-9])?$"

_WARNING_STATES = frozenset({"open", "forced_open", "disabled"})


def severity(kind: str, attributes: Mapping[str, Any]) -> str:
    """Return the severity an SDK event is sent with."""
    if kind == "circuit_breaker.state_changed":
        return "warning" if attributes.get("to_state") in _WARNING_STATES else "info"
    if kind in ("circuit_breaker.threshold_exceeded", "fault.enabled", "config.rejected"):
        return "warning"
    return "info"


def _missing(option: str, variable: str, example: str) -> ValueError:
    return ValueError(
        f"connect: {option} is missing; pass {option}= or set {variable} (e.g. {example})"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentOptions:
    """Validated options of an :class:`Agent` (see :func:`connect`)."""

    url: str
    token: str = field(repr=False)
    service: str
    instance: str
    flush_interval: float = DEFAULT_FLUSH_INTERVAL
    event_delay: float = DEFAULT_EVENT_DELAY
    max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES
    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES
    max_series: int = DEFAULT_MAX_SERIES
    timeout: float = DEFAULT_TIMEOUT
    close_timeout: float = DEFAULT_CLOSE_TIMEOUT
    config: bool = True
    poll_interval: float = DEFAULT_POLL_INTERVAL
    forward: frozenset[str] = DEFAULT_FORWARD

    def __post_init__(self) -> None:
        import re

        if not isinstance(self.url, str) or not self.url:
            raise _missing("url", "RELIANT_URL", "http://127.0.0.1:7474")
        if not isinstance(self.token, str) or not self.token:
            raise _missing("token", "RELIANT_TOKEN", "an ingest token from `reliant tokens create`")
        if not isinstance(self.service, str) or not self.service:
            raise _missing("service", "RELIANT_SERVICE", "payments")
        if not re.match(SERVICE_PATTERN, self.service):
            raise ValueError(
                "connect: service must be lowercase letters, digits, '.', '-' and '_', "
                f"starting and ending alphanumeric (at most 100), got {self.service!r}"
            )
        if (
            not isinstance(self.instance, str)
            or not 0 < len(self.instance) <= 200
            or re.search(r"[\x00-\x1f\x7f]", self.instance)
        ):
            raise ValueError(
                "connect: instance must be 1 to 200 characters without control characters, "
                f"got {self.instance!r}"
            )
        validate.positive("connect", "flush_interval", self.flush_interval)
        validate.non_negative("connect", "event_delay", self.event_delay)
        validate.integer("connect", "max_buffer_bytes", self.max_buffer_bytes, minimum=4096)
        validate.integer("connect", "max_batch_bytes", self.max_batch_bytes, minimum=1024)
        if self.max_batch_bytes > MAX_BATCH_BYTES:
            raise ValueError(
                f"connect: max_batch_bytes must be <= {MAX_BATCH_BYTES} (the server's limit), "
                f"got {self.max_batch_bytes!r}"
            )
        validate.integer("connect", "max_series", self.max_series)
        validate.positive("connect", "timeout", self.timeout)
        validate.non_negative("connect", "close_timeout", self.close_timeout)
        validate.positive("connect", "poll_interval", self.poll_interval)
        if not isinstance(self.config, bool):
            raise ValueError(f"connect: config must be True or False, got {self.config!r}")
        if not all(isinstance(kind, str) for kind in self.forward):
            raise ValueError(
                f"connect: forward must be event kinds (strings), got {self.forward!r}"
            )


@dataclass(frozen=True, slots=True)
class AgentStats:
    """A snapshot of the link's health (``agent.stats()``).

    Attributes:
        sent: items (telemetry points and events) the control plane accepted.
        dropped: items lost since the start: buffer full, refused with a 4xx, or
            beyond ``max_series``; also reported to the control plane.
        buffered: estimated bytes waiting to be sent.
        buffered_items: items waiting to be sent.
        last_error: the last failure of the push or the config link, or None.
        connected: whether the last push reached the control plane.
        streaming: whether the config stream is open.
        config_version: version of the last config document applied (None: none yet).
    """

    sent: int
    dropped: int
    buffered: int
    buffered_items: int
    last_error: str | None
    connected: bool
    streaming: bool
    config_version: int | None


class Agent:
    """The link of this process to the control plane; build it with :func:`connect`.

    Args:
        options: validated options.
        clock: schedules flushes and retries, and times the events it emits.
        wall: wall-clock time (epoch seconds) of buckets, events and batches.
        rng: jitter of the backoffs.
        start: whether to subscribe and start the threads now (tests drive a
            stopped agent by hand: ``agent.uplink.run_once()``).
    """

    def __init__(
        self,
        options: AgentOptions,
        *,
        clock: Clock | None = None,
        wall: Callable[[], float] | None = None,
        rng: random.Random | None = None,
        start: bool = True,
    ) -> None:
        self.options = options
        self.clock = clock if clock is not None else MONOTONIC
        self._wall = wall if wall is not None else time.time
        rng = rng if rng is not None else random.Random()
        endpoint = Endpoint(options.url, options.token)
        from reliant import __version__

        self.aggregator = Aggregator(wall=self._wall, max_series=options.max_series)
        self.buffer = Buffer(options.max_buffer_bytes)
        self.uplink = Uplink(
            endpoint=endpoint,
            header={"service": options.service, "instance": options.instance, "sdk": __version__},
            aggregator=self.aggregator,
            buffer=self.buffer,
            clock=self.clock,
            wall=self._wall,
            flush_interval=options.flush_interval,
            event_delay=options.event_delay,
            max_batch_bytes=options.max_batch_bytes,
            timeout=options.timeout,
            rng=rng,
            log=_log,
        )
        self.applier = Applier(clock=self.clock)
        self.watcher = ConfigWatcher(
            endpoint=endpoint,
            service=options.service,
            on_document=self._on_document,
            timeout=options.timeout,
            poll_interval=options.poll_interval,
            rng=rng,
            log=_log,
        )
        self._forward = options.forward
        self._record = self.aggregator.record
        self._wake = threading.Event()
        self._stopping = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._subscription: Subscription | None = None
        if start:
            self.start()

    # -- lifecycle --------------------------------------------------------------------

    def start(self, *, threads: bool = True) -> None:
        """Subscribe to the event bus and start the threads (once).

        Args:
            threads: start the uplink and config threads; without them (tests) the
                agent only aggregates and buffers until driven by hand.
        """
        if self._subscription is not None or self._closed:
            return
        self._subscription = subscribe(self._on_event)
        if not threads:
            return
        import atexit

        self._thread = threading.Thread(
            target=self._run, name=f"reliant-agent-{self.options.service}", daemon=True
        )
        self._thread.start()
        if self.options.config:
            self.watcher.start()
        atexit.register(self.close)

    def close(self, timeout: float | None = None) -> bool:
        """Stop listening, push what is buffered, and stop the threads.

        Args:
            timeout: seconds the final push may take (default ``close_timeout``);
                a control plane that is down makes it give up at the first failure.

        Returns:
            whether everything buffered reached the control plane.
        """
        if self._closed:
            return len(self.buffer) == 0
        self._closed = True
        limit = self.options.close_timeout if timeout is None else timeout
        now = self.clock.now
        deadline = now() + limit
        if self._subscription is not None:
            self._subscription.close()
        import atexit

        atexit.unregister(self.close)
        self.watcher.close(max(0.0, deadline - now()))
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - now()))
        return self.uplink.flush(deadline)

    def flush(self, timeout: float | None = None) -> bool:
        """Push everything aggregated and buffered now, from the calling thread.

        Args:
            timeout: seconds it may take (default ``close_timeout``).

        Returns:
            whether the buffer was emptied.
        """
        limit = self.options.close_timeout if timeout is None else timeout
        return self.uplink.flush(self.clock.now() + limit)

    def __enter__(self) -> Agent:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self) -> None:
        delay = 0.0
        while True:
            if self._wake.wait(delay):
                self._wake.clear()
                self.uplink.nudge()
            if self._stopping:
                return
            try:
                delay = self.uplink.run_once()
            except Exception as exc:  # never let a bug end the thread
                _log(f"agent error: {type(exc).__name__}: {exc}")
                delay = self.options.flush_interval

    # -- the event bus: the application's threads ------------------------------------

    def _on_event(self, event: Event) -> None:
        try:
            kind = event.kind
            if kind == CALL_COMPLETED:
                attributes = event.attributes
                self._record(event.policy, attributes["outcome"], attributes["duration"])
            elif kind in self._forward:
                attributes = event.attributes
                item = EventItem(
                    self._wall(), kind, event.policy, severity(kind, attributes), attributes
                )
                self.buffer.add_event(item, event_size(kind, event.policy, attributes))
                self._wake.set()
        except Exception:  # a malformed event must never reach the caller
            self.buffer.count_dropped(1)

    # -- config -----------------------------------------------------------------------

    def _on_document(self, document: Document) -> None:
        self.applier.apply(document)

    def watch(self, *policies: Policy) -> None:
        """Let the control plane steer these policies (pipelines: their inner policies).

        Circuit breakers, rate limiters and faults are matched by ``name`` against the
        document's ``breakers``, ``limiters`` and ``faults``; the current document
        applies at once. The agent holds weak references only.

        Raises:
            TypeError: if an argument is not a reliant policy.
        """
        for policy in policies:
            if not isinstance(policy, Policy):
                raise TypeError(f"Agent.watch: expected reliant policies, got {policy!r}")
        self.applier.watch(policies)

    def pipeline(self, name: str, default: Policy | Spec | None = None) -> ManagedPipeline:
        """Return a handle that runs calls under the document's policy ``name``.

        Args:
            name: the ``Policy`` name in the control plane (``reliant.yaml``).
            default: the policy, pipeline or list of specs used while the document
                has no such policy (none at all by default).

        Returns:
            The same :class:`ManagedPipeline` for the same name; it follows every new
            document by itself, so keep it (``charge = agent.pipeline("charge")``).

        Raises:
            ValueError: if ``default`` is a spec list that does not build.
        """
        return self.applier.pipeline(name, default)

    # -- health -----------------------------------------------------------------------

    def stats(self) -> AgentStats:
        """Return a snapshot of what was sent, dropped and buffered, and the link's health."""
        uplink, watcher = self.uplink, self.watcher
        return AgentStats(
            sent=uplink.sent,
            dropped=uplink.dropped,
            buffered=self.buffer.size,
            buffered_items=len(self.buffer),
            last_error=uplink.last_error or watcher.last_error,
            connected=uplink.connected,
            streaming=watcher.streaming,
            config_version=self.applier.version,
        )

    def __repr__(self) -> str:
        o = self.options
        return f"Agent(url={o.url!r}, service={o.service!r}, instance={o.instance!r})"


def _log(message: str) -> None:
    """Log a change of the link's health (``logging`` loads on first use, off the hot path)."""
    import logging

    logging.getLogger("reliant.agent").info("%s", message)


def default_instance() -> str:
    """Return ``host:pid:xxxx``, unique per process start."""
    import socket

    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(2).hex()}"


def connect(
    url: str | None = None,
    token: str | None = None,
    service: str | None = None,
    *,
    instance: str | None = None,
    flush_interval: float = DEFAULT_FLUSH_INTERVAL,
    event_delay: float = DEFAULT_EVENT_DELAY,
    max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES,
    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
    max_series: int = DEFAULT_MAX_SERIES,
    timeout: float = DEFAULT_TIMEOUT,
    close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
    config: bool = True,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    forward: Iterable[str] = DEFAULT_FORWARD,
    watch: Iterable[Policy] = (),
) -> Agent:
    """Link this process to a reliant control plane; see ``docs/connect.md``.

    Args:
        url: the control plane's base URL (default ``$RELIANT_URL``).
        token: an ingest token (default ``$RELIANT_TOKEN``).
        service: this service's catalog name (default ``$RELIANT_SERVICE``).
        instance: this process's id in the fleet (default ``host:pid:random``).
        flush_interval: seconds between telemetry pushes.
        event_delay: seconds a state-change event waits before it is pushed.
        max_buffer_bytes: bound on what waits to be sent (estimated memory); past
            it the oldest items are dropped and counted.
        max_batch_bytes: estimated size of one push (<= ``MAX_BATCH_BYTES``).
        max_series: bound on (bucket, operation, outcome) series between two pushes.
        timeout: seconds one HTTP request may take.
        close_timeout: seconds ``close()`` may spend pushing what is left.
        config: whether to follow the config document (overrides, faults, policies).
        poll_interval: seconds between polls of the document while the stream fails.
        forward: event kinds to send (state changes by default).
        watch: policies to let the control plane steer (as :meth:`Agent.watch`).

    Returns:
        The running :class:`Agent` (also a context manager that closes it).

    Raises:
        ValueError: if ``url``, ``token`` or ``service`` is missing or invalid, or
            another option is out of range.
    """
    env = os.environ
    options = AgentOptions(
        url=url if url is not None else env.get("RELIANT_URL", ""),
        token=token if token is not None else env.get("RELIANT_TOKEN", ""),
        service=service if service is not None else env.get("RELIANT_SERVICE", ""),
        instance=instance if instance is not None else default_instance(),
        flush_interval=flush_interval,
        event_delay=event_delay,
        max_buffer_bytes=max_buffer_bytes,
        max_batch_bytes=max_batch_bytes,
        max_series=max_series,
        timeout=timeout,
        close_timeout=close_timeout,
        config=config,
        poll_interval=poll_interval,
        forward=frozenset([forward] if isinstance(forward, str) else forward),
    )
    Endpoint(options.url, options.token)  # validate the URL before starting anything
    agent = Agent(options, start=False)
    agent.watch(*watch)
    agent.start()
    return agent
