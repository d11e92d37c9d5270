"""Routes of alerts: alerts, Alertmanager-compatible intake, silences, the routing document."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Response

from reliant._core.durations import parse_duration
from reliant.server.domains.alerts import configuration, dispatch, service, silencing
from reliant.server.domains.alerts.errors import ConfigError
from reliant.server.domains.alerts.labelsets import check_labels, fingerprint
from reliant.server.domains.alerts.matchers import Matcher, parse_matchers
from reliant.server.domains.alerts.models import AlertRow, SilenceRow
from reliant.server.domains.alerts.routing import AlertingConfig, receivers_of
from reliant.server.domains.alerts.schemas import (
    AlertingConfigOut,
    AlertingDocument,
    AlertmanagerWebhook,
    AlertOut,
    AlertPage,
    GroupOut,
    GroupPage,
    PostableAlert,
    Received,
    SilenceFromAlert,
    SilenceIn,
    SilenceOut,
    SilencePage,
    SilenceState,
    State,
    stored,
)
from reliant.server.domains.alerts.silences import exact
from reliant.server.http import (
    PROBLEM_JSON,
    Ctx,
    Ingest,
    Operator,
    Problem,
    Viewer,
    decode_cursor,
    encode_cursor,
    not_found,
)

router = APIRouter(prefix="/api/v1", tags=["alerts"])

#: Largest page any list endpoint returns.
MAX_PAGE = 500
#: Text without NUL characters, which PostgreSQL cannot store or compare.
NO_NUL = r"^[^\x00]*$"
Fingerprint = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$", description="16 hex digits")]
SilenceId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$", description="a silence's UUID")]
_PROBLEM = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}


def _bad_cursor() -> Problem:
    return Problem(400, "Bad Request", "the cursor is malformed: pass back `next` unchanged")


def _alert_out(row: AlertRow, config: AlertingConfig) -> AlertOut:
    return AlertOut(
        fingerprint=row.fingerprint,
        labels=dict(row.labels),
        annotations=dict(row.annotations),
        state=row.state,  # type: ignore[arg-type]
        source=row.source,
        starts_at=row.fired_at,
        active_since=row.active_since,
        ends_at=row.ends_at,
        resolved_at=row.resolved_at,
        updated_at=row.updated_at,
        for_seconds=row.for_seconds,
        generator_url=row.generator_url,
        silenced_by=list(row.silenced_by),
        inhibited_by=list(row.inhibited_by),
        receivers=receivers_of(config, row.labels),
    )


def _filters(values: list[str]) -> list[Matcher]:
    out: list[Matcher] = []
    for index, value in enumerate(values):
        try:
            out.extend(parse_matchers(value))
        except ValueError as exc:
            error = {"loc": ["query", "filter", index], "msg": str(exc), "type": "value_error"}
            raise Problem(422, "Invalid Request", f"query.filter: {exc}", errors=[error]) from None
    return out


@router.get("/alerts")
def list_alerts(
    ctx: Viewer,
    state: Annotated[list[State], Query(description="repeat for several states")] = [],  # noqa: B006
    filter_: Annotated[
        list[str],
        Query(
            alias="filter",
            max_length=50,
            description='Alertmanager matchers, e.g. severity="page"; repeat to require several',
        ),
    ] = [],  # noqa: B006
    service_: Annotated[str | None, Query(alias="service", max_length=256, pattern=NO_NUL)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: str | None = None,
) -> AlertPage:
    """Alerts, most recently activated first, filtered by state, matchers and service."""
    after = None
    if cursor:
        position = decode_cursor(cursor)
        since, fp = position.get("t"), position.get("fp")
        if not isinstance(since, int | float) or isinstance(since, bool) or not isinstance(fp, str):
            raise _bad_cursor()
        after = (float(since), fp)
    rows, last = service.page(
        ctx.session,
        states=state,
        service=service_,
        matchers=_filters(filter_),
        limit=limit,
        after=after,
    )
    config = configuration.current(ctx.session)
    next_cursor = encode_cursor({"t": last[0], "fp": last[1]}) if last else None
    return AlertPage(items=[_alert_out(r, config) for r in rows], next=next_cursor)


@router.get("/alerts/{fingerprint}")
def get_alert(fingerprint: Fingerprint, ctx: Viewer) -> AlertOut:
    """One alert, by the fingerprint of its labels."""
    row = service.get(ctx.session, fingerprint)
    if row is None:
        raise not_found("alert", fingerprint)
    return _alert_out(row, configuration.current(ctx.session))


def _seconds(value: dt.datetime | None, loc: list[str | int]) -> float | None:
    """Epoch seconds of an RFC 3339 time; Go's zero time (year 1) means none."""
    if value is None or value.year <= 1:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    try:
        return value.timestamp()
    except (OverflowError, ValueError, OSError):
        raise _invalid(loc, "time out of range") from None


def _invalid(loc: list[str | int], message: str) -> Problem:
    error = {"loc": loc, "msg": message, "type": "value_error"}
    where = ".".join(str(p) for p in loc)
    return Problem(422, "Invalid Request", f"{where}: {message}", errors=[error])


def _bind(ctx: Ctx, labels: dict[str, str], loc: list[str | int]) -> dict[str, str]:
    """Labels an ingest token bound to a service may report (``service`` added if absent)."""
    bound = ctx.principal.service
    if bound is None:
        return labels
    if labels.get("service", bound) != bound:
        raise Problem(
            403,
            "Forbidden",
            f"{'.'.join(map(str, loc))}.service is {labels['service']!r}, but this token "
            f"reports only {bound!r}'s alerts",
        )
    return {**labels, "service": bound}


def _report_all(ctx: Ctx, items: list[tuple[list[str | int], dict[str, Any]]]) -> Received:
    """Report every alert, in fingerprint order (so concurrent writers lock rows alike)."""
    prepared = []
    for loc, item in items:
        item["labels"] = _bind(ctx, item["labels"], loc)
        try:
            fp = fingerprint(check_labels(item["labels"]))
        except ValueError as exc:
            raise _invalid([*loc, "labels"], str(exc)) from None
        prepared.append((fp, loc, item))
    for _, loc, item in sorted(prepared, key=lambda p: p[0]):
        try:
            service.report(ctx.session, now=ctx.now, **item)
        except ValueError as exc:
            raise _invalid(loc, str(exc)) from None
    return Received(received=len(prepared), fingerprints=[p[0] for p in prepared])


@router.post("/alerts")
@router.post("/alertmanager/api/v2/alerts")
def post_alerts(body: list[PostableAlert], ctx: Ingest) -> Received:
    """Report alerts as Prometheus sends them to Alertmanager (``POST /api/v2/alerts``).

    An alert without ``endsAt`` stays active for 5 minutes unless posted again; one whose
    ``endsAt`` has passed is resolved. Prometheus configured with ``path_prefix:
    /api/v1/alertmanager`` posts to ``/api/v1/alertmanager/api/v2/alerts``."""
    if len(body) > 10_000:
        raise _invalid(["body"], "at most 10000 alerts per request")
    items = []
    for index, alert in enumerate(body):
        loc: list[str | int] = ["body", index]
        starts = _seconds(alert.starts_at, [*loc, "startsAt"])
        ends = _seconds(alert.ends_at, [*loc, "endsAt"])
        if starts is not None and ends is not None and ends < starts:
            raise _invalid([*loc, "endsAt"], "endsAt is before startsAt")
        item = {
            "labels": dict(alert.labels),
            "annotations": dict(alert.annotations),
            "active": True,
            "source": "api",
            "ends_at": ends,
            "starts_at": starts,
            "generator_url": alert.generator_url,
        }
        items.append((loc, item))
    return _report_all(ctx, items)


@router.post("/alertmanager/webhook")
def alertmanager_webhook(body: AlertmanagerWebhook, ctx: Ingest) -> Received:
    """Receive an Alertmanager webhook notification (payload version 4).

    Firing alerts stay firing until Alertmanager sends them resolved (keep its
    ``send_resolved: true``, the default); their source is ``alertmanager``."""
    items = []
    for index, alert in enumerate(body.alerts):
        loc: list[str | int] = ["body", "alerts", index]
        firing = alert.status == "firing"
        item = {
            "labels": dict(alert.labels),
            "annotations": dict(alert.annotations),
            "active": firing,
            "source": "alertmanager",
            "ends_at": None if firing else _seconds(alert.ends_at, [*loc, "endsAt"]),
            "starts_at": _seconds(alert.starts_at, [*loc, "startsAt"]),
            "generator_url": alert.generator_url,
            "resolve_timeout": None,
        }
        items.append((loc, item))
    return _report_all(ctx, items)


def _silence_out(row: SilenceRow, now: float) -> SilenceOut:
    return SilenceOut(
        id=row.id,
        matchers=[str(m) for m in row.matchers],
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        created_by=row.created_by,
        comment=row.comment,
        created_at=row.created_at,
        updated_at=row.updated_at,
        state=silencing.state(row, now),  # type: ignore[arg-type]
    )


def _silence_problem(exc: silencing.SilenceError) -> Problem:
    if exc.status == 422:
        field, _, message = str(exc).partition(": ")
        error = {"loc": ["body", field.split("[")[0]], "msg": message, "type": "value_error"}
        return Problem(422, "Invalid Request", f"body.{exc}", errors=[error])
    return Problem(exc.status, "Not Found" if exc.status == 404 else "Conflict", str(exc))


def _window(ctx: Ctx, body: SilenceIn | SilenceFromAlert) -> tuple[float | None, float]:
    if body.ends_at is not None:
        return body.starts_at, body.ends_at
    assert body.duration is not None
    try:
        seconds = parse_duration(body.duration, option="duration")
    except ValueError as exc:
        raise _invalid(["body", "duration"], str(exc).partition(": ")[2]) from None
    return body.starts_at, max(body.starts_at or ctx.now, ctx.now) + seconds


@router.post("/silences", status_code=201)
def create_silence(body: SilenceIn, ctx: Operator) -> SilenceOut:
    """Silence the alerts the matchers select, from ``starts_at`` (default now) to
    ``ends_at`` or for ``duration``."""
    starts, ends = _window(ctx, body)
    try:
        row = silencing.create(
            ctx, matchers=body.matchers, starts_at=starts, ends_at=ends, comment=body.comment
        )
    except silencing.SilenceError as exc:
        raise _silence_problem(exc) from None
    return _silence_out(row, ctx.now)


@router.post("/alerts/{fingerprint}/silence", status_code=201)
def silence_alert(fingerprint: Fingerprint, body: SilenceFromAlert, ctx: Operator) -> SilenceOut:
    """Silence exactly this alert: one ``name="value"`` matcher per label it has."""
    alert = service.get(ctx.session, fingerprint)
    if alert is None:
        raise not_found("alert", fingerprint)
    starts, ends = _window(ctx, body)
    try:
        row = silencing.create(
            ctx,
            matchers=exact(alert.labels),
            starts_at=starts,
            ends_at=ends,
            comment=body.comment,
            alert=fingerprint,
        )
    except silencing.SilenceError as exc:
        raise _silence_problem(exc) from None
    return _silence_out(row, ctx.now)


@router.get("/silences")
def list_silences(
    ctx: Viewer,
    state: Annotated[list[SilenceState], Query(description="repeat for several")] = [],  # noqa: B006
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: str | None = None,
) -> SilencePage:
    """Silences, newest first, optionally only those in some states."""
    after = None
    if cursor:
        position = decode_cursor(cursor)
        created, sid = position.get("t"), position.get("id")
        if (
            not isinstance(created, int | float)
            or isinstance(created, bool)
            or not isinstance(sid, str)
        ):
            raise _bad_cursor()
        after = (float(created), sid)
    rows, last = silencing.page(ctx.session, now=ctx.now, states=state, limit=limit, after=after)
    next_cursor = encode_cursor({"t": last[0], "id": last[1]}) if last else None
    return SilencePage(items=[_silence_out(r, ctx.now) for r in rows], next=next_cursor)


@router.get("/silences/{silence_id}")
def get_silence(silence_id: SilenceId, ctx: Viewer) -> SilenceOut:
    """One silence."""
    row = silencing.get(ctx.session, silence_id)
    if row is None:
        raise not_found("silence", silence_id)
    return _silence_out(row, ctx.now)


@router.delete("/silences/{silence_id}")
def expire_silence(silence_id: SilenceId, ctx: Operator) -> SilenceOut:
    """Expire a silence now (it stays listed as expired); 409 if it has ended already."""
    try:
        row = silencing.expire(ctx, silence_id)
    except silencing.SilenceError as exc:
        raise _silence_problem(exc) from None
    return _silence_out(row, ctx.now)


def _config_out(doc: configuration.Document, response: Response) -> AlertingConfigOut:
    response.headers["ETag"] = f'"{doc.version}"'
    return AlertingConfigOut(
        document=AlertingDocument.model_validate(doc.document),
        version=doc.version,
        default=doc.default,
        updated_at=doc.updated_at,
        updated_by=doc.updated_by,
    )


@router.get("/alerting/config")
def get_config(ctx: Viewer, response: Response) -> AlertingConfigOut:
    """The routing document in force (the default one until a document is stored)."""
    return _config_out(configuration.load(ctx.session), response)


@router.put(
    "/alerting/config",
    responses={412: {"description": "If-Match names an older version", "content": _PROBLEM}},
)
def put_config(
    body: AlertingDocument,
    ctx: Operator,
    response: Response,
    if_match: Annotated[str | None, Header(max_length=40)] = None,
) -> AlertingConfigOut:
    """Replace the routing document; 422 names the path of what is wrong. Send the ETag
    of the version you edited as ``If-Match`` to refuse (412) overwriting a newer one."""
    version = None
    if if_match is not None and if_match.strip() != "*":
        try:
            version = int(if_match.strip().removeprefix("W/").strip('"'))
        except ValueError:
            raise Problem(
                412, "Precondition Failed", 'If-Match must be an ETag such as "3"'
            ) from None
    try:
        doc = configuration.replace(ctx, stored(body), if_match=version)
    except ConfigError as exc:
        loc: list[str | int] = ["body", *exc.path]
        raise _invalid(loc, exc.message) from None
    except configuration.VersionMismatch as exc:
        raise Problem(412, "Precondition Failed", str(exc)) from None
    return _config_out(doc, response)


@router.get("/alerting/groups")
def list_groups(
    ctx: Viewer,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: str | None = None,
) -> GroupPage:
    """The aggregation groups the dispatcher holds, with their alerts and next flush."""
    after = None
    if cursor:
        after = decode_cursor(cursor).get("after")
        if not isinstance(after, str):
            raise _bad_cursor()
    found, last = dispatch.groups_page(ctx.session, limit=limit, after=after)
    items = [
        GroupOut(
            group_key=g.group_key,
            receiver=g.receiver,
            group_labels=dict(g.group_labels),
            alerts=fps,
            created_at=g.created_at,
            next_flush_at=g.next_flush_at,
            flushed_at=g.flushed_at,
        )
        for g, fps in found
    ]
    return GroupPage(items=items, next=encode_cursor({"after": last}) if last else None)
