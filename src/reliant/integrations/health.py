"""Health endpoints: ``/livez`` and ``/readyz`` in the shape Kubernetes probes expect.

``/livez`` answers 200 while the process serves. ``/readyz`` answers 200 when every
registered circuit breaker lets calls through and every dependency check passes, and
503 otherwise; a check fails when it raises, returns ``False`` or runs past its
timeout. Both answer JSON: ``{"status": "ok" | "fail", "checks": {name: {...}}}``.

Each check runs at most once at a time (a probe arriving while it runs waits for that
run instead of starting another, so a hung check holds one thread, not one per probe)
and its outcome is reused for ``cache`` seconds; breakers and draining are read afresh
on every probe.

Both middlewares mount a :class:`Health` (``health=``); the probes need no token and
pass neither the rate limiter nor load shedding.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from reliant._core import validate
from reliant._core.clock import MONOTONIC, Clock

if TYPE_CHECKING:
    from reliant.resilience.circuit_breaker import CircuitBreaker

DEFAULT_LIVEZ_PATH = "/livez"
DEFAULT_READYZ_PATH = "/readyz"
#: Seconds a dependency check may run before it counts as failed.
DEFAULT_CHECK_TIMEOUT = 1.0
#: Seconds a check's outcome is reused by later probes before the check runs again.
DEFAULT_CHECK_CACHE = 1.0
#: Breaker states (``CircuitState`` values) in which the service is not ready.
NOT_READY_STATES = frozenset({"open", "forced_open"})

#: A dependency check: sync or async, passing unless it raises or returns ``False``.
Check = Callable[[], Any] | Callable[[], Awaitable[Any]]
#: One check's outcome: passed, and why not.
_Result = tuple[bool, str]


class _Run:
    """One run of one check, which every probe arriving meanwhile shares."""

    __slots__ = ("abandoned", "done", "finished", "outcome", "started", "waiters")

    def __init__(self, started: float) -> None:
        self.started = started
        self.finished = 0.0
        #: ``None`` once done: the check timed out (async checks are cancelled).
        self.outcome: _Result | None = None
        self.done = threading.Event()
        #: A probe gave up waiting: later probes report it still running, at once.
        self.abandoned = False
        #: Called once the run is done (async probes waiting on a thread's run).
        self.waiters: list[Callable[[], None]] = []


def _body(results: dict[str, dict[str, str]]) -> tuple[int, bytes]:
    ok = all(r["status"] == "ok" for r in results.values())
    body = {"status": "ok" if ok else "fail", "checks": results}
    return (200 if ok else 503), json.dumps(body, separators=(",", ":")).encode()


def _judge(result: object) -> _Result:
    return (False, "returned False") if result is False else (True, "")


def _run_sync(check: Check) -> _Result:
    """Run a check to completion on the calling thread (an async one on its own loop)."""
    try:
        result = check()
        if inspect.isawaitable(result):
            import asyncio

            async def wait() -> Any:
                return await result

            result = asyncio.run(wait())
    except Exception as exc:  # the check's failure is the answer, not an error
        return False, f"raised {type(exc).__name__}"
    return _judge(result)


class Health:
    """Liveness and readiness of a service, served by the reliant middlewares.

    Args:
        livez_path: the liveness path (default ``/livez``).
        readyz_path: the readiness path (default ``/readyz``).
        timeout: seconds each dependency check may take (default 1.0), real time.
        cache: seconds a check's outcome is reused before the check runs again
            (default 1.0; 0 runs the checks on every probe that finds them idle).
        breakers: circuit breakers whose OPEN or FORCED_OPEN state fails readiness.
        checks: named dependency checks, sync or async callables.
        clock: the time source of ``cache`` and of the check timeouts (monotonic).

    Raises:
        ValueError: on an invalid option.
    """

    __slots__ = (
        "_breakers",
        "_checks",
        "_lock",
        "_now",
        "_runs",
        "cache",
        "draining",
        "livez_path",
        "readyz_path",
        "timeout",
    )

    def __init__(
        self,
        *,
        livez_path: str = DEFAULT_LIVEZ_PATH,
        readyz_path: str = DEFAULT_READYZ_PATH,
        timeout: float = DEFAULT_CHECK_TIMEOUT,
        cache: float = DEFAULT_CHECK_CACHE,
        breakers: tuple[CircuitBreaker, ...] | list[CircuitBreaker] = (),
        checks: dict[str, Check] | None = None,
        clock: Clock | None = None,
    ) -> None:
        for option, path in (("livez_path", livez_path), ("readyz_path", readyz_path)):
            if not isinstance(path, str) or not path.startswith("/"):
                raise ValueError(f"Health: {option} must be a path starting with '/', got {path!r}")
        if livez_path == readyz_path:
            raise ValueError(f"Health: livez_path and readyz_path must differ, got {livez_path!r}")
        self.livez_path = livez_path
        self.readyz_path = readyz_path
        self.timeout = validate.positive("Health", "timeout", timeout)
        self.cache = validate.non_negative("Health", "cache", cache)
        self._now = (MONOTONIC if clock is None else clock).now
        self._lock = threading.Lock()
        self._runs: dict[str, _Run] = {}
        self._breakers: dict[str, CircuitBreaker] = {}
        self._checks: dict[str, tuple[Check, bool]] = {}
        #: Set by :meth:`drain`: readiness fails so that traffic moves away before exit.
        self.draining = False
        for breaker in breakers:
            self.add_breaker(breaker)
        for name, check in (checks or {}).items():
            self.add_check(name, check)

    def add_breaker(self, breaker: CircuitBreaker, name: str | None = None) -> None:
        """Fail readiness while ``breaker`` is OPEN or FORCED_OPEN.

        Args:
            breaker: the breaker to watch.
            name: its name in the answer; ``breaker:<breaker.name>`` by default.
        """
        from reliant.resilience.circuit_breaker import CircuitBreaker

        if not isinstance(breaker, CircuitBreaker):
            raise ValueError(f"Health: breaker must be a reliant.CircuitBreaker, got {breaker!r}")
        self._breakers[name or f"breaker:{breaker.name}"] = breaker

    def add_check(self, name: str, check: Check) -> None:
        """Fail readiness while ``check()`` raises, returns ``False`` or runs too long."""
        if not callable(check):
            raise ValueError(f"Health: check {name!r} must be callable, got {check!r}")
        self._checks[name] = (check, inspect.iscoroutinefunction(check))
        with self._lock:
            self._runs.pop(name, None)  # a replaced check's outcome is not reused

    def drain(self) -> None:
        """Fail readiness from now on (call on SIGTERM, before the server stops)."""
        self.draining = True

    # -- answers ------------------------------------------------------------------------

    def livez(self) -> tuple[int, bytes]:
        """The liveness answer: always 200 while the process can answer at all."""
        return _body({})

    def _breaker_results(self) -> dict[str, dict[str, str]]:
        results: dict[str, dict[str, str]] = {}
        if self.draining:
            results["draining"] = {"status": "fail", "reason": "the service is shutting down"}
        for name, breaker in self._breakers.items():
            state = breaker.state.value
            status = "fail" if state in NOT_READY_STATES else "ok"
            results[name] = {"status": status, "state": state}
        return results

    # -- running the checks: one run at a time per check, reused for `cache` seconds --

    def _claim(self, name: str, now: float) -> tuple[_Run, bool]:
        """Return the run answering check ``name`` now, and whether the caller starts it."""
        with self._lock:
            run = self._runs.get(name)
            if run is not None and (not run.done.is_set() or now - run.finished < self.cache):
                return run, False
            run = self._runs[name] = _Run(now)
            return run, True

    def _finish(self, run: _Run, outcome: _Result | None) -> None:
        with self._lock:
            run.outcome = outcome
            run.finished = self._now()
            run.done.set()
            waiters, run.waiters = run.waiters, []
        for wake in waiters:
            wake()

    def _start_thread(self, run: _Run, check: Check) -> None:
        def target() -> None:
            outcome: _Result = (False, "interrupted")
            try:
                outcome = _run_sync(check)
            finally:
                self._finish(run, outcome)

        threading.Thread(target=target, daemon=True).start()

    def _left(self, run: _Run) -> float:
        return max(0.0, run.started + self.timeout - self._now())

    def _result(self, run: _Run) -> dict[str, str]:
        """The answer for a run after the probe waited what it could."""
        if not run.done.is_set():
            if run.abandoned:
                return {"status": "fail", "reason": f"still running after {self.timeout:g}s"}
            run.abandoned = True
            return {"status": "fail", "reason": f"timed out after {self.timeout:g}s"}
        if run.outcome is None:
            return {"status": "fail", "reason": f"timed out after {self.timeout:g}s"}
        ok, reason = run.outcome
        return {"status": "ok"} if ok else {"status": "fail", "reason": reason}

    def readyz(self) -> tuple[int, bytes]:
        """The readiness answer; each check due to run runs on a daemon thread.

        A check still running when this probe arrives is waited for (up to its
        timeout), not started again; one past its timeout fails readiness at once
        ("still running") while its thread runs on.
        """
        now = self._now()
        runs: dict[str, _Run] = {}
        for name, (check, _) in self._checks.items():
            run, start = self._claim(name, now)
            if start:
                self._start_thread(run, check)
            runs[name] = run
        results = self._breaker_results()
        for name, run in runs.items():
            if not run.done.is_set() and not run.abandoned:
                run.done.wait(self._left(run))
            results[name] = self._result(run)
        return _body(results)

    async def areadyz(self) -> tuple[int, bytes]:
        """The readiness answer without blocking the event loop.

        Async checks run on the loop (cancelled at their timeout); sync ones on daemon
        threads. Runs are shared and reused as by :meth:`readyz`.
        """
        import asyncio

        loop = asyncio.get_running_loop()
        now = self._now()

        async def run_async(run: _Run, check: Check) -> None:
            outcome: _Result | None = (False, "interrupted")
            try:
                async with asyncio.timeout(self.timeout):
                    outcome = _judge(await check())
            except TimeoutError:
                outcome = None
            except Exception as exc:  # the check's failure is the answer
                outcome = False, f"raised {type(exc).__name__}"
            finally:
                self._finish(run, outcome)

        async def wait(run: _Run) -> None:
            future: asyncio.Future[None] = loop.create_future()

            def wake() -> None:
                # RuntimeError: the loop closed while the check hung, and nobody waits.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(
                        lambda: None if future.done() else future.set_result(None)
                    )

            with self._lock:
                if run.done.is_set():
                    return
                run.waiters.append(wake)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._left(run)):
                    await future

        async def one(name: str, check: Check, is_async: bool) -> dict[str, str]:
            run, start = self._claim(name, now)
            if start and is_async:
                await run_async(run, check)
            elif start:
                self._start_thread(run, check)
            if not run.done.is_set() and not run.abandoned:
                await wait(run)
            return self._result(run)

        names = list(self._checks)
        answers = await asyncio.gather(*(one(name, *self._checks[name]) for name in names))
        results = self._breaker_results()
        results.update(zip(names, answers, strict=True))
        return _body(results)
