"""Tables of postmortems: one per incident, its services, error-budget policies, the cursor."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from reliant.server.db.base import Base, BigId

#: Longest service or policy name (``NAME_PATTERN`` allows 100 characters).
NAME_LENGTH = 100
#: Longest person name (``created_by``, ``updated_by``).
PERSON_LENGTH = 200
#: Longest title.
TITLE_LENGTH = 500


class PostmortemRow(Base):
    """A postmortem of one incident: its state, the editable sections and computed facts.

    The sections follow the SRE Book's template. List sections are JSON lists of strings;
    ``timeline`` holds ``{at, text, source, kind}`` entries and ``action_items`` the
    action items. ``facts`` are computed from the incident and SLO data (never edited).
    ``version`` grows with every change: a write carries the version it edited.
    """

    __tablename__ = "postmortems"
    __table_args__ = (Index("ix_postmortems_state", "state"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    state: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(TITLE_LENGTH))
    required: Mapped[bool]
    required_reason: Mapped[str] = mapped_column(Text)
    #: ``YYYY-MM-DD``; ``None``: no due date.
    due: Mapped[str | None] = mapped_column(String(10))
    version: Mapped[int]
    summary: Mapped[str] = mapped_column(Text)
    impact: Mapped[str] = mapped_column(Text)
    root_causes: Mapped[list[Any]]
    trigger: Mapped[str] = mapped_column(Text)
    resolution: Mapped[str] = mapped_column(Text)
    detection: Mapped[str] = mapped_column(Text)
    went_well: Mapped[list[Any]]
    went_wrong: Mapped[list[Any]]
    got_lucky: Mapped[list[Any]]
    timeline: Mapped[list[Any]]
    action_items: Mapped[list[Any]]
    supporting_information: Mapped[str] = mapped_column(Text)
    facts: Mapped[dict[str, Any]]
    created_at: Mapped[float]
    created_by: Mapped[str] = mapped_column(String(PERSON_LENGTH))
    updated_at: Mapped[float]
    updated_by: Mapped[str] = mapped_column(String(PERSON_LENGTH))


class PostmortemServiceRow(Base):
    """A service of a postmortem's incident (for filtering the list)."""

    __tablename__ = "postmortem_services"

    postmortem_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    service: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True, index=True)


class ErrorBudgetPolicyRow(Base):
    """An error-budget policy: its spec as ``ErrorBudgetPolicySpec`` JSON."""

    __tablename__ = "error_budget_policies"

    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    spec: Mapped[dict[str, Any]]
    #: ``"api"`` or ``"spec"`` (written by ``reliant apply``).
    managed_by: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float]
    updated_at: Mapped[float]
    updated_by: Mapped[str] = mapped_column(String(PERSON_LENGTH))


class PostmortemCursorRow(Base):
    """How far the ``postmortems.require`` job has read the event log (one row, ``require``).

    ``gap``/``gap_since``/``given_up`` keep its wait for a missing id across runs, as the
    incidents' declaring cursor does.
    """

    __tablename__ = "postmortem_cursor"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger)
    gap: Mapped[int | None] = mapped_column(BigInteger)
    gap_since: Mapped[float]
    given_up: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[float]
