"""Tables of config: per-service document versions, operator overrides and policies."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from reliant.server.db.base import Base

#: Longest service or policy name (``reliant.spec.models.NAME_PATTERN``: 100 characters).
NAME_LENGTH = 100
#: Longest name of an object in SDK code (a breaker, a limiter, a fault).
OBJECT_LENGTH = 200


class ConfigVersionRow(Base):
    """The version of a service's config document: +1 in the transaction of every change."""

    __tablename__ = "config_versions"

    service: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[float]


class OverrideRow(Base):
    """An operator's override of an SDK object of a service: a breaker, limiter or fault."""

    __tablename__ = "config_overrides"

    service: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    #: The document's section: ``breakers``, ``limiters`` or ``faults``.
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(OBJECT_LENGTH), primary_key=True)
    value: Mapped[dict[str, Any]]
    updated_at: Mapped[float]
    updated_by: Mapped[str] = mapped_column(String(100))


class PolicyRow(Base):
    """A named resilience pipeline (kind ``Policy``) delivered to its service's SDK."""

    __tablename__ = "policies"

    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    service: Mapped[str] = mapped_column(String(NAME_LENGTH), index=True)
    #: ``PolicySpec.model_dump(mode="json")``.
    spec: Mapped[dict[str, Any]]
    #: ``"api"`` (written through the REST API) or ``"spec"`` (by ``reliant apply``).
    managed_by: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float]
    updated_at: Mapped[float]
    updated_by: Mapped[str] = mapped_column(String(100))
