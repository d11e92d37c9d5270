"""Health endpoints: ``/livez`` and ``/readyz`` in the shape Kubernetes probes expect.

``/livez`` answers 200 while the process serves. ``/readyz`` answers 200 when every
registered circuit breaker lets calls through and every dependency check passes, and
503 otherwise; a check fails when it raises, returns ``False`` or runs past its
timeout. Both answer JSON: ``{"status": "ok" | "fail", "checks": {name: {...}}}``.

Both middlewares mount a :class:`Health` (``health=``); the probes need no token and
pass neither the rate limiter nor load shedding.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from reliant._core import validate

if TYPE_CHECKING:
    from reliant.resilience.circuit_breaker import CircuitBreaker

DEFAULT_LIVEZ_PATH = "/livez"
DEFAULT_READYZ_PATH = "/readyz"
#: Seconds a dependency check may run before it counts as failed.
DEFAULT_CHECK_TIMEOUT = 1.0
#: Breaker states (``CircuitState`` values) in which the service is not ready.
NOT_READY_STATES = frozenset({"open", "forced_open"})

#: A dependency check: sync or async, passing unless it raises or returns ``False``.
Check = Callable[[], Any] | Callable[[], Awaitable[Any]]
#: One check's outcome: passed, and why not.
_Result = tuple[bool, str]


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
        breakers: circuit breakers whose OPEN or FORCED_OPEN state fails readiness.
        checks: named dependency checks, sync or async callables.

    Raises:
        ValueError: on an invalid option.
    """

    __slots__ = ("_breakers", "_checks", "draining", "livez_path", "readyz_path", "timeout")

    def __init__(
        self,
        *,
        livez_path: str = DEFAULT_LIVEZ_PATH,
        readyz_path: str = DEFAULT_READYZ_PATH,
        timeout: float = DEFAULT_CHECK_TIMEOUT,
        breakers: tuple[CircuitBreaker, ...] | list[CircuitBreaker] = (),
        checks: dict[str, Check] | None = None,
    ) -> None:
        for option, path in (("livez_path", livez_path), ("readyz_path", readyz_path)):
            if not isinstance(path, str) or not path.startswith("/"):
                raise ValueError(f"Health: {option} must be a path starting with '/', got {path!r}")
        if livez_path == readyz_path:
            raise ValueError(f"Health: livez_path and readyz_path must differ, got {livez_path!r}")
        self.livez_path = livez_path
        self.readyz_path = readyz_path
        self.timeout = validate.positive("Health", "timeout", timeout)
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

    def _result(self, outcome: _Result | None) -> dict[str, str]:
        if outcome is None:
            return {"status": "fail", "reason": f"timed out after {self.timeout:g}s"}
        ok, reason = outcome
        return {"status": "ok"} if ok else {"status": "fail", "reason": reason}

    def readyz(self) -> tuple[int, bytes]:
        """The readiness answer, running every check on its own daemon thread.

        A check that hangs is abandoned at its timeout (its thread runs on).
        """
        results = self._breaker_results()
        outcomes: dict[str, _Result] = {}

        def run(name: str, check: Check) -> None:
            outcomes[name] = _run_sync(check)

        threads = []
        for name, (check, _) in self._checks.items():
            thread = threading.Thread(target=run, args=(name, check), daemon=True)
            thread.start()
            threads.append(thread)
        deadline = time.monotonic() + self.timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for name in self._checks:
            results[name] = self._result(outcomes.get(name))
        return _body(results)

    async def areadyz(self) -> tuple[int, bytes]:
        """The readiness answer without blocking the event loop.

        Async checks run on the loop; sync ones on daemon threads.
        """
        import asyncio

        loop = asyncio.get_running_loop()

        async def run(check: Check, is_async: bool) -> _Result | None:
            if is_async:
                try:
                    async with asyncio.timeout(self.timeout):
                        return _judge(await check())
                except TimeoutError:
                    return None
                except Exception as exc:  # the check's failure is the answer
                    return False, f"raised {type(exc).__name__}"
            future: asyncio.Future[_Result] = loop.create_future()

            def target() -> None:
                outcome = _run_sync(check)
                # RuntimeError: the loop closed while the check hung, and nobody waits.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(
                        lambda: None if future.done() else future.set_result(outcome)
                    )

            threading.Thread(target=target, daemon=True).start()
            try:
                async with asyncio.timeout(self.timeout):
                    return await future
            except TimeoutError:
                return None

        names = list(self._checks)
        outcomes = await asyncio.gather(*(run(*self._checks[name]) for name in names))
        results = self._breaker_results()
        for name, outcome in zip(names, outcomes, strict=True):
            results[name] = self._result(outcome)
        return _body(results)
