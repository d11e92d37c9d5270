"""Routes of telemetry: the SDK's ingest endpoint and the read API of rollups and instances."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from reliant.agent.protocol import INGEST_PATH, MAX_BATCH_BYTES
from reliant.server.db.text import unstorable
from reliant.server.domains.config import OBJECT_NAME_PATTERN
from reliant.server.domains.telemetry import reader
from reliant.server.domains.telemetry import service as use_cases
from reliant.server.domains.telemetry.reader import Batch
from reliant.server.domains.telemetry.schemas import (
    Accepted,
    BatchIn,
    Counts,
    InstanceOut,
    InstancePage,
    TelemetryOut,
)
from reliant.server.domains.telemetry.wire import (
    BodyDecoder,
    Malformed,
    TooLarge,
    encoding_of,
    wire_limit,
)
from reliant.server.http import (
    Ctx,
    Ingest,
    Problem,
    Viewer,
    decode_cursor,
    encode_cursor,
    inline_schema,
)
from reliant.spec.models import NAME_PATTERN

router = APIRouter(prefix="/api/v1", tags=["telemetry"])

#: Largest page any list endpoint returns.
MAX_PAGE = 500
#: Seconds of telemetry read when the caller gives no ``since``.
DEFAULT_RANGE = 3600.0
#: Latest time a query may name (year 5138), and the widest step (a leap year).
MAX_TIME = 1e11
MAX_STEP = 366 * 86400

ServiceName = Annotated[str, Path(pattern=NAME_PATTERN, max_length=100)]


_BATCH_BODY = {
    "requestBody": {
        "required": True,
        "description": "The batch; `Content-Encoding: gzip` or identity. "
        f"At most {MAX_BATCH_BYTES} bytes once decompressed.",
        "content": {"application/json": {"schema": inline_schema(BatchIn)}},
    }
}


def _bad(detail: str, **extra: Any) -> Problem:
    return Problem(400, "Bad Request", detail, **extra)


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(body)"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


#: Escapes that decode to unstorable text (checked first: most bodies have none).
_SUSPECT = re.compile(rb"\\u(0000|[dD][89a-fA-F])")


def _careful(body: bytes) -> bool:
    """Whether a body must go down the careful path: it holds the constants Python's JSON
    reader accepts but JSON does not (NaN, Infinity), or suspect escapes.

    Three scans for literals (a regex with a leading literal skips ahead as fast), where one
    alternation would try every byte.
    """
    return b"NaN" in body or b"Infinity" in body or _SUSPECT.search(body) is not None


async def _read_body(request: Request) -> bytes:
    """The request body, decoded, within the batch limit.

    Raises:
        Problem: 415 for an unsupported encoding, 413 over the limit, 400 for bad gzip.
    """
    encoding = encoding_of(request.headers.get("content-encoding"))
    if encoding is None:
        raise Problem(
            415,
            "Unsupported Media Type",
            "Content-Encoding must be gzip or identity (leave it out for identity)",
        )
    media = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if media.lower() != "application/json":
        raise Problem(415, "Unsupported Media Type", "send the batch as application/json")
    too_large = Problem(
        413,
        "Content Too Large",
        f"a batch may hold at most {MAX_BATCH_BYTES} bytes once decompressed; send smaller "
        "batches more often",
    )
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > wire_limit(encoding):
        raise too_large
    decoder = BodyDecoder(encoding)
    try:
        async for chunk in request.stream():
            decoder.feed(chunk)
        return decoder.finish()
    except TooLarge:
        raise too_large from None
    except Malformed as exc:
        raise _bad(str(exc)) from None


def parse_batch(body: bytes) -> Batch:
    """Validate a decoded body as a batch.

    Raises:
        Problem: 400 naming the path of the first bad member (all of them in ``errors``).
    """
    if not _careful(body):
        # The common case, parsed and validated in one pass; a batch it refuses is read
        # again below, which accepts what pydantic coerces and says what is wrong.
        batch = reader.read(body)
        if batch is not None:
            return batch
    try:
        value = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise _bad(f"the body is not JSON: {exc}") from None
    if _SUSPECT.search(body) and unstorable(value):
        raise _bad("strings may not hold NUL characters (\\u0000) or lone surrogates")
    try:
        return reader.from_model(BatchIn.model_validate(value))
    except ValidationError as exc:
        errors = [{"path": _path(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        where = "; ".join(f"{e['path']}: {e['msg']}" for e in errors[:5])
        raise _bad(where, errors=errors) from None


@router.post(INGEST_PATH.removeprefix("/api/v1"), status_code=202, openapi_extra=_BATCH_BODY)
async def ingest(request: Request, ctx: Ingest) -> Accepted:
    """Accept an SDK batch: telemetry merged into rollups, events into the event log.

    The batch is one transaction: on any error nothing of it is stored.
    """
    points, events = await run_in_threadpool(_store, ctx, await _read_body(request))
    return Accepted(accepted=Counts(telemetry=points, events=events))


def _store(ctx: Ctx, body: bytes) -> tuple[int, int]:
    """Parse, authorise and store a batch (one trip to a worker thread for all three)."""
    batch = parse_batch(body)
    bound = ctx.principal.service
    if bound is not None and bound != batch.service:
        raise Problem(
            403,
            "Forbidden",
            f"this ingest token is bound to service {bound!r}; it cannot push for "
            f"{batch.service!r}",
        )
    return use_cases.ingest(ctx.session, batch, now=ctx.now)


@router.get("/services/{service}/telemetry")
def read_telemetry(
    service: ServiceName,
    ctx: Viewer,
    since: Annotated[float | None, Query(ge=0, le=MAX_TIME)] = None,
    until: Annotated[float | None, Query(ge=0, le=MAX_TIME)] = None,
    operation: Annotated[str | None, Query(pattern=OBJECT_NAME_PATTERN)] = None,
    step: Annotated[int | None, Query(ge=1, le=MAX_STEP)] = None,
) -> TelemetryOut:
    """A service's calls per operation and outcome: counts, error ratio, p50/p95/p99.

    ``since`` defaults to an hour before ``until`` (default: now); ``step`` (seconds, a
    multiple of the 10 s bucket) defaults to about 360 points over the range.
    """
    end = ctx.now if until is None else until
    start = max(0.0, end - DEFAULT_RANGE) if since is None else since
    try:
        out = use_cases.series(
            ctx.session,
            service,
            since=start,
            until=end,
            step=step or use_cases.default_step(start, end),
            operation=operation,
        )
    except ValueError as exc:
        raise _bad(str(exc)) from None
    return TelemetryOut.model_validate(out)


@router.get("/services/{service}/instances")
def list_instances(
    service: ServiceName,
    ctx: Viewer,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: str | None = None,
) -> InstancePage:
    """A service's SDK instances, most recently seen first, with their drop counters."""
    after = None
    if cursor:
        position = decode_cursor(cursor)
        seen, name = position.get("seen"), position.get("instance")
        if not isinstance(seen, int | float) or not isinstance(name, str):
            raise _bad("the cursor is malformed: pass back `next` unchanged")
        after = (float(seen), name)
    rows, last = use_cases.instances(ctx.session, service, limit=limit, after=after)
    items = [
        InstanceOut(
            instance=r.instance,
            sdk=r.sdk,
            first_seen=r.first_seen,
            last_seen=r.last_seen,
            dropped=r.dropped,
        )
        for r in rows
    ]
    next_cursor = encode_cursor({"seen": last[0], "instance": last[1]}) if last else None
    return InstancePage(items=items, next=next_cursor)
