"""ReliantTransport and AsyncReliantTransport against a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
import email.utils
import math
from collections.abc import Iterator
from typing import Any, cast

import httpx
import pytest
from servers_c import Reply, Script, refused_url, serve

import reliant as r
from reliant._core.deadline import deadline_scope
from reliant.integrations.httpx import (
    FAILURE_BODY_LIMIT,
    AsyncReliantTransport,
    ReliantTransport,
    ResendRefused,
    ResponseFailure,
    parse_retry_after,
    retryable,
)
from reliant.testing import VirtualClock

Outcome = httpx.Response | Exception
Request = tuple[str, str, dict[str, Any]]


@pytest.fixture
def script() -> Script:
    """The replies the server gives, and what it saw."""
    return Script()


@pytest.fixture
def base(script: Script) -> Iterator[str]:
    """The base URL of a real HTTP server serving ``script``."""
    with serve(script) as url:
        yield url


class _Recording(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.timeouts: list[dict[str, Any]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.timeouts.append(dict(request.extensions["timeout"]))
        return super().handle_request(request)


class _AsyncRecording(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.timeouts: list[dict[str, Any]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.timeouts.append(dict(request.extensions["timeout"]))
        return await super().handle_async_request(request)


def run(
    mode: str,
    base: str,
    requests: list[Request],
    *,
    recorded: list[dict[str, Any]] | None = None,
    timeout: httpx.Timeout | float = 10.0,
    **options: Any,
) -> list[Outcome]:
    """Send ``requests`` through one transport (sync or async) and collect the outcomes."""
    if mode == "sync":
        inner = _Recording()
        out: list[Outcome] = []
        transport = ReliantTransport(inner, **options)
        with httpx.Client(transport=transport, base_url=base, timeout=timeout) as client:
            for method, path, kwargs in requests:
                try:
                    out.append(client.request(method, path, **kwargs))
                except Exception as exc:
                    out.append(exc)
    else:
        ainner = _AsyncRecording()
        inner_timeouts = ainner.timeouts

        async def main() -> list[Outcome]:
            results: list[Outcome] = []
            transport = AsyncReliantTransport(ainner, **options)
            async with httpx.AsyncClient(
                transport=transport, base_url=base, timeout=timeout
            ) as client:
                for method, path, kwargs in requests:
                    try:
                        results.append(await client.request(method, path, **kwargs))
                    except Exception as exc:
                        results.append(exc)
            return results

        out = asyncio.run(main())
    if recorded is not None:
        recorded.extend(inner.timeouts if mode == "sync" else inner_timeouts)
    return out


def status(outcome: Outcome) -> int | str:
    """The status of a response, or the exception's class name."""
    return outcome.status_code if isinstance(outcome, httpx.Response) else type(outcome).__name__


def retry(clock: VirtualClock, attempts: int = 3, delay: float = 0.5, **kw: Any) -> r.Retry:
    """A retry with a constant backoff on a virtual clock, using the HTTP predicate."""
    return r.Retry(
        attempts=attempts,
        backoff=r.Backoff.constant(delay),
        retry_on=retryable,
        clock=clock,
        **kw,
    )


def test_503_is_retried_until_success(mode: str, base: str, script: Script) -> None:
    """Two 503s then a 200: the caller sees the 200 after two backoff waits."""
    script.replies["/a"] = [Reply(503), Reply(503), Reply(200, b"fine")]
    clock = VirtualClock()
    (response,) = run(mode, base, [("GET", "/a", {})], default=r.Pipeline(retry(clock)))
    assert [200, b"fine", 3] == [status(response), response.content, script.hits("/a")]
    assert [0.5, 0.5] == clock.sleeps


def test_last_response_is_returned_when_attempts_run_out(
    mode: str, base: str, script: Script
) -> None:
    """When every attempt fails the caller gets the last 5xx response, body included."""
    script.replies["/a"] = [Reply(500, b"one"), Reply(502, b"two"), Reply(504, b"three")]
    (response,) = run(mode, base, [("GET", "/a", {})], default=retry(VirtualClock()))
    assert [504, b"three", 3] == [status(response), response.content, script.hits("/a")]


def test_retry_after_seconds_is_honoured(mode: str, base: str, script: Script) -> None:
    """A 429 with Retry-After: 7 makes the retry wait 7 s instead of its backoff."""
    script.replies["/a"] = [Reply(429, headers=(("Retry-After", "7"),)), Reply(200)]
    clock = VirtualClock()
    (response,) = run(mode, base, [("GET", "/a", {})], default=retry(clock))
    assert [200, [7.0]] == [status(response), clock.sleeps]


@pytest.mark.parametrize("value", ["-3", "soon", "1e3", "9" * 40])
def test_garbage_retry_after_falls_back_to_backoff(
    mode: str, base: str, script: Script, value: str
) -> None:
    """Negative, non-numeric or absurdly long Retry-After values are ignored."""
    script.replies["/a"] = [Reply(503, headers=(("Retry-After", value),)), Reply(200)]
    clock = VirtualClock()
    (response,) = run(mode, base, [("GET", "/a", {})], default=retry(clock))
    assert [200, [0.5]] == [status(response), clock.sleeps]


def test_retry_after_beyond_the_cap_returns_the_response_at_once(
    mode: str, base: str, script: Script
) -> None:
    """A server asking for a wait past max_retry_after gets no retry: its 429 comes back."""
    script.replies["/a"] = [Reply(429, headers=(("Retry-After", "3600"),)), Reply(200)]
    clock = VirtualClock()
    (response,) = run(mode, base, [("GET", "/a", {})], default=retry(clock), max_retry_after=60.0)
    assert [429, [], 1] == [status(response), clock.sleeps, script.hits("/a")]


def test_post_is_not_retried(mode: str, base: str, script: Script) -> None:
    """A POST answered 503 is sent once and its response returned."""
    script.replies["/a"] = [Reply(503), Reply(200)]
    (response,) = run(
        mode, base, [("POST", "/a", {"content": b"x"})], default=retry(VirtualClock())
    )
    assert [503, 1] == [status(response), script.hits("/a")]


def test_post_is_never_resent_even_by_a_plain_retry(mode: str, base: str, script: Script) -> None:
    """A Retry without the retryable predicate still cannot send a POST twice."""
    script.replies["/a"] = [Reply(503), Reply(200)]
    plain = r.Retry(attempts=3, backoff=r.Backoff.constant(0.0), clock=VirtualClock())
    (response,) = run(mode, base, [("PATCH", "/a", {"content": b"x"})], default=plain)
    assert [503, 1] == [status(response), script.hits("/a")]


def test_post_with_idempotency_key_is_retried(mode: str, base: str, script: Script) -> None:
    """An Idempotency-Key header makes a POST safe to resend."""
    script.replies["/a"] = [Reply(503), Reply(200)]
    request = ("POST", "/a", {"content": b"x", "headers": {"Idempotency-Key": "k1"}})
    (response,) = run(mode, base, [request], default=retry(VirtualClock()))
    assert [200, 2] == [status(response), script.hits("/a")]
    assert [b"x", b"x"] == [s.body for s in script.seen]


def test_retry_non_idempotent_allows_resending_post(mode: str, base: str, script: Script) -> None:
    """retry_non_idempotent=True retries POSTs like GETs."""
    script.replies["/a"] = [Reply(503), Reply(200)]
    (response,) = run(
        mode,
        base,
        [("POST", "/a", {"content": b"x"})],
        default=retry(VirtualClock()),
        retry_non_idempotent=True,
    )
    assert [200, 2] == [status(response), script.hits("/a")]


def test_streamed_upload_is_not_resent(base: str, script: Script) -> None:
    """A PUT whose body is an iterator cannot be replayed, so it is sent once."""
    script.replies["/a"] = [Reply(503), Reply(200)]
    (response,) = run(
        "sync",
        base,
        [("PUT", "/a", {"content": iter([b"a", b"b"])})],
        default=retry(VirtualClock()),
    )
    assert [503, 1, b"ab"] == [status(response), script.hits("/a"), script.seen[0].body]


def breaker(clock: VirtualClock) -> r.CircuitBreaker:
    """A breaker opening after 3 failures out of 3 calls."""
    return r.CircuitBreaker(window=r.CountWindow(3), min_calls=3, open_for=60.0, clock=clock)


def test_breaker_opens_and_rejects_without_hitting_the_server(
    mode: str, base: str, script: Script
) -> None:
    """Three 503s open the breaker; the fourth request never reaches the server."""
    script.replies["/a"] = [Reply(503)]
    outcomes = run(mode, base, [("GET", "/a", {})] * 4, default=breaker(VirtualClock()))
    assert [503, 503, 503, "CircuitOpenError"] == [status(o) for o in outcomes]
    assert 3 == script.hits("/a")


def test_connection_refused_counts_for_the_breaker(mode: str) -> None:
    """Connect errors reach the caller as httpx errors and open the breaker."""
    outcomes = run(mode, refused_url(), [("GET", "/", {})] * 4, default=breaker(VirtualClock()))
    assert ["ConnectError"] * 3 + ["CircuitOpenError"] == [status(o) for o in outcomes]


def test_connection_refused_post_is_retried(mode: str) -> None:
    """A POST that never left (connection refused) is safe to retry."""
    clock = VirtualClock()
    (outcome,) = run(mode, refused_url(), [("POST", "/", {"content": b"x"})], default=retry(clock))
    assert ["ConnectError", [0.5, 0.5]] == [status(outcome), clock.sleeps]


def test_deadline_is_forwarded_and_caps_timeouts(mode: str, base: str, script: Script) -> None:
    """The remaining deadline goes out as Request-Timeout and caps every httpx timeout."""
    recorded: list[dict[str, Any]] = []
    with deadline_scope(5.0, VirtualClock()):
        run(
            mode,
            base,
            [("GET", "/a", {})],
            recorded=recorded,
            timeout=httpx.Timeout(30.0, connect=2.0),
            default=r.Pipeline(),
        )
    assert "5.000" == script.seen[0].headers["request-timeout"]
    assert [{"connect": 2.0, "read": 5.0, "write": 5.0, "pool": 5.0}] == recorded


def test_no_deadline_sends_no_header(mode: str, base: str, script: Script) -> None:
    """Without a reliant deadline the request goes out with its own timeouts only."""
    recorded: list[dict[str, Any]] = []
    run(mode, base, [("GET", "/a", {})], recorded=recorded, timeout=3.0)
    assert "request-timeout" not in script.seen[0].headers
    assert [{"connect": 3.0, "read": 3.0, "write": 3.0, "pool": 3.0}] == recorded


def test_passed_deadline_sends_nothing(mode: str, base: str, script: Script) -> None:
    """A deadline already passed fails the call with TimeoutExceeded before any I/O."""
    clock = VirtualClock()
    with deadline_scope(1.0, clock):
        clock.advance(2.0)
        (outcome,) = run(mode, base, [("GET", "/a", {})], default=breaker(clock))
    assert ["TimeoutExceeded", 0] == [status(outcome), script.hits("/a")]


def test_pipeline_is_chosen_per_route(mode: str, base: str, script: Script) -> None:
    """Only the route with a pipeline is retried; others go out as they are."""
    script.replies["/flaky/x"] = [Reply(503), Reply(200)]
    script.replies["/other"] = [Reply(503), Reply(200)]
    port = base.rsplit(":", 1)[1]
    outcomes = run(
        mode,
        base,
        [("GET", "/flaky/x", {}), ("GET", "/other", {})],
        pipelines={f"127.0.0.1:{port}/flaky": retry(VirtualClock())},
    )
    assert [200, 503] == [status(o) for o in outcomes]


def test_pipelines_from_specs_do_not_retry_post(mode: str, base: str, script: Script) -> None:
    """Spec-built retries get the retryable predicate: GET is retried, POST is not."""
    script.replies["/get"] = [Reply(503), Reply(200)]
    script.replies["/post"] = [Reply(503), Reply(200)]
    spec = [{"kind": "retry", "attempts": 3, "backoff": {"kind": "constant", "delay": "1s"}}]
    clock = VirtualClock()
    outcomes = run(
        mode,
        base,
        [("GET", "/get", {}), ("POST", "/post", {"content": b"x"})],
        pipelines={"127.0.0.1": spec},
        clock=clock,
    )
    assert [200, 503, [1.0]] == [*(status(o) for o in outcomes), clock.sleeps]


def test_streamed_success_body_is_passed_through(base: str, script: Script) -> None:
    """A successful response streams to the caller untouched by the pipeline."""
    script.replies["/big"] = [Reply(200, b"z" * 200_000)]
    transport = ReliantTransport(default=retry(VirtualClock()))
    client = httpx.Client(transport=transport, base_url=base)
    with client, client.stream("GET", "/big") as response:
        consumed_before = response.is_stream_consumed
        size = sum(len(chunk) for chunk in response.iter_bytes())
    assert [False, 200_000] == [consumed_before, size]


def _route(transport: ReliantTransport, url: str) -> str | None:
    chosen = transport._core.select(httpx.Request("GET", url))
    return chosen.name if chosen is not None else None


def test_most_specific_key_wins() -> None:
    """Port and path prefixes beat a bare host; unmatched hosts take the default."""
    transport = ReliantTransport(
        pipelines={
            "api.example": r.Pipeline(name="host"),
            "api.example:8443": r.Pipeline(name="port"),
            "api.example/v1": r.Pipeline(name="route"),
            "[::1]:9000": r.Pipeline(name="v6"),
        },
        default=r.Pipeline(name="default"),
    )
    cases = [
        "https://api.example/other",
        "https://api.example:8443/v1/x",
        "https://api.example/v1/charges",
        "https://api.example/v10",
        "http://[::1]:9000/",
        "https://else.example/",
    ]
    assert ["host", "port", "route", "host", "v6", "default"] == [
        _route(transport, url) for url in cases
    ]


def test_a_callable_chooses_the_pipeline() -> None:
    """A router callable picks per request; None falls back to the default."""
    pipeline = r.Pipeline(name="chosen")
    transport = ReliantTransport(
        pipelines=lambda req: pipeline if req.url.path.startswith("/pay") else None
    )
    assert ["chosen", None] == [
        _route(transport, "http://x/pay"),
        _route(transport, "http://x/other"),
    ]


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"max_retry_after": -1}, "max_retry_after"),
        ({"fail_on_status": [700]}, "fail_on_status"),
        ({"fail_on_status": 503}, "fail_on_status"),
        ({"deadline_header": ""}, "deadline_header"),
        ({"retry_non_idempotent": "yes"}, "retry_non_idempotent"),
        ({"pipelines": {"host:port": r.Pipeline()}}, "pipelines keys"),
        ({"pipelines": 3}, "pipelines must be"),
        ({"default": "retry"}, "pipeline 'default'"),
        ({"default": [{"kind": "nope"}]}, "kind"),
    ],
)
def test_invalid_options_are_refused(options: dict[str, Any], fragment: str) -> None:
    """Bad options raise ValueError at construction, naming the option."""
    with pytest.raises(ValueError, match=fragment):
        ReliantTransport(**options)


def test_parse_retry_after_forms() -> None:
    """Delta-seconds and HTTP-dates parse; past dates wait 0; garbage gives None."""
    now = 1_700_000_000.0
    later = email.utils.formatdate(now + 30, usegmt=True)
    earlier = email.utils.formatdate(now - 30, usegmt=True)
    values = ["120", " 1.5 ", later, earlier, "", "-1", "soon", "x" * 1000]
    assert [120.0, 1.5, 30.0, 0.0, None, None, None, None] == [
        parse_retry_after(v, now) for v in values
    ]


def test_retryable_predicate() -> None:
    """Failures are retryable by their flag; unsent errors always; sent ones by method."""
    get, post = httpx.Request("GET", "http://x/"), httpx.Request("POST", "http://x/")
    keyed = httpx.Request("POST", "http://x/", headers={"Idempotency-Key": "k"})
    response = httpx.Response(503)
    cases: list[BaseException] = [
        ResponseFailure(response, get, retry_after=None, retryable=True),
        ResponseFailure(response, post, retry_after=math.inf, retryable=False),
        httpx.ConnectError("refused", request=post),
        httpx.ReadError("reset", request=post),
        httpx.ReadError("reset", request=get),
        httpx.ReadError("reset", request=keyed),
        httpx.ReadError("no request"),
        ValueError("other"),
        KeyboardInterrupt(),
        ResendRefused(post),
        httpx.ConnectError("refused, no request"),
    ]
    assert [True, False, True, False, True, True, False, True, False, False, True] == [
        retryable(e) for e in cases
    ]


# -- a request that may not be resent goes out once; discarded responses are closed ---------


class _Body(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body that records how much was read and whether it was closed."""

    def __init__(self, chunks: list[bytes], error: Exception | None = None) -> None:
        self.chunks = chunks
        self.error = error
        self.yielded = 0
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.yielded += 1
            yield chunk
        if self.error is not None:
            raise self.error

    async def __aiter__(self) -> Any:
        for chunk in self:
            yield chunk

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


def mock_send(
    mode: str,
    clock: VirtualClock,
    pipeline: r.Policy,
    reply: Any,
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
    delays: list[float] | None = None,
) -> tuple[Outcome, list[_Body], int]:
    """Send one request through a mock server; return the outcome, bodies and sends.

    Each send waits its entry of ``delays`` (virtual seconds; the last repeats) before
    answering ``reply()`` (a status and a body stream).
    """
    bodies: list[_Body] = []
    sent: list[httpx.Request] = []
    waits = delays or [0.0]

    def answer() -> httpx.Response:
        status, body = reply()
        bodies.append(body)
        return httpx.Response(status, stream=body)

    def wait(request: httpx.Request) -> float:
        sent.append(request)
        return waits[min(len(sent) - 1, len(waits) - 1)]

    def handler(request: httpx.Request) -> httpx.Response:
        clock.advance(wait(request))
        return answer()

    async def ahandler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(wait(request))
        return answer()

    kwargs: dict[str, Any] = {"content": b"amount=100", "headers": headers or {}}
    url = "http://pay.internal/charge"
    outcome: Outcome
    if mode == "sync":
        transport = ReliantTransport(httpx.MockTransport(handler), default=pipeline)
        with httpx.Client(transport=transport) as client:
            try:
                outcome = client.request(method, url, **kwargs)
            except Exception as exc:
                outcome = exc
    else:

        async def main() -> Outcome:
            atransport = AsyncReliantTransport(httpx.MockTransport(ahandler), default=pipeline)
            async with httpx.AsyncClient(transport=atransport) as client:
                try:
                    return await client.request(method, url, **kwargs)
                except Exception as exc:
                    return exc

        outcome = clock.run(main())
    return outcome, bodies, len(sent)


def timeout_pipeline(clock: VirtualClock) -> r.Pipeline:
    """Retry three times around a 100 ms timeout."""
    return r.Pipeline(retry(clock, delay=0.01), r.Timeout(0.1, clock=clock))


def ok() -> tuple[int, _Body]:
    """A 200 with a small body."""
    return 200, _Body([b"ok"])


def test_post_is_not_resent_after_an_inner_timeout(mode: str) -> None:
    """A timed-out POST may have reached the server: the retry refuses to send it again."""
    clock = VirtualClock()
    outcome, _, sends = mock_send(mode, clock, timeout_pipeline(clock), ok, delays=[0.3])
    assert ["ResendRefused", 1] == [status(outcome), sends]


def test_get_is_resent_after_an_inner_timeout(mode: str) -> None:
    """An idempotent request times out three times and the last TimeoutExceeded is raised."""
    clock = VirtualClock()
    outcome, _, sends = mock_send(
        mode, clock, timeout_pipeline(clock), ok, method="GET", delays=[0.3]
    )
    assert ["TimeoutExceeded", 3] == [status(outcome), sends]


def test_post_whose_failure_body_breaks_is_not_resent(mode: str) -> None:
    """An error reading a 503's body is the request's failure: a POST is not sent again."""

    def broken() -> tuple[int, _Body]:
        return 503, _Body([b"partial"], httpx.ReadError("connection reset"))

    clock = VirtualClock()
    outcome, _, sends = mock_send(mode, clock, retry(clock), broken)
    assert isinstance(outcome, httpx.ReadError)
    assert ["POST", 1] == [outcome.request.method, sends]


def test_get_whose_failure_body_breaks_is_resent(mode: str) -> None:
    """The same broken 503 body on a GET is retried until attempts run out."""

    def broken() -> tuple[int, _Body]:
        return 503, _Body([b"partial"], httpx.ReadError("connection reset"))

    clock = VirtualClock()
    outcome, _, sends = mock_send(mode, clock, retry(clock), broken, method="GET")
    assert ["ReadError", 3] == [status(outcome), sends]


def test_hedge_sends_a_post_once() -> None:
    """A hedge of a POST refuses its extra attempts: one send, the primary's answer."""
    clock = VirtualClock()
    hedge = r.Hedge(delay=0.05, max_hedges=2, clock=clock)
    outcome, _, sends = mock_send("async", clock, hedge, ok, delays=[0.2])
    assert [200, 1] == [status(outcome), sends]


def test_hedge_of_a_failing_post_returns_the_primary_response() -> None:
    """When the only send of a hedged POST fails, its 503 comes back, sent once."""
    clock = VirtualClock()
    hedge = r.Hedge(delay=0.05, max_hedges=2, clock=clock)
    outcome, _, sends = mock_send(
        "async", clock, hedge, lambda: (503, _Body([b"down"])), delays=[0.2]
    )
    assert [503, b"down", 1] == [status(outcome), cast(httpx.Response, outcome).content, sends]


def test_hedge_with_idempotency_key_still_hedges() -> None:
    """A keyed POST may be resent, so the hedges go out."""
    clock = VirtualClock()
    hedge = r.Hedge(delay=0.05, max_hedges=2, clock=clock)
    outcome, _, sends = mock_send(
        "async", clock, hedge, ok, headers={"Idempotency-Key": "k1"}, delays=[0.2]
    )
    assert [200, 3] == [status(outcome), sends]


def test_late_responses_are_closed() -> None:
    """Responses arriving after a sync Timeout gave up on them are closed, not leaked."""
    clock = VirtualClock()
    outcome, bodies, _ = mock_send(
        "sync", clock, timeout_pipeline(clock), ok, method="GET", delays=[0.3, 0.3, 0.0]
    )
    assert [200, [True, True, True]] == [status(outcome), [b.closed for b in bodies]]


def test_hedge_losers_responses_are_closed() -> None:
    """Parallel hedges finishing together: the winner is returned, the others closed."""
    clock = VirtualClock()
    hedge = r.Hedge(delay=0.0, max_hedges=2, clock=clock)
    outcome, bodies, _ = mock_send("async", clock, hedge, ok, method="GET", delays=[0.1])
    assert [200, b"ok", [True, True, True]] == [
        status(outcome),
        cast(httpx.Response, outcome).content,
        [b.closed for b in bodies],
    ]


def test_failure_body_read_is_capped(mode: str) -> None:
    """Only FAILURE_BODY_LIMIT bytes of a huge 503 body are read; the caller gets them."""

    def huge() -> tuple[int, _Body]:
        return 503, _Body([b"x" * 1024] * 1024)

    clock = VirtualClock()
    outcome, bodies, _ = mock_send(mode, clock, r.Pipeline(), huge, method="GET")
    content = cast(httpx.Response, outcome).content
    assert [503, FAILURE_BODY_LIMIT, FAILURE_BODY_LIMIT // 1024, True] == [
        status(outcome),
        len(content),
        bodies[0].yielded,
        bodies[0].closed,
    ]
