"""RedisBackend: rate-limiter state shared by every process that talks to one Redis.

Each decision is one ``EVALSHA`` of a Lua script (:mod:`reliant.redis.scripts`) that
reads the server's clock, decides and writes atomically. The script is loaded on the
first ``NOSCRIPT`` answer and again after any ``SCRIPT FLUSH`` or failover. Batches
of keys are decided in one pipelined round trip (:meth:`RedisBackend.decide_many`).

Redis failing is an expected case: every call goes through a
:class:`~reliant.CircuitBreaker`, and while Redis errs or the breaker is open the
decision comes from the fail mode (``"open"``, ``"closed"`` or ``"local"``). No
exception from the Redis client reaches the caller (an unexpected one, such as a client
used on a closed event loop, counts as Redis failing too, its traceback logged at most
once a minute); one log line marks each change between healthy and failing.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from redis.asyncio.client import Redis as AsyncRedis
from redis.backoff import NoBackoff
from redis.client import Redis
from redis.connection import parse_url
from redis.exceptions import NoScriptError, RedisError

from reliant._core import validate
from reliant._core.clock import MONOTONIC, Clock
from reliant.exceptions import CircuitOpenError
from reliant.redis._autopipeline import AutoPipeline
from reliant.redis.scripts import SCRIPTS
from reliant.resilience.circuit_breaker import CircuitBreaker
from reliant.resilience.ratelimit.backend import Decision
from reliant.resilience.ratelimit.memory import MemoryBackend
from reliant.resilience.windows import CountWindow

#: What to decide while Redis is unreachable: admit, deny, or decide in this process.
FailMode = Literal["open", "closed", "local"]
FAIL_MODES: tuple[FailMode, ...] = ("open", "closed", "local")
Algorithm = Literal["gcra", "token_bucket", "sliding_window"]

DEFAULT_FAIL_MODE: FailMode = "local"
DEFAULT_CONNECT_TIMEOUT = 0.05
DEFAULT_READ_TIMEOUT = 0.05
#: Seconds the breaker around Redis stays open before one trial call.
DEFAULT_RETRY_INTERVAL = 1.0
DEFAULT_NAMESPACE = "reliant:rl:"

#: Errors that mean "Redis is not answering properly" (socket errors included).
_ERRORS = (RedisError, OSError)
#: Seconds between two logged tracebacks of unexpected errors from the client.
UNEXPECTED_LOG_INTERVAL = 60.0
_TAGS = {"gcra": "g:", "token_bucket": "t:", "sliding_window": "w:"}
_INF = float("inf")
_US = 1_000_000
_OPEN = Decision(True, 0, 0.0, 0.0)
#: One (key, a, b, cost) request of a batch, in the single-key methods' units.
Request = tuple[str, int, int, int]

log = logging.getLogger("reliant.redis")


@dataclass(frozen=True, slots=True, kw_only=True)
class RedisBackendOptions:
    """Validated options of a :class:`RedisBackend`."""

    fail_mode: FailMode = DEFAULT_FAIL_MODE
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    retry_interval: float = DEFAULT_RETRY_INTERVAL
    namespace: str = DEFAULT_NAMESPACE
    server_time: bool = True
    autopipeline: bool = True

    def __post_init__(self) -> None:
        owner = "RedisBackend"
        validate.one_of(owner, "fail_mode", self.fail_mode, FAIL_MODES)
        validate.positive(owner, "connect_timeout", self.connect_timeout)
        validate.positive(owner, "read_timeout", self.read_timeout)
        validate.positive(owner, "retry_interval", self.retry_interval)
        if not isinstance(self.namespace, str):
            raise ValueError(f"{owner}: namespace must be a string, got {self.namespace!r}")
        if not isinstance(self.server_time, bool):
            raise ValueError(
                f"{owner}: server_time must be True or False, got {self.server_time!r}"
            )
        if not isinstance(self.autopipeline, bool):
            raise ValueError(
                f"{owner}: autopipeline must be True or False, got {self.autopipeline!r}"
            )


def check_url(owner: str, url: object) -> str:
    """Return ``url`` if redis-py can parse it, else raise ``ValueError`` naming ``owner``.

    Raises:
        ValueError: ``url`` is not a ``redis://``, ``rediss://`` or ``unix://`` URL.
    """
    if not isinstance(url, str):
        raise ValueError(f"{owner}: url must be a string like 'redis://host:port/db', got {url!r}")
    try:
        parse_url(url)  # type: ignore[no-untyped-call]
    except ValueError as exc:
        raise ValueError(
            f"{owner}: url must look like 'redis://host:port/db' (or rediss://, unix://), "
            f"got {url!r}: {exc}"
        ) from None
    return url


def _decision(reply: Sequence[int]) -> Decision:
    allowed, remaining, retry_us, reset_us = reply
    retry_after = _INF if retry_us < 0 else retry_us / _US
    return Decision(allowed == 1, remaining, retry_after, reset_us / _US)


class RedisBackend:
    """A :class:`~reliant.resilience.ratelimit.RateLimitBackend` kept in Redis.

    Build it with :meth:`from_url`, or from existing clients. Keys are stored as
    ``namespace + tag + "{" + key + "}"``: the braces make the key its own Redis
    Cluster hash tag.

    Args:
        client: a ``redis.Redis`` for the sync methods (built from ``url`` if omitted).
        aclient: a ``redis.asyncio.Redis`` for the async methods (likewise).
        url: where to connect when a client is not given, ``redis://host:port/db``.
        fail_mode: ``"open"`` admits (``Decision(True, 0, 0.0, 0.0)``), ``"closed"``
            denies with ``retry_after`` = the time until Redis is tried again,
            ``"local"`` (default) decides with an in-process :class:`MemoryBackend`.
        connect_timeout: seconds to connect (clients built here; default 0.05).
        read_timeout: seconds to wait for a reply (clients built here; default 0.05).
        retry_interval: seconds the breaker around Redis stays open (default 1.0).
        namespace: prefix of every key (default ``"reliant:rl:"``).
        server_time: decide on Redis' clock (default); ``False`` sends ``clock``'s time
            instead, for tests and simulations on a virtual clock.
        autopipeline: coalesce the asyncio decisions asked in one loop tick into one
            pipelined round trip (default ``True``); ``False`` sends one ``EVALSHA``
            per async decision. The sync methods are never pipelined implicitly.
        breaker: the breaker around Redis calls; a private one by default.
        clock: times the breaker and the local fallback (and decisions when
            ``server_time=False``).

    Raises:
        ValueError: on an invalid option, naming it and its accepted range.
    """

    def __init__(
        self,
        client: Redis | None = None,
        *,
        aclient: AsyncRedis | None = None,
        url: str | None = None,
        fail_mode: FailMode = DEFAULT_FAIL_MODE,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        retry_interval: float = DEFAULT_RETRY_INTERVAL,
        namespace: str = DEFAULT_NAMESPACE,
        server_time: bool = True,
        autopipeline: bool = True,
        breaker: CircuitBreaker | None = None,
        clock: Clock | None = None,
    ) -> None:
        if client is None and aclient is None and url is None:
            raise ValueError("RedisBackend: give client, aclient or url, got none of them")
        if breaker is not None and not isinstance(breaker, CircuitBreaker):
            raise ValueError(f"RedisBackend: breaker must be a CircuitBreaker, got {breaker!r}")
        if url is not None:
            check_url("RedisBackend", url)
        self.options = RedisBackendOptions(
            fail_mode=fail_mode,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retry_interval=retry_interval,
            namespace=namespace,
            server_time=server_time,
            autopipeline=autopipeline,
        )
        self.clock: Clock = clock if clock is not None else MONOTONIC
        self._now = self.clock.now
        self._url = url
        self._client = client
        self._aclient = aclient
        #: Clients built from the URL, one per event loop (a client is bound to its loop).
        self._aclients: dict[asyncio.AbstractEventLoop | None, AsyncRedis] = {}
        self._next_unexpected_log = -_INF
        self.breaker = breaker or CircuitBreaker(
            name="redis",
            window=CountWindow(10),
            min_calls=3,
            failure_rate=0.5,
            half_open_calls=1,
            open_for=retry_interval,
            clock=self.clock,
        )
        self.local = MemoryBackend(clock=self.clock)
        self._sources = dict(SCRIPTS)
        self._shas = {k: hashlib.sha1(v.encode()).hexdigest() for k, v in SCRIPTS.items()}
        self._prefixes = {k: namespace + tag + "{" for k, tag in _TAGS.items()}
        self._healthy = True
        self._state_lock = threading.Lock()
        self._autopipeline: AutoPipeline | None = None

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisBackend:
        """Connect to ``url`` (``redis://host:port/db``) with the options of the class.

        The sync and asyncio clients are built on first use, with the backend's
        timeouts and no client-side retries (the breaker decides when to try again).
        """
        return cls(url=url, **options)

    # -- clients ----------------------------------------------------------------------

    def _client_options(self) -> dict[str, Any]:
        o = self.options
        return {
            "socket_connect_timeout": o.connect_timeout,
            "socket_timeout": o.read_timeout,
        }

    @property
    def client(self) -> Redis:
        """The sync client (built from the URL on first use)."""
        if self._client is None:
            from redis.retry import Retry

            assert self._url is not None, "RedisBackend was built without a sync client"
            self._client = Redis.from_url(
                self._url, retry=Retry(NoBackoff(), 0), **self._client_options()
            )
        return self._client

    @property
    def aclient(self) -> AsyncRedis:
        """The asyncio client of the running event loop.

        A client given to the constructor is used on every loop. Built from the URL,
        there is one client per event loop, built on the loop's first use: an asyncio
        client's connections belong to the loop that opened them, so a backend reused
        by successive ``asyncio.run`` calls gets a fresh client for each. Clients of
        closed loops are dropped (their connections cannot be closed any more: call
        :meth:`aclose` before a loop ends).
        """
        if self._aclient is not None:
            return self._aclient
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        aclient = self._aclients.get(loop)
        if aclient is None:
            from redis.asyncio.retry import Retry

            assert self._url is not None, "RedisBackend was built without an asyncio client"
            aclient = AsyncRedis.from_url(
                self._url, retry=Retry(NoBackoff(), 0), **self._client_options()
            )
            with self._state_lock:
                for old in [k for k in self._aclients if k is not None and k.is_closed()]:
                    del self._aclients[old]
                aclient = self._aclients.setdefault(loop, aclient)
        return aclient

    def close(self) -> None:
        """Close the sync client's connections."""
        if self._client is not None:
            self._client.close()

    async def aclose(self) -> None:
        """Close the asyncio client's connections on the running loop.

        Call it on the loop that used them, before that loop ends.
        """
        if self._aclient is not None:
            await self._aclient.aclose()
            self._aclient = None
            return
        aclient = self._aclients.pop(asyncio.get_running_loop(), None)
        if aclient is not None:
            await aclient.aclose()

    def key(self, algorithm: Algorithm, key: str) -> str:
        """The Redis key holding ``key``'s state for ``algorithm``."""
        return self._prefixes[algorithm] + key + "}"

    # -- health -----------------------------------------------------------------------

    def _args(self, algorithm: str, key: str, a: int, b: int, cost: int) -> tuple[Any, ...]:
        args = (self._shas[algorithm], 1, self._prefixes[algorithm] + key + "}", a, b, cost)
        if self.options.server_time:
            return args
        return (*args, round(self._now() * 1_000_000_000) // 1000)

    def _failed(self, exc: BaseException, start: float) -> None:
        end = self._now()
        self.breaker.on_error(end - start, exc)
        if not isinstance(exc, _ERRORS) and end >= self._next_unexpected_log:
            with self._state_lock:
                log_it = end >= self._next_unexpected_log
                self._next_unexpected_log = end + UNEXPECTED_LOG_INTERVAL
            if log_it:
                log.error(
                    "reliant.redis: unexpected error from the Redis client, treated as "
                    "Redis failing (logged at most once every %gs)",
                    UNEXPECTED_LOG_INTERVAL,
                    exc_info=exc,
                )
        if self._healthy:
            with self._state_lock:
                if self._healthy:
                    self._healthy = False
                    log.warning(
                        "reliant.redis: Redis unavailable (%s: %s); deciding fail_mode=%r "
                        "until it answers again",
                        type(exc).__name__,
                        exc,
                        self.options.fail_mode,
                    )

    def _succeeded(self, start: float) -> None:
        self.breaker.on_success(self._now() - start)
        if not self._healthy:
            with self._state_lock:
                if not self._healthy:
                    self._healthy = True
                    log.warning("reliant.redis: Redis answers again; deciding in Redis")

    @property
    def healthy(self) -> bool:
        """Whether the last call to Redis succeeded."""
        return self._healthy

    def _fallback(
        self, algorithm: str, requests: Iterable[Request], retry_after: float | None
    ) -> list[Decision]:
        mode = self.options.fail_mode
        if mode == "open":
            return [_OPEN for _ in requests]
        if mode == "closed":
            wait = self.options.retry_interval if retry_after is None else retry_after
            denied = Decision(False, 0, wait, wait)
            return [denied for _ in requests]
        decide: Callable[[str, int, int, int], Decision] = getattr(self.local, algorithm)
        return [decide(*request) for request in requests]

    # -- one decision -----------------------------------------------------------------

    def _decide(self, algorithm: str, key: str, a: int, b: int, cost: int) -> Decision:
        try:
            self.breaker.acquire()
        except CircuitOpenError as exc:
            return self._fallback(algorithm, ((key, a, b, cost),), exc.retry_after)[0]
        start = self._now()
        try:
            client = self.client
            args = self._args(algorithm, key, a, b, cost)
            try:
                reply = client.execute_command("EVALSHA", *args)  # type: ignore[no-untyped-call]
            except NoScriptError:
                client.script_load(self._sources[algorithm])
                reply = client.execute_command("EVALSHA", *args)  # type: ignore[no-untyped-call]
            decision = _decision(reply)
        except Exception as exc:  # the client's errors, and any surprise: Redis failed
            self._failed(exc, start)
            return self._fallback(algorithm, ((key, a, b, cost),), None)[0]
        except BaseException as exc:  # interrupted: give the breaker its permit back
            self.breaker.on_error(self._now() - start, exc)
            raise
        self._succeeded(start)
        return decision

    async def _adecide(self, algorithm: str, key: str, a: int, b: int, cost: int) -> Decision:
        if self.options.autopipeline:
            pipe = self._autopipeline
            loop = asyncio.get_running_loop()
            if pipe is None or pipe.loop is not loop:
                pipe = self._autopipeline = AutoPipeline(loop, self.adecide_many, self._fallback)
            return await pipe.submit(algorithm, (key, a, b, cost))
        try:
            self.breaker.acquire()
        except CircuitOpenError as exc:
            return self._fallback(algorithm, ((key, a, b, cost),), exc.retry_after)[0]
        start = self._now()
        try:
            client = self.aclient
            args = self._args(algorithm, key, a, b, cost)
            try:
                reply = await client.execute_command("EVALSHA", *args)  # type: ignore[no-untyped-call]
            except NoScriptError:
                await client.script_load(self._sources[algorithm])
                reply = await client.execute_command("EVALSHA", *args)  # type: ignore[no-untyped-call]
            decision = _decision(reply)
        except Exception as exc:
            self._failed(exc, start)
            return self._fallback(algorithm, ((key, a, b, cost),), None)[0]
        except BaseException as exc:  # cancelled: give the breaker its permit back
            self.breaker.on_error(self._now() - start, exc)
            raise
        self._succeeded(start)
        return decision

    def gcra(self, key: str, emission_us: int, tolerance_us: int, cost: int) -> Decision:
        """Decide by GCRA in Redis (see ``reliant.resilience.ratelimit.gcra``)."""
        return self._decide("gcra", key, emission_us, tolerance_us, cost)

    def token_bucket(self, key: str, emission_us: int, capacity: int, cost: int) -> Decision:
        """Decide by a token bucket in Redis."""
        return self._decide("token_bucket", key, emission_us, capacity, cost)

    def sliding_window(self, key: str, limit: int, window_us: int, cost: int) -> Decision:
        """Decide by the sliding-window counter in Redis."""
        return self._decide("sliding_window", key, limit, window_us, cost)

    async def agcra(self, key: str, emission_us: int, tolerance_us: int, cost: int) -> Decision:
        """Async :meth:`gcra`."""
        return await self._adecide("gcra", key, emission_us, tolerance_us, cost)

    async def atoken_bucket(self, key: str, emission_us: int, capacity: int, cost: int) -> Decision:
        """Async :meth:`token_bucket`."""
        return await self._adecide("token_bucket", key, emission_us, capacity, cost)

    async def asliding_window(self, key: str, limit: int, window_us: int, cost: int) -> Decision:
        """Async :meth:`sliding_window`."""
        return await self._adecide("sliding_window", key, limit, window_us, cost)

    # -- batches ----------------------------------------------------------------------

    def _batch(self, algorithm: str, requests: Sequence[Request]) -> list[tuple[Any, ...]]:
        validate.one_of("RedisBackend.decide_many", "algorithm", algorithm, _TAGS)
        return [self._args(algorithm, *request) for request in requests]

    def decide_many(self, algorithm: Algorithm, requests: Sequence[Request]) -> list[Decision]:
        """Decide many ``(key, a, b, cost)`` requests in one pipelined round trip.

        ``a`` and ``b`` are the single-key method's parameters (``emission_us,
        tolerance_us`` for GCRA). Each request is its own atomic decision; a key that
        appears twice is decided twice, in order. If Redis fails for any request, the
        whole batch is decided by the fail mode.

        Returns:
            One :class:`Decision` per request, in order.
        """
        calls = self._batch(algorithm, requests)
        if not calls:
            return []
        try:
            self.breaker.acquire()
        except CircuitOpenError as exc:
            return self._fallback(algorithm, requests, exc.retry_after)
        start = self._now()
        try:
            client = self.client
            replies = self._pipeline(client, calls)
            missing = [i for i, r in enumerate(replies) if isinstance(r, NoScriptError)]
            if missing:
                client.script_load(self._sources[algorithm])
                again = self._pipeline(client, [calls[i] for i in missing])
                for i, reply in zip(missing, again, strict=True):
                    replies[i] = reply
            for reply in replies:
                if isinstance(reply, Exception):
                    raise reply
            decisions = [_decision(reply) for reply in replies]
        except Exception as exc:
            self._failed(exc, start)
            return self._fallback(algorithm, requests, None)
        except BaseException as exc:
            self.breaker.on_error(self._now() - start, exc)
            raise
        self._succeeded(start)
        return decisions

    @staticmethod
    def _pipeline(client: Redis, calls: list[tuple[Any, ...]]) -> list[Any]:
        pipe = client.pipeline(transaction=False)
        for args in calls:
            pipe.execute_command("EVALSHA", *args)  # type: ignore[no-untyped-call]
        return list(pipe.execute(raise_on_error=False))

    async def adecide_many(
        self, algorithm: Algorithm, requests: Sequence[Request]
    ) -> list[Decision]:
        """Async :meth:`decide_many`."""
        calls = self._batch(algorithm, requests)
        if not calls:
            return []
        try:
            self.breaker.acquire()
        except CircuitOpenError as exc:
            return self._fallback(algorithm, requests, exc.retry_after)
        start = self._now()
        try:
            client = self.aclient
            replies = await self._apipeline(client, calls)
            missing = [i for i, r in enumerate(replies) if isinstance(r, NoScriptError)]
            if missing:
                await client.script_load(self._sources[algorithm])
                again = await self._apipeline(client, [calls[i] for i in missing])
                for i, reply in zip(missing, again, strict=True):
                    replies[i] = reply
            for reply in replies:
                if isinstance(reply, Exception):
                    raise reply
            decisions = [_decision(reply) for reply in replies]
        except Exception as exc:
            self._failed(exc, start)
            return self._fallback(algorithm, requests, None)
        except BaseException as exc:
            self.breaker.on_error(self._now() - start, exc)
            raise
        self._succeeded(start)
        return decisions

    @staticmethod
    async def _apipeline(client: AsyncRedis, calls: list[tuple[Any, ...]]) -> list[Any]:
        pipe = client.pipeline(transaction=False)
        for args in calls:
            pipe.execute_command("EVALSHA", *args)
        return list(await pipe.execute(raise_on_error=False))

    def gcra_many(self, requests: Sequence[Request]) -> list[Decision]:
        """:meth:`decide_many` for GCRA: ``(key, emission_us, tolerance_us, cost)`` each."""
        return self.decide_many("gcra", requests)

    async def agcra_many(self, requests: Sequence[Request]) -> list[Decision]:
        """Async :meth:`gcra_many`."""
        return await self.adecide_many("gcra", requests)

    def __repr__(self) -> str:
        o = self.options
        where = self._url or "client"
        return f"RedisBackend({where!r}, fail_mode={o.fail_mode!r}, healthy={self._healthy})"
