"""The decisions of the httpx transports, none of them I/O.

Which pipeline a request goes through (host, port and path-prefix routes, or a
router), whether it may be sent twice (idempotency), which responses are failures,
what a ``Retry-After`` asks for, and how the current deadline caps each attempt.
:mod:`reliant.integrations.httpx` drives these from its sync and async transports
and re-exports the public names.
"""

from __future__ import annotations

import datetime
import email.utils
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from reliant._core import validate
from reliant._core.clock import Clock
from reliant._core.deadline import remaining
from reliant._core.policy import Policy
from reliant.exceptions import ReliantError, TimeoutExceeded
from reliant.resilience.registry import Spec, build_pipeline

if TYPE_CHECKING:
    import random

#: Statuses that count as failures: 429 and every 5xx.
DEFAULT_FAIL_ON_STATUS = frozenset({429, *range(500, 600)})
#: A ``Retry-After`` longer than this (seconds) is not waited for: the response is returned.
DEFAULT_MAX_RETRY_AFTER = 60.0
#: The header carrying the caller's remaining deadline, in seconds, to the server.
DEFAULT_DEADLINE_HEADER = "Request-Timeout"
#: Methods that may be sent again without asking (RFC 9110 §9.2.2).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
#: A request carrying this header may be sent again whatever its method.
IDEMPOTENCY_KEY = "Idempotency-Key"
#: At most this many bytes of a failure response's (5xx/429) body are read; the rest is
#: dropped with its connection, so a huge error page cannot hold memory or the pipeline.
FAILURE_BODY_LIMIT = 64 * 1024

#: The request extension where the transport records whether a request may be resent.
_RETRYABLE = "reliant.retryable"
#: Errors raised before any byte of the request left: resending is always safe.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_TIMEOUT_KEYS = ("connect", "read", "write", "pool")
_DELTA_SECONDS = re.compile(r"[0-9]{1,32}(?:\.[0-9]{1,9})?")

PipelineSpec = Policy | Sequence[Spec | Policy]
Router = Callable[[httpx.Request], Policy | None]


class ResendRefused(ReliantError):
    """A request that may not be resent was already sent: the transport refused to send it again.

    Raised inside the pipeline when an attempt (a retry after a timeout, a hedge) would
    send a non-idempotent request a second time while the first may have reached the
    server; :func:`retryable` is ``False`` for it, so a ``Retry`` gives up at once.

    Attributes:
        request: the request that was not sent again.
    """

    def __init__(self, request: httpx.Request) -> None:
        super().__init__(
            f"{request.method} {request.url} may already have been sent and is not safe to "
            "send again: not resent (add an Idempotency-Key header to allow it)"
        )
        self.request = request


class ResponseFailure(Exception):
    """A 5xx or 429 response, raised inside the pipeline so policies see a failure.

    The transport catches it and returns :attr:`response`; it never reaches the caller.

    Attributes:
        response: the response (its body already read, so the connection is free).
        request: the request it answers.
        retry_after: seconds the server asked to wait (``Retry-After``), ``math.inf``
            when that is longer than the transport's ``max_retry_after``, else ``None``.
        retryable: whether the request may be sent again (see :func:`retryable`).
    """

    def __init__(
        self,
        response: httpx.Response,
        request: httpx.Request,
        *,
        retry_after: float | None,
        retryable: bool,
    ) -> None:
        super().__init__(f"HTTP {response.status_code} from {request.method} {request.url}")
        self.response = response
        self.request = request
        self.retry_after = retry_after
        self.retryable = retryable


def request_retryable(request: httpx.Request, *, allow_non_idempotent: bool = False) -> bool:
    """Return whether sending ``request`` twice is safe.

    True for idempotent methods and for requests with an ``Idempotency-Key`` header
    (or any method when ``allow_non_idempotent``), provided the body can be replayed.
    """
    if not isinstance(request.stream, httpx.ByteStream):
        return False  # a streamed upload was consumed by the first attempt
    return (
        allow_non_idempotent
        or request.method in IDEMPOTENT_METHODS
        or IDEMPOTENCY_KEY in request.headers
    )


def retryable(exc: BaseException) -> bool:
    """The ``retry_on`` predicate for HTTP pipelines: ``Retry(retry_on=retryable)``.

    A :class:`ResponseFailure` is retried when its request may be resent; a transport
    error when nothing was sent (connect and pool errors) or the request may be resent;
    a transport error that names no request is not (nothing says resending is safe);
    :class:`ResendRefused` never; any other ``Exception`` is retried, as by ``Retry``'s
    default.
    """
    if isinstance(exc, ResponseFailure):
        return exc.retryable
    if isinstance(exc, ResendRefused):
        return False
    if isinstance(exc, httpx.TransportError) and not isinstance(exc, _NOT_SENT):
        try:
            request = exc.request
        except RuntimeError:  # no request to judge by: do not risk a duplicate
            return False
        flag = request.extensions.get(_RETRYABLE)
        return flag if isinstance(flag, bool) else request_retryable(request)
    return isinstance(exc, Exception)


def parse_retry_after(value: str, now: float) -> float | None:
    """Return the wait a ``Retry-After`` value asks for, in seconds, or ``None``.

    Args:
        value: delta-seconds (``"120"``) or an HTTP-date.
        now: the wall-clock time (epoch seconds) an HTTP-date is measured from.

    Returns:
        Seconds ≥ 0, or ``None`` for a value that is neither form (garbage is ignored).
    """
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        return float(value)
    if not 0 < len(value) <= 64:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True, slots=True, kw_only=True)
class TransportOptions:
    """Validated options of a :class:`ReliantTransport`; see its docstring."""

    retry_non_idempotent: bool = False
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER
    deadline_header: str | None = DEFAULT_DEADLINE_HEADER
    fail_on_status: frozenset[int] = DEFAULT_FAIL_ON_STATUS

    def __post_init__(self) -> None:
        owner = "ReliantTransport"
        if not isinstance(self.retry_non_idempotent, bool):
            raise ValueError(
                f"{owner}: retry_non_idempotent must be a bool, got {self.retry_non_idempotent!r}"
            )
        validate.non_negative(owner, "max_retry_after", self.max_retry_after)
        header = self.deadline_header
        if header is not None and not (isinstance(header, str) and header.isascii() and header):
            raise ValueError(
                f"{owner}: deadline_header must be a header name or None, got {header!r}"
            )
        statuses: object = self.fail_on_status
        if isinstance(statuses, str | bytes) or not isinstance(statuses, Iterable):
            raise ValueError(
                f"{owner}: fail_on_status must be a collection of status codes, got {statuses!r}"
            )
        for status in statuses:
            if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status < 600:
                raise ValueError(
                    f"{owner}: fail_on_status must hold status codes in [100, 600), got {status!r}"
                )
        object.__setattr__(self, "fail_on_status", frozenset(self.fail_on_status))


def _server_now(date: str | None) -> float:
    """The server's wall-clock time from its ``Date`` header (skew-free), else ours."""
    if date:
        try:
            sent = email.utils.parsedate_to_datetime(date)
        except (TypeError, ValueError, IndexError, OverflowError):
            sent = None
        if sent is not None:
            if sent.tzinfo is None:  # RFC 9110 dates are GMT
                sent = sent.replace(tzinfo=datetime.UTC)
            return sent.timestamp()
    return time.time()


def _with_default_retry_on(spec: Spec | Policy) -> Spec | Policy:
    if isinstance(spec, Mapping) and spec.get("kind") == "retry" and "retry_on" not in spec:
        return {**spec, "retry_on": retryable}
    return spec


def _parse_key(key: str) -> tuple[str, int | None, str]:
    """Split ``host[:port][/path-prefix]`` into its parts."""
    hostport, slash, path = key.partition("/")
    port: str | None = None
    if hostport.startswith("["):  # [IPv6]:port
        host, _, rest = hostport[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
    elif hostport.count(":") == 1:
        host, _, port = hostport.partition(":")
    else:
        host = hostport
    if not host or (port is not None and not port.isdigit()):
        raise ValueError(
            f"ReliantTransport: pipelines keys must look like 'host', 'host:port' or "
            f"'host/path', got {key!r}"
        )
    prefix = ("/" + path).rstrip("/") if slash else ""
    return host.lower(), int(port) if port is not None else None, prefix


class Core:
    """What both transports share, none of it I/O: routing and classification."""

    __slots__ = ("_default", "_router", "_routes", "options")

    def __init__(
        self,
        pipelines: Mapping[str, PipelineSpec] | Router | None,
        default: PipelineSpec | None,
        options: TransportOptions,
        clock: Clock | None,
        rng: random.Random | None,
    ) -> None:
        def build(given: PipelineSpec, name: str) -> Policy:
            if isinstance(given, Policy):
                return given
            data: object = given  # plain data from config: check whatever the annotation says
            if isinstance(data, str | bytes) or not isinstance(given, Sequence):
                raise ValueError(
                    f"ReliantTransport: pipeline {name!r} must be a reliant Pipeline or a "
                    f"list of policy specs, got {given!r}"
                )
            specs = [_with_default_retry_on(s) for s in given]
            return build_pipeline(specs, name=name, clock=clock, rng=rng)

        self.options = options
        self._router: Router | None = None
        self._routes: dict[str, list[tuple[int | None, str, Policy]]] = {}
        if callable(pipelines):
            self._router = pipelines
        elif isinstance(pipelines, Mapping):
            for key, given in pipelines.items():
                host, port, prefix = _parse_key(key)
                self._routes.setdefault(host, []).append((port, prefix, build(given, key)))
            for routes in self._routes.values():  # most specific first
                routes.sort(key=lambda r: (r[0] is not None, len(r[1])), reverse=True)
        elif pipelines is not None:
            raise ValueError(
                "ReliantTransport: pipelines must be a mapping of host or route to pipeline, "
                f"or a callable (request) -> Pipeline | None, got {pipelines!r}"
            )
        self._default = build(default, "default") if default is not None else None

    def select(self, request: httpx.Request) -> Policy | None:
        """Return the pipeline for ``request``, or ``None`` to send it unprotected."""
        if self._router is not None:
            chosen = self._router(request)
            return chosen if chosen is not None else self._default
        url = request.url
        routes = self._routes.get(url.host)
        if routes:
            port = url.port or (443 if url.scheme == "https" else 80)
            path = url.path
            for want_port, prefix, pipeline in routes:
                if want_port is not None and want_port != port:
                    continue
                if not prefix or path == prefix or path.startswith(prefix + "/"):
                    return pipeline
        return self._default

    def begin(self, request: httpx.Request) -> Call:
        """Record what every attempt of ``request`` needs; refuse a passed deadline."""
        left = remaining()
        if left is not None and left <= 0:
            raise TimeoutExceeded("the deadline passed before the request was sent")
        resend = request_retryable(request, allow_non_idempotent=self.options.retry_non_idempotent)
        request.extensions[_RETRYABLE] = resend
        return Call(request, resend)

    def before_attempt(self, call: Call) -> None:
        """Refuse to resend what may not be resent; apply the current deadline; count the send.

        A request that may not be resent goes out at most once: once an attempt may have
        reached the server (``call.sent``), later attempts — a retry after a timeout, a
        hedge — are refused. Only a connect or pool error proves an attempt sent nothing
        (the transport then takes it back off ``call.sent``).

        Raises:
            the previous failure when the request must not be sent again (a Retry
            without the :func:`retryable` predicate then gives up at once);
            ResendRefused when it must not be sent again and no failure was recorded
            (the attempt timed out, was cancelled, or is still in flight);
            TimeoutExceeded when the deadline has passed.
        """
        if call.sent and not call.resend:
            failure = call.failure
            if failure is not None and not isinstance(failure, _NOT_SENT):
                raise failure
            raise ResendRefused(call.request)
        left = remaining()
        if left is None:
            call.sent += 1
            return
        if left <= 0:
            raise TimeoutExceeded("the deadline passed before the request was sent")
        request = call.request
        original = call.timeout
        request.extensions["timeout"] = {
            k: left if (v := original.get(k)) is None or v > left else v for k in _TIMEOUT_KEYS
        }
        header = self.options.deadline_header
        if header is not None:
            request.headers[header] = f"{max(left, 0.001):.3f}"  # never "0.000"
        call.sent += 1

    def not_sent(self, call: Call, exc: BaseException) -> None:
        """Record a failed send; a connect or pool error takes the send back off the count."""
        if isinstance(exc, _NOT_SENT):
            call.sent -= 1
        call.failure = exc

    def classify(self, call: Call, response: httpx.Response) -> ResponseFailure | None:
        """Return the failure a response stands for, or ``None`` for a success."""
        if response.status_code not in self.options.fail_on_status:
            return None
        hint = None
        value = response.headers.get("Retry-After")
        if value is not None:
            hint = parse_retry_after(value, _server_now(response.headers.get("Date")))
            if hint is not None and hint > self.options.max_retry_after:
                hint = math.inf  # longer than we wait: hand the response back now
        return ResponseFailure(response, call.request, retry_after=hint, retryable=call.resend)


class Call:
    """One request on its way through a pipeline (allocated per request).

    Attributes:
        request: the request.
        resend: whether it may be sent more than once.
        timeout: the request's own timeouts, before any deadline capped them.
        failure: the last failure an attempt recorded.
        sent: attempts that may have reached the server (sent, or in flight).
        responses: every response an attempt received, to close those not returned.
        done: the transport has returned: a late attempt closes its own response.
    """

    __slots__ = ("done", "failure", "request", "resend", "responses", "sent", "timeout")

    def __init__(self, request: httpx.Request, resend: bool) -> None:
        self.request = request
        self.resend = resend
        self.timeout: dict[str, float | None] = dict(request.extensions.get("timeout", {}))
        self.failure: BaseException | None = None
        self.sent = 0
        self.responses: list[httpx.Response] = []
        self.done = False
