"""The ``AlertRoute`` kind of ``reliant.yaml``: the routing document, as ``plan``/``apply`` see it.

reliant has one routing document, so there is one ``AlertRoute``, named ``default``::

    apiVersion: reliant.dev/v1
    kind: AlertRoute
    metadata: {name: default}
    spec:
      route: {receiver: pagerduty, group_by: [alertname, service]}
      receivers: [{name: pagerduty}]

Applying it replaces the document (validated, audited, evented as ``PUT
/api/v1/alerting/config``); deleting it puts the built-in default back in force.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from reliant.server.domains.alerts import configuration
from reliant.server.domains.alerts.errors import ConfigError, dotted
from reliant.server.domains.alerts.schemas import stored
from reliant.server.http import Ctx, Problem, not_found
from reliant.spec.models import AlertRouteSpec

#: The name of the one ``AlertRoute``.
NAME = "default"


def _spec(name: str, spec: AlertRouteSpec | Mapping[str, Any]) -> AlertRouteSpec:
    if name != NAME:
        raise Problem(
            422,
            "Invalid Request",
            f"AlertRoute {name!r}: reliant has one routing document; name it {NAME!r}",
        )
    if isinstance(spec, AlertRouteSpec):
        return spec
    try:
        return AlertRouteSpec.model_validate(dict(spec))
    except ValidationError as exc:
        where = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'spec'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise Problem(422, "Invalid Request", f"AlertRoute {name!r}: {where}") from None


class AlertRouteHandler:
    """Stores the one object of kind ``AlertRoute``: ``default`` → the routing document."""

    kind = "AlertRoute"

    def current(self, session: Session) -> dict[str, dict[str, Any]]:
        """``{"default": spec}`` once a document is stored; ``{}`` while the built-in is."""
        doc = configuration.load(session)
        if doc.default:
            return {}
        return {NAME: AlertRouteSpec.model_validate(doc.document).model_dump(mode="json")}

    def create(self, ctx: Ctx, name: str, spec: AlertRouteSpec | Mapping[str, Any]) -> None:
        """Store the routing document.

        Raises:
            Problem: 422 for another name or an invalid document (naming the path).
        """
        try:
            configuration.replace(ctx, stored(_spec(name, spec)))
        except ConfigError as exc:
            raise Problem(
                422, "Invalid Request", f"AlertRoute {name!r}: {dotted(exc.path)}: {exc.message}"
            ) from None

    def update(self, ctx: Ctx, name: str, spec: AlertRouteSpec | Mapping[str, Any]) -> None:
        """Replace the routing document (a no-op when it is unchanged)."""
        self.create(ctx, name, spec)

    def delete(self, ctx: Ctx, name: str) -> None:
        """Put the built-in default document back in force.

        Raises:
            Problem: 404 for another name.
        """
        if name != NAME:
            raise not_found("AlertRoute", name)
        configuration.reset(ctx)
