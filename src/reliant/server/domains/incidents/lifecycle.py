"""The incident lifecycle: states, which transitions are allowed, severities. Pure, no I/O.

::

    triggered → acknowledged → mitigated → resolved → closed
        └──────────────┴─────────────┴──────────┘   (skipping forward is allowed)
    resolved → triggered                             (reopen: the only way back)
"""

from __future__ import annotations

from reliant.server.events import Severity

TRIGGERED, ACKNOWLEDGED, MITIGATED, RESOLVED, CLOSED = (
    "triggered",
    "acknowledged",
    "mitigated",
    "resolved",
    "closed",
)
#: Every state, in lifecycle order.
STATES = (TRIGGERED, ACKNOWLEDGED, MITIGATED, RESOLVED, CLOSED)
#: States of an open incident (alerts attach to it; it counts as ongoing).
OPEN = (TRIGGERED, ACKNOWLEDGED, MITIGATED)
#: Severities, worst first.
SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4", "SEV5")
#: The event severity of an incident's severity.
EVENT_SEVERITY = {
    "SEV1": Severity.CRITICAL,
    "SEV2": Severity.ERROR,
    "SEV3": Severity.WARNING,
    "SEV4": Severity.INFO,
    "SEV5": Severity.INFO,
}
#: The event kind recording a move to each state.
EVENT_KINDS = {
    ACKNOWLEDGED: "incident.acknowledged",
    MITIGATED: "incident.mitigated",
    RESOLVED: "incident.resolved",
    CLOSED: "incident.closed",
    TRIGGERED: "incident.reopened",
}
#: The notification status of each state (notify's ``firing``/``acknowledged``/``resolved``).
NOTIFY_STATUS = {
    TRIGGERED: "firing",
    ACKNOWLEDGED: "acknowledged",
    MITIGATED: "firing",
    RESOLVED: "resolved",
    CLOSED: "resolved",
}


def allowed(state: str) -> tuple[str, ...]:
    """The states an incident in ``state`` may move to: any later one, and from
    ``resolved`` back to ``triggered`` (a reopen)."""
    later = STATES[STATES.index(state) + 1 :]
    return (*later, TRIGGERED) if state == RESOLVED else later


class TransitionRefused(ValueError):
    """A move the lifecycle does not allow; the message names the allowed ones."""

    def __init__(self, state: str, to: str) -> None:
        moves = allowed(state)
        options = ", ".join(moves) if moves else "none: a closed incident is final"
        super().__init__(
            f"an incident that is {state} cannot become {to}; allowed: {options}"
            + (" (triggered reopens it)" if state == RESOLVED else "")
        )
        self.state = state
        self.to = to
        self.allowed = moves


def check(state: str, to: str) -> None:
    """Raise :class:`TransitionRefused` unless ``state → to`` is allowed."""
    if to not in allowed(state):
        raise TransitionRefused(state, to)
