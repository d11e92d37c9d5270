"""Tables of SLOs: the objects (name → ``SLOSpec``) and each one's latest evaluation."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from reliant.server.db.base import Base

#: Longest SLO or service name (``reliant.spec.models.NAME_PATTERN`` allows 100 characters).
NAME_LENGTH = 100


class SLORow(Base):
    """An SLO: its spec as ``SLOSpec.model_dump(mode="json")``, who manages it, when it changed."""

    __tablename__ = "slos"

    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    service: Mapped[str] = mapped_column(String(NAME_LENGTH), index=True)
    spec: Mapped[dict[str, Any]]
    #: ``"api"`` (written through the REST API) or ``"spec"`` (by ``reliant apply``).
    managed_by: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float]
    updated_at: Mapped[float]
    updated_by: Mapped[str] = mapped_column(String(200))
    #: A random number drawn anew on every change of the spec (never reused, unlike a
    #: counter after a delete and re-create): the evaluator re-reads only changed specs.
    revision: Mapped[int] = mapped_column(BigInteger)


#: Per cent of each PostgreSQL page ``slo_status`` fills on insert (the rest: its updates).
STATUS_FILLFACTOR = 50


class SLOStatusRow(Base):
    """The latest evaluation of an SLO: the counts it was judged on and what fired.

    Everything the status endpoint shows (budget, burn rates, forecast, text) is derived
    from these counts and the spec by the pure functions of ``budget.py``, so reading a
    status costs one row. No foreign key: the evaluation job and a delete may cross, and
    the job removes rows of SLOs that are gone.
    """

    __tablename__ = "slo_status"
    # Every row is rewritten every cycle: pages kept half free let PostgreSQL update in
    # place (HOT: no index entry per new row version).
    __table_args__ = ({"postgresql_with": {"fillfactor": STATUS_FILLFACTOR}},)

    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    evaluated_at: Mapped[float]
    #: False for SLIs the server cannot count (PromQL); ``reason`` says why.
    evaluated: Mapped[bool]
    reason: Mapped[str] = mapped_column(String(500))
    period_start: Mapped[float]
    period_end: Mapped[float]
    #: Over the period so far: good and total events, or good and judged slices.
    good: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
    #: Events (calls) counted over the period so far.
    events: Mapped[int] = mapped_column(BigInteger)
    #: Fraction of the error budget left (negative when overspent).
    budget_remaining: Mapped[float]
    #: ``"good,total,events,good,total,events,..."``: three counts per window, in the order
    #: of the plan's window lengths (ascending). Text, not JSON: it is rewritten every cycle.
    windows: Mapped[str] = mapped_column(Text)
    #: Severities whose condition holds, comma-separated (``"page"``, ``"page,ticket"``, ``""``).
    firing: Mapped[str] = mapped_column(String(32))
    exhausted: Mapped[bool]
