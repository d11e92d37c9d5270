"""The ``Schedule`` and ``EscalationPolicy`` kinds of ``reliant.yaml``, as ``plan``/``apply``
see them.

``apply`` reads ``current``, diffs it against the files, and calls ``create``/``update``/
``delete`` inside its transaction; each change is audited and evented as an API write is,
and marks the object ``managed_by="spec"``. Overrides are not part of a schedule's spec:
``apply --prune`` never removes them (deleting a schedule deletes its overrides).
Schedules come before policies in ``KINDS``, so a policy may name a schedule the same
apply creates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from reliant.server.domains.oncall import service
from reliant.server.domains.oncall.models import PolicyRow, ScheduleRow
from reliant.server.http import Ctx, Problem
from reliant.spec.models import EscalationPolicySpec, ScheduleSpec

M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], kind: str, name: str, spec: M | Mapping[str, Any]) -> M:
    if isinstance(spec, model):
        return spec
    try:
        return model.model_validate(dict(spec))
    except ValidationError as exc:
        where = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'spec'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise Problem(422, "Invalid Request", f"{kind} {name!r}: {where}") from None


def _problem(kind: str, name: str, exc: service.OnCallError) -> Problem:
    return Problem(exc.status, exc.title, f"{kind} {name!r}: {exc}")


class ScheduleHandler:
    """Stores objects of kind ``Schedule``: name → :class:`~reliant.spec.models.ScheduleSpec`."""

    kind = "Schedule"

    def current(self, session: Session) -> dict[str, dict[str, Any]]:
        """Every stored schedule: name → ``ScheduleSpec.model_dump(mode="json")``."""
        rows = session.execute(
            select(ScheduleRow.name, ScheduleRow.spec).order_by(ScheduleRow.name)
        )
        return {name: dict(spec) for name, spec in rows}

    def managed(self, session: Session) -> set[str]:
        """The schedules ``reliant apply`` wrote, for drift detection."""
        query = select(ScheduleRow.name).where(ScheduleRow.managed_by == service.MANAGED_BY_SPEC)
        return set(session.scalars(query))

    def _put(self, ctx: Ctx, name: str, spec: Any, must_exist: bool) -> None:
        parsed = _parse(ScheduleSpec, self.kind, name, spec)
        try:
            service.put_schedule(
                ctx, name, parsed, managed_by=service.MANAGED_BY_SPEC, must_exist=must_exist
            )
        except service.OnCallError as exc:
            raise _problem(self.kind, name, exc) from None

    def create(self, ctx: Ctx, name: str, spec: ScheduleSpec | Mapping[str, Any]) -> None:
        """Create a schedule.

        Raises:
            Problem: 409 when it exists, 422 when the spec is invalid.
        """
        self._put(ctx, name, spec, must_exist=False)

    def update(self, ctx: Ctx, name: str, spec: ScheduleSpec | Mapping[str, Any]) -> None:
        """Replace a schedule's spec (its overrides stay).

        Raises:
            Problem: 404 when it does not exist, 422 when the spec is invalid.
        """
        self._put(ctx, name, spec, must_exist=True)

    def delete(self, ctx: Ctx, name: str) -> None:
        """Delete a schedule and its overrides.

        Raises:
            Problem: 404 when it does not exist, 409 when a policy pages through it.
        """
        try:
            service.delete_schedule(ctx, name)
        except service.OnCallError as exc:
            raise _problem(self.kind, name, exc) from None


class EscalationPolicyHandler:
    """Stores objects of kind ``EscalationPolicy``: name →
    :class:`~reliant.spec.models.EscalationPolicySpec`.

    Receivers that do not exist are accepted (they may be created later); the policy's
    ``oncall.policy.created``/``updated`` event lists them as ``warnings``.
    """

    kind = "EscalationPolicy"

    def current(self, session: Session) -> dict[str, dict[str, Any]]:
        """Every stored policy: name → ``EscalationPolicySpec.model_dump(mode="json")``."""
        rows = session.execute(select(PolicyRow.name, PolicyRow.spec).order_by(PolicyRow.name))
        return {name: dict(spec) for name, spec in rows}

    def managed(self, session: Session) -> set[str]:
        """The policies ``reliant apply`` wrote, for drift detection."""
        query = select(PolicyRow.name).where(PolicyRow.managed_by == service.MANAGED_BY_SPEC)
        return set(session.scalars(query))

    def _put(self, ctx: Ctx, name: str, spec: Any, must_exist: bool) -> None:
        parsed = _parse(EscalationPolicySpec, self.kind, name, spec)
        try:
            service.put_policy(
                ctx, name, parsed, managed_by=service.MANAGED_BY_SPEC, must_exist=must_exist
            )
        except service.OnCallError as exc:
            raise _problem(self.kind, name, exc) from None

    def create(self, ctx: Ctx, name: str, spec: EscalationPolicySpec | Mapping[str, Any]) -> None:
        """Create a policy.

        Raises:
            Problem: 409 when it exists, 422 when the spec is invalid or names an unknown
                schedule.
        """
        self._put(ctx, name, spec, must_exist=False)

    def update(self, ctx: Ctx, name: str, spec: EscalationPolicySpec | Mapping[str, Any]) -> None:
        """Replace a policy's spec.

        Raises:
            Problem: 404 when it does not exist, 422 as for ``create``.
        """
        self._put(ctx, name, spec, must_exist=True)

    def delete(self, ctx: Ctx, name: str) -> None:
        """Delete a policy (its open pages stop escalating).

        Raises:
            Problem: 404 when it does not exist.
        """
        try:
            service.delete_policy(ctx, name)
        except service.OnCallError as exc:
            raise _problem(self.kind, name, exc) from None
