"""Pipeline: compose policies, outermost first, into one policy.

``Pipeline(Timeout(2), Retry(), CircuitBreaker())`` runs the call inside the breaker,
inside the retry loop, inside the timeout. The chain of stages is built once at
construction; a call passes ``(fn, args, kwargs)`` down it with no closure per call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from reliant._core.clock import Clock
from reliant._core.policy import NO_KWARGS, Args, Kwargs, P, Policy, R

Stage = Callable[[Callable[..., Any], Args, Kwargs], Any]


def _call(fn: Callable[..., Any], args: Args, kwargs: Kwargs) -> Any:
    return fn(*args, **kwargs)


def _link(run: Callable[[Callable[..., Any], Args, Kwargs], Any], inner: Stage) -> Stage:
    """Return a stage that runs ``inner`` under the policy driver ``run``."""

    def stage(fn: Callable[..., Any], args: Args, kwargs: Kwargs) -> Any:
        return run(inner, (fn, args, kwargs), NO_KWARGS)

    return stage


class Pipeline(Policy):
    """Several policies applied as one, the first given being the outermost.

    Args:
        *policies: the policies, outermost first; pipelines nest.
        name: the pipeline's name.
        clock: unused by the pipeline itself (each policy has its own); accepted so
            every policy takes the same options.
    """

    __slots__ = ("_aentry", "_entry", "policies")

    def __init__(self, *policies: Policy, name: str = "", clock: Clock | None = None) -> None:
        super().__init__(name=name, clock=clock)
        for position, policy in enumerate(policies):
            if not isinstance(policy, Policy):
                raise ValueError(
                    f"Pipeline: argument {position} must be a reliant policy "
                    f"(Retry, CircuitBreaker, …), got {policy!r}"
                )
        self.policies: tuple[Policy, ...] = policies
        entry: Stage = _call
        aentry: Stage = _call  # the innermost async stage returns the user's awaitable
        if policies:
            # The innermost policy calls the user's function itself: no stage needed.
            entry, aentry = policies[-1]._run, policies[-1]._arun
        for policy in reversed(policies[:-1]):
            entry = _link(policy._run, entry)
            aentry = _link(policy._arun, aentry)
        self._entry = entry
        self._aentry = aentry

    def _run(self, fn: Callable[..., Any], args: Args, kwargs: Kwargs) -> Any:
        return self._entry(fn, args, kwargs)

    def call(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call ``fn(*args, **kwargs)`` through every policy and return its result."""
        return self._entry(fn, args, kwargs)  # type: ignore[no-any-return]

    async def _arun(self, fn: Callable[..., Awaitable[Any]], args: Args, kwargs: Kwargs) -> Any:
        return await self._aentry(fn, args, kwargs)

    def __iter__(self) -> Iterator[Policy]:
        return iter(self.policies)

    def __len__(self) -> int:
        return len(self.policies)

    def describe(self) -> dict[str, Any]:
        """Return kind, name and the description of each policy, outermost first."""
        return {
            "kind": "Pipeline",
            "name": self.name,
            "policies": [dict(p.describe()) for p in self.policies],
        }

    def __repr__(self) -> str:
        inner = ", ".join(repr(p) for p in self.policies)
        return f"Pipeline({inner}, name={self.name!r})"
