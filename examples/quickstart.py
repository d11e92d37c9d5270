"""A flaky dependency behind a reliant pipeline, sync and asyncio.

Run it with ``uv run python examples/quickstart.py``. The dependency fails 20 % of calls;
the pipeline retries with jittered backoff, trips its breaker when failures pile up,
and falls back to a cached answer instead of failing the caller.
"""

from __future__ import annotations

import asyncio
import random

import reliant as r

rng = random.Random(7)


class PriceServiceError(ConnectionError):
    """The dependency failed."""


def fetch_price(sku: str) -> float:
    """A dependency that fails 20 % of the time."""
    if rng.random() < 0.2:
        raise PriceServiceError(f"price service unavailable for {sku}")
    return 9.99


async def fetch_price_async(sku: str) -> float:
    await asyncio.sleep(0.001)
    return fetch_price(sku)


def pricing_pipeline() -> r.Pipeline:
    return r.Pipeline(
        r.Fallback(value=0.0, on=(r.CircuitOpenError, PriceServiceError)),  # outermost
        r.Timeout(1.0),
        r.Retry(attempts=3, backoff=r.Backoff.exponential(initial=0.001, max=0.01)),
        r.CircuitBreaker(failure_rate=0.5, window=r.CountWindow(50), min_calls=20, open_for=5.0),
        name="pricing",
    )


def main() -> None:
    transitions: list[str] = []
    with r.subscribe(
        lambda e: transitions.append(f"{e.attributes['from_state']}->{e.attributes['to_state']}"),
        kinds=["circuit_breaker.state_changed"],
    ):
        pricing = pricing_pipeline()
        prices = [pricing.call(fetch_price, f"sku-{i}") for i in range(50)]
        served = sum(1 for p in prices if p > 0)
        print(f"sync:  {served}/50 real prices, {50 - served} fallbacks")

        @pricing_pipeline()
        async def price(sku: str) -> float:
            return await fetch_price_async(sku)

        async def run() -> list[float]:
            return await asyncio.gather(*(price(f"sku-{i}") for i in range(50)))

        aprices = asyncio.run(run())
        served = sum(1 for p in aprices if p > 0)
        print(f"async: {served}/50 real prices, {50 - served} fallbacks")
    print("breaker transitions:", ", ".join(transitions) or "none")


if __name__ == "__main__":
    main()
