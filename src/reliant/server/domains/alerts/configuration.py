"""The routing document in force: stored in one row, compiled once per version.

Until a document is stored, :data:`~reliant.server.domains.alerts.routing.DEFAULT_DOCUMENT`
is in force (version 0). Replacing it is validated first (:func:`routing.compile_config`)
and audited; each replacement bumps the version, which is also the document's ETag.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from reliant.server.domains.alerts.models import AlertingConfigRow
from reliant.server.domains.alerts.routing import AlertingConfig, compile_config, default_document

if TYPE_CHECKING:
    from reliant.server.http import Ctx

#: The id of the one row.
ROW_ID = 1
#: Compiled documents kept, by content digest.
_CACHE_SIZE = 8
_cache: dict[str, AlertingConfig] = {}


@dataclass(frozen=True, slots=True, kw_only=True)
class Document:
    """The routing document and its bookkeeping."""

    document: dict[str, Any]
    version: int
    updated_at: float | None
    updated_by: str | None
    #: Whether this is the built-in default (none stored, or reset).
    default: bool = False

    def __post_init__(self) -> None:
        if self.version == 0:
            object.__setattr__(self, "default", True)


class VersionMismatch(ValueError):
    """``If-Match`` named a version that is no longer current."""


def load(session: Session) -> Document:
    """The document in force."""
    row = session.get(AlertingConfigRow, ROW_ID)
    if row is None:
        return Document(document=default_document(), version=0, updated_at=None, updated_by=None)
    if not row.document:  # reset to the default: the version still moves on
        return Document(
            document=default_document(),
            version=row.version,
            updated_at=row.updated_at,
            updated_by=row.updated_by,
            default=True,
        )
    return Document(
        document=dict(row.document),
        version=row.version,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def compiled(document: dict[str, Any]) -> AlertingConfig:
    """``document`` compiled, from a small cache keyed by its content.

    Raises:
        ConfigError: the document is invalid (a stored one never is).
    """
    digest = hashlib.sha256(
        json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    found = _cache.get(digest)
    if found is None:
        found = compile_config(document)
        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[digest] = found
    return found


def current(session: Session) -> AlertingConfig:
    """The compiled document in force."""
    return compiled(load(session).document)


def replace(ctx: Ctx, document: dict[str, Any], *, if_match: int | None = None) -> Document:
    """Validate and store ``document``; unchanged content changes nothing.

    Raises:
        ConfigError: the document is invalid (with the path of the problem).
        VersionMismatch: ``if_match`` is not the current version.
    """
    config = compile_config(document)
    row = ctx.session.get(AlertingConfigRow, ROW_ID, with_for_update=True, populate_existing=True)
    before = load(ctx.session)
    if if_match is not None and if_match != before.version:
        raise VersionMismatch(
            f"the routing document is at version {before.version}, not {if_match}: "
            "GET it again, reapply your change, and PUT with the new ETag"
        )
    if row is not None and row.document == document:
        return before
    _store(ctx, row, before, document, "alerting.config.replace")
    _changed(ctx, config, default=False)
    return load(ctx.session)


def reset(ctx: Ctx) -> Document:
    """Put the default document back in force (the version still moves on)."""
    row = ctx.session.get(AlertingConfigRow, ROW_ID, with_for_update=True, populate_existing=True)
    before = load(ctx.session)
    if before.default:
        return before
    _store(ctx, row, before, {}, "alerting.config.reset")
    _changed(ctx, compile_config(default_document()), default=True)
    return load(ctx.session)


def _store(
    ctx: Ctx,
    row: AlertingConfigRow | None,
    before: Document,
    document: dict[str, Any],
    action: str,
) -> None:
    if row is None:
        row = AlertingConfigRow(id=ROW_ID)
        ctx.session.add(row)
    row.document = document
    row.version = before.version + 1
    row.updated_at = ctx.now
    row.updated_by = ctx.principal.name[:100]
    ctx.audit(
        action,
        "alerting_config",
        "routing",
        before={"version": before.version, "document": before.document},
        after={"version": row.version, "document": document or default_document()},
    )


def _changed(ctx: Ctx, config: AlertingConfig, *, default: bool) -> None:
    version = load(ctx.session).version
    ctx.event(
        "alerting.config_changed",
        attributes={
            "version": version,
            "default": default,
            "receivers": list(config.receivers),
            "routes": len(config.routes),
            "inhibit_rules": len(config.inhibit_rules),
            "time_intervals": sorted(config.time_intervals),
        },
    )
