"""The control-plane application: ``create_app(settings)`` wires store, routes and jobs."""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from reliant.server.auth import Role
from reliant.server.auth import tokens as token_store
from reliant.server.db import make_engine, session_factory, transaction, upgrade
from reliant.server.http import BodyLimit, install_problem_handlers
from reliant.server.jobs import HISTORY_JOB, Job, JobRunner
from reliant.server.settings import Settings
from reliant.server.streams import Closing, hook_signals
from reliant.server.web import mount as mount_web

log = logging.getLogger("reliant.server")

#: Modules exposing ``router`` (an APIRouter); a new domain adds its api/views module here.
ROUTER_MODULES: tuple[str, ...] = (
    "reliant.server.auth.api",
    "reliant.server.jobs_api",
    "reliant.server.domains.catalog.api",
    "reliant.server.events.api",
    "reliant.server.domains.telemetry.api",
    "reliant.server.domains.config.api",
    "reliant.server.domains.spec.api",
    "reliant.server.domains.alerts.api",
    "reliant.server.domains.slo.api",
    "reliant.server.domains.notify.api",
    "reliant.server.domains.incidents.api",
    "reliant.server.domains.oncall.api",
    "reliant.server.domains.runbooks.api",
    "reliant.server.domains.postmortems.api",
    "reliant.server.domains.oncall.views",
    "reliant.server.web.login",
    "reliant.server.web.views",
    "reliant.server.web.admin",
    "reliant.server.domains.catalog.views",
    "reliant.server.domains.slo.views",
    "reliant.server.domains.alerts.views",
    "reliant.server.domains.notify.views",
    "reliant.server.domains.incidents.views",
    "reliant.server.domains.runbooks.views",
    "reliant.server.domains.postmortems.views",
)
#: Modules exposing ``jobs(settings) -> list[Job]``; a new domain adds its jobs module here.
JOB_MODULES: tuple[str, ...] = (
    "reliant.server.events.jobs",
    "reliant.server.domains.telemetry.jobs",
    "reliant.server.domains.alerts.jobs",
    "reliant.server.domains.slo.jobs",
    "reliant.server.domains.notify.jobs",
    "reliant.server.domains.incidents.jobs",
    "reliant.server.domains.oncall.jobs",
    "reliant.server.domains.runbooks.jobs",
    "reliant.server.domains.postmortems.jobs",
)
BOOTSTRAP_TOKEN_NAME = "bootstrap-admin"


def collect_jobs(settings: Settings) -> list[Job]:
    """Every background job of every domain."""
    jobs: list[Job] = [HISTORY_JOB]
    for name in JOB_MODULES:
        module: Any = importlib.import_module(name)
        jobs.extend(module.jobs(settings))
    if unknown := sorted(set(settings.job_intervals) - {job.name for job in jobs}):
        raise ValueError(
            f"Settings: job_intervals names unknown jobs {unknown}; "
            f"the jobs are {sorted(job.name for job in jobs)}"
        )
    return [
        replace(job, interval=settings.job_intervals[job.name])
        if job.name in settings.job_intervals
        else job
        for job in jobs
    ]


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the control plane: migrate the store, make the first admin token, mount routes.

    The first admin token is created only on an empty store; when it was generated (not given
    by ``settings.bootstrap_token``) its plaintext is on ``app.state.bootstrap_token`` for the
    caller to show once.
    """
    settings = settings or Settings.from_env()
    engine = make_engine(settings.url)
    try:
        upgrade(engine)
        sessions = session_factory(engine)
        bootstrap_token = bootstrap(settings, sessions)
    except BaseException:
        engine.dispose()
        raise
    runner = JobRunner(sessions, collect_jobs(settings), now=settings.now, ttl=settings.lease_ttl)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        closing = app.state.streams_closing = Closing()
        restore = hook_signals(closing.close)
        if settings.run_jobs:
            runner.start()
        try:
            yield
        finally:
            closing.close()
            restore()
            runner.stop()
            engine.dispose()

    app = FastAPI(
        title="reliant control plane",
        version=_version(),
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.jobs = runner
    app.state.bootstrap_token = bootstrap_token
    install_problem_handlers(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)

    @app.get("/livez", include_in_schema=False)
    def livez() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            log.warning("readyz: store unreachable: %s", exc)
            body = {"status": "unavailable", "checks": {"store": f"unreachable: {exc}"}}
            return JSONResponse(body, status_code=503)
        return JSONResponse({"status": "ok", "checks": {"store": "ok"}})

    for name in ROUTER_MODULES:
        app.include_router(importlib.import_module(name).router)
    mount_web(app)  # the web UI: static files, security headers, HTML error pages
    return app


def bootstrap(settings: Settings, sessions: sessionmaker[Session]) -> str | None:
    """Create the first admin token on an empty store; return its plaintext if generated."""
    with transaction(sessions) as session:
        if token_store.any_exist(session):
            return None
        try:
            with session.begin_nested():
                _, raw = token_store.issue(
                    session,
                    name=BOOTSTRAP_TOKEN_NAME,
                    role=Role.ADMIN,
                    now=settings.now(),
                    created_by="system:bootstrap",
                    raw=settings.bootstrap_token,
                )
        except IntegrityError:
            return None  # another replica made it at the same moment
    return None if settings.bootstrap_token else raw


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("reliant")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"
