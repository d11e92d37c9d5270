"""The ``runbooks.execute`` job: claim what runs next, run it in threads, record it.

Each tick, in the job's transaction, it looks at every active run's current step: a step
that waits for a person is parked (``waiting``), a runnable one is claimed (``running``,
a claim token and ``claimed_until``). Once that transaction has committed — so no
database lock is held while a step runs — each claim runs in its own thread (at most
:data:`WORKERS` at once per replica) and its outcome is recorded in a new transaction,
which moves the run on.

While steps run, a heartbeat renews their claims every :data:`HEARTBEAT` seconds and
notices cancelled runs (their commands are killed). A claim that expired belongs to a
replica that died mid-step: the step is run again when that is harmless (see
:func:`flow.idempotent`), and fails with "interrupted by a server restart" otherwise.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine, event, select, update
from sqlalchemy.orm import Session

from reliant._core.durations import parse_duration
from reliant.server.domains.runbooks import flow, progress, rendering, service
from reliant.server.domains.runbooks.models import RunRow, StepRow
from reliant.server.domains.runbooks.steps import Claim, Outcome, execute
from reliant.server.settings import Settings
from reliant.spec.models import RunbookStep, WaitUntilStep

log = logging.getLogger("reliant.server.runbooks")

#: Steps one replica runs at once.
WORKERS = 8
#: Seconds a claim lasts without renewal (a dead replica's steps are picked up after it).
CLAIM_SECONDS = 20.0
#: Seconds between two renewals of the claims of running steps.
HEARTBEAT = 5.0
#: Active runs looked at per tick.
BATCH = 200
#: Why a step that is not safe to repeat failed after its replica died.
INTERRUPTED = "interrupted by a server restart"


class Executor:
    """Runs runbook steps; ``run(session, now)`` is the job's body.

    Args:
        settings: the server's settings (its clock, for SDK actions' audit records).
        env: where the executables' allow-list is read (``os.environ`` when omitted).
        workers: steps run at once.
        heartbeat: seconds between two renewals of running steps' claims.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        env: Mapping[str, str] | None = None,
        workers: int = WORKERS,
        heartbeat: float = HEARTBEAT,
    ) -> None:
        self.settings = settings
        self.env = env
        self.workers = workers
        self.heartbeat = heartbeat
        self._lock = threading.Condition()
        self._running: dict[str, threading.Event] = {}
        self._heart: threading.Thread | None = None

    # -- the tick --------------------------------------------------------------------

    def run(self, session: Session, now: float) -> None:
        """One tick: park, claim, recover; run the claims once the transaction commits."""
        claims = self.claim(session, now)
        if not claims:
            return
        engine = session.get_bind()
        assert isinstance(engine, Engine)
        with self._lock:
            for claim in claims:
                self._running[claim.token] = threading.Event()

        # Marks the transaction's end; listeners cannot be removed while they are dispatched.
        settled: list[bool] = []

        def after_commit(_: Session) -> None:
            if not settled:
                settled.append(True)
                self.launch(engine, claims)

        def after_rollback(_: Session, previous: Any) -> None:
            if settled or previous.parent is not None:
                return  # handled, or a savepoint rolled back: the transaction goes on
            settled.append(False)
            with self._lock:
                for claim in claims:
                    self._running.pop(claim.token, None)
                self._lock.notify_all()

        event.listen(session, "after_commit", after_commit)
        event.listen(session, "after_soft_rollback", after_rollback)

    def claim(self, session: Session, now: float) -> list[Claim]:
        """Claim the steps to run now (in ``session``'s transaction)."""
        enabled = service.automation(session)["enabled"]
        with self._lock:
            free = self.workers - len(self._running)
        query = (
            select(RunRow)
            .where(RunRow.state.in_(("pending", "running")))  # waiting ones move by API
            .order_by(RunRow.id)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
        claims: list[Claim] = []
        for run in session.scalars(query):
            row = session.scalar(
                select(StepRow)
                .where(StepRow.run_id == run.id, StepRow.position == run.position)
                .with_for_update()
            )
            if row is None:  # a run with no step left: end it
                progress.finish_run(session, run, now, "succeeded")
                continue
            try:
                step = progress.spec_of(run).steps[run.position]
            except ValidationError as exc:  # stored by a version that allowed more
                error = f"the runbook stored with this run is no longer valid: {exc}"
                progress.finish_run(session, run, now, "failed", error=error)
                continue
            if row.state == "running":
                if row.claimed_until is not None and row.claimed_until < now:
                    self._recover(session, run, row, step, now)
            elif row.state == "pending" and enabled:
                if row.needs_approval and row.decided_by is None:
                    reason = "a destructive step: an operator approves it before it runs"
                    progress.wait(session, run, row, step, now, reason=reason)
                elif step.kind in ("manual", "approval"):
                    reason = (
                        "a person completes it" if step.kind == "manual" else "an approval gate"
                    )
                    progress.wait(session, run, row, step, now, reason=reason)
                elif free > len(claims):
                    progress.start_step(session, run, row, step, now)
                    claims.append(self._claim(run, row, step, now))
            elif row.state == "polling" and (row.next_at or 0.0) <= now and free > len(claims):
                claims.append(self._claim(run, row, step, now))
        return claims

    def _claim(self, run: RunRow, row: StepRow, step: RunbookStep, now: float) -> Claim:
        row.state = "running"
        row.claim = uuid.uuid4().hex
        row.claimed_until = now + CLAIM_SECONDS
        spec = progress.spec_of(run)
        values = rendering.values(
            spec,
            {**run.params, **run.secrets},
            run_id=run.id,
            runbook=run.runbook,
            service=run.service,
            incident=run.incident,
            masked=False,
        )
        return Claim(
            run_id=run.id,
            row_id=row.id,
            token=row.claim,
            step=step,
            rendered=rendering.rendered(step, values),
            secrets=tuple(str(v) for v in run.secrets.values()),
            service=run.service,
            timeout=parse_duration(step.timeout, option="timeout"),
        )

    def _recover(
        self, session: Session, run: RunRow, row: StepRow, step: RunbookStep, now: float
    ) -> None:
        """A claim expired: its replica died mid-step."""
        log.warning("run %s step %s: its replica died mid-step", run.id, row.step_id)
        row.claim = None
        row.claimed_until = None
        if isinstance(step, WaitUntilStep):
            row.state, row.next_at = "polling", now
        elif flow.idempotent(step):
            row.state = "pending"  # started again (a new attempt) at the next tick
        else:
            progress.finish_step(session, run, row, step, now, succeeded=False, error=INTERRUPTED)

    # -- the threads -----------------------------------------------------------------

    def launch(self, engine: Engine, claims: list[Claim]) -> None:
        """Run each claim in its own thread; keep their claims alive meanwhile."""
        for claim in claims:
            worker = threading.Thread(
                target=self._work,
                args=(engine, claim),
                name=f"reliant-runbook-{claim.run_id}",
                daemon=True,
            )
            worker.start()
        with self._lock:
            if self._heart is None:
                self._heart = threading.Thread(
                    target=self._beat, args=(engine,), name="reliant-runbook-heartbeat", daemon=True
                )
                self._heart.start()

    def _work(self, engine: Engine, claim: Claim) -> None:
        with self._lock:
            cancelled = self._running.get(claim.token) or threading.Event()
        try:
            try:
                outcome = execute(
                    claim, engine=engine, settings=self.settings, cancelled=cancelled, env=self.env
                )
            except Exception as exc:
                log.exception("run %s step %s failed unexpectedly", claim.run_id, claim.step.id)
                outcome = Outcome(False, error=f"{type(exc).__name__}: {exc}")
            self.record(engine, claim, outcome)
        except Exception:  # the claim expires, and the step is recovered
            log.exception("could not record run %s step %s", claim.run_id, claim.step.id)
        finally:
            with self._lock:
                self._running.pop(claim.token, None)
                self._lock.notify_all()

    def record(self, engine: Engine, claim: Claim, outcome: Outcome) -> None:
        """Record an outcome and move the run on, unless the claim was lost meanwhile."""
        with Session(engine) as session, session.begin():
            run = session.get(RunRow, claim.run_id, with_for_update=True, populate_existing=True)
            row = session.get(StepRow, claim.row_id, with_for_update=True, populate_existing=True)
            if run is None or row is None or row.state != "running" or row.claim != claim.token:
                return  # cancelled, or recovered by another replica
            now = self.settings.now()
            step = claim.step
            if isinstance(step, WaitUntilStep) and not outcome.succeeded and not outcome.fatal:
                assert row.started_at is not None
                if now - row.started_at < claim.timeout:
                    row.state = "polling"
                    row.claim = None
                    row.claimed_until = None
                    row.next_at = now + parse_duration(step.interval, option="interval")
                    row.output = progress.masker(run).text(outcome.output or outcome.error or "")
                    return
                outcome = replace(
                    outcome,
                    error=f"not met within {step.timeout}: {outcome.output or outcome.error}",
                )
            progress.finish_step(
                session,
                run,
                row,
                step,
                now,
                succeeded=outcome.succeeded,
                output=outcome.output,
                error=outcome.error,
            )

    def _beat(self, engine: Engine) -> None:
        while True:
            with self._lock:
                if not self._running:
                    self._heart = None
                    return
                self._lock.wait(self.heartbeat)
                tokens = dict(self._running)
            if not tokens:
                continue
            try:
                self.renew(engine, tokens)
            except Exception:
                log.warning("could not renew the claims of running steps", exc_info=True)

    def renew(self, engine: Engine, tokens: Mapping[str, threading.Event]) -> None:
        """Extend the claims still held; flag the ones lost (cancelled runs) to stop."""
        with Session(engine) as session, session.begin():
            now = self.settings.now()
            # Locked in run order, as ticks lock them, so the two never deadlock.
            found = session.execute(
                select(StepRow.id, StepRow.claim)
                .where(StepRow.claim.in_(list(tokens)), StepRow.state == "running")
                .order_by(StepRow.run_id)
                .with_for_update()
            ).all()
            held = {claim for _, claim in found}
            if found:
                session.execute(
                    update(StepRow)
                    .where(StepRow.id.in_([row_id for row_id, _ in found]))
                    .values(claimed_until=now + CLAIM_SECONDS)
                )
        for token, cancelled in tokens.items():
            if token not in held:
                cancelled.set()

    def busy(self) -> int:
        """How many steps run now."""
        with self._lock:
            return len(self._running)

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until no step runs (tests); whether that happened within ``timeout`` s."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._running, timeout)

    def stop_all(self) -> None:
        """Flag every running step to stop (its command is killed)."""
        with self._lock:
            for cancelled in self._running.values():
                cancelled.set()
