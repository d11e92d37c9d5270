"""Drive the alerts domain on the virtual clock: report, run dispatcher passes, watch notify."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from reliant.server.db import transaction
from reliant.server.domains.alerts import dispatch, service
from reliant.server.domains.alerts.models import AlertingConfigRow, AlertRow
from reliant.server.events import EventRow
from reliant.testing import VirtualClock


@dataclass
class Bench:
    """An app's alerts domain with the dispatcher's notify calls recorded."""

    app: FastAPI
    clock: VirtualClock
    sent: list[dict[str, Any]] = field(default_factory=list)

    def notify(self, session: Session, **call: Any) -> None:
        """The seam standing in for the notify facade's ``enqueue``."""
        assert set(call) == {
            "receiver",
            "dedup_key",
            "status",
            "group_key",
            "alerts",
            "group_labels",
            "common_labels",
            "common_annotations",
            "now",
        }
        self.sent.append(call)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction on the app's store."""
        with transaction(self.app.state.sessions) as session:
            yield session

    def report(self, labels: dict[str, str], active: bool = True, **kw: Any) -> None:
        """Report one alert now (source ``test``)."""
        kw.setdefault("annotations", {})
        with self.session() as s:
            service.report(
                s, labels=labels, active=active, now=self.clock.now(), source="test", **kw
            )

    def tick(self) -> dispatch.Pass:
        """One dispatcher pass now."""
        with self.session() as s:
            return dispatch.run(s, self.clock.now(), notify=self.notify)

    def run(self, seconds: float, step: float = 1.0) -> None:
        """Advance ``seconds`` in ``step``s, one pass after each step (as the job does)."""
        for _ in range(round(seconds / step)):
            self.clock.advance(step)
            self.tick()

    def configure(self, document: dict[str, Any]) -> None:
        """Store a routing document (validated) as the one in force."""
        from reliant.server.domains.alerts.routing import compile_config

        compile_config(document)
        with self.session() as s:
            row = s.get(AlertingConfigRow, 1)
            if row is None:
                row = AlertingConfigRow(id=1, version=0)
                s.add(row)
            row.document, row.version = document, row.version + 1
            row.updated_at, row.updated_by = self.clock.now(), "test"

    def alert(self, labels: dict[str, str]) -> AlertRow:
        """The stored alert with ``labels``."""
        from reliant.server.domains.alerts.labelsets import fingerprint

        with self.session() as s:
            row = s.get(AlertRow, fingerprint(labels))
            assert row is not None
            s.expunge(row)
            return row

    def events(self, prefix: str = "alert.") -> list[tuple[str, float, str, str]]:
        """(kind, time, severity, alertname) of the events whose kind starts with ``prefix``."""
        with self.session() as s:
            rows = s.scalars(
                select(EventRow).where(EventRow.kind.startswith(prefix)).order_by(EventRow.id)
            )
            return [(r.kind, r.time, r.severity, r.attributes.get("alertname", "")) for r in rows]

    def times(self) -> list[float]:
        """Offsets (seconds since the start) of the notifications sent."""
        return [c["now"] - START for c in self.sent]


START = 1_800_000_000.0
