"""Tables of the service catalog: services and the dependencies they declare."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from reliant.server.db.base import Base

#: Longest service name (``reliant.spec.models.NAME_PATTERN`` allows 100 characters).
NAME_LENGTH = 100


class ServiceRow(Base):
    """A service: the fields of ``ServiceSpec``, who manages it, and when it changed."""

    __tablename__ = "services"

    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200), index=True)
    tier: Mapped[int]
    environment: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(2000))
    links: Mapped[list[Any]]
    labels: Mapped[dict[str, Any]]
    #: ``"api"`` (created through the REST API) or ``"spec"`` (by ``reliant apply``).
    managed_by: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float]
    updated_at: Mapped[float]


class DependencyRow(Base):
    """A declared dependency; ``depends_on`` need not be in the catalog ("undeclared")."""

    __tablename__ = "service_dependencies"
    __table_args__ = (Index("ix_service_dependencies_depends_on", "depends_on"),)

    service: Mapped[str] = mapped_column(
        String(NAME_LENGTH), ForeignKey("services.name", ondelete="CASCADE"), primary_key=True
    )
    depends_on: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    #: ``"hard"`` (the service fails without it) or ``"soft"``.
    kind: Mapped[str] = mapped_column(String(8))
    #: Order of declaration, so a spec reads back exactly as written.
    position: Mapped[int]
