"""Alerts: alert instances, silences, inhibition and Alertmanager-grade routing.

This facade is all other domains may import::

    from reliant.server.domains.alerts import report

    report(session, labels={"alertname": "Down", "severity": "page", "service": "api"},
           annotations={"summary": "api is down"}, active=True, now=now, source="slo")

The ``alerts.dispatch`` job groups firing alerts by the routing document and hands each
notification to the notify domain's outbox. ``SPEC_HANDLER`` is the ``AlertRoute`` kind's
handler for ``reliant apply``. See ``docs/alerting.md``.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from reliant.server.domains.alerts import service
from reliant.server.domains.alerts.labelsets import fingerprint
from reliant.server.domains.alerts.matchers import Matcher, matches_all, parse_matchers
from reliant.server.domains.alerts.service import RESOLVE_TIMEOUT, STATES
from reliant.server.domains.alerts.service import get as get_alert
from reliant.server.domains.alerts.spec import AlertRouteHandler

#: The ``AlertRoute`` kind's handler for the apply engine.
SPEC_HANDLER = AlertRouteHandler()


def report(
    session: Session,
    *,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    active: bool,
    now: float,
    source: str,
    for_seconds: float = 0.0,
    ends_at: float | None = None,
) -> None:
    """Upsert the alert instance named by the fingerprint of ``labels``, in the caller's
    transaction.

    Args:
        labels: the alert's identity; ``alertname`` is required. The ``severity`` label
            sets the severity of its events, ``service`` the service they belong to.
        annotations: text about it (``summary``, ``description``, …); the latest wins.
        active: ``True`` while the condition holds; ``False`` resolves the alert.
        now: the time of the report.
        source: who reports it (``slo``, ``alertmanager``, …), recorded on its events.
        for_seconds: how long it must stay active before it fires (``pending`` until then).
        ends_at: when it stops being active unless reported again; default
            ``now + RESOLVE_TIMEOUT`` (5 minutes) — report again before then to keep it.

    Raises:
        ValueError: no ``alertname``, unstorable labels or annotations (NUL characters,
            too long), a negative ``for_seconds``, or non-finite times.
    """
    service.report(
        session,
        labels=labels,
        annotations=annotations,
        active=active,
        now=now,
        source=source,
        for_seconds=for_seconds,
        ends_at=ends_at,
    )


__all__ = [
    "RESOLVE_TIMEOUT",
    "SPEC_HANDLER",
    "STATES",
    "AlertRouteHandler",
    "Matcher",
    "fingerprint",
    "get_alert",
    "matches_all",
    "parse_matchers",
    "report",
]
