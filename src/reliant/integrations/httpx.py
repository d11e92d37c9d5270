"""Outbound HTTP through reliant: httpx transports applying a pipeline per host or route.

::

    client = httpx.Client(transport=ReliantTransport(pipelines={
        "payments.internal": [{"kind": "retry", "attempts": 3},
                              {"kind": "circuit_breaker", "min_calls": 20}],
    }))

Inside the pipeline a 5xx or 429 response is a failure: it is raised as a
:class:`ResponseFailure` carrying the response (so breakers count it and retries
retry it), and when the pipeline gives up the caller gets that last response back, not
an exception. Transport errors (``httpx.TransportError``) are failures too and reach the
caller unchanged. Non-idempotent requests are never sent twice unless allowed (not by a
retry after a timeout, nor by a hedge); the current reliant deadline caps the request's
timeouts and is forwarded in a header. Every attempt's response that is not returned is
closed. See ``docs/httpx.md``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, cast

import httpx

from reliant._core.clock import Clock
from reliant.integrations._httpx_rules import (
    DEFAULT_DEADLINE_HEADER,
    DEFAULT_FAIL_ON_STATUS,
    DEFAULT_MAX_RETRY_AFTER,
    FAILURE_BODY_LIMIT,
    IDEMPOTENCY_KEY,
    IDEMPOTENT_METHODS,
    Call,
    Core,
    PipelineSpec,
    ResendRefused,
    ResponseFailure,
    Router,
    TransportOptions,
    parse_retry_after,
    request_retryable,
    retryable,
)

if TYPE_CHECKING:
    import random

__all__ = [
    "DEFAULT_DEADLINE_HEADER",
    "DEFAULT_FAIL_ON_STATUS",
    "DEFAULT_MAX_RETRY_AFTER",
    "FAILURE_BODY_LIMIT",
    "IDEMPOTENCY_KEY",
    "IDEMPOTENT_METHODS",
    "AsyncReliantTransport",
    "PipelineSpec",
    "ReliantTransport",
    "ResendRefused",
    "ResponseFailure",
    "Router",
    "TransportOptions",
    "parse_retry_after",
    "request_retryable",
    "retryable",
]


class ReliantTransport(httpx.BaseTransport):
    """An httpx transport sending each request through the pipeline for its host.

    Args:
        transport: the transport that sends requests (default ``httpx.HTTPTransport()``).
        pipelines: a mapping of ``"host"``, ``"host:port"`` or ``"host/path-prefix"`` to
            a pipeline (the most specific match wins), or a callable
            ``(request) -> Policy | None``. A pipeline is a reliant policy (usually a
            ``Pipeline``) or a list of policy specs, built with
            :func:`reliant.resilience.registry.build_pipeline` with :func:`retryable`
            as the default ``retry_on`` of its retries.
        default: the pipeline for requests no entry matches; ``None`` sends them as is.
        retry_non_idempotent: allow resending POST, PATCH and other non-idempotent
            requests without an ``Idempotency-Key`` header.
        max_retry_after: a ``Retry-After`` longer than this many seconds is not waited
            for: the response goes back to the caller at once.
        deadline_header: the header forwarding the remaining deadline in seconds, or
            ``None`` not to send one.
        fail_on_status: the statuses that count as failures (429 and 5xx).
        clock: the clock of pipelines built from specs.
        rng: the random source of pipelines built from specs.
    """

    __slots__ = ("_core", "_transport")

    def __init__(
        self,
        transport: httpx.BaseTransport | None = None,
        *,
        pipelines: Mapping[str, PipelineSpec] | Router | None = None,
        default: PipelineSpec | None = None,
        retry_non_idempotent: bool = False,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
        deadline_header: str | None = DEFAULT_DEADLINE_HEADER,
        fail_on_status: Iterable[int] = DEFAULT_FAIL_ON_STATUS,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        options = TransportOptions(
            retry_non_idempotent=retry_non_idempotent,
            max_retry_after=max_retry_after,
            deadline_header=deadline_header,
            fail_on_status=cast(frozenset[int], fail_on_status),
        )
        self._core = Core(pipelines, default, options, clock, rng)
        self._transport = transport if transport is not None else httpx.HTTPTransport()

    @property
    def options(self) -> TransportOptions:
        """The validated options."""
        return self._core.options

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through its pipeline; return the response.

        Raises:
            httpx.TransportError: the last transport error when the pipeline gives up.
            reliant.RejectedError: a policy refused the call (an open breaker, …).
            reliant.TimeoutExceeded: the current deadline passed.
            ResendRefused: a request that may not be resent was already sent and a
                policy asked for another attempt (after a timeout, or a hedge).
        """
        core = self._core
        call = core.begin(request)
        pipeline = core.select(request)
        if pipeline is None:
            core.before_attempt(call)
            return self._transport.handle_request(request)
        result: httpx.Response | None = None
        try:
            result = pipeline.call(self._attempt, call)
        except ResponseFailure as failure:
            if failure.request is not request:
                raise
            result = failure.response
        finally:
            call.done = True  # before the sweep: a late attempt then closes its own
            for response in call.responses:
                if response is not result:
                    _close(response)
        return result

    def _attempt(self, call: Call) -> httpx.Response:
        self._core.before_attempt(call)
        try:
            response = self._transport.handle_request(call.request)
        except httpx.TransportError as exc:
            exc.request = call.request
            self._core.not_sent(call, exc)
            raise
        call.responses.append(response)
        if call.done:  # a late attempt (hard Timeout): nobody will take this response
            _close(response)
            return response
        failure = self._core.classify(call, response)
        if failure is None:
            return response  # the body streams to the caller untouched
        try:
            _read_capped(response)  # frees the connection; the body stays for the caller
        except httpx.TransportError as exc:
            exc.request = call.request
            call.failure = exc
            raise
        call.failure = failure
        raise failure

    def close(self) -> None:
        """Close the wrapped transport."""
        self._transport.close()


class AsyncReliantTransport(httpx.AsyncBaseTransport):
    """An async httpx transport sending each request through the pipeline for its host.

    Takes the options of :class:`ReliantTransport`; ``transport`` defaults to
    ``httpx.AsyncHTTPTransport()``.
    """

    __slots__ = ("_core", "_transport")

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        pipelines: Mapping[str, PipelineSpec] | Router | None = None,
        default: PipelineSpec | None = None,
        retry_non_idempotent: bool = False,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
        deadline_header: str | None = DEFAULT_DEADLINE_HEADER,
        fail_on_status: Iterable[int] = DEFAULT_FAIL_ON_STATUS,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        options = TransportOptions(
            retry_non_idempotent=retry_non_idempotent,
            max_retry_after=max_retry_after,
            deadline_header=deadline_header,
            fail_on_status=cast(frozenset[int], fail_on_status),
        )
        self._core = Core(pipelines, default, options, clock, rng)
        self._transport = transport if transport is not None else httpx.AsyncHTTPTransport()

    @property
    def options(self) -> TransportOptions:
        """The validated options."""
        return self._core.options

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through its pipeline; return the response.

        Raises:
            httpx.TransportError: the last transport error when the pipeline gives up.
            reliant.RejectedError: a policy refused the call (an open breaker, …).
            reliant.TimeoutExceeded: the current deadline passed.
            ResendRefused: a request that may not be resent was already sent and a
                policy asked for another attempt (after a timeout, or a hedge).
        """
        core = self._core
        call = core.begin(request)
        pipeline = core.select(request)
        if pipeline is None:
            core.before_attempt(call)
            return await self._transport.handle_async_request(request)
        result: httpx.Response | None = None
        try:
            result = await pipeline.acall(self._attempt, call)
        except ResponseFailure as failure:
            if failure.request is not request:
                raise
            result = failure.response
        finally:
            call.done = True
            for response in call.responses:
                if response is not result:
                    await _aclose(response)
        return result

    async def _attempt(self, call: Call) -> httpx.Response:
        self._core.before_attempt(call)
        try:
            response = await self._transport.handle_async_request(call.request)
        except httpx.TransportError as exc:
            exc.request = call.request
            self._core.not_sent(call, exc)
            raise
        call.responses.append(response)
        if call.done:
            await _aclose(response)
            return response
        failure = self._core.classify(call, response)
        if failure is None:
            return response  # the body streams to the caller untouched
        try:
            await _aread_capped(response)  # frees the connection; the body stays
        except httpx.TransportError as exc:
            exc.request = call.request
            call.failure = exc
            raise
        call.failure = failure
        raise failure

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self._transport.aclose()


def _read_capped(response: httpx.Response) -> None:
    """Read at most :data:`FAILURE_BODY_LIMIT` bytes of ``response``'s body, then close it.

    The body read stays on the response (``response.content``) for the caller; a longer
    body is cut there and its connection closed instead of drained.
    """
    stream = response.stream
    if response.is_stream_consumed:  # read already (a mock, a test double)
        return
    if not isinstance(stream, httpx.SyncByteStream):
        response.read()  # not a transport's stream: nothing to cap
        return
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in stream:
            chunks.append(chunk)
            size += len(chunk)
            if size >= FAILURE_BODY_LIMIT:
                break
    finally:
        stream.close()
    response.stream = httpx.ByteStream(b"".join(chunks)[:FAILURE_BODY_LIMIT])
    response.read()


async def _aread_capped(response: httpx.Response) -> None:
    """Async :func:`_read_capped`."""
    stream = response.stream
    if response.is_stream_consumed:  # read already (a mock, a test double)
        return
    if not isinstance(stream, httpx.AsyncByteStream):
        await response.aread()
        return
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in stream:
            chunks.append(chunk)
            size += len(chunk)
            if size >= FAILURE_BODY_LIMIT:
                break
    finally:
        await stream.aclose()
    response.stream = httpx.ByteStream(b"".join(chunks)[:FAILURE_BODY_LIMIT])
    await response.aread()


def _close(response: httpx.Response) -> None:
    """Close a response nobody will read; an error doing so is not the caller's."""
    with contextlib.suppress(Exception):  # the connection is dropped either way
        response.close()


async def _aclose(response: httpx.Response) -> None:
    """Async :func:`_close`."""
    with contextlib.suppress(Exception):
        await response.aclose()
