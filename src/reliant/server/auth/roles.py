"""Roles and what each may do: viewer < operator < admin, and ingest-only service tokens."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a token may do."""

    #: Read everything.
    VIEWER = "viewer"
    #: Read everything and operate: ingest, acknowledge, force breakers, apply specs.
    OPERATOR = "operator"
    #: Everything, including tokens and destructive settings.
    ADMIN = "admin"
    #: A service's SDK: push telemetry and events, read its config stream. Nothing else.
    INGEST = "ingest"


_RANK = {Role.VIEWER: 1, Role.OPERATOR: 2, Role.ADMIN: 3}


def allows(held: Role, needed: Role) -> bool:
    """Whether a token holding ``held`` may do what needs ``needed``.

    Human roles nest (admin ⊃ operator ⊃ viewer); ``ingest`` is allowed only where ingest
    is needed, and operators and admins may ingest too.
    """
    if needed is Role.INGEST:
        return held in (Role.INGEST, Role.OPERATOR, Role.ADMIN)
    if held is Role.INGEST:
        return False
    return _RANK[held] >= _RANK[needed]
