"""Backoff schedules: how long to wait before each retry.

Formulas follow the AWS Architecture Blog's "Exponential Backoff and Jitter"
(reference/resilience.md §3). Retry ``n`` is 1-based: the wait after the first
failed attempt uses ``n = 1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from reliant._core import validate

if TYPE_CHECKING:
    import random

Jitter = Literal["none", "full", "equal"]
Kind = Literal["constant", "linear", "exponential", "decorrelated"]

#: Defaults of :meth:`Backoff.exponential`.
DEFAULT_INITIAL = 0.1
DEFAULT_MULTIPLIER = 2.0
DEFAULT_MAX = 10.0
JITTERS = ("none", "full", "equal")
KINDS = ("constant", "linear", "exponential", "decorrelated")


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """A delay schedule; build one with the class methods, not the constructor.

    Attributes:
        kind: ``constant``, ``linear``, ``exponential`` or ``decorrelated``.
        initial: the first delay (the constant delay for ``constant``), seconds.
        multiplier: growth factor of ``exponential``.
        step: increment per retry of ``linear``.
        max: cap on any computed delay, seconds (``None``: uncapped).
        jitter: ``none``, ``full`` (uniform in [0, d]) or ``equal`` (d/2 + uniform in [0, d/2]).
    """

    kind: Kind
    initial: float
    multiplier: float = 1.0
    step: float = 0.0
    max: float | None = None
    jitter: Jitter = "none"

    def __post_init__(self) -> None:
        owner = f"Backoff.{self.kind}"
        validate.one_of(owner, "kind", self.kind, KINDS)
        # Stored as floats so every delay (and every event attribute) is a float.
        # Backoff.constant() calls its first delay "delay": report it by that name.
        first = "delay" if self.kind == "constant" else "initial"
        initial = validate.non_negative(owner, first, self.initial)
        object.__setattr__(self, "initial", initial)
        object.__setattr__(self, "step", validate.non_negative(owner, "step", self.step))
        multiplier = validate.number(owner, "multiplier", self.multiplier)
        if not 1.0 <= multiplier < math.inf:
            raise ValueError(
                f"{owner}: multiplier must be a finite number >= 1, got {self.multiplier!r}"
            )
        object.__setattr__(self, "multiplier", multiplier)
        if self.max is not None:
            cap = validate.non_negative(owner, "max", self.max)
            if cap < initial:
                raise ValueError(f"{owner}: max must be >= {first} ({initial!r}), got {self.max!r}")
            object.__setattr__(self, "max", cap)
        validate.one_of(owner, "jitter", self.jitter, JITTERS)
        if self.kind == "decorrelated" and self.jitter != "none":
            raise ValueError(
                f"{owner}: jitter must be 'none' (decorrelated is random by construction), "
                f"got {self.jitter!r}"
            )

    @classmethod
    def constant(cls, delay: float, *, jitter: Jitter = "none") -> Backoff:
        """Wait ``delay`` seconds before every retry."""
        return cls(kind="constant", initial=delay, jitter=jitter)

    @classmethod
    def linear(
        cls, initial: float, step: float, *, max: float | None = None, jitter: Jitter = "none"
    ) -> Backoff:
        """Wait ``initial + step·(n − 1)`` seconds before retry ``n``, capped at ``max``."""
        return cls(kind="linear", initial=initial, step=step, max=max, jitter=jitter)

    @classmethod
    def exponential(
        cls,
        initial: float = DEFAULT_INITIAL,
        multiplier: float = DEFAULT_MULTIPLIER,
        max: float | None = DEFAULT_MAX,
        jitter: Jitter = "full",
    ) -> Backoff:
        """Wait ``min(max, initial·multiplier^(n − 1))``, full-jittered by default."""
        return cls(
            kind="exponential", initial=initial, multiplier=multiplier, max=max, jitter=jitter
        )

    @classmethod
    def decorrelated(cls, initial: float = DEFAULT_INITIAL, max: float = DEFAULT_MAX) -> Backoff:
        """AWS decorrelated jitter: ``min(max, uniform(initial, 3·previous))``."""
        return cls(kind="decorrelated", initial=initial, max=max)

    def delay(self, retry: int, previous: float, rng: random.Random) -> float:
        """Return the wait before retry number ``retry`` (1-based).

        Args:
            retry: 1 for the first retry, 2 for the second…
            previous: the delay returned for the previous retry (0.0 before the first).
            rng: the random source for jitter.
        """
        kind = self.kind
        if kind == "decorrelated":
            upper = 3.0 * (previous if previous > 0 else self.initial)
            d = rng.uniform(self.initial, max(self.initial, upper))
            return d if self.max is None or d < self.max else self.max
        if kind == "exponential":
            try:
                d = self.initial * self.multiplier ** (retry - 1)
            except OverflowError:
                d = math.inf if self.initial > 0 else 0.0
        elif kind == "linear":
            d = self.initial + self.step * (retry - 1)
        else:
            d = self.initial
        if self.max is not None and d > self.max:
            d = self.max
        if self.jitter == "full":
            return rng.uniform(0.0, d)
        if self.jitter == "equal":
            return d / 2.0 + rng.uniform(0.0, d / 2.0)
        return d
