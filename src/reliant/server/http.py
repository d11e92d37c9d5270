"""HTTP plumbing shared by every route: RFC 9457 problems, the request context, cursors.

A route declares what it needs with one annotation — ``ctx: Viewer``, ``Operator``,
``Admin`` or ``Ingest`` — and receives a :class:`Ctx`: the authenticated principal, a
session inside the request's transaction (committed when the route returns, rolled back
when it raises), the settings and the time. Routes call ``service.py`` use cases with
``ctx.session``; use cases never commit.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from reliant.server.auth import audit, cookies
from reliant.server.auth.roles import Role, allows
from reliant.server.auth.tokens import Principal, verify
from reliant.server.events import Severity, append
from reliant.server.settings import Settings

log = logging.getLogger("reliant.server")

PROBLEM_JSON = "application/problem+json"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Problem(Exception):
    """An error answered as ``application/problem+json`` (RFC 9457).

    Args:
        status: HTTP status code.
        title: short, fixed summary of the problem type.
        detail: what went wrong this time and how to fix it.
        extra: further members (e.g. ``errors``, ``retry_after``).
    """

    def __init__(self, status: int, title: str, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.extra = extra

    def response(self, instance: str = "") -> JSONResponse:
        """The problem as a response."""
        body: dict[str, Any] = {"type": "about:blank", "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else None
        return JSONResponse(body, status_code=self.status, media_type=PROBLEM_JSON, headers=headers)


def not_found(kind: str, name: str) -> Problem:
    """The 404 for a named object that does not exist."""
    return Problem(404, "Not Found", f"no {kind} named {name!r}")


def conflict(detail: str) -> Problem:
    """The 409 for a request that clashes with the current state."""
    return Problem(409, "Conflict", detail)


#: Error statuses every API operation may answer, documented as problems in OpenAPI.
PROBLEM_RESPONSES = {
    "400": "Bad Request: a malformed parameter or cursor",
    "401": "Unauthorized: no valid token",
    "403": "Forbidden: the token's role does not allow this",
    "404": "Not Found",
    "409": "Conflict with the current state",
    "413": "Content Too Large",
    "422": "Invalid Request: the body or a parameter failed validation",
}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An RFC 9457 problem document.",
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
    "required": ["type", "title", "status"],
}


def document_problems(app: FastAPI) -> None:
    """Make the OpenAPI document say what errors really look like: problem documents."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = PROBLEM_SCHEMA
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for status, description in PROBLEM_RESPONSES.items():
                    responses[status] = {"description": description, "content": problem}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error — ours, validation, routing, unexpected — as a problem document."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return exc.response(request.url.path)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:5])
        problem = Problem(422, "Invalid Request", where, errors=errors)
        return problem.response(request.url.path)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        problem = Problem(exc.status_code, _reason(exc.status_code), str(exc.detail or ""))
        return problem.response(request.url.path)

    async def on_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        problem = Problem(500, "Internal Server Error", "see the server log for details")
        return problem.response(request.url.path)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_error)
    document_problems(app)


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


@dataclass(slots=True)
class Ctx:
    """What a route works with: who calls, the transaction, settings and the time."""

    session: Session
    principal: Principal
    settings: Settings
    now: float

    def audit(
        self,
        action: str,
        target_kind: str,
        target_id: str,
        *,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        """Record this mutation in the audit log, in the request's transaction."""
        audit.record(
            self.session,
            actor=self.principal,
            action=action,
            target_kind=target_kind,
            target_id=target_id,
            now=self.now,
            before=before,
            after=after,
        )

    def event(
        self,
        kind: str,
        *,
        service: str | None = None,
        severity: Severity = Severity.INFO,
        attributes: dict[str, Any] | None = None,
    ) -> None:
        """Append an event to the log, in the request's transaction, as this principal."""
        append(
            self.session,
            kind=kind,
            now=self.now,
            service=service,
            severity=severity,
            source=self.principal.name,
            attributes=attributes,
        )


def state_session(request: Request) -> Iterator[Session]:
    """A session in a transaction committed when the route returns (before the response)."""
    factory: sessionmaker[Session] = request.app.state.sessions
    with factory() as session, session.begin():
        yield session


SessionDep = Annotated[Session, Depends(state_session, scope="function")]


def authenticate(request: Request, session: Session) -> Principal:
    """The principal presenting a bearer token or a web session cookie.

    Raises:
        Problem: 401 without valid credentials; 403 when a cookie-authenticated unsafe
            request lacks the session's CSRF token.
    """
    settings: Settings = request.app.state.settings
    now = settings.now()
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, raw = header.partition(" ")
        principal = verify(session, raw, now=now) if scheme.lower() == "bearer" else None
        if principal is None:
            raise Problem(401, "Unauthorized", "the bearer token is unknown, revoked or malformed")
        return principal
    web = cookies.session_from_request(session, request, now=now)
    if web is None:
        raise Problem(
            401,
            "Unauthorized",
            "send 'Authorization: Bearer <token>' (create tokens with `reliant tokens create`)",
        )
    principal, csrf = web
    if request.method not in SAFE_METHODS and not cookies.csrf_matches(request, csrf):
        raise Problem(403, "Forbidden", "missing or wrong CSRF token (X-CSRF-Token header)")
    return principal


def requires(role: Role) -> Callable[..., Ctx]:
    """A dependency giving a :class:`Ctx` to principals whose role allows ``role``."""

    def dependency(request: Request, session: SessionDep) -> Ctx:
        principal = authenticate(request, session)
        if not allows(principal.role, role):
            raise Problem(
                403, "Forbidden", f"this needs the {role} role; the token has {principal.role}"
            )
        settings: Settings = request.app.state.settings
        return Ctx(session=session, principal=principal, settings=settings, now=settings.now())

    return dependency


Viewer = Annotated[Ctx, Depends(requires(Role.VIEWER))]
Operator = Annotated[Ctx, Depends(requires(Role.OPERATOR))]
Admin = Annotated[Ctx, Depends(requires(Role.ADMIN))]
Ingest = Annotated[Ctx, Depends(requires(Role.INGEST))]


def encode_cursor(position: dict[str, Any]) -> str:
    """An opaque cursor for the next page."""
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str) -> dict[str, Any]:
    """The position an opaque cursor stands for.

    Raises:
        Problem: 400 when the cursor was not made by :func:`encode_cursor`.
    """
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        value = None
    if not isinstance(value, dict):
        raise Problem(400, "Bad Request", "the cursor is malformed: pass back `next` unchanged")
    return value


class BodyLimit:
    """ASGI middleware answering 413 to request bodies over ``limit`` bytes.

    A declared ``Content-Length`` over the limit is refused before reading; a body without
    one (chunked) is read first — at most ``limit`` bytes are held — and refused as soon as it
    passes the limit, then replayed to the app.
    """

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None:
            try:
                too_big = int(declared) > self.limit
            except ValueError:
                too_big = False  # the server rejects a malformed length itself
            if too_big:
                await self._refuse(scope, send)
                return
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # disconnected: let the app see it
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.limit:
                await self._refuse(scope, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Any, send: Any) -> None:
        problem = Problem(
            413,
            "Content Too Large",
            f"the request body is over {self.limit} bytes; send smaller batches",
        )
        await problem.response(scope.get("path", ""))(scope, _no_body, send)


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON Schema with its ``$defs`` inlined, for ``openapi_extra``."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return dict(resolve(schema))
