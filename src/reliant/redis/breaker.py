"""SharedBreakerState: one circuit breaker state for every process that talks to one Redis.

Each process keeps counting its own calls in its own window (no round trip per call).
The *state* lives in the Redis hash ``namespace + name`` (fields ``state``,
``open_until`` in Redis-clock milliseconds, and ``version``, which every write
increments). A local transition is written with a Lua compare-and-set on ``version``;
other processes poll the version at most once per ``sync_interval`` (one ``EVALSHA``
that answers only the version when nothing changed) and apply a newer state to their
own breaker. HALF_OPEN stays local: each process probes on its own, and its verdict
(CLOSED or OPEN again) is shared.

With ``aggregate=True`` (``TimeWindow`` breakers only) the window is shared too:
each poll adds the outcomes this process recorded while CLOSED since its last poll
to per-second hashes ``<key>:w:<second>`` (Redis clock) and reads back the totals
over the window, to which the breaker applies its own thresholds; a trip is written
like any other, so every process opens.

Redis failing never reaches the caller: the breaker keeps deciding locally, one log
line marks each change between healthy and failing, and the local state is written
back when Redis answers again (unless another process changed it meanwhile).
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from dataclasses import dataclass
from typing import Any

from redis.backoff import NoBackoff
from redis.client import Redis
from redis.exceptions import NoScriptError, RedisError

from reliant._core import validate
from reliant.redis.backend import check_url
from reliant.resilience.breaker_state import _CLOSED, _HALF_OPEN, _OPEN, BreakerCore, CircuitState
from reliant.resilience.windows import TimeWindow

DEFAULT_SYNC_INTERVAL = 0.5
DEFAULT_CONNECT_TIMEOUT = 0.05
DEFAULT_READ_TIMEOUT = 0.05
DEFAULT_NAMESPACE = "reliant:cb:"

_OWNER = "SharedBreakerState"
_ERRORS = (RedisError, OSError)

#: Write ARGV[2] (a state) if the version is still ARGV[1]; a trip (``open``) also
#: wins over a newer closed or open state, never over a manual one.
#: Writing ``closed`` with ARGV[4] > 0 (the aggregate window in seconds) also
#: deletes the shared window buckets: a closed breaker starts fresh metrics.
#: Returns {1, new version} or {0, current version}.
_WRITE = """
local v = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
local cur = redis.call('HGET', KEYS[1], 'state') or 'closed'
local new = ARGV[2]
if v ~= tonumber(ARGV[1]) and not (new == 'open' and (cur == 'closed' or cur == 'open')) then
  return {0, v}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
v = v + 1
redis.call('HSET', KEYS[1], 'version', v, 'state', new, 'open_until', now + tonumber(ARGV[3]))
local w = tonumber(ARGV[4])
if new == 'closed' and w > 0 then
  local sec = tonumber(t[1])
  for s = sec - w - 2, sec do
    redis.call('DEL', KEYS[1] .. ':w:' .. s)
  end
end
return {1, v}
"""

#: Return {version} if it is still ARGV[1], else {version, state, ms left open}.
_READ = """
local h = redis.call('HMGET', KEYS[1], 'version', 'state', 'open_until')
local v = tonumber(h[1] or '0')
if v == tonumber(ARGV[1]) then
  return {v}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return {v, h[2] or 'closed', tonumber(h[3] or now) - now}
"""

#: Add the deltas ARGV[2..4] (calls, failed, slow) to this second's bucket (TTL: the
#: window ARGV[5] plus 2 s) and return {version, state, ms left open, calls, failed,
#: slow}, the totals over the last ARGV[5] seconds (Redis clock).
_AGGREGATE = """
local h = redis.call('HMGET', KEYS[1], 'version', 'state', 'open_until')
local t = redis.call('TIME')
local sec = tonumber(t[1])
local now = sec * 1000 + math.floor(tonumber(t[2]) / 1000)
local w = tonumber(ARGV[5])
local prefix = KEYS[1] .. ':w:'
if tonumber(ARGV[2]) > 0 then
  local k = prefix .. sec
  redis.call('HINCRBY', k, 'calls', ARGV[2])
  redis.call('HINCRBY', k, 'failed', ARGV[3])
  redis.call('HINCRBY', k, 'slow', ARGV[4])
  redis.call('EXPIRE', k, w + 2)
end
local calls, failed, slow = 0, 0, 0
for s = sec - w + 1, sec do
  local b = redis.call('HMGET', prefix .. s, 'calls', 'failed', 'slow')
  calls = calls + tonumber(b[1] or '0')
  failed = failed + tonumber(b[2] or '0')
  slow = slow + tonumber(b[3] or '0')
end
return {tonumber(h[1] or '0'), h[2] or 'closed', tonumber(h[3] or now) - now, calls, failed, slow}
"""

log = logging.getLogger("reliant.redis")


@dataclass(frozen=True, slots=True, kw_only=True)
class SharedBreakerStateOptions:
    """Validated options of a :class:`SharedBreakerState`."""

    sync_interval: float = DEFAULT_SYNC_INTERVAL
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    namespace: str = DEFAULT_NAMESPACE
    aggregate: bool = False

    def __post_init__(self) -> None:
        validate.positive(_OWNER, "sync_interval", self.sync_interval)
        validate.positive(_OWNER, "connect_timeout", self.connect_timeout)
        validate.positive(_OWNER, "read_timeout", self.read_timeout)
        if not isinstance(self.namespace, str):
            raise ValueError(f"{_OWNER}: namespace must be a string, got {self.namespace!r}")
        if not isinstance(self.aggregate, bool):
            raise ValueError(f"{_OWNER}: aggregate must be True or False, got {self.aggregate!r}")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class SharedBreakerState:
    """A circuit breaker's state shared through Redis: ``CircuitBreaker(shared=...)``.

    One object per breaker (it binds to one); breakers with the same name in other
    processes, each with its own object, share the state. Syncing happens on the
    breaker's clock: a call, ``acquire``/``try_acquire`` or ``state`` at least
    ``sync_interval`` after the last sync polls Redis once; between polls it costs a
    float comparison. The poll is a blocking round trip (bounded by the timeouts),
    also on the asyncio driver.

    Args:
        client: a ``redis.Redis`` (built from ``url`` if omitted).
        url: where to connect when no client is given, ``redis://host:port/db``.
        sync_interval: seconds between polls of the shared version (> 0; default 0.5).
        connect_timeout: seconds to connect (client built here; default 0.05).
        read_timeout: seconds to wait for a reply (client built here; default 0.05).
        namespace: prefix of the hash key, followed by the breaker name
            (default ``"reliant:cb:"``).
        aggregate: share the window too: judge the breaker's thresholds on the totals
            of every process (``TimeWindow`` breakers only; default ``False``).

    Raises:
        ValueError: on an invalid option, naming it and its accepted range.
    """

    def __init__(
        self,
        client: Redis | None = None,
        *,
        url: str | None = None,
        sync_interval: float = DEFAULT_SYNC_INTERVAL,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        namespace: str = DEFAULT_NAMESPACE,
        aggregate: bool = False,
    ) -> None:
        if client is None and url is None:
            raise ValueError(f"{_OWNER}: give client or url, got neither")
        if url is not None:
            check_url(_OWNER, url)
        self.options = SharedBreakerStateOptions(
            sync_interval=sync_interval,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            namespace=namespace,
            aggregate=aggregate,
        )
        self._interval = self.options.sync_interval
        self._url = url
        self._client = client
        self._shas = {s: hashlib.sha1(s.encode()).hexdigest() for s in (_WRITE, _READ, _AGGREGATE)}
        self._core: BreakerCore | None = None
        self.key = ""
        self._lock = threading.RLock()
        self._applying = threading.local()
        #: The last version seen in Redis (0: nothing written yet).
        self.version = 0
        self._next_sync = -math.inf
        self._dirty = False  # a local transition could not be written
        self._healthy = True
        self._window = 0  # seconds of the shared window (0: not aggregating)

    @property
    def client(self) -> Redis:
        """The client (built from the URL on first use, without client-side retries)."""
        if self._client is None:
            from redis.retry import Retry

            assert self._url is not None
            o = self.options
            self._client = Redis.from_url(
                self._url,
                retry=Retry(NoBackoff(), 0),
                socket_connect_timeout=o.connect_timeout,
                socket_timeout=o.read_timeout,
            )
        return self._client

    @property
    def healthy(self) -> bool:
        """Whether the last call to Redis succeeded."""
        return self._healthy

    def close(self) -> None:
        """Close the client's connections."""
        if self._client is not None:
            self._client.close()

    # -- the breaker's side -----------------------------------------------------------

    def bind(self, core: BreakerCore, name: str, now: float) -> None:
        """Attach to ``core`` (done by ``CircuitBreaker``); the first call syncs.

        Raises:
            ValueError: this object is already bound to a breaker, or ``aggregate``
                is set and the breaker's window is not a ``TimeWindow``.
        """
        if self._core is not None:
            raise ValueError(f"{_OWNER}: already bound to a breaker; use one per breaker")
        if self.options.aggregate:
            window = core.options.window
            if not isinstance(window, TimeWindow):
                raise ValueError(
                    f"{_OWNER}: aggregate=True needs a breaker with a TimeWindow, got {window!r}"
                )
            self._window = window.seconds
        self._core = core
        self.key = self.options.namespace + name
        core.listener = self._published

    def maybe_sync(self, now: float) -> None:
        """Poll Redis if ``sync_interval`` has passed since the last poll."""
        if now >= self._next_sync:
            self.sync(now)

    def sync(self, now: float) -> None:
        """Poll Redis now and apply a newer shared state (skipped if a poll is running)."""
        if not self._lock.acquire(blocking=False):
            return
        try:
            self._next_sync = now + self._interval
            core = self._core
            assert core is not None
            if self._window:
                deltas = core.take_tally()
                reply = self._call(_AGGREGATE, self.version, *deltas, self._window)
            else:
                reply = self._call(_READ, self.version)
            if reply is None:
                return
            if not self._adopt(reply, now) and len(reply) > 3:
                core.trip(now, int(reply[3]), int(reply[4]), int(reply[5]))
        finally:
            self._lock.release()

    def _adopt(self, reply: list[Any], now: float) -> bool:
        """Act on a poll's reply (lock held); return whether a remote state was applied."""
        version = int(reply[0])
        if (self._dirty and version == self.version) or version < self.version:
            # Nobody changed it while we could not write, or Redis lost it.
            self._dirty = False
            self.version = version
            self._push(now)
            return False
        self._dirty = False
        if version == self.version:
            return False
        self.version = version
        self._apply(CircuitState(_text(reply[1])), int(reply[2]) / 1000, now)
        return True

    def _apply(self, state: CircuitState, remaining: float, now: float) -> None:
        core = self._core
        assert core is not None
        if state is core.state and state is not _OPEN:
            return  # an OPEN is a new open period: take its end
        self._applying.on = True
        try:
            if state is _OPEN:
                core.transition(_OPEN, now, open_until=now + max(0.0, remaining))
            else:
                core.transition(state, now)
        finally:
            self._applying.on = False

    def _published(self, state: CircuitState, now: float) -> None:
        """The core's listener: write a local transition to Redis.

        The listener runs outside the core's lock, so a sync may apply a newer remote
        state between the transition and this write: a transition the core has since
        left is stale and not written (it would overwrite, say, another process's OPEN
        with the version just read). Only OPEN followed by the local HALF_OPEN that
        ends it is still published: no remote state leads to HALF_OPEN.
        """
        if state is _HALF_OPEN or getattr(self._applying, "on", False):
            return
        core = self._core
        assert core is not None
        with self._lock:
            current = core.state
            if current is not state and not (state is _OPEN and current is _HALF_OPEN):
                return
            self._write(state, now)

    def _push(self, now: float) -> None:
        core = self._core
        assert core is not None
        state = core.state
        if state is not _HALF_OPEN and not (state is _CLOSED and self.version == 0):
            self._write(state, now)

    def _write(self, state: CircuitState, now: float) -> None:
        core = self._core
        assert core is not None
        open_ms = max(0, round((core.open_until - now) * 1000)) if state is _OPEN else 0
        reply = self._call(_WRITE, self.version, state.value, open_ms, self._window)
        if reply is None:
            self._dirty = True
        elif int(reply[0]) == 1:
            self.version = int(reply[1])
        else:
            self._next_sync = -math.inf  # another process wrote first: take its state

    # -- Redis ------------------------------------------------------------------------

    def _call(self, script: str, *args: Any) -> list[Any] | None:
        """Run ``script`` on the key; ``None`` (logged once per change) if Redis failed."""
        sha = self._shas[script]
        try:
            client = self.client
            try:
                reply = client.evalsha(sha, 1, self.key, *args)
            except NoScriptError:
                client.script_load(script)
                reply = client.evalsha(sha, 1, self.key, *args)
        except _ERRORS as exc:
            if self._healthy:
                self._healthy = False
                log.warning(
                    "reliant.redis: Redis unavailable (%s: %s); breaker %r decides locally "
                    "until it answers again",
                    type(exc).__name__,
                    exc,
                    self.key,
                )
            return None
        if not self._healthy:
            self._healthy = True
            log.warning("reliant.redis: Redis answers again; breaker %r shares its state", self.key)
        return list(reply)

    def __repr__(self) -> str:
        return f"SharedBreakerState({self.key!r}, version={self.version}, healthy={self._healthy})"
