"""Executing one claimed step, outside any database transaction the job holds.

``execute`` dispatches on the step's kind and answers an :class:`Outcome`; it never
raises for the step's own failures (a refused connection, a non-zero exit) — they are
failed outcomes. Outputs are capped and masked here, before anything is stored.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from reliant._core.durations import parse_duration
from reliant.server.auth import Role
from reliant.server.auth.tokens import Principal
from reliant.server.domains import config, slo, telemetry
from reliant.server.domains.runbooks import allowlist, shell
from reliant.server.domains.runbooks.masking import OUTPUT_LIMIT, Masker, capped
from reliant.server.http import Ctx
from reliant.server.settings import Settings
from reliant.spec.models import HttpStep, RunbookStep, SdkStep, ShellStep, WaitUntilStep
from reliant.spec.runbooks import SLO_METRICS, TELEMETRY_METRICS, parse_condition

#: Bytes of a response read at most (what is kept is capped at ``OUTPUT_LIMIT``).
MAX_READ = 16 * 1024 * 1024
#: Longest one wait-until probe may take, in seconds.
PROBE_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class Claim:
    """A step claimed for one execution (or one probe of a wait-until step).

    Attributes:
        run_id, row_id: the run and the step's row.
        token: the claim, checked when the outcome is recorded.
        step: the step as the runbook declares it.
        rendered: the step with its templates filled in (secrets in clear: never stored).
        secrets: secret parameter values, to mask.
        service: the run's service.
    """

    run_id: int
    row_id: int
    token: str
    step: RunbookStep
    rendered: Mapping[str, Any]
    secrets: tuple[str, ...]
    service: str | None
    timeout: float = 60.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """What came of an execution; for a probe, ``succeeded`` means the condition held.

    ``fatal`` ends a wait-until step at once (it can never hold: no such SLO).
    """

    succeeded: bool
    output: str | None = None
    error: str | None = None
    fatal: bool = False


def execute(
    claim: Claim,
    *,
    engine: Engine,
    settings: Settings,
    cancelled: threading.Event,
    env: Mapping[str, str] | None = None,
) -> Outcome:
    """Run the claimed step once and say how it went."""
    step = claim.step
    masker = Masker(claim.secrets)
    if isinstance(step, HttpStep):
        return http_step(claim.rendered, claim.timeout, masker)
    if isinstance(step, ShellStep):
        return shell_step(claim.rendered, claim.timeout, cancelled, masker, env)
    if isinstance(step, SdkStep):
        return sdk_step(step, claim, engine, settings)
    if isinstance(step, WaitUntilStep):
        return probe(step, claim, engine, settings, masker)
    return Outcome(False, error=f"a {step.kind} step is not executed by the server")


def _request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    body: str | None,
    timeout: float,
    masker: Masker,
) -> tuple[int, str]:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"the URL must start with http:// or https://, got {url[:100]!r}")
    with (
        httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client,
        client.stream(method, url, headers=dict(headers), content=body) as response,
    ):
        kept = bytearray()
        total = 0
        keep = OUTPUT_LIMIT + masker.longest
        for chunk in response.iter_bytes():
            total += len(chunk)
            if len(kept) < keep:
                kept += chunk[: keep - len(kept)]
            if total >= MAX_READ:
                break
        text = capped(bytes(kept), total, masker)
        return response.status_code, f"HTTP {response.status_code} {response.reason_phrase}\n{text}"


def _expected(status: int, expect: list[int]) -> bool:
    return status in expect if expect else 200 <= status < 300


def http_step(rendered: Mapping[str, Any], timeout: float, masker: Masker) -> Outcome:
    """Send the request; it succeeds on an expected status."""
    try:
        status, output = _request(
            rendered["method"],
            rendered["url"],
            headers=rendered["headers"],
            body=rendered["body"],
            timeout=timeout,
            masker=masker,
        )
    except (httpx.HTTPError, ValueError) as exc:
        return Outcome(False, error=masker.text(f"{type(exc).__name__}: {exc}"))
    if _expected(status, rendered["expect_status"]):
        return Outcome(True, output)
    wanted = rendered["expect_status"] or "any 2xx"
    return Outcome(False, output, f"status {status}, expected {wanted}")


def shell_step(
    rendered: Mapping[str, Any],
    timeout: float,
    cancelled: threading.Event,
    masker: Masker,
    env: Mapping[str, str] | None,
) -> Outcome:
    """Run the command; it succeeds on exit status 0."""
    command = list(rendered["command"])
    allowed = allowlist.read(env)
    executable = allowed.resolve(command[0])
    if executable is None:
        return Outcome(False, error=allowed.refusal(command[0]))
    try:
        done = shell.run(
            [executable, *command[1:]],
            env=rendered["env"],
            timeout=timeout,
            cancelled=cancelled,
            masker=masker,
        )
    except OSError as exc:
        return Outcome(False, error=f"cannot run {executable}: {exc}")
    if done.reason is not None:
        return Outcome(False, done.output, done.reason)
    if done.status != 0:
        return Outcome(False, done.output, f"exit status {done.status}")
    return Outcome(True, done.output)


def sdk_step(step: SdkStep, claim: Claim, engine: Engine, settings: Settings) -> Outcome:
    """Set or remove an override in the service's config document (its SDK obeys)."""
    service = step.service or claim.service
    if service is None:
        return Outcome(False, error="no service to act on: name it in the step or the runbook")
    with Session(engine) as session, session.begin():
        principal = Principal("", f"runbook:{claim.run_id}", Role.OPERATOR)
        ctx = Ctx(session, principal, settings, settings.now())
        changed = _override(ctx, step, service)
        version = config.version(session, service)
    said = "set" if changed else "already so"
    return Outcome(
        True, f"{step.action} {step.target} of {service}: {said} (config version {version})"
    )


def _override(ctx: Ctx, step: SdkStep, service: str) -> bool:
    action, name = step.action, step.target
    if action in ("close", "reset_rate"):
        kind = "breakers" if action == "close" else "limiters"
        try:
            config.remove_override(ctx, service, kind, name)
        except config.ConfigNotFoundError:
            return False
        return True
    if action == "set_rate":
        value: dict[str, Any] = {"rate": step.rate}
        value.update({k: v for k, v in (("per", step.per), ("burst", step.burst)) if v is not None})
        kind = "limiters"
    elif action in ("fault_on", "fault_off"):
        kind, value = "faults", {"enabled": action == "fault_on"}
    else:
        kind = "breakers"
        value = {"state": "forced_open" if action == "force_open" else "disabled"}
    return config.set_override(ctx, service, kind, name, value)[1]


def probe(
    step: WaitUntilStep, claim: Claim, engine: Engine, settings: Settings, masker: Masker
) -> Outcome:
    """Look once: does the wait-until condition hold now?"""
    timeout = min(claim.timeout, PROBE_TIMEOUT)
    if step.url is not None:
        rendered = claim.rendered
        try:
            status, output = _request(
                rendered["method"],
                rendered["url"],
                headers={},
                body=None,
                timeout=timeout,
                masker=masker,
            )
        except (httpx.HTTPError, ValueError) as exc:
            return Outcome(False, masker.text(f"{type(exc).__name__}: {exc}"))
        wanted = rendered["body_contains"]
        met = _expected(status, rendered["expect_status"]) and (not wanted or wanted in output)
        return Outcome(met, output)
    assert step.condition is not None
    with Session(engine) as session, session.begin():
        now = settings.now()
        metrics: tuple[str, ...]
        if step.slo is not None:
            found = _slo_metrics(session, step.slo, now)
            metrics = SLO_METRICS
        else:
            assert step.operation is not None
            service = step.service or claim.service or ""
            found = _telemetry_metrics(session, service, step.operation, step.window, now)
            metrics = TELEMETRY_METRICS
    if isinstance(found, str):
        return Outcome(False, error=found, fatal=True)
    condition = parse_condition(step.condition, metrics)
    value = found[condition.metric]
    shown = "unknown (no calls)" if value is None else f"{value:.6g}"
    return Outcome(condition.holds(value), f"{condition.metric} = {shown}; waiting for {condition}")


def _slo_metrics(session: Session, name: str, now: float) -> dict[str, float | None] | str:
    try:
        status = slo.slo_status(session, name, now)
    except slo.SLONotFound:
        return f"no SLO named {name!r}"
    found = status.assessment
    if found is None:
        return f"SLO {name!r} is not evaluated by reliant: {status.reason}"
    return {
        "budget_remaining": found.budget.remaining,
        "burn_rate_1h": found.burn_1h,
        "burn_rate_period": found.burn_period,
        "error_ratio": found.counted.ratio,
    }


def _telemetry_metrics(
    session: Session, service: str, operation: str, window: str, now: float
) -> dict[str, float | None]:
    since = now - parse_duration(window, option="window")
    cells = [
        cell
        for _, cell in telemetry.cells(
            session, service, since=since, until=now, operations=[operation]
        )
    ]
    good, total = telemetry.good_total(cells, since=-math.inf, until=math.inf)
    return {
        "error_ratio": telemetry.error_ratio(good, total),
        "requests": float(total),
        "errors": float(total - good),
    }
