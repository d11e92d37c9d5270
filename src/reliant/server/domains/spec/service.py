"""Use cases of reliability as code: export, plan and apply ``reliant.yaml`` documents.

Each works on the given session; ``apply`` runs every change in the caller's transaction
(the request's), so a failure anywhere leaves nothing changed. Handlers come from
:mod:`~reliant.server.domains.spec.registry`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from reliant.server.domains.spec.registry import SpecHandler, managed
from reliant.spec.documents import Document, document
from reliant.spec.load import SpecError, validate_all
from reliant.spec.plan import Action, Change, Plan, make_plan

if TYPE_CHECKING:
    from reliant.server.http import Ctx

Handlers = Mapping[str, SpecHandler]


class InvalidSpec(Exception):
    """The documents or the kinds asked for are not valid; one message per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class StalePlan(Exception):
    """The plan the caller saw is no longer what applying would do."""

    def __init__(self, expected: str, actual: Plan) -> None:
        super().__init__(
            f"the server changed since that plan was made (fingerprint {expected[:12]}…, now "
            f"{actual.fingerprint[:12]}…): run `reliant plan` again and review it"
        )
        self.plan = actual


class ApplyFailed(Exception):
    """A handler refused one change; the transaction must be rolled back.

    Attributes:
        change: the change refused.
        status: the HTTP status the handler's error stands for.
    """

    def __init__(self, change: Change, status: int, reason: str) -> None:
        super().__init__(
            f"{change.action} {change.kind} {change.name} failed: {reason}; nothing was applied"
        )
        self.change = change
        self.status = status


def scope(handlers: Handlers, kinds: Sequence[str] | None) -> dict[str, SpecHandler]:
    """The handlers of ``kinds`` (all when ``None``).

    Raises:
        InvalidSpec: a kind is unknown or not managed by this server.
    """
    if kinds is None:
        return dict(handlers)
    unknown = [k for k in kinds if k not in handlers]
    if unknown:
        raise InvalidSpec(
            [f"kind {k!r} is not managed here (managed: {', '.join(handlers)})" for k in unknown]
        )
    return {k: h for k, h in handlers.items() if k in kinds}


def validate(
    items: Sequence[Any], handlers: Mapping[str, SpecHandler], *, source: str = "documents"
) -> list[Document]:
    """Validate raw documents; each must be of a kind in ``handlers``.

    Raises:
        InvalidSpec: with every problem found.
    """
    try:
        documents = validate_all(items, source=source)
    except SpecError as exc:
        raise InvalidSpec(exc.problems) from None
    outside = [
        f"{d.location}: {d.kind} {d.name}: kind {d.kind!r} is not in scope here "
        f"(in scope: {', '.join(handlers)})"
        for d in documents
        if d.kind not in handlers
    ]
    if outside:
        raise InvalidSpec(outside)
    return documents


def plan(
    session: Session, items: Sequence[Any], handlers: Handlers, *, prune: bool = False
) -> Plan:
    """What applying ``items`` would change, against the objects of the handlers' kinds.

    Raises:
        InvalidSpec: the documents are not valid or of a kind outside ``handlers``.
    """
    documents = validate(items, handlers)
    current = {kind: h.current(session) for kind, h in handlers.items()}
    marks = {
        kind: names
        for kind, handler in handlers.items()
        if (names := managed(handler, session)) is not None
    }
    return make_plan(documents, current, prune=prune, managed=marks)


def apply(
    ctx: Ctx,
    items: Sequence[Any],
    handlers: Handlers,
    *,
    prune: bool = False,
    expected: str | None = None,
) -> Plan:
    """Make the server match ``items``: the plan's changes, in order, in ``ctx``'s transaction.

    Each handler audits and events its own changes; one ``spec.applied`` event sums them up
    (none when nothing changed, so applying twice changes nothing the second time).

    Returns:
        the plan that was applied.

    Raises:
        InvalidSpec: the documents are not valid.
        StalePlan: ``expected`` is not the fingerprint of the plan as it is now.
        ApplyFailed: a handler refused a change (the caller must roll back).
    """
    planned = plan(ctx.session, items, handlers, prune=prune)
    if expected is not None and expected != planned.fingerprint:
        raise StalePlan(expected, planned)
    for change in planned.mutations:
        handler = handlers[change.kind]
        try:
            if change.action is Action.CREATE:
                assert change.after is not None
                handler.create(ctx, change.name, change.after)
            elif change.action is Action.UPDATE:
                assert change.after is not None
                handler.update(ctx, change.name, change.after)
            else:
                handler.delete(ctx, change.name)
        except Exception as exc:
            failure = _refusal(change, exc)
            if failure is None:
                raise
            raise failure from exc
    if planned.has_changes:
        counts = planned.summary()
        ctx.event(
            "spec.applied",
            attributes={
                "created": counts["create"],
                "updated": counts["update"],
                "deleted": counts["delete"],
                "prune": prune,
                "kinds": list(handlers),
                "fingerprint": planned.fingerprint,
            },
        )
    return planned


def _refusal(change: Change, exc: Exception) -> ApplyFailed | None:
    """The handler's error as an :class:`ApplyFailed`, or ``None`` for an unexpected one."""
    status = getattr(exc, "status", None)
    reason = getattr(exc, "detail", None) or str(exc)
    if isinstance(exc, ValidationError):
        where = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'spec'}: {e['msg']}" for e in exc.errors()[:5]
        )
        return ApplyFailed(change, 422, where)
    if isinstance(status, int) and 400 <= status < 500:
        return ApplyFailed(change, status, reason)
    if isinstance(exc, LookupError):
        return ApplyFailed(change, 409, reason)
    if isinstance(exc, ValueError):
        return ApplyFailed(change, 422, reason)
    return None


def export(session: Session, handlers: Handlers) -> list[dict[str, Any]]:
    """Every object of the handlers' kinds as a document, defaults left out; by kind, name."""
    out: list[dict[str, Any]] = []
    for kind, handler in handlers.items():
        for name, spec in sorted(handler.current(session).items()):
            try:
                out.append(document(kind, name, spec))
            except ValidationError:  # stored under an older model: export it as stored
                out.append(document(kind, name, spec, full=True))
    return out


__all__ = [
    "ApplyFailed",
    "InvalidSpec",
    "StalePlan",
    "apply",
    "export",
    "plan",
    "scope",
    "validate",
]
