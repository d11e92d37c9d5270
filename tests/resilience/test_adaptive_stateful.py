"""Hypothesis state machines: AdaptiveLimit's admission and accounting under any schedule.

Real asyncio calls run on a virtual-time loop; each call waits on an event the machine
controls, so calls overlap in any order the machine chooses.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from reliant.exceptions import ConcurrencyLimitError
from reliant.resilience.adaptive import AdaptiveLimit
from reliant.testing import VirtualClock


class Overloaded(TimeoutError):
    """A call the dependency dropped (counts as a drop: TimeoutError is in drop_on)."""


class AdaptiveLimitMachine(RuleBasedStateMachine):
    """Admission follows the limit, inflight counts open calls, the limit stays in bounds."""

    algorithm = "aimd"
    bounds = (2, 12)

    @initialize()
    def start(self) -> None:
        self.clock = VirtualClock()
        self.loop = self.clock.new_event_loop()
        low, high = self.bounds
        self.policy = AdaptiveLimit(
            algorithm=self.algorithm,
            initial=low + 2,
            min_limit=low,
            max_limit=high,
            clock=self.clock,
        )
        self.open: list[tuple[asyncio.Task[Any], asyncio.Future[str]]] = []
        self.rejected = 0

    def teardown(self) -> None:
        for _task, gate in self.open:
            if not gate.done():
                gate.set_result("done")
        self._settle()
        self.loop.close()

    def _settle(self) -> None:
        for _ in range(3):
            self.loop.run_until_complete(asyncio.sleep(0))

    @rule()
    def call_arrives(self) -> None:
        """A new call is admitted exactly when inflight < limit."""
        before_inflight, limit = self.policy.inflight, self.policy.limit
        gate: asyncio.Future[str] = self.loop.create_future()

        async def dependency() -> str:
            return await gate

        task = self.loop.create_task(self.policy.acall(dependency))
        self._settle()
        if before_inflight < limit:
            assert not task.done()
            self.open.append((task, gate))
        else:
            assert task.done()
            assert isinstance(task.exception(), ConcurrencyLimitError)
            self.rejected += 1

    @precondition(lambda self: self.open)
    @rule(index=st.integers(min_value=0), seconds=st.floats(0.0, 10.0), dropped=st.booleans())
    def call_finishes(self, index: int, seconds: float, dropped: bool) -> None:
        """Any open call may finish, after any time, well or dropped."""
        task, gate = self.open.pop(index % len(self.open))
        self.clock.advance(seconds)
        if dropped:
            gate.set_exception(Overloaded())
        else:
            gate.set_result("ok")
        self._settle()
        assert task.done()
        if dropped:
            assert isinstance(task.exception(), Overloaded)
        else:
            assert "ok" == task.result()

    @invariant()
    def inflight_counts_the_open_calls(self) -> None:
        assert len(self.open) == self.policy.inflight

    @invariant()
    def limit_stays_within_bounds(self) -> None:
        low, high = self.bounds
        assert low <= self.policy.limit <= high


class Gradient2Machine(AdaptiveLimitMachine):
    algorithm = "gradient2"


class VegasMachine(AdaptiveLimitMachine):
    algorithm = "vegas"


_SETTINGS = settings(max_examples=40, stateful_step_count=40, deadline=None)
for _machine in (AdaptiveLimitMachine, Gradient2Machine, VegasMachine):
    _machine.TestCase.settings = _SETTINGS

TestAIMD = AdaptiveLimitMachine.TestCase
TestGradient2 = Gradient2Machine.TestCase
TestVegas = VegasMachine.TestCase
