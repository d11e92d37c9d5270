"""Reading inbound requests: the rate-limit key, the client address, the deadline.

Shared by the ASGI and WSGI middlewares, which each wrap their request in a
:class:`Request`. Nothing here does I/O; hostile or malformed input is ignored and
reported through :class:`BadInput` (one log line per reason, throttled), never raised.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reliant._core import validate
from reliant._core.clock import MONOTONIC, Clock
from reliant.integrations import _headers

if TYPE_CHECKING:
    from reliant.integrations.health import Health
    from reliant.resilience.adaptive import AdaptiveLimit
    from reliant.resilience.ratelimit import Decision, RateLimiter

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: The logger every integration reports bad input to.
LOGGER_NAME = "reliant.integrations"
#: Seconds between two log lines for the same kind of bad input.
REPORT_INTERVAL = 10.0
#: Most reasons whose last report time is kept; past it the throttle starts afresh.
MAX_REPORT_REASONS = 256
#: Longest forwarding header read; longer ones are ignored.
MAX_FORWARDED_LENGTH = 2048
#: Longest deadline header read; longer ones are ignored.
MAX_DEADLINE_LENGTH = 32
#: Keys longer than this are replaced by a digest, to bound per-key memory.
MAX_KEY_LENGTH = 256
#: What ``key="api_key"`` reads when no header is named.
DEFAULT_API_KEY_HEADER = "x-api-key"
UNKNOWN_CLIENT = "unknown"
#: The header a caller's deadline is read from: decimal seconds left, e.g. ``2.5``.
DEFAULT_DEADLINE_HEADER = "Request-Timeout"
#: The longest deadline a header may ask for, seconds.
DEFAULT_MAX_DEADLINE = 300.0
#: The name of the policy in the RateLimit fields.
DEFAULT_POLICY_NAME = "default"
FORWARDED_HEADERS = ("x-forwarded-for", "forwarded")


class Request:
    """What the middlewares tell the key functions about a request.

    Attributes:
        peer: the address of the socket peer (``None`` when the server gives none).
        method: the HTTP method.
        path: the request path, without the query string.
    """

    __slots__ = ("method", "path", "peer")

    def __init__(self, peer: str | None, method: str, path: str) -> None:
        self.peer = peer
        self.method = method
        self.path = path

    def header(self, name: str) -> str | None:
        """Return the value of header ``name`` (lower case), repeated ones joined by ``, ``."""
        raise NotImplementedError


#: Chooses a request's rate-limit key; ``None`` falls back to the client address.
KeyFunc = Callable[[Request], str | None]


class BadInput:
    """Report ignored request input on the ``reliant.integrations`` logger, throttled.

    Each reason is logged at most once per ``interval`` seconds (with the count of the
    ones suppressed meanwhile), so that a client sending hostile headers cannot flood
    the logs. Reasons are constants; what varies per request (the peer) is ``source``,
    shown in the line but not part of the throttle, so that many peers cannot flood the
    log or grow the throttle's memory (which is bounded anyway: past
    ``MAX_REPORT_REASONS`` reasons it starts afresh). ``logging`` is imported on the
    first report.

    Args:
        interval: seconds between two lines for one reason.
        clock: the time source (monotonic by default).
    """

    __slots__ = ("_interval", "_last", "_now", "_suppressed")

    def __init__(self, interval: float = REPORT_INTERVAL, clock: Clock | None = None) -> None:
        self._interval = interval
        self._now = (MONOTONIC if clock is None else clock).now
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def __call__(self, reason: str, value: object, source: str = "") -> None:
        """Log that ``value`` was ignored because of ``reason`` (sent by ``source``)."""
        now = self._now()
        last = self._last.get(reason)
        if last is not None and now - last < self._interval:
            self._suppressed[reason] = self._suppressed.get(reason, 0) + 1
            return
        if len(self._last) >= MAX_REPORT_REASONS:
            self._last.clear()
            self._suppressed.clear()
        self._last[reason] = now
        suppressed = self._suppressed.pop(reason, 0)
        import logging

        shown = repr(value) if len(repr(value)) <= 120 else repr(value)[:117] + "..."
        logging.getLogger(LOGGER_NAME).warning(
            "reliant: ignored %s%s: %s%s",
            reason,
            f" {source}" if source else "",
            shown,
            f" ({suppressed} more since the last report)" if suppressed else "",
        )


def parse_networks(owner: str, networks: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Parse ``trusted_proxies`` (addresses or CIDR networks), or raise ``ValueError``."""
    if isinstance(networks, str):
        networks = (networks,)
    parsed = []
    for network in networks:
        try:
            parsed.append(ipaddress.ip_network(network, strict=False))
        except (TypeError, ValueError):
            raise ValueError(
                f"{owner}: trusted_proxies must be IP addresses or networks "
                f"such as '10.0.0.0/8', got {network!r}"
            ) from None
    return tuple(parsed)


def _address(text: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _forwarded_for(element: str) -> str:
    """The node of an RFC 7239 element's ``for=``, without quotes, brackets or port."""
    for pair in element.split(";"):
        name, _, value = pair.strip().partition("=")
        if name.strip().lower() == "for":
            node = value.strip().strip('"')
            if node.startswith("["):
                return node[1 : node.find("]")] if "]" in node else node
            return node.rsplit(":", 1)[0] if node.count(":") == 1 else node
    return ""


class ClientAddress:
    """Find the client's address: the socket peer, or what trusted proxies forwarded.

    A forwarding header is read only when the peer is in ``trusted_proxies``; its hops
    are walked from the right (the nearest) and the first one that is not a trusted
    proxy is the client. A malformed hop stops the walk at the last good one.

    Args:
        trusted_proxies: networks of the proxies in front of the service.
        header: ``"x-forwarded-for"`` or ``"forwarded"`` (RFC 7239).
        report: where ignored input goes.
    """

    __slots__ = ("_header", "_networks", "_report")

    def __init__(self, trusted_proxies: tuple[IPNetwork, ...], header: str, report: BadInput):
        self._networks = trusted_proxies
        self._header = header
        self._report = report

    def _trusted(self, address: IPAddress) -> bool:
        return any(address in network for network in self._networks)

    def __call__(self, request: Request) -> str:
        """Return the client's address as a string (``"unknown"`` without a peer)."""
        peer = request.peer
        if peer is None:
            return UNKNOWN_CLIENT
        value = request.header(self._header)
        if value is None:
            return peer
        peer_address = _address(peer)
        if peer_address is None or not self._networks or not self._trusted(peer_address):
            self._report(f"{self._header} header from untrusted peer", value, peer)
            return peer
        if len(value) > MAX_FORWARDED_LENGTH:
            self._report(f"{self._header} header longer than {MAX_FORWARDED_LENGTH}", value)
            return peer
        if self._header == "forwarded":
            hops = [_forwarded_for(element) for element in value.split(",")]
        else:
            hops = [hop.strip() for hop in value.split(",")]
        client = peer_address
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                self._report(f"malformed {self._header} hop", hop)
                break
            client = address
            if not self._trusted(address):
                break
        return str(client)


def _bounded(prefix: str, value: str) -> str:
    if len(value) > MAX_KEY_LENGTH:
        return prefix + "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:32]
    return prefix + value


def _header_key(name: str) -> KeyFunc:
    def key(request: Request) -> str | None:
        value = request.header(name)
        return None if not value else _bounded(f"{name}:", value)

    return key


def _api_key(name: str) -> KeyFunc:
    def key(request: Request) -> str | None:
        # Keys are digested: a secret must not end up in a shared store or an event.
        value = request.header(name)
        if not value and name == DEFAULT_API_KEY_HEADER:
            auth = request.header("authorization") or ""
            scheme, _, token = auth.partition(" ")
            value = token.strip() if scheme.lower() == "bearer" else ""
        if not value:
            return None
        return "api_key:" + hashlib.sha256(value.encode()).hexdigest()[:32]

    return key


def _route(request: Request) -> str:
    return _bounded("route:", f"{request.method} {request.path}")


def key_function(owner: str, spec: str | KeyFunc) -> KeyFunc | None:
    """Turn a ``key=`` option into a key function (``None`` for the client address).

    Accepted specs: ``"ip"`` (default), ``"route"`` (method and path), ``"header:NAME"``,
    ``"api_key"`` (``X-API-Key``, else an ``Authorization: Bearer`` token),
    ``"api_key:NAME"``, or a callable ``(Request) -> str | None``.
    """
    if callable(spec):
        return spec
    if spec == "ip":
        return None
    if spec == "route":
        return _route
    kind, _, name = spec.partition(":") if isinstance(spec, str) else ("", "", "")
    name = name.strip().lower()
    if kind == "header" and name:
        return _header_key(name)
    if kind == "api_key":
        return _api_key(name or DEFAULT_API_KEY_HEADER)
    raise ValueError(
        f"{owner}: key must be 'ip', 'route', 'header:NAME', 'api_key', 'api_key:NAME' "
        f"or a callable (Request) -> str | None, got {spec!r}"
    )


def parse_deadline(
    value: str | None, maximum: float, default: float | None, report: BadInput, name: str
) -> float | None:
    """Read a deadline header (decimal seconds) into a budget capped at ``maximum``.

    Returns ``default`` when the header is absent or ignored (too long, not a finite
    number, not positive), and ``maximum`` when it asks for more.
    """
    if value is None:
        return default
    seconds = math.nan
    if len(value) <= MAX_DEADLINE_LENGTH:
        with contextlib.suppress(ValueError):
            seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        report(f"{name} header (expected positive seconds)", value)
        return default
    return min(seconds, maximum)


Headers = list[tuple[str, str]]


@dataclass(frozen=True, slots=True, kw_only=True)
class InboundOptions:
    """Validated options of the inbound middlewares (see ``ReliantMiddleware``)."""

    limiter: RateLimiter | None = None
    key: str | KeyFunc = "ip"
    trusted_proxies: Iterable[str] = ()
    forwarded_header: str = "x-forwarded-for"
    shed: AdaptiveLimit | None = None
    deadline_header: str = DEFAULT_DEADLINE_HEADER
    max_deadline: float = DEFAULT_MAX_DEADLINE
    default_deadline: float | None = None
    health: Health | None = None
    exempt: Iterable[str] = ()
    policy_name: str = DEFAULT_POLICY_NAME
    #: The middleware class named in error messages.
    owner: str = field(default="ReliantMiddleware", repr=False, compare=False)

    def __post_init__(self) -> None:
        owner = self.owner
        # Accept any iterable (or one string) from the middlewares' keyword arguments.
        proxies = self.trusted_proxies
        object.__setattr__(
            self, "trusted_proxies", (proxies,) if isinstance(proxies, str) else tuple(proxies)
        )
        exempt = self.exempt
        object.__setattr__(self, "exempt", (exempt,) if isinstance(exempt, str) else tuple(exempt))
        from reliant.resilience.adaptive import AdaptiveLimit
        from reliant.resilience.ratelimit import RateLimiter

        if self.limiter is not None and not isinstance(self.limiter, RateLimiter):
            raise ValueError(
                f"{owner}: limiter must be a reliant.RateLimiter, got {self.limiter!r}"
            )
        if self.shed is not None and not isinstance(self.shed, AdaptiveLimit):
            raise ValueError(f"{owner}: shed must be a reliant.AdaptiveLimit, got {self.shed!r}")
        key_function(owner, self.key)
        parse_networks(owner, self.trusted_proxies)
        validate.one_of(owner, "forwarded_header", self.forwarded_header, FORWARDED_HEADERS)
        if not isinstance(self.deadline_header, str) or not self.deadline_header:
            raise ValueError(
                f"{owner}: deadline_header must be a header name, got {self.deadline_header!r}"
            )
        validate.positive(owner, "max_deadline", self.max_deadline)
        if self.default_deadline is not None:
            validate.positive(owner, "default_deadline", self.default_deadline)
        if not self.policy_name or '"' in self.policy_name or "\\" in self.policy_name:
            raise ValueError(
                f"{owner}: policy_name must be a non-empty name without quotes, "
                f"got {self.policy_name!r}"
            )


class Inbound:
    """The middlewares' decision core: keys, deadlines and the fields of each answer.

    No I/O: the ASGI and WSGI drivers call it and send what it returns.
    """

    __slots__ = (
        "_client",
        "_deadline_name",
        "_key",
        "_policy",
        "_policy_name",
        "clock",
        "exempt",
        "options",
        "report",
    )

    def __init__(self, options: InboundOptions, clock: Clock | None) -> None:
        self.options = o = options
        owner = o.owner
        self.clock: Clock = MONOTONIC if clock is None else clock
        self.report = BadInput(clock=self.clock)
        networks = parse_networks(owner, o.trusted_proxies)
        self._client = ClientAddress(networks, o.forwarded_header, self.report)
        self._key = key_function(owner, o.key)
        self._deadline_name = o.deadline_header.lower()
        self._policy_name = o.policy_name
        self._policy = ""
        if o.limiter is not None:
            quota, window = _headers.quota_window(o.limiter.options.rate, o.limiter.options.per)
            self._policy = _headers.policy_field(o.policy_name, quota, window)
        paths = set(o.exempt)
        if o.health is not None:
            paths.update((o.health.livez_path, o.health.readyz_path))
        self.exempt = frozenset(paths)

    def limit_key(self, request: Request) -> str:
        """The rate-limit key of ``request``; the client address when the key function has none."""
        if self._key is not None:
            key = self._key(request)
            if key is not None:
                return key
        return "ip:" + self._client(request)

    def deadline(self, request: Request) -> float | None:
        """The request's time budget in seconds, or ``None`` for no deadline."""
        o = self.options
        return parse_deadline(
            request.header(self._deadline_name),
            o.max_deadline,
            o.default_deadline,
            self.report,
            o.deadline_header,
        )

    def admitted(self, decision: Decision) -> Headers:
        """The RateLimit fields an admitted response carries."""
        reset = _headers.whole_seconds(decision.reset_after)
        field = _headers.ratelimit_field(self._policy_name, decision.remaining, reset)
        return [("RateLimit-Policy", self._policy), ("RateLimit", field)]

    def rejected(self, retry_after: float | None) -> tuple[int, Headers, bytes]:
        """The 429 answer to a request the limiter denied."""
        if retry_after is None or not math.isfinite(retry_after):
            wait = int(_headers.parse_fields(self._policy)[self._policy_name]["w"])
        else:
            wait = max(1, _headers.whole_seconds(retry_after))
        body = _headers.problem(
            429, "Too Many Requests", f"Rate limit exceeded; retry in {wait} s."
        )
        headers = [
            ("Content-Type", _headers.PROBLEM_TYPE),
            ("Retry-After", str(wait)),
            ("RateLimit-Policy", self._policy),
            ("RateLimit", _headers.ratelimit_field(self._policy_name, 0, wait)),
        ]
        return 429, headers, body

    def shed_answer(self) -> tuple[int, Headers, bytes]:
        """The 503 answer to a request the concurrency limit shed."""
        body = _headers.problem(
            503, "Service Unavailable", "The service is at its concurrency limit; retry later."
        )
        return 503, [("Content-Type", _headers.PROBLEM_TYPE)], body
