"""Type-checked by tests/typing/test_signatures.py; never run."""

from __future__ import annotations

from typing import reveal_type

from reliant.faults.fault import Fault
from reliant.resilience.pipeline import Pipeline
from reliant.resilience.retry import Retry


@Retry(attempts=3)
def add(a: int, b: int = 1) -> int:
    return a + b


@Pipeline(Retry(), Fault())
async def fetch(url: str, *, retries: int = 1) -> bytes:
    return url.encode()


reveal_type(add)
reveal_type(fetch)
reveal_type(Retry().call(add, 1, b=2))
add("one")
