"""On-call: schedules with rotations and overrides, escalation policies, pages.

This facade is all other domains may import::

    from reliant.server.domains import oncall

    dispatch.run(session, now, notify=oncall.route)   # the alert dispatcher's seam
    oncall.who_is_on_call(spec, overrides, at)         # pure: member or None
    oncall.shifts(spec, overrides, since, until)       # pure: [Shift(member, start, end, source)]

``route`` takes the notify facade's ``enqueue`` arguments: a receiver that names an
escalation policy pages through it; any other notification goes to ``enqueue`` unchanged.
The ``oncall.escalate`` job escalates unacknowledged pages. ``SPEC_HANDLER`` is the
``Schedule`` kind's handler for ``reliant apply`` (``oncall.policy_kind`` has the
``EscalationPolicy`` kind's). See ``docs/oncall.md``.
"""

from reliant.server.domains.oncall.paging import STATES, acknowledge, escalate, resolve, route
from reliant.server.domains.oncall.rotation import (
    OVERRIDE,
    Outlook,
    Override,
    Shift,
    outlook,
    shifts,
    who_is_on_call,
)
from reliant.server.domains.oncall.spec import EscalationPolicyHandler, ScheduleHandler

#: The ``Schedule`` kind's handler for the apply engine.
SPEC_HANDLER = ScheduleHandler()

__all__ = [
    "OVERRIDE",
    "SPEC_HANDLER",
    "STATES",
    "EscalationPolicyHandler",
    "Outlook",
    "Override",
    "ScheduleHandler",
    "Shift",
    "acknowledge",
    "escalate",
    "outlook",
    "resolve",
    "route",
    "shifts",
    "who_is_on_call",
]
