"""Events: every state change and outcome of a policy, delivered to subscribers.

With no subscriber the hot path pays one attribute test (``if BUS.active``); the
:class:`Event` object is only built when someone listens.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType
from typing import Any

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened in a policy.

    Attributes:
        kind: dotted name, e.g. ``"circuit_breaker.state_changed"`` or ``"retry.retrying"``.
        policy: the ``name=`` of the policy that emitted it.
        time: the policy clock's reading when it happened.
        attributes: kind-specific details (``from_state``, ``attempt``, ``delay``…).
    """

    kind: str
    policy: str
    time: float
    attributes: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)


Listener = Callable[[Event], object]


class Subscription:
    """A registered listener; ``close()`` (or leaving its ``with`` block) removes it."""

    __slots__ = ("_bus", "kinds", "listener", "policy")

    def __init__(
        self,
        bus: EventBus,
        listener: Listener,
        kinds: frozenset[str] | None,
        policy: str | None,
    ) -> None:
        self._bus = bus
        self.listener = listener
        self.kinds = kinds
        self.policy = policy

    def matches(self, event: Event) -> bool:
        """Tell whether this subscription wants ``event``."""
        if self.policy is not None and event.policy != self.policy:
            return False
        if self.kinds is None:
            return True
        return event.kind in self.kinds or event.kind.split(".", 1)[0] in self.kinds

    def close(self) -> None:
        """Stop delivering events to this listener; closing twice is harmless."""
        self._bus.remove(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class EventBus:
    """The process-wide event dispatcher."""

    __slots__ = ("_lock", "_subscriptions", "active")

    def __init__(self) -> None:
        self._subscriptions: tuple[Subscription, ...] = ()
        # Serialises subscribe/remove only; emit() never takes it.
        self._lock = threading.Lock()
        #: True while at least one subscription exists; the hot path tests only this.
        self.active = False

    def subscribe(
        self,
        listener: Listener,
        *,
        kinds: Iterable[str] | None = None,
        policy: str | None = None,
    ) -> Subscription:
        """Deliver matching events to ``listener`` until the subscription is closed.

        Args:
            listener: called with each :class:`Event`, on the thread that caused it.
                It must be quick; an exception it raises is logged and swallowed.
            kinds: event kinds to deliver (``"retry.retrying"``), or whole families
                (``"retry"``); all kinds when omitted. A single string is one kind.
            policy: only events from the policy with this ``name``.

        Raises:
            TypeError: if ``listener`` is not callable.
        """
        if not callable(listener):
            raise TypeError(f"subscribe: listener must be callable, got {listener!r}")
        if isinstance(kinds, str):
            kinds = (kinds,)
        sub = Subscription(self, listener, None if kinds is None else frozenset(kinds), policy)
        with self._lock:
            # Copy-on-write keeps emit() lock-free: it iterates a tuple that never changes.
            self._subscriptions = (*self._subscriptions, sub)
            self.active = True
        return sub

    def remove(self, subscription: Subscription) -> None:
        """Remove ``subscription`` if present."""
        with self._lock:
            self._subscriptions = tuple(s for s in self._subscriptions if s is not subscription)
            self.active = bool(self._subscriptions)

    def emit(
        self, kind: str, policy: str, time: float, attributes: Mapping[str, Any] = _EMPTY
    ) -> None:
        """Build an :class:`Event` and deliver it to every matching subscription."""
        event = Event(kind, policy, time, attributes)
        for sub in self._subscriptions:
            if sub.matches(event):
                try:
                    sub.listener(event)
                except Exception:
                    # logging is imported only here: most processes never need it.
                    import logging

                    logging.getLogger("reliant.events").exception(
                        "reliant event listener %r failed on %s", sub.listener, kind
                    )


#: The process-wide bus. Policies test ``BUS.active`` before building an event.
BUS = EventBus()


def subscribe(
    listener: Listener,
    *,
    kinds: Iterable[str] | None = None,
    policy: str | None = None,
) -> Subscription:
    """Subscribe ``listener`` to events from every policy in the process.

    See :meth:`EventBus.subscribe` for the arguments.
    """
    return BUS.subscribe(listener, kinds=kinds, policy=policy)
