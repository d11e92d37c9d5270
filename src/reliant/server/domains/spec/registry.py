"""The kinds the server manages: one handler per kind, provided by the domains' facades.

A domain that owns a kind exposes ``SPEC_HANDLER`` from its facade (``__init__.py``): an
object with ``kind`` and ``current``/``create``/``update``/``delete`` (and optionally
``managed``), see :class:`SpecHandler`. The modules are imported when first needed, so a
missing or broken one fails with a message naming it.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from sqlalchemy.orm import Session

from reliant.spec.models import KINDS
from reliant.spec.plan import kind_order

if TYPE_CHECKING:
    from reliant.server.http import Ctx

#: Facades exposing ``SPEC_HANDLER``; a domain owning a new kind adds its facade here.
HANDLER_MODULES: tuple[str, ...] = (
    "reliant.server.domains.catalog",
    "reliant.server.domains.config",
    "reliant.server.domains.alerts",
    "reliant.server.domains.slo",
    "reliant.server.domains.oncall",
    "reliant.server.domains.oncall.policy_kind",
    "reliant.server.domains.incidents",
    "reliant.server.domains.runbooks",
    "reliant.server.domains.postmortems",
)


@runtime_checkable
class SpecHandler(Protocol):
    """Reads and writes the objects of one kind, inside the apply's transaction.

    ``current`` answers name → spec as ``<Kind>Spec.model_dump(mode="json")``; the writers
    audit and event each change as the domain's API does. An optional
    ``managed(session) -> set[str]`` names the objects ``apply`` wrote, for drift.
    """

    kind: str

    def current(self, session: Session) -> dict[str, dict[str, Any]]: ...

    def create(self, ctx: Ctx, name: str, spec: dict[str, Any]) -> None: ...

    def update(self, ctx: Ctx, name: str, spec: dict[str, Any]) -> None: ...

    def delete(self, ctx: Ctx, name: str) -> None: ...


class RegistryError(RuntimeError):
    """A handler module is missing, broken or clashes with another."""


def handlers(modules: Sequence[str] | None = None) -> dict[str, SpecHandler]:
    """Kind → handler, in apply order, from ``modules`` (default :data:`HANDLER_MODULES`).

    Raises:
        RegistryError: a module cannot be imported, has no valid ``SPEC_HANDLER``, handles
            a kind ``reliant.spec.models.KINDS`` does not know, or one another also handles.
    """
    found: dict[str, SpecHandler] = {}
    for name in HANDLER_MODULES if modules is None else modules:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise RegistryError(f"spec handler module {name!r} cannot be imported: {exc}") from exc
        handler = getattr(module, "SPEC_HANDLER", None)
        if not isinstance(handler, SpecHandler):
            raise RegistryError(
                f"{name}.SPEC_HANDLER is missing or lacks kind/current/create/update/delete"
            )
        if handler.kind not in KINDS:
            raise RegistryError(
                f"{name}.SPEC_HANDLER handles kind {handler.kind!r}, which reliant.spec.models."
                f"KINDS does not define (known: {', '.join(KINDS)})"
            )
        if handler.kind in found:
            raise RegistryError(f"two handlers for kind {handler.kind!r}; {name} is the second")
        found[handler.kind] = handler
    return {kind: found[kind] for kind in kind_order(found)}


def managed(handler: SpecHandler, session: Session) -> set[str] | None:
    """The names the handler marks as written by ``apply``; ``None`` when it cannot tell."""
    reader = getattr(handler, "managed", None)
    return None if reader is None else set(reader(session))
